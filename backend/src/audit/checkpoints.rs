//! Signed checkpoints of the audit chain, kept outside the database: in the blob store, one
//! object per head, never rewritten (on S3 with Object Lock, a bucket retention makes them
//! write-once). A keyed chain shows an edit or a deletion in the middle; only a checkpoint shows
//! that events were cut from the end, since the shorter chain is whole.
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{AuditKey, ChainReport, walk_chain};
use crate::{entities::audit_event, error::ApiError, state::AppState};

pub const FOLDER: &str = "audit/checkpoints";

/// The chain's head at one moment: its last event, its hash, and how many events lead to it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Checkpoint {
    pub head_id: i64,
    pub head_hash: String,
    pub events: u64,
    pub at: DateTime<Utc>,
    /// HMAC-SHA256 of the fields above under the audit key.
    pub signature: String,
}

impl Checkpoint {
    fn signed_text(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.head_id,
            self.head_hash,
            self.events,
            self.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        )
    }

    fn sign(mut self, key: &AuditKey) -> Self {
        self.signature = key.mac(b"audit-checkpoint", self.signed_text().as_bytes());
        self
    }

    fn signature_holds(&self, key: &AuditKey) -> bool {
        key.mac(b"audit-checkpoint", self.signed_text().as_bytes()) == self.signature
    }
}

/// Zero-padded, so that the blob store's byte order is the chain's order.
fn blob_key(head_id: i64) -> String {
    format!("{FOLDER}/{head_id:019}.json")
}

/// What `verify` found of the latest checkpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointReport {
    pub head_id: i64,
    pub events: u64,
    pub at: DateTime<Utc>,
    /// Why the checkpoint and the chain disagree: `checkpoint_signature` (it was not written
    /// under this key), `events_missing` (its head event is gone: the tail was cut) or
    /// `checkpoint_mismatch` (its head has another hash or position).
    pub problem: Option<&'static str>,
}

/// Writes a checkpoint of the current head unless one exists; returns the head's checkpoint.
pub async fn write(state: &AppState) -> anyhow::Result<Option<Checkpoint>> {
    let head: Option<(i64, String)> = audit_event::Entity::find()
        .select_only()
        .column(audit_event::Column::Id)
        .column(audit_event::Column::Hash)
        .order_by_desc(audit_event::Column::Id)
        .limit(1)
        .into_tuple()
        .one(&state.db)
        .await?;
    let Some((head_id, head_hash)) = head else {
        return Ok(None);
    };
    let key = blob_key(head_id);
    if let Some(existing) = state.blobs.get(&key).await? {
        return Ok(Some(serde_json::from_slice(&existing)?));
    }
    let events = audit_event::Entity::find()
        .filter(audit_event::Column::Id.lte(head_id))
        .count(&state.db)
        .await?;
    let checkpoint = Checkpoint {
        head_id,
        head_hash,
        events,
        at: Utc::now().trunc_subsecs(6),
        signature: String::new(),
    }
    .sign(&state.audit_key);
    state
        .blobs
        .put(
            &key,
            serde_json::to_vec(&checkpoint)?.into(),
            "application/json",
        )
        .await?;
    Ok(Some(checkpoint))
}

/// The latest checkpoint in the blob store; an unreadable one counts as forged.
async fn latest(state: &AppState) -> anyhow::Result<Option<Result<Checkpoint, ()>>> {
    let Some(key) = state.blobs.list(FOLDER).await?.pop() else {
        return Ok(None);
    };
    let Some(bytes) = state.blobs.get(&key).await? else {
        return Ok(None);
    };
    Ok(Some(serde_json::from_slice(&bytes).map_err(|_| ())))
}

/// Walks the chain under the key and holds it against the latest checkpoint.
pub async fn verify(state: &AppState) -> Result<ChainReport, ApiError> {
    let unavailable = |e: anyhow::Error| {
        tracing::warn!(error = %e, "audit checkpoints unreadable");
        ApiError::Unavailable {
            retry_after_secs: 5,
        }
    };
    let checkpoint = latest(state).await.map_err(unavailable)?;
    let head = checkpoint
        .as_ref()
        .and_then(|c| c.as_ref().ok().map(|c| c.head_id));
    let (mut report, found) = walk_chain(&state.db, &state.audit_key, head).await?;
    let Some(checkpoint) = checkpoint else {
        return Ok(report);
    };
    let checkpoint =
        match checkpoint {
            Ok(c) if c.signature_holds(&state.audit_key) => c,
            forged => {
                // Unreadable, or not written under this key.
                let (head_id, events, at) = forged
                    .map(|c| (c.head_id, c.events, c.at))
                    .unwrap_or((0, 0, DateTime::<Utc>::MIN_UTC));
                report.valid = false;
                report.checkpoint = Some(CheckpointReport {
                    head_id,
                    events,
                    at,
                    problem: Some("checkpoint_signature"),
                });
                return Ok(report);
            }
        };
    // A chain broken earlier is reported as such; otherwise the checkpoint's head must be in it.
    let problem = match found {
        _ if !report.valid => None,
        None => Some("events_missing"),
        Some((hash, position)) if hash != checkpoint.head_hash || position != checkpoint.events => {
            Some("checkpoint_mismatch")
        }
        Some(_) => None,
    };
    report.valid &= problem.is_none();
    report.checkpoint = Some(CheckpointReport {
        head_id: checkpoint.head_id,
        events: checkpoint.events,
        at: checkpoint.at,
        problem,
    });
    Ok(report)
}
