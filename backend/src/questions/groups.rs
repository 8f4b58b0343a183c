//! Question groups: one stimulus (a passage, a figure, a table) shared by several items that
//! always travel together. Items join a group at creation (`group_id` on `POST /items`).
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    db::{self, ItemFilter},
    routes::{AUTHORS, viewer},
};
use crate::{
    audit::{self, Event},
    auth::CurrentUser,
    error::{ApiError, Problem},
    request::RequestMeta,
    state::AppState,
};

#[derive(Deserialize, ToSchema)]
pub struct GroupRequest {
    pub subject: crate::exam_format::Subject,
    /// e.g. "Read the passage and answer questions 31-35."
    pub title: String,
    /// The shared passage, figure (`![alt](blob:key)`) or table, with LaTeX if needed.
    pub stimulus: String,
}

#[derive(Serialize, ToSchema)]
pub struct GroupResponse {
    pub id: Uuid,
    pub subject: String,
    pub title: String,
    pub stimulus: String,
    pub author_id: Uuid,
    /// Member item ids in order (those the caller may see).
    pub items: Vec<Uuid>,
}

/// Starts a group: a stimulus that several items share and papers keep together.
#[utoipa::path(tag = "questions", security(("bearer" = [])), request_body = GroupRequest, responses(
    (status = 201, body = GroupResponse), (status = 422, body = Problem)))]
#[post("/item-groups")]
pub async fn create_group(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    body: web::Json<GroupRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(AUTHORS, user.home())?;
    let title = crate::text::clean_text(&body.title);
    let stimulus = crate::text::clean_text(&body.stimulus);
    let mut problems = Vec::new();
    if title.is_empty() {
        problems.push(crate::error::FieldError::new("title", "required"));
    }
    if stimulus.is_empty() {
        problems.push(crate::error::FieldError::new("stimulus", "required"));
    }
    if !problems.is_empty() {
        return Err(ApiError::fields(problems));
    }
    let txn = audit::Change::begin(&state.db).await?;
    let group = db::insert_group(
        &txn,
        user.id,
        user.school,
        body.subject.code(),
        &title,
        &stimulus,
    )
    .await?;
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "item_group.created",
            "item_group",
            group.id,
            serde_json::json!({ "title": title }),
        ),
    )
    .await?;
    Ok(HttpResponse::Created().json(GroupResponse {
        id: group.id,
        subject: group.subject,
        title: group.title,
        stimulus: group.stimulus,
        author_id: group.author_id,
        items: vec![],
    }))
}

/// A group with its stimulus and the members the caller may see.
#[utoipa::path(tag = "questions", security(("bearer" = [])), params(("group_id" = Uuid, Path)), responses(
    (status = 200, body = GroupResponse)))]
#[get("/item-groups/{group_id}")]
pub async fn get_group(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<GroupResponse>, ApiError> {
    user.require(AUTHORS, user.home())?;
    let group = db::find_group(&state.db, path.into_inner())
        .await?
        .ok_or(ApiError::NotFound("group_not_found"))?;
    let members = db::group_members(&state.db, group.id).await?;
    let ids: Vec<Uuid> = members.iter().map(|m| m.id).collect();
    let visible = db::search(
        &state.db,
        &viewer(&user),
        &ItemFilter {
            ids: Some(ids.clone()),
            limit: 1000,
            ..Default::default()
        },
    )
    .await?;
    if visible.is_empty() && group.author_id != user.id {
        return Err(ApiError::NotFound("group_not_found"));
    }
    let items = ids
        .into_iter()
        .filter(|id| visible.iter().any(|(v, _)| v.item_id == *id))
        .collect();
    Ok(web::Json(GroupResponse {
        id: group.id,
        subject: group.subject,
        title: group.title,
        stimulus: group.stimulus,
        author_id: group.author_id,
        items,
    }))
}
