//! Attempt state changes: each one appends an event to the attempt's own hash chain and moves
//! the attempt row on with a version check, in one transaction, so a change and its event
//! exist together or not at all and two racing changes cannot both win. The deadline stored on
//! the row is re-derived from the events every time (`domain::clock`).
//! Over 700 lines: every state change of an attempt, alone, in a batch or by the sweeper, with
//! the SQL that makes each atomic, read together so that the one-transaction rule stays visible.
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, TransactionTrait,
    sea_query::{
        Alias, CommonTableExpression, Expr, Query, UpdateStatement, WithClause, WithQuery,
    },
};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    Engine,
    domain::{self, AttemptState, EventKind, Policy, Tick},
    hot_clock,
};
use crate::{
    audit::GENESIS,
    entities::{attempt, attempt_event, candidate, exam, sitting},
    error::ApiError,
};

/// An attempt with what its rules depend on.
#[derive(Clone, Debug)]
pub struct Context {
    pub attempt: attempt::Model,
    pub sitting: sitting::Model,
    pub exam: exam::Model,
    pub candidate: Option<candidate::Model>,
}

impl Context {
    /// The attempt, its sitting and exam and its candidate in one round trip: every start,
    /// submit and resume comes this way.
    pub async fn load(db: &impl ConnectionTrait, attempt_id: Uuid) -> Result<Context, ApiError> {
        let (attempt, sitting, exam, candidate) = attempt::Entity::find_by_id(attempt_id)
            .find_also_related(sitting::Entity)
            .and_also_related(exam::Entity)
            .find_also(attempt::Entity, candidate::Entity)
            .one(db)
            .await?
            .ok_or(ApiError::NotFound("attempt_not_found"))?;
        Ok(Context {
            attempt,
            sitting: sitting.ok_or(ApiError::NotFound("sitting_not_found"))?,
            exam: exam.ok_or(ApiError::NotFound("exam_not_found"))?,
            candidate,
        })
    }

    /// `load` for several attempts in one round trip; attempts not found are absent.
    pub async fn load_many(
        db: &impl ConnectionTrait,
        ids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, Context>, ApiError> {
        let rows = attempt::Entity::find()
            .filter(attempt::Column::Id.is_in(ids.iter().copied()))
            .find_also_related(sitting::Entity)
            .and_also_related(exam::Entity)
            .find_also(attempt::Entity, candidate::Entity)
            .all(db)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(attempt, sitting, exam, candidate)| {
                Some((
                    attempt.id,
                    Context {
                        attempt,
                        sitting: sitting?,
                        exam: exam?,
                        candidate,
                    },
                ))
            })
            .collect())
    }

    pub async fn around(
        db: &impl ConnectionTrait,
        attempt: attempt::Model,
    ) -> Result<Context, ApiError> {
        // The sitting and its exam in one round trip: every start and submit comes this way.
        let (sitting, exam) = sitting::Entity::find_by_id(attempt.sitting_id)
            .find_also_related(exam::Entity)
            .one(db)
            .await?
            .ok_or(ApiError::NotFound("sitting_not_found"))?;
        let exam = exam.ok_or(ApiError::NotFound("exam_not_found"))?;
        let candidate = match attempt.candidate_id {
            Some(id) => candidate::Entity::find_by_id(id).one(db).await?,
            None => None,
        };
        Ok(Context {
            attempt,
            sitting,
            exam,
            candidate,
        })
    }

    pub fn policy(&self) -> Result<Policy, ApiError> {
        serde_json::from_str(&self.exam.policy).map_err(|e| ApiError::Unexpected(e.into()))
    }

    /// The sitting's time plus the candidate's accommodation.
    pub fn allowed(&self) -> Duration {
        Duration::minutes(i64::from(
            self.sitting.minutes + self.candidate.as_ref().map_or(0, |c| c.extra_minutes),
        ))
    }

    pub fn state(&self) -> Result<AttemptState, ApiError> {
        AttemptState::parse(&self.attempt.state)
    }
}

/// One change to an attempt: the event to record and what it does to the row.
pub struct Change {
    pub kind: EventKind,
    pub seconds: i32,
    pub actor: Option<Uuid>,
    pub details: serde_json::Value,
    pub state: Option<AttemptState>,
    pub edit: fn(&mut attempt::Model, &serde_json::Value),
}

impl Change {
    pub fn new(kind: EventKind, actor: Option<Uuid>, details: serde_json::Value) -> Self {
        Change {
            kind,
            seconds: 0,
            actor,
            details,
            state: None,
            edit: |_, _| {},
        }
    }

    pub fn to(mut self, state: AttemptState) -> Self {
        self.state = Some(state);
        self
    }

    pub fn seconds(mut self, seconds: i32) -> Self {
        self.seconds = seconds;
        self
    }

    pub fn edit(mut self, edit: fn(&mut attempt::Model, &serde_json::Value)) -> Self {
        self.edit = edit;
        self
    }
}

#[derive(Serialize)]
struct Hashed<'a> {
    prev: &'a str,
    attempt: Uuid,
    seq: i32,
    at: String,
    kind: &'a str,
    seconds: i32,
    actor: Option<Uuid>,
    details: &'a str,
}

fn hash_event(prev: &str, e: &attempt_event::Model) -> String {
    let row = Hashed {
        prev,
        attempt: e.attempt_id,
        seq: e.seq,
        at: e.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        kind: &e.kind,
        seconds: e.seconds,
        actor: e.actor_id,
        details: &e.details,
    };
    hex::encode(Sha256::digest(
        serde_json::to_vec(&row).expect("plain data"),
    ))
}

pub async fn events(
    db: &impl ConnectionTrait,
    attempt_id: Uuid,
) -> Result<Vec<attempt_event::Model>, ApiError> {
    Ok(attempt_event::Entity::find()
        .filter(attempt_event::Column::AttemptId.eq(attempt_id))
        .order_by_asc(attempt_event::Column::Seq)
        .all(db)
        .await?)
}

/// The events a row was derived from: those up to its `event_count` (a change racing this one
/// may have added more; its version check then fails).
async fn history(
    db: &impl ConnectionTrait,
    row: &attempt::Model,
) -> Result<Vec<attempt_event::Model>, ApiError> {
    Ok(attempt_event::Entity::find()
        .filter(attempt_event::Column::AttemptId.eq(row.id))
        .filter(attempt_event::Column::Seq.lte(row.event_count))
        .order_by_asc(attempt_event::Column::Seq)
        .all(db)
        .await?)
}

pub fn ticks(events: &[attempt_event::Model]) -> Vec<Tick> {
    events
        .iter()
        .filter_map(|e| {
            EventKind::parse(&e.kind).map(|kind| Tick {
                at: e.at,
                kind,
                seconds: e.seconds,
            })
        })
        .collect()
}

/// Applies `change`: the row moves on under its version check and the event is appended, both
/// or neither. On PostgreSQL that is one statement, atomic on its own, so `conn` may be the pool;
/// on SQLite it is two, and `conn` must be a transaction. Fails with `attempt_changed` when
/// another change won the race.
pub async fn apply(
    conn: &impl ConnectionTrait,
    ctx: &Context,
    change: Change,
    now: DateTime<Utc>,
) -> Result<attempt::Model, ApiError> {
    let before = &ctx.attempt;
    // A closed attempt's clock stands as the row has it (its deadline is kept), so closing (a
    // submit, the sweep) reads no history; a start has none to read.
    let history = if needs_history(ctx, &change) {
        history(conn, before).await?
    } else {
        Vec::new()
    };
    let (after, event) = prepare(ctx, change, history, now)?;
    let written = match conn.get_database_backend() {
        DbBackend::Postgres => {
            conn.execute(&moved_with_event(before, &after, event))
                .await?
        }
        _ => {
            let moved = conn.execute(&moved(before, &after)).await?;
            if moved.rows_affected() != 1 {
                return Err(ApiError::Conflict("attempt_changed"));
            }
            let event: attempt_event::ActiveModel = event.into();
            conn.execute(&attempt_event::Entity::insert(event.reset_all()).into_query())
                .await?
        }
    };
    if written.rows_affected() != 1 {
        return Err(ApiError::Conflict("attempt_changed"));
    }
    Ok(after)
}

/// Whether the change's clock must be derived from the attempt's earlier events: not when it
/// closes the attempt (the deadline stands) nor when there are none (a first start).
pub fn needs_history(ctx: &Context, change: &Change) -> bool {
    // A state that does not read is not taken as closed: the change then goes the long way,
    // which refuses it.
    let closes = match change.state {
        Some(state) => state.is_closed(),
        None => ctx.state().is_ok_and(AttemptState::is_closed),
    };
    !closes && ctx.attempt.event_count > 0
}

/// The row after `change` and the event recording it, given the events before it.
fn prepare(
    ctx: &Context,
    change: Change,
    mut history: Vec<attempt_event::Model>,
    now: DateTime<Utc>,
) -> Result<(attempt::Model, attempt_event::Model), ApiError> {
    let before = &ctx.attempt;
    let mut after = before.clone();
    if let Some(state) = change.state {
        after.state = state.as_str().to_owned();
    }
    (change.edit)(&mut after, &change.details);
    let closed = AttemptState::parse(&after.state)?.is_closed();
    let event = {
        let mut e = attempt_event::Model {
            attempt_id: before.id,
            seq: before.event_count + 1,
            at: now,
            kind: change.kind.as_str().to_owned(),
            seconds: change.seconds,
            actor_id: change.actor,
            details: change.details.to_string(),
            prev_hash: before.last_hash.clone(),
            hash: String::new(),
        };
        e.hash = hash_event(&e.prev_hash, &e);
        e
    };
    if !closed {
        history.push(event.clone());
        let clock = domain::clock(ctx.allowed(), &ticks(&history), now);
        after.started_at = clock.started_at;
        after.paused_at = clock.paused_at;
        after.deadline = clock.deadline;
    }
    if closed && after.submitted_at.is_none() {
        // An attempt submitted by the sweeper ended at its deadline, not when it was swept.
        after.submitted_at = Some(match change.kind {
            EventKind::AutoSubmitted => before.deadline.unwrap_or(now).min(now),
            _ => now,
        });
    }
    after.version = before.version + 1;
    after.event_count = event.seq;
    after.last_hash = event.hash.clone();
    Ok((after, event))
}

/// `apply` for many attempts at once, on PostgreSQL, for changes that need no history
/// (`needs_history` false): one transaction locks the rows in id order, moves every row still
/// at its read version and appends its event in one statement. Returns, per change, the
/// attempt as changed, or `None` where another change won the race.
///
/// Rows are locked in id order because the group-commit writer takes its rows `FOR SHARE` in
/// the same order: two transactions that each hold some of the other's rows cannot happen.
pub async fn apply_many(
    db: &DatabaseConnection,
    mut changes: Vec<(&Context, Change, DateTime<Utc>)>,
) -> Result<Vec<Option<attempt::Model>>, ApiError> {
    // One change alone (a quiet moment) is one statement without a transaction.
    if changes.len() <= 1 {
        let Some((ctx, change, now)) = changes.pop() else {
            return Ok(Vec::new());
        };
        return match apply(db, ctx, change, now).await {
            Ok(after) => Ok(vec![Some(after)]),
            Err(ApiError::Conflict("attempt_changed")) => Ok(vec![None]),
            Err(e) => Err(e),
        };
    }
    let prepared: Vec<(&attempt::Model, attempt::Model, attempt_event::Model)> = changes
        .into_iter()
        .map(|(ctx, change, now)| {
            debug_assert!(!needs_history(ctx, &change));
            let (after, event) = prepare(ctx, change, Vec::new(), now)?;
            Ok((&ctx.attempt, after, event))
        })
        .collect::<Result<_, ApiError>>()?;
    let mut ids: Vec<Uuid> = prepared.iter().map(|(before, ..)| before.id).collect();
    ids.sort_unstable();
    let txn = db.begin().await?;
    attempt::Entity::find()
        .select_only()
        .column(attempt::Column::Id)
        .filter(attempt::Column::Id.is_in(ids))
        .order_by_asc(attempt::Column::Id)
        .lock_exclusive()
        .into_tuple::<Uuid>()
        .all(&txn)
        .await?;
    let moved: std::collections::HashSet<Uuid> = txn
        .query_all_raw(moved_many_with_events(&prepared))
        .await?
        .iter()
        .map(|row| row.try_get::<Uuid>("", "attempt_id"))
        .collect::<Result<_, _>>()?;
    txn.commit().await?;
    Ok(prepared
        .into_iter()
        .map(|(before, after, _)| moved.contains(&before.id).then_some(after))
        .collect())
}

/// Every row of `prepared` moved from its `before` to its `after` if still at `before`'s
/// version, and the moved rows' events inserted; returns the ids of the attempts moved. The
/// first row of each VALUES list carries the types, the way PostgreSQL reads them.
fn moved_many_with_events(
    prepared: &[(&attempt::Model, attempt::Model, attempt_event::Model)],
) -> sea_orm::Statement {
    use sea_orm::Value;
    let mut values: Vec<Value> = Vec::new();
    let row = |first: bool, cells: Vec<(Value, &str)>, values: &mut Vec<Value>| {
        let cells: Vec<String> = cells
            .into_iter()
            .map(|(value, ty)| {
                values.push(value);
                if first {
                    format!("${}::{ty}", values.len())
                } else {
                    format!("${}", values.len())
                }
            })
            .collect();
        format!("({})", cells.join(", "))
    };
    let rows: Vec<String> = prepared
        .iter()
        .enumerate()
        .map(|(i, (before, after, _))| {
            row(
                i == 0,
                vec![
                    (before.id.into(), "uuid"),
                    (before.version.into(), "int4"),
                    (after.state.clone().into(), "text"),
                    (after.started_at.into(), "timestamptz"),
                    (after.deadline.into(), "timestamptz"),
                    (after.paused_at.into(), "timestamptz"),
                    (after.section.into(), "int4"),
                    (after.device_id.clone().into(), "text"),
                    (after.pending_device.clone().into(), "text"),
                    (after.submitted_at.into(), "timestamptz"),
                    (after.version.into(), "int4"),
                    (after.event_count.into(), "int4"),
                    (after.last_hash.clone().into(), "text"),
                ],
                &mut values,
            )
        })
        .collect();
    let events: Vec<String> = prepared
        .iter()
        .enumerate()
        .map(|(i, (_, _, e))| {
            row(
                i == 0,
                vec![
                    (e.attempt_id.into(), "uuid"),
                    (e.seq.into(), "int4"),
                    (e.at.into(), "timestamptz"),
                    (e.kind.clone().into(), "text"),
                    (e.seconds.into(), "int4"),
                    (e.actor_id.into(), "uuid"),
                    (e.details.clone().into(), "text"),
                    (e.prev_hash.clone().into(), "text"),
                    (e.hash.clone().into(), "text"),
                ],
                &mut values,
            )
        })
        .collect();
    let sql = format!(
        "WITH v (id, version, state, started_at, deadline, paused_at, section, device_id, \
         pending_device, submitted_at, new_version, event_count, last_hash) AS (VALUES {rows}), \
         moved AS (UPDATE attempts a SET state = v.state, started_at = v.started_at, \
         deadline = v.deadline, paused_at = v.paused_at, section = v.section, \
         device_id = v.device_id, pending_device = v.pending_device, \
         submitted_at = v.submitted_at, version = v.new_version, event_count = v.event_count, \
         last_hash = v.last_hash FROM v WHERE a.id = v.id AND a.version = v.version \
         RETURNING a.id), \
         e (attempt_id, seq, at, kind, seconds, actor_id, details, prev_hash, hash) AS \
         (VALUES {events}) \
         INSERT INTO attempt_events (attempt_id, seq, at, kind, seconds, actor_id, details, \
         prev_hash, hash) SELECT e.* FROM e JOIN moved ON moved.id = e.attempt_id \
         RETURNING attempt_id",
        rows = rows.join(", "),
        events = events.join(", "),
    );
    sea_orm::Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// The attempt's lifecycle columns moved from `before` to `after`, if the row is still at
/// `before`'s version. The score and incidents are left to grading.
fn moved(before: &attempt::Model, after: &attempt::Model) -> UpdateStatement {
    use attempt::Column as C;
    use sea_orm::sea_query::ExprTrait as _;
    Query::update()
        .table(attempt::Entity)
        .values([
            (C::State, after.state.clone().into()),
            (C::StartedAt, after.started_at.into()),
            (C::Deadline, after.deadline.into()),
            (C::PausedAt, after.paused_at.into()),
            (C::Section, after.section.into()),
            (C::DeviceId, after.device_id.clone().into()),
            (C::PendingDevice, after.pending_device.clone().into()),
            (C::SubmittedAt, after.submitted_at.into()),
            (C::Version, after.version.into()),
            (C::EventCount, after.event_count.into()),
            (C::LastHash, after.last_hash.clone().into()),
        ])
        .and_where(Expr::col(C::Id).eq(before.id))
        .and_where(Expr::col(C::Version).eq(before.version))
        .to_owned()
}

/// `moved` and the event's insert as one PostgreSQL statement: the insert reads the updated
/// row, so it writes one event exactly when the version check passed (one round trip instead of
/// four with BEGIN and COMMIT).
fn moved_with_event(
    before: &attempt::Model,
    after: &attempt::Model,
    event: attempt_event::Model,
) -> WithQuery {
    use attempt_event::Column as E;
    let update = moved(before, after)
        .returning_col(attempt::Column::Id)
        .to_owned();
    let row = Query::select()
        .column(attempt::Column::Id)
        .exprs([
            Expr::val(event.seq),
            Expr::val(event.at),
            Expr::val(event.kind),
            Expr::val(event.seconds),
            Expr::val(event.actor_id),
            Expr::val(event.details),
            Expr::val(event.prev_hash),
            Expr::val(event.hash),
        ])
        .from(Alias::new("moved"))
        .to_owned();
    let insert = Query::insert()
        .into_table(attempt_event::Entity)
        .columns([
            E::AttemptId,
            E::Seq,
            E::At,
            E::Kind,
            E::Seconds,
            E::ActorId,
            E::Details,
            E::PrevHash,
            E::Hash,
        ])
        .select_from(row)
        .expect("as many values as columns")
        .to_owned();
    insert.with(
        WithClause::new()
            .cte(
                CommonTableExpression::new()
                    .query(update)
                    .table_name(Alias::new("moved"))
                    .to_owned(),
            )
            .to_owned(),
    )
}

/// Loads, applies and commits one change, retrying a lost race a few times: proctor actions
/// and the candidate's own requests may meet on one attempt. Returns the attempt as changed,
/// its clock copy in the hot store already written.
///
/// The read is outside any transaction: the version check is what makes the change safe (as it
/// was under PostgreSQL's read committed), and the write is then one statement on PostgreSQL.
pub async fn change_now(
    engine: &Engine,
    attempt_id: Uuid,
    now: DateTime<Utc>,
    mut build: impl FnMut(&Context) -> Result<Change, ApiError>,
) -> Result<Context, ApiError> {
    let mut tries = 0;
    loop {
        let ctx = Context::load(&engine.db, attempt_id).await?;
        let change = build(&ctx)?;
        let applied = match engine.db.get_database_backend() {
            DbBackend::Postgres => apply(&engine.db, &ctx, change, now).await,
            _ => {
                let txn = engine.db.begin().await?;
                match apply(&txn, &ctx, change, now).await {
                    Ok(after) => {
                        txn.commit().await?;
                        Ok(after)
                    }
                    Err(e) => {
                        txn.rollback().await?;
                        Err(e)
                    }
                }
            }
        };
        match applied {
            Ok(after) => {
                hot_clock::remember(engine.hot.as_ref(), &after).await;
                return Ok(Context {
                    attempt: after,
                    ..ctx
                });
            }
            Err(ApiError::Conflict("attempt_changed")) if tries < 3 => tries += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Checks one attempt's event chain, link by link.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainCheck {
    pub valid: bool,
    pub events: usize,
    pub first_broken_seq: Option<i32>,
}

pub fn verify(attempt: &attempt::Model, events: &[attempt_event::Model]) -> ChainCheck {
    let mut prev = GENESIS.to_owned();
    for e in events {
        if e.prev_hash != prev || hash_event(&prev, e) != e.hash {
            return ChainCheck {
                valid: false,
                events: events.len(),
                first_broken_seq: Some(e.seq),
            };
        }
        prev = e.hash.clone();
    }
    let valid = prev == attempt.last_hash && events.len() as i32 == attempt.event_count;
    ChainCheck {
        valid,
        events: events.len(),
        first_broken_seq: (!valid).then_some(events.len() as i32 + 1),
    }
}

/// A new attempt row, not started, at the head of an empty chain.
pub fn new_attempt(
    sitting: &sitting::Model,
    candidate: Option<&candidate::Model>,
    user_id: Uuid,
    code: String,
    number: i32,
) -> attempt::Model {
    attempt::Model {
        id: Uuid::now_v7(),
        sitting_id: sitting.id,
        candidate_id: candidate.map(|c| c.id),
        user_id,
        room_id: candidate.and_then(|c| c.room_id),
        paper_id: sitting.paper_id,
        code,
        number,
        state: AttemptState::NotStarted.as_str().to_owned(),
        started_at: None,
        deadline: None,
        paused_at: None,
        section: 1,
        device_id: None,
        pending_device: None,
        submitted_at: None,
        score: None,
        graded_at: None,
        incidents: "{}".to_owned(),
        version: 0,
        event_count: 0,
        last_hash: GENESIS.to_owned(),
    }
}

/// Submits every attempt whose deadline plus the grace has passed. Each is moved with the
/// version check, so any number of instances sweeping at once submit each attempt exactly once;
/// on PostgreSQL `SKIP LOCKED` also keeps them from queueing on the same rows. Returns the
/// attempts it submitted, as submitted.
pub async fn sweep(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    grace: Duration,
) -> Result<Vec<Context>, ApiError> {
    let due: Vec<Uuid> = attempt::Entity::find()
        .select_only()
        .column(attempt::Column::Id)
        .filter(attempt::Column::State.eq(AttemptState::InProgress.as_str()))
        .filter(attempt::Column::Deadline.lt(now - grace))
        .limit(500)
        .into_tuple()
        .all(db)
        .await?;
    let mut submitted = Vec::new();
    for id in due {
        let txn = db.begin().await?;
        let mut query = attempt::Entity::find_by_id(id);
        if db.get_database_backend() == sea_orm::DbBackend::Postgres {
            // Another instance holding this row is submitting it: leave it to them.
            query = query.lock_with_behavior(
                sea_orm::sea_query::LockType::Update,
                sea_orm::sea_query::LockBehavior::SkipLocked,
            );
        } else {
            // SQLite has no row locks: take the write lock first, as BEGIN IMMEDIATE would, so
            // a second process waits instead of failing on a stale snapshot.
            attempt::Entity::update_many()
                .col_expr(
                    attempt::Column::Version,
                    sea_orm::sea_query::Expr::col(attempt::Column::Version),
                )
                .filter(attempt::Column::Id.eq(id))
                .exec(&txn)
                .await?;
        }
        let Some(attempt) = query.one(&txn).await? else {
            continue;
        };
        let ctx = Context::around(&txn, attempt).await?;
        if ctx.state()? != AttemptState::InProgress
            || ctx.attempt.deadline.is_none_or(|d| d >= now - grace)
        {
            continue;
        }
        let change = Change::new(
            EventKind::AutoSubmitted,
            None,
            json!({ "reason": "deadline" }),
        )
        .to(AttemptState::AutoSubmitted);
        match apply(&txn, &ctx, change, now).await {
            Ok(after) => {
                txn.commit().await?;
                submitted.push(Context {
                    attempt: after,
                    ..ctx
                });
            }
            Err(ApiError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(submitted)
}

const CLOCK_ROW: i32 = 1;

/// Gives back time lost while no instance was serving. Every sweep stamps a shared row; a gap
/// between stamps longer than `threshold` means the service was down for everyone, and every
/// running attempt is credited with the gap (by exactly one instance: the stamp moves on with a
/// compare-and-set). Returns the attempts credited, as changed.
pub async fn credit_outage(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    threshold: Duration,
) -> Result<Vec<attempt::Model>, ApiError> {
    use crate::entities::service_clock;
    // Outages are measured on the wall clock: a clock moved forward for a drill is not one.
    let wall = Utc::now();
    let row = service_clock::Entity::find_by_id(CLOCK_ROW).one(db).await?;
    let Some(row) = row else {
        let _ = service_clock::Entity::insert(service_clock::ActiveModel {
            id: sea_orm::Set(CLOCK_ROW),
            last_seen: sea_orm::Set(wall),
        })
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await?;
        return Ok(Vec::new());
    };
    if wall <= row.last_seen {
        return Ok(Vec::new());
    }
    let txn = db.begin().await?;
    let moved = service_clock::Entity::update_many()
        .col_expr(
            service_clock::Column::LastSeen,
            sea_orm::sea_query::Expr::value(wall),
        )
        .filter(service_clock::Column::Id.eq(CLOCK_ROW))
        .filter(service_clock::Column::LastSeen.eq(row.last_seen))
        .exec(&txn)
        .await?;
    if moved.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(Vec::new());
    }
    let gap = wall - row.last_seen;
    if gap <= threshold {
        txn.commit().await?;
        return Ok(Vec::new());
    }
    let running: Vec<attempt::Model> = attempt::Entity::find()
        .filter(attempt::Column::State.eq(AttemptState::InProgress.as_str()))
        .filter(attempt::Column::Deadline.gt(now - gap))
        .all(&txn)
        .await?;
    let seconds = gap.num_seconds().min(i64::from(i32::MAX)) as i32;
    let mut credited = Vec::with_capacity(running.len());
    for attempt in running {
        let ctx = Context::around(&txn, attempt).await?;
        let change = Change::new(
            EventKind::OutageCredit,
            None,
            json!({ "from": row.last_seen, "to": wall }),
        )
        .seconds(seconds);
        credited.push(apply(&txn, &ctx, change, now).await?);
    }
    txn.commit().await?;
    tracing::warn!(
        seconds,
        attempts = credited.len(),
        "service outage detected: running attempts credited"
    );
    Ok(credited)
}
