//! The audit log: append-only and chained with a key. Every capability records its state
//! changes through a `Change`, inside the same transaction as the change itself, so an event
//! exists exactly when its change does. Each event's hash is an HMAC-SHA256, under a key the
//! database does not hold, of the event and the hash before it: someone who can write the
//! database can delete or edit events but cannot recompute the chain. Signed checkpoints in
//! the blob store (`checkpoints`) tell when the tail was cut off.
pub(crate) mod checkpoints;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, ExecResult, QueryFilter, QueryOrder, QueryResult, QuerySelect, Statement,
    TransactionTrait,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use crate::audit_key::AuditKey;
use crate::{entities::audit_event, request::RequestMeta};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// The mark of a keyed hash; events written before the chain had a key have none and are
/// sealed again under the key at start-up (`seal_legacy`).
const KEYED: &str = "k1:";

/// The advisory lock that serialises appends on PostgreSQL (SQLite has one writer anyway).
const CHAIN_LOCK: i64 = 0x0068_6361_7564_6974; // "hcaudit"

pub struct Event<'a> {
    pub actor: Option<Uuid>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: Option<String>,
    pub details: serde_json::Value,
}

impl<'a> Event<'a> {
    /// An event done by `actor` to one target.
    pub fn by(
        actor: Uuid,
        action: &'a str,
        target_type: &'a str,
        target_id: impl ToString,
        details: serde_json::Value,
    ) -> Self {
        Event {
            actor: Some(actor),
            action,
            target_type,
            target_id: Some(target_id.to_string()),
            details,
        }
    }
}

#[derive(Serialize)]
struct Hashed<'a> {
    prev: &'a str,
    at: String,
    actor: Option<Uuid>,
    action: &'a str,
    target_type: &'a str,
    target_id: Option<&'a str>,
    ip: Option<&'a str>,
    request_id: Option<&'a str>,
    details: &'a str,
}

/// The unkeyed hash events had before the chain was keyed; read only to seal them again.
fn legacy_hash_of(row: &Hashed<'_>) -> String {
    // serde_json writes struct fields in declaration order, so this text is stable.
    hex::encode(Sha256::digest(
        serde_json::to_vec(row).expect("plain data serialises"),
    ))
}

/// The keyed hash of one event.
fn seal(key: &AuditKey, row: &Hashed<'_>) -> String {
    let text = serde_json::to_vec(row).expect("plain data serialises");
    format!("{KEYED}{}", key.mac(b"audit-event", &text))
}

fn hashed<'a>(prev: &'a str, m: &'a audit_event::Model) -> Hashed<'a> {
    Hashed {
        prev,
        at: stamp(m.at),
        actor: m.actor_id,
        action: &m.action,
        target_type: &m.target_type,
        target_id: m.target_id.as_deref(),
        ip: m.ip.as_deref(),
        request_id: m.request_id.as_deref(),
        details: &m.details,
    }
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Serialises appends (and the sealing of legacy events) on PostgreSQL.
async fn lock_chain(txn: &DatabaseTransaction) -> Result<(), DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [CHAIN_LOCK.into()],
        ))
        .await?;
    }
    Ok(())
}

/// A change to the record and the audit events saying who made it, in one transaction: it
/// commits only with its event (`commit`), so a change is never written without one, and
/// dropped without committing it rolls back. Queries run on it as on the transaction itself.
pub struct Change(DatabaseTransaction);

impl Change {
    pub async fn begin(db: &DatabaseConnection) -> Result<Self, DbErr> {
        Ok(Self(db.begin().await?))
    }

    /// Records an event of this change before the one `commit` records (a change that does
    /// several things, each its own event).
    pub async fn record(&self, meta: &RequestMeta, event: Event<'_>) -> Result<(), DbErr> {
        record(&self.0, meta, event).await
    }

    /// Drops the change on purpose (a dry run): nothing of it is written.
    pub async fn rollback(self) -> Result<(), DbErr> {
        self.0.rollback().await
    }

    /// Records the change's event and commits both.
    pub async fn commit(self, meta: &RequestMeta, event: Event<'_>) -> Result<(), DbErr> {
        record(&self.0, meta, event).await?;
        self.0.commit().await
    }
}

/// A plain transaction that turned out to make an audited change (a token refresh, routine and
/// unaudited, that finds a replayed token and revokes the session's family).
impl From<DatabaseTransaction> for Change {
    fn from(txn: DatabaseTransaction) -> Self {
        Self(txn)
    }
}

impl std::ops::Deref for Change {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.0
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Change {
    fn get_database_backend(&self) -> DbBackend {
        self.0.get_database_backend()
    }
    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.0.execute_raw(stmt).await
    }
    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.0.execute_unprepared(sql).await
    }
    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.0.query_one_raw(stmt).await
    }
    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.0.query_all_raw(stmt).await
    }
    fn support_returning(&self) -> bool {
        self.0.support_returning()
    }
}

async fn record(
    txn: &DatabaseTransaction,
    meta: &RequestMeta,
    event: Event<'_>,
) -> Result<(), DbErr> {
    lock_chain(txn).await?;
    let prev: String = audit_event::Entity::find()
        .select_only()
        .column(audit_event::Column::Hash)
        .order_by_desc(audit_event::Column::Id)
        .limit(1)
        .into_tuple()
        .one(txn)
        .await?
        .unwrap_or_else(|| GENESIS.to_owned());
    // Stored precision is microseconds on PostgreSQL; hash what will be read back.
    let mut model = audit_event::Model {
        id: 0,
        at: Utc::now().trunc_subsecs(6),
        actor_id: event.actor,
        action: event.action.to_owned(),
        target_type: event.target_type.to_owned(),
        target_id: event.target_id,
        ip: meta.ip.map(|ip| ip.to_string()),
        request_id: meta.request_id.clone(),
        details: event.details.to_string(),
        prev_hash: prev,
        hash: String::new(),
    };
    model.hash = seal(&meta.chain, &hashed(&model.prev_hash, &model));
    audit_event::Entity::insert(audit_event::ActiveModel {
        id: NotSet,
        at: Set(model.at),
        actor_id: Set(model.actor_id),
        action: Set(model.action),
        target_type: Set(model.target_type),
        target_id: Set(model.target_id),
        ip: Set(model.ip),
        request_id: Set(model.request_id),
        details: Set(model.details),
        prev_hash: Set(model.prev_hash),
        hash: Set(model.hash),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChainReport {
    /// The chain is whole and keyed, and it still reaches the latest checkpoint.
    pub valid: bool,
    pub events_checked: u64,
    /// The first event whose hash or link does not match, if any.
    pub first_broken_id: Option<i64>,
    /// The latest signed checkpoint found in the blob store, if any.
    pub checkpoint: Option<checkpoints::CheckpointReport>,
}

/// One event as the walk found it: its hash, and how many events lead to it (itself included).
pub type Found = (String, u64);

/// Walks the whole chain in pages, recomputing every keyed hash. `at` asks for the hash and
/// position of one event on the way (a checkpoint's head).
pub async fn walk_chain(
    db: &impl ConnectionTrait,
    key: &AuditKey,
    at: Option<i64>,
) -> Result<(ChainReport, Option<Found>), DbErr> {
    let mut prev = GENESIS.to_owned();
    let mut after = i64::MIN;
    let mut checked = 0;
    let mut found = None;
    loop {
        let page = audit_event::Entity::find()
            .filter(audit_event::Column::Id.gt(after))
            .order_by_asc(audit_event::Column::Id)
            .limit(1000)
            .all(db)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for row in &page {
            checked += 1;
            if row.prev_hash != prev || seal(key, &hashed(&prev, row)) != row.hash {
                let report = ChainReport {
                    valid: false,
                    events_checked: checked,
                    first_broken_id: Some(row.id),
                    checkpoint: None,
                };
                return Ok((report, found));
            }
            if Some(row.id) == at {
                found = Some((row.hash.clone(), checked));
            }
            prev = row.hash.clone();
        }
    }
    let report = ChainReport {
        valid: true,
        events_checked: checked,
        first_broken_id: None,
        checkpoint: None,
    };
    Ok((report, found))
}

/// Seals, under the key, the events written before the chain had one, provided their unkeyed
/// chain is whole; a broken one is left as it is, for `verify` to report. Runs at start-up
/// and is a no-op once every event is keyed.
pub async fn seal_legacy(db: &sea_orm::DatabaseConnection, key: &AuditKey) -> anyhow::Result<u64> {
    use sea_orm::TransactionTrait;
    // Sealing is all at once and new events are keyed, so unkeyed events are always the oldest:
    // one row tells, without a scan at every start.
    let oldest: Option<String> = audit_event::Entity::find()
        .select_only()
        .column(audit_event::Column::Hash)
        .order_by_asc(audit_event::Column::Id)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    if oldest.is_none_or(|hash| hash.starts_with(KEYED)) {
        return Ok(0);
    }
    let txn = db.begin().await?;
    lock_chain(&txn).await?;
    let rows = audit_event::Entity::find()
        .order_by_asc(audit_event::Column::Id)
        .all(&txn)
        .await?;
    let mut prev = GENESIS.to_owned();
    for row in &rows {
        let whole = row.prev_hash == prev && legacy_hash_of(&hashed(&prev, row)) == row.hash;
        if !whole && !row.hash.starts_with(KEYED) {
            tracing::error!(
                id = row.id,
                "the unkeyed audit chain is broken here; not sealed"
            );
            return Ok(0);
        }
        prev = row.hash.clone();
    }
    let mut prev = GENESIS.to_owned();
    let mut sealed = 0;
    for row in rows {
        let hash = seal(key, &hashed(&prev, &row));
        audit_event::Entity::update_many()
            .col_expr(audit_event::Column::PrevHash, prev.clone().into())
            .col_expr(audit_event::Column::Hash, hash.clone().into())
            .filter(audit_event::Column::Id.eq(row.id))
            .exec(&txn)
            .await?;
        prev = hash;
        sealed += 1;
    }
    let meta = RequestMeta {
        ip: None,
        request_id: None,
        chain: key.clone(),
    };
    let details = serde_json::json!({ "events": sealed });
    let event = Event {
        actor: None,
        action: "audit.chain_keyed",
        target_type: "audit",
        target_id: None,
        details,
    };
    record(&txn, &meta, event).await?;
    txn.commit().await?;
    tracing::info!(events = sealed, "the audit chain is now keyed");
    Ok(sealed)
}
