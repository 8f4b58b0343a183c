//! Essay marking: single, or double with a third marker when the two differ beyond the exam's
//! tolerance.
use std::collections::{BTreeMap, HashMap};

use actix_web::{get, post, web};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    domain::{self, AttemptState, EssayOutcome, Policy},
    grading::{self, Score},
    lifecycle::Context,
    setup::sitting_for,
    staff::require_marker,
};
use crate::exam_format::Points;
use crate::{
    audit::{self, Event},
    auth::{CurrentUser, roles::Role},
    entities::{attempt, essay_mark},
    error::{ApiError, Problem},
    questions::papers::Slot,
    request::RequestMeta,
    state::AppState,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(essays).service(mark_essay);
}

#[derive(Serialize, ToSchema)]
pub struct EssayToMark {
    pub attempt_id: Uuid,
    pub slot: i32,
    /// The essay's number within Part IV (tự luận), from 1.
    pub number: usize,
    pub text: Option<String>,
    #[schema(value_type = String)]
    pub max_points: Points,
    /// The round this essay needs next (1, 2, or 3 when two marks differ too much).
    pub round: i32,
}

/// Essays waiting for a mark, without names (graders mark blind).
#[utoipa::path(tag = "grading", security(("bearer" = [])), params(("sitting_id" = Uuid, Path)), responses(
    (status = 200, body = Vec<EssayToMark>)))]
#[get("/sittings/{sitting_id}/essays")]
async fn essays(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<Vec<EssayToMark>>, ApiError> {
    let (exam, sitting) = sitting_for(&state, &user, path.into_inner(), require_marker).await?;
    let policy: Policy =
        serde_json::from_str(&exam.policy).map_err(|e| ApiError::Unexpected(e.into()))?;
    let attempts = attempt::Entity::find()
        .filter(attempt::Column::SittingId.eq(sitting.id))
        .filter(attempt::Column::State.is_in([
            AttemptState::Submitted.as_str(),
            AttemptState::AutoSubmitted.as_str(),
        ]))
        .all(&state.db)
        .await?;
    let mut layouts: HashMap<String, (Vec<Slot>, BTreeMap<i32, Points>)> = HashMap::new();
    let mut out = Vec::new();
    for a in attempts {
        if !layouts.contains_key(&a.code) {
            let (slots, _) = grading::code_of(&state.db, a.paper_id, &a.code).await?;
            let maxima = grading::essay_maxima(&state.db, &slots).await?;
            layouts.insert(a.code.clone(), (slots, maxima));
        }
        let (_, maxima) = &layouts[&a.code];
        if maxima.is_empty() {
            continue;
        }
        let latest = grading::latest_answers(&state.db, a.id).await?;
        let marks = essay_mark::Entity::find()
            .filter(essay_mark::Column::AttemptId.eq(a.id))
            .order_by_asc(essay_mark::Column::Round)
            .all(&state.db)
            .await?;
        for (number, (slot, max)) in maxima.iter().enumerate() {
            let given: Vec<Points> = marks
                .iter()
                .filter(|m| m.slot == *slot && m.grader_id != user.id)
                .map(|m| Points::hundredths(m.points as u32))
                .collect();
            let mine = marks
                .iter()
                .any(|m| m.slot == *slot && m.grader_id == user.id);
            if mine {
                continue;
            }
            if let EssayOutcome::NeedsRound(round) =
                domain::reconcile(&given, policy.double_marking, policy.marking_margin)
            {
                out.push(EssayToMark {
                    attempt_id: a.id,
                    slot: *slot,
                    number: number + 1,
                    text: latest.get(slot).and_then(|(_, v)| v.clone()),
                    max_points: *max,
                    round,
                });
            }
        }
    }
    Ok(web::Json(out))
}

#[derive(Deserialize, ToSchema)]
pub struct EssayMarkRequest {
    pub slot: i32,
    /// The round being marked (as listed by the essays endpoint).
    pub round: i32,
    /// Points, a multiple of 0.05, at most the rubric's total.
    #[schema(value_type = String, example = "5.5")]
    pub points: Points,
    #[serde(default)]
    pub comment: String,
}

/// Records one grader's mark for one essay and regrades the attempt.
#[utoipa::path(tag = "grading", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), request_body = EssayMarkRequest, responses(
    (status = 200, body = Score),
    (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/attempts/{attempt_id}/essay-marks")]
async fn mark_essay(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<EssayMarkRequest>,
) -> Result<web::Json<Score>, ApiError> {
    user.require(&[Role::SchoolAdmin, Role::Teacher], user.home())?;
    let txn = audit::Change::begin(&state.db).await?;
    let ctx = Context::load(&txn, path.into_inner()).await?;
    require_marker(&user, &ctx.exam).map_err(|_| ApiError::NotFound("attempt_not_found"))?;
    if !matches!(
        ctx.state()?,
        AttemptState::Submitted | AttemptState::AutoSubmitted
    ) {
        return Err(ApiError::Conflict("attempt_not_submitted"));
    }
    let policy = ctx.policy()?;
    let (slots, _) = grading::code_of(&txn, ctx.attempt.paper_id, &ctx.attempt.code).await?;
    let maxima = grading::essay_maxima(&txn, &slots).await?;
    let Some(max) = maxima.get(&body.slot) else {
        return Err(ApiError::field("slot", "not_an_essay"));
    };
    if body.points > *max || !body.points.as_hundredths().is_multiple_of(5) {
        return Err(ApiError::field("points", "out_of_range"));
    }
    let marks = essay_mark::Entity::find()
        .filter(essay_mark::Column::AttemptId.eq(ctx.attempt.id))
        .filter(essay_mark::Column::Slot.eq(body.slot))
        .order_by_asc(essay_mark::Column::Round)
        .all(&txn)
        .await?;
    if marks.iter().any(|m| m.grader_id == user.id) {
        return Err(ApiError::Conflict("already_marked_by_you"));
    }
    let given: Vec<Points> = marks
        .iter()
        .map(|m| Points::hundredths(m.points as u32))
        .collect();
    match domain::reconcile(&given, policy.double_marking, policy.marking_margin) {
        EssayOutcome::NeedsRound(r) if r == body.round => {}
        _ => return Err(ApiError::Conflict("round_not_open")),
    }
    essay_mark::Entity::insert(essay_mark::ActiveModel {
        attempt_id: sea_orm::Set(ctx.attempt.id),
        slot: sea_orm::Set(body.slot),
        round: sea_orm::Set(body.round),
        grader_id: sea_orm::Set(user.id),
        points: sea_orm::Set(body.points.as_hundredths() as i32),
        comment: sea_orm::Set(body.comment.trim().to_owned()),
        at: sea_orm::Set(state.clock.now()),
    })
    .exec_without_returning(&txn)
    .await?;
    let score = grading::grade(&txn, &ctx).await?;
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "essay.marked",
            "attempt",
            ctx.attempt.id,
            json!({ "slot": body.slot, "round": body.round, "points": body.points }),
        ),
    )
    .await?;
    Ok(web::Json(score))
}
