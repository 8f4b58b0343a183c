//! The audit log: append-only and hash-chained. Every capability records its state changes
//! through `record`, inside the same transaction as the change itself, so an event exists
//! exactly when its change does.
pub mod routes;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use routes::configure;

use crate::{entities::audit_event, request::RequestMeta};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
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

fn hash_of(row: &Hashed<'_>) -> String {
    // serde_json writes struct fields in declaration order, so this text is stable.
    hex::encode(Sha256::digest(
        serde_json::to_vec(row).expect("plain data serialises"),
    ))
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

pub async fn record(
    txn: &DatabaseTransaction,
    meta: &RequestMeta,
    event: Event<'_>,
) -> Result<(), DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [CHAIN_LOCK.into()],
        ))
        .await?;
    }
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
    model.hash = hash_of(&hashed(&model.prev_hash, &model));
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
    pub valid: bool,
    pub events_checked: u64,
    /// The first event whose hash or link does not match, if any.
    pub first_broken_id: Option<i64>,
}

/// Walks the whole chain in pages, recomputing every hash.
pub async fn verify_chain(db: &impl ConnectionTrait) -> Result<ChainReport, DbErr> {
    let mut prev = GENESIS.to_owned();
    let mut after = i64::MIN;
    let mut checked = 0;
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
            if row.prev_hash != prev || hash_of(&hashed(&prev, row)) != row.hash {
                return Ok(ChainReport {
                    valid: false,
                    events_checked: checked,
                    first_broken_id: Some(row.id),
                });
            }
            prev = row.hash.clone();
        }
    }
    Ok(ChainReport {
        valid: true,
        events_checked: checked,
        first_broken_id: None,
    })
}
