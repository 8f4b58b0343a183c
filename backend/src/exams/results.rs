//! After the sitting: essay marking (single or double with a third marker), key corrections
//! with a dry run, results, statistics (phổ điểm, item analysis, schools compared), the Excel
//! export schools hand in, the appeal export (phúc khảo), and item statistics for the bank.
use std::collections::{BTreeMap, HashMap};

use actix_web::{HttpResponse, get, post, web};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
    sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    chart,
    domain::{self, AttemptState, EssayOutcome, EventKind, ItemFigures, Policy, Summary},
    grading::{self, Score},
    lifecycle::{self, Change, Context},
    organisation::{find_exam, organised_sitting, sitting_for},
    staff::{is_organiser, require_marker, require_organiser},
};
use crate::exam_format::{
    Choice, Points, ShortAnswer, TrueFalseKey, score_multiple_choice, score_short_answer,
    score_true_false,
};
use crate::{
    audit::{self, Event},
    auth::{CurrentUser, roles::Role},
    entities::{
        answer_save, attempt, audit_event, candidate, class, essay_mark, exam, item_statistic,
        paper_code, school, sitting, user,
    },
    error::{ApiError, Problem},
    questions::papers::{CodeKey, Slot},
    request::RequestMeta,
    state::AppState,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(essays)
        .service(mark_essay)
        .service(correct_key)
        .service(results)
        .service(statistics)
        .service(distribution_svg)
        .service(distribution_png)
        .service(results_xlsx)
        .service(appeal_export)
        .service(release)
        .service(item_statistics);
}

/// One graded attempt with who sat it.
struct Row {
    attempt: attempt::Model,
    score: Score,
    number: String,
    full_name: String,
    birth_date: Option<chrono::NaiveDate>,
    school_id: Option<Uuid>,
    class_id: Option<Uuid>,
}

#[derive(Deserialize, IntoParams)]
pub struct GroupFilter {
    /// Only this school's candidates.
    pub school_id: Option<Uuid>,
    /// Only this class's candidates.
    pub class_id: Option<Uuid>,
}

/// Every closed attempt of the sitting, graded first if its grading is still queued (voided
/// ones excluded), narrowed to the caller's school
/// when they are school staff, and by the filter.
async fn graded_rows(
    state: &AppState,
    user: &CurrentUser,
    sitting: &sitting::Model,
    filter: &GroupFilter,
) -> Result<Vec<Row>, ApiError> {
    grading::settle_waiting(state, sitting.id).await?;
    let attempts = attempt::Entity::find()
        .filter(attempt::Column::SittingId.eq(sitting.id))
        .filter(attempt::Column::State.is_in([
            AttemptState::Submitted.as_str(),
            AttemptState::AutoSubmitted.as_str(),
        ]))
        .order_by_asc(attempt::Column::Id)
        .all(&state.db)
        .await?;
    let candidates: HashMap<Uuid, candidate::Model> = candidate::Entity::find()
        .filter(candidate::Column::SittingId.eq(sitting.id))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let mut users = HashMap::new();
    let ids: Vec<Uuid> = attempts.iter().map(|a| a.user_id).collect();
    for chunk in ids.chunks(1000) {
        for u in user::Entity::find()
            .filter(user::Column::Id.is_in(chunk.iter().copied()))
            .all(&state.db)
            .await?
        {
            users.insert(u.id, u);
        }
    }
    let own_school = (!user.has(Role::ProvinceAdmin))
        .then_some(user.school)
        .flatten();
    let mut rows = Vec::new();
    for a in attempts {
        let Some(score) = grading::stored_score(&a) else {
            continue;
        };
        let Some(u) = users.get(&a.user_id) else {
            continue;
        };
        if own_school.is_some_and(|s| u.school_id != Some(s))
            || filter.school_id.is_some_and(|s| u.school_id != Some(s))
            || filter.class_id.is_some_and(|c| u.class_id != Some(c))
        {
            continue;
        }
        rows.push(Row {
            number: a
                .candidate_id
                .and_then(|c| candidates.get(&c))
                .map(|c| c.number.clone())
                .unwrap_or_default(),
            full_name: u.full_name.clone(),
            birth_date: u.birth_date,
            school_id: u.school_id,
            class_id: u.class_id,
            score,
            attempt: a,
        });
    }
    rows.sort_by(|a, b| a.number.cmp(&b.number));
    Ok(rows)
}

fn total(row: &Row) -> Option<u32> {
    row.score.total.map(Points::as_hundredths)
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
    (status = 200, body = Vec<EssayToMark>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
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
    (status = 200, body = Score), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
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
    let txn = state.db.begin().await?;
    let ctx = Context::load(&txn, path.into_inner()).await?;
    require_marker(&user, &ctx.exam).map_err(|_| ApiError::NotFound("attempt_not_found"))?;
    if !matches!(
        ctx.state(),
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
    audit::record(
        &txn,
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
    let score = grading::grade(&txn, &ctx).await?;
    txn.commit().await?;
    Ok(web::Json(score))
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
    (status = 200, body = KeyCorrectionReport), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
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
    let txn = state.db.begin().await?;
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
        audit::record(
            &txn,
            &meta,
            Event::by(
                user.id,
                "paper.key_corrected",
                "sitting",
                sitting.id,
                json!({ "corrections": body.corrections.iter().map(|c| json!({"code": c.code, "part": c.part, "number": c.number, "key": c.key})).collect::<Vec<_>>(),
                        "scores_changed": changes.len() }),
            ),
        )
        .await?;
        txn.commit().await?;
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

#[derive(Serialize, ToSchema)]
pub struct ResultRow {
    pub attempt_id: Uuid,
    pub number: String,
    pub full_name: String,
    pub code: String,
    pub state: AttemptState,
    pub score: Score,
}

/// Every graded candidate of the sitting (school staff see their own school's).
#[utoipa::path(tag = "results", security(("bearer" = [])), params(("sitting_id" = Uuid, Path), GroupFilter), responses(
    (status = 200, body = Vec<ResultRow>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/sittings/{sitting_id}/results")]
async fn results(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    filter: web::Query<GroupFilter>,
) -> Result<web::Json<Vec<ResultRow>>, ApiError> {
    let (_, sitting) = organised_sitting(&state, &user, path.into_inner()).await?;
    let rows = graded_rows(&state, &user, &sitting, &filter).await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|r| ResultRow {
                attempt_id: r.attempt.id,
                number: r.number,
                full_name: r.full_name,
                code: r.attempt.code.clone(),
                state: AttemptState::parse(&r.attempt.state),
                score: r.score,
            })
            .collect(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct Distribution {
    /// Each bar is this wide (points).
    pub bin_width: f64,
    /// Candidates per bar from 0 upwards; a 10 counts in the last bar.
    pub counts: Vec<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct SchoolFigures {
    pub school_id: Option<Uuid>,
    pub school_name: String,
    pub summary: Summary,
}

#[derive(Serialize, ToSchema)]
pub struct ItemAnalysis {
    pub item_id: Uuid,
    pub version: i32,
    pub part: u8,
    pub figures: ItemFigures,
    /// Part I: how often each option (in the author's order A-D) was chosen, and blanks.
    pub options: BTreeMap<String, u32>,
}

#[derive(Serialize, ToSchema)]
pub struct Statistics {
    pub sitting_id: Uuid,
    /// Candidates with a final score (essays all marked).
    pub summary: Summary,
    pub distribution: Distribution,
    pub by_school: Vec<SchoolFigures>,
    pub items: Vec<ItemAnalysis>,
}

async fn compute_statistics(
    state: &AppState,
    sitting: &sitting::Model,
    rows: &[Row],
) -> Result<Statistics, ApiError> {
    let totals: Vec<u32> = rows.iter().filter_map(total).collect();
    let mut by_school_scores: BTreeMap<Option<Uuid>, Vec<u32>> = BTreeMap::new();
    for r in rows {
        if let Some(t) = total(r) {
            by_school_scores.entry(r.school_id).or_default().push(t);
        }
    }
    let names: HashMap<Uuid, String> = school::Entity::find()
        .filter(school::Column::Id.is_in(by_school_scores.keys().flatten().copied()))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let mut by_school: Vec<SchoolFigures> = by_school_scores
        .iter()
        .map(|(id, scores)| SchoolFigures {
            school_id: *id,
            school_name: id.and_then(|i| names.get(&i).cloned()).unwrap_or_default(),
            summary: domain::summary(scores),
        })
        .collect();
    by_school.sort_by(|a, b| b.summary.mean.total_cmp(&a.summary.mean));
    Ok(Statistics {
        sitting_id: sitting.id,
        summary: domain::summary(&totals),
        distribution: Distribution {
            bin_width: f64::from(domain::BIN_WIDTH) / 100.0,
            counts: domain::distribution(&totals),
        },
        by_school,
        items: item_analysis(state, rows).await?,
    })
}

/// Classical item analysis over the graded attempts, by item (across codes: each code's
/// permutation is undone, so options are counted in the author's order).
async fn item_analysis(state: &AppState, rows: &[Row]) -> Result<Vec<ItemAnalysis>, ApiError> {
    let mut layouts: HashMap<(Uuid, String), (Vec<Slot>, CodeKey)> = HashMap::new();
    let mut marks: BTreeMap<(Uuid, i32, u8), Vec<(f64, f64)>> = BTreeMap::new();
    let mut options: HashMap<(Uuid, i32), BTreeMap<String, u32>> = HashMap::new();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.attempt.id).collect();
    let mut answers: HashMap<Uuid, BTreeMap<i32, (i64, Option<String>)>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let saves = answer_save::Entity::find()
            .filter(answer_save::Column::AttemptId.is_in(chunk.iter().copied()))
            .order_by_asc(answer_save::Column::Seq)
            .all(&state.db)
            .await?;
        for s in saves {
            let value: Option<String> = serde_json::from_str(&s.value).unwrap_or(None);
            answers
                .entry(s.attempt_id)
                .or_default()
                .insert(s.slot, (s.seq, value));
        }
    }
    let empty = BTreeMap::new();
    for r in rows {
        let Some(total) = total(r) else { continue };
        let total = f64::from(total) / 100.0;
        let key = (r.attempt.paper_id, r.attempt.code.clone());
        if !layouts.contains_key(&key) {
            let layout = grading::code_of(&state.db, key.0, &key.1).await?;
            layouts.insert(key.clone(), layout);
        }
        let (slots, code_key) = &layouts[&key];
        let paper_key = grading::paper_key(code_key)?;
        let latest = answers.get(&r.attempt.id).unwrap_or(&empty);
        let mut n = [0usize; 5];
        for (i, slot) in slots.iter().enumerate() {
            let at = n[slot.part as usize];
            n[slot.part as usize] += 1;
            let value = latest.get(&(i as i32)).and_then(|(_, v)| v.as_deref());
            let fraction = match slot.part {
                1 => {
                    let chosen = value.and_then(Choice::parse);
                    let label = match chosen {
                        Some(c) => slot
                            .order
                            .get(c.index())
                            .and_then(|o| Choice::from_index(*o as usize))
                            .map(|c| c.letter().to_string())
                            .unwrap_or_else(|| "?".into()),
                        None => "blank".into(),
                    };
                    *options
                        .entry((slot.item_id, slot.version))
                        .or_default()
                        .entry(label)
                        .or_default() += 1;
                    let got = score_multiple_choice(paper_key.part1[at], chosen);
                    f64::from(got.as_hundredths()) / 25.0
                }
                2 => {
                    let got = score_true_false(
                        paper_key.part2[at],
                        &domain::true_false_marks(value.unwrap_or("")),
                    );
                    f64::from(got.as_hundredths()) / 100.0
                }
                3 => {
                    let got =
                        score_short_answer(&paper_key.part3[at], value, Points::hundredths(1));
                    f64::from(got.as_hundredths())
                }
                _ => continue,
            };
            marks
                .entry((slot.item_id, slot.version, slot.part))
                .or_default()
                .push((fraction, total));
        }
    }
    Ok(marks
        .into_iter()
        .map(|((item_id, version, part), list)| ItemAnalysis {
            item_id,
            version,
            part,
            figures: domain::item_figures(&list),
            options: options.remove(&(item_id, version)).unwrap_or_default(),
        })
        .collect())
}

/// Mean, median, standard deviation, the distribution (phổ điểm), schools compared and item
/// analysis, for the whole sitting or one school or class.
#[utoipa::path(tag = "results", security(("bearer" = [])), params(("sitting_id" = Uuid, Path), GroupFilter), responses(
    (status = 200, body = Statistics), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/sittings/{sitting_id}/statistics")]
async fn statistics(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    filter: web::Query<GroupFilter>,
) -> Result<web::Json<Statistics>, ApiError> {
    let (_, sitting) = organised_sitting(&state, &user, path.into_inner()).await?;
    let rows = graded_rows(&state, &user, &sitting, &filter).await?;
    Ok(web::Json(
        compute_statistics(&state, &sitting, &rows).await?,
    ))
}

async fn distribution_of(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
    filter: &GroupFilter,
) -> Result<(String, Vec<u32>), ApiError> {
    let (exam, sitting) = organised_sitting(state, user, id).await?;
    let rows = graded_rows(state, user, &sitting, filter).await?;
    let totals: Vec<u32> = rows.iter().filter_map(total).collect();
    Ok((
        format!("Phổ điểm – {} – {}", exam.name, sitting.name),
        domain::distribution(&totals),
    ))
}

/// The distribution as an SVG bar chart.
#[utoipa::path(tag = "results", security(("bearer" = [])), params(("sitting_id" = Uuid, Path), GroupFilter), responses(
    (status = 200, description = "image/svg+xml", content_type = "image/svg+xml"),
    (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/sittings/{sitting_id}/distribution.svg")]
async fn distribution_svg(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    filter: web::Query<GroupFilter>,
) -> Result<HttpResponse, ApiError> {
    let (title, counts) = distribution_of(&state, &user, path.into_inner(), &filter).await?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .body(chart::svg(&title, &counts)))
}

/// The distribution as a PNG bar chart.
#[utoipa::path(tag = "results", security(("bearer" = [])), params(("sitting_id" = Uuid, Path), GroupFilter), responses(
    (status = 200, description = "image/png", content_type = "image/png"),
    (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/sittings/{sitting_id}/distribution.png")]
async fn distribution_png(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    filter: web::Query<GroupFilter>,
) -> Result<HttpResponse, ApiError> {
    let (_, counts) = distribution_of(&state, &user, path.into_inner(), &filter).await?;
    Ok(HttpResponse::Ok()
        .content_type("image/png")
        .body(chart::png(&counts)))
}

fn xlsx_error(e: rust_xlsxwriter::XlsxError) -> ApiError {
    ApiError::Unexpected(anyhow::anyhow!("building the results workbook: {e}"))
}

/// The results sheet in the form schools hand in: STT, SBD, name, date of birth, class,
/// school, code, the parts, and the total with two decimals.
#[utoipa::path(tag = "results", security(("bearer" = [])), params(("sitting_id" = Uuid, Path), GroupFilter), responses(
    (status = 200, description = "the .xlsx", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/sittings/{sitting_id}/results.xlsx")]
async fn results_xlsx(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    filter: web::Query<GroupFilter>,
) -> Result<HttpResponse, ApiError> {
    use rust_xlsxwriter::{Format, Workbook};
    let (exam, sitting) = organised_sitting(&state, &user, path.into_inner()).await?;
    let rows = graded_rows(&state, &user, &sitting, &filter).await?;
    let schools: HashMap<Uuid, String> = school::Entity::find()
        .all(&state.db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let classes: HashMap<Uuid, String> = class::Entity::find()
        .filter(class::Column::Id.is_in(rows.iter().filter_map(|r| r.class_id)))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Kết quả").map_err(xlsx_error)?;
    let bold = Format::new().set_bold();
    let score_format = Format::new().set_num_format("0.00");
    sheet
        .write_string_with_format(0, 0, "SỞ GIÁO DỤC VÀ ĐÀO TẠO", &bold)
        .map_err(xlsx_error)?;
    sheet
        .write_string_with_format(
            1,
            0,
            format!("BẢNG ĐIỂM: {} – {}", exam.name, sitting.name),
            &bold,
        )
        .map_err(xlsx_error)?;
    let header = [
        "STT",
        "Số báo danh",
        "Họ và tên",
        "Ngày sinh",
        "Lớp",
        "Trường",
        "Mã đề",
        "Phần I",
        "Phần II",
        "Phần III",
        "Tự luận",
        "Tổng điểm",
        "Ghi chú",
    ];
    for (c, h) in header.iter().enumerate() {
        sheet
            .write_string_with_format(3, c as u16, *h, &bold)
            .map_err(xlsx_error)?;
    }
    let number = |p: Points| f64::from(p.as_hundredths()) / 100.0;
    for (i, r) in rows.iter().enumerate() {
        let row = 4 + i as u32;
        let text = [
            (1, r.number.clone()),
            (2, r.full_name.clone()),
            (
                3,
                r.birth_date
                    .map(|d| d.format("%d/%m/%Y").to_string())
                    .unwrap_or_default(),
            ),
            (
                4,
                r.class_id
                    .and_then(|c| classes.get(&c).cloned())
                    .unwrap_or_default(),
            ),
            (
                5,
                r.school_id
                    .and_then(|s| schools.get(&s).cloned())
                    .unwrap_or_default(),
            ),
            (6, r.attempt.code.clone()),
        ];
        sheet
            .write_number(row, 0, (i + 1) as f64)
            .map_err(xlsx_error)?;
        for (c, t) in text {
            sheet.write_string(row, c, t).map_err(xlsx_error)?;
        }
        for (c, p) in [
            (7, Some(r.score.part1)),
            (8, Some(r.score.part2)),
            (9, Some(r.score.part3)),
            (10, r.score.essay),
            (11, r.score.total),
        ] {
            if let Some(p) = p {
                sheet
                    .write_number_with_format(row, c, number(p), &score_format)
                    .map_err(xlsx_error)?;
            }
        }
        let note = match (
            AttemptState::parse(&r.attempt.state),
            r.score.essays_pending,
        ) {
            (_, n) if n > 0 => "Chưa chấm xong tự luận",
            (AttemptState::AutoSubmitted, _) => "Hệ thống tự nộp khi hết giờ",
            _ => "",
        };
        sheet.write_string(row, 12, note).map_err(xlsx_error)?;
    }
    let file = book.save_to_buffer().map_err(xlsx_error)?;
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"ket-qua-{}.xlsx\"", sitting.id),
        ))
        .body(file))
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
    (status = 200, body = AppealExport), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/attempts/{attempt_id}/appeal")]
async fn appeal_export(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<AppealExport>, ApiError> {
    user.require(&[Role::SchoolAdmin, Role::Teacher], user.home())?;
    let mut ctx = Context::load(&state.db, path.into_inner()).await?;
    require_organiser(&user, &ctx.exam).map_err(|_| ApiError::NotFound("attempt_not_found"))?;
    if ctx.state().is_closed() && ctx.attempt.graded_at.is_none() {
        // Its grading is still queued: the export carries the score and incidents.
        grading::settle(&state, &ctx).await?;
        ctx = Context::load(&state.db, ctx.attempt.id).await?;
    }
    let a = &ctx.attempt;
    let paper = crate::entities::paper::Entity::find_by_id(a.paper_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("paper_not_found"))?;
    let printed =
        crate::questions::paper_routes::render_code(&state.db, &paper, a.code.clone()).await?;
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
        state: ctx.state(),
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

#[derive(Serialize, ToSchema)]
pub struct ReleaseReport {
    pub sittings: usize,
    /// Item statistics written back to the question bank.
    pub items_updated: usize,
}

/// Releases the exam's results to candidates and writes each item's statistics back to the
/// question bank.
#[utoipa::path(tag = "results", security(("bearer" = [])), params(("exam_id" = Uuid, Path)), responses(
    (status = 200, body = ReleaseReport), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[post("/exams/{exam_id}/release")]
async fn release(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<ReleaseReport>, ApiError> {
    user.require(&[Role::SchoolAdmin, Role::Teacher], user.home())?;
    let exam: exam::Model = find_exam(&state, path.into_inner()).await?;
    require_organiser(&user, &exam)?;
    let sittings = sitting::Entity::find()
        .filter(sitting::Column::ExamId.eq(exam.id))
        .all(&state.db)
        .await?;
    // Item statistics over every candidate, whoever releases.
    let everyone = CurrentUser {
        id: user.id,
        session: user.session,
        roles: vec![Role::ProvinceAdmin],
        school: None,
    };
    let mut figures = Vec::new();
    for s in &sittings {
        let rows = graded_rows(
            &state,
            &everyone,
            s,
            &GroupFilter {
                school_id: None,
                class_id: None,
            },
        )
        .await?;
        let stats = compute_statistics(&state, s, &rows).await?;
        figures.push((s.id, stats.items));
    }
    let now = state.clock.now();
    let txn = state.db.begin().await?;
    let mut items_updated = 0;
    for (sitting_id, items) in figures {
        item_statistic::Entity::delete_many()
            .filter(item_statistic::Column::SittingId.eq(sitting_id))
            .exec(&txn)
            .await?;
        for i in items {
            item_statistic::Entity::insert(item_statistic::ActiveModel {
                item_id: sea_orm::Set(i.item_id),
                version: sea_orm::Set(i.version),
                sitting_id: sea_orm::Set(sitting_id),
                responses: sea_orm::Set(i.figures.responses as i32),
                facility: sea_orm::Set(i.figures.facility),
                discrimination: sea_orm::Set(i.figures.discrimination),
                point_biserial: sea_orm::Set(i.figures.point_biserial),
                options: sea_orm::Set(serde_json::to_string(&i.options).expect("plain data")),
                updated_at: sea_orm::Set(now),
            })
            .exec_without_returning(&txn)
            .await?;
            items_updated += 1;
        }
    }
    exam::Entity::update_many()
        .col_expr(exam::Column::ResultsReleased, Expr::value(true))
        .filter(exam::Column::Id.eq(exam.id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        &meta,
        Event::by(
            user.id,
            "exam.results_released",
            "exam",
            exam.id,
            json!({ "items": items_updated }),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(web::Json(ReleaseReport {
        sittings: sittings.len(),
        items_updated,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct ItemStatisticRow {
    pub version: i32,
    pub sitting_id: Uuid,
    pub responses: i32,
    pub facility: f64,
    pub discrimination: f64,
    pub point_biserial: f64,
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// How an item performed in released exams: facility, discrimination, point-biserial, options.
#[utoipa::path(tag = "questions", security(("bearer" = [])), params(("item_id" = Uuid, Path)), responses(
    (status = 200, body = Vec<ItemStatisticRow>), (status = 401, body = Problem), (status = 403, body = Problem)))]
#[get("/items/{item_id}/statistics")]
async fn item_statistics(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<Vec<ItemStatisticRow>>, ApiError> {
    // Only someone who may read the item: its answer spread tells its key.
    let item = crate::questions::routes::readable(&state, &user, path.into_inner(), None)
        .await?
        .item;
    Ok(web::Json(
        item_statistic::Entity::find()
            .filter(item_statistic::Column::ItemId.eq(item.id))
            .order_by_desc(item_statistic::Column::UpdatedAt)
            .all(&state.db)
            .await?
            .into_iter()
            .map(|s| ItemStatisticRow {
                version: s.version,
                sitting_id: s.sitting_id,
                responses: s.responses,
                facility: s.facility,
                discrimination: s.discrimination,
                point_biserial: s.point_biserial,
                options: serde_json::from_str(&s.options).unwrap_or_default(),
                updated_at: s.updated_at,
            })
            .collect(),
    ))
}
