//! Passkeys end to end in a real browser: Debian's Chromium, headless, driven over WebDriver
//! (chromedriver), with a virtual authenticator from the DevTools WebAuthn domain, against the
//! running service's `/app/` page. Registration, sign-in, and the exam step-up, as a student does.
use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::Duration,
};

use hocthi_tests::{TestApp, USER_PASSWORD, on_every_store};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

on_every_store!(passkeys_work_end_to_end_in_headless_chromium);

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
    profile: std::path::PathBuf,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session, or `None` (a skip) when Chromium is
    /// not installed and the environment does not require it (CI does).
    async fn launch() -> Option<Browser> {
        let installed =
            std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
        if !installed {
            let required = std::env::var("HOCTHI_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "Chromium and chromedriver are required (apt-get install chromium chromium-driver)"
            );
            eprintln!("skipped: Chromium not installed");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        // Wait for the driver to listen (its readiness, not a test condition).
        let mut ready = false;
        for _ in 0..200 {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && r.status().is_success()
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ready, "chromedriver did not come up");
        let profile =
            std::env::temp_dir().join(format!("hocthi-chromium-{}", uuid::Uuid::new_v4()));
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&json!({ "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": { "binary": CHROMIUM, "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", format!("--user-data-dir={}", profile.display()) ] } } } }))
            .send()
            .await
            .expect("a session")
            .json()
            .await
            .unwrap();
        let id = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"));
        let browser = Browser {
            http,
            session: format!("{base}/session/{id}"),
            driver,
            profile,
        };
        browser
            .command("timeouts", json!({ "script": 30_000, "implicit": 5_000 }))
            .await;
        Some(browser)
    }

    async fn command(&self, path: &str, body: Value) -> Value {
        self.call(
            self.http
                .post(format!("{}/{path}", self.session))
                .json(&body),
            path,
        )
        .await
    }

    async fn query(&self, path: &str) -> Value {
        self.call(self.http.get(format!("{}/{path}", self.session)), path)
            .await
    }

    async fn call(&self, request: reqwest::RequestBuilder, path: &str) -> Value {
        let reply: Value = request
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .unwrap();
        assert!(
            reply["value"].get("error").is_none(),
            "{path} failed: {reply}"
        );
        reply["value"].clone()
    }

    /// A DevTools command on the current tab.
    async fn devtools(&self, cmd: &str, params: Value) -> Value {
        self.command("goog/cdp/execute", json!({ "cmd": cmd, "params": params }))
            .await
    }

    async fn open(&self, url: &str) {
        self.command("url", json!({ "url": url })).await;
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .command("element", json!({ "using": "css selector", "value": css }))
            .await;
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css).await;
        self.command(&format!("element/{element}/clear"), json!({}))
            .await;
        self.command(&format!("element/{element}/value"), json!({ "text": text }))
            .await;
    }

    async fn click(&self, css: &str) {
        let element = self.element(css).await;
        self.command(&format!("element/{element}/click"), json!({}))
            .await;
    }

    /// Clicks an action button and waits for the page's own promise for that action.
    async fn act(&self, css: &str) -> Value {
        self.click(css).await;
        self.command(
            "execute/async",
            json!({ "script": "const done = arguments[arguments.length - 1];
                    Promise.resolve(window.hocthi.pending).then(done, e => done({ ok: false, message: String(e) }));",
                    "args": [] }),
        )
        .await
    }

    async fn text(&self, css: &str) -> String {
        let element = self.element(css).await;
        self.query(&format!("element/{element}/text"))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn quit(mut self) {
        let _ = self.http.delete(&self.session).send().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

async fn passkeys_work_end_to_end_in_headless_chromium(app: TestApp) {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let e = super::exams::exam_ready_with_policy(
        &app,
        1,
        "exam",
        Some(json!({ "release": "manual", "identity": "passkey_and_check_in" })),
    )
    .await;
    let attempts = super::exams::register_lock_check_in(&app, &e).await;
    let student = super::passkeys::user_id(&app, &e.students[0].1).await;
    // Supervised by the class teacher: a passkey enrolled under the room's only proctor would not
    // open that proctor's exam.
    let code = super::passkeys::issue_code(&app, &e.teacher, &student).await;
    assert_eq!(code.status, 201, "{}", code.text);
    let port = app.address.rsplit(':').next().unwrap();
    let page = format!("http://localhost:{port}/app/");

    // The page, in Vietnamese by default, with the virtual authenticator on its tab.
    browser.open(&format!("{page}#enroll")).await;
    assert_eq!(browser.text("#enroll h2").await, "Đăng ký khóa truy cập");
    browser.devtools("WebAuthn.enable", json!({})).await;
    let authenticator = browser
        .devtools(
            "WebAuthn.addVirtualAuthenticator",
            json!({ "options": { "protocol": "ctap2", "ctap2Version": "ctap2_1", "transport": "internal",
                    "hasResidentKey": true, "hasUserVerification": true, "isUserVerified": true,
                    "automaticPresenceSimulation": true } }),
        )
        .await["authenticatorId"]
        .as_str()
        .unwrap()
        .to_owned();

    // Registration with the proctor's code, in the student's own session.
    browser.open(&format!("{page}#signin")).await;
    browser.click("#signin summary").await;
    browser.type_into("#login", &e.students[0].0).await;
    browser.type_into("#password", USER_PASSWORD).await;
    let student_in = browser.act("#signin-password").await;
    assert_eq!(student_in["ok"], true, "student sign-in: {student_in}");
    browser.click("#signin summary").await; // folded again, as the proctor will find it
    browser.open(&format!("{page}#enroll")).await;
    browser
        .type_into("#enroll-code", code.body["code"].as_str().unwrap())
        .await;
    browser.type_into("#enroll-name", "Máy tính phòng 01").await;
    let enrolled = browser.act("#enroll-go").await;
    assert_eq!(enrolled["ok"], true, "registration: {enrolled}");
    assert_eq!(enrolled["data"]["name"], "Máy tính phòng 01");
    let held = browser
        .devtools(
            "WebAuthn.getCredentials",
            json!({ "authenticatorId": authenticator }),
        )
        .await;
    let credentials = held["credentials"].as_array().unwrap();
    assert_eq!(credentials.len(), 1, "{held}");
    assert_eq!(credentials[0]["isResidentCredential"], true);

    // Sign-in with no login typed: the discoverable credential names the student.
    browser.open(&format!("{page}#signin")).await;
    let signed_in = browser.act("#signin-passkey").await;
    assert_eq!(signed_in["ok"], true, "sign-in: {signed_in}");
    assert_eq!(signed_in["data"]["login"], e.students[0].0.as_str());
    assert!(browser.text("#who").await.contains("Học Sinh Số 00"));

    // The exam asks the passkey again to start, and again to resume.
    browser.open(&format!("{page}#exam")).await;
    browser.type_into("#attempt-id", &attempts[0]).await;
    let started = browser.act("#attempt-start").await;
    assert_eq!(started["ok"], true, "start: {started}");
    assert_eq!(started["data"]["state"], "in_progress");
    let resumed = browser.act("#attempt-resume").await;
    assert_eq!(resumed["ok"], true, "resume: {resumed}");
    assert_eq!(resumed["data"]["id"], attempts[0].as_str());

    // Three assertions so far; the server kept the authenticator's counter.
    let held = browser
        .devtools(
            "WebAuthn.getCredentials",
            json!({ "authenticatorId": authenticator }),
        )
        .await;
    let count = held["credentials"][0]["signCount"].as_i64().unwrap();
    let stored = hocthi::entities::passkey::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].sign_count, count,
        "server counter follows the authenticator"
    );
    assert!(count >= 3, "{held}");

    // The proctor's check-in screen lists the room; a bad scan is reported in Vietnamese.
    browser.open(&format!("{page}#signin")).await;
    browser.click("#signin summary").await;
    browser.type_into("#login", "gt.phong1").await;
    browser.type_into("#password", USER_PASSWORD).await;
    let proctor = browser.act("#signin-password").await;
    assert_eq!(proctor["ok"], true, "proctor sign-in: {proctor}");
    browser.open(&format!("{page}#checkin")).await;
    browser.type_into("#room-id", &e.room).await;
    let room = browser.act("#room-load").await;
    assert_eq!(room["ok"], true, "room: {room}");
    assert_eq!(room["data"]["seats"].as_array().map(Vec::len), Some(1));
    assert!(browser.text("#seats").await.contains("Đã điểm danh"));
    browser
        .type_into("#seats input.qr", "không phải mã CCCD")
        .await;
    let scanned = browser.act("#seats button.scan").await;
    assert_eq!(scanned["ok"], false, "{scanned}");
    assert!(
        scanned["status"]
            .as_u64()
            .is_some_and(|s| (400..500).contains(&s)),
        "{scanned}"
    );
    browser.quit().await;
}
