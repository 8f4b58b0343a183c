//! Sessions signed out before their access tokens expire. The hot store holds one key per
//! revoked session (for as long as its tokens could live) and announces each revocation on a
//! channel; every instance keeps the set in memory, so checking a token costs no round trip.
//!
//! The set is only trusted while this instance's subscription is live and was loaded after it
//! started (subscribe first, then list the keys: a revocation is either already a key or still
//! to be announced). While it is not (start-up, the hot store restarting) every check asks the
//! hot store, failing closed as before.
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use uuid::Uuid;

use crate::stores::hot::{Op, SharedHotStore};

const KEY_PREFIX: &str = "revoked-session:";
const CHANNEL: &str = "revocations";
/// How often the subscription proves it still delivers.
const PROBE_EVERY: Duration = Duration::from_secs(15);
/// Sessions held before expired ones are dropped.
const PRUNE_AT: usize = 10_000;

fn key(session: Uuid) -> String {
    format!("{KEY_PREFIX}{session}")
}

pub struct Revocations {
    hot: SharedHotStore,
    /// How long a revoked session is remembered: the access tokens' lifetime.
    ttl: Duration,
    /// Revoked session -> when its last access token expires anyway.
    known: Mutex<HashMap<Uuid, Instant>>,
    live: tokio::sync::watch::Sender<bool>,
}

impl Revocations {
    pub fn new(hot: SharedHotStore, ttl: Duration) -> Self {
        Self {
            hot,
            ttl,
            known: Mutex::default(),
            live: tokio::sync::watch::Sender::new(false),
        }
    }

    fn remember(&self, session: Uuid) {
        let now = Instant::now();
        let mut known = self.known.lock().expect("not poisoned");
        if known.len() >= PRUNE_AT {
            known.retain(|_, until| *until > now);
        }
        known.insert(session, now + self.ttl);
    }

    fn known(&self, session: Uuid) -> bool {
        self.known
            .lock()
            .expect("not poisoned")
            .get(&session)
            .is_some_and(|until| *until > Instant::now())
    }

    /// Ends these sessions' access tokens on every instance.
    pub async fn revoke(&self, sessions: &[Uuid]) -> anyhow::Result<()> {
        let keys: Vec<(String, String)> = sessions
            .iter()
            .map(|s| {
                self.remember(*s);
                (key(*s), s.to_string())
            })
            .collect();
        // Each key before its announcement (see the module's note), all in one round trip.
        let ops: Vec<Op> = keys
            .iter()
            .flat_map(|(k, s)| {
                [
                    Op::Set(k, b"1", self.ttl),
                    Op::Publish(CHANNEL, s.as_bytes()),
                ]
            })
            .collect();
        self.hot.batch(&ops).await?;
        Ok(())
    }

    pub async fn is_revoked(&self, session: Uuid) -> anyhow::Result<bool> {
        if self.known(session) {
            return Ok(true);
        }
        if self.is_live() {
            return Ok(false);
        }
        Ok(self.hot.get(&key(session)).await?.is_some())
    }

    /// Whether checks are answered from memory.
    pub fn is_live(&self) -> bool {
        *self.live.borrow()
    }

    /// Resolves once checks are answered from memory (at start-up, after the first load).
    pub async fn until_live(&self) {
        let _ = self.live.subscribe().wait_for(|live| *live).await;
    }

    /// Keeps the set in step with the hot store for the life of the process (a job of
    /// `jobs.rs`).
    pub async fn sync(self: std::sync::Arc<Self>) {
        loop {
            if let Err(e) = self.follow().await {
                tracing::debug!(error = %e, "revocation sync interrupted; tokens are checked against the hot store meanwhile");
            }
            self.live.send_replace(false);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Subscribes, loads what is revoked, then follows announcements until the stream ends.
    async fn follow(&self) -> anyhow::Result<()> {
        let mut announcements = self.hot.subscribe(CHANNEL).await?;
        for stored in self.hot.keys(KEY_PREFIX).await? {
            if let Some(session) = stored.strip_prefix(KEY_PREFIX).and_then(|s| s.parse().ok()) {
                self.remember(session);
            }
        }
        self.live.send_replace(true);
        // A subscription can go quiet without closing (a half-open connection): a probe of our
        // own on the channel must come back before the next one is sent.
        let probe = format!("probe:{}", Uuid::new_v4());
        let mut probes = tokio::time::interval(PROBE_EVERY);
        probes.tick().await;
        let mut answered = true;
        loop {
            tokio::select! {
                message = announcements.next() => {
                    let Some(message) = message else {
                        anyhow::bail!("the subscription ended");
                    };
                    if message == probe.as_bytes() {
                        answered = true;
                    } else if let Some(session) = std::str::from_utf8(&message)
                        .ok()
                        .and_then(|s| s.parse().ok())
                    {
                        self.remember(session);
                    }
                }
                _ = probes.tick() => {
                    if !answered {
                        anyhow::bail!("the subscription went quiet");
                    }
                    answered = false;
                    self.hot.publish(CHANNEL, probe.as_bytes()).await?;
                }
            }
        }
    }
}
