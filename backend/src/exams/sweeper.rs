//! The sweeper, a job of every instance (`jobs.rs`): it gives back time lost to an outage,
//! submits attempts whose time is up, and grades what is submitted and not yet graded. Safe on
//! every instance at once (`FOR UPDATE SKIP LOCKED`).
use uuid::Uuid;

use super::{grading, hot_clock, lifecycle, taking};
use crate::{error::ApiError, state::AppState};

/// One pass of the sweeper (a job of `jobs.rs`; tests call it directly): give back outage
/// time, submit expired attempts, grade what is submitted and not yet graded.
pub async fn sweep_once(state: &AppState) -> Result<Vec<Uuid>, ApiError> {
    let now = state.clock.now();
    let threshold = chrono::Duration::from_std(state.settings.outage_threshold).unwrap_or_default();
    for credited in lifecycle::credit_outage(&state.db, now, threshold).await? {
        hot_clock::remember(state.hot.as_ref(), &credited).await;
    }
    let grace = chrono::Duration::from_std(state.settings.save_grace).unwrap_or_default();
    let submitted = lifecycle::sweep(&state.db, now, grace).await?;
    for ctx in &submitted {
        hot_clock::remember(state.hot.as_ref(), &ctx.attempt).await;
    }
    for swept in submitted.chunks(grading::BATCH) {
        taking::after_sweep(state, swept).await;
    }
    grading::grade_pending(&state.exams).await?;
    Ok(submitted.iter().map(|ctx| ctx.attempt.id).collect())
}
