//! Benchmark of the content repository against a running HọcThi (release build):
//! 1. seeds N published province items into the service's database (through the service's own
//!    code, as a second instance would), with Vietnamese titles, topics and lesson text;
//! 2. browses and searches over HTTP with C concurrent clients: browse by subject and grade
//!    (newest first, following cursors), full-text search without diacritics, most used,
//!    filter by topic; latency per kind;
//! 3. completes uploads over HTTP (start, PUT to the signed URL, complete) with C clients.
//!
//! cargo run --release -p loadtest --bin content-bench -- --base-url http://127.0.0.1:8080 \
//!     --admin-login admin@so.edu.vn --admin-password '…' --database-url postgres://… --items 100000
//! (docs/PERFORMANCE.md: seed with --seconds 0, ANALYZE, then measure with --items 0)
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::Parser;
use futures_util::{StreamExt, stream};
use loadtest::report;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base_url: String,
    #[arg(long)]
    admin_login: String,
    #[arg(long)]
    admin_password: String,
    /// The service's database (items are seeded into it directly).
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 100_000)]
    items: usize,
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
}

const PASSWORD: &str = "mat-khau-bench-123";
const SUBJECTS: [&str; 6] = [
    "toan",
    "vat_li",
    "hoa_hoc",
    "sinh_hoc",
    "ngu_van",
    "tieng_anh",
];
const NOUNS: [&str; 16] = [
    "Hàm số",
    "Đạo hàm",
    "Tích phân",
    "Dao động",
    "Sóng âm",
    "Điện trường",
    "Phản ứng",
    "Liên kết",
    "Tế bào",
    "Di truyền",
    "Thơ mới",
    "Truyện ngắn",
    "Nghị luận",
    "Ngữ pháp",
    "Từ vựng",
    "Xác suất",
];
const WORDS: [&str; 12] = [
    "khái niệm",
    "tính chất",
    "ứng dụng",
    "bài tập",
    "ví dụ",
    "thí nghiệm",
    "ôn tập",
    "luyện tập",
    "chuyên đề",
    "mở rộng",
    "nâng cao",
    "cơ bản",
];

async fn call(client: &reqwest::Client, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    let _ = client;
    let response = request.send().await?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("{status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let base = args.base_url.trim_end_matches('/').to_owned();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let login = |l: String, p: String| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let body = call(
                &client,
                client
                    .post(format!("{base}/api/v1/auth/login"))
                    .json(&json!({ "login": l, "password": p })),
            )
            .await?;
            Ok::<_, anyhow::Error>(body["access_token"].as_str().context("a token")?.to_owned())
        }
    };
    let admin = login(args.admin_login.clone(), args.admin_password.clone()).await?;
    let tag = uuid::Uuid::now_v7().simple().to_string()[20..].to_owned();
    let school = call(&client, client.post(format!("{base}/api/v1/schools")).bearer_auth(&admin)
        .json(&json!({ "code": format!("C-{tag}"), "name": format!("Trường học liệu {tag}"), "level": "THPT" }))).await?;
    let school = school["id"].as_str().context("school")?.to_owned();
    let teacher_login = format!("gv.hl.{tag}");
    call(&client, client.post(format!("{base}/api/v1/users")).bearer_auth(&admin).json(&json!({ "login": teacher_login,
        "password": PASSWORD, "full_name": "Giáo Viên Học Liệu", "roles": ["teacher"], "school_id": school }))).await?;
    let teacher = login(teacher_login.clone(), PASSWORD.to_owned()).await?;

    // 1. Seed through the service's own code, as another instance on the same database.
    let data = std::env::temp_dir().join(format!("content-bench-{tag}"));
    let vars: HashMap<String, String> = [
        ("DATABASE_URL", args.database_url.clone()),
        ("HOCTHI_DATA_DIR", data.display().to_string()),
        ("HOCTHI_LISTEN", "127.0.0.1:0".to_owned()),
        ("HOCTHI_SWEEP_INTERVAL_MS", "0".to_owned()),
        ("HOCTHI_SEED_ON_FIRST_START", "0".to_owned()),
        ("HOCTHI_LOG_FORMAT", "pretty".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let settings = hocthi::config::Settings::from_map(&vars)?;
    let app = hocthi::startup::Application::build(settings).await?;
    let state = Arc::new(app.state().clone());
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let author = Arc::new(
        hocthi::entities::user::Entity::find()
            .filter(hocthi::entities::user::Column::Login.eq(teacher_login.as_str()))
            .one(&state.db)
            .await?
            .context("the bench teacher")?,
    );
    let started = Instant::now();
    stream::iter(0..args.items)
        .map(|i| {
            let (state, author) = (state.clone(), author.clone());
            async move {
                let noun = NOUNS[i % NOUNS.len()];
                let word = WORDS[(i / 16) % WORDS.len()];
                let request: hocthi::content::items::ContentRequest = serde_json::from_value(json!({
                    "title": format!("{noun}: {word} (bài {i})"),
                    "description": format!("Học liệu số {i} về {noun} – {word}."),
                    "scope": "province",
                    "body": { "kind": "lesson", "sections": [{ "kind": "text", "title": "Nội dung",
                        "text": format!("{noun} và {word}: lý thuyết, ví dụ minh họa và bài tập tự luyện số {i}.") }] },
                    "metadata": { "subject": SUBJECTS[i % SUBJECTS.len()], "grade": 10 + (i % 3) as i16,
                        "topic": [format!("Chương {}", 1 + i % 8), format!("Bài {}", 1 + i % 20)],
                        "tags": [word], "licence": "cc_by_sa" },
                }))?;
                hocthi::content::items::create_published(&state, &author, request)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;
    println!(
        "seeded {} items in {:.1} s",
        args.items,
        started.elapsed().as_secs_f64()
    );

    // 2. Browse and search.
    let kinds = ["browse", "browse next page", "search", "most used", "topic"];
    let until = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..args.concurrency {
        let (client, base, token) = (client.clone(), base.clone(), teacher.clone());
        tasks.push(tokio::spawn(async move {
            let mut times: HashMap<&'static str, Vec<f64>> = HashMap::new();
            let mut i = w;
            while Instant::now() < until {
                i += 7;
                let kind = kinds[i % kinds.len()];
                let subject = SUBJECTS[i % SUBJECTS.len()];
                let query = match kind {
                    "browse" => format!("subject={subject}&grade={}&limit=20", 10 + i % 3),
                    "search" => {
                        let noun = hocthi::text::fold(NOUNS[i % NOUNS.len()]);
                        let word = hocthi::text::fold(WORDS[(i / 3) % WORDS.len()]);
                        format!(
                            "q={}+{}&limit=20",
                            noun.replace(' ', "+"),
                            word.replace(' ', "+")
                        )
                    }
                    "most used" => format!("subject={subject}&sort=most_used&limit=20"),
                    "topic" => format!("subject={subject}&topic=chuong+{}&limit=20", 1 + i % 8),
                    _ => {
                        // Follow the first page's cursor.
                        let first = call(
                            &client,
                            client
                                .get(format!(
                                    "{base}/api/v1/content/items?subject={subject}&limit=20"
                                ))
                                .bearer_auth(&token),
                        )
                        .await;
                        match first
                            .ok()
                            .and_then(|f| f["next"].as_str().map(str::to_owned))
                        {
                            Some(next) => format!("subject={subject}&limit=20&cursor={next}"),
                            None => continue,
                        }
                    }
                };
                let t = Instant::now();
                let reply = call(
                    &client,
                    client
                        .get(format!("{base}/api/v1/content/items?{query}"))
                        .bearer_auth(&token),
                )
                .await;
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                match reply {
                    Ok(body) if body["items"].is_array() => times.entry(kind).or_default().push(ms),
                    other => eprintln!("{kind}: {other:?}"),
                }
            }
            times
        }));
    }
    let mut all: HashMap<&'static str, Vec<f64>> = HashMap::new();
    for t in tasks {
        for (k, v) in t.await? {
            all.entry(k).or_default().extend(v);
        }
    }
    let elapsed = started.elapsed();
    for kind in kinds {
        report(
            &format!(
                "{kind} ({} items, {} clients)",
                args.items, args.concurrency
            ),
            all.remove(kind).unwrap_or_default(),
            elapsed,
            0,
        );
    }

    // 3. Upload completions: small distinct PNG-like files, start + PUT + complete.
    let until = Instant::now() + Duration::from_secs(args.seconds.min(10));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..args.concurrency {
        let (client, base, token) = (client.clone(), base.clone(), teacher.clone());
        tasks.push(tokio::spawn(async move {
            let mut ms = Vec::new();
            let mut n = 0u64;
            while Instant::now() < until {
                n += 1;
                let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
                bytes.extend(format!("bench {w} {n} {}", uuid::Uuid::now_v7()).into_bytes());
                bytes.resize(64 * 1024, 7);
                let sha = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect::<String>();
                let t = Instant::now();
                let ticket = call(&client, client.post(format!("{base}/api/v1/content/uploads")).bearer_auth(&token)
                    .json(&json!({ "file_name": "hinh.png", "size": bytes.len(), "content_type": "image/png", "sha256": sha }))).await;
                let Ok(ticket) = ticket else { eprintln!("upload: {ticket:?}"); continue };
                let put = client.put(ticket["url"].as_str().unwrap_or_default()).header("content-type", "image/png").body(bytes).send().await;
                if !put.is_ok_and(|r| r.status().is_success()) {
                    continue;
                }
                let done = call(&client, client.post(format!("{base}/api/v1/content/uploads/{}/complete", ticket["upload_id"].as_str().unwrap_or_default()))
                    .bearer_auth(&token).json(&json!({}))).await;
                if done.is_ok() {
                    ms.push(t.elapsed().as_secs_f64() * 1000.0);
                }
            }
            ms
        }));
    }
    let mut ms = Vec::new();
    for t in tasks {
        ms.extend(t.await?);
    }
    report(
        &format!(
            "upload start + PUT + complete, 64 KiB ({} clients)",
            args.concurrency
        ),
        ms,
        started.elapsed(),
        0,
    );
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}
