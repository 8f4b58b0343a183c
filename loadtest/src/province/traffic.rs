//! The sitting's traffic, played by goose: one goose user per candidate and one per room's
//! proctor dashboard. Each candidate follows its plan (sign in, start, save, heartbeat, crash
//! and resume, submit) as a real client would: a save refused with 503/429 or lost to a dropped
//! connection is resent with the same sequence number until it is acknowledged.
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
    plan::{CandidatePlan, PARTS, Step, Timeline},
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

/// One request through goose, timed to the end of its body.
async fn send(
    user: &mut GooseUser,
    run: &Run,
    kind: Kind,
    method: GooseMethod,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value, Option<u64>) {
    let sent = Instant::now();
    let Ok(mut builder) = user.get_request_builder(&method, path) else {
        return (0, Value::Null, None);
    };
    if let Some(t) = token {
        builder = builder.bearer_auth(t);
    }
    if let Some(b) = body {
        builder = builder.json(b);
    }
    let request = GooseRequest::builder()
        .method(method)
        .name(kind.name())
        .set_request_builder(builder)
        .build();
    let (status, value, retry) = match user.request(request).await {
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
            if kind.body_is_read() || !(200..300).contains(&status) {
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
    run.recorder.record(kind, sent, status);
    (status, value, retry)
}

/// Sends until acknowledged, as a client with a journal does: refusals (429/503), gateway
/// errors and dropped connections are retried after `Retry-After` (or a second).
#[allow(clippy::too_many_arguments)]
async fn send_until_ok(
    user: &mut GooseUser,
    run: &Run,
    kind: Kind,
    method: GooseMethod,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Result<Value, String> {
    let first = Instant::now();
    loop {
        let (status, value, retry) = send(user, run, kind, method, path, token, body).await;
        match status {
            200..=299 => return Ok(value),
            0 | 429 | 502 | 503 | 504 if first.elapsed() < GIVE_UP_AFTER => {
                let wait = Duration::from_secs(retry.unwrap_or(1).clamp(1, 10));
                tokio::time::sleep(wait).await;
            }
            _ => return Err(format!("{} {status} {value}", kind.name())),
        }
    }
}

async fn sign_in(user: &mut GooseUser, run: &Run, i: usize) -> Result<String, String> {
    let seat = &run.sitting.seats[i];
    let tokens = match seat.credential {
        None => {
            send_until_ok(
                user,
                run,
                Kind::SignInPassword,
                GooseMethod::Post,
                "/api/v1/auth/login",
                None,
                Some(&json!({ "login": seat.login, "password": STUDENT_PASSWORD })),
            )
            .await?
        }
        Some(credential) => loop {
            let start = send_until_ok(
                user,
                run,
                Kind::PasskeyStart,
                GooseMethod::Post,
                "/api/v1/auth/passkey/start",
                None,
                Some(&json!({})),
            )
            .await?;
            let assertion = run
                .authenticator
                .lock()
                .expect("authenticator")
                .assert(&start["options"], credential);
            let body = json!({ "ceremony_id": start["ceremony_id"], "credential": assertion });
            let (status, value, _) = send(
                user,
                run,
                Kind::PasskeyFinish,
                GooseMethod::Post,
                "/api/v1/auth/passkey/finish",
                None,
                Some(&body),
            )
            .await;
            match status {
                200 => break value,
                // A ceremony lost to an outage is started again, as the browser would.
                0 | 429 | 502 | 503 | 504 => tokio::time::sleep(Duration::from_secs(1)).await,
                _ => return Err(format!("passkey sign-in {status} {value}")),
            }
        },
    };
    tokens["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no token in {tokens}"))
}

fn device(i: usize) -> String {
    format!("may-thi-{i:08}")
}

async fn candidate(user: &mut GooseUser, run: &Run, i: usize) {
    if let Err(failure) = sit(user, run, i).await {
        run.journals[i]
            .lock()
            .expect("journal")
            .failures
            .push(failure);
    }
}

async fn sit(user: &mut GooseUser, run: &Run, i: usize) -> Result<(), String> {
    let plan = &run.plans[i];
    let t0 = run.recorder.started;
    let attempt = run.sitting.seats[i].attempt.clone();
    let device = device(i);
    tokio::time::sleep_until((t0 + plan.sign_in_at).into()).await;
    let token = sign_in(user, run, i).await?;
    let token = Some(token.as_str());
    send_until_ok(
        user,
        run,
        Kind::MyAttempts,
        GooseMethod::Get,
        "/api/v1/me/attempts",
        token,
        None,
    )
    .await?;

    tokio::time::sleep_until((t0 + plan.start_at).into()).await;
    let started = Instant::now();
    let path = |what: &str| format!("/api/v1/attempts/{attempt}/{what}");
    let device_body = json!({ "device_id": device });
    send_until_ok(
        user,
        run,
        Kind::Start,
        GooseMethod::Post,
        &path("start"),
        token,
        Some(&device_body),
    )
    .await?;
    send_until_ok(
        user,
        run,
        Kind::Paper,
        GooseMethod::Get,
        &path("paper"),
        token,
        None,
    )
    .await?;

    let mut seq = 0i64;
    for (offset, step) in &plan.steps {
        tokio::time::sleep_until((started + *offset).into()).await;
        match step {
            Step::Save { slot, value } => {
                seq += 1;
                let body = json!({ "device_id": device, "seq": seq, "answers": [{ "slot": slot, "value": value }] });
                send_until_ok(
                    user,
                    run,
                    Kind::Save,
                    GooseMethod::Put,
                    &path("answers"),
                    token,
                    Some(&body),
                )
                .await?;
                let stored = hocthi::exams::domain::check_answer(PARTS[*slot as usize], value)
                    .map_err(|code| format!("a generated answer was refused locally: {code}"))?;
                let mut journal = run.journals[i].lock().expect("journal");
                journal.acked.insert(*slot, (seq, stored));
                journal.acknowledged_saves += 1;
            }
            Step::Heartbeat => {
                // Fire and forget: the next one follows in 30 s.
                send(
                    user,
                    run,
                    Kind::Heartbeat,
                    GooseMethod::Post,
                    &path("heartbeat"),
                    token,
                    Some(&device_body),
                )
                .await;
            }
            Step::Crash => {
                tokio::time::sleep(run.timeline.crash_pause).await;
                let view = send_until_ok(
                    user,
                    run,
                    Kind::Resume,
                    GooseMethod::Post,
                    &path("resume"),
                    token,
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
                send_until_ok(
                    user,
                    run,
                    Kind::Submit,
                    GooseMethod::Post,
                    &path("submit"),
                    token,
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
    let token = Some(run.sitting.proctor_token.as_str());
    let mut polls = run.timeline.status_poll.map(|every| {
        let mut polls = tokio::time::interval(every);
        polls.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        polls
    });
    let mut done = run.done.subscribe();
    while !*done.borrow() {
        let sent = Instant::now();
        let Ok(builder) = user.get_request_builder(&GooseMethod::Get, &path) else {
            return;
        };
        let request = GooseRequest::builder()
            .method(GooseMethod::Get)
            .name(Kind::DashboardOpen.name())
            .set_request_builder(builder.bearer_auth(&run.sitting.proctor_token))
            .build();
        let mut response = match user.request(request).await {
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
                    send(user, run, Kind::RoomStatus, GooseMethod::Get, &status_path, token, None).await;
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
