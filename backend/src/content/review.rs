//! Review of the province repository's items (tổ chuyên môn): submit, approve or return, and
//! take down a published item.

use actix_web::{HttpResponse, post, web};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::items::{Stored, find, may_review, publish};
use super::uploads::AUTHORS;
use crate::{
    audit::{self, Event},
    auth::{CurrentUser, roles::Role},
    entities::{content_item, content_version},
    error::{ApiError, Problem},
    request::RequestMeta,
    state::AppState,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(submit_for_review)
        .service(review)
        .service(take_down);
}

/// Sends the newest version of a province item to review.
#[utoipa::path(tag = "content", security(("bearer" = [])), params(("item_id" = Uuid, Path)), responses(
    (status = 204), (status = 409, body = Problem)))]
#[post("/content/items/{item_id}/submit")]
async fn submit_for_review(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    user.require(AUTHORS, user.home())?;
    let item = find(&state, path.into_inner()).await?;
    if item.author_id != user.id {
        return Err(ApiError::Forbidden("forbidden"));
    }
    if item.scope != "province" {
        return Err(ApiError::Conflict("not_for_province"));
    }
    if item.review == "taken_down" {
        return Err(ApiError::Conflict("taken_down"));
    }
    let txn = audit::Change::begin(&state.db).await?;
    let moved = content_version::Entity::update_many()
        .col_expr(content_version::Column::Status, Expr::value("submitted"))
        .filter(content_version::Column::ItemId.eq(item.id))
        .filter(content_version::Column::Version.eq(item.latest_version))
        .filter(content_version::Column::Status.is_in(["draft", "returned"]))
        .exec(&txn)
        .await?;
    if moved.rows_affected != 1 {
        return Err(ApiError::Conflict("nothing_to_submit"));
    }
    content_item::Entity::update_many()
        .col_expr(content_item::Column::Review, Expr::value("submitted"))
        .filter(content_item::Column::Id.eq(item.id))
        .exec(&txn)
        .await?;
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "content.submitted",
            "content_item",
            item.id,
            json!({ "version": item.latest_version }),
        ),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
pub struct ContentReviewRequest {
    /// "approve" or "return".
    pub decision: String,
    #[serde(default)]
    pub comment: String,
}

/// A reviewer of the subject approves the submitted version (it becomes what readers see) or
/// returns it with comments.
#[utoipa::path(tag = "content", security(("bearer" = [])), params(("item_id" = Uuid, Path)), request_body = ContentReviewRequest, responses(
    (status = 204),
    (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/content/items/{item_id}/review")]
async fn review(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<ContentReviewRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Reviewer], user.home())?;
    let item = find(&state, path.into_inner()).await?;
    if !may_review(&state, &user, &item).await? {
        return Err(ApiError::Forbidden("forbidden"));
    }
    let approve = match body.decision.as_str() {
        "approve" => true,
        "return" if !body.comment.trim().is_empty() => false,
        "return" => return Err(ApiError::field("comment", "required")),
        _ => return Err(ApiError::field("decision", "invalid")),
    };
    let txn = audit::Change::begin(&state.db).await?;
    let version = content_version::Entity::find_by_id((item.id, item.latest_version))
        .one(&txn)
        .await?
        .filter(|v| v.status == "submitted")
        .ok_or(ApiError::Conflict("nothing_submitted"))?;
    let mut active: content_version::ActiveModel = version.clone().into();
    active.status = sea_orm::Set(if approve { "approved" } else { "returned" }.to_owned());
    active.review_comment =
        sea_orm::Set(Some(body.comment.trim().to_owned()).filter(|c| !c.is_empty()));
    active.reviewer_id = sea_orm::Set(Some(user.id));
    active.update(&txn).await?;
    let mut next = item.clone();
    if approve {
        let stored: Stored =
            serde_json::from_str(&version.body).map_err(|e| ApiError::Unexpected(e.into()))?;
        publish(&mut next, version.version, &stored);
        next.review = "approved".into();
    } else {
        next.review = "returned".into();
    }
    content_item::Entity::update_many()
        .set(content_item::ActiveModel::from(next).reset_all())
        .filter(content_item::Column::Id.eq(item.id))
        .exec(&txn)
        .await?;
    txn.commit(
        &meta,
        Event::by(
            user.id,
            if approve {
                "content.approved"
            } else {
                "content.returned"
            },
            "content_item",
            item.id,
            json!({ "version": version.version, "comment": body.comment.trim() }),
        ),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
pub struct TakedownRequest {
    pub reason: String,
}

/// Takes an item out of the repository (province admins), with a reason.
#[utoipa::path(tag = "content", security(("bearer" = [])), params(("item_id" = Uuid, Path)), request_body = TakedownRequest, responses(
    (status = 204), (status = 422, body = Problem)))]
#[post("/content/items/{item_id}/takedown")]
async fn take_down(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<TakedownRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::ProvinceAdmin], crate::auth::Scope::Province)?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::field("reason", "required"));
    }
    let item = find(&state, path.into_inner()).await?;
    let txn = audit::Change::begin(&state.db).await?;
    content_item::Entity::update_many()
        .col_expr(content_item::Column::Review, Expr::value("taken_down"))
        .filter(content_item::Column::Id.eq(item.id))
        .exec(&txn)
        .await?;
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "content.taken_down",
            "content_item",
            item.id,
            json!({ "reason": body.reason.trim() }),
        ),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
