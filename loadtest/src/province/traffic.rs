//! The sitting's traffic, played by goose: one goose user per candidate and one per room's
//! proctor dashboard. Each candidate follows its plan (sign in, start, save, heartbeat, crash
//! and resume, submit) as a real client would: a save refused with 503/429 or lost to a dropped
//! connection is resent with the same sequence number until it is acknowledged, and a refusal
//! makes the whole session back off (`Backoff`).
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use goose::{config::GooseConfiguration, goose::GooseResponse, prelude::*};
use serde_json::{Value, json};
use soft_authenticator::SoftAuthenticator;

use super::{
    plan::{CandidatePlan, PARTS, Rng, Step, Timeline},
    record::{Kind, Recorder},
    setup::{STUDENT_PASSWORD, Sitting},
};

/// How long a client keeps resending one request that is refused or cannot connect.
const GIVE_UP_AFTER: Duration = Duration::from_secs(180);

/// What one candidate's client knows was acknowledged: the audit compares it with the database.
#[derive(Default, Clone)]
pub struct Journal {
    /// Per slot: the sequence and stored form of the last acknowledged save.
    pub acked: HashMap<i32, (i64, Option<String>)>,
    pub acknowledged_saves: u64,
    pub submitted: bool,
    /// Acknowledged answers a resume did not give back.
    pub missing_on_resume: u64,
    /// Requests that failed for good (a 4xx, or still refused after `GIVE_UP_AFTER`).
    pub failures: Vec<String>,
}

pub struct Run {
    pub timeline: Timeline,
    pub recorder: Recorder,
    pub sitting: Sitting,
    pub plans: Vec<CandidatePlan>,
    pub journals: Vec<Mutex<Journal>>,
    authenticator: Mutex<SoftAuthenticator>,
    next_user: AtomicUsize,
    candidates_left: AtomicUsize,
    done: tokio::sync::watch::Sender<bool>,
    pub dashboard_events: AtomicU64,
    /// Heartbeats a client did not send because it was waiting out a refusal (`Backoff`).
    pub heartbeats_skipped: AtomicU64,
    /// The test page's styles and scripts, as the first page fetched named them.
    assets: std::sync::OnceLock<Vec<String>>,
}

impl Run {
    pub fn new(
        timeline: Timeline,
        started: Instant,
        mut sitting: Sitting,
        plans: Vec<CandidatePlan>,
    ) -> Self {
        let authenticator = std::mem::replace(
            &mut sitting.authenticator,
            SoftAuthenticator::new("http://localhost", "localhost"),
        );
        let n = sitting.seats.len();
        Self {
            timeline,
            recorder: Recorder::new(started),
            journals: (0..n).map(|_| Mutex::default()).collect(),
            plans,
            sitting,
            authenticator: Mutex::new(authenticator),
            next_user: AtomicUsize::new(0),
            candidates_left: AtomicUsize::new(n),
            done: tokio::sync::watch::channel(false).0,
            dashboard_events: AtomicU64::new(0),
            heartbeats_skipped: AtomicU64::new(0),
            assets: std::sync::OnceLock::new(),
        }
    }

    pub fn users(&self) -> usize {
        self.sitting.seats.len() + self.sitting.rooms.len()
    }
}

static RUN: OnceLock<Arc<Run>> = OnceLock::new();

/// Plays the traffic; returns when every candidate's plan has run.
pub async fn play(
    run: Arc<Run>,
    base_url: &str,
    report_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let users = run.users();
    if RUN.set(run).is_err() {
        anyhow::bail!("one run per process");
    }
    // Goose's Display names the kind of error only; its Debug names the option.
    let goose = |e: GooseError| anyhow::anyhow!("goose: {e:?}");
    let attack = GooseAttack::initialize_with_config(GooseConfiguration::default())
        .and_then(|a| {
            a.register_scenario(scenario!("sitting").register_transaction(transaction!(play_one)))
                .set_client_builder_without_cookies(
                    goose::client::GooseClientBuilder::new()
                        .without_cookies()
                        .timeout(Duration::from_secs(3600)),
                )?
                .set_default(GooseDefault::Host, base_url)?
                .set_default(GooseDefault::Users, users)?
                .set_default(GooseDefault::IncreaseRate, "2000")?
                .set_default(GooseDefault::Iterations, 1)?
                .set_default(GooseDefault::NoTelnet, true)?
                .set_default(GooseDefault::NoPrintMetrics, true)?
                .set_default(GooseDefault::Quiet, 1)?
                .set_default(
                    GooseDefault::ReportFile,
                    report_dir
                        .join("goose-report.html")
                        .to_string_lossy()
                        .as_ref(),
                )
        })
        .map_err(goose)?;
    attack.execute().await.map_err(goose)?;
    Ok(())
}

async fn play_one(user: &mut GooseUser) -> TransactionResult {
    let run = RUN.get().expect("a run").clone();
    let n = run.sitting.seats.len();
    let me = run.next_user.fetch_add(1, Ordering::Relaxed);
    if me < n {
        candidate(user, &run, me).await;
        if run.candidates_left.fetch_sub(1, Ordering::AcqRel) == 1 {
            run.done.send_replace(true);
        }
    } else if me - n < run.sitting.rooms.len() {
        dashboard(user, &run, me - n).await;
    }
    Ok(())
}

/// How many refusals in a row double the wait: after `Retry-After: 1` a client waits 1, 2, 4,
/// then 8 s (before jitter) for each refusal after that.
const MAX_DOUBLINGS: u32 = 3;

/// How the exam app waits when the service asks it to come back later (429/503 with
/// `Retry-After`) or cannot be reached: the whole session waits, not only the refused request,
/// so that an overloaded service is offered less instead of the same load again a second later.
/// Each refusal in a row doubles the wait, with jitter so that the clients refused in one second
/// do not all come back in the same one; an acknowledgement ends the streak. Saves wait in the
/// journal meanwhile; a heartbeat that falls due is skipped, since the next one carries presence.
struct Backoff {
    until: Instant,
    streak: u32,
    jitter: Rng,
}

impl Backoff {
    fn new(seed: u64) -> Self {
        Self {
            until: Instant::now(),
            streak: 0,
            jitter: Rng::new(seed),
        }
    }

    fn paused(&self) -> bool {
        Instant::now() < self.until
    }

    async fn wait(&self) {
        tokio::time::sleep_until(self.until.into()).await;
    }

    /// `retry_after`: the service's `Retry-After` in seconds, if it sent one. Returns the wait.
    fn refused(&mut self, retry_after: Option<u64>) -> Duration {
        let asked = retry_after.unwrap_or(1).clamp(1, 10) as f64;
        let doubled = asked * f64::from(1u32 << self.streak.min(MAX_DOUBLINGS));
        // Never sooner than asked: the jitter only adds, up to half again.
        let wait = doubled * (1.0 + 0.5 * self.jitter.unit());
        self.streak += 1;
        let wait = Duration::from_secs_f64(wait);
        self.until = Instant::now() + wait;
        wait
    }

    fn acknowledged(&mut self) {
        self.streak = 0;
    }
}

/// Whether a status asks the client to come back: a refusal, a gateway error, no answer, or a
/// 408 (the server gave up waiting for the request on a busy connection; HTTP lets the client
/// repeat it).
fn comes_back(status: u16) -> bool {
    matches!(status, 0 | 408 | 429 | 502 | 503 | 504)
}

/// One client session: a goose user, its bearer token once signed in, and its backoff.
struct Client<'a> {
    user: &'a mut GooseUser,
    run: &'a Run,
    token: Option<String>,
    backoff: Backoff,
}

impl Client<'_> {
    /// One API request through goose (bearer token, JSON), timed to the end of its body.
    async fn send(
        &mut self,
        kind: Kind,
        method: GooseMethod,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let Ok(mut builder) = self.user.get_request_builder(&method, path) else {
            return (0, Value::Null);
        };
        if let Some(t) = &self.token {
            builder = builder.bearer_auth(t);
        }
        if let Some(b) = body {
            builder = builder.json(b);
        }
        self.send_built(kind, method, builder, kind.body_is_read())
            .await
    }

    /// A GET as the browser makes it: the session cookie instead of a bearer token, and gzip
    /// taken unless the body is to be read here.
    async fn send_as_browser(&mut self, kind: Kind, path: &str, read: bool) -> (u16, Value) {
        let Ok(mut builder) = self.user.get_request_builder(&GooseMethod::Get, path) else {
            return (0, Value::Null);
        };
        if let Some(t) = &self.token {
            builder = builder.header("cookie", format!("hocthi_access={t}"));
        }
        if !read {
            builder = builder.header("accept-encoding", "gzip");
        }
        self.send_built(kind, GooseMethod::Get, builder, read).await
    }

    async fn send_built(
        &mut self,
        kind: Kind,
        method: GooseMethod,
        builder: reqwest::RequestBuilder,
        read: bool,
    ) -> (u16, Value) {
        let sent = Instant::now();
        let request = GooseRequest::builder()
            .method(method)
            .name(kind.name())
            .set_request_builder(builder)
            .build();
        let (status, value, retry) = match self.user.request(request).await {
            Ok(GooseResponse {
                response: Ok(response),
                ..
            }) => {
                let status = response.status().as_u16();
                let retry = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok());
                // Only a few answers are read; the rest are received whole but not parsed (the
                // generator shares the machine with what it measures).
                if read || !(200..300).contains(&status) {
                    match response.text().await {
                        Ok(text) => (
                            status,
                            serde_json::from_str(&text).unwrap_or(Value::String(text)),
                            retry,
                        ),
                        Err(_) => (0, Value::Null, None),
                    }
                } else {
                    match response.bytes().await {
                        Ok(_) => (status, Value::Null, retry),
                        Err(_) => (0, Value::Null, None),
                    }
                }
            }
            _ => (0, Value::Null, None),
        };
        self.run.recorder.record(kind, sent, status);
        match status {
            200..=299 => self.backoff.acknowledged(),
            s if comes_back(s) => {
                self.backoff.refused(retry);
            }
            _ => {}
        }
        (status, value)
    }

    /// Sends until acknowledged, as a client with a journal does: after a refusal (429/503), a
    /// gateway error or a dropped connection it waits out its backoff and sends again.
    async fn send_until_ok(
        &mut self,
        kind: Kind,
        method: GooseMethod,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        let first = Instant::now();
        loop {
            self.backoff.wait().await;
            let (status, value) = self.send(kind, method, path, body).await;
            match status {
                200..=299 => return Ok(value),
                s if comes_back(s) && first.elapsed() < GIVE_UP_AFTER => {}
                _ => return Err(format!("{} {status} {value}", kind.name())),
            }
        }
    }

    /// `send_as_browser` until acknowledged, with the same backoff as `send_until_ok`.
    async fn fetch_until_ok(
        &mut self,
        kind: Kind,
        path: &str,
        read: bool,
    ) -> Result<Value, String> {
        let first = Instant::now();
        loop {
            self.backoff.wait().await;
            let (status, value) = self.send_as_browser(kind, path, read).await;
            match status {
                200..=299 => return Ok(value),
                s if comes_back(s) && first.elapsed() < GIVE_UP_AFTER => {}
                _ => return Err(format!("{} {status} {value}", kind.name())),
            }
        }
    }

    /// The attempt's page as a browser opens it: the waiting room after signing in, with each
    /// of its styles and scripts (`with_assets`; they are immutable, so the browser keeps them),
    /// and the test after the start, its assets already held. Their addresses are read from the
    /// first page any candidate receives; they are the same for every page of a build.
    async fn open_exam_page(&mut self, attempt: &str, with_assets: bool) -> Result<(), String> {
        let discover = self.run.assets.get().is_none();
        let page = self
            .fetch_until_ok(Kind::Page, &format!("/exam/{attempt}"), discover)
            .await?;
        if let Value::String(html) = &page {
            let _ = self.run.assets.set(asset_paths(html));
        }
        let assets = self.run.assets.get().cloned().unwrap_or_default();
        for asset in assets.iter().filter(|_| with_assets) {
            self.fetch_until_ok(Kind::Asset, asset, false).await?;
        }
        Ok(())
    }

    async fn sign_in(&mut self, i: usize) -> Result<(), String> {
        let run = self.run;
        let seat = &run.sitting.seats[i];
        let tokens = match seat.credential {
            None => {
                self.send_until_ok(
                    Kind::SignInPassword,
                    GooseMethod::Post,
                    "/api/v1/auth/login",
                    Some(&json!({ "login": seat.login, "password": STUDENT_PASSWORD })),
                )
                .await?
            }
            Some(credential) => loop {
                let start = self
                    .send_until_ok(
                        Kind::PasskeyStart,
                        GooseMethod::Post,
                        "/api/v1/auth/passkey/start",
                        Some(&json!({})),
                    )
                    .await?;
                let assertion = run
                    .authenticator
                    .lock()
                    .expect("authenticator")
                    .assert(&start["options"], credential);
                let body = json!({ "ceremony_id": start["ceremony_id"], "credential": assertion });
                let (status, value) = self
                    .send(
                        Kind::PasskeyFinish,
                        GooseMethod::Post,
                        "/api/v1/auth/passkey/finish",
                        Some(&body),
                    )
                    .await;
                match status {
                    200 => break value,
                    // A ceremony lost to an outage is started again after the backoff, as the
                    // browser would.
                    s if comes_back(s) => {}
                    _ => return Err(format!("passkey sign-in {status} {value}")),
                }
            },
        };
        self.token = Some(
            tokens["access_token"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("no token in {tokens}"))?,
        );
        Ok(())
    }
}

fn device(i: usize) -> String {
    format!("may-thi-{i:08}")
}

async fn candidate(user: &mut GooseUser, run: &Run, i: usize) {
    let mut client = Client {
        user,
        run,
        token: None,
        backoff: Backoff::new(0xB0FF ^ i as u64),
    };
    if let Err(failure) = sit(&mut client, i).await {
        run.journals[i]
            .lock()
            .expect("journal")
            .failures
            .push(failure);
    }
}

async fn sit(client: &mut Client<'_>, i: usize) -> Result<(), String> {
    let run = client.run;
    let plan = &run.plans[i];
    let t0 = run.recorder.started;
    let attempt = run.sitting.seats[i].attempt.clone();
    let device = device(i);
    tokio::time::sleep_until((t0 + plan.sign_in_at).into()).await;
    client.sign_in(i).await?;
    client
        .send_until_ok(
            Kind::MyAttempts,
            GooseMethod::Get,
            "/api/v1/me/attempts",
            None,
        )
        .await?;
    client.open_exam_page(&attempt, true).await?;

    tokio::time::sleep_until((t0 + plan.start_at).into()).await;
    let started = Instant::now();
    let path = |what: &str| format!("/api/v1/attempts/{attempt}/{what}");
    let device_body = json!({ "device_id": device });
    client
        .send_until_ok(
            Kind::Start,
            GooseMethod::Post,
            &path("start"),
            Some(&device_body),
        )
        .await?;
    // The browser reloads the attempt's page, which now holds the paper (its assets cached):
    // the page takes the place of the API client's GET /attempts/{id}/paper.
    client.open_exam_page(&attempt, false).await?;

    let mut seq = 0i64;
    for (offset, step) in &plan.steps {
        let due = started + *offset;
        tokio::time::sleep_until(due.into()).await;
        match step {
            Step::Save { slot, value } => {
                seq += 1;
                let body = json!({ "device_id": device, "seq": seq, "answers": [{ "slot": slot, "value": value }] });
                client
                    .send_until_ok(Kind::Save, GooseMethod::Put, &path("answers"), Some(&body))
                    .await?;
                let stored = hocthi::exams::domain::check_answer(PARTS[*slot as usize], value)
                    .map_err(|code| format!("a generated answer was refused locally: {code}"))?;
                let mut journal = run.journals[i].lock().expect("journal");
                journal.acked.insert(*slot, (seq, stored));
                journal.acknowledged_saves += 1;
            }
            Step::Heartbeat => {
                // Skipped while the client waits out a refusal, and when saves held it until
                // the next one is due: a heartbeat only says the candidate is still there.
                let late = due.elapsed() >= run.timeline.heartbeat;
                if client.backoff.paused() || late {
                    run.heartbeats_skipped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                // Fire and forget: the next one follows in 30 s.
                client
                    .send(
                        Kind::Heartbeat,
                        GooseMethod::Post,
                        &path("heartbeat"),
                        Some(&device_body),
                    )
                    .await;
            }
            Step::Crash => {
                tokio::time::sleep(run.timeline.crash_pause).await;
                let view = client
                    .send_until_ok(
                        Kind::Resume,
                        GooseMethod::Post,
                        &path("resume"),
                        Some(&device_body),
                    )
                    .await?;
                let held: HashMap<i64, Option<String>> = view["answers"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| {
                                Some((x["slot"].as_i64()?, x["value"].as_str().map(str::to_owned)))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let mut journal = run.journals[i].lock().expect("journal");
                journal.missing_on_resume += journal
                    .acked
                    .iter()
                    .filter(|(slot, (_, value))| held.get(&i64::from(**slot)) != Some(value))
                    .count() as u64;
                // The browser lost its numbering: it continues after the server's.
                seq = view["last_seq"].as_i64().unwrap_or(seq).max(seq);
            }
            Step::Submit => {
                client
                    .send_until_ok(
                        Kind::Submit,
                        GooseMethod::Post,
                        &path("submit"),
                        Some(&device_body),
                    )
                    .await?;
                run.journals[i].lock().expect("journal").submitted = true;
                break;
            }
        }
    }
    Ok(())
}

/// A proctor's live dashboard for one room, open until every candidate is done; reconnects
/// when the stream drops (an instance going away). Meanwhile it polls the room's status at the
/// rate that makes up the modelled sitting's other dashboards' snapshots (`Timeline`).
async fn dashboard(user: &mut GooseUser, run: &Run, room: usize) {
    let path = format!("/api/v1/rooms/{}/dashboard", run.sitting.rooms[room]);
    let status_path = format!("/api/v1/rooms/{}/status", run.sitting.rooms[room]);
    let mut client = Client {
        user,
        run,
        token: Some(run.sitting.proctor_tokens[room].clone()),
        backoff: Backoff::new(0xDA5B ^ room as u64),
    };
    let mut polls = run.timeline.status_poll.map(|every| {
        let mut polls = tokio::time::interval(every);
        polls.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        polls
    });
    let mut done = run.done.subscribe();
    while !*done.borrow() {
        let sent = Instant::now();
        let Ok(builder) = client.user.get_request_builder(&GooseMethod::Get, &path) else {
            return;
        };
        let request = GooseRequest::builder()
            .method(GooseMethod::Get)
            .name(Kind::DashboardOpen.name())
            .set_request_builder(builder.bearer_auth(&run.sitting.proctor_tokens[room]))
            .build();
        let mut response = match client.user.request(request).await {
            Ok(GooseResponse {
                response: Ok(r), ..
            }) if r.status().is_success() => r,
            Ok(GooseResponse {
                response: Ok(r), ..
            }) => {
                run.recorder
                    .record(Kind::DashboardOpen, sent, r.status().as_u16());
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            _ => {
                run.recorder.record(Kind::DashboardOpen, sent, 0);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut first = true;
        loop {
            tokio::select! {
                chunk = response.chunk() => match chunk {
                    Ok(Some(bytes)) => {
                        if first {
                            run.recorder.record(Kind::DashboardOpen, sent, 200);
                            first = false;
                        }
                        let live = bytes.windows(11).filter(|w| w == b"event: live").count();
                        run.dashboard_events.fetch_add(live as u64, Ordering::Relaxed);
                    }
                    _ => break,
                },
                _ = async { polls.as_mut().expect("polling").tick().await }, if polls.is_some() => {
                    // A poll that falls due while refused is skipped: the next one asks again.
                    if !client.backoff.paused() {
                        client.send(Kind::RoomStatus, GooseMethod::Get, &status_path, None).await;
                    }
                }
                // Mapped to (): the select's output must not hold the watch's guard across the poll.
                _ = async { let _ = done.wait_for(|d| *d).await; } => return,
            }
        }
        if first {
            run.recorder.record(Kind::DashboardOpen, sent, 0);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_in_a_row_pause_the_session_longer_never_sooner_than_asked() {
        let mut backoff = Backoff::new(7);
        assert!(!backoff.paused(), "a new session sends at once");
        let waits: Vec<f64> = (0..6)
            .map(|_| backoff.refused(Some(1)).as_secs_f64())
            .collect();
        assert!(backoff.paused(), "a refusal pauses the session");
        for (n, wait) in waits.iter().enumerate() {
            let asked = f64::from(1u32 << n.min(MAX_DOUBLINGS as usize));
            assert!(
                (asked..=asked * 1.5).contains(wait),
                "refusal {n} in a row: waited {wait} s, between {asked} and {} expected",
                asked * 1.5
            );
        }
        backoff.acknowledged();
        let wait = backoff.refused(Some(2)).as_secs_f64();
        assert!(
            (2.0..=3.0).contains(&wait),
            "an acknowledgement ends the streak: {wait} s"
        );
        let first_waits: std::collections::BTreeSet<u128> = (0..20)
            .map(|seed| Backoff::new(seed).refused(None).as_millis())
            .collect();
        assert!(
            first_waits.len() > 10,
            "clients refused together come back apart: {first_waits:?}"
        );
    }
}

/// The `/static/...` addresses a page's HTML names (its stylesheet and scripts).
fn asset_paths(html: &str) -> Vec<String> {
    let mut paths: Vec<String> = html
        .split("\"/static/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|name| format!("/static/{name}"))
        .collect();
    paths.dedup();
    paths
}

#[cfg(test)]
mod page_tests {
    #[test]
    fn a_page_names_its_assets() {
        let html = r#"<link rel="stylesheet" href="/static/site.1a2b.css">
<script type="module" src="/static/site.3c4d.js"></script><script type="module" src="/static/exam.5e6f.js"></script>"#;
        assert_eq!(
            super::asset_paths(html),
            [
                "/static/site.1a2b.css",
                "/static/site.3c4d.js",
                "/static/exam.5e6f.js"
            ]
        );
    }
}
