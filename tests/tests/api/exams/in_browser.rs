//! A sitting in real browsers (Chromium through WebDriver): two candidates and their proctor.
//! Sign-in, the waiting room until the proctor's check-in on the room page, the test with
//! answers of all three kinds, the network cut while answering, a crash while a save cannot get
//! through, a pause and added time from the room page seen by the candidate, a switch to a
//! second computer approved there, the submits with their receipts, and the released result;
//! then the proctor's room on its own (check-in refusals, every action). Each page is checked
//! with axe-core and photographed at a phone's and a computer's size.
use hocthi_tests::{Stores, TestApp, USER_PASSWORD, spawn_app_with, spawn_real_app_with};

use super::{DEVICE_A, DEVICE_B};
use serde_json::{Value, json};

use crate::web::Browser;

/// The page's heartbeat every second, so a proctor's pause shows within the test's patience.
fn fast_heartbeat(vars: &mut std::collections::HashMap<String, String>) {
    vars.insert("HOCTHI_HEARTBEAT_SECS".into(), "1".into());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sitting_with_two_candidates_and_a_proctor_in_browsers_embedded() {
    a_sitting_with_two_candidates_and_a_proctor_in_browsers(
        spawn_app_with(Stores::Embedded, fast_heartbeat).await,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sitting_with_two_candidates_and_a_proctor_in_browsers_real_stores() {
    if let Some(app) = spawn_real_app_with(fast_heartbeat).await {
        a_sitting_with_two_candidates_and_a_proctor_in_browsers(app).await
    }
}

hocthi_tests::on_every_store!(
    proctor_runs_the_room_in_the_browser,
    pages_show_an_attempt_to_its_candidate_and_a_room_to_its_proctors
);

/// The answers the server holds for an attempt, by slot.
async fn stored(app: &TestApp, token: &str, attempt: &str) -> Value {
    let view = app
        .get(&format!("/api/v1/attempts/{attempt}"), Some(token))
        .await;
    assert_eq!(view.status, 200, "{}", view.text);
    let mut by_slot = serde_json::Map::new();
    for a in view.body["answers"].as_array().unwrap() {
        by_slot.insert(a["slot"].to_string(), a["value"].clone());
    }
    Value::Object(by_slot)
}

/// Registers the class and locks the roster (nobody checked in): each student's (attempt,
/// candidate) ids, in the order of `e.students`.
async fn registered_and_locked(app: &TestApp, e: &super::Exam) -> Vec<(String, String)> {
    let registered = app
        .post(
            &format!("/api/v1/sittings/{}/candidates", e.sitting),
            Some(&e.teacher),
            json!({ "class_ids": [e.class] }),
        )
        .await;
    assert_eq!(registered.status, 200, "{}", registered.text);
    super::lock(app, e).await
}

/// The slot of the `n`th question (from 0) of `part` on the page.
async fn slot(browser: &Browser, part: u8, n: usize) -> u64 {
    browser
        .run(&format!(
            "return Number(document.querySelectorAll('.question[data-part=\"{part}\"]')[{n}].dataset.slot);"
        ))
        .await
        .as_u64()
        .unwrap()
}

/// Seconds on the page's clock ("1:29:50" or "29:50").
const CLOCK_SECONDS: &str = "document.getElementById('clock').textContent.split(':').reduce((s, x) => s * 60 + Number(x), 0)";

async fn a_sitting_with_two_candidates_and_a_proctor_in_browsers(app: TestApp) {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let e = super::exam_ready(&app, 2, "exam").await;
    let seats = registered_and_locked(&app, &e).await;
    let (login, token) = e.students[0].clone();
    let (attempt, candidate) = seats[0].clone();
    // `localhost`, where passkeys work and cookies need no TLS.
    let port = app.address.rsplit(':').next().unwrap();
    let site = format!("http://localhost:{port}");

    // The proctor opens the room before the candidates arrive.
    let Some(proctor) = Browser::launch().await else {
        return;
    };
    sign_in(&proctor, &site, "gt.phong1", "/rooms").await;
    proctor.click(&format!("a[href='/rooms/{}']", e.room)).await;
    proctor
        .wait_for(
            "document.getElementById('live').dataset.state === 'live'",
            "the room's live stream",
        )
        .await;

    // The landing page leads each role on; English on request, Vietnamese first.
    browser.open(&format!("{site}/")).await;
    assert!(browser.text("h1").await.contains("Sở Giáo dục và Đào tạo"));
    browser.check_accessibility("home").await;
    browser.screenshots("home").await;
    browser.click("a[lang=en]").await;
    browser
        .wait_for("document.documentElement.lang === 'en'", "the English page")
        .await;
    assert!(browser.text("h1").await.contains("Department of Education"));
    browser.click("a[lang=vi]").await;
    browser
        .wait_for(
            "document.documentElement.lang === 'vi'",
            "the Vietnamese page",
        )
        .await;

    // Sign-in: a wrong password is named plainly, then the right one leads to the tests.
    browser.click("header a[href='/sign-in']").await;
    browser.type_into("#login", &login).await;
    browser.type_into("#password", "sai mật khẩu").await;
    browser.click("#sign-in").await;
    assert!(
        browser
            .text("#error-summary")
            .await
            .contains("Tên đăng nhập hoặc mật khẩu không đúng")
    );
    browser.check_accessibility("sign-in").await;
    browser.screenshots("sign-in-error").await;
    browser.type_into("#password", USER_PASSWORD).await;
    browser.click("#sign-in").await;
    browser
        .wait_for("location.pathname === '/my/exams'", "the list of tests")
        .await;
    assert!(browser.text("table").await.contains("Ca 1 - Toán"));
    browser.check_accessibility("my-exams").await;
    browser.screenshots("my-exams").await;

    // The waiting room: no start before the proctor's check-in.
    browser.click(&format!("a[href='/exam/{attempt}']")).await;
    browser
        .wait_for("document.getElementById('lobby')", "the waiting room")
        .await;
    assert_eq!(
        browser
            .run("return document.getElementById('start').disabled;")
            .await,
        true
    );
    assert!(
        browser
            .text("#lobby-status")
            .await
            .contains("Chờ giám thị điểm danh")
    );
    browser.check_accessibility("lobby").await;
    browser.screenshots("lobby").await;
    check_in_by_hand(&proctor, &candidate).await;
    browser.open(&format!("{site}/exam/{attempt}")).await;
    assert_eq!(
        browser
            .run("return document.getElementById('start').disabled;")
            .await,
        false
    );
    browser.click("#start").await;
    browser
        .wait_for(
            "document.getElementById('exam') && document.getElementById('clock').textContent !== '--:--'",
            "the test with its clock",
        )
        .await;
    assert!(
        browser
            .text(".question[data-part='2'] .stem")
            .await
            .contains("đồ thị")
    );
    assert_eq!(
        browser.run("return document.querySelectorAll('.stem math').length > 0 && document.querySelector('.question[data-part=\"2\"] img').naturalWidth;").await,
        1,
        "formulas arrive as MathML and the figure loads"
    );
    // What the page weighs as the browser received it (compressed), and that nothing came from
    // another host: the budget is 150 KB before the paper.
    let weight = browser
        .run(
            "const nav = performance.getEntriesByType('navigation')[0];
             const res = performance.getEntriesByType('resource');
             const size = list => list.reduce((n, r) => n + r.encodedBodySize, 0);
             return { others: res.filter(r => !r.name.startsWith(location.origin)).map(r => r.name),
                      page: nav.encodedBodySize, page_decoded: nav.decodedBodySize,
                      assets: size(res.filter(r => r.name.includes('/static/'))),
                      figures: size(res.filter(r => r.name.includes('/media/'))) };",
        )
        .await;
    assert_eq!(
        weight["others"],
        json!([]),
        "a request went to another host"
    );
    let assets = weight["assets"].as_u64().unwrap();
    assert!(
        assets > 0 && assets < 150 * 1024,
        "the test page's styles and scripts: {weight}"
    );
    assert!(
        weight["page"].as_u64().unwrap() * 3 < weight["page_decoded"].as_u64().unwrap(),
        "the test page travels compressed: {weight}"
    );
    eprintln!("the test page's weight: {weight}");
    browser.check_accessibility("exam").await;
    browser.screenshots("exam").await;
    // On a phone the question grid opens from the bar and closes on the question chosen.
    browser
        .driver
        .set_window_rect(0, 0, 390, 844)
        .await
        .unwrap();
    browser.click("#toggle-nav").await;
    browser
        .wait_for(
            "getComputedStyle(document.getElementById('qnav')).display !== 'none'",
            "the grid opened",
        )
        .await;
    browser.check_accessibility("exam-questions").await;
    browser.screenshots("exam-questions").await;
    browser
        .driver
        .set_window_rect(0, 0, 390, 844)
        .await
        .unwrap();
    browser.click(".qlink[data-part='2']").await;
    browser
        .wait_for(
            "!document.getElementById('exam').hasAttribute('data-nav-open')",
            "the grid closed",
        )
        .await;
    browser
        .driver
        .set_window_rect(0, 0, 1366, 768)
        .await
        .unwrap();

    // Answers of all three kinds, each saved.
    let first = slot(&browser, 1, 0).await;
    browser
        .click(".question[data-part='1'] .option:nth-child(2)")
        .await;
    let tf = slot(&browser, 2, 0).await;
    for (mark, value) in [(0, "Đ"), (1, "S"), (2, "Đ"), (3, "S")] {
        browser
            .click(&format!(
                ".question[data-part='2'] input[data-mark='{mark}'][value='{value}']"
            ))
            .await;
    }
    let short = slot(&browser, 3, 0).await;
    browser.type_into(&format!("#a{short}"), "-1,5").await;
    // The short answer takes what the server takes, no more.
    let other_short = slot(&browser, 3, 1).await;
    browser.type_into(&format!("#a{other_short}"), "1a").await;
    assert!(
        browser
            .text(&format!("#error{other_short}"))
            .await
            .contains("Chỉ dùng chữ số")
    );
    browser.type_into(&format!("#a{other_short}"), "").await;
    browser
        .wait_for(
            "document.getElementById('save-state').dataset.state === 'saved'",
            "the answers saved",
        )
        .await;
    let held = stored(&app, &token, &attempt).await;
    assert_eq!(held[first.to_string()], "B");
    assert_eq!(held[tf.to_string()], "ĐSĐS");
    assert_eq!(held[short.to_string()], "-1,5");

    // The second candidate, on their own computer: checked in on the room page, then in.
    let (login_2, token_2) = e.students[1].clone();
    let (attempt_2, candidate_2) = seats[1].clone();
    let Some(second_candidate) = Browser::launch().await else {
        return;
    };
    sign_in(&second_candidate, &site, &login_2, "/my/exams").await;
    second_candidate
        .click(&format!("a[href='/exam/{attempt_2}']"))
        .await;
    second_candidate
        .wait_for(
            "document.getElementById('start')?.disabled",
            "the closed waiting room",
        )
        .await;
    check_in_by_hand(&proctor, &candidate_2).await;
    second_candidate
        .open(&format!("{site}/exam/{attempt_2}"))
        .await;
    second_candidate.click("#start").await;
    second_candidate
        .wait_for(
            "document.getElementById('exam')",
            "the second candidate's test",
        )
        .await;
    let first_2 = slot(&second_candidate, 1, 0).await;
    second_candidate
        .click(".question[data-part='1'] .option:nth-child(1)")
        .await;
    second_candidate
        .wait_for(
            "document.getElementById('save-state').dataset.state === 'saved' && document.querySelector('.qlink[data-answered]')",
            "the second candidate's answer saved",
        )
        .await;
    proctor
        .wait_for(
            &format!("document.querySelector(\"tr[data-candidate='{candidate_2}'] .state .pill\").dataset.state === 'in_progress'"),
            "both candidates at work on the room page",
        )
        .await;
    proctor.check_accessibility("room").await;
    proctor.screenshots("room-in-sitting").await;

    // The network cut while answering: kept here, shown so, sent when it comes back.
    let second = slot(&browser, 1, 1).await;
    browser.offline(true).await;
    browser
        .click(&format!("#q{second} .option:nth-child(4)"))
        .await;
    browser
        .wait_for(
            "document.getElementById('save-state').dataset.state === 'offline'",
            "the offline state",
        )
        .await;
    assert_eq!(
        browser.text("#save-state").await,
        "Mất kết nối — bài làm được giữ trên máy này"
    );
    browser.screenshots("exam-offline").await;
    browser.offline(false).await;
    browser
        .wait_for(
            "document.getElementById('save-state').dataset.state === 'saved'",
            "the journal sent after the cut",
        )
        .await;
    assert_eq!(
        stored(&app, &token, &attempt).await[second.to_string()],
        "D"
    );

    // A crash while saves cannot get through: the journal brings the answer back after the
    // reload and sends it once they can.
    let third = slot(&browser, 1, 2).await;
    browser.devtools("Network.enable", json!({})).await;
    browser
        .devtools("Network.setBlockedURLs", json!({ "urls": ["*/answers"] }))
        .await;
    browser
        .click(&format!("#q{third} .option:nth-child(3)"))
        .await;
    browser
        .wait_for(
            "document.getElementById('save-state').dataset.state !== 'saving'",
            "the failed save",
        )
        .await;
    browser.driver.refresh().await.unwrap();
    browser
        .wait_for(
            &format!("document.querySelector('#q{third} input[value=C]').checked"),
            "the unsent answer back from the journal",
        )
        .await;
    assert_ne!(stored(&app, &token, &attempt).await[third.to_string()], "C");
    browser
        .devtools("Network.setBlockedURLs", json!({ "urls": [] }))
        .await;
    browser
        .wait_for(
            "document.getElementById('save-state').dataset.state === 'saved'",
            "the journal sent after the reload",
        )
        .await;
    assert_eq!(stored(&app, &token, &attempt).await[third.to_string()], "C");

    // The proctor pauses: the candidate sees it at once; then continues and adds ten minutes.
    act(
        &proctor,
        Some(&candidate),
        "pause",
        None,
        "Mất điện phòng thi",
    )
    .await;
    browser
        .wait_for(
            "!document.getElementById('paused').hidden",
            "the pause shown",
        )
        .await;
    browser.screenshots("exam-paused").await;
    act(
        &proctor,
        Some(&candidate),
        "continue",
        None,
        "Có điện trở lại",
    )
    .await;
    browser
        .wait_for(
            "document.getElementById('paused').hidden",
            "the pause lifted",
        )
        .await;
    let before = browser
        .run(&format!("return {CLOCK_SECONDS};"))
        .await
        .as_i64()
        .unwrap();
    act(
        &proctor,
        Some(&candidate),
        "add_time",
        Some(10),
        "Bù thời gian mất điện",
    )
    .await;
    browser
        .wait_for(
            &format!("{CLOCK_SECONDS} > {before} + 500"),
            "ten more minutes on the clock",
        )
        .await;

    // A second computer: it waits for the proctor, then carries on with the same answers.
    let Some(other) = Browser::launch().await else {
        return;
    };
    other
        .open(&format!("{site}/sign-in?next=/exam/{attempt}"))
        .await;
    other.type_into("#login", &login).await;
    other.type_into("#password", USER_PASSWORD).await;
    other.click("#sign-in").await;
    other
        .wait_for(
            "!document.getElementById('device-wait')?.hidden",
            "the wait for approval",
        )
        .await;
    other.check_accessibility("device-wait").await;
    other.screenshots("exam-device-wait").await;
    proctor
        .wait_for(
            &format!("document.querySelector(\"tr[data-candidate='{candidate}'] .device\").textContent.includes('Xin đổi máy')"),
            "the switch request on the room page",
        )
        .await;
    act(
        &proctor,
        Some(&candidate),
        "approve_device",
        None,
        "Máy cũ hỏng bàn phím",
    )
    .await;
    other
        .wait_for(
            "document.getElementById('device-wait').hidden",
            "the approval",
        )
        .await;
    other
        .wait_for(
            &format!("document.querySelector('#q{first} input[value=B]').checked && document.getElementById('a{short}').value === '-1,5'"),
            "the same answers on the second computer",
        )
        .await;
    browser.quit().await;

    // The last answer, then the submit: a summary, a confirmation, a receipt.
    let last_short = slot(&other, 3, 5).await;
    other.type_into(&format!("#a{last_short}"), "12").await;
    other.click("#open-submit").await;
    other
        .wait_for(
            "document.getElementById('submit-dialog').open && !document.getElementById('confirm-submit').disabled",
            "the submit dialog, every answer sent",
        )
        .await;
    let summary = other.text("#submit-summary").await;
    assert!(summary.contains("6/22"), "{summary}");
    let unanswered = other.text("#submit-unanswered").await;
    assert!(unanswered.contains("Phần I: 4, 5,"), "{unanswered}");
    other.check_accessibility("submit").await;
    other.screenshots("submit").await;
    other.click("#confirm-submit").await;
    other
        .wait_for("document.getElementById('receipt-code')", "the receipt")
        .await;
    let receipt = other.text("#receipt-code").await;
    let view = app
        .get(&format!("/api/v1/attempts/{attempt}"), Some(&token))
        .await;
    let answers: Vec<(i32, Option<String>)> = view.body["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["slot"].as_i64().unwrap() as i32,
                a["value"].as_str().map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        receipt,
        hocthi::exams::domain::receipt_code(
            attempt.parse().unwrap(),
            answers.iter().map(|(s, v)| (*s, v.as_deref()))
        ),
        "the receipt is derived from the answers held"
    );
    other.check_accessibility("receipt").await;
    other.screenshots("receipt").await;

    // Every acknowledged answer is in the database and is what the candidate last entered.
    let held = stored(&app, &token, &attempt).await;
    let expected = json!({
        first.to_string(): "B", tf.to_string(): "ĐSĐS", short.to_string(): "-1,5",
        second.to_string(): "D", third.to_string(): "C", last_short.to_string(): "12",
    });
    for (slot, value) in expected.as_object().unwrap() {
        assert_eq!(&held[slot], value, "slot {slot}");
    }
    assert_eq!(
        held.as_object()
            .unwrap()
            .values()
            .filter(|v| !v.is_null() && *v != "")
            .count(),
        6,
        "{held}"
    );

    // The second candidate submits too; their one answer is held.
    second_candidate.click("#open-submit").await;
    second_candidate
        .wait_for(
            "document.getElementById('submit-dialog').open && !document.getElementById('confirm-submit').disabled",
            "the second submit dialog",
        )
        .await;
    second_candidate.click("#confirm-submit").await;
    second_candidate
        .wait_for(
            "document.getElementById('receipt-code')",
            "the second receipt",
        )
        .await;
    let held_2 = stored(&app, &token_2, &attempt_2).await;
    assert_eq!(held_2[first_2.to_string()], "A");
    second_candidate.quit().await;
    proctor
        .wait_for(
            &format!("document.querySelector(\"tr[data-candidate='{candidate_2}'] .state .pill\").dataset.state === 'submitted'"),
            "the submit on the room page",
        )
        .await;
    proctor.quit().await;

    // The released result: the score per part.
    let released = app
        .post(
            &format!("/api/v1/exams/{}/release", e.exam),
            Some(&e.teacher),
            json!({}),
        )
        .await;
    assert_eq!(released.status, 200, "{}", released.text);
    other.open(&format!("{site}/exam/{attempt}")).await;
    other.click("#see-result").await;
    other
        .wait_for("document.getElementById('total')", "the result")
        .await;
    let result = app
        .get(&format!("/api/v1/attempts/{attempt}/result"), Some(&token))
        .await;
    let total = result.body["score"]["total"]
        .as_str()
        .unwrap()
        .replace('.', ",");
    assert_eq!(other.text("#total").await, total);
    other.check_accessibility("result").await;
    other.screenshots("result").await;
    other.quit().await;
}

/// Signs in on the sign-in page and waits for the page it leads to.
async fn sign_in(browser: &Browser, site: &str, login: &str, lands_on: &str) {
    browser.open(&format!("{site}/sign-in")).await;
    browser.type_into("#login", login).await;
    browser.type_into("#password", USER_PASSWORD).await;
    browser.click("#sign-in").await;
    browser
        .wait_for(
            &format!("location.pathname === '{lands_on}'"),
            &format!("{login} signed in"),
        )
        .await;
}

/// The proctor checks a seat in by hand, with a reason, on the room page.
async fn check_in_by_hand(proctor: &Browser, candidate: &str) {
    proctor
        .click(&format!(
            "tr[data-candidate='{candidate}'] [data-seat-action=check_in]"
        ))
        .await;
    proctor
        .type_into("#manual-reason", "Đã đối chiếu thẻ học sinh")
        .await;
    proctor.click("#manual-form button[type=submit]").await;
    proctor
        .wait_for(
            &format!("document.querySelector(\"tr[data-candidate='{candidate}']\").dataset.checkedIn === '1'"),
            "the seat checked in",
        )
        .await;
}

/// A seat's cell text on the room page.
async fn cell(browser: &Browser, candidate: &str, class: &str) -> String {
    browser
        .text(&format!("tr[data-candidate='{candidate}'] .{class}"))
        .await
}

/// Carries out an action from a seat's menu (or the room's, with `None`) with its reason.
async fn act(
    browser: &Browser,
    candidate: Option<&str>,
    action: &str,
    minutes: Option<u32>,
    reason: &str,
) {
    match candidate {
        Some(c) => {
            browser
                .click(&format!("tr[data-candidate='{c}'] [data-seat-action=menu]"))
                .await
        }
        None => {
            browser
                .click(&format!("[data-room-action='{action}']"))
                .await
        }
    }
    browser
        .run(&format!(
            "const s = document.getElementById('action'); s.value = '{action}'; s.dispatchEvent(new Event('change')); return s.value;"
        ))
        .await;
    if let Some(minutes) = minutes {
        browser.type_into("#minutes", &minutes.to_string()).await;
    }
    browser.type_into("#reason", reason).await;
    browser.click("#action-apply").await;
    browser
        .wait_for(
            "!document.getElementById('action-dialog').open",
            &format!("{action} carried out"),
        )
        .await;
}

async fn proctor_runs_the_room_in_the_browser(app: TestApp) {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let e = super::exam_ready(&app, 2, "exam").await;
    let seats = registered_and_locked(&app, &e).await;
    let (attempt, candidate) = seats[0].clone();
    let token = e.students[0].1.clone();
    let port = app.address.rsplit(':').next().unwrap();
    let site = format!("http://localhost:{port}");

    // The proctor signs in and finds today's room by its name.
    browser.open(&format!("{site}/sign-in")).await;
    browser.type_into("#login", "gt.phong1").await;
    browser.type_into("#password", USER_PASSWORD).await;
    browser.click("#sign-in").await;
    browser
        .wait_for("location.pathname === '/rooms'", "my rooms")
        .await;
    let rooms = browser.text("#rooms").await;
    assert!(
        rooms.contains("Phòng 01") && rooms.contains("Hôm nay"),
        "{rooms}"
    );
    browser.check_accessibility("rooms").await;
    browser.screenshots("rooms").await;
    browser.click(&format!("a[href='/rooms/{}']", e.room)).await;
    browser
        .wait_for(
            "document.getElementById('live').dataset.state === 'live'",
            "the live stream of the room",
        )
        .await;
    assert_eq!(
        browser
            .run("return document.querySelectorAll('#seats tbody tr').length;")
            .await,
        2
    );
    assert_eq!(
        cell(&browser, &candidate, "check-in").await,
        "Chưa điểm danh"
    );
    browser.check_accessibility("room").await;
    browser.screenshots("room").await;

    // Check-in: a line that is not an ID card's is refused plainly; then by hand, with reason.
    browser
        .click(&format!(
            "tr[data-candidate='{candidate}'] [data-seat-action=check_in]"
        ))
        .await;
    browser
        .type_into("#qr-line", "không phải mã CCCD\u{E007}")
        .await;
    browser
        .wait_for(
            "!document.getElementById('card-problem').hidden",
            "the refusal",
        )
        .await;
    assert!(!browser.text("#card-problem").await.is_empty());
    browser.check_accessibility("check-in").await;
    browser.screenshots("check-in").await;
    browser
        .type_into("#manual-reason", "Đã đối chiếu thẻ học sinh")
        .await;
    browser.click("#manual-form button[type=submit]").await;
    browser
        .wait_for(
            &format!("document.querySelector(\"tr[data-candidate='{candidate}']\").dataset.checkedIn === '1'"),
            "the seat checked in",
        )
        .await;
    assert_eq!(cell(&browser, &candidate, "check-in").await, "Đã điểm danh");

    // The candidate starts and reports leaving the tab: the map follows from the live stream.
    super::start(&app, &token, &attempt, DEVICE_A).await;
    let saved = super::save(
        &app,
        &token,
        &attempt,
        DEVICE_A,
        1,
        json!([{ "slot": 0, "value": "A" }]),
    )
    .await;
    assert_eq!(saved.status, 200, "{}", saved.text);
    let beat = app
        .post(
            &format!("/api/v1/attempts/{attempt}/heartbeat"),
            Some(&token),
            json!({ "device_id": DEVICE_A, "incidents": ["tab_hidden"] }),
        )
        .await;
    assert_eq!(beat.status, 200, "{}", beat.text);
    browser
        .wait_for(
            &format!("document.querySelector(\"tr[data-candidate='{candidate}'] .incidents\").textContent === '1'"),
            "the incident on the map",
        )
        .await;
    assert_eq!(cell(&browser, &candidate, "state").await, "Đang làm bài");
    assert_eq!(cell(&browser, &candidate, "answered").await, "1/22");

    // Pause, continue and added time from the seat's menu, each with its reason.
    act(&browser, Some(&candidate), "pause", None, "Học sinh bị mệt").await;
    browser
        .wait_for(
            &format!("document.querySelector(\"tr[data-candidate='{candidate}']\").dataset.state === 'paused'"),
            "the seat paused",
        )
        .await;
    let view = app
        .get(&format!("/api/v1/attempts/{attempt}"), Some(&token))
        .await;
    assert_eq!(view.body["state"], "paused");
    act(
        &browser,
        Some(&candidate),
        "continue",
        None,
        "Học sinh đã khỏe",
    )
    .await;
    let before = app
        .get(&format!("/api/v1/attempts/{attempt}"), Some(&token))
        .await;
    assert_eq!(before.body["state"], "in_progress");
    browser
        .click(&format!(
            "tr[data-candidate='{candidate}'] [data-seat-action=menu]"
        ))
        .await;
    browser
        .run("const s = document.getElementById('action'); s.value = 'add_time'; s.dispatchEvent(new Event('change')); return true;")
        .await;
    browser.type_into("#minutes", "7").await;
    browser.type_into("#reason", "Máy tính bị treo").await;
    browser.check_accessibility("seat-actions").await;
    browser.screenshots("seat-actions").await;
    browser.click("#action-apply").await;
    browser
        .wait_for(
            "!document.getElementById('action-dialog').open",
            "time added",
        )
        .await;
    let after = app
        .get(&format!("/api/v1/attempts/{attempt}"), Some(&token))
        .await;
    let gained = after.body["remaining_seconds"].as_i64().unwrap()
        - before.body["remaining_seconds"].as_i64().unwrap();
    assert!((410..=420).contains(&gained), "7 minutes added: {gained} s");

    // A second computer asks to carry on: the map says so, the proctor approves it.
    let asked = app
        .post(
            &format!("/api/v1/attempts/{attempt}/resume"),
            Some(&token),
            json!({ "device_id": DEVICE_B }),
        )
        .await;
    assert_eq!(asked.status, 409, "{}", asked.text);
    browser
        .wait_for(
            &format!("document.querySelector(\"tr[data-candidate='{candidate}'] .device\").textContent.includes('Xin đổi máy')"),
            "the switch request on the map",
        )
        .await;
    act(
        &browser,
        Some(&candidate),
        "approve_device",
        None,
        "Máy cũ hỏng bàn phím",
    )
    .await;
    let resumed = app
        .post(
            &format!("/api/v1/attempts/{attempt}/resume"),
            Some(&token),
            json!({ "device_id": DEVICE_B }),
        )
        .await;
    assert_eq!(resumed.status, 200, "{}", resumed.text);

    // The whole room, and a written report.
    act(&browser, None, "pause_room", None, "Mất điện cả phòng").await;
    let view = app
        .get(&format!("/api/v1/attempts/{attempt}"), Some(&token))
        .await;
    assert_eq!(view.body["state"], "paused");
    act(&browser, None, "continue_room", None, "Có điện trở lại").await;
    let view = app
        .get(&format!("/api/v1/attempts/{attempt}"), Some(&token))
        .await;
    assert_eq!(view.body["state"], "in_progress");
    act(
        &browser,
        Some(&candidate),
        "report",
        None,
        "Thí sinh để điện thoại trên bàn",
    )
    .await;
    let reports = app
        .get(
            &format!("/api/v1/rooms/{}/incident-reports", e.room),
            Some(&e.proctor),
        )
        .await;
    assert!(
        reports.text.contains("Thí sinh để điện thoại trên bàn"),
        "{}",
        reports.text
    );
    browser.screenshots("room-after").await;
    browser.quit().await;
}

/// A page as a browser with this session asks for it (the access token in the session cookie).
async fn page_as(app: &TestApp, token: &str, path: &str) -> (u16, String) {
    let reply = app
        .client
        .get(app.url(path))
        .header("cookie", format!("hocthi_access={token}"))
        .send()
        .await
        .unwrap();
    (reply.status().as_u16(), reply.text().await.unwrap())
}

async fn pages_show_an_attempt_to_its_candidate_and_a_room_to_its_proctors(app: TestApp) {
    let e = super::exam_ready(&app, 2, "exam").await;
    let seats = registered_and_locked(&app, &e).await;
    let (attempt, _) = &seats[0];
    let exam_page = format!("/exam/{attempt}");
    let room_page = format!("/rooms/{}", e.room);
    // The candidate sees their own attempt; a classmate, the teacher who set the exam and the
    // room's proctor do not (the classmate is told it does not exist).
    assert_eq!(page_as(&app, &e.students[0].1, &exam_page).await.0, 200);
    assert_eq!(page_as(&app, &e.students[1].1, &exam_page).await.0, 404);
    assert_eq!(page_as(&app, &e.teacher, &exam_page).await.0, 403);
    assert_eq!(page_as(&app, &e.proctor, &exam_page).await.0, 403);
    assert_eq!(
        page_as(&app, &e.students[1].1, &format!("{exam_page}/result"))
            .await
            .0,
        404
    );
    // The room's proctor sees the room and finds it in their list; another proctor of the same
    // school does neither, and a candidate may not look at rooms at all.
    let (status, list) = page_as(&app, &e.proctor, "/rooms").await;
    assert_eq!(status, 200);
    assert!(
        list.contains(&room_page),
        "the proctor's list names the room"
    );
    assert_eq!(page_as(&app, &e.proctor, &room_page).await.0, 200);
    app.create_user(&e.admin, "gt.phong2", &["proctor"], Some(e.school))
        .await;
    let stranger = app.token("gt.phong2", USER_PASSWORD).await;
    let (status, list) = page_as(&app, &stranger, "/rooms").await;
    assert_eq!(status, 200);
    assert!(
        !list.contains(&room_page),
        "another proctor's list does not"
    );
    assert_eq!(page_as(&app, &stranger, &room_page).await.0, 404);
    assert_eq!(page_as(&app, &e.students[0].1, &room_page).await.0, 403);
    assert_eq!(page_as(&app, &e.students[0].1, "/rooms").await.0, 403);
    // Without a session every page sends the reader to sign in, and comes back afterwards.
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url(&room_page))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 303);
    assert_eq!(
        anonymous.headers()["location"],
        format!("/sign-in?next=/rooms/{}", e.room).as_str()
    );
}
