//! Uploads that scale: the client asks for an upload, puts the bytes straight into the blob
//! store through a signed URL (parts above the multipart threshold), then completes. Only then
//! are size, type (by content) and SHA-256 checked; a file already stored is kept once; quotas
//! count per teacher and per school; uploads never completed are cleaned up.
//!
//! The signed URLs write a staging key and carry the declared size (the store refuses any
//! other length); a checked upload is moved to its file's own key, so the upload's URL, valid
//! for the rest of its hour, can no longer change what was checked (docs/SECURITY.md, finding
//! 4). What such a late PUT writes to staging is deleted when the hour is over.
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
    sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::sniff::{self, ArchiveError, Package};
use crate::{
    auth::{CurrentUser, roles::Role},
    entities::{content_file, content_upload},
    error::{ApiError, Problem},
    state::AppState,
    stores::blob::{UploadedPart, Validity},
};

pub const AUTHORS: &[Role] = &[Role::Teacher, Role::SchoolAdmin, Role::Reviewer];
/// How long the signed URLs of one upload stay valid, and when an unfinished upload is
/// abandoned.
const UPLOAD_WINDOW_MINUTES: i64 = 60;
/// Archives are opened whole to read their entries.
const MAX_ARCHIVE_BYTES: u64 = 512 << 20;
const HASH_CHUNK: u64 = 8 << 20;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(start_upload)
        .service(complete_upload)
        .service(file_url);
}

#[derive(Deserialize, ToSchema)]
pub struct UploadRequest {
    pub file_name: String,
    /// Bytes.
    pub size: i64,
    /// The type the client believes it is; checked against the content on completion.
    pub content_type: String,
    /// Hex SHA-256 of the whole file, checked on completion.
    pub sha256: String,
}

#[derive(Serialize, ToSchema)]
pub struct UploadTicket {
    pub upload_id: Option<Uuid>,
    /// The same content is already stored: nothing to upload, use this file.
    pub existing_file: Option<FileResponse>,
    /// "single" (one PUT to `url`) or "multipart" (one PUT per part URL, then complete with
    /// each part's ETag).
    pub method: String,
    pub url: Option<String>,
    pub part_size: Option<i64>,
    pub part_urls: Vec<String>,
    /// Send this `Content-Type` with the PUT (the signature covers it).
    pub content_type: String,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Serialize, ToSchema)]
pub struct FileResponse {
    pub id: Uuid,
    pub sha256: String,
    pub size: i64,
    /// The type found in the content.
    pub mime: String,
    pub package: Package,
}

pub fn file_response(f: &content_file::Model) -> FileResponse {
    FileResponse {
        id: f.id,
        sha256: f.sha256.clone(),
        size: f.size,
        mime: f.mime.clone(),
        package: serde_json::from_str(&f.details).unwrap_or_default(),
    }
}

async fn used_bytes(
    state: &AppState,
    column: content_upload::Column,
    id: Uuid,
) -> Result<i64, ApiError> {
    let sum: Option<Option<i64>> = content_upload::Entity::find()
        .select_only()
        .column_as(Expr::cust("CAST(COALESCE(SUM(size), 0) AS BIGINT)"), "used")
        .filter(column.eq(id))
        .filter(content_upload::Column::State.is_in(["pending", "completed", "stored"]))
        .into_tuple()
        .one(&state.db)
        .await?;
    Ok(sum.flatten().unwrap_or(0))
}

/// Starts an upload: a signed PUT, or signed part URLs above the multipart threshold. When the
/// same content (by SHA-256) is already stored, the answer is that file and no upload.
#[utoipa::path(tag = "content", security(("bearer" = [])), request_body = UploadRequest, responses(
    (status = 201, body = UploadTicket),
    (status = 413, description = "quota_exceeded or too large", body = Problem), (status = 422, body = Problem)))]
#[post("/content/uploads")]
async fn start_upload(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: web::Json<UploadRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(AUTHORS, user.home())?;
    let mime = body.content_type.trim().to_ascii_lowercase();
    let sha = body.sha256.trim().to_ascii_lowercase();
    let mut problems = Vec::new();
    if !sniff::ACCEPTED.contains(&mime.as_str()) {
        problems.push(crate::error::FieldError::new(
            "content_type",
            "unsupported_media_type",
        ));
    }
    if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
        problems.push(crate::error::FieldError::new("sha256", "invalid"));
    }
    if body.size <= 0 || body.size > state.settings.content_max_file as i64 {
        problems.push(crate::error::FieldError::new("size", "out_of_range"));
    }
    let file_name = body.file_name.trim();
    if file_name.is_empty() || file_name.chars().count() > 255 {
        problems.push(crate::error::FieldError::new("file_name", "required"));
    }
    if !problems.is_empty() {
        return Err(ApiError::fields(problems));
    }
    // A file already stored is answered only to someone who holds it already: knowing a SHA-256
    // is not having the bytes. Anyone else uploads them, and the upload completes to the stored
    // file without a second copy.
    let held_already = content_file::Entity::find()
        .filter(content_file::Column::Sha256.eq(sha.as_str()))
        .filter(
            sea_orm::Condition::any()
                .add(content_file::Column::CreatedBy.eq(user.id))
                .add(
                    content_file::Column::Id.in_subquery(
                        sea_orm::sea_query::Query::select()
                            .column(content_upload::Column::FileId)
                            .from(content_upload::Entity)
                            .and_where(content_upload::Column::OwnerId.eq(user.id))
                            .and_where(content_upload::Column::State.is_in(["completed", "stored"]))
                            .to_owned(),
                    ),
                ),
        )
        .one(&state.db)
        .await?;
    if let Some(existing) = held_already {
        return Ok(HttpResponse::Ok().json(UploadTicket {
            upload_id: None,
            existing_file: Some(file_response(&existing)),
            method: "none".into(),
            url: None,
            part_size: None,
            part_urls: Vec::new(),
            content_type: existing.mime,
            expires_at: None,
        }));
    }
    let mine = used_bytes(&state, content_upload::Column::OwnerId, user.id).await?;
    if mine + body.size > state.settings.content_quota_teacher as i64 {
        return Err(ApiError::Quota("quota_exceeded"));
    }
    if let Some(school) = user.school {
        let ours = used_bytes(&state, content_upload::Column::SchoolId, school).await?;
        if ours + body.size > state.settings.content_quota_school as i64 {
            return Err(ApiError::Quota("school_quota_exceeded"));
        }
    }
    let id = Uuid::now_v7();
    let key = staging_key(id);
    let now = Utc::now();
    let expires_at = now + Duration::minutes(UPLOAD_WINDOW_MINUTES);
    let validity = Validity::for_next(std::time::Duration::from_secs(
        UPLOAD_WINDOW_MINUTES as u64 * 60,
    ));
    let threshold = state.settings.multipart_threshold as i64;
    let (method, url, part_size, part_urls, multipart_id, parts) = if body.size > threshold {
        let part_size = state.settings.multipart_part_size as i64;
        let parts = ((body.size + part_size - 1) / part_size) as i32;
        let upload = state.blobs.create_multipart(&key, &mime).await?;
        let mut urls = Vec::with_capacity(parts as usize);
        for n in 1..=parts {
            let before = i64::from(n - 1) * part_size;
            let size = part_size.min(body.size - before) as u64;
            urls.push(
                state
                    .blobs
                    .signed_part_url(&key, &upload, n, size, validity)
                    .await?,
            );
        }
        (
            "multipart",
            None,
            Some(part_size),
            urls,
            Some(upload),
            parts,
        )
    } else {
        let url = state
            .blobs
            .signed_put_url(&key, &mime, body.size as u64, validity)
            .await?;
        ("single", Some(url), None, Vec::new(), None, 1)
    };
    content_upload::Entity::insert(content_upload::ActiveModel {
        id: sea_orm::Set(id),
        owner_id: sea_orm::Set(user.id),
        school_id: sea_orm::Set(user.school),
        file_name: sea_orm::Set(file_name.to_owned()),
        size: sea_orm::Set(body.size),
        mime: sea_orm::Set(mime.clone()),
        sha256: sea_orm::Set(sha),
        blob_key: sea_orm::Set(key),
        multipart_id: sea_orm::Set(multipart_id),
        parts: sea_orm::Set(parts),
        state: sea_orm::Set("pending".into()),
        file_id: sea_orm::Set(None),
        created_at: sea_orm::Set(now),
        expires_at: sea_orm::Set(expires_at),
    })
    .exec_without_returning(&state.db)
    .await?;
    Ok(HttpResponse::Created().json(UploadTicket {
        upload_id: Some(id),
        existing_file: None,
        method: method.into(),
        url,
        part_size,
        part_urls,
        content_type: mime,
        expires_at: Some(expires_at),
    }))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct CompleteRequest {
    /// Multipart: every part's number and the ETag its PUT answered.
    #[serde(default)]
    pub parts: Vec<PartRequest>,
}

#[derive(Deserialize, ToSchema)]
pub struct PartRequest {
    pub part_number: i32,
    pub etag: String,
}

/// Where an upload's bytes land before they are checked.
fn staging_key(upload: Uuid) -> String {
    format!("staging/content/{upload}")
}

/// Where a checked file lives, out of reach of its upload's URL.
fn file_key(upload: Uuid) -> String {
    format!("content/{upload}")
}

/// The checks a stored object must pass before it counts as a file.
async fn check_object(
    state: &AppState,
    upload: &content_upload::Model,
) -> Result<(String, Package), &'static str> {
    let meta = state
        .blobs
        .head(&upload.blob_key)
        .await
        .map_err(|_| "upload_missing")?
        .ok_or("upload_missing")?;
    if meta.size as i64 != upload.size {
        return Err("size_mismatch");
    }
    // The signed PUT names the type, but not every S3-compatible store refuses another one: an
    // object stored as, say, text/html would be served as a page.
    let stored = meta.content_type.split(';').next().unwrap_or("").trim();
    if !stored.eq_ignore_ascii_case(&upload.mime) {
        return Err("content_type_mismatch");
    }
    let mut hasher = Sha256::new();
    let mut head = Vec::new();
    let mut offset = 0u64;
    while offset < meta.size {
        let chunk = state
            .blobs
            .get_range(&upload.blob_key, offset, HASH_CHUNK)
            .await
            .map_err(|_| "upload_missing")?
            .ok_or("upload_missing")?;
        if chunk.is_empty() {
            break;
        }
        if head.is_empty() {
            head = chunk[..chunk.len().min(64)].to_vec();
        }
        hasher.update(&chunk);
        offset += chunk.len() as u64;
    }
    if hex::encode(hasher.finalize()) != upload.sha256 {
        return Err("checksum_mismatch");
    }
    let found = sniff::magic(&head).ok_or("content_type_mismatch")?;
    let (found, package) = if found == "application/zip" {
        if meta.size > MAX_ARCHIVE_BYTES {
            return Err("archive_too_large");
        }
        let bytes = state
            .blobs
            .get(&upload.blob_key)
            .await
            .map_err(|_| "upload_missing")?
            .ok_or("upload_missing")?;
        match sniff::inspect_zip(&bytes) {
            Ok(found) => found,
            Err(ArchiveError::UnsafePath(_)) => return Err("unsafe_archive_path"),
            Err(ArchiveError::Unreadable) => return Err("unreadable_file"),
        }
    } else {
        (found, Package::default())
    };
    let declared = upload.mime.as_str();
    let zip_family = declared == "application/zip" && found.ends_with("zip");
    if declared != found && !zip_family {
        return Err("content_type_mismatch");
    }
    Ok((found.to_owned(), package))
}

/// Completes an upload: checks size, type by content and SHA-256; keeps one copy per content.
#[utoipa::path(tag = "content", security(("bearer" = [])), params(("upload_id" = Uuid, Path)), request_body = CompleteRequest, responses(
    (status = 200, body = FileResponse),
    (status = 409, body = Problem),
    (status = 422, description = "checksum_mismatch, content_type_mismatch, size_mismatch, unsafe_archive_path, …: the upload is discarded", body = Problem)))]
#[post("/content/uploads/{upload_id}/complete")]
async fn complete_upload(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<CompleteRequest>,
) -> Result<web::Json<FileResponse>, ApiError> {
    user.require(AUTHORS, user.home())?;
    let upload = content_upload::Entity::find_by_id(path.into_inner())
        .one(&state.db)
        .await?
        .filter(|u| u.owner_id == user.id)
        .ok_or(ApiError::NotFound("upload_not_found"))?;
    if upload.state != "pending" {
        return Err(ApiError::Conflict("upload_not_pending"));
    }
    if upload.expires_at < Utc::now() {
        return Err(ApiError::Conflict("upload_expired"));
    }
    if let Some(multipart) = &upload.multipart_id {
        if body.parts.len() != upload.parts as usize {
            return Err(ApiError::field("parts", "missing_parts"));
        }
        let parts: Vec<UploadedPart> = body
            .parts
            .iter()
            .map(|p| UploadedPart {
                part_number: p.part_number,
                etag: p.etag.clone(),
            })
            .collect();
        if state
            .blobs
            .complete_multipart(&upload.blob_key, multipart, &parts)
            .await
            .is_err()
        {
            return Err(ApiError::field("parts", "parts_incomplete"));
        }
    }
    let verdict = check_object(&state, &upload).await;
    let (mime, package) = match verdict {
        Ok(found) => found,
        Err(code) => {
            // Nothing half-kept: the object goes, the upload is marked failed.
            let _ = state.blobs.delete(&upload.blob_key).await;
            content_upload::Entity::update_many()
                .col_expr(content_upload::Column::State, Expr::value("failed"))
                .filter(content_upload::Column::Id.eq(upload.id))
                .exec(&state.db)
                .await?;
            return Err(match code {
                "upload_missing" => ApiError::Conflict("upload_missing"),
                code => ApiError::field("file", code),
            });
        }
    };
    let txn = state.db.begin().await?;
    let existing = content_file::Entity::find()
        .filter(content_file::Column::Sha256.eq(upload.sha256.as_str()))
        .one(&txn)
        .await?;
    let (file, duplicate) = match existing {
        Some(f) => (f, true),
        None => {
            let f = content_file::Model {
                id: Uuid::now_v7(),
                sha256: upload.sha256.clone(),
                size: upload.size,
                mime,
                blob_key: file_key(upload.id),
                details: serde_json::to_string(&package).expect("plain data"),
                created_by: user.id,
                school_id: user.school,
                created_at: Utc::now(),
            };
            content_file::Entity::insert(content_file::ActiveModel::from(f.clone()).reset_all())
                .exec_without_returning(&txn)
                .await?;
            (f, false)
        }
    };
    content_upload::Entity::update_many()
        .col_expr(content_upload::Column::State, Expr::value("completed"))
        .col_expr(content_upload::Column::FileId, Expr::value(file.id))
        .col_expr(
            content_upload::Column::Size,
            Expr::value(if duplicate { 0 } else { upload.size }),
        )
        .filter(content_upload::Column::Id.eq(upload.id))
        .exec(&txn)
        .await?;
    if duplicate {
        txn.commit().await?;
        // Stored once: the second copy goes (and does not count against the quota).
        let _ = state.blobs.delete(&upload.blob_key).await;
    } else {
        // Out of the upload URL's reach before the file exists for anyone; if the move fails,
        // the transaction is dropped and the upload stays pending.
        state
            .blobs
            .rename(&upload.blob_key, &file.blob_key)
            .await
            .map_err(|e| {
                tracing::warn!(error = ?e, "moving a checked upload failed");
                ApiError::Unavailable {
                    retry_after_secs: 2,
                }
            })?;
        txn.commit().await?;
    }
    Ok(web::Json(file_response(&file)))
}

#[derive(Serialize, ToSchema)]
pub struct FileUrl {
    /// A short-lived signed GET that answers byte ranges (video seeking).
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// A signed download URL for a file the caller uploaded (items give theirs to their readers).
#[utoipa::path(tag = "content", security(("bearer" = [])), params(("file_id" = Uuid, Path)), responses(
    (status = 200, body = FileUrl)))]
#[get("/content/files/{file_id}/url")]
async fn file_url(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<FileUrl>, ApiError> {
    user.require(AUTHORS, user.home())?;
    let id = path.into_inner();
    let mine = content_upload::Entity::find()
        .filter(content_upload::Column::FileId.eq(id))
        .filter(content_upload::Column::OwnerId.eq(user.id))
        .one(&state.db)
        .await?;
    if mine.is_none() {
        return Err(ApiError::NotFound("file_not_found"));
    }
    Ok(web::Json(signed_url(&state, id).await?))
}

pub async fn signed_url(state: &AppState, file: Uuid) -> Result<FileUrl, ApiError> {
    let file = content_file::Entity::find_by_id(file)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("file_not_found"))?;
    let lasts = std::time::Duration::from_secs(300);
    Ok(FileUrl {
        url: state
            .blobs
            .signed_get_url(&file.blob_key, &file.mime, Validity::for_next(lasts))
            .await?,
        expires_at: Utc::now() + Duration::seconds(300),
    })
}

/// Uploads started and never completed: their objects and parts go, the upload is marked
/// abandoned (and stops counting against quotas). Returns how many.
pub async fn clean_abandoned(state: &AppState, now: DateTime<Utc>) -> Result<usize, ApiError> {
    // Past the hour of its URLs, an upload's staging key holds nothing anyone needs: an upload
    // never completed, or what a PUT wrote after completion or failure.
    let stale = content_upload::Entity::find()
        .filter(content_upload::Column::State.is_in(["pending", "completed", "failed"]))
        .filter(content_upload::Column::ExpiresAt.lt(now))
        .limit(500)
        .all(&state.db)
        .await?;
    let mut cleaned = 0;
    for u in stale {
        if let Some(multipart) = &u.multipart_id {
            let _ = state.blobs.abort_multipart(&u.blob_key, multipart).await;
        }
        // Uploads from before staging keys wrote their file's own key: only a pending one's
        // object is unwanted.
        if u.state == "pending" || u.blob_key.starts_with("staging/") {
            state.blobs.delete(&u.blob_key).await?;
        }
        let (next, counts) = match u.state.as_str() {
            "pending" => ("abandoned", true),
            "completed" => ("stored", false),
            _ => ("closed", false),
        };
        let moved = content_upload::Entity::update_many()
            .col_expr(content_upload::Column::State, Expr::value(next))
            .filter(content_upload::Column::Id.eq(u.id))
            .filter(content_upload::Column::State.eq(u.state.as_str()))
            .exec(&state.db)
            .await?;
        if counts {
            cleaned += moved.rows_affected as usize;
        }
    }
    Ok(cleaned)
}

/// Stores bytes the service already holds (samples, imports): the same checks as a completed
/// upload, and one copy per content.
pub async fn store_bytes(
    state: &AppState,
    owner: Uuid,
    school: Option<Uuid>,
    bytes: bytes::Bytes,
) -> Result<content_file::Model, ApiError> {
    let sha = hex::encode(Sha256::digest(&bytes));
    if let Some(f) = content_file::Entity::find()
        .filter(content_file::Column::Sha256.eq(sha.as_str()))
        .one(&state.db)
        .await?
    {
        return Ok(f);
    }
    let (mime, package) = match sniff::magic(&bytes) {
        Some("application/zip") => {
            sniff::inspect_zip(&bytes).map_err(|_| ApiError::field("file", "unreadable_file"))?
        }
        Some(mime) => (mime, Package::default()),
        None => return Err(ApiError::field("file", "content_type_mismatch")),
    };
    let key = format!("content/{}", Uuid::now_v7());
    let size = bytes.len() as i64;
    state.blobs.put(&key, bytes, mime).await?;
    let file = content_file::Model {
        id: Uuid::now_v7(),
        sha256: sha,
        size,
        mime: mime.to_owned(),
        blob_key: key,
        details: serde_json::to_string(&package).expect("plain data"),
        created_by: owner,
        school_id: school,
        created_at: Utc::now(),
    };
    content_file::Entity::insert(content_file::ActiveModel::from(file.clone()).reset_all())
        .exec_without_returning(&state.db)
        .await?;
    Ok(file)
}
