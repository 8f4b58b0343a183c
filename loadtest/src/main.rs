//! Plays a whole-province sitting against a running HọcThi and proves no answer was lost:
//! prepares its own exam through the API, plays the traffic with goose (sign-in wave, start
//! spike, saves and heartbeats, crashes and resumes, the deadline), audits the database and
//! writes `report.json`, `report.md` and `latency.svg` into `--report-dir`.
//!
//! cargo run --release -p loadtest -- --base-url http://127.0.0.1:8080 --candidates 2000 \
//!     --duration 60s --report-dir /tmp/report --admin-password '…' \
//!     --database-url postgres://postgres@127.0.0.1/hocthi
//!
//! See docs/PERFORMANCE.md for the traffic model and its time compression.
use std::{
    path::PathBuf,
    process::ExitCode,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::Parser;
use loadtest::{
    api::Api,
    province::{
        Watch, audit,
        plan::{self, Mix, Timeline},
        report,
        setup::{self, Options},
        traffic::{self, Run},
    },
};
use serde_json::json;

// The generator shares the machine with what it measures: glibc's malloc/free was ~4% of its
// CPU in a profile of the 100,000-candidate traffic.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base_url: String,
    /// Candidates actually set up and played.
    #[arg(long, default_value_t = 2000)]
    candidates: usize,
    /// The sitting as played, e.g. 60s or 5m (whole minutes: the service's time allowed).
    #[arg(long, default_value = "60s", value_parser = duration)]
    duration: Duration,
    /// The real sitting this run models; compression = real length / duration.
    #[arg(long, default_value = "50m", value_parser = duration)]
    real_length: Duration,
    #[arg(long)]
    report_dir: PathBuf,
    #[arg(long, default_value = "admin@so.edu.vn")]
    admin_login: String,
    #[arg(long, env = "HOCTHI_LOADTEST_ADMIN_PASSWORD")]
    admin_password: String,
    /// The service's database, read by the audit (PostgreSQL, or the embedded
    /// sqlite://<data dir>/hocthi.db).
    #[arg(long)]
    database_url: String,
    /// The WebAuthn origin of the service; default http://localhost:<port of --base-url>.
    #[arg(long)]
    origin: Option<String>,
    #[arg(long, default_value_t = 0.7)]
    passkey_share: f64,
    #[arg(long, default_value_t = 0.3)]
    change_share: f64,
    #[arg(long, default_value_t = 0.05)]
    crash_share: f64,
    /// Candidates who submit themselves; the sweeper submits the rest at the deadline.
    #[arg(long, default_value_t = 0.9)]
    submit_share: f64,
    #[arg(long, default_value_t = 24)]
    room_size: usize,
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// The service's process ids (CPU seconds and memory in the report).
    #[arg(long)]
    server_pid: Vec<u32>,
    /// Other processes to watch by name, summed (e.g. postgres, redis-server).
    #[arg(long)]
    watch_name: Vec<String>,
    /// A fault: a shell command run this long after the traffic starts (e.g. 40s).
    #[arg(long, value_parser = duration)]
    fault_at: Option<Duration>,
    #[arg(long, requires = "fault_at")]
    fault_command: Option<String>,
    /// How long to wait for the sweeper after the last candidate.
    #[arg(long, default_value = "120s", value_parser = duration)]
    sweeper_patience: Duration,
}

fn duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| format!("not a duration: {text}"))?;
    match unit {
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("not a duration (use s, m or h): {text}")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("loadtest: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Ok(false) when the audit found a lost answer or an unsubmitted attempt.
async fn run(args: Args) -> anyhow::Result<bool> {
    if args.candidates == 0
        || args.duration.as_secs() < 60
        || !args.duration.as_secs().is_multiple_of(60)
    {
        bail!("--candidates must be positive and --duration whole minutes (60s, 5m, …)");
    }
    std::fs::create_dir_all(&args.report_dir)
        .with_context(|| format!("cannot create {}", args.report_dir.display()))?;
    let api = Api::new(&args.base_url)?;
    let db = hocthi::stores::db::connect(&args.database_url, hocthi::config::DEFAULT_DB_POOL_SIZE)
        .await
        .context("the audit's database")?;
    let timeline = Timeline::new(args.duration, args.real_length);
    let mix = Mix {
        passkey_share: args.passkey_share,
        change_share: args.change_share,
        crash_share: args.crash_share,
        submit_share: args.submit_share,
    };
    let plans: Vec<_> = (0..args.candidates)
        .map(|i| plan::candidate(i, args.seed, &timeline, &mix))
        .collect();
    let port = args
        .base_url
        .rsplit(':')
        .next()
        .unwrap_or("80")
        .trim_end_matches('/');
    let origin = args
        .origin
        .clone()
        .unwrap_or_else(|| format!("http://localhost:{port}"));

    let admin = api.token(&args.admin_login, &args.admin_password).await?;
    let sitting = setup::prepare(
        &api,
        &admin,
        &Options {
            candidates: args.candidates,
            minutes: args.duration.as_secs() / 60,
            room_size: args.room_size,
            passkey: &|i| plans[i].passkey,
            origin,
        },
    )
    .await?;
    let sitting_id: uuid::Uuid = sitting.id.parse()?;
    let attempts: Vec<uuid::Uuid> = sitting
        .seats
        .iter()
        .map(|s| s.attempt.parse())
        .collect::<Result<_, _>>()?;

    // Every goose user is running well before the first planned request.
    let t0 = Instant::now() + Duration::from_secs(3);
    let started_at = chrono::Utc::now() + chrono::Duration::seconds(3);
    let run = Arc::new(Run::new(timeline.clone(), t0, sitting, plans));
    let watch = Watch::start(&args.server_pid, &args.watch_name, t0);
    let fault = match (args.fault_at, args.fault_command.clone()) {
        (Some(at), Some(command)) => Some(tokio::spawn(async move {
            tokio::time::sleep_until((t0 + at).into()).await;
            eprintln!("fault at {:.0} s: {command}", at.as_secs_f64());
            let status = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(&command)
                .status()
                .await;
            eprintln!("fault command finished: {status:?}");
        })),
        _ => None,
    };
    eprintln!(
        "traffic: {} candidates and {} dashboards, the rates of {:.0} candidates (compression {:.1}x)",
        args.candidates,
        run.sitting.rooms.len(),
        args.candidates as f64 * timeline.k,
        timeline.k
    );
    traffic::play(run.clone(), &args.base_url, &args.report_dir).await?;
    let traffic_seconds = run.recorder.elapsed().as_secs_f64();
    if let Some(f) = fault {
        f.await.ok();
    }
    let waited = audit::wait_for_sweeper(&db, sitting_id, args.sweeper_patience).await?;
    let processes = watch.finish();
    let journals: Vec<_> = run
        .journals
        .iter()
        .map(|j| j.lock().expect("journal").clone())
        .collect();
    let mut findings = audit::audit(&db, sitting_id, &attempts, &journals).await?;
    findings.seconds_waiting_for_the_sweeper = waited;
    let summary = json!({
        "base_url": args.base_url,
        "candidates": args.candidates,
        "modelled_candidates": (args.candidates as f64 * timeline.k).round(),
        "compression": timeline.k,
        "sitting_seconds": args.duration.as_secs(),
        "traffic_seconds": traffic_seconds,
        "started_at": started_at,
        "rooms": run.sitting.rooms.len(),
        "dashboard_live_events": run.dashboard_events.load(std::sync::atomic::Ordering::Relaxed),
        "heartbeats_skipped": run.heartbeats_skipped.load(std::sync::atomic::Ordering::Relaxed),
        "mix": { "passkey": args.passkey_share, "changed": args.change_share, "crash": args.crash_share,
                 "submit": args.submit_share },
        "fault": args.fault_command.as_ref().map(|c| json!({ "at_seconds": args.fault_at.map(|d| d.as_secs()), "command": c })),
        "sitting_id": sitting_id,
    });
    let report = report::write(
        &args.report_dir,
        summary,
        &run.recorder.samples(),
        traffic_seconds,
        &findings,
        &processes,
    )?;
    println!(
        "{}",
        std::fs::read_to_string(args.report_dir.join("report.md")).unwrap_or_default()
    );
    Ok(report["lost_answers"] == 0
        && report["unsubmitted_attempts"] == 0
        && findings.submitted_more_than_once == 0
        && findings.ungraded_attempts == 0)
}
