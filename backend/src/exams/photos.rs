//! Photos of an attempt's candidate, taken at check-in by the room's staff or during the attempt
//! by the candidate's device: uploaded through a signed URL to a staging object, then sealed
//! (`identity::photos`). Only the exam's organisers and the room's proctors see them, and every
//! view is audited.
use actix_web::{HttpResponse, get, post, web};
use chrono::{Duration, Utc};
use sea_orm::{ActiveModelTrait, EntityTrait};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{access::require_room_staff, domain::Policy, lifecycle::Context};
use crate::{
    audit::{self, Event},
    auth::CurrentUser,
    entities::photo,
    error::{ApiError, Problem},
    identity::{
        consent,
        photos::{MAX_PHOTO_BYTES, open_with, photo_row, seal_with, sealed_key, staging_key},
        unreadable,
    },
    request::RequestMeta,
    state::AppState,
    stores::blob::Validity,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(start_photo)
        .service(complete_photo)
        .service(view_photo);
}

#[derive(Deserialize, ToSchema)]
pub struct PhotoRequest {
    /// "check_in" (by a proctor) or "snapshot" (by the candidate's device during the attempt).
    pub kind: String,
    /// image/jpeg or image/png.
    pub content_type: String,
    pub size: i64,
}

#[derive(Serialize, ToSchema)]
pub struct PhotoTicket {
    pub photo_id: Uuid,
    /// PUT the image here with the same Content-Type, then complete.
    pub url: String,
    pub delete_after: chrono::DateTime<Utc>,
}

/// Starts a photo of an attempt's candidate; needs their standing consent to photos.
#[utoipa::path(tag = "identity", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), request_body = PhotoRequest, responses(
    (status = 201, body = PhotoTicket),
    (status = 409, description = "no_consent_for_photos", body = Problem), (status = 422, body = Problem)))]
#[post("/attempts/{attempt_id}/photos")]
async fn start_photo(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<PhotoRequest>,
) -> Result<HttpResponse, ApiError> {
    let ctx = Context::load(&state.db, path.into_inner()).await?;
    match body.kind.as_str() {
        "snapshot" if ctx.attempt.user_id == user.id => {}
        "check_in" => require_room_staff(&state.db, &user, &ctx).await?,
        "snapshot" => return Err(ApiError::NotFound("attempt_not_found")),
        _ => return Err(ApiError::field("kind", "invalid")),
    }
    if !["image/jpeg", "image/png"].contains(&body.content_type.as_str()) {
        return Err(ApiError::field("content_type", "unsupported_media_type"));
    }
    if !(1..=MAX_PHOTO_BYTES).contains(&body.size) {
        return Err(ApiError::field("size", "out_of_range"));
    }
    if !consent::has_consent(&state, ctx.attempt.user_id, ctx.exam.id, "photo").await? {
        return Err(ApiError::Conflict("no_consent_for_photos"));
    }
    let policy: Policy =
        serde_json::from_str(&ctx.exam.policy).map_err(|e| ApiError::Unexpected(e.into()))?;
    let now = Utc::now();
    let model = photo::Model {
        id: Uuid::now_v7(),
        attempt_id: ctx.attempt.id,
        user_id: ctx.attempt.user_id,
        room_id: ctx.attempt.room_id,
        kind: body.kind.clone(),
        state: "pending".into(),
        mime: body.content_type.clone(),
        size: body.size,
        wrapped_key: None,
        taken_by: user.id,
        taken_at: now,
        delete_after: now + Duration::days(i64::from(policy.photo_retention_days)),
    };
    let url = state
        .blobs
        .signed_put_url(
            &staging_key(model.id),
            &model.mime,
            model.size as u64,
            Validity::for_next(std::time::Duration::from_secs(300)),
        )
        .await?;
    photo::Entity::insert(photo::ActiveModel::from(model.clone()).reset_all())
        .exec_without_returning(&state.db)
        .await?;
    Ok(HttpResponse::Created().json(PhotoTicket {
        photo_id: model.id,
        url,
        delete_after: model.delete_after,
    }))
}

/// Seals the uploaded photo: the staging object is read, checked to be an image, encrypted with
/// a fresh data key, stored, and deleted.
#[utoipa::path(tag = "identity", security(("bearer" = [])), params(("photo_id" = Uuid, Path)), responses(
    (status = 204), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/photos/{photo_id}/complete")]
async fn complete_photo(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let found = photo::Entity::find_by_id(path.into_inner())
        .one(&state.db)
        .await?
        .filter(|p| p.taken_by == user.id)
        .ok_or(ApiError::NotFound("photo_not_found"))?;
    if found.state != "pending" {
        return Err(ApiError::Conflict("photo_not_pending"));
    }
    let bytes = state
        .blobs
        .get(&staging_key(found.id))
        .await?
        .ok_or(ApiError::Conflict("upload_missing"))?;
    let image = crate::sniff::magic(&bytes);
    if bytes.len() as i64 > MAX_PHOTO_BYTES || image != Some(found.mime.as_str()) {
        state.blobs.delete(&staging_key(found.id)).await?;
        photo::Entity::delete_by_id(found.id)
            .exec(&state.db)
            .await?;
        return Err(ApiError::field("file", "content_type_mismatch"));
    }
    let mut data_key = [0u8; 32];
    rand::fill(&mut data_key);
    state
        .blobs
        .put(
            &sealed_key(found.id),
            seal_with(&data_key, &bytes).into(),
            "application/octet-stream",
        )
        .await?;
    state.blobs.delete(&staging_key(found.id)).await?;
    let mut active: photo::ActiveModel = found.clone().into();
    active.state = sea_orm::Set("stored".into());
    active.size = sea_orm::Set(bytes.len() as i64);
    active.wrapped_key = sea_orm::Set(Some(state.vault.seal(&data_key, &photo_row(found.id))));
    active.update(&state.db).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The photo itself, for the exam's organisers and the room's proctors; every view is audited.
#[utoipa::path(tag = "identity", security(("bearer" = [])), params(("photo_id" = Uuid, Path)), responses(
    (status = 200, description = "the image", content_type = "image/jpeg")))]
#[get("/photos/{photo_id}")]
async fn view_photo(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let found = photo::Entity::find_by_id(path.into_inner())
        .one(&state.db)
        .await?
        .filter(|p| p.state == "stored")
        .ok_or(ApiError::NotFound("photo_not_found"))?;
    let ctx = Context::load(&state.db, found.attempt_id).await?;
    require_room_staff(&state.db, &user, &ctx)
        .await
        .map_err(|_| ApiError::NotFound("photo_not_found"))?;
    let wrapped = found
        .wrapped_key
        .as_deref()
        .ok_or(ApiError::NotFound("photo_not_found"))?;
    let data_key = state
        .vault
        .open(wrapped, &photo_row(found.id))
        .map_err(unreadable)?;
    let sealed = state
        .blobs
        .get(&sealed_key(found.id))
        .await?
        .ok_or(ApiError::NotFound("photo_not_found"))?;
    let image = open_with(&data_key, &sealed).map_err(ApiError::Unexpected)?;
    let txn = audit::Change::begin(&state.db).await?;
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "photo.viewed",
            "photo",
            found.id,
            json!({ "attempt": found.attempt_id }),
        ),
    )
    .await?;
    Ok(HttpResponse::Ok()
        .content_type(found.mime)
        .insert_header(("Cache-Control", "no-store"))
        .body(image))
}
