//! Starts and submits applied in batches. Both come all at once: a sitting's candidates start
//! within its first minute and 90% submit in its last. Applied one by one, each is a read, a
//! write and a commit on PostgreSQL, and at the deadline of a province's sitting that is
//! thousands a second. One task per instance drains whatever is waiting instead: one read of
//! the attempts, one transaction for all their changes (`lifecycle::apply_many`), and after the
//! commit one read of the submitted attempts' answers. Each handler is answered only after the
//! commit. A change that needs the attempt's history, or loses a race to another change, is
//! handed back to be applied on its own (`change_now`).
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbBackend};
use tokio::sync::{Semaphore, mpsc, oneshot};
use uuid::Uuid;

use super::{
    Engine,
    domain::AttemptState,
    grading::{self, Latest},
    hot_clock,
    lifecycle::{self, Change, Context},
};
use crate::{entities::attempt, error::ApiError};

/// Changes drained into one transaction at most (13 + 9 parameters each).
const MAX_CHANGES: usize = 500;
/// Changes waiting before new ones are applied on their own instead. This is also the bound on
/// the requests that wait here without an admission place (`admission::leave`).
const QUEUE_LENGTH: usize = 10_000;
/// Batches being applied at once. At a start spike one batch at a time was the queue itself:
/// 2,000 starts that came in 1.2 s took 28-69 batches and 1.5-2.5 s, each waiting for the one
/// before to come back from PostgreSQL (docs/performance-notebook, 2026-12-07). Two batches hold one
/// attempt only when its client sent a start or submit again before the first was answered;
/// both lock their rows in id order, so neither deadlocks, and the one that commits second
/// finds the version moved and applies its change alone (`Verdict::Alone`).
const BATCHES_IN_FLIGHT: usize = 2;

/// What a change is, given its attempt as it stands: the handler's rules.
pub type Rule = Arc<dyn Fn(&Context) -> Result<Change, ApiError> + Send + Sync>;

/// An applied change: the attempt as changed, and for a closed attempt its answers as they
/// stand after the close (final: a save batch holding the row committed before it, and one
/// after it finds the attempt closed).
pub struct Applied {
    pub ctx: Context,
    pub answers: Option<Latest>,
}

enum Verdict {
    Applied(Box<Applied>),
    /// To be applied on its own: it needs the history, or another change won the race.
    Alone,
    Refused(ApiError),
}

struct Job {
    attempt_id: Uuid,
    now: DateTime<Utc>,
    rule: Rule,
    reply: oneshot::Sender<Verdict>,
}

#[derive(Clone)]
pub struct Batcher {
    queue: mpsc::Sender<Job>,
}

impl Batcher {
    pub fn start(db: DatabaseConnection) -> Batcher {
        let (queue, jobs) = mpsc::channel(QUEUE_LENGTH);
        tokio::spawn(run(db, jobs));
        Batcher { queue }
    }
}

/// Applies `rule`'s change to the attempt as `change_now` does (its clock copy in the hot store
/// written), in a batch with whatever other starts and submits are waiting on PostgreSQL; on
/// SQLite, whose one writer gains nothing from it, on its own. `queued` is called once the
/// change waits in the batch queue, whose length bounds those waits: the handler gives its
/// admission place back there (`admission::leave`).
pub async fn change(
    engine: &Engine,
    attempt_id: Uuid,
    now: DateTime<Utc>,
    rule: Rule,
    queued: impl FnOnce(),
) -> Result<Applied, ApiError> {
    if engine.db.get_database_backend() == DbBackend::Postgres {
        let (reply, verdict) = oneshot::channel();
        let job = Job {
            attempt_id,
            now,
            rule: rule.clone(),
            reply,
        };
        if engine.batcher.queue.try_send(job).is_ok() {
            // A change handed back to be applied alone (rare: a race, or one that needs the
            // history) goes on after `queued` too.
            queued();
            match verdict.await {
                Ok(Verdict::Applied(applied)) => {
                    let mut applied = *applied;
                    hot_clock::remember(engine.hot.as_ref(), &applied.ctx.attempt).await;
                    if applied.answers.is_none() && applied.ctx.state()?.is_closed() {
                        applied.answers =
                            Some(grading::latest_answers(&engine.db, attempt_id).await?);
                    }
                    return Ok(applied);
                }
                Ok(Verdict::Refused(e)) => return Err(e),
                Ok(Verdict::Alone) | Err(_) => {}
            }
        }
    }
    let ctx = lifecycle::change_now(engine, attempt_id, now, |ctx| rule(ctx)).await?;
    let answers = if ctx.state()?.is_closed() {
        Some(grading::latest_answers(&engine.db, attempt_id).await?)
    } else {
        None
    };
    Ok(Applied { ctx, answers })
}

async fn run(db: DatabaseConnection, mut jobs: mpsc::Receiver<Job>) {
    let in_flight = Arc::new(Semaphore::new(BATCHES_IN_FLIGHT));
    loop {
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let mut batch = Vec::with_capacity(MAX_CHANGES);
        if jobs.recv_many(&mut batch, MAX_CHANGES).await == 0 {
            return;
        }
        let db = db.clone();
        tokio::spawn(async move {
            apply_and_answer(&db, batch).await;
            drop(permit);
        });
    }
}

async fn apply_and_answer(db: &DatabaseConnection, mut batch: Vec<Job>) {
    let started = std::time::Instant::now();
    let size = batch.len();
    if let Err(error) = apply(db, &mut batch).await {
        tracing::warn!(%error, changes = size, "a batch of starts and submits failed: answering 503");
        for job in batch.drain(..) {
            let _ = job.reply.send(Verdict::Refused(ApiError::Unavailable {
                retry_after_secs: 2,
            }));
        }
    }
    metrics::histogram!("hocthi_change_batch_seconds").record(started.elapsed().as_secs_f64());
    metrics::histogram!("hocthi_change_batch_size").record(size as f64);
}

/// Answers every job of `batch` (and drains it) unless a store fails, in which case the jobs
/// not yet answered are left in it.
async fn apply(db: &DatabaseConnection, batch: &mut Vec<Job>) -> Result<(), ApiError> {
    let ids: Vec<Uuid> = batch.iter().map(|j| j.attempt_id).collect();
    let contexts = Context::load_many(db, &ids).await?;
    let mut taken = std::collections::HashSet::new();
    let mut grouped = Vec::new();
    for job in std::mem::take(batch) {
        let Some(ctx) = contexts.get(&job.attempt_id) else {
            let _ = job
                .reply
                .send(Verdict::Refused(ApiError::NotFound("attempt_not_found")));
            continue;
        };
        match (job.rule)(ctx) {
            Err(e) => {
                let _ = job.reply.send(Verdict::Refused(e));
            }
            // One change per attempt and batch: a second one would fail its version check.
            Ok(change)
                if lifecycle::needs_history(ctx, &change) || !taken.insert(ctx.attempt.id) =>
            {
                let _ = job.reply.send(Verdict::Alone);
            }
            Ok(change) => grouped.push((job, change)),
        }
    }
    let (jobs, changes): (Vec<Job>, Vec<Change>) = grouped.into_iter().unzip();
    let applied = match lifecycle::apply_many(
        db,
        jobs.iter()
            .zip(changes)
            .map(|(job, change)| (&contexts[&job.attempt_id], change, job.now))
            .collect(),
    )
    .await
    {
        Ok(applied) => applied,
        Err(e) => {
            batch.extend(jobs);
            return Err(e);
        }
    };
    let closes =
        |a: &attempt::Model| matches!(AttemptState::parse(&a.state), Ok(s) if s.is_closed());
    let closed: Vec<Uuid> = applied
        .iter()
        .flatten()
        .filter(|a| closes(a))
        .map(|a| a.id)
        .collect();
    // The changes are committed: a failure to read the answers leaves them applied, and the
    // handlers read them on their own.
    let mut answers = if closed.is_empty() {
        None
    } else {
        grading::latest_answers_of(db, &closed).await.ok()
    };
    for (job, after) in jobs.into_iter().zip(applied) {
        let verdict = match after {
            None => Verdict::Alone,
            Some(after) => {
                let answers = match &mut answers {
                    Some(all) if closes(&after) => Some(all.remove(&after.id).unwrap_or_default()),
                    _ => None,
                };
                Verdict::Applied(Box::new(Applied {
                    ctx: Context {
                        attempt: after,
                        ..contexts[&job.attempt_id].clone()
                    },
                    answers,
                }))
            }
        };
        let _ = job.reply.send(verdict);
    }
    Ok(())
}
