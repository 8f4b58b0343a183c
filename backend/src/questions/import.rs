//! `POST /items/import`: a question bank file in the teachers' convention, as .docx or plain
//! text, checked item by item; written whole or not at all unless the caller keeps the valid
//! items. Images go to the blob store, stored once per content.
use actix_web::{HttpResponse, post, web};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    convention::{self, Parsed},
    db::{self, NewVersion},
    docx,
    domain::{Body, Level, Metadata},
    routes::AUTHORS,
};
use crate::exam_format::Subject;
use crate::{
    audit::{self, Event},
    auth::CurrentUser,
    error::{ApiError, Problem},
    files::Archive,
    i18n,
    imports::Budget,
    request::RequestMeta,
    state::AppState,
};

#[derive(Deserialize, IntoParams)]
pub struct ImportQuery {
    pub subject: Subject,
    pub grade: i16,
    /// Topic for items without a `Chủ đề:` line.
    pub topic: String,
    /// Level for items without a `Mức độ:` line (default: biet).
    pub level: Option<Level>,
    pub series: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub keep_valid: bool,
}

#[derive(Serialize, ToSchema, Clone)]
pub struct ItemReport {
    /// The line (text) or paragraph (.docx) where the item starts.
    pub at: usize,
    /// Its number as written ("Câu 3").
    pub number: String,
    /// created, would_create or rejected.
    pub status: &'static str,
    pub reason_code: Option<&'static str>,
    pub reason: Option<&'static str>,
    pub item_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct ItemImportReport {
    pub format: &'static str,
    pub dry_run: bool,
    pub committed: bool,
    pub created: usize,
    pub rejected: usize,
    pub images: usize,
    pub items: Vec<ItemReport>,
}

/// Items in one file: a whole subject's bank for a grade fits; more is split into files.
pub const MAX_ITEMS: usize = 2_000;

fn image_type(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    Some(match bytes {
        [0x89, b'P', b'N', b'G', ..] => ("image/png", "png"),
        [0xFF, 0xD8, 0xFF, ..] => ("image/jpeg", "jpg"),
        [b'G', b'I', b'F', b'8', ..] => ("image/gif", "gif"),
        [0xD7, 0xCD, 0xC6, 0x9A, ..] => ("image/wmf", "wmf"),
        [0x01, 0x00, 0x00, 0x00, ..] => ("image/emf", "emf"),
        _ => return None,
    })
}

fn swap_images(body: &mut Body, keys: &[(String, String)]) {
    for text in body.texts_mut() {
        for (id, key) in keys {
            *text = text.replace(&format!("(embedded:{id})"), &format!("(blob:{key})"));
        }
    }
}

/// What a file holds: paragraphs in the teachers' convention (with images), or items an
/// interchange format already structures.
enum Source {
    Convention(Vec<convention::Paragraph>, Vec<docx::EmbeddedImage>),
    /// Items, and the images a package carries for them.
    Structured(Vec<Parsed>, Vec<docx::EmbeddedImage>),
}

/// Decides the format by content: a zip is a QTI package (with `imsmanifest.xml`) or a .docx;
/// XML is a QTI item or Moodle XML; text is GIFT or the Word convention as plain text.
fn read_file(body: &[u8], budget: &mut Budget) -> Result<(&'static str, Source), &'static str> {
    if body.starts_with(b"PK\x03\x04") {
        // One archive, checked once, whichever format it turns out to be.
        let mut archive = Archive::open(body)?;
        if archive.has("imsmanifest.xml") {
            let (items, images) = super::qti::parse_package(&mut archive, budget)?;
            return Ok(("qti", Source::Structured(items, images)));
        }
        let doc = docx::read(&mut archive, budget)?;
        return Ok(("docx", Source::Convention(doc.paragraphs, doc.images)));
    }
    let text = std::str::from_utf8(body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body))
        .map_err(|_| "unsupported_media_type")?;
    if text.trim_start().starts_with('<') {
        // One parse; the root element says which format it is.
        let root = crate::xml::parse(text.as_bytes(), budget)?;
        return match root.name.as_str() {
            "qti-assessment-item" => {
                let result = super::qti::item_from(&root).map(|body| convention::ParsedItem {
                    body,
                    level: None,
                    topic: None,
                    competency: None,
                    source: None,
                    tags: vec![],
                    solution: None,
                });
                let item = Parsed {
                    at: 1,
                    group: None,
                    number: "1".into(),
                    result,
                };
                Ok(("qti", Source::Structured(vec![item], Vec::new())))
            }
            "quiz" => Ok((
                "moodle_xml",
                Source::Structured(super::moodle::from_quiz(&root)?, Vec::new()),
            )),
            _ => Err("unsupported_media_type"),
        };
    }
    if super::gift::looks_like_gift(text) {
        return Ok((
            "gift",
            Source::Structured(super::gift::parse(text), Vec::new()),
        ));
    }
    Ok((
        "text",
        Source::Convention(convention::paragraphs_of_text(text), Vec::new()),
    ))
}

/// A file once read: its format, its items (each parsed or refused), and the images and item
/// groups of a file in the Word convention.
pub struct ParsedFile {
    pub format: &'static str,
    pub parsed: Vec<Parsed>,
    pub images: Vec<docx::EmbeddedImage>,
    pub groups: Vec<convention::GroupDraft>,
}

/// Reads any question bank file within `budget`: the whole of an import before the database.
pub fn parse_file(body: &[u8], budget: &mut Budget) -> Result<ParsedFile, &'static str> {
    let (format, source) = read_file(body, budget)?;
    let (parsed, images, groups) = match source {
        Source::Convention(paragraphs, images) => {
            let (parsed, groups) = convention::parse_with_groups(&paragraphs);
            (parsed, images, groups)
        }
        Source::Structured(parsed, images) => (parsed, images, Vec::new()),
    };
    Ok(ParsedFile {
        format,
        parsed,
        images,
        groups,
    })
}

/// Imports a question bank file (.docx or UTF-8 text in the Word convention).
#[utoipa::path(tag = "questions", security(("bearer" = [])), params(ImportQuery),
    request_body(content = Vec<u8>, description = "The file: a .docx or UTF-8 text", content_type = "application/octet-stream"),
    responses(
        (status = 200, body = ItemImportReport),
        (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, description = "rejected items; nothing written; the body is the report", body = ItemImportReport, content_type = "application/problem+json")))]
#[post("/items/import")]
pub async fn import_items(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    query: web::Query<ImportQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    user.require(AUTHORS, user.home())?;
    let (report, rejected) =
        import_file(&state, &meta, user.id, user.school, &query, &body).await?;
    if rejected {
        return Ok(crate::error::rejected_with("import_rejected", &report));
    }
    Ok(HttpResponse::Ok().json(report))
}

/// Reads and checks one file, and (unless a dry run, or rejected) writes its items as drafts of
/// `author` in one transaction. The flag is true when the file was rejected whole.
pub async fn import_file(
    state: &AppState,
    meta: &RequestMeta,
    author: Uuid,
    school: Option<Uuid>,
    query: &ImportQuery,
    body: &Bytes,
) -> Result<(ItemImportReport, bool), ApiError> {
    // Parsing runs off the HTTP workers, within the import budget (`imports`).
    let file = body.clone();
    let read = state
        .imports
        .run(move |budget| parse_file(&file, budget))
        .await?;
    let ParsedFile {
        format,
        parsed,
        images,
        groups,
    } = read;
    if parsed.is_empty() {
        return Err(ApiError::field("file", "empty_file"));
    }
    if parsed.len() > MAX_ITEMS {
        return Err(ApiError::Quota("too_many_items"));
    }

    let mut reports = Vec::new();
    let mut ready = Vec::new();
    for Parsed {
        at,
        group,
        number,
        result,
    } in parsed
    {
        let outcome = result.and_then(|item| {
            let metadata = Metadata {
                subject: query.subject,
                grade: query.grade,
                series: query.series.clone(),
                topic: item
                    .topic
                    .clone()
                    .unwrap_or_else(|| query.topic.clone())
                    .split(" / ")
                    .map(str::to_owned)
                    .collect(),
                level: item.level.or(query.level).unwrap_or(Level::Biet),
                competency: item.competency.clone(),
                tags: item.tags.clone(),
                source: item.source.clone(),
                solution: item.solution.clone(),
            };
            let body = item.body.validate().map_err(|e| e[0].code)?;
            let metadata = metadata.validate().map_err(|e| e[0].code)?;
            Ok((body, metadata))
        });
        match outcome {
            Ok(pair) => {
                reports.push(ItemReport {
                    at,
                    number,
                    status: "would_create",
                    reason_code: None,
                    reason: None,
                    item_id: None,
                });
                ready.push((reports.len() - 1, pair, group));
            }
            Err(code) => reports.push(ItemReport {
                at,
                number,
                status: "rejected",
                reason_code: Some(code),
                reason: Some(i18n::message(code)),
                item_id: None,
            }),
        }
    }
    let rejected = reports.iter().filter(|r| r.status == "rejected").count();
    let mut report = ItemImportReport {
        format,
        dry_run: query.dry_run,
        committed: false,
        created: 0,
        rejected,
        images: 0,
        items: reports,
    };
    if rejected > 0 && !query.keep_valid {
        return Ok((report, true));
    }
    // A dry run counts the images the import would store.
    report.images = images
        .iter()
        .filter(|i| image_type(&i.bytes).is_some())
        .count();
    if query.dry_run {
        return Ok((report, false));
    }

    // Images first, content-addressed: a retry or a second file stores nothing twice.
    let mut keys = Vec::new();
    for image in &images {
        let Some((content_type, ext)) = image_type(&image.bytes) else {
            continue;
        };
        let key = format!(
            "{}{}.{ext}",
            super::domain::FIGURES,
            hex::encode(Sha256::digest(&image.bytes))
        );
        if state.blobs.head(&key).await?.is_none() {
            state
                .blobs
                .put(&key, image.bytes.clone(), content_type)
                .await?;
        }
        keys.push((image.id.clone(), key));
    }
    report.images = keys.len();

    let txn = audit::Change::begin(&state.db).await?;
    // Groups are created on their first written item; members are numbered in file order.
    let mut made: std::collections::HashMap<usize, (Uuid, i32)> = std::collections::HashMap::new();
    for (index, (mut body, metadata), group) in ready {
        swap_images(&mut body, &keys);
        let id = Uuid::now_v7();
        let membership = match group {
            None => None,
            Some(g) => {
                let entry = match made.entry(g) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        let mut draft = groups[g].clone();
                        for (image, key) in &keys {
                            draft.stimulus = draft
                                .stimulus
                                .replace(&format!("(embedded:{image})"), &format!("(blob:{key})"));
                        }
                        let created = db::insert_group(
                            &txn,
                            author,
                            school,
                            query.subject.code(),
                            &draft.title,
                            &draft.stimulus,
                        )
                        .await?;
                        slot.insert((created.id, 0))
                    }
                };
                entry.1 += 1;
                Some(*entry)
            }
        };
        db::insert_item(&txn, id, author, school, &metadata, membership).await?;
        db::insert_version(
            &txn,
            NewVersion {
                item_id: id,
                version: 1,
                body: &body,
                metadata: &metadata,
                author,
            },
        )
        .await?;
        report.items[index].status = "created";
        report.items[index].item_id = Some(id);
        report.created += 1;
    }
    let details =
        serde_json::json!({ "format": format, "created": report.created, "rejected": rejected });
    txn.commit(
        meta,
        Event::by(author, "items.imported", "user", author, details),
    )
    .await?;
    report.committed = true;
    Ok((report, false))
}
