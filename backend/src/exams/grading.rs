//! Grading: Parts I-III by the scoring engine once an attempt is submitted (queued after the
//! submit's response, or by the sweeper), essays from their graders' marks. A score is written
//! next to the attempt, never instead of its answers.
use std::{collections::BTreeMap, sync::Mutex};

use chrono::Utc;
use futures_util::StreamExt;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    domain::{self, AttemptState, EssayOutcome},
    lifecycle::Context,
    taking::INCIDENTS,
};
use crate::{
    entities::{answer_save, attempt, essay_mark, item_version, paper_code},
    error::ApiError,
    questions::{
        domain::Body,
        papers::{CodeKey, Slot},
        scoring::{Choice, PaperKey, Points, Responses, ShortAnswer, TrueFalseKey, score_paper},
    },
    state::AppState,
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

/// The latest value of each slot: the save with the highest client sequence wins, whatever
/// order the saves arrived in.
pub async fn latest_answers(
    db: &impl ConnectionTrait,
    attempt_id: Uuid,
) -> Result<BTreeMap<i32, (i64, Option<String>)>, ApiError> {
    let rows: Vec<(i32, i64, String)> = answer_save::Entity::find()
        .select_only()
        .column(answer_save::Column::Slot)
        .column(answer_save::Column::Seq)
        .column(answer_save::Column::Value)
        .filter(answer_save::Column::AttemptId.eq(attempt_id))
        .order_by_asc(answer_save::Column::Seq)
        .into_tuple()
        .all(db)
        .await?;
    let mut latest = BTreeMap::new();
    for (slot, seq, value) in rows {
        let value: Option<String> = serde_json::from_str(&value).unwrap_or(None);
        latest.insert(slot, (seq, value));
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
    let slots = serde_json::from_str(&row.layout).map_err(|e| ApiError::Unexpected(e.into()))?;
    let key = serde_json::from_str(&row.answer_key).map_err(|e| ApiError::Unexpected(e.into()))?;
    Ok((slots, key))
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
    let attempt = &ctx.attempt;
    let (slots, key) = code_of(db, attempt.paper_id, &attempt.code).await?;
    let latest = latest_answers(db, attempt.id).await?;
    let auto = score_paper(&paper_key(&key)?, &responses(&slots, &latest));
    let policy = ctx.policy()?;
    let maxima = essay_maxima(db, &slots).await?;
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
    let score = Score {
        part1: auto.part1,
        part2: auto.part2,
        part3: auto.part3,
        essay: (has_essays && pending == 0).then_some(essay),
        essays_pending: pending,
        total: (pending == 0).then_some(auto.total + essay),
    };
    attempt::Entity::update_many()
        .col_expr(
            attempt::Column::Score,
            Expr::value(serde_json::to_string(&score).expect("plain data")),
        )
        .col_expr(attempt::Column::GradedAt, Expr::value(Utc::now()))
        .filter(attempt::Column::Id.eq(attempt.id))
        .exec(db)
        .await?;
    Ok(score)
}

/// Grades closed attempts that have had no score for a minute: after a crash between submit
/// and grading, or a submit the full grading queue could not take. Fresher ones are the
/// queue's.
pub async fn grade_pending(state: &AppState) -> Result<usize, ApiError> {
    let settled_by_now =
        state.clock.now() - chrono::Duration::from_std(QUEUE_PATIENCE).unwrap_or_default();
    settle_ungraded(
        state,
        ungraded()
            .filter(attempt::Column::SubmittedAt.lt(settled_by_now))
            .limit(200),
    )
    .await
}

/// Grades the sitting's closed attempts that have no score yet, so that what reads scores
/// (results, statistics, progress) never misses a submit whose grading is still queued.
pub async fn settle_waiting(state: &AppState, sitting_id: Uuid) -> Result<usize, ApiError> {
    settle_ungraded(
        state,
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
    state: &AppState,
    query: Select<attempt::Entity>,
) -> Result<usize, ApiError> {
    let waiting = query.all(&state.db).await?;
    let n = waiting.len();
    for attempt in waiting {
        let ctx = Context::around(&state.db, attempt).await?;
        settle(state, &ctx).await?;
    }
    Ok(n)
}

/// Closes a submitted attempt's record: its incident summary from the hot store goes onto the
/// row, and Parts I-III are graded. Running it twice writes the same again.
pub async fn settle(state: &AppState, ctx: &Context) -> Result<Score, ApiError> {
    let id = ctx.attempt.id;
    let summary = incident_summary(state, id).await;
    // Attempts are created with an empty summary: most need no write here.
    if !summary.is_empty() {
        attempt::Entity::update_many()
            .col_expr(
                attempt::Column::Incidents,
                Expr::value(serde_json::Value::Object(summary).to_string()),
            )
            .filter(attempt::Column::Id.eq(id))
            .exec(&state.db)
            .await?;
    }
    grade(&state.db, ctx).await
}

/// Incident counts by kind from the hot store; the total is read first, so an attempt without
/// incidents costs one round trip.
async fn incident_summary(
    state: &AppState,
    id: Uuid,
) -> serde_json::Map<String, serde_json::Value> {
    let count = |bytes: &[u8]| {
        std::str::from_utf8(bytes)
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
    };
    let mut summary = serde_json::Map::new();
    let total = match state.hot.get(&format!("incidents:{id}")).await {
        Ok(Some(bytes)) => count(&bytes).unwrap_or(0),
        _ => 0,
    };
    if total == 0 {
        return summary;
    }
    for kind in INCIDENTS {
        if let Ok(Some(bytes)) = state.hot.get(&format!("incidents:{id}:{kind}")).await
            && let Some(n) = count(&bytes)
        {
            summary.insert((*kind).to_owned(), n.into());
        }
    }
    summary
}

/// Submits waiting to be graded, taken by a few workers while the submits' responses have
/// already gone: the deadline brings every submit of a sitting at once.
pub struct Queue {
    sender: mpsc::Sender<Context>,
    receiver: Mutex<Option<mpsc::Receiver<Context>>>,
}

/// Submits held at most (a context is a few kilobytes); past it the sweeper grades them.
const QUEUE_LENGTH: usize = 20_000;
/// Attempts graded at once: enough to keep up, few enough to leave the pool to requests.
const WORKERS: usize = 2;
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
    pub fn push(&self, ctx: Context) {
        if let Err(e) = self.sender.try_send(ctx) {
            tracing::debug!(error = %e, "grading queue full; the sweeper grades this one");
        }
    }
}

impl Default for Queue {
    fn default() -> Self {
        Self::new()
    }
}

/// Starts this instance's grading workers (once; later calls do nothing).
pub fn start_grading(state: AppState) {
    let Some(receiver) = state
        .exams
        .grading
        .receiver
        .lock()
        .expect("not poisoned")
        .take()
    else {
        return;
    };
    let queued = futures_util::stream::unfold(receiver, |mut r| async move {
        r.recv().await.map(|ctx| (ctx, r))
    });
    tokio::spawn(queued.for_each_concurrent(WORKERS, move |ctx| {
        let state = state.clone();
        async move {
            if let Err(e) = settle(&state, &ctx).await {
                let id = ctx.attempt.id;
                tracing::warn!(error = ?e, %id, "grading a submit failed; the sweeper retries");
            }
        }
    }));
}

pub fn stored_score(attempt: &attempt::Model) -> Option<Score> {
    attempt
        .score
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
}
