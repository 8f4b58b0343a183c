//! Timed assessments: the helpers every exam test uses (a paper, an exam ready to sit, starts,
//! saves and heartbeats), and the tests by concern in the files beside this one.
use chrono::{DateTime, Duration, Utc};
use hocthi_tests::{TestApp, USER_PASSWORD, on_every_store};
use serde_json::{Value, json};
use uuid::Uuid;

mod attempts;
mod durability;
mod full_exam;
mod in_browser;
mod practice_and_marking;
mod room;

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
        "true_false" => {
            json!({ "kind": kind, "stem": format!("Câu {n}: cho hàm số $y = x^{n}$ có đồ thị ![Đồ thị](blob:items/media/{FIGURE})"),
            "statements": (0..4).map(|i| json!({ "text": format!("Mệnh đề {n}.{i}"), "correct": (n + i).is_multiple_of(2) })).collect::<Vec<_>>() })
        }
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

/// The figure every Part II question of the Maths paper shows, by its content's name.
pub const FIGURE: &str = "9f2c4e0b8a6d1f3e5c7a9b0d2e4f6a8c1b3d5e7f9a0c2e4b6d8f0a1c3e5b7d9f.png";

/// The smallest PNG: one transparent pixel.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

/// A Maths paper in the 2025 format (12/4/6) with `codes` codes, by the bank's teacher; its
/// Part II questions show a figure.
async fn maths_paper(
    app: &TestApp,
    author: &str,
    reviewer: &str,
    codes: u8,
) -> (String, Vec<String>) {
    app.state
        .blobs
        .put(
            &format!("items/media/{FIGURE}"),
            bytes::Bytes::from_static(PNG),
            "image/png",
        )
        .await
        .unwrap();
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
    let mut attempts = Vec::new();
    for (attempt, candidate) in lock(app, e).await {
        let checked = app
            .post(
                &format!("/api/v1/candidates/{candidate}/check-in"),
                Some(&e.proctor),
                json!({ "reason": "Đã đối chiếu thẻ học sinh" }),
            )
            .await;
        assert_eq!(checked.status, 204, "{}", checked.text);
        attempts.push(attempt);
    }
    attempts
}

/// Locks the roster (nobody checked in): each student's (attempt, candidate) ids, in the order
/// of `e.students`.
pub async fn lock(app: &TestApp, e: &Exam) -> Vec<(String, String)> {
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
    let mut seats = Vec::new();
    for (login, token) in &e.students {
        let mine = app.get("/api/v1/me/attempts", Some(token)).await;
        let attempt = mine.body[0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{login} has an attempt: {}", mine.text))
            .to_owned();
        let candidate = list
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["attempt_id"] == attempt.as_str())
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        seats.push((attempt, candidate));
    }
    seats
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
