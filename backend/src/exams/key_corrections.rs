//! Key corrections after the sitting, with a dry run that shows every score that would change.
use std::collections::HashMap;

use actix_web::{post, web};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, sea_query::Expr};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    domain::{AttemptState, EventKind},
    grading::{self},
    lifecycle::{self, Change, Context},
    setup::organised_sitting,
    staff::is_organiser,
};
use crate::exam_format::{Choice, Points, ShortAnswer, TrueFalseKey};
use crate::{
    audit::{self, Event},
    auth::CurrentUser,
    entities::{attempt, candidate, exam, paper_code, sitting},
    error::{ApiError, Problem},
    questions::papers::CodeKey,
    request::RequestMeta,
    state::AppState,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(correct_key);
}

#[derive(Deserialize, ToSchema)]
pub struct KeyCorrection {
    /// The paper code (mã đề) whose key is wrong.
    pub code: String,
    /// 1, 2 or 3.
    pub part: u8,
    /// The question's number within its part, from 1.
    pub number: usize,
    /// The right key: "C"; "ĐSĐS"; "1,5" (or several accepted forms "0,5/0,50").
    pub key: String,
}

#[derive(Deserialize, ToSchema)]
pub struct KeyCorrectionRequest {
    /// Show whose score would change, and change nothing.
    pub dry_run: bool,
    pub corrections: Vec<KeyCorrection>,
}

#[derive(Serialize, ToSchema)]
pub struct ScoreChange {
    pub attempt_id: Uuid,
    pub number: String,
    pub code: String,
    #[schema(value_type = Option<String>)]
    pub before: Option<Points>,
    #[schema(value_type = Option<String>)]
    pub after: Option<Points>,
}

#[derive(Serialize, ToSchema)]
pub struct KeyCorrectionReport {
    pub dry_run: bool,
    pub attempts_checked: usize,
    pub changes: Vec<ScoreChange>,
}

fn corrected(mut key: CodeKey, c: &KeyCorrection) -> Result<CodeKey, ApiError> {
    let bad = || ApiError::field("corrections.key", "invalid_key");
    let at = c.number.checked_sub(1).ok_or_else(bad)?;
    match c.part {
        1 => {
            let choice = Choice::parse(&c.key).ok_or_else(bad)?;
            *key.part1.get_mut(at).ok_or_else(bad)? = choice.letter().to_string();
        }
        2 => {
            let tf = TrueFalseKey::parse(&c.key).ok_or_else(bad)?;
            *key.part2.get_mut(at).ok_or_else(bad)? = tf.to_string();
        }
        3 => {
            let accepted = c
                .key
                .split('/')
                .map(|a| ShortAnswer::parse(a).map(|s| s.as_str().to_owned()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| bad())?;
            *key.part3.get_mut(at).ok_or_else(bad)? = accepted;
        }
        _ => return Err(bad()),
    }
    Ok(key)
}

/// Corrects a wrong key and regrades every attempt on that paper; with `dry_run` it only
/// shows whose score changes.
#[utoipa::path(tag = "grading", security(("bearer" = [])), params(("sitting_id" = Uuid, Path)), request_body = KeyCorrectionRequest, responses(
    (status = 200, body = KeyCorrectionReport),
    (status = 422, body = Problem)))]
#[post("/sittings/{sitting_id}/key-corrections")]
async fn correct_key(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<KeyCorrectionRequest>,
) -> Result<web::Json<KeyCorrectionReport>, ApiError> {
    let (_, sitting) = organised_sitting(&state, &user, path.into_inner()).await?;
    if body.corrections.is_empty() {
        return Err(ApiError::field("corrections", "required"));
    }
    // The key belongs to the paper: correcting it regrades every sitting that uses the paper,
    // so the caller must organise every exam among them.
    let users_of_paper: Vec<Uuid> = sitting::Entity::find()
        .select_only()
        .column(sitting::Column::ExamId)
        .filter(sitting::Column::PaperId.eq(sitting.paper_id))
        .into_tuple()
        .all(&state.db)
        .await?;
    let exams_of_paper = exam::Entity::find()
        .filter(exam::Column::Id.is_in(users_of_paper))
        .all(&state.db)
        .await?;
    if !exams_of_paper.iter().all(|e| is_organiser(&user, e)) {
        return Err(ApiError::Conflict("paper_used_by_other_exams"));
    }
    let txn = audit::Change::begin(&state.db).await?;
    let mut keys: HashMap<String, CodeKey> = HashMap::new();
    for c in &body.corrections {
        let key = match keys.remove(&c.code) {
            Some(k) => k,
            None => {
                grading::code_of(&txn, sitting.paper_id, &c.code)
                    .await
                    .map_err(|_| ApiError::field("corrections.code", "no_such_code"))?
                    .1
            }
        };
        keys.insert(c.code.clone(), corrected(key, c)?);
    }
    let attempts = attempt::Entity::find()
        .filter(attempt::Column::PaperId.eq(sitting.paper_id))
        .filter(attempt::Column::Code.is_in(keys.keys().cloned()))
        .filter(attempt::Column::State.is_in([
            AttemptState::Submitted.as_str(),
            AttemptState::AutoSubmitted.as_str(),
        ]))
        .all(&txn)
        .await?;
    let numbers: HashMap<Uuid, String> = candidate::Entity::find()
        .filter(candidate::Column::Id.is_in(attempts.iter().filter_map(|a| a.candidate_id)))
        .all(&txn)
        .await?
        .into_iter()
        .map(|c| (c.id, c.number))
        .collect();
    let mut changes = Vec::new();
    for a in &attempts {
        let (slots, _) = grading::code_of(&txn, a.paper_id, &a.code).await?;
        let key = grading::paper_key(&keys[&a.code])?;
        let latest = grading::latest_answers(&txn, a.id).await?;
        let auto = crate::exam_format::score_paper(&key, &grading::responses(&slots, &latest));
        let before = grading::stored_score(a);
        let before_auto = before.as_ref().map(|s| s.part1 + s.part2 + s.part3);
        if before_auto != Some(auto.total) {
            let essay = before
                .as_ref()
                .and_then(|s| s.essay)
                .unwrap_or(Points::ZERO);
            changes.push(ScoreChange {
                attempt_id: a.id,
                number: a
                    .candidate_id
                    .and_then(|c| numbers.get(&c).cloned())
                    .unwrap_or_default(),
                code: a.code.clone(),
                before: before.as_ref().and_then(|s| s.total),
                after: before
                    .as_ref()
                    .is_some_and(|s| s.essays_pending == 0)
                    .then_some(auto.total + essay),
            });
        }
    }
    if !body.dry_run {
        for (code, key) in &keys {
            paper_code::Entity::update_many()
                .col_expr(
                    paper_code::Column::AnswerKey,
                    Expr::value(serde_json::to_string(key).expect("plain data")),
                )
                .filter(paper_code::Column::PaperId.eq(sitting.paper_id))
                .filter(paper_code::Column::Code.eq(code.as_str()))
                .exec(&txn)
                .await?;
        }
        let now = state.clock.now();
        for a in &attempts {
            let ctx = Context::around(&txn, a.clone()).await?;
            if changes.iter().any(|c| c.attempt_id == a.id) {
                lifecycle::apply(
                    &txn,
                    &ctx,
                    Change::new(
                        EventKind::Regraded,
                        Some(user.id),
                        json!({ "reason": "key_corrected" }),
                    ),
                    now,
                )
                .await?;
            }
            grading::grade(&txn, &Context::load(&txn, a.id).await?).await?;
        }
        txn.commit(&meta, Event::by(
                user.id,
                "paper.key_corrected",
                "sitting",
                sitting.id,
                json!({ "corrections": body.corrections.iter().map(|c| json!({"code": c.code, "part": c.part, "number": c.number, "key": c.key})).collect::<Vec<_>>(),
                        "scores_changed": changes.len() }),
            )).await?;
        state.exams.forget_paper(sitting.paper_id);
    } else {
        txn.rollback().await?;
    }
    Ok(web::Json(KeyCorrectionReport {
        dry_run: body.dry_run,
        attempts_checked: attempts.len(),
        changes,
    }))
}
