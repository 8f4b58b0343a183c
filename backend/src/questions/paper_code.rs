//! One paper code as candidates and printers see it: its questions in the code's order without
//! their keys, the shared stimuli, and the code's answer key, read from the frozen versions.
//! Used by the paper routes, the printed .docx, the exam engine's paper cache and results.
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    db::StoredBody,
    domain::{Body, RenderedBody},
    papers::{CodeKey, Slot},
};
use crate::{
    entities::{item_version, paper, paper_code},
    error::ApiError,
    exam_format::{Subject, format_of},
};

#[derive(Serialize, ToSchema)]
pub struct PrintedQuestion {
    /// 1, 2 or 3.
    pub part: u8,
    /// The group whose stimulus comes before this question (see `groups`).
    pub group_id: Option<Uuid>,
    /// Numbered from 1 within each part, as printed ("Câu 1").
    pub number: usize,
    pub item_id: Uuid,
    pub version: i32,
    /// Stem and options or statements in this code's order, without any key.
    pub content: serde_json::Value,
    /// The same as HTML with MathML, for staff reading the code (`GET /papers/{id}/codes/{code}`);
    /// figures at `/papers/{id}/codes/{code}/media/{name}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendered: Option<RenderedBody>,
}

#[derive(Serialize, ToSchema)]
pub struct PaperCodeResponse {
    pub paper_id: Uuid,
    pub code: String,
    pub subject: Subject,
    pub minutes: u16,
    pub questions: Vec<PrintedQuestion>,
    /// Stimuli shared by groups of questions (passages, figures), printed before their block.
    pub groups: Vec<PrintedGroup>,
    /// This code's answer key, in the `hocthi grade` key-file format.
    pub key: CodeKey,
}

#[derive(Serialize, ToSchema)]
pub struct PrintedGroup {
    pub id: Uuid,
    pub title: String,
    pub stimulus: String,
}

/// One code's questions in its order, its groups and its key, read from the frozen versions.
pub async fn render_code(
    db: &sea_orm::DatabaseConnection,
    paper: &paper::Model,
    code: String,
) -> Result<PaperCodeResponse, ApiError> {
    let row = paper_code::Entity::find_by_id((paper.id, code.clone()))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("paper_not_found"))?;
    let slots: Vec<Slot> =
        serde_json::from_str(&row.layout).map_err(|e| ApiError::Unexpected(e.into()))?;
    let key: CodeKey =
        serde_json::from_str(&row.answer_key).map_err(|e| ApiError::Unexpected(e.into()))?;
    let versions = item_version::Entity::find()
        .filter(item_version::Column::ItemId.is_in(slots.iter().map(|s| s.item_id)))
        .all(db)
        .await?;
    let mut numbers = [0usize; 5];
    let mut questions = Vec::new();
    for slot in &slots {
        let version = versions
            .iter()
            .find(|v| v.item_id == slot.item_id && v.version == slot.version)
            .ok_or_else(|| {
                ApiError::Unexpected(anyhow::anyhow!("a frozen item version is missing"))
            })?;
        let stored: StoredBody =
            serde_json::from_str(&version.body).map_err(|e| ApiError::Unexpected(e.into()))?;
        numbers[slot.part as usize] += 1;
        questions.push(PrintedQuestion {
            part: slot.part,
            group_id: slot.group,
            number: numbers[slot.part as usize],
            item_id: slot.item_id,
            version: slot.version,
            content: printed(&stored.body, &slot.order),
            rendered: None,
        });
    }
    let mut group_ids: Vec<Uuid> = slots.iter().filter_map(|s| s.group).collect();
    group_ids.dedup();
    let groups = super::db::groups_by_ids(db, group_ids)
        .await?
        .into_iter()
        .map(|g| PrintedGroup {
            id: g.id,
            title: g.title,
            stimulus: g.stimulus,
        })
        .collect();
    let subject = key.subject;
    let response = PaperCodeResponse {
        groups,
        paper_id: paper.id,
        code,
        subject,
        minutes: format_of(subject).minutes,
        questions,
        key,
    };
    Ok(response)
}

/// The content in this code's order, with no key.
pub fn printed(body: &Body, order: &[u8]) -> serde_json::Value {
    let mut content = body.without_key();
    for field in ["options", "statements"] {
        if let Some(list) = content.get(field).and_then(|l| l.as_array()).cloned()
            && order.len() == list.len()
        {
            content[field] =
                serde_json::Value::Array(order.iter().map(|o| list[*o as usize].clone()).collect());
        }
    }
    content
}
