//! Timed assessments: the invariants of the attempt (durable acknowledged saves, the server's
//! clock, idempotent saves, exactly-once auto-submit, one device at a time, no keys for
//! candidates) and a whole exam from roster to results.
use chrono::{DateTime, Duration, Utc};
use hocthi_tests::{TestApp, USER_PASSWORD, on_every_store};
use serde_json::{Value, json};
use uuid::Uuid;

on_every_store!(
    acknowledged_saves_survive_a_restart,
    an_older_sequence_never_overwrites_a_newer_one,
    a_save_after_the_deadline_is_refused,
    a_pause_freezes_time_and_added_time_extends_the_deadline,
    two_sweepers_submit_each_expired_attempt_exactly_once,
    a_second_device_is_refused_until_a_proctor_approves,
    a_candidate_never_sees_a_key_or_another_candidates_attempt,
    the_late_start_limit_and_forward_only_sections_hold,
    time_lost_to_an_outage_is_given_back,
    proctors_see_the_room_live_across_instances,
    the_dashboard_counts_answers_without_reading_saves_and_survives_a_lost_hot_store,
    practice_tests_allow_several_attempts_and_show_the_key,
    essays_are_double_marked_with_a_third_marker_on_disagreement,
    a_full_exam_runs_from_roster_to_results,
    a_failing_database_answers_503_and_nothing_acknowledged_is_lost,
    a_submit_is_graded_after_its_response_and_before_any_score_is_read,
    starts_and_submits_that_come_at_once_are_each_applied_once,
);

pub struct Exam {
    pub admin: String,
    pub teacher: String,
    pub proctor: String,
    pub proctor_id: Uuid,
    pub school: Uuid,
    pub class: Uuid,
    pub paper: String,
    pub codes: Vec<String>,
    pub exam: String,
    pub sitting: String,
    pub room: String,
    /// (login, token) of each student, in candidate-number order once registered.
    pub students: Vec<(String, String)>,
}

fn maths_item(n: usize, kind: &str) -> Value {
    let correct = ["A", "B", "C", "D"][n % 4];
    let body = match kind {
        "multiple_choice" => {
            json!({ "kind": kind, "stem": format!("Câu {n}: giá trị của $f({n})$ là"),
            "options": [format!("{n}"), format!("{}", n + 1), format!("{}", n + 2), format!("{}", n + 3)],
            "correct": correct })
        }
        "true_false" => json!({ "kind": kind, "stem": format!("Câu {n}: cho hàm số $y = x^{n}$"),
            "statements": (0..4).map(|i| json!({ "text": format!("Mệnh đề {n}.{i}"), "correct": (n + i).is_multiple_of(2) })).collect::<Vec<_>>() }),
        _ => json!({ "kind": kind, "stem": format!("Câu {n}: tính (làm tròn đến hàng phần mười)"),
            "accepted": [format!("{},5", n % 10)] }),
    };
    json!({ "body": body, "metadata": { "subject": "toan", "grade": 12, "topic": ["Chương 1. Hàm số"], "level": "hieu" } })
}

async fn approved(app: &TestApp, author: &str, reviewer: &str, request: Value) {
    let created = app.post("/api/v1/items", Some(author), request).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let submitted = app
        .post(
            &format!("/api/v1/items/{id}/submit"),
            Some(author),
            json!({}),
        )
        .await;
    assert!(submitted.status < 300, "{}", submitted.text);
    let reviewed = app
        .post(
            &format!("/api/v1/items/{id}/review"),
            Some(reviewer),
            json!({ "decision": "approve" }),
        )
        .await;
    assert_eq!(reviewed.status, 204, "{}", reviewed.text);
}

/// A Maths paper in the 2025 format (12/4/6) with `codes` codes, by the bank's teacher.
async fn maths_paper(
    app: &TestApp,
    author: &str,
    reviewer: &str,
    codes: u8,
) -> (String, Vec<String>) {
    let mut n = 0;
    for (kind, count) in [
        ("multiple_choice", 12),
        ("true_false", 4),
        ("short_answer", 6),
    ] {
        for _ in 0..count {
            n += 1;
            approved(app, author, reviewer, maths_item(n, kind)).await;
        }
    }
    let matrix = json!({ "subject": "toan", "name": "Đề kiểm tra giữa kì - Toán 12", "rows": [
        { "topic": "Chương 1. Hàm số", "cells": [
            { "kind": "multiple_choice", "level": "hieu", "count": 12 },
            { "kind": "true_false", "level": "hieu", "count": 4 },
            { "kind": "short_answer", "level": "hieu", "count": 6 } ] } ] });
    let paper = app
        .post(
            "/api/v1/papers",
            Some(author),
            json!({ "matrix": matrix, "codes": codes }),
        )
        .await;
    assert_eq!(paper.status, 201, "{}", paper.text);
    let codes = paper.body["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (paper.body["id"].as_str().unwrap().to_owned(), codes)
}

/// A school, a class of `students`, a proctor, a Maths paper with 2 codes, an exam with one
/// sitting that started a minute ago, one room, registered, locked and checked in.
pub async fn exam_ready(app: &TestApp, students: usize, kind: &str) -> Exam {
    exam_ready_with_policy(app, students, kind, None).await
}

/// The same, with the exam's policy given (e.g. its identity check).
pub async fn exam_ready_with_policy(
    app: &TestApp,
    students: usize,
    kind: &str,
    policy: Option<Value>,
) -> Exam {
    let bank = super::items::bank(app).await;
    let (paper, codes) = maths_paper(app, &bank.author, &bank.reviewer, 2).await;
    let class = app.create_class(&bank.admin, bank.school, "12A1").await;
    let proctor_id = app
        .create_user(&bank.admin, "gt.phong1", &["proctor"], Some(bank.school))
        .await;
    let mut logins = Vec::new();
    for i in 0..students {
        let login = format!("hs.{i:02}");
        let created = app
            .post(
                "/api/v1/users",
                Some(&bank.admin),
                json!({ "login": login, "password": USER_PASSWORD, "full_name": format!("Học Sinh Số {i:02}"),
                        "roles": ["student"], "school_id": bank.school, "class_id": class, "birth_date": "2008-05-0{}".replace("0{}", &format!("{:02}", i % 28 + 1)) }),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        logins.push(login);
    }
    let exam = app
        .post(
            "/api/v1/exams",
            Some(&bank.author),
            json!({ "name": "Kiểm tra giữa học kì I - Toán 12", "kind": kind, "scope": "school",
                    "school_id": bank.school, "policy": policy }),
        )
        .await;
    assert_eq!(exam.status, 201, "{}", exam.text);
    let exam_id = exam.body["id"].as_str().unwrap().to_owned();
    let starts_at = app.state.clock.now() - Duration::minutes(1);
    let sitting = app
        .post(
            &format!("/api/v1/exams/{exam_id}/sittings"),
            Some(&bank.author),
            json!({ "name": "Ca 1 - Toán", "paper_id": paper, "starts_at": starts_at,
                    "closes_at": starts_at + Duration::days(3) }),
        )
        .await;
    assert_eq!(sitting.status, 201, "{}", sitting.text);
    assert_eq!(sitting.body["minutes"], 90);
    let sitting_id = sitting.body["id"].as_str().unwrap().to_owned();
    let room = app
        .post(
            &format!("/api/v1/sittings/{sitting_id}/rooms"),
            Some(&bank.author),
            json!({ "name": "Phòng 01", "capacity": 24, "proctor_ids": [proctor_id] }),
        )
        .await;
    assert_eq!(room.status, 201, "{}", room.text);
    let mut students_tokens = Vec::new();
    for login in &logins {
        students_tokens.push((login.clone(), app.token(login, USER_PASSWORD).await));
    }
    Exam {
        admin: bank.admin,
        proctor: app.token("gt.phong1", USER_PASSWORD).await,
        proctor_id,
        teacher: bank.author,
        school: bank.school,
        class,
        paper,
        codes,
        exam: exam_id,
        sitting: sitting_id,
        room: room.body["id"].as_str().unwrap().to_owned(),
        students: students_tokens,
    }
}

/// Registers the class, locks the roster and checks everyone in; returns attempt ids in
/// candidate-number order (the order of `e.students`).
pub async fn register_lock_check_in(app: &TestApp, e: &Exam) -> Vec<String> {
    let registered = app
        .post(
            &format!("/api/v1/sittings/{}/candidates", e.sitting),
            Some(&e.teacher),
            json!({ "class_ids": [e.class] }),
        )
        .await;
    assert_eq!(registered.status, 200, "{}", registered.text);
    lock_and_check_in(app, e).await
}

async fn lock_and_check_in(app: &TestApp, e: &Exam) -> Vec<String> {
    let locked = app
        .post(
            &format!("/api/v1/sittings/{}/lock", e.sitting),
            Some(&e.teacher),
            json!({}),
        )
        .await;
    assert_eq!(locked.status, 200, "{}", locked.text);
    let list = app
        .get(
            &format!("/api/v1/sittings/{}/candidates", e.sitting),
            Some(&e.teacher),
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    let mut attempts = Vec::new();
    for (login, token) in &e.students {
        let mine = app.get("/api/v1/me/attempts", Some(token)).await;
        let id = mine.body[0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{login} has an attempt: {}", mine.text))
            .to_owned();
        let candidate = list
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["attempt_id"] == id.as_str())
            .unwrap();
        let checked = app
            .post(
                &format!(
                    "/api/v1/candidates/{}/check-in",
                    candidate["id"].as_str().unwrap()
                ),
                Some(&e.proctor),
                json!({ "reason": "Đã đối chiếu thẻ học sinh" }),
            )
            .await;
        assert_eq!(checked.status, 204, "{}", checked.text);
        attempts.push(id);
    }
    attempts
}

async fn start(app: &TestApp, token: &str, attempt: &str, device: &str) -> Value {
    let started = app
        .post(
            &format!("/api/v1/attempts/{attempt}/start"),
            Some(token),
            json!({ "device_id": device }),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    assert!(started.body["server_now"].is_string());
    started.body
}

async fn save(
    app: &TestApp,
    token: &str,
    attempt: &str,
    device: &str,
    seq: i64,
    answers: Value,
) -> hocthi_tests::Reply {
    app.send(
        app.client
            .put(app.url(&format!("/api/v1/attempts/{attempt}/answers")))
            .bearer_auth(token)
            .json(&json!({ "device_id": device, "seq": seq, "answers": answers })),
    )
    .await
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str().expect("a timestamp").parse().expect("RFC 3339")
}

async fn heartbeat(app: &TestApp, token: &str, attempt: &str) -> hocthi_tests::Reply {
    app.post(
        &format!("/api/v1/attempts/{attempt}/heartbeat"),
        Some(token),
        json!({ "device_id": DEVICE_A }),
    )
    .await
}

async fn answers_of(app: &TestApp, token: &str, attempt: &str, device: &str) -> Value {
    let resumed = app
        .post(
            &format!("/api/v1/attempts/{attempt}/resume"),
            Some(token),
            json!({ "device_id": device }),
        )
        .await;
    assert_eq!(resumed.status, 200, "{}", resumed.text);
    resumed.body
}

fn answer(view: &Value, slot: i64) -> Value {
    view["answers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["slot"] == slot)
        .map(|a| a["value"].clone())
        .unwrap_or(Value::Null)
}

const DEVICE_A: &str = "may-tinh-phong-01-a";
const DEVICE_B: &str = "dien-thoai-hoc-sinh-b";

async fn acknowledged_saves_survive_a_restart(app: TestApp) {
    let e = exam_ready(&app, 1, "exam").await;
    let attempts = register_lock_check_in(&app, &e).await;
    let (_, token) = &e.students[0];
    start(&app, token, &attempts[0], DEVICE_A).await;
    let mut acked = Vec::new();
    for slot in 0..12 {
        let letter = ["A", "B", "C", "D"][slot % 4];
        let reply = save(
            &app,
            token,
            &attempts[0],
            DEVICE_A,
            slot as i64 + 1,
            json!([{ "slot": slot, "value": letter }]),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert!(reply.body["deadline"].is_string());
        acked.push((slot, letter));
    }
    let several = save(
        &app,
        token,
        &attempts[0],
        DEVICE_A,
        13,
        json!([{ "slot": 12, "value": ["Đ", "S", null, "Đ"] }, { "slot": 16, "value": "-1.5" }]),
    )
    .await;
    assert_eq!(several.status, 200, "{}", several.text);

    // The instance goes away; a new one on the same stores knows every acknowledged answer.
    app.stop().await;
    let restarted = app.another_instance().await;
    let view = answers_of(&restarted, token, &attempts[0], DEVICE_A).await;
    for (slot, letter) in acked {
        assert_eq!(answer(&view, slot as i64), letter, "slot {slot}");
    }
    assert_eq!(answer(&view, 12), "ĐS_Đ");
    assert_eq!(answer(&view, 16), "-1,5");
    assert_eq!(view["last_seq"], 13);
    assert_eq!(view["state"], "in_progress");
}

async fn an_older_sequence_never_overwrites_a_newer_one(app: TestApp) {
    let e = exam_ready(&app, 1, "exam").await;
    let attempts = register_lock_check_in(&app, &e).await;
    let (_, token) = &e.students[0];
    let a = &attempts[0];
    start(&app, token, a, DEVICE_A).await;
    assert_eq!(
        save(
            &app,
            token,
            a,
            DEVICE_A,
            5,
            json!([{ "slot": 0, "value": "C" }])
        )
        .await
        .status,
        200
    );
    // A late, older save is acknowledged (it is durable history) but does not win.
    assert_eq!(
        save(
            &app,
            token,
            a,
            DEVICE_A,
            3,
            json!([{ "slot": 0, "value": "A" }])
        )
        .await
        .status,
        200
    );
    // Resending the same save is harmless.
    assert_eq!(
        save(
            &app,
            token,
            a,
            DEVICE_A,
            5,
            json!([{ "slot": 0, "value": "C" }])
        )
        .await
        .status,
        200
    );
    let view = answers_of(&app, token, a, DEVICE_A).await;
    assert_eq!(answer(&view, 0), "C");
    assert_eq!(view["last_seq"], 5);

    // Many saves racing in any order: the highest sequence wins.
    let mut sends = Vec::new();
    for seq in (10..40).rev() {
        let letter = ["A", "B", "C", "D"][(seq % 4) as usize];
        sends.push(save(
            &app,
            token,
            a,
            DEVICE_A,
            seq,
            json!([{ "slot": 1, "value": letter }]),
        ));
    }
    for reply in futures_util::future::join_all(sends).await {
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let view = answers_of(&app, token, a, DEVICE_A).await;
    assert_eq!(answer(&view, 1), ["A", "B", "C", "D"][39 % 4]);
    assert_eq!(view["last_seq"], 39);

    // Each answer is checked against its question's type; nothing of a bad save is kept.
    let bad = save(&app, token, a, DEVICE_A, 50,
        json!([{ "slot": 2, "value": "B" }, { "slot": 0, "value": "E" }, { "slot": 16, "value": "12345" }, { "slot": 99, "value": "A" }])).await;
    assert_eq!(
        (bad.status, bad.body["code"].as_str()),
        (422, Some("validation_failed")),
        "{}",
        bad.text
    );
    let fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["answers[1].value", "answers[2].value", "answers[3].slot"]
    );
    let view = answers_of(&app, token, a, DEVICE_A).await;
    assert_eq!(answer(&view, 2), Value::Null);
}

async fn a_save_after_the_deadline_is_refused(app: TestApp) {
    let e = exam_ready(&app, 1, "exam").await;
    let attempts = register_lock_check_in(&app, &e).await;
    let (_, token) = &e.students[0];
    let a = &attempts[0];
    let started = start(&app, token, a, DEVICE_A).await;
    let deadline = at(&started["deadline"]);
    let allowed = deadline - at(&started["server_now"]);
    assert!(
        (allowed - Duration::minutes(90)).num_seconds().abs() <= 1,
        "90 minutes for Maths: {allowed}"
    );
    // Just past the deadline, inside the network grace (15 s by default): still saved.
    app.state
        .clock
        .advance(Duration::minutes(90) + Duration::seconds(5));
    let inside = save(
        &app,
        token,
        a,
        DEVICE_A,
        1,
        json!([{ "slot": 0, "value": "A" }]),
    )
    .await;
    assert_eq!(inside.status, 200, "{}", inside.text);
    app.state.clock.advance(Duration::seconds(20));
    let late = save(
        &app,
        token,
        a,
        DEVICE_A,
        2,
        json!([{ "slot": 0, "value": "B" }]),
    )
    .await;
    assert_eq!(
        (late.status, late.body["code"].as_str()),
        (409, Some("deadline_passed")),
        "{}",
        late.text
    );
    assert!(
        late.body["title"].as_str().unwrap().contains("hết giờ"),
        "{}",
        late.text
    );
    let view = answers_of(&app, token, a, DEVICE_A).await;
    assert_eq!(answer(&view, 0), "A");
    assert_eq!(view["remaining_seconds"], 0);
}

async fn a_pause_freezes_time_and_added_time_extends_the_deadline(app: TestApp) {
    let e = exam_ready(&app, 1, "exam").await;
    let attempts = register_lock_check_in(&app, &e).await;
    let (_, token) = &e.students[0];
    let a = &attempts[0];
    let started = start(&app, token, a, DEVICE_A).await;
    let first_deadline = at(&started["deadline"]);
    // Heartbeats answer from the attempt's clock copy in the hot store: each change below must
    // rewrite it, or the next heartbeat shows the clock from before.
    let running = heartbeat(&app, token, a).await;
    assert_eq!(running.body["state"], "in_progress", "{}", running.text);
    assert_eq!(at(&running.body["deadline"]), first_deadline);
    app.state.clock.advance(Duration::minutes(20));
    let paused = app
        .post(
            &format!("/api/v1/attempts/{a}/pause"),
            Some(&e.proctor),
            json!({ "reason": "Mất điện cục bộ" }),
        )
        .await;
    assert_eq!(paused.status, 200, "{}", paused.text);
    assert_eq!(paused.body["state"], "paused");
    let before = heartbeat(&app, token, a).await;
    app.state.clock.advance(Duration::minutes(10));
    let after = heartbeat(&app, token, a).await;
    assert_eq!(after.body["state"], "paused");
    assert_eq!(
        before.body["remaining_seconds"], after.body["remaining_seconds"],
        "time is frozen while paused"
    );
    let refused = save(
        &app,
        token,
        a,
        DEVICE_A,
        1,
        json!([{ "slot": 0, "value": "A" }]),
    )
    .await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (409, Some("attempt_paused"))
    );

    let carried_on = app
        .post(
            &format!("/api/v1/attempts/{a}/continue"),
            Some(&e.proctor),
            json!({}),
        )
        .await;
    assert_eq!(carried_on.status, 200, "{}", carried_on.text);
    let running = heartbeat(&app, token, a).await;
    assert_eq!(running.body["state"], "in_progress", "{}", running.text);
    assert_eq!(running.body["deadline"], carried_on.body["deadline"]);
    let moved = at(&carried_on.body["deadline"]) - first_deadline;
    assert!(
        moved >= Duration::minutes(10) && moved < Duration::minutes(10) + Duration::seconds(5),
        "{moved}"
    );

    let bad = app
        .post(
            &format!("/api/v1/attempts/{a}/add-time"),
            Some(&e.proctor),
            json!({ "minutes": 0, "reason": "x" }),
        )
        .await;
    assert_eq!(bad.status, 422);
    let added = app
        .post(
            &format!("/api/v1/attempts/{a}/add-time"),
            Some(&e.proctor),
            json!({ "minutes": 5, "reason": "Máy tính hỏng, đổi máy" }),
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.text);
    assert_eq!(
        at(&added.body["deadline"]) - at(&carried_on.body["deadline"]),
        Duration::minutes(5)
    );
    let extended = heartbeat(&app, token, a).await;
    assert_eq!(extended.body["deadline"], added.body["deadline"]);
    assert_eq!(
        extended.body["remaining_seconds"].as_i64().unwrap(),
        (at(&added.body["deadline"]) - app.state.clock.now()).num_seconds()
    );

    // Each action is in the audit log and in the attempt's own chain.
    let log = app
        .get(
            &format!("/api/v1/audit/events?target_type=attempt&target_id={a}"),
            Some(&e.admin),
        )
        .await;
    let actions: Vec<&str> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    for action in ["attempt.paused", "attempt.continued", "attempt.time_added"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    let (appeal, kinds) = appeal_events(&app, &e.teacher, a).await;
    assert_eq!(kinds, ["started", "paused", "continued", "time_added"]);
    assert_eq!(appeal.body["chain"]["valid"], true);
}

async fn two_sweepers_submit_each_expired_attempt_exactly_once(app: TestApp) {
    let e = exam_ready(&app, 6, "exam").await;
    let attempts = register_lock_check_in(&app, &e).await;
    for (i, (_, token)) in e.students.iter().enumerate() {
        start(&app, token, &attempts[i], DEVICE_A).await;
        assert_eq!(
            save(
                &app,
                token,
                &attempts[i],
                DEVICE_A,
                1,
                json!([{ "slot": 0, "value": "A" }])
            )
            .await
            .status,
            200
        );
    }
    for (i, (_, token)) in e.students.iter().enumerate() {
        let running = heartbeat(&app, token, &attempts[i]).await;
        assert_eq!(running.body["state"], "in_progress", "{}", running.text);
    }
    let second = app.another_instance().await;
    for instance in [&app, &second] {
        instance.state.clock.advance(Duration::minutes(91));
    }
    let (one, two) = tokio::join!(
        hocthi::exams::sweep_once(&app.state),
        hocthi::exams::sweep_once(&second.state)
    );
    let (one, two) = (one.expect("sweep one"), two.expect("sweep two"));
    let mut all: Vec<String> = one
        .iter()
        .chain(two.iter())
        .map(|u| u.to_string())
        .collect();
    all.sort();
    let mut expected = attempts.clone();
    expected.sort();
    assert_eq!(
        all,
        expected,
        "each attempt submitted once, by one of the two ({} + {})",
        one.len(),
        two.len()
    );
    // Sweeping again (or after a restart) finds nothing left to do.
    let third = app.another_instance().await;
    third.state.clock.advance(Duration::minutes(91));
    assert!(
        hocthi::exams::sweep_once(&third.state)
            .await
            .unwrap()
            .is_empty()
    );
    // Heartbeats on the first instance see the attempts closed: on shared stores whichever
    // instance swept them (each in-process hot store of the embedded default is its own).
    let swept_here: Vec<String> = one.iter().map(|u| u.to_string()).collect();
    for (i, (_, token)) in e.students.iter().enumerate() {
        if app.stores == hocthi_tests::Stores::Embedded && !swept_here.contains(&attempts[i]) {
            continue;
        }
        let closed = heartbeat(&app, token, &attempts[i]).await;
        assert_eq!(closed.body["state"], "auto_submitted", "{}", closed.text);
        assert_eq!(closed.body["remaining_seconds"], 0);
    }
    for a in &attempts {
        let appeal = app
            .get(&format!("/api/v1/attempts/{a}/appeal"), Some(&e.teacher))
            .await;
        let autos = appeal.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "auto_submitted")
            .count();
        assert_eq!(autos, 1, "{}", appeal.text);
        assert_eq!(appeal.body["state"], "auto_submitted");
        assert_eq!(
            appeal.body["submitted_at"], appeal.body["deadline"],
            "submitted at its deadline"
        );
        assert!(
            appeal.body["score"]["total"].is_string(),
            "graded: {}",
            appeal.text
        );
    }
}

async fn a_second_device_is_refused_until_a_proctor_approves(app: TestApp) {
    let e = exam_ready(&app, 1, "exam").await;
    let attempts = register_lock_check_in(&app, &e).await;
    let (_, token) = &e.students[0];
    let a = &attempts[0];
    start(&app, token, a, DEVICE_A).await;
    assert_eq!(
        save(
            &app,
            token,
            a,
            DEVICE_A,
            1,
            json!([{ "slot": 3, "value": "D" }])
        )
        .await
        .status,
        200
    );
    let other = app
        .post(
            &format!("/api/v1/attempts/{a}/resume"),
            Some(token),
            json!({ "device_id": DEVICE_B }),
        )
        .await;
    assert_eq!(
        (other.status, other.body["code"].as_str()),
        (409, Some("device_switch_needs_approval")),
        "{}",
        other.text
    );
    let sneaky = save(
        &app,
        token,
        a,
        DEVICE_B,
        2,
        json!([{ "slot": 3, "value": "A" }]),
    )
    .await;
    assert_eq!(
        (sneaky.status, sneaky.body["code"].as_str()),
        (409, Some("device_not_current"))
    );
    let status = app
        .get(
            &format!("/api/v1/rooms/{}/status", e.room),
            Some(&e.proctor),
        )
        .await;
    assert_eq!(
        status.body["seats"][0]["device_switch_pending"], true,
        "{}",
        status.text
    );
    // A stranger cannot approve it; the room's proctor can.
    let student_try = app
        .post(
            &format!("/api/v1/attempts/{a}/approve-device"),
            Some(token),
            json!({}),
        )
        .await;
    assert_eq!(student_try.status, 403);
    let approved = app
        .post(
            &format!("/api/v1/attempts/{a}/approve-device"),
            Some(&e.proctor),
            json!({}),
        )
        .await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    let view = answers_of(&app, token, a, DEVICE_B).await;
    assert_eq!(answer(&view, 3), "D", "the answers follow the candidate");
    assert_eq!(
        save(
            &app,
            token,
            a,
            DEVICE_B,
            2,
            json!([{ "slot": 3, "value": "A" }])
        )
        .await
        .status,
        200
    );
    let old = save(
        &app,
        token,
        a,
        DEVICE_A,
        3,
        json!([{ "slot": 3, "value": "B" }]),
    )
    .await;
    assert_eq!(
        (old.status, old.body["code"].as_str()),
        (409, Some("device_not_current"))
    );
}

fn has_key_field(v: &Value) -> bool {
    match v {
        Value::Object(map) => map.iter().any(|(k, v)| {
            [
                "correct",
                "accepted",
                "key",
                "answer_key",
                "rubric",
                "solution",
            ]
            .contains(&k.as_str())
                || has_key_field(v)
        }),
        Value::Array(list) => list.iter().any(has_key_field),
        _ => false,
    }
}

async fn a_candidate_never_sees_a_key_or_another_candidates_attempt(app: TestApp) {
    let e = exam_ready(&app, 2, "exam").await;
    let attempts = register_lock_check_in(&app, &e).await;
    let (mine, theirs) = (&e.students[0].1, &e.students[1].1);
    let before_start = app
        .get(
            &format!("/api/v1/attempts/{}/paper", attempts[0]),
            Some(mine),
        )
        .await;
    assert_eq!(
        (before_start.status, before_start.body["code"].as_str()),
        (409, Some("attempt_not_started"))
    );
    start(&app, mine, &attempts[0], DEVICE_A).await;
    let paper = app
        .get(
            &format!("/api/v1/attempts/{}/paper", attempts[0]),
            Some(mine),
        )
        .await;
    assert_eq!(paper.status, 200, "{}", paper.text);
    assert_eq!(paper.body["questions"].as_array().unwrap().len(), 22);
    assert!(
        !has_key_field(&paper.body),
        "no key in the candidate's paper: {}",
        paper.text
    );
    assert!(paper.headers.contains_key("x-server-now") && paper.headers.contains_key("x-deadline"));
    let etag = paper.headers["etag"].to_str().unwrap().to_owned();
    let again = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/attempts/{}/paper", attempts[0])))
                .bearer_auth(mine)
                .header("if-none-match", &etag),
        )
        .await;
    assert_eq!(again.status, 304);

    for path in [
        format!("/api/v1/attempts/{}", attempts[0]),
        format!("/api/v1/attempts/{}/paper", attempts[0]),
        format!("/api/v1/attempts/{}/result", attempts[0]),
    ] {
        let reply = app.get(&path, Some(theirs)).await;
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (404, Some("attempt_not_found")),
            "{path}: {}",
            reply.text
        );
    }
    let meddling = save(
        &app,
        theirs,
        &attempts[0],
        DEVICE_A,
        9,
        json!([{ "slot": 0, "value": "A" }]),
    )
    .await;
    assert_eq!(meddling.status, 404);
    for path in [
        format!("/api/v1/papers/{}/codes/{}", e.paper, e.codes[0]),
        format!("/api/v1/attempts/{}/appeal", attempts[0]),
        format!("/api/v1/sittings/{}/results", e.sitting),
    ] {
        assert_eq!(app.get(&path, Some(mine)).await.status, 403, "{path}");
    }
    // Submitted, but results are not released: the candidate waits.
    let submitted = app
        .post(
            &format!("/api/v1/attempts/{}/submit", attempts[0]),
            Some(mine),
            json!({ "device_id": DEVICE_A }),
        )
        .await;
    assert_eq!(submitted.status, 200, "{}", submitted.text);
    let waiting = app
        .get(
            &format!("/api/v1/attempts/{}/result", attempts[0]),
            Some(mine),
        )
        .await;
    assert_eq!(
        (waiting.status, waiting.body["code"].as_str()),
        (409, Some("results_not_released"))
    );
}

async fn the_late_start_limit_and_forward_only_sections_hold(app: TestApp) {
    let e = exam_ready(&app, 2, "exam").await;
    // A second sitting with forward-only sections and its own time allowed.
    let starts_at = app.state.clock.now() - Duration::minutes(1);
    let no_time = app
        .post(
            &format!("/api/v1/exams/{}/sittings", e.exam),
            Some(&e.teacher),
            json!({ "name": "Ca 2", "paper_id": e.paper, "starts_at": starts_at, "minutes": 0 }),
        )
        .await;
    assert_eq!(no_time.status, 422, "{}", no_time.text);
    assert_eq!(
        no_time.body["errors"][0]["field"], "minutes",
        "{}",
        no_time.text
    );
    let sitting = app
        .post(&format!("/api/v1/exams/{}/sittings", e.exam), Some(&e.teacher),
            json!({ "name": "Ca 2", "paper_id": e.paper, "starts_at": starts_at, "navigation": "forward_only", "minutes": 45 }))
        .await;
    assert_eq!(sitting.status, 201, "{}", sitting.text);
    assert_eq!(sitting.body["minutes"], 45);
    let e = Exam {
        sitting: sitting.body["id"].as_str().unwrap().to_owned(),
        ..e
    };
    let room = app
        .post(
            &format!("/api/v1/sittings/{}/rooms", e.sitting),
            Some(&e.teacher),
            json!({ "name": "Phòng 02", "capacity": 2, "proctor_ids": [e.proctor_id] }),
        )
        .await;
    assert_eq!(room.status, 201);
    let attempts = register_lock_check_in(&app, &e).await;
    let (first, second) = (&e.students[0].1, &e.students[1].1);

    start(&app, first, &attempts[0], DEVICE_A).await;
    assert_eq!(
        save(
            &app,
            first,
            &attempts[0],
            DEVICE_A,
            1,
            json!([{ "slot": 0, "value": "A" }])
        )
        .await
        .status,
        200
    );
    let ahead = save(
        &app,
        first,
        &attempts[0],
        DEVICE_A,
        2,
        json!([{ "slot": 12, "value": "ĐĐĐĐ" }]),
    )
    .await;
    assert_eq!(ahead.body["code"], "section_closed");
    let next = app
        .post(
            &format!("/api/v1/attempts/{}/next-section", attempts[0]),
            Some(first),
            json!({ "device_id": DEVICE_A }),
        )
        .await;
    assert_eq!(
        (next.status, next.body["section"].as_i64()),
        (200, Some(2)),
        "{}",
        next.text
    );
    assert_eq!(
        save(
            &app,
            first,
            &attempts[0],
            DEVICE_A,
            3,
            json!([{ "slot": 12, "value": "ĐĐĐĐ" }])
        )
        .await
        .status,
        200
    );
    let back = save(
        &app,
        first,
        &attempts[0],
        DEVICE_A,
        4,
        json!([{ "slot": 0, "value": "B" }]),
    )
    .await;
    assert_eq!(
        back.body["code"], "section_closed",
        "a finished part stays closed"
    );

    // Sixteen minutes after the start the second candidate may not begin without admission.
    app.state.clock.advance(Duration::minutes(16));
    let late = app
        .post(
            &format!("/api/v1/attempts/{}/start", attempts[1]),
            Some(second),
            json!({ "device_id": DEVICE_B }),
        )
        .await;
    assert_eq!(
        (late.status, late.body["code"].as_str()),
        (409, Some("late_start_limit_passed"))
    );
    let admitted = app
        .post(
            &format!("/api/v1/attempts/{}/admit-late", attempts[1]),
            Some(&e.proctor),
            json!({ "reason": "Xe buýt đến muộn, có xác nhận" }),
        )
        .await;
    assert_eq!(admitted.status, 200, "{}", admitted.text);
    start(&app, second, &attempts[1], DEVICE_B).await;
}

async fn time_lost_to_an_outage_is_given_back(app: TestApp) {
    use sea_orm::EntityTrait;
    let e = exam_ready(&app, 1, "exam").await;
    let attempts = register_lock_check_in(&app, &e).await;
    let (_, token) = &e.students[0];
    let started = start(&app, token, &attempts[0], DEVICE_A).await;
    // The first sweep stamps the shared clock row; then no instance runs for six minutes.
    hocthi::exams::sweep_once(&app.state).await.unwrap();
    hocthi::entities::service_clock::Entity::update_many()
        .col_expr(
            hocthi::entities::service_clock::Column::LastSeen,
            sea_orm::sea_query::Expr::value(Utc::now() - Duration::minutes(6)),
        )
        .exec(&app.state.db)
        .await
        .unwrap();
    let before = heartbeat(&app, token, &attempts[0]).await;
    assert_eq!(before.body["deadline"], started["deadline"]);
    hocthi::exams::sweep_once(&app.state).await.unwrap();
    let view = answers_of(&app, token, &attempts[0], DEVICE_A).await;
    let after = heartbeat(&app, token, &attempts[0]).await;
    assert_eq!(
        after.body["deadline"], view["deadline"],
        "the credit reaches heartbeats"
    );
    let credit = at(&view["deadline"]) - at(&started["deadline"]);
    assert!(
        credit >= Duration::minutes(6) && credit < Duration::minutes(6) + Duration::seconds(10),
        "{credit}"
    );
    let appeal = app
        .get(
            &format!("/api/v1/attempts/{}/appeal", attempts[0]),
            Some(&e.teacher),
        )
        .await;
    assert!(
        appeal.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "outage_credit")
    );
    // Once is enough: the next sweep sees no gap.
    hocthi::exams::sweep_once(&app.state).await.unwrap();
    let again = answers_of(&app, token, &attempts[0], DEVICE_A).await;
    assert_eq!(again["deadline"], view["deadline"]);
}

async fn proctors_see_the_room_live_across_instances(app: TestApp) {
    let e = exam_ready(&app, 2, "exam").await;
    let attempts = register_lock_check_in(&app, &e).await;
    // With shared stores the candidate is served by another instance than the proctor's.
    let twin = match app.stores {
        hocthi_tests::Stores::Real => Some(app.another_instance().await),
        hocthi_tests::Stores::Embedded => None,
    };
    let serving = twin.as_ref().unwrap_or(&app);
    let response = app
        .client
        .get(app.url(&format!("/api/v1/rooms/{}/dashboard", e.room)))
        .bearer_auth(&e.proctor)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = response;
    let mut text = String::new();
    while !text.contains("\n\n") {
        text.push_str(std::str::from_utf8(&stream.chunk().await.unwrap().unwrap()).unwrap());
    }
    assert!(text.starts_with("event: snapshot\ndata: "), "{text}");
    let snapshot: Value =
        serde_json::from_str(text.lines().nth(1).unwrap().trim_start_matches("data: ")).unwrap();
    assert_eq!(snapshot["seats"].as_array().unwrap().len(), 2);
    assert_eq!(snapshot["seats"][0]["checked_in"], true);

    let (_, token) = &e.students[0];
    start(serving, token, &attempts[0], DEVICE_A).await;
    let beat = serving
        .post(
            &format!("/api/v1/attempts/{}/heartbeat", attempts[0]),
            Some(token),
            json!({ "device_id": DEVICE_A, "incidents": ["tab_hidden"] }),
        )
        .await;
    assert_eq!(beat.status, 200, "{}", beat.text);
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while !(seen.contains("\"started\"") && seen.contains("tab_hidden")) {
        let next = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .expect("live events arrive");
        seen.push_str(std::str::from_utf8(&next.unwrap().unwrap()).unwrap());
    }
    assert!(seen.contains("event: live"));
    let status = app
        .get(
            &format!("/api/v1/rooms/{}/status", e.room),
            Some(&e.proctor),
        )
        .await;
    let seat = status.body["seats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["attempt_id"] == attempts[0].as_str())
        .unwrap()
        .clone();
    assert_eq!(seat["state"], "in_progress");
    assert_eq!(seat["incidents"], 1);
    assert!(seat["last_heartbeat"].is_string());
    assert!(seat["deadline"].is_string(), "{seat}");
    assert!(seat["remaining_seconds"].as_i64().unwrap() > 0, "{seat}");
    // One seat per candidate, by seat, each with its own attempt and code read in the same
    // statement as the seat; the candidate who has not started has no clock yet.
    let seats = status.body["seats"].as_array().unwrap();
    assert_eq!(seats.len(), 2, "{}", status.text);
    assert!(
        seats[0]["seat"].as_i64() < seats[1]["seat"].as_i64(),
        "{}",
        status.text
    );
    for s in seats {
        assert!(
            attempts.iter().any(|a| s["attempt_id"] == a.as_str()),
            "{s}"
        );
        assert!(e.codes.iter().any(|c| s["code"] == c.as_str()), "{s}");
        assert_eq!(s["device_switch_pending"], false, "{s}");
    }
    assert_ne!(seats[0]["attempt_id"], seats[1]["attempt_id"]);
    let waiting = seats
        .iter()
        .find(|s| s["attempt_id"] != attempts[0].as_str())
        .unwrap();
    assert_eq!(waiting["state"], "not_started", "{waiting}");
    assert!(waiting["remaining_seconds"].is_null(), "{waiting}");
    assert!(waiting["deadline"].is_null(), "{waiting}");
    // Every seat shows its candidate's name (read per seat, not joined).
    let names: Vec<&str> = status.body["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["full_name"].as_str().unwrap())
        .collect();
    assert!(
        !names.is_empty() && names.iter().all(|n| n.starts_with("Học Sinh Số ")),
        "{names:?}"
    );
    // A proctor of another room sees nothing of this one.
    app.create_user(&e.admin, "gt.khac", &["proctor"], Some(e.school))
        .await;
    let stranger = app.token("gt.khac", USER_PASSWORD).await;
    assert_eq!(
        app.get(&format!("/api/v1/rooms/{}/status", e.room), Some(&stranger))
            .await
            .status,
        404
    );
    // Everything in the room is written up in a biên bản.
    let report = app
        .post(&format!("/api/v1/rooms/{}/incident-reports", e.room), Some(&e.proctor),
            json!({ "attempt_id": attempts[0], "text": "Thí sinh chuyển tab trình duyệt lúc 8 giờ 15, đã nhắc nhở." }))
        .await;
    assert_eq!(report.status, 201, "{}", report.text);
    let reports = app
        .get(
            &format!("/api/v1/rooms/{}/incident-reports", e.room),
            Some(&e.proctor),
        )
        .await;
    assert_eq!(reports.body.as_array().unwrap().len(), 1);
    // On submit the incident counts go onto the attempt's record; a quiet attempt keeps none.
    let (_, quiet) = &e.students[1];
    start(&app, quiet, &attempts[1], DEVICE_A).await;
    for (token, attempt) in [(token, &attempts[0]), (quiet, &attempts[1])] {
        let submitted = app
            .post(
                &format!("/api/v1/attempts/{attempt}/submit"),
                Some(token),
                json!({ "device_id": DEVICE_A }),
            )
            .await;
        assert_eq!(submitted.status, 200, "{}", submitted.text);
    }
    for (attempt, expected) in [
        (&attempts[0], json!({ "tab_hidden": 1 })),
        (&attempts[1], json!({})),
    ] {
        let appeal = app
            .get(
                &format!("/api/v1/attempts/{attempt}/appeal"),
                Some(&e.teacher),
            )
            .await;
        assert_eq!(appeal.status, 200, "{}", appeal.text);
        assert_eq!(appeal.body["incidents"], expected);
        assert!(
            appeal.body["score"]["total"].is_string(),
            "{}",
            appeal.body["score"]
        );
    }
}

/// The seat's "answered" in the room's snapshot.
async fn answered_in_snapshot(app: &TestApp, e: &Exam, attempt: &str) -> i64 {
    let status = app
        .get(
            &format!("/api/v1/rooms/{}/status", e.room),
            Some(&e.proctor),
        )
        .await;
    assert_eq!(status.status, 200, "{}", status.text);
    status.body["seats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["attempt_id"] == attempt)
        .expect("the attempt's seat")["answered"]
        .as_i64()
        .unwrap()
}

async fn the_dashboard_counts_answers_without_reading_saves_and_survives_a_lost_hot_store(
    app: TestApp,
) {
    use hocthi::exams::answered;
    let e = exam_ready(&app, 1, "exam").await;
    let attempts = register_lock_check_in(&app, &e).await;
    let (_, token) = &e.students[0];
    let attempt = attempts[0].as_str();
    let bitmap = answered::key(attempt.parse().unwrap());
    start(&app, token, attempt, DEVICE_A).await;
    // The first snapshot counts from the saves (none) and leaves a complete bitmap behind.
    assert_eq!(answered_in_snapshot(&app, &e, attempt).await, 0);
    let stored = app.state.hot.get(&bitmap).await.unwrap();
    assert_eq!(answered::count(stored.as_deref()), Some(0));

    // Three questions saved (one changed twice, one cleared: a clear is still a save).
    for (seq, answers) in [
        (
            1,
            json!([{ "slot": 0, "value": "A" }, { "slot": 1, "value": "B" }]),
        ),
        (2, json!([{ "slot": 1, "value": "C" }])),
        (3, json!([{ "slot": 5, "value": null }])),
    ] {
        let reply = save(&app, token, attempt, DEVICE_A, seq, answers).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    // The writer sets the bits after its commit, off the save's path: wait for them, then the
    // snapshot's count is the bitmap's (the saves are not read again).
    recorded(&app, &bitmap, |stored| answered::count(stored) == Some(3)).await;
    assert_eq!(answered_in_snapshot(&app, &e, attempt).await, 3);

    // The hot store loses it (a Redis restart): counted from the saves again, and rebuilt.
    app.state.hot.delete(&bitmap).await.unwrap();
    assert_eq!(answered_in_snapshot(&app, &e, attempt).await, 3);
    let stored = app.state.hot.get(&bitmap).await.unwrap();
    assert_eq!(answered::count(stored.as_deref()), Some(3));

    // Lost again, and a save arrives before any snapshot: the writer's bitmap holds only the
    // new slot and is not taken for the whole.
    app.state.hot.delete(&bitmap).await.unwrap();
    let reply = save(
        &app,
        token,
        attempt,
        DEVICE_A,
        4,
        json!([{ "slot": 7, "value": "D" }]),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    recorded(&app, &bitmap, |stored| stored.is_some()).await;
    let stored = app.state.hot.get(&bitmap).await.unwrap();
    assert_eq!(answered::count(stored.as_deref()), None);
    assert_eq!(answered_in_snapshot(&app, &e, attempt).await, 4);

    // A refused save (another device) sets nothing; the accepted one after it does.
    let refused = save(
        &app,
        token,
        attempt,
        DEVICE_B,
        5,
        json!([{ "slot": 9, "value": "A" }]),
    )
    .await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    let reply = save(
        &app,
        token,
        attempt,
        DEVICE_A,
        6,
        json!([{ "slot": 10, "value": "A" }]),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    recorded(&app, &bitmap, |stored| {
        stored.is_some_and(|b| hocthi::stores::hot::bit_is_set(b, 11))
    })
    .await;
    let stored = app.state.hot.get(&bitmap).await.unwrap();
    assert_eq!(answered::count(stored.as_deref()), Some(5), "{stored:?}");
    assert_eq!(answered_in_snapshot(&app, &e, attempt).await, 5);
}

/// Waits (up to 10 s) until the writer, which records after answering, has left `bitmap` as
/// `done` wants it.
async fn recorded(app: &TestApp, bitmap: &str, done: impl Fn(Option<&[u8]>) -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let stored = app.state.hot.get(bitmap).await.unwrap();
        if done(stored.as_deref()) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the writer did not record the slots it committed: {stored:?}"
        );
        tokio::task::yield_now().await;
    }
}

async fn practice_tests_allow_several_attempts_and_show_the_key(app: TestApp) {
    let e = exam_ready(&app, 1, "practice").await;
    let (_, token) = &e.students[0];
    let first = app
        .post(
            &format!("/api/v1/sittings/{}/attempts", e.sitting),
            Some(token),
            json!({}),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let a = first.body["id"].as_str().unwrap().to_owned();
    start(&app, token, &a, DEVICE_A).await;
    // No proctor: a second device simply takes over.
    let switched = app
        .post(
            &format!("/api/v1/attempts/{a}/resume"),
            Some(token),
            json!({ "device_id": DEVICE_B }),
        )
        .await;
    assert_eq!(switched.status, 200, "{}", switched.text);
    let open = app
        .post(
            &format!("/api/v1/sittings/{}/attempts", e.sitting),
            Some(token),
            json!({}),
        )
        .await;
    assert_eq!(open.body["code"], "attempt_open");
    assert_eq!(
        save(
            &app,
            token,
            &a,
            DEVICE_B,
            1,
            json!([{ "slot": 0, "value": "A" }])
        )
        .await
        .status,
        200
    );
    let submitted = app
        .post(
            &format!("/api/v1/attempts/{a}/submit"),
            Some(token),
            json!({ "device_id": DEVICE_B }),
        )
        .await;
    assert_eq!(submitted.status, 200, "{}", submitted.text);
    let result = app
        .get(&format!("/api/v1/attempts/{a}/result"), Some(token))
        .await;
    assert_eq!(result.status, 200, "{}", result.text);
    assert_eq!(result.body["questions"].as_array().unwrap().len(), 22);
    assert!(
        result.body["questions"][0]["key"].is_string(),
        "practice shows the key: {}",
        result.text
    );
    let expected = if result.body["questions"][0]["key"] == "A" {
        "0.25"
    } else {
        "0.00"
    };
    assert_eq!(result.body["score"]["part1"], expected);
    let mut made = vec![a.clone()];
    for _ in 0..2 {
        let next = app
            .post(
                &format!("/api/v1/sittings/{}/attempts", e.sitting),
                Some(token),
                json!({}),
            )
            .await;
        assert_eq!(next.status, 201, "{}", next.text);
        let id = next.body["id"].as_str().unwrap();
        start(&app, token, id, DEVICE_A).await;
        app.post(
            &format!("/api/v1/attempts/{id}/submit"),
            Some(token),
            json!({ "device_id": DEVICE_A }),
        )
        .await;
        made.push(id.to_owned());
    }
    // The candidate's own list: every attempt, newest first, each with its exam and sitting.
    let mine = app.get("/api/v1/me/attempts", Some(token)).await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    let listed: Vec<&str> = mine
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    made.reverse();
    assert_eq!(listed, made, "{}", mine.text);
    for l in mine.body.as_array().unwrap() {
        assert_eq!(l["exam_name"], "Kiểm tra giữa học kì I - Toán 12", "{l}");
        assert_eq!(l["sitting_name"], "Ca 1 - Toán", "{l}");
        assert_eq!(l["minutes"], 90, "{l}");
        assert_eq!(l["state"], "submitted", "{l}");
        assert!(e.codes.iter().any(|c| l["code"] == c.as_str()), "{l}");
        assert!(
            l["deadline"].is_string() && l["starts_at"].is_string(),
            "{l}"
        );
    }
    let fourth = app
        .post(
            &format!("/api/v1/sittings/{}/attempts", e.sitting),
            Some(token),
            json!({}),
        )
        .await;
    assert_eq!(
        (fourth.status, fourth.body["code"].as_str()),
        (409, Some("no_attempts_left"))
    );
}

async fn essays_are_double_marked_with_a_third_marker_on_disagreement(app: TestApp) {
    let bank = super::items::bank(&app).await;
    let created = app.post("/api/v1/users", Some(&bank.admin), json!({ "login": "tt.van", "password": USER_PASSWORD,
        "full_name": "Tổ trưởng Văn", "roles": ["teacher", "reviewer"], "school_id": bank.school, "subjects": ["ngu_van"] })).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let reviewer = app.token("tt.van", USER_PASSWORD).await;
    for (stem, points) in [
        ("Đọc đoạn trích và trả lời: nội dung chính là gì?", "4"),
        ("Viết bài văn nghị luận về lòng biết ơn.", "6"),
    ] {
        approved(&app, &bank.author, &reviewer, json!({
            "body": { "kind": "essay", "stem": stem, "rubric": [{ "description": "Theo hướng dẫn chấm", "points": points }] },
            "metadata": { "subject": "ngu_van", "grade": 12, "topic": ["Nghị luận xã hội"], "level": "van_dung" } })).await;
    }
    let second_marker = app
        .create_user(&bank.admin, "gv.van2", &["teacher"], Some(bank.school))
        .await;
    let third_marker = app
        .create_user(&bank.admin, "gv.van3", &["teacher"], Some(bank.school))
        .await;
    let class = app.create_class(&bank.admin, bank.school, "12A2").await;
    let created = app.post("/api/v1/users", Some(&bank.admin), json!({ "login": "hs.van", "password": USER_PASSWORD,
        "full_name": "Trần Thị Văn", "roles": ["student"], "school_id": bank.school, "class_id": class })).await;
    assert_eq!(created.status, 201);
    let matrix = json!({ "subject": "ngu_van", "name": "Kiểm tra Ngữ văn", "rows": [
        { "topic": "Nghị luận xã hội", "cells": [{ "kind": "essay", "level": "van_dung", "count": 2 }] }] });
    let paper = app
        .post(
            "/api/v1/papers",
            Some(&bank.author),
            json!({ "matrix": matrix, "codes": 1 }),
        )
        .await;
    assert_eq!(paper.status, 201, "{}", paper.text);
    let exam = app.post("/api/v1/exams", Some(&bank.author), json!({ "name": "Kiểm tra cuối kì - Ngữ văn", "kind": "practice", "scope": "class", "class_id": class,
        "policy": { "release": "manual", "double_marking": true, "marking_margin": "0.5" } })).await;
    assert_eq!(exam.status, 201, "{}", exam.text);
    let sitting = app.post(&format!("/api/v1/exams/{}/sittings", exam.body["id"].as_str().unwrap()), Some(&bank.author),
        json!({ "name": "Tự luận", "paper_id": paper.body["id"], "starts_at": app.state.clock.now() - Duration::minutes(1) })).await;
    assert_eq!(
        (sitting.status, sitting.body["minutes"].as_i64()),
        (201, Some(120)),
        "{}",
        sitting.text
    );
    let sitting = sitting.body["id"].as_str().unwrap().to_owned();
    let student = app.token("hs.van", USER_PASSWORD).await;
    let attempt = app
        .post(
            &format!("/api/v1/sittings/{sitting}/attempts"),
            Some(&student),
            json!({}),
        )
        .await;
    let a = attempt.body["id"].as_str().unwrap().to_owned();
    start(&app, &student, &a, DEVICE_A).await;
    let essay = "Lòng biết ơn là truyền thống quý báu của dân tộc Việt Nam. ".repeat(20);
    let saved = save(&app, &student, &a, DEVICE_A, 1, json!([{ "slot": 0, "value": "Nội dung chính: tình yêu quê hương." }, { "slot": 1, "value": essay }])).await;
    assert_eq!(saved.status, 200, "{}", saved.text);
    let submitted = app
        .post(
            &format!("/api/v1/attempts/{a}/submit"),
            Some(&student),
            json!({ "device_id": DEVICE_A }),
        )
        .await;
    assert_eq!(submitted.status, 200);

    let graders = [
        bank.author.clone(),
        app.token("gv.van2", USER_PASSWORD).await,
        app.token("gv.van3", USER_PASSWORD).await,
    ];
    // Teachers mark an exam's essays only once its organiser lists them as markers.
    let essays = format!("/api/v1/sittings/{sitting}/essays");
    let unlisted = app.get(&essays, Some(&graders[1])).await;
    assert_eq!(unlisted.status, 404, "{}", unlisted.text);
    let author_id = super::passkeys::user_id(&app, &bank.author).await;
    let listed = app
        .send(
            app.client
                .put(app.url(&format!(
                    "/api/v1/exams/{}/staff",
                    exam.body["id"].as_str().unwrap()
                )))
                .bearer_auth(&bank.author)
                .json(
                    &json!({ "organisers": [author_id], "markers": [second_marker, third_marker] }),
                ),
        )
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let queue = app
        .get(
            &format!("/api/v1/sittings/{sitting}/essays"),
            Some(&graders[0]),
        )
        .await;
    assert_eq!(queue.body.as_array().unwrap().len(), 2, "{}", queue.text);
    assert!(queue.body.to_string().contains("Lòng biết ơn"));
    assert!(
        !queue.body.to_string().contains("Trần Thị Văn"),
        "marking is blind"
    );
    let slot_worth = |max: &str| {
        queue
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["max_points"] == max)
            .unwrap()["slot"]
            .as_i64()
            .unwrap()
    };
    let (reading, writing) = (slot_worth("4.00"), slot_worth("6.00"));
    let mark = |g: usize, slot: i64, round: i64, points: &'static str| {
        let request = app
            .client
            .post(app.url(&format!("/api/v1/attempts/{a}/essay-marks")))
            .bearer_auth(graders[g].clone())
            .json(&json!({ "slot": slot, "round": round, "points": points, "comment": "" }));
        app.send(request)
    };
    let too_much = mark(0, reading, 1, "4.5").await;
    assert_eq!(
        too_much.body["code"], "validation_failed",
        "more than the rubric allows: {}",
        too_much.text
    );
    assert_eq!(mark(0, reading, 1, "3.5").await.status, 200);
    assert_eq!(
        mark(0, reading, 2, "3.5").await.body["code"],
        "already_marked_by_you"
    );
    let agreed = mark(1, reading, 2, "3.75").await;
    assert_eq!(agreed.status, 200, "{}", agreed.text);
    assert_eq!(agreed.body["essays_pending"], 1);
    assert_eq!(mark(0, writing, 1, "4").await.status, 200);
    let apart = mark(1, writing, 2, "5").await;
    assert_eq!(
        apart.body["essays_pending"], 1,
        "1 point apart needs a third marker"
    );
    assert_eq!(
        mark(2, writing, 2, "5").await.body["code"],
        "round_not_open"
    );
    let third = mark(2, writing, 3, "4.5").await;
    assert_eq!(third.status, 200, "{}", third.text);
    // (3.5 + 3.75) / 2 = 3.625, half up to 3.65; the third marker's 4.5 stands.
    assert_eq!(third.body["essay"], "8.15");
    assert_eq!(third.body["total"], "8.15");
}

async fn a_full_exam_runs_from_roster_to_results(app: TestApp) {
    let e = exam_ready(&app, 4, "exam").await;
    // The roster arrives as a file: candidate number, login, room, extra minutes.
    let csv = "Số báo danh,Tên đăng nhập,Phòng,Cộng thêm (phút)\n290001,hs.00,Phòng 01,\n290002,hs.01,Phòng 01,15\n290003,hs.02,Phòng 01,\n290004,hs.03,Phòng 01,\n290005,khong.co,Phòng 01,\n";
    let import = |dry: bool, body: String| {
        app.send(
            app.client
                .post(app.url(&format!(
                    "/api/v1/sittings/{}/candidates/import?dry_run={dry}",
                    e.sitting
                )))
                .bearer_auth(&e.teacher)
                .header("content-type", "text/csv")
                .body(body),
        )
    };
    let rejected = import(false, csv.to_owned()).await;
    assert_eq!(rejected.status, 422, "{}", rejected.text);
    assert_eq!(rejected.body["rows"][4]["reason_code"], "user_not_found");
    assert_eq!(rejected.body["committed"], false);
    let good = csv.lines().take(5).collect::<Vec<_>>().join("\n");
    let imported = import(false, good).await;
    assert_eq!(
        (imported.status, imported.body["registered"].as_u64()),
        (200, Some(4)),
        "{}",
        imported.text
    );
    let attempts = lock_and_check_in(&app, &e).await;
    let relock = app
        .post(
            &format!("/api/v1/sittings/{}/lock", e.sitting),
            Some(&e.teacher),
            json!({}),
        )
        .await;
    assert_eq!(relock.body["code"], "sitting_locked");
    let candidates = app
        .get(
            &format!("/api/v1/sittings/{}/candidates", e.sitting),
            Some(&e.teacher),
        )
        .await;
    let codes: Vec<&str> = candidates
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes.iter().filter(|c| **c == e.codes[0]).count(),
        2,
        "codes balanced: {codes:?}"
    );
    assert!(
        codes.windows(2).all(|w| w[0] != w[1]),
        "neighbours differ: {codes:?}"
    );

    // Each candidate answers from the key of their own code, right for a known share.
    let mut keys = std::collections::HashMap::new();
    for code in &e.codes {
        let printed = app
            .get(
                &format!("/api/v1/papers/{}/codes/{code}", e.paper),
                Some(&e.teacher),
            )
            .await;
        keys.insert(code.clone(), printed.body["key"].clone());
    }
    let mut expected_totals = Vec::new();
    for (i, (_, token)) in e.students.iter().enumerate() {
        let started = start(&app, token, &attempts[i], DEVICE_A).await;
        let key = &keys[started["code"].as_str().unwrap()];
        // Candidate i gets the first 3*(i+1) Part I questions right and the rest wrong.
        let right = 3 * (i + 1);
        let mut answers = Vec::new();
        for q in 0..12 {
            let k = key["part1"][q].as_str().unwrap();
            let letter = if q < right {
                k.to_owned()
            } else {
                ["A", "B", "C", "D"]
                    .iter()
                    .find(|l| **l != k)
                    .unwrap()
                    .to_string()
            };
            answers.push(json!({ "slot": q, "value": letter }));
        }
        assert_eq!(
            save(
                &app,
                token,
                &attempts[i],
                DEVICE_A,
                1,
                Value::Array(answers)
            )
            .await
            .status,
            200
        );
        // Part II question 1 all right (1.0), Part III question 1 right (0.5).
        let tf = key["part2"][0].as_str().unwrap();
        let sa = key["part3"][0][0].as_str().unwrap();
        assert_eq!(
            save(
                &app,
                token,
                &attempts[i],
                DEVICE_A,
                2,
                json!([{ "slot": 12, "value": tf }, { "slot": 16, "value": sa }])
            )
            .await
            .status,
            200
        );
        expected_totals.push(25 * right as u32 + 100 + 50);
    }
    // Candidate 0's browser crashes: they come back on the same machine and carry on.
    let (_, crashed) = &e.students[0];
    let resumed = answers_of(&app, crashed, &attempts[0], DEVICE_A).await;
    assert_eq!(resumed["answers"].as_array().unwrap().len(), 14);
    assert_eq!(resumed["last_seq"], 2);
    for (i, (_, token)) in e.students.iter().enumerate().take(2) {
        let done = app
            .post(
                &format!("/api/v1/attempts/{}/submit", attempts[i]),
                Some(token),
                json!({ "device_id": DEVICE_A }),
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.text);
        assert_eq!(done.body["state"], "submitted");
    }
    // The others never submit: at the deadline (candidate 1 has 15 more minutes) the sweeper does.
    app.state.clock.advance(Duration::minutes(91));
    let swept = hocthi::exams::sweep_once(&app.state).await.unwrap();
    assert_eq!(swept.len(), 2);

    let results = app
        .get(
            &format!("/api/v1/sittings/{}/results", e.sitting),
            Some(&e.teacher),
        )
        .await;
    assert_eq!(results.status, 200, "{}", results.text);
    let totals: Vec<String> = results
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["score"]["total"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = expected_totals
        .iter()
        .map(|t| format!("{}.{:02}", t / 100, t % 100))
        .collect();
    assert_eq!(totals, expected);
    assert_eq!(results.body[2]["state"], "auto_submitted");

    // Released: the candidate sees their breakdown by part.
    let (_, token) = &e.students[3];
    assert_eq!(
        app.get(
            &format!("/api/v1/attempts/{}/result", attempts[3]),
            Some(token)
        )
        .await
        .status,
        409
    );
    let released = app
        .post(
            &format!("/api/v1/exams/{}/release", e.exam),
            Some(&e.teacher),
            json!({}),
        )
        .await;
    assert_eq!(released.status, 200, "{}", released.text);
    assert_eq!(released.body["items_updated"], 22);
    let result = app
        .get(
            &format!("/api/v1/attempts/{}/result", attempts[3]),
            Some(token),
        )
        .await;
    assert_eq!(result.status, 200, "{}", result.text);
    assert_eq!(
        (
            result.body["score"]["part1"].as_str(),
            result.body["score"]["part2"].as_str(),
            result.body["score"]["part3"].as_str()
        ),
        (Some("3.00"), Some("1.00"), Some("0.50"))
    );
    assert!(
        result.body["questions"][0]["key"].is_null(),
        "an exam does not show its key"
    );

    let stats = app
        .get(
            &format!("/api/v1/sittings/{}/statistics", e.sitting),
            Some(&e.teacher),
        )
        .await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    assert_eq!(stats.body["summary"]["count"], 4);
    let mean = expected_totals.iter().sum::<u32>() as f64 / 400.0;
    assert_eq!(
        stats.body["summary"]["mean"].as_f64().unwrap(),
        (mean * 100.0).round() / 100.0
    );
    assert_eq!(
        stats.body["distribution"]["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .sum::<u64>(),
        4
    );
    assert_eq!(stats.body["by_school"][0]["summary"]["count"], 4);
    let items = stats.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 22);
    // Part I question 1 (every candidate right) versus the last ones (only the best).
    let facilities: Vec<f64> = items
        .iter()
        .filter(|i| i["part"] == 2)
        .map(|i| i["figures"]["facility"].as_f64().unwrap())
        .collect();
    assert!(
        facilities.contains(&1.0) || facilities.contains(&0.0),
        "{facilities:?}"
    );
    let discriminating = items
        .iter()
        .filter(|i| i["figures"]["discrimination"].as_f64().unwrap() > 0.0)
        .count();
    assert!(discriminating > 0);
    let chosen: u64 = items
        .iter()
        .filter(|i| i["part"] == 1)
        .flat_map(|i| {
            i["options"]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_u64().unwrap())
        })
        .sum();
    assert_eq!(
        chosen,
        12 * 4,
        "every Part I answer counted under an option"
    );

    let svg = app
        .get(
            &format!("/api/v1/sittings/{}/distribution.svg", e.sitting),
            Some(&e.teacher),
        )
        .await;
    assert!(
        svg.text.starts_with("<svg") && svg.text.contains("Phổ điểm"),
        "{}",
        svg.text
    );
    let png = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/sittings/{}/distribution.png", e.sitting)))
                .bearer_auth(&e.teacher),
        )
        .await;
    assert_eq!(png.headers["content-type"], "image/png");
    let xlsx = app
        .client
        .get(app.url(&format!("/api/v1/sittings/{}/results.xlsx", e.sitting)))
        .bearer_auth(&e.teacher)
        .send()
        .await
        .unwrap();
    assert_eq!(xlsx.status(), 200);
    let bytes = xlsx.bytes().await.unwrap();
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).unwrap();
    use calamine::Reader;
    let sheet = book.worksheet_range("Kết quả").unwrap();
    let header: Vec<String> = sheet
        .rows()
        .nth(3)
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(header[1], "Số báo danh");
    assert_eq!(header[11], "Tổng điểm");
    let first = sheet.rows().nth(4).unwrap();
    assert_eq!(first[1].to_string(), "290001");
    assert_eq!(
        first[11].to_string(),
        format!("{}", expected_totals[0] as f64 / 100.0)
    );

    // The appeal export has the paper with its key, every save with its time, a valid chain.
    let appeal = app
        .get(
            &format!("/api/v1/attempts/{}/appeal", attempts[2]),
            Some(&e.teacher),
        )
        .await;
    assert_eq!(appeal.status, 200, "{}", appeal.text);
    assert_eq!(appeal.body["candidate_number"], "290003");
    assert_eq!(appeal.body["saves"].as_array().unwrap().len(), 14);
    assert!(appeal.body["saves"][0]["saved_at"].is_string());
    assert!(appeal.body["paper"]["key"]["part1"].is_array());
    assert_eq!(appeal.body["chain"]["valid"], true);
    assert!(
        appeal.body["audit"].as_array().unwrap().is_empty()
            || appeal.body["audit"][0]["hash"].is_string()
    );

    // Item statistics flowed back to the bank.
    let frozen = app
        .get(&format!("/api/v1/papers/{}", e.paper), Some(&e.teacher))
        .await;
    let item = frozen.body["items"][0]["item_id"].as_str().unwrap();
    let item_stats = app
        .get(
            &format!("/api/v1/items/{item}/statistics"),
            Some(&e.teacher),
        )
        .await;
    assert_eq!(item_stats.status, 200, "{}", item_stats.text);
    assert_eq!(item_stats.body[0]["responses"], 4);
    // Its answer spread tells its key: only someone who may read the item sees it.
    let elsewhere = app.create_school(&e.admin, "THPT-XA", "THPT Xa").await;
    app.create_user(&e.admin, "gv.xa", &["teacher"], Some(elsewhere))
        .await;
    let stranger = app.token("gv.xa", USER_PASSWORD).await;
    let hidden = app
        .get(&format!("/api/v1/items/{item}/statistics"), Some(&stranger))
        .await;
    assert_eq!(hidden.status, 404, "{}", hidden.text);

    // A key correction, tried first: Part I question 12 of the first code becomes the answer
    // every candidate of that code gave.
    let code = e.codes[0].clone();
    let given = appeal_answer(&app, &e, &attempts, &code).await;
    let dry = app.post(&format!("/api/v1/sittings/{}/key-corrections", e.sitting), Some(&e.teacher),
        json!({ "dry_run": true, "corrections": [{ "code": code, "part": 1, "number": 12, "key": given }] })).await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    let changes = dry.body["changes"].as_array().unwrap().clone();
    assert_eq!(
        changes.len(),
        2,
        "both candidates of code {code} gain 0.25: {}",
        dry.text
    );
    let unchanged = app
        .get(
            &format!("/api/v1/sittings/{}/results", e.sitting),
            Some(&e.teacher),
        )
        .await;
    assert_eq!(unchanged.body, results.body, "a dry run changes nothing");
    let applied = app.post(&format!("/api/v1/sittings/{}/key-corrections", e.sitting), Some(&e.teacher),
        json!({ "dry_run": false, "corrections": [{ "code": code, "part": 1, "number": 12, "key": given }] })).await;
    assert_eq!(applied.status, 200, "{}", applied.text);
    let after = app
        .get(
            &format!("/api/v1/sittings/{}/results", e.sitting),
            Some(&e.teacher),
        )
        .await;
    for change in &changes {
        let row = after
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["attempt_id"] == change["attempt_id"])
            .unwrap();
        assert_eq!(row["score"]["total"], change["after"]);
        assert_ne!(change["after"], change["before"]);
    }
}

/// What the candidates of `code` answered to Part I question 12 (all gave the same wrong one).
async fn appeal_answer(app: &TestApp, e: &Exam, attempts: &[String], code: &str) -> String {
    for a in attempts {
        let appeal = app
            .get(&format!("/api/v1/attempts/{a}/appeal"), Some(&e.teacher))
            .await;
        if appeal.body["code"] == code {
            let save = appeal.body["saves"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["slot"] == 11)
                .unwrap();
            return save["value"].as_str().unwrap().to_owned();
        }
    }
    panic!("no attempt has code {code}");
}

/// Makes every answer insert fail (PostgreSQL: an always-false check; SQLite: the service's one
/// connection turned read-only), or lifts that again.
async fn break_saves(app: &TestApp, broken: bool) {
    use sea_orm::ConnectionTrait;
    let sql = match (app.state.db.get_database_backend(), broken) {
        (sea_orm::DbBackend::Postgres, true) => {
            "ALTER TABLE answer_saves ADD CONSTRAINT test_outage CHECK (false) NOT VALID"
        }
        (sea_orm::DbBackend::Postgres, false) => {
            "ALTER TABLE answer_saves DROP CONSTRAINT test_outage"
        }
        (_, true) => "PRAGMA query_only = 1",
        (_, false) => "PRAGMA query_only = 0",
    };
    app.state.db.execute_unprepared(sql).await.unwrap();
}

async fn a_failing_database_answers_503_and_nothing_acknowledged_is_lost(app: TestApp) {
    let e = exam_ready(&app, 1, "exam").await;
    let attempts = register_lock_check_in(&app, &e).await;
    let (_, token) = &e.students[0];
    let a = &attempts[0];
    start(&app, token, a, DEVICE_A).await;
    let first = save(
        &app,
        token,
        a,
        DEVICE_A,
        1,
        json!([{ "slot": 0, "value": "A" }]),
    )
    .await;
    assert_eq!(first.status, 200);
    break_saves(&app, true).await;
    let refused = save(
        &app,
        token,
        a,
        DEVICE_A,
        2,
        json!([{ "slot": 0, "value": "B" }, { "slot": 1, "value": "C" }]),
    )
    .await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (503, Some("service_unavailable")),
        "{}",
        refused.text
    );
    assert!(refused.headers.contains_key("retry-after"));
    break_saves(&app, false).await;
    // Nothing of the refused save was kept; the client resends it from its journal.
    let view = answers_of(&app, token, a, DEVICE_A).await;
    assert_eq!(
        (answer(&view, 0), answer(&view, 1)),
        (json!("A"), Value::Null)
    );
    let resent = save(
        &app,
        token,
        a,
        DEVICE_A,
        2,
        json!([{ "slot": 0, "value": "B" }, { "slot": 1, "value": "C" }]),
    )
    .await;
    assert_eq!(resent.status, 200, "{}", resent.text);
    let view = answers_of(&app, token, a, DEVICE_A).await;
    assert_eq!(
        (answer(&view, 0), answer(&view, 1)),
        (json!("B"), json!("C"))
    );

    if app.stores == hocthi_tests::Stores::Real {
        // A full queue: an instance whose queue holds one save, its writer held up behind a lock.
        use sea_orm::{ConnectionTrait, TransactionTrait};
        let small = app
            .another_instance_with(|vars| {
                vars.insert("HOCTHI_SAVE_QUEUE".into(), "1".into());
            })
            .await;
        let lock = app.state.db.begin().await.unwrap();
        lock.execute_unprepared("LOCK TABLE answer_saves IN EXCLUSIVE MODE")
            .await
            .unwrap();
        let burst: Vec<_> = (0..8)
            .map(|i| {
                save(
                    &small,
                    token,
                    a,
                    DEVICE_A,
                    10 + i,
                    json!([{ "slot": 2, "value": "D" }]),
                )
            })
            .collect();
        // The writer holds one save and the queue another; the rest are refused at once, while
        // the lock is still held. Then the lock goes and the held saves are written.
        let probing = async {
            loop {
                // A probe that got a place in the queue waits behind the lock: give up on it.
                let probe = save(
                    &small,
                    token,
                    a,
                    DEVICE_A,
                    30,
                    json!([{ "slot": 3, "value": "A" }]),
                );
                if let Ok(probe) =
                    tokio::time::timeout(std::time::Duration::from_secs(2), probe).await
                    && probe.status == 503
                {
                    assert!(probe.headers.contains_key("retry-after"));
                    break;
                }
            }
            lock.rollback().await.unwrap();
        };
        let (replies, ()) =
            futures_util::future::join(futures_util::future::join_all(burst), probing).await;
        assert!(replies.iter().all(|r| r.status == 200 || r.status == 503));
        assert!(
            replies.iter().any(|r| r.status == 200),
            "the held saves go through once the lock is gone"
        );
        let view = answers_of(&app, token, a, DEVICE_A).await;
        assert_eq!(answer(&view, 2), "D");
    }
}

/// The score, graded-at and incident summary of an attempt as the database holds them.
async fn stored_grading(app: &TestApp, id: &str) -> (Option<String>, bool, String) {
    use sea_orm::EntityTrait;
    let row = hocthi::entities::attempt::Entity::find_by_id(Uuid::parse_str(id).unwrap())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    (row.score, row.graded_at.is_some(), row.incidents)
}

/// Puts an attempt back as if its grading were still queued.
async fn forget_grading(app: &TestApp, id: &str) {
    use hocthi::entities::attempt;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    attempt::Entity::update_many()
        .col_expr(attempt::Column::Score, Expr::value(Option::<String>::None))
        .col_expr(
            attempt::Column::GradedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(attempt::Column::Incidents, Expr::value("{}"))
        .filter(attempt::Column::Id.eq(Uuid::parse_str(id).unwrap()))
        .exec(&app.state.db)
        .await
        .unwrap();
}

async fn a_submit_is_graded_after_its_response_and_before_any_score_is_read(app: TestApp) {
    let e = exam_ready(&app, 2, "exam").await;
    let attempts = register_lock_check_in(&app, &e).await;
    for (i, (_, token)) in e.students.iter().enumerate() {
        let a = &attempts[i];
        start(&app, token, a, DEVICE_A).await;
        let saved = save(
            &app,
            token,
            a,
            DEVICE_A,
            1,
            json!([{ "slot": 0, "value": "A" }]),
        )
        .await;
        assert_eq!(saved.status, 200, "{}", saved.text);
        let noticed = app
            .post(
                &format!("/api/v1/attempts/{a}/heartbeat"),
                Some(token),
                json!({ "device_id": DEVICE_A, "incidents": ["tab_hidden"] }),
            )
            .await;
        assert_eq!(noticed.status, 200, "{}", noticed.text);
        let submitted = app
            .post(
                &format!("/api/v1/attempts/{a}/submit"),
                Some(token),
                json!({ "device_id": DEVICE_A }),
            )
            .await;
        assert_eq!(submitted.status, 200, "{}", submitted.text);
        assert_eq!(submitted.body["state"], "submitted");
        assert_eq!(submitted.body["remaining_seconds"], 0);
        assert_eq!(
            submitted.body["answers"][0]["value"], "A",
            "{}",
            submitted.text
        );
    }
    // The grading queue settles both on its own (the sweeper is off in tests): score and the
    // incident summary from the hot store.
    let patience = std::time::Instant::now() + std::time::Duration::from_secs(30);
    for a in &attempts {
        loop {
            let (score, graded, incidents) = stored_grading(&app, a).await;
            if graded {
                assert!(score.is_some());
                assert!(incidents.contains("tab_hidden"), "{incidents}");
                break;
            }
            assert!(
                std::time::Instant::now() < patience,
                "{a} not graded in 30 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    let graded = stored_grading(&app, &attempts[0]).await.0.unwrap();

    // A score read while the grading is still queued grades it first, whichever way it is read.
    forget_grading(&app, &attempts[0]).await;
    let results = app
        .get(
            &format!("/api/v1/sittings/{}/results", e.sitting),
            Some(&e.teacher),
        )
        .await;
    assert_eq!(results.status, 200, "{}", results.text);
    let rows = results.body.as_array().unwrap();
    assert_eq!(
        rows.len(),
        2,
        "every submit is in the results: {}",
        results.text
    );
    assert!(
        rows.iter().all(|r| r["score"]["total"].is_string()),
        "{}",
        results.text
    );
    let (score, _, incidents) = stored_grading(&app, &attempts[0]).await;
    assert_eq!(score.as_deref(), Some(graded.as_str()));
    assert!(incidents.contains("tab_hidden"), "{incidents}");

    forget_grading(&app, &attempts[0]).await;
    let appeal = app
        .get(
            &format!("/api/v1/attempts/{}/appeal", attempts[0]),
            Some(&e.teacher),
        )
        .await;
    assert_eq!(appeal.status, 200, "{}", appeal.text);
    assert!(appeal.body["score"]["total"].is_string(), "{}", appeal.text);
    assert_eq!(appeal.body["incidents"]["tab_hidden"], 1, "{}", appeal.text);

    forget_grading(&app, &attempts[0]).await;
    let result = app
        .get(
            &format!("/api/v1/attempts/{}/result", attempts[0]),
            Some(&e.proctor),
        )
        .await;
    assert_eq!(result.status, 200, "{}", result.text);
    assert!(result.body["score"]["total"].is_string(), "{}", result.text);
    assert!(stored_grading(&app, &attempts[0]).await.1);
}

/// On PostgreSQL starts and submits that arrive together are applied in batches
/// (`exams::batched`); on SQLite one by one. Either way each is applied once, with its event
/// in the attempt's chain, and a change that lost a race to another is applied on its own.
async fn starts_and_submits_that_come_at_once_are_each_applied_once(app: TestApp) {
    use hocthi::exams::{
        domain::{AttemptState, EventKind},
        lifecycle::{self, Change, Context},
    };
    let e = exam_ready(&app, 12, "exam").await;
    let attempts = register_lock_check_in(&app, &e).await;
    let each = |action: &'static str| {
        let (app, attempts) = (&app, &attempts);
        futures_util::future::join_all(e.students.iter().enumerate().map(
            move |(i, (_, token))| async move {
                app.post(
                    &format!("/api/v1/attempts/{}/{action}", attempts[i]),
                    Some(token),
                    json!({ "device_id": DEVICE_A }),
                )
                .await
            },
        ))
    };
    // Every start is sent twice at once, as by a client that resent it: on PostgreSQL the two
    // copies can land in the same batch or in two batches applied side by side. One is
    // applied; the other is told the attempt has started (and nothing deadlocks).
    let (first, again) = futures_util::future::join(each("start"), each("start")).await;
    for (a, b) in first.iter().zip(&again) {
        let (started, refused) = if a.status == 200 { (a, b) } else { (b, a) };
        assert_eq!(started.status, 200, "{} / {}", a.text, b.text);
        assert_eq!(started.body["state"], "in_progress", "{}", started.text);
        assert!(started.body["remaining_seconds"].as_i64().unwrap() > 0);
        assert_eq!(refused.status, 409, "{}", refused.text);
        assert_eq!(refused.body["code"], "attempt_already_started");
    }
    for (i, (_, token)) in e.students.iter().enumerate() {
        let letter = ["A", "B", "C", "D"][i % 4];
        let saved = save(
            &app,
            token,
            &attempts[i],
            DEVICE_A,
            1,
            json!([{ "slot": 0, "value": letter }]),
        )
        .await;
        assert_eq!(saved.status, 200, "{}", saved.text);
    }
    // Two submits read at the same moment; a proctor's change moves the first on before they
    // are applied. Only the second is applied; the first is left for its handler to retry.
    if app.state.db.get_database_backend() == sea_orm::DbBackend::Postgres {
        let ids: Vec<Uuid> = attempts[..2].iter().map(|a| a.parse().unwrap()).collect();
        let stale = Context::load(&app.state.db, ids[0]).await.unwrap();
        let fresh = Context::load(&app.state.db, ids[1]).await.unwrap();
        let now = app.state.clock.now();
        lifecycle::change_now(&app.state, ids[0], now, |_| {
            Ok(Change::new(EventKind::TimeAdded, None, json!({ "minutes": 5 })).seconds(300))
        })
        .await
        .unwrap();
        let submit =
            || Change::new(EventKind::Submitted, None, json!({})).to(AttemptState::Submitted);
        let applied = lifecycle::apply_many(
            &app.state.db,
            vec![(&stale, submit(), now), (&fresh, submit(), now)],
        )
        .await
        .unwrap();
        assert!(applied[0].is_none(), "the stale change is not applied");
        assert_eq!(applied[1].as_ref().unwrap().state, "submitted");
        let first = Context::load(&app.state.db, ids[0]).await.unwrap();
        assert_eq!(
            first.attempt.state, "in_progress",
            "untouched by the lost race"
        );
        assert_eq!(first.attempt.version, stale.attempt.version + 1);
    }
    for (i, submitted) in each("submit").await.into_iter().enumerate() {
        if i == 1 && app.state.db.get_database_backend() == sea_orm::DbBackend::Postgres {
            assert_eq!(submitted.status, 409, "submitted above: {}", submitted.text);
            assert_eq!(submitted.body["code"], "attempt_closed");
            continue;
        }
        assert_eq!(submitted.status, 200, "{}", submitted.text);
        assert_eq!(submitted.body["state"], "submitted");
        let letter = ["A", "B", "C", "D"][i % 4];
        assert_eq!(
            submitted.body["answers"][0]["value"], letter,
            "the answers read after the close: {}",
            submitted.text
        );
    }
    for a in &attempts {
        let (appeal, kinds) = appeal_events(&app, &e.teacher, a).await;
        assert_eq!(appeal.body["chain"]["valid"], true, "{}", appeal.text);
        assert_eq!(
            kinds.iter().filter(|k| **k == "started").count(),
            1,
            "{kinds:?}"
        );
        assert_eq!(
            kinds.iter().filter(|k| **k == "submitted").count(),
            1,
            "{kinds:?}"
        );
        assert_eq!(appeal.body["state"], "submitted");
    }
}

/// The attempt's appeal view, and the kinds of its events in order.
async fn appeal_events(
    app: &TestApp,
    teacher: &str,
    attempt: &str,
) -> (hocthi_tests::Reply, Vec<String>) {
    let appeal = app
        .get(&format!("/api/v1/attempts/{attempt}/appeal"), Some(teacher))
        .await;
    assert_eq!(appeal.status, 200, "{}", appeal.text);
    let kinds = appeal.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    (appeal, kinds)
}
