//! Timed online assessments: exams, sittings, rooms and candidates; attempts on the server's
//! clock with a group-commit writer for autosaves; proctors; grading, results and statistics.
pub mod chart;
pub mod domain;
pub mod grading;
pub mod lifecycle;
pub mod organisation;
pub mod proctor;
pub mod results;
pub mod taking;
pub mod writer;

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration as StdDuration,
};

use bytes::Bytes;
use sea_orm::{DatabaseConnection, EntityTrait};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    clock::ServerClock,
    config::Settings,
    entities::{attempt, paper, paper_code, sitting},
    error::ApiError,
    questions::papers::Slot,
    state::AppState,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    organisation::configure(cfg);
    taking::configure(cfg);
    proctor::configure(cfg);
    results::configure(cfg);
}

/// What never changes about an attempt once it exists, cached so a save needs no extra read.
pub struct Facts {
    pub user_id: Uuid,
    pub sitting_id: Uuid,
    pub room_id: Option<Uuid>,
    pub paper_id: Uuid,
    pub code: String,
    /// The part (1-4) of each slot, in paper order.
    pub parts: Vec<u8>,
    pub forward_only: bool,
}

/// A paper code as candidates receive it (no key), rendered once per code.
pub struct CachedPaper {
    pub etag: String,
    pub body: Bytes,
}

pub struct Engine {
    pub writer: writer::Writer,
    facts: RwLock<HashMap<Uuid, Arc<Facts>>>,
    papers: RwLock<HashMap<(Uuid, String), Arc<CachedPaper>>>,
}

/// Entries kept before the fact cache starts again (a few hundred bytes each).
const MAX_FACTS: usize = 400_000;
/// How long the hot store keeps a rendered paper.
const PAPER_TTL: StdDuration = StdDuration::from_secs(6 * 3600);

impl Engine {
    pub fn start(db: DatabaseConnection, clock: ServerClock, settings: &Settings) -> Engine {
        Engine {
            writer: writer::Writer::start(
                db,
                clock,
                chrono::Duration::from_std(settings.save_grace).unwrap_or_default(),
                settings.save_queue,
            ),
            facts: RwLock::default(),
            papers: RwLock::default(),
        }
    }

    pub async fn facts(&self, db: &DatabaseConnection, id: Uuid) -> Result<Arc<Facts>, ApiError> {
        if let Some(f) = self.facts.read().expect("not poisoned").get(&id) {
            return Ok(f.clone());
        }
        let attempt = attempt::Entity::find_by_id(id)
            .one(db)
            .await?
            .ok_or(ApiError::NotFound("attempt_not_found"))?;
        let sitting = sitting::Entity::find_by_id(attempt.sitting_id)
            .one(db)
            .await?
            .ok_or(ApiError::NotFound("sitting_not_found"))?;
        let layout = paper_code::Entity::find_by_id((attempt.paper_id, attempt.code.clone()))
            .one(db)
            .await?
            .ok_or(ApiError::NotFound("paper_not_found"))?;
        let slots: Vec<Slot> =
            serde_json::from_str(&layout.layout).map_err(|e| ApiError::Unexpected(e.into()))?;
        let facts = Arc::new(Facts {
            user_id: attempt.user_id,
            sitting_id: attempt.sitting_id,
            room_id: attempt.room_id,
            paper_id: attempt.paper_id,
            code: attempt.code,
            parts: slots.iter().map(|s| s.part).collect(),
            forward_only: sitting.navigation == "forward_only",
        });
        let mut cache = self.facts.write().expect("not poisoned");
        if cache.len() >= MAX_FACTS {
            cache.clear();
        }
        cache.insert(id, facts.clone());
        Ok(facts)
    }

    /// The candidate's view of a code: memory, then the hot store, then rendered from the
    /// database (and put in both).
    pub async fn paper(
        &self,
        state: &AppState,
        paper_id: Uuid,
        code: &str,
    ) -> Result<Arc<CachedPaper>, ApiError> {
        let key = (paper_id, code.to_owned());
        if let Some(p) = self.papers.read().expect("not poisoned").get(&key) {
            return Ok(p.clone());
        }
        let hot_key = format!("paper:{paper_id}:{code}");
        let body = match state.hot.get(&hot_key).await {
            Ok(Some(bytes)) => Bytes::from(bytes),
            _ => {
                let paper = paper::Entity::find_by_id(paper_id)
                    .one(&state.db)
                    .await?
                    .ok_or(ApiError::NotFound("paper_not_found"))?;
                let printed =
                    crate::questions::paper_routes::render_code(&state.db, &paper, code.to_owned())
                        .await?;
                let body = serde_json::to_vec(&serde_json::json!({
                    "code": printed.code,
                    "subject": printed.subject,
                    "minutes": printed.minutes,
                    "questions": printed.questions,
                    "groups": printed.groups,
                }))
                .map_err(|e| ApiError::Unexpected(e.into()))?;
                if let Err(e) = state.hot.set(&hot_key, &body, PAPER_TTL).await {
                    tracing::warn!(error = %e, "could not cache a paper in the hot store");
                }
                Bytes::from(body)
            }
        };
        let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&body))[..32]);
        let cached = Arc::new(CachedPaper { etag, body });
        self.papers
            .write()
            .expect("not poisoned")
            .insert(key, cached.clone());
        Ok(cached)
    }

    /// After a key correction: the printed content does not change, but stay honest.
    pub fn forget_paper(&self, paper_id: Uuid) {
        self.papers
            .write()
            .expect("not poisoned")
            .retain(|(p, _), _| *p != paper_id);
    }
}

/// The background duties of every instance: give back outage time, submit expired attempts,
/// grade what is submitted and not yet graded. Safe to run on every instance at once.
pub fn start_sweeper(state: AppState) {
    let every = state.settings.sweep_interval;
    if every.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(e) = sweep_once(&state).await {
                tracing::warn!(error = ?e, "sweep failed; trying again next tick");
            }
        }
    });
}

/// One pass of the sweeper; tests call it directly.
pub async fn sweep_once(state: &AppState) -> Result<Vec<Uuid>, ApiError> {
    let now = state.clock.now();
    let threshold = chrono::Duration::from_std(state.settings.outage_threshold).unwrap_or_default();
    lifecycle::credit_outage(&state.db, now, threshold).await?;
    let grace = chrono::Duration::from_std(state.settings.save_grace).unwrap_or_default();
    let submitted = lifecycle::sweep(&state.db, now, grace).await?;
    for id in &submitted {
        match lifecycle::Context::load(&state.db, *id).await {
            Ok(ctx) => taking::after_submit(state, &ctx, "auto_submitted").await,
            Err(e) => {
                tracing::warn!(error = ?e, %id, "loading a swept attempt failed; grading retries")
            }
        }
    }
    grading::grade_pending(state).await?;
    Ok(submitted)
}
