//! A copy of each attempt's state and deadline in the hot store, so that a heartbeat (every
//! 30 s per candidate, the commonest request of a sitting) and a paper fetch answer without
//! reading the attempt row. Every committed change writes the copy under the row's version, and
//! a newer version always wins: copies written out of order, or by a reader that read the row
//! before a change, never replace a newer one. A miss reads the row and fills the copy.
//!
//! The row stays the authority: saves, submits and every change read it. If writing the copy
//! fails after a commit (the hot store unreachable but not restarted), the copy can be stale
//! until it expires, which only delays what a heartbeat shows.
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Engine, domain::AttemptState, hot_keys};
use crate::{
    entities::attempt,
    error::ApiError,
    stores::hot::{HotStore, split_version},
};

/// Long enough that a candidate's heartbeats mostly hit (20 of them per expiry), short enough
/// to bound how long a copy left stale by a failed write can mislead.
const TTL: Duration = Duration::from_secs(600);

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HotClock {
    pub state: AttemptState,
    pub deadline: Option<DateTime<Utc>>,
}

impl TryFrom<&attempt::Model> for HotClock {
    type Error = ApiError;

    fn try_from(row: &attempt::Model) -> Result<Self, ApiError> {
        Ok(HotClock {
            state: AttemptState::parse(&row.state)?,
            deadline: row.deadline,
        })
    }
}

/// Writes the copy of a row just committed (or just read).
pub async fn remember(hot: &dyn HotStore, row: &attempt::Model) {
    let Ok(clock) = HotClock::try_from(row) else {
        return; // heartbeats read the row instead, and fail on it there
    };
    let body = serde_json::to_vec(&clock).expect("plain data");
    if let Err(e) = hot
        .set_if_newer(&hot_keys::clock(row.id), i64::from(row.version), &body, TTL)
        .await
    {
        tracing::debug!(error = ?e, id = %row.id, "could not write an attempt's clock copy");
    }
}

/// The attempt's state and deadline: the copy, or the row when there is none (or the hot store
/// does not answer).
pub async fn read(engine: &Engine, id: Uuid) -> Result<HotClock, ApiError> {
    match engine.hot.get(&hot_keys::clock(id)).await {
        Ok(Some(stored)) => match parse(&stored) {
            Some(copy) => Ok(copy),
            None => read_row(engine, id).await,
        },
        _ => read_row(engine, id).await,
    }
}

/// A copy as the hot store holds it (`key`'s value, read directly or in a batch).
pub fn parse(stored: &[u8]) -> Option<HotClock> {
    serde_json::from_slice(split_version(stored)?.1).ok()
}

/// The clock from the attempt's row, which then fills the copy: a miss.
pub async fn read_row(engine: &Engine, id: Uuid) -> Result<HotClock, ApiError> {
    let row = attempt::Entity::find_by_id(id)
        .one(&engine.db)
        .await?
        .ok_or(ApiError::NotFound("attempt_not_found"))?;
    remember(engine.hot.as_ref(), &row).await;
    HotClock::try_from(&row)
}
