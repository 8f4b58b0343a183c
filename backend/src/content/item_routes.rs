//! A content item's own routes: create, read, update (a new version), history and restore,
//! download of its files, and a reader's marks (bookmark, done).

use actix_web::{HttpResponse, get, post, put, web};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::items::{
    ContentRequest, ContentResponse, Stored, check, files_of_version, find, first_version,
    may_review, publish, response, stored_of, version_row, visible,
};
use super::uploads::{AUTHORS, FileUrl, signed_url};
use crate::{
    audit::{self, Event},
    auth::CurrentUser,
    entities::{content_item, content_mark, content_version},
    error::{ApiError, Problem},
    request::RequestMeta,
    state::AppState,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_content_item)
        .service(get_content_item)
        .service(update_content_item)
        .service(history)
        .service(restore)
        .service(download)
        .service(mark);
}

/// Creates an item (version 1). Private, class and school items are published at once; a
/// province item waits for review (`submit`).
#[utoipa::path(tag = "content", security(("bearer" = [])), request_body = ContentRequest, responses(
    (status = 201, body = ContentResponse), (status = 422, body = Problem)))]
#[post("/content/items")]
async fn create_content_item(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    body: web::Json<ContentRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(AUTHORS, user.home())?;
    check(&state.db, &user, &body, &[]).await?;
    let stored = stored_of(&body);
    let now = Utc::now();
    let province = body.scope == "province";
    let mut item = first_version(
        body.body.kind(),
        user.id,
        user.school,
        body.class_id.filter(|_| body.scope == "class"),
        &body.scope,
        "none",
        now,
    );
    publish(&mut item, 1, &stored);
    if province {
        item.published_version = None;
    }
    let txn = audit::Change::begin(&state.db).await?;
    content_item::Entity::insert(content_item::ActiveModel::from(item.clone()).reset_all())
        .exec_without_returning(&txn)
        .await?;
    content_version::Entity::insert(version_row(
        item.id,
        1,
        &stored,
        user.id,
        if province { "draft" } else { "approved" },
    ))
    .exec_without_returning(&txn)
    .await?;
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "content.created",
            "content_item",
            item.id,
            json!({ "scope": item.scope, "kind": item.kind }),
        ),
    )
    .await?;
    Ok(HttpResponse::Created().json(response(&state, &item, 1).await?))
}

#[derive(Deserialize, IntoParams)]
pub struct VersionQuery {
    /// A version other than the published one (authors and reviewers only).
    pub version: Option<i32>,
}

/// An item as its reader sees it: the published version (the author also sees the latest).
#[utoipa::path(tag = "content", security(("bearer" = [])), params(("item_id" = Uuid, Path), VersionQuery), responses(
    (status = 200, body = ContentResponse)))]
#[get("/content/items/{item_id}")]
async fn get_content_item(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    query: web::Query<VersionQuery>,
) -> Result<web::Json<ContentResponse>, ApiError> {
    let item = find(&state, path.into_inner()).await?;
    let me = user.account(&state.db).await?;
    let privileged = item.author_id == user.id || may_review(&state, &user, &item).await?;
    if !visible(&user, &me, &item) && !privileged {
        return Err(ApiError::NotFound("content_not_found"));
    }
    let version = match query.version {
        Some(v) if privileged => v,
        Some(_) => return Err(ApiError::NotFound("version_not_found")),
        None if item.author_id == user.id => item.latest_version,
        None => item.published_version.unwrap_or(item.latest_version),
    };
    if item.author_id != user.id {
        content_item::Entity::update_many()
            .col_expr(
                content_item::Column::Views,
                Expr::col(content_item::Column::Views).add(1),
            )
            .filter(content_item::Column::Id.eq(item.id))
            .exec(&state.db)
            .await?;
        super::usage::count(&state.db, item.id, false).await?;
    }
    Ok(web::Json(response(&state, &item, version).await?))
}

/// A new version. Outside the province repository it is published at once; inside it waits
/// for review and the approved version stays what readers see.
#[utoipa::path(tag = "content", security(("bearer" = [])), params(("item_id" = Uuid, Path)), request_body = ContentRequest, responses(
    (status = 200, body = ContentResponse), (status = 422, body = Problem)))]
#[put("/content/items/{item_id}")]
async fn update_content_item(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<ContentRequest>,
) -> Result<web::Json<ContentResponse>, ApiError> {
    user.require(AUTHORS, user.home())?;
    let item = find(&state, path.into_inner()).await?;
    if item.author_id != user.id {
        return Err(ApiError::Forbidden("forbidden"));
    }
    let kept = files_of_version(&state.db, item.id, item.latest_version).await?;
    check(&state.db, &user, &body, &kept).await?;
    if body.body.kind() != item.kind {
        return Err(ApiError::field("body.kind", "kind_changed"));
    }
    let stored = stored_of(&body);
    let updated = new_version(
        &state,
        &meta,
        &user,
        item,
        &body.scope,
        body.class_id,
        &stored,
    )
    .await?;
    Ok(web::Json(
        response(&state, &updated, updated.latest_version).await?,
    ))
}

async fn new_version(
    state: &AppState,
    meta: &RequestMeta,
    user: &CurrentUser,
    item: content_item::Model,
    scope: &str,
    class_id: Option<Uuid>,
    stored: &Stored,
) -> Result<content_item::Model, ApiError> {
    let txn = audit::Change::begin(&state.db).await?;
    let mut next = item.clone();
    next.latest_version = item.latest_version + 1;
    next.scope = scope.to_owned();
    next.class_id = class_id.filter(|_| scope == "class");
    next.updated_at = Utc::now();
    let province = scope == "province";
    if province {
        // The approved version stays published until the new one is approved.
        if item.scope != "province" {
            next.published_version = None;
        }
        if next.review != "taken_down" {
            next.review = "none".into();
        }
    } else {
        let version = next.latest_version;
        publish(&mut next, version, stored);
        // A province take-down stays whatever the scope: re-scoping does not undo it.
        if next.review != "taken_down" {
            next.review = "none".into();
        }
    }
    let moved = content_item::Entity::update_many()
        .set(content_item::ActiveModel::from(next.clone()).reset_all())
        .filter(content_item::Column::Id.eq(item.id))
        .filter(content_item::Column::LatestVersion.eq(item.latest_version))
        .exec(&txn)
        .await?;
    if moved.rows_affected != 1 {
        return Err(ApiError::Conflict("content_changed"));
    }
    content_version::Entity::insert(version_row(
        item.id,
        next.latest_version,
        stored,
        user.id,
        if province { "draft" } else { "approved" },
    ))
    .exec_without_returning(&txn)
    .await?;
    txn.commit(
        meta,
        Event::by(
            user.id,
            "content.versioned",
            "content_item",
            item.id,
            json!({ "version": next.latest_version }),
        ),
    )
    .await?;
    Ok(next)
}

#[derive(Serialize, ToSchema)]
pub struct VersionSummary {
    pub version: i32,
    pub status: String,
    pub title: String,
    pub created_by: Uuid,
    pub created_at: chrono::DateTime<Utc>,
    pub review_comment: Option<String>,
    pub published: bool,
}

/// Every version, newest first (the author, reviewers of the subject, admins).
#[utoipa::path(tag = "content", security(("bearer" = [])), params(("item_id" = Uuid, Path)), responses(
    (status = 200, body = Vec<VersionSummary>)))]
#[get("/content/items/{item_id}/versions")]
async fn history(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<Vec<VersionSummary>>, ApiError> {
    user.require(AUTHORS, user.home())?;
    let item = find(&state, path.into_inner()).await?;
    if item.author_id != user.id && !may_review(&state, &user, &item).await? {
        return Err(ApiError::NotFound("content_not_found"));
    }
    let versions = content_version::Entity::find()
        .filter(content_version::Column::ItemId.eq(item.id))
        .order_by_desc(content_version::Column::Version)
        .all(&state.db)
        .await?;
    Ok(web::Json(
        versions
            .into_iter()
            .map(|v| VersionSummary {
                title: serde_json::from_str::<Stored>(&v.body)
                    .map(|s| s.title)
                    .unwrap_or_default(),
                published: item.published_version == Some(v.version),
                version: v.version,
                status: v.status,
                created_by: v.created_by,
                created_at: v.created_at,
                review_comment: v.review_comment,
            })
            .collect(),
    ))
}

/// Makes an older version the newest again (as a new version, so history is never rewritten).
#[utoipa::path(tag = "content", security(("bearer" = [])), params(("item_id" = Uuid, Path), ("version" = i32, Path)), responses(
    (status = 200, body = ContentResponse)))]
#[post("/content/items/{item_id}/versions/{version}/restore")]
async fn restore(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<(Uuid, i32)>,
) -> Result<web::Json<ContentResponse>, ApiError> {
    user.require(AUTHORS, user.home())?;
    let (id, version) = path.into_inner();
    let item = find(&state, id).await?;
    if item.author_id != user.id {
        return Err(ApiError::Forbidden("forbidden"));
    }
    let old = content_version::Entity::find_by_id((id, version))
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("version_not_found"))?;
    let stored: Stored =
        serde_json::from_str(&old.body).map_err(|e| ApiError::Unexpected(e.into()))?;
    let scope = item.scope.clone();
    let class_id = item.class_id;
    let updated = new_version(&state, &meta, &user, item, &scope, class_id, &stored).await?;
    Ok(web::Json(
        response(&state, &updated, updated.latest_version).await?,
    ))
}

/// A short-lived signed URL for the item's file (answers byte ranges, so video can seek).
#[utoipa::path(tag = "content", security(("bearer" = [])), params(("item_id" = Uuid, Path)), responses(
    (status = 200, body = FileUrl), (status = 409, body = Problem)))]
#[get("/content/items/{item_id}/download")]
async fn download(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<FileUrl>, ApiError> {
    let item = find(&state, path.into_inner()).await?;
    let me = user.account(&state.db).await?;
    if !visible(&user, &me, &item) {
        return Err(ApiError::NotFound("content_not_found"));
    }
    let version = if item.author_id == user.id {
        item.latest_version
    } else {
        item.published_version
            .ok_or(ApiError::NotFound("content_not_found"))?
    };
    let v = content_version::Entity::find_by_id((item.id, version))
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("version_not_found"))?;
    let stored: Stored =
        serde_json::from_str(&v.body).map_err(|e| ApiError::Unexpected(e.into()))?;
    let file = stored
        .body
        .main_file()
        .ok_or(ApiError::Conflict("no_file"))?;
    content_item::Entity::update_many()
        .col_expr(
            content_item::Column::Downloads,
            Expr::col(content_item::Column::Downloads).add(1),
        )
        .filter(content_item::Column::Id.eq(item.id))
        .exec(&state.db)
        .await?;
    super::usage::count(&state.db, item.id, true).await?;
    Ok(web::Json(signed_url(&state, file).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct ContentMarkRequest {
    pub bookmarked: Option<bool>,
    /// 1-5 stars.
    pub rating: Option<i16>,
}

/// Bookmarks an item and/or rates it (teachers, one rating each, which they may change).
#[utoipa::path(tag = "content", security(("bearer" = [])), params(("item_id" = Uuid, Path)), request_body = ContentMarkRequest, responses(
    (status = 204), (status = 422, body = Problem)))]
#[put("/content/items/{item_id}/mark")]
async fn mark(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<ContentMarkRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(AUTHORS, user.home())?;
    if body.rating.is_some_and(|r| !(1..=5).contains(&r)) {
        return Err(ApiError::field("rating", "out_of_range"));
    }
    let item = find(&state, path.into_inner()).await?;
    let me = user.account(&state.db).await?;
    if !visible(&user, &me, &item) {
        return Err(ApiError::NotFound("content_not_found"));
    }
    let txn = state.db.begin().await?;
    let old = content_mark::Entity::find_by_id((item.id, user.id))
        .one(&txn)
        .await?;
    let before = old.as_ref().and_then(|m| m.rating);
    let rating = body.rating.or(before);
    let bookmarked = body
        .bookmarked
        .or(old.as_ref().map(|m| m.bookmarked))
        .unwrap_or(false);
    let row = content_mark::ActiveModel {
        item_id: sea_orm::Set(item.id),
        user_id: sea_orm::Set(user.id),
        bookmarked: sea_orm::Set(bookmarked),
        rating: sea_orm::Set(rating),
    };
    if old.is_some() {
        row.update(&txn).await?;
    } else {
        content_mark::Entity::insert(row)
            .exec_without_returning(&txn)
            .await?;
    }
    if rating != before {
        let (sum, count) = (
            i32::from(rating.unwrap_or(0)) - i32::from(before.unwrap_or(0)),
            i32::from(before.is_none() && rating.is_some()),
        );
        content_item::Entity::update_many()
            .col_expr(
                content_item::Column::RatingSum,
                Expr::col(content_item::Column::RatingSum).add(sum),
            )
            .col_expr(
                content_item::Column::RatingCount,
                Expr::col(content_item::Column::RatingCount).add(count),
            )
            .filter(content_item::Column::Id.eq(item.id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
