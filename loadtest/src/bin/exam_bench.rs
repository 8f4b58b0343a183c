//! Benchmark of the exam hot path against a running HọcThi (release build):
//! 1. sets up a sitting through the API: a Maths paper with 24 codes, N students (roster
//!    import), rooms, registration, lock, check-in, every attempt started;
//! 2. fetches the cached paper code over HTTP (rate, latency);
//! 3. saves answers over HTTP with C concurrent clients (acknowledged saves/s, latency, 503s);
//! 4. drives the group-commit writer itself (the service's own `Writer`, on the same database)
//!    with C concurrent submitters, which is the writer's capacity without HTTP and tokens;
//! 5. audits: every acknowledged save's value is what the service returns for that answer.
//!
//! cargo run --release -p loadtest --bin exam-bench -- --base-url http://127.0.0.1:8080 \
//!     --admin-login admin@so.edu.vn --admin-password '…' --database-url postgres://…
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::Parser;
use futures_util::{StreamExt, stream};
use loadtest::{
    api::{Api, Staff, exam_staff, maths_paper},
    report,
};
use serde_json::{Value, json};
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base_url: String,
    #[arg(long)]
    admin_login: String,
    #[arg(long)]
    admin_password: String,
    /// The service's database, for the writer-only phase (skipped when absent).
    #[arg(long)]
    database_url: Option<String>,
    #[arg(long, default_value_t = 1000)]
    candidates: usize,
    /// Concurrent clients in the save phases.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    #[arg(long, default_value_t = 15)]
    seconds: u64,
}

const PASSWORD: &str = "mat-khau-bench-123";
const DEVICE: &str = "may-bench-0001";

struct Candidate {
    attempt: String,
    user_id: Uuid,
    token: String,
}

async fn setup(api: &Api, args: &Args) -> anyhow::Result<(Vec<Candidate>, String)> {
    let admin = api.token(&args.admin_login, &args.admin_password).await?;
    let tag = Uuid::now_v7().simple().to_string()[20..].to_owned();
    let school = api
        .post("/api/v1/schools", Some(&admin), json!({ "code": format!("B-{tag}"), "name": format!("Trường đo tải {tag}"), "level": "THPT" }))
        .await?;
    let school = school["id"].as_str().context("school id")?.to_owned();
    let class = api
        .post(
            &format!("/api/v1/schools/{school}/classes"),
            Some(&admin),
            json!({ "name": "12A1", "grade": 12, "school_year": "2025-2026" }),
        )
        .await?;
    let class = class["id"].as_str().context("class id")?.to_owned();
    let Staff {
        teacher,
        reviewer,
        proctor,
        proctor_id,
    } = exam_staff(api, &admin, &school, &tag, PASSWORD).await?;

    let paper = maths_paper(api, &teacher, &reviewer, 24).await?;

    let started = Instant::now();
    let mut csv = String::from("login,full_name,role,class,password\n");
    for i in 0..args.candidates {
        csv.push_str(&format!(
            "hs{i:06}.{tag},Học Sinh {i:06},student,12A1,{PASSWORD}\n"
        ));
    }
    api.post_csv(
        &format!("/api/v1/schools/{school}/users/import"),
        &admin,
        csv,
    )
    .await?;
    println!(
        "setup: {} students imported in {:.1} s",
        args.candidates,
        started.elapsed().as_secs_f64()
    );

    let exam = api.post("/api/v1/exams", Some(&teacher), json!({ "name": "Kỳ thi đo tải", "kind": "exam", "scope": "school", "school_id": school })).await?;
    let exam = exam["id"].as_str().context("exam id")?.to_owned();
    let starts_at = chrono::Utc::now() - chrono::Duration::minutes(1);
    let sitting = api
        .post(
            &format!("/api/v1/exams/{exam}/sittings"),
            Some(&teacher),
            json!({ "name": "Ca 1", "paper_id": paper, "starts_at": starts_at }),
        )
        .await?;
    let sitting = sitting["id"].as_str().context("sitting id")?.to_owned();
    for r in 0..args.candidates.div_ceil(500) {
        api.post(&format!("/api/v1/sittings/{sitting}/rooms"), Some(&teacher),
            json!({ "name": format!("Phòng {:03}", r + 1), "capacity": 500, "proctor_ids": [proctor_id] })).await?;
    }
    api.post(
        &format!("/api/v1/sittings/{sitting}/candidates"),
        Some(&teacher),
        json!({ "class_ids": [class] }),
    )
    .await?;
    let lock_started = Instant::now();
    api.post(
        &format!("/api/v1/sittings/{sitting}/lock"),
        Some(&teacher),
        json!({}),
    )
    .await?;
    println!(
        "setup: lock (codes + {} attempts) in {:.2} s",
        args.candidates,
        lock_started.elapsed().as_secs_f64()
    );
    let roster = api
        .get(&format!("/api/v1/sittings/{sitting}/candidates"), &teacher)
        .await?;
    let roster: Vec<Value> = roster.as_array().context("candidates")?.clone();
    stream::iter(roster.iter())
        .map(|c| {
            let proctor = proctor.clone();
            async move {
                api.post(
                    &format!(
                        "/api/v1/candidates/{}/check-in",
                        c["id"].as_str().unwrap_or_default()
                    ),
                    Some(&proctor),
                    json!({ "reason": "Đo tải" }),
                )
                .await
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;

    let signed_in = Instant::now();
    let candidates: Vec<Candidate> = stream::iter(roster.iter().enumerate())
        .map(|(i, c)| {
            let tag = tag.clone();
            async move {
                let token = api.token(&format!("hs{i:06}.{tag}"), PASSWORD).await?;
                let _ = c;
                let me = api.get("/api/v1/me/attempts", &token).await?;
                let attempt = me[0]["id"].as_str().context("an attempt")?.to_owned();
                let user = api.get("/api/v1/me", &token).await?;
                let user_id: Uuid = user["id"].as_str().context("user id")?.parse()?;
                api.post(
                    &format!("/api/v1/attempts/{attempt}/start"),
                    Some(&token),
                    json!({ "device_id": DEVICE }),
                )
                .await?;
                Ok::<_, anyhow::Error>(Candidate {
                    attempt,
                    user_id,
                    token,
                })
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    println!(
        "setup: {} sign-ins and starts in {:.1} s",
        candidates.len(),
        signed_in.elapsed().as_secs_f64()
    );
    Ok((candidates, sitting))
}

/// The last acknowledged (seq, letter) per (attempt, slot), for the audit.
type Journal = Arc<Mutex<HashMap<(usize, i32), (i64, String)>>>;

async fn http_saves(
    api: &Arc<Api>,
    candidates: &Arc<Vec<Candidate>>,
    args: &Args,
    journal: &Journal,
    seqs: &Arc<Vec<std::sync::atomic::AtomicI64>>,
) -> (Vec<f64>, Duration, usize) {
    let until = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..args.concurrency {
        let (api, candidates, journal, seqs) = (
            api.clone(),
            candidates.clone(),
            journal.clone(),
            seqs.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut ms = Vec::new();
            let mut refused = 0;
            let mut i = w;
            while Instant::now() < until {
                let c = i % candidates.len();
                i += 131;
                let slot = (i % 12) as i32;
                let letter = ["A", "B", "C", "D"][i % 4];
                let seq = seqs[c].fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                let t = Instant::now();
                let response = api
                    .client
                    .put(format!("{}/api/v1/attempts/{}/answers", api.base, candidates[c].attempt))
                    .bearer_auth(&candidates[c].token)
                    .json(&json!({ "device_id": DEVICE, "seq": seq, "answers": [{ "slot": slot, "value": letter }] }))
                    .send()
                    .await;
                match response.map(|r| r.status().as_u16()) {
                    Ok(200) => {
                        ms.push(t.elapsed().as_secs_f64() * 1000.0);
                        let mut j = journal.lock().expect("not poisoned");
                        let entry = j.entry((c, slot)).or_insert((0, String::new()));
                        if seq > entry.0 {
                            *entry = (seq, letter.to_owned());
                        }
                    }
                    Ok(503) => refused += 1,
                    other => eprintln!("save: {other:?}"),
                }
            }
            (ms, refused)
        }));
    }
    let mut all = Vec::new();
    let mut refused = 0;
    for t in tasks {
        let (ms, r) = t.await.expect("a client task");
        all.extend(ms);
        refused += r;
    }
    (all, started.elapsed(), refused)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let api = Arc::new(Api::new(&args.base_url)?);
    let (candidates, sitting) = setup(&api, &args).await?;
    let candidates = Arc::new(candidates);

    // Paper fetches: every request a full 200 with the cached body (no If-None-Match).
    let until = Instant::now() + Duration::from_secs(args.seconds.min(10));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..args.concurrency.min(64) {
        let (api, candidates) = (api.clone(), candidates.clone());
        tasks.push(tokio::spawn(async move {
            let mut ms = Vec::new();
            let mut i = w;
            while Instant::now() < until {
                let c = &candidates[i % candidates.len()];
                i += 64;
                let t = Instant::now();
                let ok = api
                    .client
                    .get(format!("{}/api/v1/attempts/{}/paper", api.base, c.attempt))
                    .bearer_auth(&c.token)
                    .send()
                    .await
                    .map(|r| r.status().as_u16() == 200)
                    .unwrap_or(false);
                if ok {
                    ms.push(t.elapsed().as_secs_f64() * 1000.0);
                }
            }
            ms
        }));
    }
    let mut fetched = Vec::new();
    for t in tasks {
        fetched.extend(t.await?);
    }
    report(
        "paper fetch (HTTP, cached code)",
        fetched,
        started.elapsed(),
        0,
    );

    let journal: Journal = Arc::default();
    let seqs: Arc<Vec<std::sync::atomic::AtomicI64>> = Arc::new(
        (0..candidates.len())
            .map(|_| std::sync::atomic::AtomicI64::new(0))
            .collect(),
    );
    let (ms, elapsed, refused) = http_saves(&api, &candidates, &args, &journal, &seqs).await;
    report(
        &format!("saves over HTTP ({} clients)", args.concurrency),
        ms,
        elapsed,
        refused,
    );

    if let Some(url) = &args.database_url {
        let db = hocthi::stores::db::connect(url, hocthi::config::DEFAULT_DB_POOL_SIZE).await?;
        // The database's side alone: the dashboards' bitmaps go to an in-process store.
        let writer = hocthi::exams::writer::Writer::start(
            db,
            hocthi::stores::hot::memory(),
            hocthi::clock::ServerClock::default(),
            chrono::Duration::seconds(15),
            50_000,
        );
        let until = Instant::now() + Duration::from_secs(args.seconds);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..args.concurrency {
            let (writer, candidates, journal, seqs) = (
                writer.clone(),
                candidates.clone(),
                journal.clone(),
                seqs.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut ms = Vec::new();
                let mut refused = 0;
                let mut i = w;
                while Instant::now() < until {
                    let c = i % candidates.len();
                    i += 131;
                    let slot = (i % 12) as i32;
                    let letter = ["A", "B", "C", "D"][(i / 7) % 4];
                    let seq = seqs[c].fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    let t = Instant::now();
                    let job = hocthi::exams::writer::SaveJob {
                        attempt_id: candidates[c].attempt.parse().expect("a uuid"),
                        user_id: candidates[c].user_id,
                        device_id: DEVICE.to_owned(),
                        seq,
                        forward_only: false,
                        answers: vec![hocthi::exams::writer::Answer {
                            slot,
                            part: 1,
                            value: Some(letter.to_owned()),
                        }],
                    };
                    match writer.save(job).await {
                        Ok(_) => {
                            ms.push(t.elapsed().as_secs_f64() * 1000.0);
                            let mut j = journal.lock().expect("not poisoned");
                            let entry = j.entry((c, slot)).or_insert((0, String::new()));
                            if seq > entry.0 {
                                *entry = (seq, letter.to_owned());
                            }
                        }
                        Err(_) => refused += 1,
                    }
                }
                (ms, refused)
            }));
        }
        let mut all = Vec::new();
        let mut refused = 0;
        for t in tasks {
            let (ms, r) = t.await?;
            all.extend(ms);
            refused += r;
        }
        report(
            &format!(
                "saves into the group-commit writer ({} submitters)",
                args.concurrency
            ),
            all,
            started.elapsed(),
            refused,
        );
    }

    // Audit: what the service holds for every answer is the last acknowledged save.
    let journal = journal.lock().expect("not poisoned").clone();
    let mut lost = 0;
    for (c, candidate) in candidates.iter().enumerate() {
        let view = api
            .get(
                &format!("/api/v1/attempts/{}", candidate.attempt),
                &candidate.token,
            )
            .await?;
        let stored: HashMap<i64, String> = view["answers"]
            .as_array()
            .context("answers")?
            .iter()
            .filter_map(|a| Some((a["slot"].as_i64()?, a["value"].as_str()?.to_owned())))
            .collect();
        for slot in 0..12 {
            if let Some((_, letter)) = journal.get(&(c, slot))
                && stored.get(&i64::from(slot)) != Some(letter)
            {
                lost += 1;
            }
        }
    }
    println!(
        "audit: {} acknowledged answers checked on sitting {sitting}; lost {lost}",
        journal.len()
    );
    if lost > 0 {
        bail!("{lost} acknowledged answers lost");
    }
    Ok(())
}
