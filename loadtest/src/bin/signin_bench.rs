//! Benchmark: passkey sign-ins per second next to password sign-ins, on one running HọcThi.
//! Sets up its own students (each with a password and a passkey enrolled through a supervised
//! code), then for each method keeps `--clients` sign-ins in flight for `--seconds`.
//! A passkey sign-in is two requests (start, finish) plus the client's ECDSA signature, made by
//! the software authenticator on the same machine; a password sign-in is one request and an
//! Argon2id check on the server.
//!
//! cargo run --release -p loadtest --bin signin-bench -- --base-url http://127.0.0.1:8080 \
//!     --login admin --password '…' --accounts 200 --clients 16 --seconds 10
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::{Value, json};
use soft_authenticator::SoftAuthenticator;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base_url: String,
    /// An administrator's login and password (creates the school and the students).
    #[arg(long)]
    login: String,
    #[arg(long)]
    password: String,
    #[arg(long, default_value_t = 200)]
    accounts: usize,
    /// Sign-ins in flight at once.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The origin passkeys are made for (the service's WebAuthn origin); default
    /// http://localhost:<port of --base-url>.
    #[arg(long)]
    origin: Option<String>,
}

const STUDENT_PASSWORD: &str = "Mat-khau-hoc-sinh-2026";

async fn post(
    client: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> anyhow::Result<Value> {
    let mut request = client.post(&url).json(&body);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let reply = request.send().await?;
    let status = reply.status();
    let text = reply.text().await?;
    if !status.is_success() {
        bail!("{url} answered {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn sign_in(client: &reqwest::Client, api: &str, login: &str) -> anyhow::Result<String> {
    let tokens = post(
        client,
        format!("{api}/auth/login"),
        None,
        json!({ "login": login, "password": STUDENT_PASSWORD }),
    )
    .await?;
    Ok(tokens["access_token"]
        .as_str()
        .context("an access token")?
        .to_owned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let api = format!("{}/api/v1", args.base_url.trim_end_matches('/'));
    let port = args
        .base_url
        .rsplit(':')
        .next()
        .unwrap_or("8080")
        .trim_end_matches('/');
    let origin = args
        .origin
        .clone()
        .unwrap_or_else(|| format!("http://localhost:{port}"));
    let rp_id = origin
        .split("://")
        .nth(1)
        .and_then(|h| h.split(':').next())
        .unwrap_or("localhost")
        .to_owned();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients * 2 + 8)
        .build()?;
    let admin = post(
        &client,
        format!("{api}/auth/login"),
        None,
        json!({ "login": args.login, "password": args.password }),
    )
    .await?["access_token"]
        .as_str()
        .context("admin token")?
        .to_owned();

    // Setup: a school, a class, students with passwords and enrolled passkeys.
    let run = uuid::Uuid::new_v4().simple().to_string()[..6].to_uppercase();
    let school = post(&client, format!("{api}/schools"), Some(&admin),
        json!({ "code": format!("BENCH-{run}"), "name": format!("Trường đo tải {run}"), "level": "THPT" })).await?;
    let school = school["id"].as_str().context("school id")?.to_owned();
    let class = post(
        &client,
        format!("{api}/schools/{school}/classes"),
        Some(&admin),
        json!({ "name": "12A1", "grade": 12, "school_year": "2026-2027" }),
    )
    .await?;
    let class = class["id"].as_str().context("class id")?.to_owned();
    // The class teacher opens an enrollment session; each student registers signed in.
    let teacher_login = format!("gv.bench.{}", run.to_lowercase());
    post(&client, format!("{api}/users"), Some(&admin),
        json!({ "login": teacher_login, "password": STUDENT_PASSWORD, "full_name": "Giáo Viên Đo Tải",
                "roles": ["teacher"], "school_id": school })).await?;
    let teacher = sign_in(&client, &api, &teacher_login).await?;
    let session = post(
        &client,
        format!("{api}/classes/{class}/passkey-enrollment"),
        Some(&teacher),
        json!({ "minutes": 120 }),
    )
    .await?;
    let mut authenticator = SoftAuthenticator::new(&origin, &rp_id);
    let mut logins = Vec::new();
    let setup = Instant::now();
    for i in 0..args.accounts {
        let login = format!("hs.bench.{}.{i:05}", run.to_lowercase());
        let user = post(&client, format!("{api}/users"), Some(&admin),
            json!({ "login": login, "password": STUDENT_PASSWORD, "full_name": format!("Học Sinh {i:05}"),
                    "roles": ["student"], "school_id": school, "class_id": class })).await?;
        user["user"]["id"].as_str().context("user id")?;
        let student = sign_in(&client, &api, &login).await?;
        let start = post(
            &client,
            format!("{api}/passkeys/registration/start"),
            Some(&student),
            json!({ "code": session["code"] }),
        )
        .await?;
        let (_, credential) = authenticator.register(&start["options"]);
        post(
            &client,
            format!("{api}/passkeys/registration/finish"),
            Some(&student),
            json!({ "ceremony_id": start["ceremony_id"], "credential": credential }),
        )
        .await?;
        logins.push(login);
    }
    eprintln!(
        "set up {} students with passkeys in {:.1} s",
        args.accounts,
        setup.elapsed().as_secs_f64()
    );

    let authenticator = Arc::new(Mutex::new(authenticator));
    let clients_count = args.clients;
    if args.accounts < args.clients {
        bail!("--accounts must be at least --clients");
    }
    for method in ["password", "passkey"] {
        let deadline = Instant::now() + Duration::from_secs(args.seconds);
        let started = Instant::now();
        let mut clients = tokio::task::JoinSet::new();
        for c in 0..args.clients {
            let (client, api, logins, authenticator) = (
                client.clone(),
                api.clone(),
                logins.clone(),
                authenticator.clone(),
            );
            clients.spawn(async move {
                let (mut ms, mut failed) = (Vec::new(), 0usize);
                // Each client has its own students: one passkey never signs twice at once, so
                // its counter arrives in order.
                let mine: Vec<usize> = (c..logins.len()).step_by(clients_count).collect();
                let mut n = 0;
                while Instant::now() < deadline {
                    let i = mine[n % mine.len()];
                    n += 1;
                    let t = Instant::now();
                    let ok = if method == "password" {
                        post(&client, format!("{api}/auth/login"), None,
                            json!({ "login": logins[i], "password": STUDENT_PASSWORD })).await.is_ok()
                    } else {
                        match post(&client, format!("{api}/auth/passkey/start"), None, json!({})).await {
                            Ok(start) => {
                                let assertion = authenticator.lock().expect("authenticator").assert(&start["options"], i);
                                post(&client, format!("{api}/auth/passkey/finish"), None,
                                    json!({ "ceremony_id": start["ceremony_id"], "credential": assertion })).await.is_ok()
                            }
                            Err(_) => false,
                        }
                    };
                    if ok {
                        ms.push(t.elapsed().as_secs_f64() * 1000.0);
                    } else {
                        failed += 1;
                    }
                }
                (ms, failed)
            });
        }
        let (mut all, mut failed) = (Vec::new(), 0);
        while let Some(done) = clients.join_next().await {
            let (ms, f) = done?;
            all.extend(ms);
            failed += f;
        }
        loadtest::report(&format!("{method} sign-in"), all, started.elapsed(), failed);
    }
    Ok(())
}
