//! After the run: reads the service's database directly (not its API) and checks what the
//! clients were told against what is stored. Every acknowledged save must be the answer in
//! force with the value of the candidate's last acknowledged save; every attempt must be
//! submitted exactly once and graded.
use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};

use hocthi::entities::{answer_save, attempt, attempt_event};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect,
};
use serde::Serialize;
use uuid::Uuid;

use super::traffic::Journal;

#[derive(Debug, Default, Serialize)]
pub struct Findings {
    pub attempts: usize,
    pub answers_checked: usize,
    pub acknowledged_saves: u64,
    /// Acknowledged answers whose stored answer in force differs (or is missing).
    pub lost_answers: usize,
    /// Acknowledged answers a resume did not return.
    pub missing_on_resume: u64,
    /// Attempts not submitted (by the candidate or the sweeper) when the audit ran.
    pub unsubmitted_attempts: usize,
    pub submitted_more_than_once: usize,
    pub ungraded_attempts: usize,
    pub submitted_by_candidates: usize,
    pub submitted_by_sweeper: usize,
    /// Client requests that failed for good, by their first words.
    pub client_failures: HashMap<String, usize>,
    pub seconds_waiting_for_the_sweeper: f64,
}

const CLOSED: [&str; 2] = ["submitted", "auto_submitted"];

/// Waits until every attempt of the sitting is closed and graded (the sweeper closes those past
/// their deadline and grades what a crash left ungraded), or `patience` runs out.
pub async fn wait_for_sweeper(
    db: &DatabaseConnection,
    sitting: Uuid,
    patience: Duration,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    loop {
        let open = attempt::Entity::find()
            .filter(attempt::Column::SittingId.eq(sitting))
            .filter(
                Condition::any()
                    .add(attempt::Column::State.is_not_in(CLOSED))
                    .add(attempt::Column::GradedAt.is_null()),
            )
            .count(db)
            .await?;
        if open == 0 || started.elapsed() > patience {
            return Ok(started.elapsed().as_secs_f64());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub async fn audit(
    db: &DatabaseConnection,
    sitting: Uuid,
    attempts_by_seat: &[Uuid],
    journals: &[Journal],
) -> anyhow::Result<Findings> {
    let mut f = Findings::default();
    let rows = attempt::Entity::find()
        .filter(attempt::Column::SittingId.eq(sitting))
        .all(db)
        .await?;
    f.attempts = rows.len();
    for a in &rows {
        if !CLOSED.contains(&a.state.as_str()) {
            f.unsubmitted_attempts += 1;
        } else if a.graded_at.is_none() {
            f.ungraded_attempts += 1;
        }
        match a.state.as_str() {
            "submitted" => f.submitted_by_candidates += 1,
            "auto_submitted" => f.submitted_by_sweeper += 1,
            _ => {}
        }
    }
    let ids: Vec<Uuid> = rows.iter().map(|a| a.id).collect();
    let mut closings: HashMap<Uuid, usize> = HashMap::new();
    let mut in_force: HashMap<(Uuid, i32), (i64, Option<String>)> = HashMap::new();
    for chunk in ids.chunks(500) {
        let events: Vec<Uuid> = attempt_event::Entity::find()
            .select_only()
            .column(attempt_event::Column::AttemptId)
            .filter(attempt_event::Column::AttemptId.is_in(chunk.to_vec()))
            .filter(attempt_event::Column::Kind.is_in(CLOSED))
            .into_tuple()
            .all(db)
            .await?;
        for id in events {
            *closings.entry(id).or_default() += 1;
        }
        let saves: Vec<(Uuid, i32, i64, String)> = answer_save::Entity::find()
            .select_only()
            .column(answer_save::Column::AttemptId)
            .column(answer_save::Column::Slot)
            .column(answer_save::Column::Seq)
            .column(answer_save::Column::Value)
            .filter(answer_save::Column::AttemptId.is_in(chunk.to_vec()))
            .into_tuple()
            .all(db)
            .await?;
        for (attempt, slot, seq, value) in saves {
            let value: Option<String> = serde_json::from_str(&value).unwrap_or(None);
            let entry = in_force.entry((attempt, slot)).or_insert((i64::MIN, None));
            if seq > entry.0 {
                *entry = (seq, value);
            }
        }
    }
    f.submitted_more_than_once = closings.values().filter(|n| **n > 1).count();
    let known: HashSet<Uuid> = ids.iter().copied().collect();
    for (attempt, journal) in attempts_by_seat.iter().zip(journals) {
        if !known.contains(attempt) {
            f.lost_answers += journal.acked.len();
            continue;
        }
        f.acknowledged_saves += journal.acknowledged_saves;
        f.missing_on_resume += journal.missing_on_resume;
        for failure in &journal.failures {
            let key: String = failure.split(' ').take(2).collect::<Vec<_>>().join(" ");
            *f.client_failures.entry(key).or_default() += 1;
        }
        for (slot, (seq, value)) in &journal.acked {
            f.answers_checked += 1;
            match in_force.get(&(*attempt, *slot)) {
                // A newer sequence than the client's last acknowledged one cannot exist: the
                // client numbers its own saves.
                Some((stored_seq, stored)) if stored_seq == seq && stored == value => {}
                _ => f.lost_answers += 1,
            }
        }
    }
    Ok(f)
}
