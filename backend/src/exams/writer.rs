//! The group-commit writer: every autosave of this instance goes through one bounded queue. A
//! task drains whatever is waiting into one transaction (the attempts' rows read `FOR SHARE`,
//! then one multi-row insert per chunk), two such transactions at most in flight, and answers
//! each waiting handler only after its commit. Two batches may hold saves of one attempt: each
//! is keyed by its sequence and the highest wins, whichever commits first.
//! A full queue or a failed commit answers 503 with `Retry-After`; the client keeps its journal
//! and resends, which is safe because a save is keyed by (attempt, slot, client sequence).
//! After each commit the slots written go to the dashboards' bitmaps (`answered`).
use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait, sea_query::OnConflict,
};
use tokio::sync::{Semaphore, mpsc, oneshot};
use uuid::Uuid;

use super::{answered, domain::AttemptState};
use crate::{
    clock::ServerClock,
    entities::{answer_save, attempt},
    error::ApiError,
    stores::hot::SharedHotStore,
};

/// Jobs drained into one transaction at most.
const MAX_JOBS: usize = 4_000;
/// Batches being committed at once: while one waits for PostgreSQL (its locks, its commit's
/// flush, a busy CPU), the next saves go in with the other instead of waiting behind it.
const COMMITS_IN_FLIGHT: usize = 2;
/// Rows per INSERT statement (5 parameters each: far below both databases' limits).
const ROWS_PER_INSERT: usize = 1_000;

pub struct Answer {
    pub slot: i32,
    pub part: u8,
    pub value: Option<String>,
}

pub struct SaveJob {
    pub attempt_id: Uuid,
    pub user_id: Uuid,
    pub device_id: String,
    pub seq: i64,
    pub forward_only: bool,
    pub answers: Vec<Answer>,
}

/// What the candidate is told once the save is durable.
#[derive(Clone, Copy, Debug)]
pub struct Saved {
    pub server_now: DateTime<Utc>,
    pub deadline: Option<DateTime<Utc>>,
}

type Reply = oneshot::Sender<Result<Saved, ApiError>>;

#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<(SaveJob, Reply)>,
}

impl Writer {
    pub fn start(
        db: DatabaseConnection,
        hot: SharedHotStore,
        clock: ServerClock,
        grace: Duration,
        capacity: usize,
    ) -> Writer {
        let (queue, jobs) = mpsc::channel(capacity);
        tokio::spawn(run(db, hot, clock, grace, jobs));
        Writer { queue }
    }

    /// Resolves once the save is committed, or with the reason it was refused.
    pub async fn save(&self, job: SaveJob) -> Result<Saved, ApiError> {
        let (reply, answer) = oneshot::channel();
        if self.queue.try_send((job, reply)).is_err() {
            metrics::counter!("hocthi_saves_refused_total", "reason" => "queue_full").increment(1);
            return Err(ApiError::Unavailable {
                retry_after_secs: 1,
            });
        }
        answer.await.unwrap_or(Err(ApiError::Unavailable {
            retry_after_secs: 1,
        }))
    }
}

async fn run(
    db: DatabaseConnection,
    hot: SharedHotStore,
    clock: ServerClock,
    grace: Duration,
    mut jobs: mpsc::Receiver<(SaveJob, Reply)>,
) {
    let in_flight = Arc::new(Semaphore::new(COMMITS_IN_FLIGHT));
    loop {
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = jobs.recv().await else {
            return;
        };
        let mut batch = Vec::with_capacity(MAX_JOBS);
        batch.push(first);
        while batch.len() < MAX_JOBS {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (db, hot, now) = (db.clone(), hot.clone(), clock.now());
        tokio::spawn(async move {
            commit_and_answer(&db, hot, now, grace, batch).await;
            drop(permit);
        });
    }
}

async fn commit_and_answer(
    db: &DatabaseConnection,
    hot: SharedHotStore,
    now: DateTime<Utc>,
    grace: Duration,
    mut batch: Vec<(SaveJob, Reply)>,
) {
    let started = std::time::Instant::now();
    let verdicts = commit(db, now, grace, &batch).await;
    metrics::histogram!("hocthi_save_batch_seconds").record(started.elapsed().as_secs_f64());
    metrics::histogram!("hocthi_save_batch_jobs").record(batch.len() as f64);
    match verdicts {
        Ok((verdicts, written)) => {
            for ((_, reply), verdict) in batch.drain(..).zip(verdicts) {
                let _ = reply.send(verdict);
            }
            // Off the writer's path: the next batch need not wait for the hot store.
            tokio::spawn(async move { answered::record(hot.as_ref(), &written).await });
        }
        Err(error) => {
            tracing::warn!(%error, jobs = batch.len(), "save batch failed: answering 503");
            for (_, reply) in batch.drain(..) {
                let _ = reply.send(Err(ApiError::Unavailable {
                    retry_after_secs: 2,
                }));
            }
        }
    }
}

/// Checks each job against its attempt as it stands in this transaction and writes the
/// accepted ones; returns each job's verdict and the (attempt, slot) pairs written. A submit
/// takes the attempt's row `FOR UPDATE`, so it waits for a batch that read the row, and a batch
/// after it sees the attempt closed.
async fn commit(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    grace: Duration,
    batch: &[(SaveJob, Reply)],
) -> Result<(Vec<Result<Saved, ApiError>>, HashSet<(Uuid, i32)>), sea_orm::DbErr> {
    let txn = db.begin().await?;
    // Rows are taken in id order, as a batch of starts and submits takes them (`apply_many`),
    // so that neither can hold a row the other waits for while waiting for one it holds.
    let mut ids: Vec<Uuid> = batch
        .iter()
        .map(|(j, _)| j.attempt_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    ids.sort_unstable();
    let mut attempts: HashMap<Uuid, attempt::Model> = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(ROWS_PER_INSERT) {
        for a in attempt::Entity::find()
            .filter(attempt::Column::Id.is_in(chunk.iter().copied()))
            .order_by_asc(attempt::Column::Id)
            .lock_shared()
            .all(&txn)
            .await?
        {
            attempts.insert(a.id, a);
        }
    }
    let mut verdicts = Vec::with_capacity(batch.len());
    let mut rows = Vec::new();
    let mut seen = HashSet::new();
    for (job, _) in batch {
        let verdict = check(job, attempts.get(&job.attempt_id), now, grace);
        if verdict.is_ok() {
            for a in &job.answers {
                if seen.insert((job.attempt_id, a.slot, job.seq)) {
                    rows.push(answer_save::ActiveModel {
                        attempt_id: sea_orm::Set(job.attempt_id),
                        slot: sea_orm::Set(a.slot),
                        seq: sea_orm::Set(job.seq),
                        value: sea_orm::Set(
                            serde_json::to_string(&a.value).expect("a string serialises"),
                        ),
                        saved_at: sea_orm::Set(now),
                    });
                }
            }
        }
        verdicts.push(verdict);
    }
    let written = seen
        .iter()
        .map(|(attempt, slot, _)| (*attempt, *slot))
        .collect();
    while !rows.is_empty() {
        let rest = rows.split_off(rows.len().min(ROWS_PER_INSERT));
        answer_save::Entity::insert_many(std::mem::replace(&mut rows, rest))
            .on_conflict(
                OnConflict::columns([
                    answer_save::Column::AttemptId,
                    answer_save::Column::Slot,
                    answer_save::Column::Seq,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok((verdicts, written))
}

fn check(
    job: &SaveJob,
    attempt: Option<&attempt::Model>,
    now: DateTime<Utc>,
    grace: Duration,
) -> Result<Saved, ApiError> {
    let attempt = attempt
        .filter(|a| a.user_id == job.user_id)
        .ok_or(ApiError::NotFound("attempt_not_found"))?;
    match AttemptState::parse(&attempt.state)? {
        AttemptState::InProgress => {}
        AttemptState::NotStarted => return Err(ApiError::Conflict("attempt_not_started")),
        AttemptState::Paused => return Err(ApiError::Conflict("attempt_paused")),
        _ => return Err(ApiError::Conflict("attempt_closed")),
    }
    if attempt.device_id.as_deref() != Some(job.device_id.as_str()) {
        return Err(ApiError::Conflict("device_not_current"));
    }
    if attempt.deadline.is_none_or(|d| now > d + grace) {
        return Err(ApiError::Conflict("deadline_passed"));
    }
    if job.forward_only
        && job
            .answers
            .iter()
            .any(|a| i32::from(a.part) != attempt.section)
    {
        return Err(ApiError::Conflict("section_closed"));
    }
    Ok(Saved {
        server_now: now,
        deadline: attempt.deadline,
    })
}
