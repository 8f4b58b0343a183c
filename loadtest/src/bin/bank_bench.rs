//! Benchmark: importing a 1,000-item .docx question bank, and drawing a 24-code Maths paper from
//! a 10,000-item bank, against a running HọcThi (release build).
//!
//! cargo run --release -p loadtest --bin bank-bench -- --base-url http://127.0.0.1:8080 \
//!     --admin-login admin@so.edu.vn --admin-password '…'
use std::{
    io::Write,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::Parser;
use futures_util::{StreamExt, stream};
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base_url: String,
    #[arg(long)]
    admin_login: String,
    #[arg(long)]
    admin_password: String,
    /// Items in the bank papers are drawn from.
    #[arg(long, default_value_t = 10_000)]
    bank: usize,
    #[arg(long, default_value_t = 5)]
    paper_runs: usize,
}

const TOPICS: [&str; 5] = [
    "Chương 1. Ứng dụng đạo hàm",
    "Chương 2. Nguyên hàm và tích phân",
    "Chương 3. Phương pháp tọa độ trong không gian",
    "Chương 4. Hàm số mũ và lôgarit",
    "Chương 5. Xác suất",
];
const LEVELS: [&str; 3] = ["Biết", "Hiểu", "Vận dụng"];

fn esc(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn run(text: &str, underline: bool) -> String {
    let props = if underline {
        r#"<w:rPr><w:u w:val="single"/></w:rPr>"#
    } else {
        ""
    };
    format!(
        r#"<w:r>{props}<w:t xml:space="preserve">{}</w:t></w:r>"#,
        esc(text)
    )
}

/// A bank in the teachers' convention: 60% Part I, 20% Part II, 20% Part III, every stem with
/// an equation, topics and levels spread evenly.
fn bank_docx(items: usize, salt: usize) -> anyhow::Result<Vec<u8>> {
    let mut body = String::new();
    let mut p = |inner: String| body.push_str(&format!("<w:p>{inner}</w:p>"));
    let equation = |n: usize| {
        format!(
            "<m:oMath><m:f><m:num><m:r><m:t>{n}</m:t></m:r></m:num><m:den><m:r><m:t>x+{}</m:t></m:r></m:den></m:f></m:oMath>",
            n % 7 + 1
        )
    };
    for (part, share) in [(1, 6), (2, 2), (3, 2)] {
        p(run(
            &format!("PHẦN {}", ["I", "II", "III"][part - 1]),
            false,
        ));
        for i in 0..items * share / 10 {
            let n = salt * 100_000 + part * 10_000 + i;
            p(format!(
                "{}{}{}",
                run(&format!("Câu {}. Xét biểu thức ", i + 1), false),
                equation(n),
                run(&format!(" (bài {n})."), false)
            ));
            match part {
                1 => {
                    for (k, label) in ["A", "B", "C", "D"].iter().enumerate() {
                        p(format!(
                            "{}{}",
                            run(&format!("{label}."), k == n % 4),
                            run(&format!(" Giá trị {}", n * 4 + k), false)
                        ));
                    }
                }
                2 => {
                    for (k, label) in ["a", "b", "c", "d"].iter().enumerate() {
                        p(format!(
                            "{}{}",
                            run(&format!("{label})"), (n + k).is_multiple_of(2)),
                            run(&format!(" Mệnh đề {n}.{k}"), false)
                        ));
                    }
                }
                _ => p(run(&format!("Đáp án: {}", n % 1000), false)),
            }
            p(run(&format!("Mức độ: {}", LEVELS[i % 3]), false));
            p(run(&format!("Chủ đề: {}", TOPICS[(i / 3) % 5]), false));
        }
    }
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="w" xmlns:m="m"><w:body>{body}</w:body></w:document>"#
    );
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(
        "word/document.xml",
        zip::write::SimpleFileOptions::default(),
    )?;
    zip.write_all(document.as_bytes())?;
    Ok(zip.finish()?.into_inner())
}

struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        if let Some(b) = body {
            request = request.json(&b);
        }
        let reply = request.send().await?;
        let status = reply.status();
        let text = reply.text().await?;
        if !status.is_success() {
            bail!("{path}: {status} {}", &text[..text.len().min(300)]);
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn token(&self, login: &str, password: &str) -> anyhow::Result<String> {
        let reply = self
            .call(
                reqwest::Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({ "login": login, "password": password })),
            )
            .await?;
        Ok(reply["access_token"]
            .as_str()
            .context("no token")?
            .to_owned())
    }

    async fn import(&self, token: &str, file: Vec<u8>) -> anyhow::Result<(Duration, Vec<String>)> {
        let started = Instant::now();
        let reply = self
            .client
            .post(format!(
                "{}/api/v1/items/import?subject=toan&grade=12&topic=B%C3%A0i",
                self.base
            ))
            .bearer_auth(token)
            .body(file)
            .send()
            .await?;
        let status = reply.status();
        let report: Value = reply.json().await?;
        let elapsed = started.elapsed();
        if !status.is_success() {
            bail!("import: {status} {report}");
        }
        let ids = report["items"]
            .as_array()
            .context("no items")?
            .iter()
            .filter_map(|i| i["item_id"].as_str().map(str::to_owned))
            .collect();
        Ok((elapsed, ids))
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let api = Api {
        client: reqwest::Client::new(),
        base: args.base_url.clone(),
    };
    let admin = api.token(&args.admin_login, &args.admin_password).await?;
    let tag = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let school = api
        .call(reqwest::Method::POST, "/api/v1/schools", Some(&admin), Some(json!({ "code": format!("BENCH-{tag}"), "name": "Trường đo hiệu năng", "level": "THPT" })))
        .await?["id"]
        .as_str()
        .context("school id")?
        .to_owned();
    let password = "mat-khau-do-hieu-nang";
    for (login, roles) in [
        ("author", json!(["teacher"])),
        ("reviewer", json!(["teacher", "reviewer"])),
    ] {
        api.call(
            reqwest::Method::POST,
            "/api/v1/users",
            Some(&admin),
            Some(json!({ "login": format!("bench-{login}-{tag}"), "password": password, "full_name": "Giáo viên đo", "roles": roles,
                         "school_id": school, "subjects": ["toan"] })),
        )
        .await?;
    }
    let author = api.token(&format!("bench-author-{tag}"), password).await?;
    let reviewer = api
        .token(&format!("bench-reviewer-{tag}"), password)
        .await?;

    // 1. Import: 1,000-item .docx files until the bank is full; the first three are timed.
    let files = args.bank.div_ceil(1000);
    let mut import_seconds = Vec::new();
    let mut ids = Vec::new();
    for salt in 0..files {
        let file = bank_docx(1000, salt)?;
        let size = file.len();
        let (elapsed, created) = api.import(&author, file).await?;
        if salt < 3 {
            println!(
                "{}",
                json!({ "import_1000_items_seconds": elapsed.as_secs_f64(), "docx_bytes": size, "created": created.len() })
            );
            import_seconds.push(elapsed.as_secs_f64());
        }
        ids.extend(created);
    }

    // 2. Review every item (submit + approve), 16 at a time.
    let started = Instant::now();
    let results: Vec<anyhow::Result<()>> = stream::iter(ids.iter())
        .map(|id| {
            let (api, author, reviewer) = (&api, &author, &reviewer);
            async move {
                api.call(
                    reqwest::Method::POST,
                    &format!("/api/v1/items/{id}/submit"),
                    Some(author),
                    Some(json!({})),
                )
                .await?;
                api.call(
                    reqwest::Method::POST,
                    &format!("/api/v1/items/{id}/review"),
                    Some(reviewer),
                    Some(json!({ "decision": "approve" })),
                )
                .await?;
                Ok(())
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    results.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    println!(
        "{}",
        json!({ "approved": ids.len(), "review_seconds": started.elapsed().as_secs_f64() })
    );

    // 3. Papers: 24 codes from the whole bank.
    let matrix: Value =
        serde_json::from_str(include_str!("../../../content-samples/matrices/toan.json"))?;
    let mut paper_seconds = Vec::new();
    for run in 0..args.paper_runs {
        let started = Instant::now();
        let paper = api
            .call(reqwest::Method::POST, "/api/v1/papers", Some(&author), Some(json!({ "matrix": matrix, "codes": 24, "seed": run, "avoid_recent": run % 2 == 0 })))
            .await?;
        let elapsed = started.elapsed().as_secs_f64();
        if paper["codes"].as_array().map(Vec::len) != Some(24) {
            bail!("the paper has no 24 codes: {paper}");
        }
        paper_seconds.push(elapsed);
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "bank_items": ids.len(),
            "import_1000_item_docx_seconds": import_seconds,
            "import_median_seconds": median(import_seconds.clone()),
            "paper_24_codes_seconds": paper_seconds,
            "paper_median_seconds": median(paper_seconds.clone()),
        }))?
    );
    Ok(())
}
