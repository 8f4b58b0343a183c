//! Benchmark: a burst of concurrent password sign-ins against a running HọcThi, while a probe
//! keeps calling a cheap authenticated endpoint. Shows whether Argon2 work (off the async
//! workers, under a permit limit) stalls everything else.
//!
//! cargo run --release -p loadtest --bin login-burst -- --base-url http://127.0.0.1:8080 \
//!     --login admin --password '…' --burst 200
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use loadtest::percentile;
use serde_json::json;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base_url: String,
    #[arg(long)]
    login: String,
    #[arg(long)]
    password: String,
    /// Sign-ins started at once.
    #[arg(long, default_value_t = 200)]
    burst: usize,
    /// Pause between probe requests.
    #[arg(long, default_value_t = 5)]
    probe_interval_ms: u64,
    /// Probe-only time before the burst, for a baseline.
    #[arg(long, default_value_t = 3)]
    baseline_secs: u64,
}

fn summary(name: &str, mut ms: Vec<f64>) -> serde_json::Value {
    ms.sort_by(|a, b| a.total_cmp(b));
    let line = json!({
        "name": name,
        "count": ms.len(),
        "p50_ms": percentile(&ms, 50.0),
        "p95_ms": percentile(&ms, 95.0),
        "p99_ms": percentile(&ms, 99.0),
        "max_ms": ms.last().copied().unwrap_or(f64::NAN),
    });
    println!("{line}");
    line
}

async fn probe_until(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    interval: Duration,
    stop: impl Fn() -> bool,
) -> anyhow::Result<Vec<f64>> {
    let mut latencies = Vec::new();
    while !stop() {
        let started = Instant::now();
        let reply = client.get(url).bearer_auth(token).send().await?;
        let status = reply.status();
        reply.bytes().await?;
        if !status.is_success() {
            bail!("probe answered {status}");
        }
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(interval).await;
    }
    Ok(latencies)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.burst + 8)
        .build()?;
    let login_url = format!("{}/api/v1/auth/login", args.base_url);
    let probe_url = format!("{}/api/v1/me", args.base_url);
    let body = json!({ "login": args.login, "password": args.password });
    let token = client
        .post(&login_url)
        .json(&body)
        .send()
        .await?
        .error_for_status()
        .context("the first sign-in")?
        .json::<serde_json::Value>()
        .await?["access_token"]
        .as_str()
        .context("no access token")?
        .to_owned();

    let interval = Duration::from_millis(args.probe_interval_ms);
    let baseline_end = Instant::now() + Duration::from_secs(args.baseline_secs);
    let baseline = probe_until(&client, &probe_url, &token, interval, || {
        Instant::now() >= baseline_end
    })
    .await?;

    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probe = {
        let (client, probe_url, token, done) = (
            client.clone(),
            probe_url.clone(),
            token.clone(),
            done.clone(),
        );
        tokio::spawn(async move {
            probe_until(&client, &probe_url, &token, interval, || {
                done.load(std::sync::atomic::Ordering::Relaxed)
            })
            .await
        })
    };
    let burst_started = Instant::now();
    let mut logins = tokio::task::JoinSet::new();
    for _ in 0..args.burst {
        let (client, url, body) = (client.clone(), login_url.clone(), body.clone());
        logins.spawn(async move {
            let started = Instant::now();
            let status = client
                .post(&url)
                .json(&body)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            (status, started.elapsed().as_secs_f64() * 1000.0)
        });
    }
    let mut login_ms = Vec::new();
    let mut failures = 0;
    while let Some(result) = logins.join_next().await {
        let (status, ms) = result?;
        if status != 200 {
            failures += 1;
        }
        login_ms.push(ms);
    }
    let burst_secs = burst_started.elapsed().as_secs_f64();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let during = probe.await??;

    let report = json!({
        "burst": args.burst,
        "burst_seconds": burst_secs,
        "sign_ins_per_second": args.burst as f64 / burst_secs,
        "sign_in_failures": failures,
        "sign_in": summary("sign-in", login_ms),
        "probe_baseline": summary("probe /api/v1/me before the burst", baseline),
        "probe_during_burst": summary("probe /api/v1/me during the burst", during),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
