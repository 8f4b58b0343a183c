use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{
    db::{self, ItemFilter, NewVersion, StoredBody, Viewer},
    domain::{Body, Kind, Level, Metadata, RenderedBody},
};
use crate::{
    audit::{self, Event},
    auth::{self, CurrentUser, Scope, roles::Role},
    entities::{item, item_version},
    error::{ApiError, Problem},
    request::RequestMeta,
    state::AppState,
};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_item)
        .service(list_items)
        .service(review_queue)
        .service(get_item)
        .service(update_item)
        .service(submit_item)
        .service(review_item)
        .service(share_item)
        .service(retire_item);
}

/// Who may write and use the question bank.
pub const AUTHORS: &[Role] = &[Role::Teacher, Role::Reviewer, Role::SchoolAdmin];

pub fn viewer(user: &CurrentUser) -> Viewer {
    Viewer {
        id: user.id,
        school: user.school,
        sees_all: user.has(Role::ProvinceAdmin),
    }
}

pub fn paper_reader(user: &CurrentUser) -> db::PaperReader {
    db::PaperReader {
        id: user.id,
        admin_of: user.school.filter(|_| user.has(Role::SchoolAdmin)),
        province_admin: user.has(Role::ProvinceAdmin),
    }
}

#[derive(Deserialize, ToSchema)]
pub struct ItemRequest {
    pub body: Body,
    pub metadata: Metadata,
    /// Put the new item into a group of the caller's (its stimulus is shared); creation only.
    #[serde(default)]
    pub group_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct ReviewResponse {
    pub version: i32,
    pub reviewer_id: Uuid,
    pub decision: String,
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct ItemResponse {
    pub id: Uuid,
    /// The version shown: the author's newest, or the approved one for everyone else.
    pub version: i32,
    /// draft, submitted, approved or returned (of the version shown).
    pub status: String,
    pub kind: Kind,
    pub body: Body,
    pub metadata: Metadata,
    /// private, school or province.
    pub scope: String,
    pub author_id: Uuid,
    pub school_id: Option<Uuid>,
    pub latest_version: i32,
    pub approved_version: Option<i32>,
    pub retired: bool,
    pub times_used: i32,
    /// The group whose stimulus this item shares, and its place in it.
    pub group_id: Option<Uuid>,
    pub group_position: i32,
    pub updated_at: DateTime<Utc>,
    /// The body's texts as HTML with MathML, rendered on the server for screens and reviewers.
    pub rendered: RenderedBody,
}

pub fn to_response(
    version: &item_version::Model,
    item: &item::Model,
) -> Result<ItemResponse, ApiError> {
    let stored: StoredBody =
        serde_json::from_str(&version.body).map_err(|e| ApiError::Unexpected(e.into()))?;
    Ok(ItemResponse {
        id: item.id,
        version: version.version,
        status: version.status.clone(),
        kind: stored.body.kind(),
        rendered: RenderedBody::of(&stored.body, item.id),
        body: stored.body,
        metadata: stored.metadata,
        scope: item.scope.clone(),
        author_id: item.author_id,
        school_id: item.school_id,
        latest_version: item.latest_version,
        approved_version: item.approved_version,
        retired: item.retired,
        times_used: item.times_used,
        group_id: item.group_id,
        group_position: item.group_position,
        updated_at: item.updated_at,
    })
}

fn validated(request: ItemRequest) -> Result<(Body, Metadata), ApiError> {
    let ItemRequest { body, metadata, .. } = request;
    let request = (body, metadata);
    let body = request.0.validate();
    let metadata = request.1.validate();
    match (body, metadata) {
        (Ok(b), Ok(m)) => Ok((b, m)),
        (b, m) => Err(ApiError::fields(
            b.err().into_iter().chain(m.err()).flatten().collect(),
        )),
    }
}

async fn load(state: &AppState, id: Uuid) -> Result<item::Model, ApiError> {
    db::find_item(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound("item_not_found"))
}

/// The author's own item, for changes only they may make.
async fn own(state: &AppState, user: &CurrentUser, id: Uuid) -> Result<item::Model, ApiError> {
    user.require(AUTHORS, user.home())?;
    let item = load(state, id).await?;
    if item.author_id != user.id {
        return Err(ApiError::Forbidden("forbidden"));
    }
    if item.retired {
        return Err(ApiError::Conflict("item_retired"));
    }
    Ok(item)
}

/// Writes a new item as a draft (teachers, reviewers, school admins).
#[utoipa::path(tag = "questions", security(("bearer" = [])), request_body = ItemRequest, responses(
    (status = 201, body = ItemResponse), (status = 422, body = Problem)))]
#[post("/items")]
async fn create_item(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    body: web::Json<ItemRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(AUTHORS, user.home())?;
    let request = body.into_inner();
    let group_id = request.group_id;
    let (body, metadata) = validated(request)?;
    let group = match group_id {
        None => None,
        Some(group_id) => {
            let group = db::find_group(&state.db, group_id)
                .await?
                .ok_or(ApiError::field("group_id", "group_not_found"))?;
            if group.author_id != user.id {
                return Err(ApiError::Forbidden("forbidden"));
            }
            if group.subject != metadata.subject.code() {
                return Err(ApiError::field("metadata.subject", "invalid_subject"));
            }
            Some((
                group.id,
                db::group_members(&state.db, group.id).await?.len() as i32 + 1,
            ))
        }
    };
    let id = Uuid::now_v7();
    let txn = audit::Change::begin(&state.db).await?;
    db::insert_item(&txn, id, user.id, user.school, &metadata, group).await?;
    db::insert_version(
        &txn,
        NewVersion {
            item_id: id,
            version: 1,
            body: &body,
            metadata: &metadata,
            author: user.id,
        },
    )
    .await?;
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "item.created",
            "item",
            id,
            serde_json::json!({ "kind": body.kind() }),
        ),
    )
    .await?;
    let item = load(&state, id).await?;
    let version = db::find_version(&state.db, id, 1)
        .await?
        .ok_or(ApiError::NotFound("item_not_found"))?;
    Ok(HttpResponse::Created().json(to_response(&version, &item)?))
}

#[derive(Deserialize, IntoParams)]
pub struct ItemQuery {
    pub subject: Option<crate::exam_format::Subject>,
    pub grade: Option<i16>,
    pub series: Option<String>,
    pub level: Option<Level>,
    pub kind: Option<Kind>,
    /// Topic path prefix, diacritics ignored ("chuong 1" finds "Chương 1. …").
    pub topic: Option<String>,
    pub tag: Option<String>,
    pub competency: Option<String>,
    pub status: Option<String>,
    /// Words to find in stem, options and topic; diacritics and case ignored.
    pub q: Option<String>,
    /// Only the caller's own items.
    #[serde(default)]
    pub mine: bool,
    /// Only approved versions (what papers are drawn from).
    #[serde(default)]
    pub approved: bool,
    pub after: Option<Uuid>,
    /// Items per page: 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct ItemPage {
    pub items: Vec<ItemResponse>,
    pub next: Option<Uuid>,
}

fn page(rows: Vec<(item_version::Model, item::Model)>, limit: u64) -> Result<ItemPage, ApiError> {
    let next = (rows.len() as u64 > limit).then(|| rows[limit as usize - 1].1.id);
    let items = rows
        .iter()
        .take(limit as usize)
        .map(|(v, i)| to_response(v, i))
        .collect::<Result<_, _>>()?;
    Ok(ItemPage { items, next })
}

/// Finds items: one's own (any status) and the approved items shared with one's school or
/// the province. Filters combine; pages by cursor.
#[utoipa::path(tag = "questions", security(("bearer" = [])), params(ItemQuery), responses(
    (status = 200, body = ItemPage)))]
#[get("/items")]
async fn list_items(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<ItemQuery>,
) -> Result<web::Json<ItemPage>, ApiError> {
    user.require(AUTHORS, user.home())?;
    let query = query.into_inner();
    let limit = crate::error::page_limit(query.limit, 50, 500)?;
    let filter = ItemFilter {
        subject: query.subject.map(|s| s.code().to_owned()),
        grade: query.grade,
        series: query.series,
        level: query.level,
        kind: query.kind,
        topic: query.topic,
        tag: query.tag,
        competency: query.competency,
        status: query.status,
        q: query.q,
        mine: query.mine,
        approved_only: query.approved,
        ids: None,
        after: query.after,
        limit: limit + 1,
    };
    let rows = db::search(&state.db, &viewer(&user), &filter).await?;
    Ok(web::Json(page(rows, limit)?))
}

/// Items waiting for the caller's review: submitted, in the caller's subjects and reach.
#[utoipa::path(tag = "questions", security(("bearer" = [])), responses(
    (status = 200, body = ItemPage)))]
#[get("/items/review-queue")]
async fn review_queue(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<web::Json<ItemPage>, ApiError> {
    user.require(&[Role::Reviewer], user.home())?;
    let me = auth::db::find_user(&state.db, user.id)
        .await?
        .ok_or(ApiError::Unauthorized("token_invalid"))?;
    let subjects: Vec<String> = me.subjects.split_whitespace().map(str::to_owned).collect();
    let rows = db::review_queue(&state.db, &viewer(&user), &subjects, 501).await?;
    Ok(web::Json(page(rows, 500)?))
}

#[derive(Deserialize, IntoParams)]
pub struct VersionQuery {
    /// A specific version (authors and reviewers); by default the one the caller may see.
    pub version: Option<i32>,
}

/// Whether the caller may review this item: a reviewer of its subject, in its school or the
/// province, who did not write it.
async fn may_review(
    state: &AppState,
    user: &CurrentUser,
    item: &item::Model,
) -> Result<bool, ApiError> {
    if item.author_id == user.id {
        return Ok(false);
    }
    if user.has(Role::ProvinceAdmin) {
        return Ok(true);
    }
    let in_reach =
        user.has(Role::Reviewer) && (user.school.is_none() || user.school == item.school_id);
    if !in_reach {
        return Ok(false);
    }
    let me = auth::db::find_user(&state.db, user.id)
        .await?
        .ok_or(ApiError::Unauthorized("token_invalid"))?;
    Ok(me.subjects.split_whitespace().any(|s| s == item.subject))
}

pub struct Readable {
    pub item: item::Model,
    pub version: i32,
    /// The author or a reviewer of it, who see any version and its reviews.
    pub privileged: bool,
}

/// The item and the version of it `user` may read: its author and its reviewers any version
/// (the latest by default), others the approved version of an item shared with them; anyone
/// else is told it does not exist.
pub async fn readable(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
    asked: Option<i32>,
) -> Result<Readable, ApiError> {
    user.require(AUTHORS, user.home())?;
    let item = load(state, id).await?;
    let privileged = item.author_id == user.id || may_review(state, user, &item).await?;
    let shared = item.scope == "province"
        || (item.scope == "school" && user.school.is_some() && user.school == item.school_id);
    let version = match (asked, privileged) {
        (Some(v), true) => v,
        (None, true) => item.latest_version,
        (_, false)
            if (shared || user.has(Role::ProvinceAdmin)) && item.approved_version.is_some() =>
        {
            item.approved_version.unwrap_or_default()
        }
        // Someone else's unshared item: as if it did not exist.
        _ => return Err(ApiError::NotFound("item_not_found")),
    };
    Ok(Readable {
        item,
        version,
        privileged,
    })
}

/// One item, with its reviews for the author and reviewers.
#[utoipa::path(tag = "questions", security(("bearer" = [])), params(("item_id" = Uuid, Path), VersionQuery), responses(
    (status = 200, body = ItemResponse)))]
#[get("/items/{item_id}")]
async fn get_item(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    query: web::Query<VersionQuery>,
) -> Result<web::Json<serde_json::Value>, ApiError> {
    let Readable {
        item,
        version,
        privileged,
    } = readable(&state, &user, path.into_inner(), query.version).await?;
    let row = db::find_version(&state.db, item.id, version)
        .await?
        .ok_or(ApiError::NotFound("item_not_found"))?;
    let mut response = serde_json::to_value(to_response(&row, &item)?)
        .map_err(|e| ApiError::Unexpected(e.into()))?;
    if privileged {
        let reviews: Vec<ReviewResponse> = db::reviews_of(&state.db, item.id)
            .await?
            .into_iter()
            .map(|r| ReviewResponse {
                version: r.version,
                reviewer_id: r.reviewer_id,
                decision: r.decision,
                comment: r.comment,
                at: r.at,
            })
            .collect();
        response["reviews"] =
            serde_json::to_value(reviews).map_err(|e| ApiError::Unexpected(e.into()))?;
    }
    Ok(web::Json(response))
}

/// Edits an item. A draft or returned version is rewritten; an approved one gets a new version
/// while the approved one stays in use until the new one is approved.
#[utoipa::path(tag = "questions", security(("bearer" = [])), params(("item_id" = Uuid, Path)), request_body = ItemRequest, responses(
    (status = 200, body = ItemResponse), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[put("/items/{item_id}")]
async fn update_item(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<ItemRequest>,
) -> Result<web::Json<ItemResponse>, ApiError> {
    let item = own(&state, &user, path.into_inner()).await?;
    let (body, metadata) = validated(body.into_inner())?;
    if metadata.subject.code() != item.subject {
        return Err(ApiError::field("metadata.subject", "invalid_subject"));
    }
    let latest = db::find_version(&state.db, item.id, item.latest_version)
        .await?
        .ok_or(ApiError::NotFound("item_not_found"))?;
    let txn = audit::Change::begin(&state.db).await?;
    let version = match latest.status.as_str() {
        "draft" | "returned" => {
            db::rewrite_version(
                &txn,
                NewVersion {
                    item_id: item.id,
                    version: latest.version,
                    body: &body,
                    metadata: &metadata,
                    author: user.id,
                },
            )
            .await?;
            latest.version
        }
        "approved" => {
            let next = latest.version + 1;
            db::add_version(
                &txn,
                NewVersion {
                    item_id: item.id,
                    version: next,
                    body: &body,
                    metadata: &metadata,
                    author: user.id,
                },
            )
            .await?;
            next
        }
        _ => return Err(ApiError::Conflict("item_not_editable")),
    };
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "item.edited",
            "item",
            item.id,
            serde_json::json!({ "version": version }),
        ),
    )
    .await?;
    let item = load(&state, item.id).await?;
    let row = db::find_version(&state.db, item.id, version)
        .await?
        .ok_or(ApiError::NotFound("item_not_found"))?;
    Ok(web::Json(to_response(&row, &item)?))
}

/// Sends the newest version for review.
#[utoipa::path(tag = "questions", security(("bearer" = [])), params(("item_id" = Uuid, Path)), responses(
    (status = 204, description = "submitted"), (status = 409, body = Problem)))]
#[post("/items/{item_id}/submit")]
async fn submit_item(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let item = own(&state, &user, path.into_inner()).await?;
    let latest = db::find_version(&state.db, item.id, item.latest_version)
        .await?
        .ok_or(ApiError::NotFound("item_not_found"))?;
    if !matches!(latest.status.as_str(), "draft" | "returned") {
        return Err(ApiError::Conflict("item_not_submittable"));
    }
    let txn = audit::Change::begin(&state.db).await?;
    db::set_status(&txn, item.id, latest.version, "submitted").await?;
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "item.submitted",
            "item",
            item.id,
            serde_json::json!({ "version": latest.version }),
        ),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Return,
}

#[derive(Deserialize, ToSchema)]
pub struct ItemReviewRequest {
    pub decision: Decision,
    /// Required when returning: what the author should change.
    pub comment: Option<String>,
}

/// Approves a submitted item, or returns it with comments (a reviewer of its subject).
#[utoipa::path(tag = "questions", security(("bearer" = [])), params(("item_id" = Uuid, Path)), request_body = ItemReviewRequest, responses(
    (status = 204, description = "reviewed"), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/items/{item_id}/review")]
async fn review_item(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<ItemReviewRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Reviewer], user.home())?;
    let item = load(&state, path.into_inner()).await?;
    if item.author_id == user.id {
        return Err(ApiError::Forbidden("own_item_review"));
    }
    if !may_review(&state, &user, &item).await? {
        return Err(ApiError::Forbidden("forbidden"));
    }
    let latest = db::find_version(&state.db, item.id, item.latest_version)
        .await?
        .ok_or(ApiError::NotFound("item_not_found"))?;
    if latest.status != "submitted" {
        return Err(ApiError::Conflict("item_not_submitted"));
    }
    let comment = body
        .comment
        .as_deref()
        .map(crate::text::clean_text)
        .filter(|c| !c.is_empty());
    let decision = match body.decision {
        Decision::Approve => "approved",
        Decision::Return if comment.is_none() => {
            return Err(ApiError::field("comment", "comment_required"));
        }
        Decision::Return => "returned",
    };
    let txn = audit::Change::begin(&state.db).await?;
    db::insert_review(
        &txn,
        item.id,
        latest.version,
        user.id,
        decision,
        comment.clone(),
    )
    .await?;
    if decision == "approved" {
        db::publish(&txn, item.id, latest.version).await?;
    } else {
        db::set_status(&txn, item.id, latest.version, "returned").await?;
    }
    txn.commit(
        &meta,
        Event::by(
            user.id,
            &format!("item.{decision}"),
            "item",
            item.id,
            serde_json::json!({ "version": latest.version, "comment": comment }),
        ),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
pub struct ShareRequest {
    /// private, school or province.
    pub scope: String,
}

/// Shares the approved version with the school or the whole province (or takes it back).
#[utoipa::path(tag = "questions", security(("bearer" = [])), params(("item_id" = Uuid, Path)), request_body = ShareRequest, responses(
    (status = 204, description = "shared"), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/items/{item_id}/share")]
async fn share_item(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<ShareRequest>,
) -> Result<HttpResponse, ApiError> {
    let item = own(&state, &user, path.into_inner()).await?;
    let scope = body.scope.as_str();
    if !matches!(scope, "private" | "school" | "province")
        || (scope == "school" && item.school_id.is_none())
    {
        return Err(ApiError::field("scope", "invalid_scope"));
    }
    if scope != "private" && item.approved_version.is_none() {
        return Err(ApiError::Conflict("item_not_approved"));
    }
    let txn = audit::Change::begin(&state.db).await?;
    db::set_scope(&txn, item.id, scope).await?;
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "item.shared",
            "item",
            item.id,
            serde_json::json!({ "scope": scope }),
        ),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Takes an item out of use for new papers; papers that used it keep their frozen copy.
#[utoipa::path(tag = "questions", security(("bearer" = [])), params(("item_id" = Uuid, Path)), responses(
    (status = 204, description = "retired")))]
#[post("/items/{item_id}/retire")]
async fn retire_item(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let item = load(&state, path.into_inner()).await?;
    let admin = match item.school_id {
        Some(school) => user
            .require(&[Role::SchoolAdmin], Scope::School(school))
            .is_ok(),
        None => user.has(Role::ProvinceAdmin),
    };
    if item.author_id != user.id && !admin {
        return Err(ApiError::Forbidden("forbidden"));
    }
    let txn = audit::Change::begin(&state.db).await?;
    db::retire(&txn, item.id).await?;
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "item.retired",
            "item",
            item.id,
            serde_json::json!({}),
        ),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
