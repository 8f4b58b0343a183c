//! Timed online assessments: exams, sittings, rooms and candidates; attempts on the server's
//! clock with a group-commit writer for autosaves; proctors; grading, results and statistics.
pub(crate) mod access;
pub mod answered;
pub(crate) mod answers;
pub(crate) mod appeals;
pub(crate) mod batched;
pub mod chart;
pub(crate) mod check_in;
pub mod domain;
pub(crate) mod graded;
pub(crate) mod grading;
pub(crate) mod hot_clock;
pub mod hot_keys;
pub(crate) mod key_corrections;
pub mod lifecycle;
pub(crate) mod lock;
pub(crate) mod marking;
pub(crate) mod my_attempts;
pub(crate) mod pages;
pub(crate) mod paper_media;
pub(crate) mod photos;
pub(crate) mod proctor;
pub(crate) mod registration;
pub(crate) mod results;
pub(crate) mod room_feed;
pub(crate) mod room_pages;
pub(crate) mod setup;
pub(crate) mod staff;
pub(crate) mod statistics;
pub(crate) mod streams;
pub mod sweeper;
pub(crate) mod taking;
pub mod writer;

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration as StdDuration,
};

use bytes::Bytes;
use sea_orm::{DatabaseConnection, EntityTrait};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::{
    clock::ServerClock,
    config::Settings,
    entities::{attempt, paper, paper_code, sitting},
    error::ApiError,
    questions::papers::Slot,
    stores::hot::SharedHotStore,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    answers::configure(cfg);
    taking::configure(cfg);
    my_attempts::configure(cfg);
    cfg.service(paper_media::paper_media);
    check_in::configure(cfg);
    photos::configure(cfg);
    setup::configure(cfg);
    registration::configure(cfg);
    lock::configure(cfg);
    room_feed::configure(cfg);
    proctor::configure(cfg);
    results::configure(cfg);
    marking::configure(cfg);
    key_corrections::configure(cfg);
    statistics::configure(cfg);
    appeals::configure(cfg);
    staff::configure(cfg);
}

/// What never changes about an attempt once it exists, cached so a save needs no extra read.
pub struct Facts {
    pub user_id: Uuid,
    pub sitting_id: Uuid,
    pub room_id: Option<Uuid>,
    pub paper_id: Uuid,
    pub code: String,
    /// The part (1-4) of each slot, in paper order (shared by every attempt on the code).
    pub parts: Arc<[u8]>,
    pub forward_only: bool,
}

/// A paper code as candidates receive it (no key), rendered once per code.
pub struct CachedPaper {
    pub etag: String,
    pub body: Bytes,
}

/// A paper's id and one of its codes.
type PaperCode = (Uuid, String);

/// A code's rendering, filled once.
type PaperCell = Arc<OnceCell<Arc<CachedPaper>>>;

pub struct Engine {
    pub writer: writer::Writer,
    /// Starts and submits, applied in batches on PostgreSQL.
    pub batcher: batched::Batcher,
    pub grading: grading::Queue,
    /// Live dashboards open on this instance, capped per person and in all.
    pub streams: Arc<streams::Streams>,
    facts: RwLock<HashMap<Uuid, Arc<Facts>>>,
    /// What facts share, so an attempt's first request reads only its own row: each code's
    /// parts, and whether each sitting is forward-only (fixed when the sitting is created).
    code_parts: RwLock<HashMap<PaperCode, Arc<[u8]>>>,
    forward_only: RwLock<HashMap<Uuid, bool>>,
    /// One cell per code: at the start spike thousands of candidates ask for the same few codes
    /// at once, and only the first of them renders each.
    papers: RwLock<HashMap<PaperCode, PaperCell>>,
    /// Where papers are rendered from and shared between instances.
    db: DatabaseConnection,
    hot: SharedHotStore,
    clock: ServerClock,
}

/// Entries kept before the fact cache starts again (a few hundred bytes each).
const MAX_FACTS: usize = 400_000;
/// Inserts into a cache that starts again once it holds MAX_FACTS entries.
fn bounded_insert<K: std::hash::Hash + Eq, V>(cache: &RwLock<HashMap<K, V>>, key: K, value: V) {
    let mut cache = cache.write().expect("not poisoned");
    if cache.len() >= MAX_FACTS {
        cache.clear();
    }
    cache.insert(key, value);
}

/// How long the hot store keeps a rendered paper.
const PAPER_TTL: StdDuration = StdDuration::from_secs(6 * 3600);

impl Engine {
    pub fn start(
        db: DatabaseConnection,
        hot: SharedHotStore,
        clock: ServerClock,
        settings: &Settings,
    ) -> Engine {
        Engine {
            batcher: batched::Batcher::start(db.clone()),
            writer: writer::Writer::start(
                db.clone(),
                hot.clone(),
                clock.clone(),
                chrono::Duration::from_std(settings.save_grace).unwrap_or_default(),
                settings.save_queue,
            ),
            grading: grading::Queue::new(),
            streams: Arc::default(),
            facts: RwLock::default(),
            code_parts: RwLock::default(),
            forward_only: RwLock::default(),
            papers: RwLock::default(),
            db,
            hot,
            clock,
        }
    }

    pub async fn facts(&self, id: Uuid) -> Result<Arc<Facts>, ApiError> {
        if let Some(f) = self.facts.read().expect("not poisoned").get(&id) {
            return Ok(f.clone());
        }
        let attempt = attempt::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or(ApiError::NotFound("attempt_not_found"))?;
        self.facts_of(&attempt).await
    }

    /// The same from a row the caller already holds: a start remembers them, so the paper
    /// fetch and the heartbeats right after it read nothing.
    pub async fn facts_of(&self, attempt: &attempt::Model) -> Result<Arc<Facts>, ApiError> {
        if let Some(f) = self.facts.read().expect("not poisoned").get(&attempt.id) {
            return Ok(f.clone());
        }
        let forward_only = self
            .forward_only
            .read()
            .expect("not poisoned")
            .get(&attempt.sitting_id)
            .copied();
        let forward_only = match forward_only {
            Some(f) => f,
            None => {
                let sitting = sitting::Entity::find_by_id(attempt.sitting_id)
                    .one(&self.db)
                    .await?
                    .ok_or(ApiError::NotFound("sitting_not_found"))?;
                let f = sitting.navigation == "forward_only";
                bounded_insert(&self.forward_only, attempt.sitting_id, f);
                f
            }
        };
        let code = (attempt.paper_id, attempt.code.clone());
        let parts = self
            .code_parts
            .read()
            .expect("not poisoned")
            .get(&code)
            .cloned();
        let parts = match parts {
            Some(p) => p,
            None => {
                let layout = paper_code::Entity::find_by_id(code.clone())
                    .one(&self.db)
                    .await?
                    .ok_or(ApiError::NotFound("paper_not_found"))?;
                let slots: Vec<Slot> = serde_json::from_str(&layout.layout)
                    .map_err(|e| ApiError::Unexpected(e.into()))?;
                let p: Arc<[u8]> = slots.iter().map(|s| s.part).collect();
                bounded_insert(&self.code_parts, code, p.clone());
                p
            }
        };
        let facts = Arc::new(Facts {
            user_id: attempt.user_id,
            sitting_id: attempt.sitting_id,
            room_id: attempt.room_id,
            paper_id: attempt.paper_id,
            code: attempt.code.clone(),
            parts,
            forward_only,
        });
        bounded_insert(&self.facts, attempt.id, facts.clone());
        Ok(facts)
    }

    /// The candidate's view of a code: memory, then the hot store, then rendered from the
    /// database (and put in both).
    pub async fn paper(&self, paper_id: Uuid, code: &str) -> Result<Arc<CachedPaper>, ApiError> {
        let key = (paper_id, code.to_owned());
        let cell = self.papers.read().expect("not poisoned").get(&key).cloned();
        let cell = match cell {
            Some(cell) => cell,
            None => self
                .papers
                .write()
                .expect("not poisoned")
                .entry(key)
                .or_default()
                .clone(),
        };
        // A failed render leaves the cell empty; the next request tries again.
        let cached = cell
            .get_or_try_init(|| self.load_paper(paper_id, code))
            .await?;
        Ok(cached.clone())
    }

    /// A code's body from the hot store, or rendered from the database and put there.
    async fn load_paper(&self, paper_id: Uuid, code: &str) -> Result<Arc<CachedPaper>, ApiError> {
        let hot_key = hot_keys::paper(paper_id, code);
        let body = match self.hot.get(&hot_key).await {
            Ok(Some(bytes)) => Bytes::from(bytes),
            _ => {
                let paper = paper::Entity::find_by_id(paper_id)
                    .one(&self.db)
                    .await?
                    .ok_or(ApiError::NotFound("paper_not_found"))?;
                let printed =
                    crate::questions::paper_code::render_code(&self.db, &paper, code.to_owned())
                        .await?;
                let body = serde_json::to_vec(&serde_json::json!({
                    "code": printed.code,
                    "subject": printed.subject,
                    "minutes": printed.minutes,
                    "questions": printed.questions,
                    "groups": printed.groups,
                }))
                .map_err(|e| ApiError::Unexpected(e.into()))?;
                if let Err(e) = self.hot.set(&hot_key, &body, PAPER_TTL).await {
                    tracing::warn!(error = %e, "could not cache a paper in the hot store");
                }
                Bytes::from(body)
            }
        };
        let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&body))[..32]);
        Ok(Arc::new(CachedPaper { etag, body }))
    }

    /// After a key correction: the printed content does not change, but stay honest.
    pub fn forget_paper(&self, paper_id: Uuid) {
        self.papers
            .write()
            .expect("not poisoned")
            .retain(|(p, _), _| *p != paper_id);
    }
}
