//! Passkeys end to end in a real browser: Debian's Chromium, headless, driven over WebDriver
//! (`web::Browser`), with a virtual authenticator from the DevTools WebAuthn domain, against the
//! running service's `/app/` page. Registration, sign-in, and the exam step-up, as a student does.
use hocthi_tests::{TestApp, USER_PASSWORD, on_every_store};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::web::Browser;

on_every_store!(passkeys_work_end_to_end_in_headless_chromium);

/// Clicks an action button of the passkey page and waits for the page's own promise for it.
async fn act(browser: &Browser, css: &str) -> Value {
    browser.click(css).await;
    browser
        .driver
        .execute_async(
            "const done = arguments[arguments.length - 1];
             Promise.resolve(window.hocthi.pending).then(done, e => done({ ok: false, message: String(e) }));",
            Vec::new(),
        )
        .await
        .expect("the page's action settles")
        .json()
        .clone()
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
    let student_in = act(&browser, "#signin-password").await;
    assert_eq!(student_in["ok"], true, "student sign-in: {student_in}");
    browser.click("#signin summary").await; // folded again, as the proctor will find it
    browser.open(&format!("{page}#enroll")).await;
    browser
        .type_into("#enroll-code", code.body["code"].as_str().unwrap())
        .await;
    browser.type_into("#enroll-name", "Máy tính phòng 01").await;
    let enrolled = act(&browser, "#enroll-go").await;
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
    let signed_in = act(&browser, "#signin-passkey").await;
    assert_eq!(signed_in["ok"], true, "sign-in: {signed_in}");
    assert_eq!(signed_in["data"]["login"], e.students[0].0.as_str());
    assert!(browser.text("#who").await.contains("Học Sinh Số 00"));

    // The exam asks the passkey again to start, and again to resume.
    browser.open(&format!("{page}#exam")).await;
    browser.type_into("#attempt-id", &attempts[0]).await;
    let started = act(&browser, "#attempt-start").await;
    assert_eq!(started["ok"], true, "start: {started}");
    assert_eq!(started["data"]["state"], "in_progress");
    let resumed = act(&browser, "#attempt-resume").await;
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
    let proctor = act(&browser, "#signin-password").await;
    assert_eq!(proctor["ok"], true, "proctor sign-in: {proctor}");
    browser.open(&format!("{page}#checkin")).await;
    browser.type_into("#room-id", &e.room).await;
    let room = act(&browser, "#room-load").await;
    assert_eq!(room["ok"], true, "room: {room}");
    assert_eq!(room["data"]["seats"].as_array().map(Vec::len), Some(1));
    assert!(browser.text("#seats").await.contains("Đã điểm danh"));
    browser
        .type_into("#seats input.qr", "không phải mã CCCD")
        .await;
    let scanned = act(&browser, "#seats button.scan").await;
    assert_eq!(scanned["ok"], false, "{scanned}");
    assert!(
        scanned["status"]
            .as_u64()
            .is_some_and(|s| (400..500).contains(&s)),
        "{scanned}"
    );
    browser.quit().await;
}
