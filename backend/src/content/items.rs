//! Content items of the shared repository: lessons (ordered sections), documents, video,
//! audio, images, web links and interactive packages (SCORM, H5P). Every change is a version;
//! what readers see is the published version, which for the province repository changes only
//! when a reviewer of the subject approves a new one. Scopes: private, class, school, province.
//! This file holds the item's model: its body and metadata, who sees it, its versions; the
//! routes are in `item_routes.rs`, `review.rs` and `search.rs`.
use std::collections::HashSet;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::uploads::{FileResponse, file_response};
use crate::{
    auth::{CurrentUser, roles::Role},
    entities::{class, content_file, content_item, content_upload, content_version, user},
    error::{ApiError, FieldError},
    exam_format::Subject,
    state::AppState,
    text::fold,
};

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
    pub(super) fn kind(&self) -> &'static str {
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

    pub(super) fn main_file(&self) -> Option<Uuid> {
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
pub(super) struct Stored {
    pub(super) title: String,
    pub(super) description: String,
    pub(super) body: ContentBody,
    pub(super) metadata: ContentMetadata,
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
pub(super) fn visible(user: &CurrentUser, me: &user::Model, item: &content_item::Model) -> bool {
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
pub(super) fn visible_condition(user: &CurrentUser, me: &user::Model) -> Condition {
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
pub(super) async fn files_of_version(
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

pub(super) async fn check(
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
pub(super) fn publish(item: &mut content_item::Model, version: i32, s: &Stored) {
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

pub(super) fn stored_of(r: &ContentRequest) -> Stored {
    Stored {
        title: crate::text::clean_text(&r.title),
        description: r.description.trim().to_owned(),
        body: r.body.clone(),
        metadata: r.metadata.clone(),
    }
}

pub(super) async fn response(
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
pub(super) fn first_version(
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

pub(super) fn version_row(
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

pub(super) async fn find(state: &AppState, id: Uuid) -> Result<content_item::Model, ApiError> {
    content_item::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("content_not_found"))
}

/// A reviewer of the item's subject, in reach of its school, not its author, for an item of the
/// province repository (the only ones reviewed): an author's private or school items are not a
/// reviewer's to read.
pub(super) async fn may_review(
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
