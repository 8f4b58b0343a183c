//! Which questions each attempt has saved an answer for, as the proctors' dashboards show it: a
//! bitmap per attempt in the hot store (bit `slot + 1` for each slot), so that a room's snapshot,
//! asked for every few seconds by every room, reads no saves. The group-commit writer sets the
//! bits of what it committed; bit 0 says the bitmap is complete, and only a rebuild from the
//! saves sets it. A bitmap without it (new, expired, lost with a Redis restart, or begun by a
//! writer after one of those) is counted from the database once and written back complete.
//!
//! Bits are only ever added and the writer adds them after its commit, so a rebuild racing a
//! writer loses nothing: a save committed before the rebuild's read is in the read, one after it
//! sets its own bit. A bit the writer failed to set (the hot store unreachable for a moment)
//! shows one question too few until the bitmap expires and is rebuilt, at most `TTL` later.
use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::hot_keys;
use crate::{
    entities::answer_save,
    error::ApiError,
    stores::hot::{HotStore, Op, bit_is_set},
};

/// Bounds how long a missed bit can show; each attempt is rebuilt at most once per expiry.
const TTL: Duration = Duration::from_secs(600);
/// Set only by a rebuild: the bitmap holds every slot with a committed save.
const COMPLETE: u32 = 0;

fn bit(slot: i32) -> u32 {
    // Slots are checked against the paper before a save is queued: small and never negative.
    u32::try_from(slot).expect("a slot is never negative") + 1
}

/// The number of questions answered, from a bitmap read with a `Get`; `None` unless complete.
pub fn count(bitmap: Option<&[u8]>) -> Option<i64> {
    let bitmap = bitmap.filter(|b| bit_is_set(b, COMPLETE))?;
    Some(
        bitmap
            .iter()
            .map(|b| i64::from(b.count_ones()))
            .sum::<i64>()
            - 1,
    )
}

/// Called by the writer after a commit with the (attempt, slot) pairs it wrote.
pub async fn record(hot: &dyn HotStore, written: &HashSet<(Uuid, i32)>) {
    let bits: Vec<(String, u32)> = written
        .iter()
        .map(|(attempt, slot)| (hot_keys::answered(*attempt), bit(*slot)))
        .collect();
    let ops: Vec<Op> = bits
        .iter()
        .map(|(key, bit)| Op::SetBit(key, *bit, TTL))
        .collect();
    if let Err(error) = hot.batch(&ops).await {
        tracing::debug!(%error, "answered bitmaps not updated: rebuilt when they expire");
    }
}

/// Counts the attempts' answered questions from their saves and writes their bitmaps back
/// complete (the hot store failing only costs the next snapshot the same read).
pub async fn rebuild(
    db: &impl ConnectionTrait,
    hot: &dyn HotStore,
    attempts: &[Uuid],
) -> Result<HashMap<Uuid, i64>, ApiError> {
    if attempts.is_empty() {
        return Ok(HashMap::new());
    }
    let slots: Vec<(Uuid, i32)> = answer_save::Entity::find()
        .select_only()
        .column(answer_save::Column::AttemptId)
        .column(answer_save::Column::Slot)
        .distinct()
        .filter(answer_save::Column::AttemptId.is_in(attempts.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    let mut counts: HashMap<Uuid, i64> = attempts.iter().map(|a| (*a, 0)).collect();
    for (attempt, _) in &slots {
        *counts.entry(*attempt).or_default() += 1;
    }
    let keys: HashMap<Uuid, String> = attempts
        .iter()
        .map(|a| (*a, hot_keys::answered(*a)))
        .collect();
    // The completeness bit last: if the pipeline stops half-way, no bitmap claims more than
    // it holds.
    let ops: Vec<Op> = slots
        .iter()
        .map(|(attempt, slot)| Op::SetBit(&keys[attempt], bit(*slot), TTL))
        .chain(attempts.iter().map(|a| Op::SetBit(&keys[a], COMPLETE, TTL)))
        .collect();
    if let Err(error) = hot.batch(&ops).await {
        tracing::debug!(%error, "answered bitmaps not written back");
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bitmap_counts_only_once_complete() {
        assert_eq!(count(None), None);
        // Slots 0 and 9 set by a writer, never rebuilt: not to be trusted.
        assert_eq!(count(Some(&[0b0100_0000, 0b0010_0000])), None);
        assert_eq!(count(Some(&[0b1100_0000, 0b0010_0000])), Some(2));
        assert_eq!(count(Some(&[0b1000_0000])), Some(0));
    }
}
