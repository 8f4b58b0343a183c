//! Grading: Parts I-III by the scoring engine once an attempt is submitted (queued after the
//! submit's response, or by the sweeper), essays from their graders' marks. A score is written
//! next to the attempt, never instead of its answers.
use std::{
    collections::{BTreeMap, HashMap},
    sync::Mutex,
};

use chrono::Utc;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    sea_query::{CaseStatement, Expr, ExprTrait as _},
};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    Engine,
    domain::{self, AttemptState, EssayOutcome, INCIDENTS},
    lifecycle::Context,
};
use crate::exam_format::{
    Choice, PaperKey, Points, Responses, ShortAnswer, TrueFalseKey, score_paper,
};
use crate::{
    entities::{answer_save, attempt, essay_mark, item_version, paper_code},
    error::ApiError,
    questions::{
        domain::Body,
        papers::{CodeKey, Slot},
    },
    state::AppState,
    stores::hot::{Op, Reply},
};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Score {
    #[schema(value_type = String, example = "2.75")]
    pub part1: Points,
    #[schema(value_type = String)]
    pub part2: Points,
    #[schema(value_type = String)]
    pub part3: Points,
    /// Essay points once every essay has its final mark.
    #[schema(value_type = Option<String>)]
    pub essay: Option<Points>,
    /// Essays still waiting for a grader.
    pub essays_pending: usize,
    /// The paper's score out of 10, once nothing is pending.
    #[schema(value_type = Option<String>)]
    pub total: Option<Points>,
}

/// Per slot, the sequence and stored value of the answer in force.
pub type Latest = BTreeMap<i32, (i64, Option<String>)>;

/// The latest value of each slot: the save with the highest client sequence wins, whatever
/// order the saves arrived in.
pub async fn latest_answers(
    db: &impl ConnectionTrait,
    attempt_id: Uuid,
) -> Result<Latest, ApiError> {
    Ok(latest_answers_of(db, &[attempt_id])
        .await?
        .remove(&attempt_id)
        .unwrap_or_default())
}

/// The same for several attempts in one query (attempts with no save are absent).
pub async fn latest_answers_of(
    db: &impl ConnectionTrait,
    attempts: &[Uuid],
) -> Result<HashMap<Uuid, Latest>, ApiError> {
    let rows: Vec<(Uuid, i32, i64, String)> = answer_save::Entity::find()
        .select_only()
        .column(answer_save::Column::AttemptId)
        .column(answer_save::Column::Slot)
        .column(answer_save::Column::Seq)
        .column(answer_save::Column::Value)
        .filter(answer_save::Column::AttemptId.is_in(attempts.iter().copied()))
        .order_by_asc(answer_save::Column::Seq)
        .into_tuple()
        .all(db)
        .await?;
    let mut latest: HashMap<Uuid, Latest> = HashMap::new();
    for (attempt, slot, seq, value) in rows {
        let value: Option<String> = serde_json::from_str(&value).unwrap_or(None);
        latest
            .entry(attempt)
            .or_default()
            .insert(slot, (seq, value));
    }
    Ok(latest)
}

/// A code's layout and key as stored with the paper.
pub async fn code_of(
    db: &impl ConnectionTrait,
    paper_id: Uuid,
    code: &str,
) -> Result<(Vec<Slot>, CodeKey), ApiError> {
    let row = paper_code::Entity::find_by_id((paper_id, code.to_owned()))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("paper_not_found"))?;
    parse_code(&row)
}

fn parse_code(row: &paper_code::Model) -> Result<(Vec<Slot>, CodeKey), ApiError> {
    let slots = serde_json::from_str(&row.layout).map_err(|e| ApiError::Unexpected(e.into()))?;
    let key = serde_json::from_str(&row.answer_key).map_err(|e| ApiError::Unexpected(e.into()))?;
    Ok((slots, key))
}

/// The layouts and keys of the codes these attempts sat, one query per paper.
async fn codes_of(
    db: &impl ConnectionTrait,
    attempts: &[&attempt::Model],
) -> Result<HashMap<(Uuid, String), (Vec<Slot>, CodeKey)>, ApiError> {
    let mut wanted: HashMap<Uuid, Vec<String>> = HashMap::new();
    for a in attempts {
        let codes = wanted.entry(a.paper_id).or_default();
        if !codes.contains(&a.code) {
            codes.push(a.code.clone());
        }
    }
    let mut found = HashMap::new();
    for (paper, codes) in wanted {
        for row in paper_code::Entity::find()
            .filter(paper_code::Column::PaperId.eq(paper))
            .filter(paper_code::Column::Code.is_in(codes))
            .all(db)
            .await?
        {
            found.insert((row.paper_id, row.code.clone()), parse_code(&row)?);
        }
    }
    Ok(found)
}

pub fn paper_key(key: &CodeKey) -> Result<PaperKey, ApiError> {
    let broken = || ApiError::Unexpected(anyhow::anyhow!("a stored answer key does not parse"));
    Ok(PaperKey {
        subject: key.subject,
        part1: key
            .part1
            .iter()
            .map(|c| Choice::parse(c).ok_or_else(broken))
            .collect::<Result<_, _>>()?,
        part2: key
            .part2
            .iter()
            .map(|t| TrueFalseKey::parse(t).ok_or_else(broken))
            .collect::<Result<_, _>>()?,
        part3: key
            .part3
            .iter()
            .map(|list| {
                list.iter()
                    .map(|a| ShortAnswer::parse(a).map_err(|_| broken()))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<_, _>>()?,
    })
}

/// The candidate's answers in the order the scoring engine reads them.
pub fn responses(slots: &[Slot], latest: &BTreeMap<i32, (i64, Option<String>)>) -> Responses {
    let mut r = Responses::default();
    for (i, slot) in slots.iter().enumerate() {
        let value = latest.get(&(i as i32)).and_then(|(_, v)| v.clone());
        match slot.part {
            1 => r.part1.push(value.as_deref().and_then(Choice::parse)),
            2 => r
                .part2
                .push(domain::true_false_marks(value.as_deref().unwrap_or(""))),
            3 => r.part3.push(value),
            _ => {}
        }
    }
    r
}

/// The most an essay slot is worth: its rubric's points.
pub async fn essay_maxima(
    db: &impl ConnectionTrait,
    slots: &[Slot],
) -> Result<BTreeMap<i32, Points>, ApiError> {
    let essays: Vec<(i32, &Slot)> = slots
        .iter()
        .enumerate()
        .filter(|(_, s)| s.part == 4)
        .map(|(i, s)| (i as i32, s))
        .collect();
    if essays.is_empty() {
        return Ok(BTreeMap::new());
    }
    let versions = item_version::Entity::find()
        .filter(item_version::Column::ItemId.is_in(essays.iter().map(|(_, s)| s.item_id)))
        .all(db)
        .await?;
    let mut maxima = BTreeMap::new();
    for (i, slot) in essays {
        let points = versions
            .iter()
            .find(|v| v.item_id == slot.item_id && v.version == slot.version)
            .and_then(|v| serde_json::from_str::<crate::questions::db::StoredBody>(&v.body).ok())
            .map(|b| match b.body {
                Body::Essay { rubric, .. } => rubric.iter().map(|c| c.points).sum(),
                _ => Points::ZERO,
            })
            .unwrap_or(Points::ZERO);
        maxima.insert(i, points);
    }
    Ok(maxima)
}

/// Scores one closed attempt and stores the score.
pub async fn grade(db: &impl ConnectionTrait, ctx: &Context) -> Result<Score, ApiError> {
    Ok(grade_all(db, &[Submitted::new(ctx.clone())])
        .await?
        .pop()
        .expect("one score per attempt"))
}

/// A closed attempt to grade, with its answers when the caller has read them already (a
/// submit reads them for its response after the close, so they are final).
#[derive(Clone)]
pub struct Submitted {
    pub ctx: Context,
    pub answers: Option<Latest>,
}

impl Submitted {
    pub fn new(ctx: Context) -> Self {
        Self { ctx, answers: None }
    }
}

/// Scores closed attempts and stores their scores: the codes, the answers not given and the
/// scores each in one statement, however many attempts (essays aside, read per attempt).
pub async fn grade_all(
    db: &impl ConnectionTrait,
    attempts: &[Submitted],
) -> Result<Vec<Score>, ApiError> {
    let rows: Vec<&attempt::Model> = attempts.iter().map(|s| &s.ctx.attempt).collect();
    let codes = codes_of(db, &rows).await?;
    let unread: Vec<Uuid> = attempts
        .iter()
        .filter(|s| s.answers.is_none())
        .map(|s| s.ctx.attempt.id)
        .collect();
    let mut read = if unread.is_empty() {
        HashMap::new()
    } else {
        latest_answers_of(db, &unread).await?
    };
    let mut scores = Vec::with_capacity(attempts.len());
    for s in attempts {
        let a = &s.ctx.attempt;
        let (slots, key) = codes
            .get(&(a.paper_id, a.code.clone()))
            .ok_or(ApiError::NotFound("paper_not_found"))?;
        let latest = match &s.answers {
            Some(given) => given,
            None => &*read.entry(a.id).or_default(),
        };
        scores.push(score(db, &s.ctx, slots, key, latest).await?);
    }
    store_scores(db, attempts.iter().map(|s| s.ctx.attempt.id).zip(&scores)).await?;
    Ok(scores)
}

/// Parts I-III from the key, essays from their marks.
async fn score(
    db: &impl ConnectionTrait,
    ctx: &Context,
    slots: &[Slot],
    key: &CodeKey,
    latest: &Latest,
) -> Result<Score, ApiError> {
    let attempt = &ctx.attempt;
    let auto = score_paper(&paper_key(key)?, &responses(slots, latest));
    let policy = ctx.policy()?;
    let maxima = essay_maxima(db, slots).await?;
    let marks = if maxima.is_empty() {
        Vec::new()
    } else {
        essay_mark::Entity::find()
            .filter(essay_mark::Column::AttemptId.eq(attempt.id))
            .order_by_asc(essay_mark::Column::Round)
            .all(db)
            .await?
    };
    let mut essay = Points::ZERO;
    let mut pending = 0;
    for slot in maxima.keys() {
        let given: Vec<Points> = marks
            .iter()
            .filter(|m| m.slot == *slot)
            .map(|m| Points::hundredths(m.points as u32))
            .collect();
        match domain::reconcile(&given, policy.double_marking, policy.marking_margin) {
            EssayOutcome::Final(p) => essay = essay + p,
            EssayOutcome::NeedsRound(_) => pending += 1,
        }
    }
    let has_essays = !maxima.is_empty();
    Ok(Score {
        part1: auto.part1,
        part2: auto.part2,
        part3: auto.part3,
        essay: (has_essays && pending == 0).then_some(essay),
        essays_pending: pending,
        total: (pending == 0).then_some(auto.total + essay),
    })
}

/// Every score in one UPDATE (a CASE on the attempt's id).
async fn store_scores<'a>(
    db: &impl ConnectionTrait,
    scores: impl Iterator<Item = (Uuid, &'a Score)>,
) -> Result<(), ApiError> {
    let mut ids = Vec::new();
    let mut case = CaseStatement::new();
    for (id, score) in scores {
        let json = serde_json::to_string(score).expect("plain data");
        case = case.case(Expr::col(attempt::Column::Id).eq(id), Expr::val(json));
        ids.push(id);
    }
    if ids.is_empty() {
        return Ok(());
    }
    attempt::Entity::update_many()
        .col_expr(
            attempt::Column::Score,
            case.finally(Expr::col(attempt::Column::Score)).into(),
        )
        .col_expr(attempt::Column::GradedAt, Expr::value(Utc::now()))
        .filter(attempt::Column::Id.is_in(ids))
        .exec(db)
        .await?;
    Ok(())
}

/// Grades closed attempts that have had no score for a minute: after a crash between submit
/// and grading, or a submit the full grading queue could not take. Fresher ones are the
/// queue's.
pub async fn grade_pending(engine: &Engine) -> Result<usize, ApiError> {
    let settled_by_now =
        engine.clock.now() - chrono::Duration::from_std(QUEUE_PATIENCE).unwrap_or_default();
    settle_ungraded(
        engine,
        ungraded()
            .filter(attempt::Column::SubmittedAt.lt(settled_by_now))
            .limit(200),
    )
    .await
}

/// Grades the sitting's closed attempts that have no score yet, so that what reads scores
/// (results, statistics, progress) never misses a submit whose grading is still queued.
pub async fn settle_waiting(engine: &Engine, sitting_id: Uuid) -> Result<usize, ApiError> {
    settle_ungraded(
        engine,
        ungraded().filter(attempt::Column::SittingId.eq(sitting_id)),
    )
    .await
}

/// Closed attempts without a score.
fn ungraded() -> Select<attempt::Entity> {
    attempt::Entity::find()
        .filter(attempt::Column::State.is_in([
            AttemptState::Submitted.as_str(),
            AttemptState::AutoSubmitted.as_str(),
        ]))
        .filter(attempt::Column::GradedAt.is_null())
}

async fn settle_ungraded(
    engine: &Engine,
    query: Select<attempt::Entity>,
) -> Result<usize, ApiError> {
    let waiting = query.all(&engine.db).await?;
    let n = waiting.len();
    for chunk in waiting.chunks(BATCH) {
        let mut contexts = Vec::with_capacity(chunk.len());
        for attempt in chunk {
            contexts.push(Submitted::new(
                Context::around(&engine.db, attempt.clone()).await?,
            ));
        }
        settle_all(engine, &contexts).await?;
    }
    Ok(n)
}

/// Closes a submitted attempt's record: its incident summary from the hot store goes onto the
/// row, and Parts I-III are graded. Running it twice writes the same again.
pub async fn settle(engine: &Engine, ctx: &Context) -> Result<Score, ApiError> {
    Ok(settle_all(engine, &[Submitted::new(ctx.clone())])
        .await?
        .pop()
        .expect("one score per attempt"))
}

/// `settle` for several attempts at once: one hot-store round trip for their incident totals
/// and the statements of `grade_all`.
pub async fn settle_all(engine: &Engine, attempts: &[Submitted]) -> Result<Vec<Score>, ApiError> {
    let ids: Vec<Uuid> = attempts.iter().map(|s| s.ctx.attempt.id).collect();
    for (id, summary) in ids.iter().zip(incident_summaries(engine, &ids).await) {
        // Attempts are created with an empty summary: most need no write here.
        if !summary.is_empty() {
            attempt::Entity::update_many()
                .col_expr(
                    attempt::Column::Incidents,
                    Expr::value(serde_json::Value::Object(summary).to_string()),
                )
                .filter(attempt::Column::Id.eq(*id))
                .exec(&engine.db)
                .await?;
        }
    }
    grade_all(&engine.db, attempts).await
}

/// Incident counts by kind from the hot store, per attempt; the totals are read first (one
/// round trip for all), so attempts without incidents cost nothing more. A hot store that does
/// not answer gives empty summaries.
async fn incident_summaries(
    engine: &Engine,
    ids: &[Uuid],
) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let count = |reply: Option<&Reply>| match reply {
        Some(Reply::Value(Some(bytes))) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|t| t.parse::<i64>().ok()),
        _ => None,
    };
    let mut summaries = vec![serde_json::Map::new(); ids.len()];
    let total_keys: Vec<String> = ids
        .iter()
        .map(|id| super::hot_keys::incidents(*id))
        .collect();
    let totals = engine
        .hot
        .batch(&total_keys.iter().map(|k| Op::Get(k)).collect::<Vec<_>>())
        .await
        .unwrap_or_default();
    let with_incidents: Vec<usize> = (0..ids.len())
        .filter(|i| count(totals.get(*i)).unwrap_or(0) > 0)
        .collect();
    if with_incidents.is_empty() {
        return summaries;
    }
    let kind_keys: Vec<String> = with_incidents
        .iter()
        .flat_map(|i| {
            INCIDENTS
                .iter()
                .map(move |kind| super::hot_keys::incidents_of_kind(ids[*i], kind))
        })
        .collect();
    let kinds = engine
        .hot
        .batch(&kind_keys.iter().map(|k| Op::Get(k)).collect::<Vec<_>>())
        .await
        .unwrap_or_default();
    for (n, i) in with_incidents.iter().enumerate() {
        for (k, kind) in INCIDENTS.iter().enumerate() {
            if let Some(c) = count(kinds.get(n * INCIDENTS.len() + k)) {
                summaries[*i].insert((*kind).to_owned(), c.into());
            }
        }
    }
    summaries
}

/// Submits waiting to be graded, taken in batches while the submits' responses have already
/// gone: the deadline brings every submit of a sitting at once, and a batch grades them with a
/// few statements instead of a few each.
pub struct Queue {
    sender: mpsc::Sender<Submitted>,
    receiver: Mutex<Option<mpsc::Receiver<Submitted>>>,
}

/// Submits held at most (a context is a few kilobytes); past it the sweeper grades them.
const QUEUE_LENGTH: usize = 20_000;
/// Attempts graded together at most (the queue's batches, the sweeper's chunks).
pub const BATCH: usize = 200;
/// How long the sweeper leaves a fresh submit to the queue.
const QUEUE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

impl Queue {
    pub fn new() -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_LENGTH);
        Queue {
            sender,
            receiver: Mutex::new(Some(receiver)),
        }
    }

    /// Queues a submitted attempt for grading. A full queue drops it: the sweeper's grading
    /// pass takes it a minute later, and a reader of its score grades it first.
    pub fn push(&self, submitted: Submitted) {
        if let Err(e) = self.sender.try_send(submitted) {
            tracing::debug!(error = %e, "grading queue full; the sweeper grades this one");
        }
    }
}

impl Default for Queue {
    fn default() -> Self {
        Self::new()
    }
}

/// This instance's grading worker (a job of `jobs.rs`; the first call takes the queue, later
/// calls get none). It takes whatever is waiting, up to a batch: one submit alone at a quiet
/// time, hundreds at the deadline.
pub fn worker(state: AppState) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
    let mut receiver = state
        .exams
        .grading
        .receiver
        .lock()
        .expect("not poisoned")
        .take()?;
    Some(async move {
        let mut batch = Vec::with_capacity(BATCH);
        while receiver.recv_many(&mut batch, BATCH).await > 0 {
            if let Err(e) = settle_all(&state.exams, &batch).await {
                tracing::warn!(error = ?e, attempts = batch.len(), "grading submits failed; the sweeper retries");
            }
            batch.clear();
        }
    })
}

pub fn stored_score(attempt: &attempt::Model) -> Option<Score> {
    attempt
        .score
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
}
