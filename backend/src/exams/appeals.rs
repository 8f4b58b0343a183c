//! The appeal export (phúc khảo): one attempt's paper as printed, its key, every save with its
//! time, and its events, for re-marking.

use actix_web::{get, web};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    domain::AttemptState,
    grading::{self, Score},
    lifecycle::{self, Context},
    staff::require_organiser,
};
use crate::exam_format::Points;
use crate::{
    auth::{CurrentUser, roles::Role},
    entities::{answer_save, audit_event, essay_mark, user},
    error::ApiError,
    state::AppState,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(appeal_export);
}

#[derive(Serialize, ToSchema)]
pub struct AppealSave {
    pub slot: i32,
    pub seq: i64,
    pub value: Option<String>,
    pub saved_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct AppealEvent {
    pub seq: i32,
    pub at: chrono::DateTime<chrono::Utc>,
    pub kind: String,
    pub seconds: i32,
    pub actor_id: Option<Uuid>,
    pub details: serde_json::Value,
    pub hash: String,
}

#[derive(Serialize, ToSchema)]
pub struct AppealExport {
    pub attempt_id: Uuid,
    pub candidate_number: Option<String>,
    pub full_name: String,
    pub exam: String,
    pub sitting: String,
    pub code: String,
    pub state: AttemptState,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub deadline: Option<chrono::DateTime<chrono::Utc>>,
    pub submitted_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The code's content as printed, and its key.
    #[schema(value_type = Object)]
    pub paper: serde_json::Value,
    /// Every save in the order the candidate made them (client sequence), with server time.
    pub saves: Vec<AppealSave>,
    /// The attempt's own hash-chained events, and whether the chain checks out.
    pub events: Vec<AppealEvent>,
    pub chain: lifecycle::ChainCheck,
    /// Audit-log entries about this attempt (proctor actions, marks, corrections).
    #[schema(value_type = Vec<Object>)]
    pub audit: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub essay_marks: Vec<serde_json::Value>,
    #[schema(value_type = Object)]
    pub incidents: serde_json::Value,
    pub score: Option<Score>,
}

/// Everything about one attempt, for an appeal (phúc khảo).
#[utoipa::path(tag = "results", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), responses(
    (status = 200, body = AppealExport)))]
#[get("/attempts/{attempt_id}/appeal")]
async fn appeal_export(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<AppealExport>, ApiError> {
    user.require(&[Role::SchoolAdmin, Role::Teacher], user.home())?;
    let mut ctx = Context::load(&state.db, path.into_inner()).await?;
    require_organiser(&user, &ctx.exam).map_err(|_| ApiError::NotFound("attempt_not_found"))?;
    if ctx.state()?.is_closed() && ctx.attempt.graded_at.is_none() {
        // Its grading is still queued: the export carries the score and incidents.
        grading::settle(&state.exams, &ctx).await?;
        ctx = Context::load(&state.db, ctx.attempt.id).await?;
    }
    let a = &ctx.attempt;
    let paper = crate::entities::paper::Entity::find_by_id(a.paper_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("paper_not_found"))?;
    let printed =
        crate::questions::paper_code::render_code(&state.db, &paper, a.code.clone()).await?;
    let saves = answer_save::Entity::find()
        .filter(answer_save::Column::AttemptId.eq(a.id))
        .order_by_asc(answer_save::Column::Seq)
        .order_by_asc(answer_save::Column::Slot)
        .all(&state.db)
        .await?;
    let events = lifecycle::events(&state.db, a.id).await?;
    let chain = lifecycle::verify(a, &events);
    let audit = audit_event::Entity::find()
        .filter(audit_event::Column::TargetId.eq(a.id.to_string()))
        .order_by_asc(audit_event::Column::Id)
        .all(&state.db)
        .await?;
    let marks = essay_mark::Entity::find()
        .filter(essay_mark::Column::AttemptId.eq(a.id))
        .all(&state.db)
        .await?;
    let who = user::Entity::find_by_id(a.user_id).one(&state.db).await?;
    Ok(web::Json(AppealExport {
        attempt_id: a.id,
        candidate_number: ctx.candidate.as_ref().map(|c| c.number.clone()),
        full_name: who.map(|u| u.full_name).unwrap_or_default(),
        exam: ctx.exam.name.clone(),
        sitting: ctx.sitting.name.clone(),
        code: a.code.clone(),
        state: ctx.state()?,
        started_at: a.started_at,
        deadline: a.deadline,
        submitted_at: a.submitted_at,
        paper: serde_json::to_value(&printed).map_err(|e| ApiError::Unexpected(e.into()))?,
        saves: saves
            .into_iter()
            .map(|s| AppealSave {
                slot: s.slot,
                seq: s.seq,
                value: serde_json::from_str(&s.value).unwrap_or(None),
                saved_at: s.saved_at,
            })
            .collect(),
        events: events
            .into_iter()
            .map(|e| AppealEvent {
                seq: e.seq,
                at: e.at,
                kind: e.kind,
                seconds: e.seconds,
                actor_id: e.actor_id,
                details: serde_json::from_str(&e.details).unwrap_or_default(),
                hash: e.hash,
            })
            .collect(),
        chain,
        audit: audit
            .into_iter()
            .map(|e| json!({ "id": e.id, "at": e.at, "actor_id": e.actor_id, "action": e.action,
                "details": serde_json::from_str::<serde_json::Value>(&e.details).unwrap_or_default(), "hash": e.hash }))
            .collect(),
        essay_marks: marks
            .into_iter()
            .map(|m| json!({ "slot": m.slot, "round": m.round, "grader_id": m.grader_id,
                "points": Points::hundredths(m.points as u32), "comment": m.comment, "at": m.at }))
            .collect(),
        incidents: serde_json::from_str(&a.incidents).unwrap_or_default(),
        score: grading::stored_score(a),
    }))
}
