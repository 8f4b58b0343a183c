//! Content items of the shared repository: lessons (ordered sections), documents, video,
//! audio, images, web links and interactive packages (SCORM, H5P). Every change is a version;
//! what readers see is the published version, which for the province repository changes only
//! when a reviewer of the subject approves a new one. Scopes: private, class, school, province.
use std::collections::HashSet;

use actix_web::{HttpResponse, get, post, put, web};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::uploads::{AUTHORS, FileResponse, FileUrl, file_response, signed_url};
use crate::{
    audit::{self, Event},
    auth::{CurrentUser, roles::Role},
    entities::{
        class, content_file, content_item, content_mark, content_upload, content_version, user,
    },
    error::{ApiError, FieldError, Problem},
    exam_format::Subject,
    request::RequestMeta,
    state::AppState,
    text::fold,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_content_item)
        .service(search)
        .service(get_content_item)
        .service(update_content_item)
        .service(history)
        .service(restore)
        .service(submit_for_review)
        .service(review)
        .service(take_down)
        .service(download)
        .service(mark);
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SectionKind {
    /// Rich text (Markdown) with LaTeX between `$…$`.
    Text,
    /// An image, audio or video file shown in place.
    Media,
    /// A file to open or download.
    File,
    Link,
    /// A practice set from the question bank (a paper).
    Practice,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Section {
    pub kind: SectionKind,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub file_id: Option<Uuid>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub paper_id: Option<Uuid>,
}

/// What the item is, by kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ContentBody {
    Lesson {
        sections: Vec<Section>,
    },
    Document {
        file_id: Uuid,
    },
    Video {
        file_id: Uuid,
    },
    Audio {
        file_id: Uuid,
    },
    Image {
        file_id: Uuid,
    },
    Link {
        url: String,
    },
    /// SCORM 1.2/2004 or H5P: stored whole, launched from its manifest's file.
    Package {
        file_id: Uuid,
    },
}

impl ContentBody {
    fn kind(&self) -> &'static str {
        match self {
            ContentBody::Lesson { .. } => "lesson",
            ContentBody::Document { .. } => "document",
            ContentBody::Video { .. } => "video",
            ContentBody::Audio { .. } => "audio",
            ContentBody::Image { .. } => "image",
            ContentBody::Link { .. } => "link",
            ContentBody::Package { .. } => "package",
        }
    }

    fn main_file(&self) -> Option<Uuid> {
        match self {
            ContentBody::Document { file_id }
            | ContentBody::Video { file_id }
            | ContentBody::Audio { file_id }
            | ContentBody::Image { file_id }
            | ContentBody::Package { file_id } => Some(*file_id),
            _ => None,
        }
    }

    fn files(&self) -> Vec<Uuid> {
        match self {
            ContentBody::Lesson { sections } => sections.iter().filter_map(|s| s.file_id).collect(),
            other => other.main_file().into_iter().collect(),
        }
    }

    /// The file types each kind takes.
    fn accepts(&self, mime: &str) -> bool {
        match self {
            ContentBody::Document { .. } => {
                mime == "application/pdf" || mime.starts_with("application/vnd.openxmlformats")
            }
            ContentBody::Video { .. } => mime.starts_with("video/"),
            ContentBody::Audio { .. } => mime.starts_with("audio/"),
            ContentBody::Image { .. } => mime.starts_with("image/"),
            ContentBody::Package { .. } => {
                mime == "application/vnd.scorm+zip" || mime == "application/vnd.h5p+zip"
            }
            _ => true,
        }
    }

    fn text(&self) -> String {
        match self {
            ContentBody::Lesson { sections } => sections
                .iter()
                .flat_map(|s| [s.title.clone(), s.text.clone()])
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
            _ => String::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Licence {
    CcBy,
    CcBySa,
    CcByNc,
    CcByNcSa,
    CcByNd,
    CcByNcNd,
    Cc0,
    AllRightsReserved,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ContentMetadata {
    pub subject: Subject,
    pub grade: i16,
    /// Textbook series: "ket_noi", "chan_troi", "canh_dieu".
    #[serde(default)]
    pub series: Option<String>,
    /// Chapter, then lesson: ["Chương 1. Hàm số", "Bài 2. Cực trị"].
    pub topic: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default = "vietnamese")]
    pub language: String,
    pub licence: Licence,
}

fn vietnamese() -> String {
    "vi".to_owned()
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ContentRequest {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub body: ContentBody,
    pub metadata: ContentMetadata,
    /// private, class, school or province (the province repository goes through review).
    pub scope: String,
    /// For class scope.
    #[serde(default)]
    pub class_id: Option<Uuid>,
}

/// A version as stored: the request itself, frozen.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Stored {
    title: String,
    description: String,
    body: ContentBody,
    metadata: ContentMetadata,
}

#[derive(Serialize, ToSchema)]
pub struct ContentResponse {
    pub id: Uuid,
    pub kind: String,
    pub scope: String,
    pub class_id: Option<Uuid>,
    pub author_id: Uuid,
    pub school_id: Option<Uuid>,
    /// Province publishing: none, submitted, approved, returned, taken_down.
    pub review: String,
    pub version: i32,
    pub latest_version: i32,
    pub published_version: Option<i32>,
    pub status: String,
    pub title: String,
    pub description: String,
    pub body: ContentBody,
    pub metadata: ContentMetadata,
    /// The files the body refers to, as checked on upload.
    pub files: Vec<FileResponse>,
    pub views: i64,
    pub downloads: i64,
    pub rating: Option<f64>,
    pub ratings: i32,
}

/// Who may read an item's published version.
fn visible(user: &CurrentUser, me: &user::Model, item: &content_item::Model) -> bool {
    if item.author_id == user.id || user.has(Role::ProvinceAdmin) {
        return true;
    }
    if item.published_version.is_none() || item.review == "taken_down" {
        return false;
    }
    match item.scope.as_str() {
        "province" => true,
        "school" => item.school_id.is_some() && item.school_id == me.school_id,
        "class" => {
            item.class_id.is_some()
                && (item.class_id == me.class_id
                    || (item.school_id == me.school_id && !user.has(Role::Student)))
        }
        _ => false,
    }
}

/// The same rule as a query condition.
fn visible_condition(user: &CurrentUser, me: &user::Model) -> Condition {
    if user.has(Role::ProvinceAdmin) {
        return Condition::all();
    }
    let readable = Condition::all()
        .add(content_item::Column::PublishedVersion.is_not_null())
        .add(content_item::Column::Review.ne("taken_down"));
    let mut audience = Condition::any().add(content_item::Column::Scope.eq("province"));
    if let Some(school) = me.school_id {
        audience = audience.add(
            Condition::all()
                .add(content_item::Column::Scope.eq("school"))
                .add(content_item::Column::SchoolId.eq(school)),
        );
        if !user.has(Role::Student) {
            audience = audience.add(
                Condition::all()
                    .add(content_item::Column::Scope.eq("class"))
                    .add(content_item::Column::SchoolId.eq(school)),
            );
        }
    }
    if let Some(class) = me.class_id {
        audience = audience.add(
            Condition::all()
                .add(content_item::Column::Scope.eq("class"))
                .add(content_item::Column::ClassId.eq(class)),
        );
    }
    Condition::any()
        .add(content_item::Column::AuthorId.eq(user.id))
        .add(readable.add(audience))
}

/// The files `user` holds among `ids`: those they uploaded themselves (the bytes prove they have
/// them; a duplicate upload completes to the stored file), and `kept`, the files of the version
/// their change replaces. A file id alone, or a SHA-256, gives no one a file (docs/SECURITY.md,
/// finding 6).
async fn held_files(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    ids: &[Uuid],
    kept: &[Uuid],
) -> Result<HashSet<Uuid>, ApiError> {
    let uploaded: Vec<Option<Uuid>> = content_upload::Entity::find()
        .select_only()
        .column(content_upload::Column::FileId)
        .filter(content_upload::Column::OwnerId.eq(user.id))
        .filter(content_upload::Column::FileId.is_in(ids.to_vec()))
        .filter(content_upload::Column::State.is_in(["completed", "stored"]))
        .into_tuple()
        .all(db)
        .await?;
    let created: Vec<Uuid> = content_file::Entity::find()
        .select_only()
        .column(content_file::Column::Id)
        .filter(content_file::Column::Id.is_in(ids.to_vec()))
        .filter(content_file::Column::CreatedBy.eq(user.id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(uploaded
        .into_iter()
        .flatten()
        .chain(created)
        .chain(kept.iter().copied())
        .collect())
}

/// The files a stored version of an item refers to.
async fn files_of_version(
    db: &impl ConnectionTrait,
    item: Uuid,
    version: i32,
) -> Result<Vec<Uuid>, ApiError> {
    let stored = content_version::Entity::find()
        .filter(content_version::Column::ItemId.eq(item))
        .filter(content_version::Column::Version.eq(version))
        .one(db)
        .await?;
    Ok(stored
        .and_then(|v| serde_json::from_str::<Stored>(&v.body).ok())
        .map(|s| s.body.files())
        .unwrap_or_default())
}

async fn check(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    body: &ContentRequest,
    kept: &[Uuid],
) -> Result<Vec<content_file::Model>, ApiError> {
    let mut problems = Vec::new();
    let title = crate::text::clean_text(&body.title);
    if title.is_empty() || title.chars().count() > 300 {
        problems.push(FieldError::new("title", "required"));
    }
    if !(1..=12).contains(&body.metadata.grade) {
        problems.push(FieldError::new("metadata.grade", "out_of_range"));
    }
    if body.metadata.topic.iter().all(|t| t.trim().is_empty()) {
        problems.push(FieldError::new("metadata.topic", "required"));
    }
    if !["private", "class", "school", "province"].contains(&body.scope.as_str()) {
        problems.push(FieldError::new("scope", "invalid"));
    }
    if body.scope == "class" && body.class_id.is_none() {
        problems.push(FieldError::new("class_id", "required"));
    }
    match &body.body {
        ContentBody::Link { url }
            if !(url.starts_with("https://") || url.starts_with("http://")) =>
        {
            problems.push(FieldError::new("body.url", "invalid"));
        }
        ContentBody::Lesson { sections } if sections.is_empty() || sections.len() > 200 => {
            problems.push(FieldError::new("body.sections", "out_of_range"));
        }
        _ => {}
    }
    let ids = body.body.files();
    let held = held_files(db, user, &ids, kept).await?;
    let files = content_file::Entity::find()
        .filter(content_file::Column::Id.is_in(ids.clone()))
        .all(db)
        .await?;
    for id in &ids {
        match files.iter().find(|f| f.id == *id && held.contains(id)) {
            None => problems.push(FieldError::new("body.file_id", "file_not_found")),
            Some(f) if !body.body.accepts(&f.mime) => {
                problems.push(FieldError::new("body.file_id", "wrong_file_type"))
            }
            _ => {}
        }
    }
    if let Some(class_id) = body.class_id {
        let class = class::Entity::find_by_id(class_id).one(db).await?;
        if class.is_none_or(|c| user.school.is_some() && Some(c.school_id) != user.school) {
            problems.push(FieldError::new("class_id", "class_not_found"));
        }
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(ApiError::fields(problems))
    }
}

fn search_text(s: &Stored) -> String {
    fold(&format!(
        "{} {} {} {} {}",
        s.title,
        s.description,
        s.body.text(),
        s.metadata.topic.join(" "),
        s.metadata.tags.join(" ")
    ))
}

/// Copies a version's metadata onto the item, for browsing and search.
fn publish(item: &mut content_item::Model, version: i32, s: &Stored) {
    item.published_version = Some(version);
    item.title = crate::text::clean_text(&s.title);
    item.subject = s.metadata.subject.code().to_owned();
    item.grade = s.metadata.grade;
    item.series = s.metadata.series.clone();
    item.topic = s
        .metadata
        .topic
        .iter()
        .map(|t| fold(t))
        .collect::<Vec<_>>()
        .join(" / ");
    item.tags = format!(
        " {} ",
        s.metadata
            .tags
            .iter()
            .map(|t| fold(t).replace(' ', "-"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    item.language = s.metadata.language.clone();
    item.licence = serde_json::to_value(&s.metadata.licence)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    item.search_text = search_text(s);
}

fn stored_of(r: &ContentRequest) -> Stored {
    Stored {
        title: crate::text::clean_text(&r.title),
        description: r.description.trim().to_owned(),
        body: r.body.clone(),
        metadata: r.metadata.clone(),
    }
}

async fn response(
    state: &AppState,
    item: &content_item::Model,
    version: i32,
) -> Result<ContentResponse, ApiError> {
    let v = content_version::Entity::find_by_id((item.id, version))
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("version_not_found"))?;
    let s: Stored = serde_json::from_str(&v.body).map_err(|e| ApiError::Unexpected(e.into()))?;
    let files = content_file::Entity::find()
        .filter(content_file::Column::Id.is_in(s.body.files()))
        .all(&state.db)
        .await?
        .iter()
        .map(file_response)
        .collect();
    Ok(ContentResponse {
        id: item.id,
        kind: item.kind.clone(),
        scope: item.scope.clone(),
        class_id: item.class_id,
        author_id: item.author_id,
        school_id: item.school_id,
        review: item.review.clone(),
        version,
        latest_version: item.latest_version,
        published_version: item.published_version,
        status: v.status,
        title: s.title,
        description: s.description,
        body: s.body,
        metadata: s.metadata,
        files,
        views: item.views,
        downloads: item.downloads,
        rating: (item.rating_count > 0).then(|| {
            (f64::from(item.rating_sum) / f64::from(item.rating_count) * 100.0).round() / 100.0
        }),
        ratings: item.rating_count,
    })
}

/// A new item at version 1, its browsing columns filled by `publish`.
fn first_version(
    kind: &str,
    author: Uuid,
    school: Option<Uuid>,
    class: Option<Uuid>,
    scope: &str,
    review_state: &str,
    now: chrono::DateTime<Utc>,
) -> content_item::Model {
    content_item::Model {
        id: Uuid::now_v7(),
        kind: kind.to_owned(),
        author_id: author,
        school_id: school,
        class_id: class,
        scope: scope.to_owned(),
        review: review_state.to_owned(),
        latest_version: 1,
        published_version: None,
        title: String::new(),
        subject: String::new(),
        grade: 0,
        series: None,
        topic: String::new(),
        tags: String::new(),
        language: String::new(),
        licence: String::new(),
        search_text: String::new(),
        views: 0,
        downloads: 0,
        rating_sum: 0,
        rating_count: 0,
        created_at: now,
        updated_at: now,
    }
}

fn version_row(
    item: Uuid,
    version: i32,
    s: &Stored,
    by: Uuid,
    status: &str,
) -> content_version::ActiveModel {
    content_version::ActiveModel {
        item_id: sea_orm::Set(item),
        version: sea_orm::Set(version),
        body: sea_orm::Set(serde_json::to_string(s).expect("plain data")),
        created_by: sea_orm::Set(by),
        created_at: sea_orm::Set(Utc::now()),
        status: sea_orm::Set(status.to_owned()),
        review_comment: sea_orm::Set(None),
        reviewer_id: sea_orm::Set(None),
    }
}

/// Creates an item (version 1). Private, class and school items are published at once; a
/// province item waits for review (`submit`).
#[utoipa::path(tag = "content", security(("bearer" = [])), request_body = ContentRequest, responses(
    (status = 201, body = ContentResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
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
    let txn = state.db.begin().await?;
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
    audit::record(
        &txn,
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
    txn.commit().await?;
    Ok(HttpResponse::Created().json(response(&state, &item, 1).await?))
}

async fn find(state: &AppState, id: Uuid) -> Result<content_item::Model, ApiError> {
    content_item::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("content_not_found"))
}

/// A reviewer of the item's subject, in reach of its school, not its author, for an item of the
/// province repository (the only ones reviewed): an author's private or school items are not a
/// reviewer's to read.
async fn may_review(
    state: &AppState,
    user: &CurrentUser,
    item: &content_item::Model,
) -> Result<bool, ApiError> {
    if item.author_id == user.id || item.scope != "province" {
        return Ok(false);
    }
    if user.has(Role::ProvinceAdmin) {
        return Ok(true);
    }
    if !user.has(Role::Reviewer) || !(user.school.is_none() || user.school == item.school_id) {
        return Ok(false);
    }
    let me = user.account(&state.db).await?;
    let subject = content_version::Entity::find_by_id((item.id, item.latest_version))
        .one(&state.db)
        .await?
        .and_then(|v| serde_json::from_str::<Stored>(&v.body).ok())
        .map(|s| s.metadata.subject.code().to_owned())
        .unwrap_or_default();
    Ok(me.subjects.split_whitespace().any(|s| s == subject))
}

#[derive(Deserialize, IntoParams)]
pub struct VersionQuery {
    /// A version other than the published one (authors and reviewers only).
    pub version: Option<i32>,
}

/// An item as its reader sees it: the published version (the author also sees the latest).
#[utoipa::path(tag = "content", security(("bearer" = [])), params(("item_id" = Uuid, Path), VersionQuery), responses(
    (status = 200, body = ContentResponse), (status = 401, body = Problem), (status = 404, body = Problem)))]
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
    (status = 200, body = ContentResponse), (status = 401, body = Problem), (status = 403, body = Problem),
    (status = 404, body = Problem), (status = 422, body = Problem)))]
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
    let txn = state.db.begin().await?;
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
    audit::record(
        &txn,
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
    txn.commit().await?;
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
    (status = 200, body = Vec<VersionSummary>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
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
    (status = 200, body = ContentResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
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

/// Sends the newest version of a province item to review.
#[utoipa::path(tag = "content", security(("bearer" = [])), params(("item_id" = Uuid, Path)), responses(
    (status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
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
    let txn = state.db.begin().await?;
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
    audit::record(
        &txn,
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
    txn.commit().await?;
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
    (status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
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
    let txn = state.db.begin().await?;
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
    audit::record(
        &txn,
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
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
pub struct TakedownRequest {
    pub reason: String,
}

/// Takes an item out of the repository (province admins), with a reason.
#[utoipa::path(tag = "content", security(("bearer" = [])), params(("item_id" = Uuid, Path)), request_body = TakedownRequest, responses(
    (status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
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
    let txn = state.db.begin().await?;
    content_item::Entity::update_many()
        .col_expr(content_item::Column::Review, Expr::value("taken_down"))
        .filter(content_item::Column::Id.eq(item.id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
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
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, IntoParams)]
pub struct SearchQuery {
    /// Words from titles, descriptions, lesson text, topics and tags; diacritics and case do
    /// not matter ("ham so" finds "Hàm số").
    pub q: Option<String>,
    pub subject: Option<Subject>,
    pub grade: Option<i16>,
    pub series: Option<String>,
    /// The start of the topic path, e.g. "Chương 1".
    pub topic: Option<String>,
    pub kind: Option<String>,
    pub tag: Option<String>,
    pub licence: Option<String>,
    pub language: Option<String>,
    pub scope: Option<String>,
    pub school_id: Option<Uuid>,
    pub author_id: Option<Uuid>,
    /// Only the items the caller bookmarked.
    #[serde(default)]
    pub bookmarked: bool,
    /// newest (default), most_used, best_rated.
    pub sort: Option<String>,
    /// Items per page: 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ContentSummary {
    pub id: Uuid,
    pub kind: String,
    pub title: String,
    pub subject: String,
    pub grade: i16,
    pub topic: String,
    pub scope: String,
    pub author_id: Uuid,
    pub school_id: Option<Uuid>,
    pub views: i64,
    pub downloads: i64,
    pub rating: Option<f64>,
    pub published_version: Option<i32>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchPage {
    pub items: Vec<ContentSummary>,
    pub next: Option<String>,
}

/// Browse and search what the caller may read: by subject, grade, series, topic, every other
/// metadata field and words; sorted by newest, most used or best rated; cursor pages.
#[utoipa::path(tag = "content", security(("bearer" = [])), params(SearchQuery), responses(
    (status = 200, body = SearchPage), (status = 400, body = Problem), (status = 401, body = Problem)))]
#[get("/content/items")]
async fn search(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<SearchQuery>,
) -> Result<web::Json<SearchPage>, ApiError> {
    let me = user.account(&state.db).await?;
    let q = query.into_inner();
    let mut find = content_item::Entity::find().filter(visible_condition(&user, &me));
    if let Some(text) = &q.q {
        for word in fold(text).split_whitespace().take(8) {
            find = find.filter(content_item::Column::SearchText.contains(word));
        }
    }
    if let Some(s) = q.subject {
        find = find.filter(content_item::Column::Subject.eq(s.code()));
    }
    if let Some(g) = q.grade {
        find = find.filter(content_item::Column::Grade.eq(g));
    }
    if let Some(s) = &q.series {
        find = find.filter(content_item::Column::Series.eq(s.as_str()));
    }
    if let Some(t) = &q.topic {
        find = find.filter(content_item::Column::Topic.starts_with(fold(t)));
    }
    if let Some(k) = &q.kind {
        find = find.filter(content_item::Column::Kind.eq(k.as_str()));
    }
    if let Some(t) = &q.tag {
        find = find.filter(
            content_item::Column::Tags.contains(format!(" {} ", fold(t).replace(' ', "-"))),
        );
    }
    if let Some(l) = &q.licence {
        find = find.filter(content_item::Column::Licence.eq(l.as_str()));
    }
    if let Some(l) = &q.language {
        find = find.filter(content_item::Column::Language.eq(l.as_str()));
    }
    if let Some(s) = &q.scope {
        find = find.filter(content_item::Column::Scope.eq(s.as_str()));
    }
    if let Some(s) = q.school_id {
        find = find.filter(content_item::Column::SchoolId.eq(s));
    }
    if let Some(a) = q.author_id {
        find = find.filter(content_item::Column::AuthorId.eq(a));
    }
    if q.bookmarked {
        let marked: Vec<Uuid> = content_mark::Entity::find()
            .select_only()
            .column(content_mark::Column::ItemId)
            .filter(content_mark::Column::UserId.eq(user.id))
            .filter(content_mark::Column::Bookmarked.eq(true))
            .into_tuple()
            .all(&state.db)
            .await?;
        find = find.filter(content_item::Column::Id.is_in(marked));
    }
    let limit = crate::error::page_limit(q.limit, 20, 100)?;
    // Keyset pages: the sort value and the id of the last row seen.
    // Best rated: the mean of the stars, in hundredths, the same on both databases.
    const MEAN_RATING: &str =
        "(rating_sum * 100 / CASE WHEN rating_count = 0 THEN 1 ELSE rating_count END)";
    let metric = match q.sort.as_deref() {
        None | Some("newest") => None,
        Some("most_used") => Some(Expr::col(content_item::Column::Views)),
        Some("best_rated") => Some(Expr::cust(MEAN_RATING)),
        Some(_) => return Err(ApiError::BadRequest("invalid_sort")),
    };
    let cursor = match &q.cursor {
        None => None,
        Some(c) => {
            let (value, id) = c
                .split_once('_')
                .ok_or(ApiError::BadRequest("invalid_cursor"))?;
            Some((
                value
                    .parse::<i64>()
                    .map_err(|_| ApiError::BadRequest("invalid_cursor"))?,
                id.parse::<Uuid>()
                    .map_err(|_| ApiError::BadRequest("invalid_cursor"))?,
            ))
        }
    };
    find = match metric {
        None => {
            if let Some((_, id)) = cursor {
                find = find.filter(content_item::Column::Id.lt(id));
            }
            find.order_by_desc(content_item::Column::Id)
        }
        Some(metric) => {
            if let Some((value, id)) = cursor {
                find = find.filter(
                    Condition::any().add(metric.clone().lt(value)).add(
                        Condition::all()
                            .add(metric.clone().eq(value))
                            .add(content_item::Column::Id.lt(id)),
                    ),
                );
            }
            find.order_by(metric, sea_orm::Order::Desc)
                .order_by_desc(content_item::Column::Id)
        }
    };
    let txn = crate::stores::db::planned_per_search(&state.db).await?;
    let mut rows = find.limit(limit + 1).all(&txn).await?;
    txn.commit().await?;
    let next = (rows.len() as u64 > limit).then(|| {
        rows.truncate(limit as usize);
        let last = rows.last().expect("a full page");
        let value = match q.sort.as_deref() {
            Some("most_used") => last.views,
            Some("best_rated") => {
                i64::from(last.rating_sum) * 100 / std::cmp::max(i64::from(last.rating_count), 1)
            }
            _ => 0,
        };
        format!("{value}_{}", last.id)
    });
    Ok(web::Json(SearchPage {
        items: rows
            .into_iter()
            .map(|r| ContentSummary {
                rating: (r.rating_count > 0)
                    .then(|| f64::from(r.rating_sum) / f64::from(r.rating_count)),
                id: r.id,
                kind: r.kind,
                title: r.title,
                subject: r.subject,
                grade: r.grade,
                topic: r.topic,
                scope: r.scope,
                author_id: r.author_id,
                school_id: r.school_id,
                views: r.views,
                downloads: r.downloads,
                published_version: r.published_version,
            })
            .collect(),
        next,
    }))
}

/// A short-lived signed URL for the item's file (answers byte ranges, so video can seek).
#[utoipa::path(tag = "content", security(("bearer" = [])), params(("item_id" = Uuid, Path)), responses(
    (status = 200, body = FileUrl), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
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
    (status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
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

/// Puts an item straight into the province repository, approved (the samples loaded by
/// `hocthi seed`, which a reviewer has read in this repository).
pub async fn create_published(
    state: &AppState,
    author: &user::Model,
    request: ContentRequest,
) -> Result<Uuid, ApiError> {
    let stored = stored_of(&request);
    let now = Utc::now();
    let mut item = first_version(
        request.body.kind(),
        author.id,
        author.school_id,
        None,
        "province",
        "approved",
        now,
    );
    publish(&mut item, 1, &stored);
    let txn = state.db.begin().await?;
    content_item::Entity::insert(content_item::ActiveModel::from(item.clone()).reset_all())
        .exec_without_returning(&txn)
        .await?;
    content_version::Entity::insert(version_row(item.id, 1, &stored, author.id, "approved"))
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await?;
    Ok(item.id)
}
