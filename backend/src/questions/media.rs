//! An item's figures, served to whoever may read the item: its author, its reviewers, the
//! teachers it is shared with (`GET /items/{id}/media/{name}`). A figure is a blob under
//! `items/media/<sha256>.<ext>`, named by its content; only a figure the item's visible version
//! (or its group's stimulus) shows is served through it. Candidates fetch the figures of their
//! own paper through `exams/paper_media.rs`.
use actix_web::{HttpResponse, get, web};
use uuid::Uuid;

use super::{
    db,
    domain::FIGURES as FOLDER,
    routes::{Readable, VersionQuery, readable},
};
use crate::{auth::CurrentUser, error::ApiError, state::AppState};

/// The content type of a figure's name, when it is one: 64 hex digits and an image extension.
pub fn figure_type(name: &str) -> Option<&'static str> {
    let (hash, ext) = name.split_once('.')?;
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match ext {
        "png" => Some("image/png"),
        "jpg" => Some("image/jpeg"),
        "gif" => Some("image/gif"),
        "webp" => Some("image/webp"),
        _ => None,
    }
}

/// Whether text shows the figure `name` (`![…](blob:items/media/<name>)`).
pub fn shows(text: &str, name: &str) -> bool {
    text.contains(&format!("(blob:{FOLDER}{name})"))
}

/// The figure's bytes, as an image that may be kept (its name is its content's hash).
pub async fn serve(state: &AppState, name: &str) -> Result<HttpResponse, ApiError> {
    let content_type = figure_type(name).ok_or(ApiError::NotFound("media_not_found"))?;
    let bytes = state
        .blobs
        .get(&format!("{FOLDER}{name}"))
        .await?
        .ok_or(ApiError::NotFound("media_not_found"))?;
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "private, max-age=86400, immutable"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(bytes))
}

/// A figure of an item, to whoever may read the item.
#[utoipa::path(tag = "questions", security(("bearer" = [])), params(("item_id" = Uuid, Path), ("name" = String, Path), VersionQuery), responses(
    (status = 200, description = "the image", content_type = "image/png")))]
#[get("/items/{item_id}/media/{name}")]
pub async fn item_media(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(Uuid, String)>,
    query: web::Query<VersionQuery>,
) -> Result<HttpResponse, ApiError> {
    let (id, name) = path.into_inner();
    let Readable { item, version, .. } = readable(&state, &user, id, query.version).await?;
    let row = db::find_version(&state.db, item.id, version)
        .await?
        .ok_or(ApiError::NotFound("item_not_found"))?;
    let mut shown = shows(&row.body, &name);
    if !shown && let Some(group) = item.group_id {
        shown = db::groups_by_ids(&state.db, vec![group])
            .await?
            .iter()
            .any(|g| shows(&g.stimulus, &name));
    }
    if !shown {
        return Err(ApiError::NotFound("media_not_found"));
    }
    serve(&state, &name).await
}
