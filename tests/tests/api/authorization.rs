//! The 401/403 matrix, checked against every secured operation the OpenAPI document lists, so
//! a new endpoint without a row here fails the test.
use std::collections::BTreeSet;

use hocthi_tests::{TestApp, USER_PASSWORD, on_every_store};
use serde_json::{Value, json};

on_every_store!(
    every_endpoint_refuses_strangers,
    every_route_with_an_id_refuses_other_schools_and_bystanders
);

/// Operations any signed-in user may call.
const OPEN_TO_EVERY_USER: &[(&str, &str)] = &[
    ("get", "/api/v1/me"),
    ("post", "/api/v1/me/password"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/schools"),
    // A candidate's own attempts; an attempt or result is then checked against its owner and
    // the room's staff (tests/api/exams/).
    ("get", "/api/v1/me/attempts"),
    ("get", "/api/v1/attempts/{attempt_id}"),
    ("get", "/api/v1/attempts/{attempt_id}/result"),
    // Reading the repository: what each caller may see is decided per item (tests/api/content.rs).
    ("get", "/api/v1/content/items"),
    ("get", "/api/v1/content/items/{item_id}"),
    ("get", "/api/v1/content/items/{item_id}/download"),
    // Consent and one's own personal data.
    ("get", "/api/v1/consent/text"),
    ("get", "/api/v1/me/consents"),
    ("post", "/api/v1/me/consents/{consent_id}/withdraw"),
    ("get", "/api/v1/me/personal-data"),
    // Photos: the candidate's own snapshots or the room's staff, checked per attempt.
    ("post", "/api/v1/attempts/{attempt_id}/photos"),
    ("post", "/api/v1/photos/{photo_id}/complete"),
    ("get", "/api/v1/photos/{photo_id}"),
    // One's own passkeys; a step-up challenge only for one's own attempt (tests/api/passkeys.rs).
    ("get", "/api/v1/me/passkeys"),
    ("patch", "/api/v1/me/passkeys/{passkey_id}"),
    ("delete", "/api/v1/me/passkeys/{passkey_id}"),
    ("post", "/api/v1/attempts/{attempt_id}/passkey-challenge"),
    // One's own notices (another's is 404, tests/api/passkeys.rs) and one's own step-up.
    ("get", "/api/v1/me/notices"),
    ("post", "/api/v1/me/notices/{notice_id}/read"),
    ("post", "/api/v1/me/step-up"),
];

/// (method, path, who must get 403)
const FORBIDDEN: &[(&str, &str, &[&str])] = &[
    ("post", "/api/v1/schools", &["school_admin_a", "teacher_a"]),
    ("get", "/api/v1/schools/{school_id}", &["school_admin_b"]),
    (
        "post",
        "/api/v1/schools/{school_id}/classes",
        &["teacher_a", "school_admin_b"],
    ),
    (
        "get",
        "/api/v1/schools/{school_id}/classes",
        &["student_a", "school_admin_b"],
    ),
    (
        "post",
        "/api/v1/schools/{school_id}/users/import",
        &["teacher_a", "school_admin_b"],
    ),
    ("post", "/api/v1/users", &["teacher_a", "school_admin_b"]),
    ("get", "/api/v1/users", &["teacher_a", "student_a"]),
    (
        "get",
        "/api/v1/users/{user_id}",
        &["school_admin_b", "student_a"],
    ),
    (
        "post",
        "/api/v1/users/{user_id}/password-reset",
        &["school_admin_b", "teacher_a"],
    ),
    (
        "post",
        "/api/v1/users/{user_id}/offboard",
        &["school_admin_b", "teacher_a"],
    ),
    (
        "post",
        "/api/v1/users/{user_id}/consents/{consent_id}/verify-guardian",
        &["school_admin_b", "teacher_a"],
    ),
    ("get", "/api/v1/audit/events", &["school_admin_a"]),
    ("get", "/api/v1/audit/verify", &["school_admin_a"]),
    ("post", "/api/v1/audit/checkpoints", &["school_admin_a"]),
    ("post", "/api/v1/item-groups", &["student_a"]),
    ("get", "/api/v1/item-groups/{group_id}", &["student_a"]),
    ("post", "/api/v1/items", &["student_a"]),
    ("get", "/api/v1/items", &["student_a"]),
    (
        "get",
        "/api/v1/items/review-queue",
        &["teacher_a", "student_a"],
    ),
    ("get", "/api/v1/items/{item_id}", &["student_a"]),
    (
        "get",
        "/api/v1/items/{item_id}/media/{name}",
        &["student_a"],
    ),
    (
        "put",
        "/api/v1/items/{item_id}",
        &["school_admin_b", "student_a"],
    ),
    (
        "post",
        "/api/v1/items/{item_id}/submit",
        &["school_admin_b"],
    ),
    (
        "post",
        "/api/v1/items/{item_id}/review",
        &["teacher_a", "school_admin_b"],
    ),
    ("post", "/api/v1/items/{item_id}/share", &["school_admin_b"]),
    (
        "post",
        "/api/v1/items/{item_id}/retire",
        &["school_admin_b"],
    ),
    ("post", "/api/v1/items/import", &["student_a"]),
    ("post", "/api/v1/items/export", &["student_a"]),
    ("post", "/api/v1/matrices/check", &["student_a"]),
    ("post", "/api/v1/papers", &["student_a"]),
    ("get", "/api/v1/papers/{paper_id}", &["student_a"]),
    (
        "get",
        "/api/v1/papers/{paper_id}/codes/{code}",
        &["student_a"],
    ),
    (
        "get",
        "/api/v1/papers/{paper_id}/codes/{code}/docx",
        &["student_a"],
    ),
    ("get", "/api/v1/papers/{paper_id}/keys/docx", &["student_a"]),
    (
        "get",
        "/api/v1/papers/{paper_id}/codes/{code}/media/{name}",
        &["student_a"],
    ),
    // Exams: staff-only operations, then the candidate's own.
    ("post", "/api/v1/exams", &["student_a"]),
    ("get", "/api/v1/exams", &["student_a"]),
    ("get", "/api/v1/exams/{exam_id}", &["student_a"]),
    ("post", "/api/v1/exams/{exam_id}/sittings", &["student_a"]),
    (
        "post",
        "/api/v1/sittings/{sitting_id}/rooms",
        &["student_a"],
    ),
    ("get", "/api/v1/sittings/{sitting_id}/rooms", &["student_a"]),
    (
        "post",
        "/api/v1/sittings/{sitting_id}/candidates",
        &["student_a"],
    ),
    (
        "post",
        "/api/v1/sittings/{sitting_id}/candidates/import",
        &["student_a"],
    ),
    (
        "get",
        "/api/v1/sittings/{sitting_id}/candidates",
        &["student_a"],
    ),
    (
        "put",
        "/api/v1/candidates/{candidate_id}/accommodation",
        &["student_a"],
    ),
    ("post", "/api/v1/sittings/{sitting_id}/lock", &["student_a"]),
    ("get", "/api/v1/rooms/{room_id}/status", &["student_a"]),
    ("get", "/api/v1/rooms/{room_id}/dashboard", &["student_a"]),
    (
        "post",
        "/api/v1/candidates/{candidate_id}/check-in",
        &["student_a"],
    ),
    (
        "post",
        "/api/v1/attempts/{attempt_id}/admit-late",
        &["student_a"],
    ),
    (
        "post",
        "/api/v1/attempts/{attempt_id}/pause",
        &["student_a"],
    ),
    (
        "post",
        "/api/v1/attempts/{attempt_id}/continue",
        &["student_a"],
    ),
    ("post", "/api/v1/rooms/{room_id}/pause", &["student_a"]),
    ("post", "/api/v1/rooms/{room_id}/continue", &["student_a"]),
    (
        "post",
        "/api/v1/attempts/{attempt_id}/add-time",
        &["student_a"],
    ),
    (
        "post",
        "/api/v1/attempts/{attempt_id}/approve-device",
        &["student_a"],
    ),
    ("post", "/api/v1/attempts/{attempt_id}/void", &["student_a"]),
    (
        "post",
        "/api/v1/rooms/{room_id}/incident-reports",
        &["student_a"],
    ),
    (
        "get",
        "/api/v1/rooms/{room_id}/incident-reports",
        &["student_a"],
    ),
    (
        "get",
        "/api/v1/sittings/{sitting_id}/essays",
        &["student_a"],
    ),
    (
        "post",
        "/api/v1/attempts/{attempt_id}/essay-marks",
        &["student_a"],
    ),
    (
        "post",
        "/api/v1/sittings/{sitting_id}/key-corrections",
        &["student_a"],
    ),
    (
        "get",
        "/api/v1/sittings/{sitting_id}/results",
        &["student_a"],
    ),
    (
        "get",
        "/api/v1/sittings/{sitting_id}/statistics",
        &["student_a"],
    ),
    (
        "get",
        "/api/v1/sittings/{sitting_id}/distribution.svg",
        &["student_a"],
    ),
    (
        "get",
        "/api/v1/sittings/{sitting_id}/distribution.png",
        &["student_a"],
    ),
    (
        "get",
        "/api/v1/sittings/{sitting_id}/results.xlsx",
        &["student_a"],
    ),
    (
        "get",
        "/api/v1/attempts/{attempt_id}/appeal",
        &["student_a"],
    ),
    ("post", "/api/v1/exams/{exam_id}/release", &["student_a"]),
    ("get", "/api/v1/exams/{exam_id}/staff", &["student_a"]),
    ("put", "/api/v1/exams/{exam_id}/staff", &["student_a"]),
    ("get", "/api/v1/items/{item_id}/statistics", &["student_a"]),
    (
        "post",
        "/api/v1/sittings/{sitting_id}/attempts",
        &["teacher_a"],
    ),
    (
        "post",
        "/api/v1/attempts/{attempt_id}/start",
        &["teacher_a"],
    ),
    (
        "post",
        "/api/v1/attempts/{attempt_id}/resume",
        &["teacher_a"],
    ),
    ("get", "/api/v1/attempts/{attempt_id}/paper", &["teacher_a"]),
    (
        "get",
        "/api/v1/attempts/{attempt_id}/media/{name}",
        &["teacher_a"],
    ),
    (
        "put",
        "/api/v1/attempts/{attempt_id}/answers",
        &["teacher_a"],
    ),
    (
        "post",
        "/api/v1/attempts/{attempt_id}/heartbeat",
        &["teacher_a"],
    ),
    (
        "post",
        "/api/v1/attempts/{attempt_id}/next-section",
        &["teacher_a"],
    ),
    (
        "post",
        "/api/v1/attempts/{attempt_id}/submit",
        &["teacher_a"],
    ),
    // The content repository's writing side.
    ("post", "/api/v1/content/uploads", &["student_a"]),
    (
        "post",
        "/api/v1/content/uploads/{upload_id}/complete",
        &["student_a"],
    ),
    ("get", "/api/v1/content/files/{file_id}/url", &["student_a"]),
    ("post", "/api/v1/content/items", &["student_a"]),
    ("put", "/api/v1/content/items/{item_id}", &["student_a"]),
    (
        "get",
        "/api/v1/content/items/{item_id}/versions",
        &["student_a"],
    ),
    (
        "post",
        "/api/v1/content/items/{item_id}/versions/{version}/restore",
        &["student_a"],
    ),
    (
        "post",
        "/api/v1/content/items/{item_id}/submit",
        &["student_a"],
    ),
    (
        "post",
        "/api/v1/content/items/{item_id}/review",
        &["teacher_a", "student_a"],
    ),
    (
        "post",
        "/api/v1/content/items/{item_id}/takedown",
        &["school_admin_a", "teacher_a"],
    ),
    (
        "put",
        "/api/v1/content/items/{item_id}/mark",
        &["student_a"],
    ),
    (
        "post",
        "/api/v1/classes/{class_id}/assignments",
        &["student_a"],
    ),
    (
        "get",
        "/api/v1/classes/{class_id}/assignments",
        &["student_a"],
    ),
    ("get", "/api/v1/me/assignments", &["teacher_a"]),
    (
        "post",
        "/api/v1/assignments/{assignment_id}/progress",
        &["teacher_a"],
    ),
    ("get", "/api/v1/content/usage", &["teacher_a", "student_a"]),
    (
        "get",
        "/api/v1/content/usage.xlsx",
        &["teacher_a", "student_a"],
    ),
    // Identity: ID numbers and ID-card check-in.
    (
        "put",
        "/api/v1/users/{user_id}/id-number",
        &["teacher_a", "school_admin_b"],
    ),
    (
        "get",
        "/api/v1/users/{user_id}/id-number",
        &["teacher_a", "school_admin_b"],
    ),
    (
        "post",
        "/api/v1/candidates/{candidate_id}/check-in/id-card",
        &["student_a"],
    ),
    ("post", "/api/v1/me/consents", &["teacher_a"]),
    (
        "post",
        "/api/v1/users/{user_id}/passkey-enrollment",
        &["student_a", "school_admin_b"],
    ),
    (
        "post",
        "/api/v1/classes/{class_id}/passkey-enrollment",
        &["student_a"],
    ),
    (
        "get",
        "/api/v1/users/{user_id}/passkeys",
        &["teacher_a", "school_admin_b"],
    ),
    (
        "delete",
        "/api/v1/users/{user_id}/passkeys/{passkey_id}",
        &["teacher_a", "school_admin_b"],
    ),
];

fn body_for(path: &str, school: &str) -> Value {
    match path {
        "/api/v1/schools" => json!({ "code": "THPT-X", "name": "Trường X", "level": "THPT" }),
        "/api/v1/schools/{school_id}/classes" => {
            json!({ "name": "10A9", "grade": 10, "school_year": "2025-2026" })
        }
        "/api/v1/users" => {
            json!({ "login": "moi.gv", "full_name": "Giáo viên Mới", "roles": ["teacher"], "school_id": school })
        }
        "/api/v1/me/password" => json!({ "current_password": "x", "new_password": "yyyyyyyyyy" }),
        "/api/v1/me/step-up" => json!({ "password": "x" }),
        "/api/v1/exams/{exam_id}/staff" => json!({ "organisers": [] }),
        "/api/v1/items" | "/api/v1/items/{item_id}" => {
            super::items::mc_item("Câu hỏi", "Chương 1", "biet")
        }
        "/api/v1/items/{item_id}/review" => json!({ "decision": "approve" }),
        "/api/v1/item-groups" => {
            json!({ "subject": "tieng_anh", "title": "Passage", "stimulus": "Text" })
        }
        "/api/v1/items/export" => {
            json!({ "format": "moodle_xml", "item_ids": [uuid::Uuid::nil()] })
        }
        "/api/v1/matrices/check" => json!({ "matrix": super::papers::maths_matrix() }),
        "/api/v1/papers" => json!({ "matrix": super::papers::maths_matrix(), "codes": 2 }),
        "/api/v1/items/{item_id}/share" => json!({ "scope": "school" }),
        "/api/v1/exams" => json!({ "name": "Kỳ thi", "kind": "exam", "scope": "school" }),
        "/api/v1/content/uploads" => {
            json!({ "file_name": "a.png", "size": 10, "content_type": "image/png", "sha256": "0".repeat(64) })
        }
        "/api/v1/content/items" | "/api/v1/content/items/{item_id}" => {
            json!({ "title": "Liên kết", "scope": "school", "body": { "kind": "link", "url": "https://vi.wikipedia.org" },
                    "metadata": { "subject": "toan", "grade": 10, "topic": ["Chương 1"], "licence": "cc_by" } })
        }
        "/api/v1/content/items/{item_id}/review" => json!({ "decision": "approve" }),
        "/api/v1/content/items/{item_id}/takedown" => json!({ "reason": "Lý do" }),
        "/api/v1/content/items/{item_id}/mark" => json!({ "rating": 5 }),
        "/api/v1/classes/{class_id}/assignments" => json!({ "item_id": uuid::Uuid::nil() }),
        "/api/v1/assignments/{assignment_id}/progress" => json!({ "status": "opened" }),
        "/api/v1/users/{user_id}/id-number" => json!({ "number": "001208012345" }),
        "/api/v1/users/{user_id}/consents/{consent_id}/verify-guardian" => {
            json!({ "method": "signed_form" })
        }
        "/api/v1/candidates/{candidate_id}/check-in/id-card" => json!({ "qr": "x" }),
        "/api/v1/attempts/{attempt_id}/photos" => {
            json!({ "kind": "snapshot", "content_type": "image/png", "size": 100 })
        }
        "/api/v1/me/consents" => {
            json!({ "purposes": ["id_card"], "text_version": "2026-11-v1", "accepted": true })
        }
        "/api/v1/exams/{exam_id}/sittings" => {
            json!({ "name": "Ca 1", "paper_id": uuid::Uuid::nil(), "starts_at": "2026-12-01T01:00:00Z" })
        }
        "/api/v1/sittings/{sitting_id}/rooms" => json!({ "name": "Phòng 1", "capacity": 24 }),
        "/api/v1/candidates/{candidate_id}/accommodation" => {
            json!({ "extra_minutes": 15, "reason": "Khuyết tật" })
        }
        "/api/v1/candidates/{candidate_id}/check-in"
        | "/api/v1/attempts/{attempt_id}/admit-late"
        | "/api/v1/attempts/{attempt_id}/pause"
        | "/api/v1/rooms/{room_id}/pause"
        | "/api/v1/attempts/{attempt_id}/void" => json!({ "reason": "Lý do" }),
        "/api/v1/attempts/{attempt_id}/add-time" => json!({ "minutes": 5, "reason": "Lý do" }),
        "/api/v1/rooms/{room_id}/incident-reports" => json!({ "text": "Biên bản" }),
        "/api/v1/attempts/{attempt_id}/essay-marks" => {
            json!({ "slot": 0, "round": 1, "points": "1" })
        }
        "/api/v1/sittings/{sitting_id}/key-corrections" => {
            json!({ "dry_run": true, "corrections": [{ "code": "0101", "part": 1, "number": 1, "key": "A" }] })
        }
        "/api/v1/attempts/{attempt_id}/start"
        | "/api/v1/attempts/{attempt_id}/resume"
        | "/api/v1/attempts/{attempt_id}/next-section"
        | "/api/v1/attempts/{attempt_id}/submit"
        | "/api/v1/attempts/{attempt_id}/heartbeat"
        | "/api/v1/attempts/{attempt_id}/passkey-challenge" => {
            json!({ "device_id": "thiet-bi-thu" })
        }
        "/api/v1/me/passkeys/{passkey_id}" => json!({ "name": "Điện thoại" }),
        "/api/v1/attempts/{attempt_id}/answers" => {
            json!({ "device_id": "thiet-bi-thu", "seq": 1, "answers": [{ "slot": 0, "value": "A" }] })
        }
        _ => json!({}),
    }
}

async fn every_endpoint_refuses_strangers(app: TestApp) {
    let admin = app.admin_token().await;
    let school_a = app.create_school(&admin, "THPT-A", "Trường THPT A").await;
    let school_b = app.create_school(&admin, "THPT-B", "Trường THPT B").await;
    let teacher_id = app
        .create_user(&admin, "teacher_a", &["teacher"], Some(school_a))
        .await;
    for (login, role, school) in [
        ("school_admin_a", "school_admin", school_a),
        ("student_a", "student", school_a),
        ("school_admin_b", "school_admin", school_b),
    ] {
        app.create_user(&admin, login, &[role], Some(school)).await;
    }
    let spec = app.get("/openapi.json", None).await.body;
    let mut secured = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("security").is_some() {
                secured.insert((method.clone(), path.clone()));
            }
        }
    }
    let covered: BTreeSet<(String, String)> = FORBIDDEN
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .chain(
            OPEN_TO_EVERY_USER
                .iter()
                .map(|(m, p)| (m.to_string(), p.to_string())),
        )
        .collect();
    assert_eq!(
        secured, covered,
        "every secured operation needs a row in this test's tables"
    );

    let teacher_token = app.token("teacher_a", USER_PASSWORD).await;
    let item = app
        .post(
            "/api/v1/items",
            Some(&teacher_token),
            super::items::mc_item("Câu hỏi", "Chương 1", "biet"),
        )
        .await;
    let item_id = item.body["id"]
        .as_str()
        .expect("an item to aim at")
        .to_owned();
    let concrete = |path: &str| {
        path.replace("{school_id}", &school_a.to_string())
            .replace("{user_id}", &teacher_id.to_string())
            .replace("{item_id}", &item_id)
            .replace("{paper_id}", &uuid::Uuid::now_v7().to_string())
            .replace("{code}", "0101")
            .replace("{group_id}", &uuid::Uuid::now_v7().to_string())
            .replace("{exam_id}", &uuid::Uuid::now_v7().to_string())
            .replace("{sitting_id}", &uuid::Uuid::now_v7().to_string())
            .replace("{room_id}", &uuid::Uuid::now_v7().to_string())
            .replace("{attempt_id}", &uuid::Uuid::now_v7().to_string())
            .replace("{candidate_id}", &uuid::Uuid::now_v7().to_string())
            .replace("{upload_id}", &uuid::Uuid::now_v7().to_string())
            .replace("{file_id}", &uuid::Uuid::now_v7().to_string())
            .replace("{version}", "1")
            .replace("{class_id}", &uuid::Uuid::now_v7().to_string())
            .replace("{assignment_id}", &uuid::Uuid::now_v7().to_string())
            .replace("{consent_id}", &uuid::Uuid::now_v7().to_string())
            .replace("{photo_id}", &uuid::Uuid::now_v7().to_string())
            .replace("{passkey_id}", &uuid::Uuid::now_v7().to_string())
            .replace("{notice_id}", &uuid::Uuid::now_v7().to_string())
            .replace("{name}", &format!("{}.png", "0".repeat(64)))
    };
    let request = |method: &str, path: &str, token: Option<&str>| {
        let mut url = app.url(&concrete(path));
        if path.ends_with("/items/import") {
            url.push_str("?subject=toan&grade=12&topic=x");
        }
        let mut request = match method {
            "get" => app.client.get(url),
            "post" => app
                .client
                .post(url)
                .json(&body_for(path, &school_a.to_string())),
            "put" => app
                .client
                .put(url)
                .json(&body_for(path, &school_a.to_string())),
            "patch" => app
                .client
                .patch(url)
                .json(&body_for(path, &school_a.to_string())),
            "delete" => app.client.delete(url),
            other => panic!("no case for {other}"),
        };
        if path.ends_with("/import") {
            request = request
                .header("content-type", "text/csv")
                .body("login,full_name,role\nhs.x,Học Sinh,student\n");
        }
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        request
    };

    for (method, path) in &secured {
        let reply = app.send(request(method, path, None)).await;
        assert_eq!(
            reply.status, 401,
            "anonymous {method} {path}: {}",
            reply.text
        );
        assert_eq!(reply.body["code"], "unauthenticated");
    }
    let mut tokens = std::collections::HashMap::new();
    for login in ["school_admin_a", "teacher_a", "student_a", "school_admin_b"] {
        tokens.insert(login, app.token(login, USER_PASSWORD).await);
    }
    for (method, path, callers) in FORBIDDEN {
        for caller in *callers {
            let reply = app.send(request(method, path, Some(&tokens[caller]))).await;
            assert_eq!(
                reply.status, 403,
                "{caller} on {method} {path}: {}",
                reply.text
            );
            assert_eq!(reply.body["code"], "forbidden");
        }
    }
    // And the rightful caller is let through (the positive side of a few rows).
    assert_eq!(
        app.send(request(
            "get",
            "/api/v1/schools/{school_id}/classes",
            Some(&tokens["teacher_a"])
        ))
        .await
        .status,
        200
    );
    assert_eq!(
        app.send(request(
            "get",
            "/api/v1/users/{user_id}",
            Some(&tokens["school_admin_a"])
        ))
        .await
        .status,
        200
    );
    let listed = app
        .get("/api/v1/schools", Some(&tokens["school_admin_b"]))
        .await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        1,
        "school staff see only their school"
    );
    let users = app
        .get(
            &format!("/api/v1/users?school_id={school_a}"),
            Some(&tokens["school_admin_b"]),
        )
        .await;
    assert!(
        users.status == 403
            || users.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|u| u["school_id"] == json!(school_b)),
        "a school admin never lists another school's people"
    );
}

/// Finding 5 of docs/SECURITY.md, by object: for every secured route whose ids are an exam's,
/// a sitting's, a room's, an attempt's, a candidate's, a paper's, an item's, a group's, a
/// class's, a school's, a student's, a consent's or an upload's (and the rest below), real objects of school A are
/// aimed at by the staff of school B and by a teacher of school A with no part in them. Each must
/// be refused (403 or 404); the few that a colleague may use are listed with the reason. With
/// files, assignments, passkeys, notices and photos too, every id a route takes is covered, and
/// a route with a new kind of id fails this test until it gets a real object here.
async fn every_route_with_an_id_refuses_other_schools_and_bystanders(app: TestApp) {
    let e = super::exams::exam_ready(&app, 2, "exam").await;
    let attempts = super::exams::register_lock_check_in(&app, &e).await;
    let candidates = app
        .get(
            &format!("/api/v1/sittings/{}/candidates", e.sitting),
            Some(&e.teacher),
        )
        .await;
    let candidate = candidates.body[0]["id"].as_str().unwrap().to_owned();
    let group = app
        .post(
            "/api/v1/item-groups",
            Some(&e.teacher),
            json!({ "subject": "tieng_anh", "title": "Passage", "stimulus": "Text" }),
        )
        .await;
    assert_eq!(group.status, 201, "{}", group.text);
    let item = app
        .post(
            "/api/v1/items",
            Some(&e.teacher),
            super::items::mc_item("Câu hỏi riêng", "Chương 1", "biet"),
        )
        .await;
    assert_eq!(item.status, 201, "{}", item.text);

    let (_, student) = &e.students[0];
    let student_id = app.get("/api/v1/me", Some(student)).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let consent = app
        .post(
            "/api/v1/me/consents",
            Some(student),
            json!({ "purposes": ["id_card"], "text_version": "2026-11-v1", "accepted": true }),
        )
        .await;
    assert_eq!(consent.status, 201, "{}", consent.text);
    let upload = app
        .post("/api/v1/content/uploads", Some(&e.teacher), json!({ "file_name": "de.pdf", "size": 10, "content_type": "application/pdf", "sha256": "1".repeat(64) }))
        .await;
    assert_eq!(upload.status, 201, "{}", upload.text);
    // A file, a content item on it assigned to the class, and the student's passkey with the
    // notice it made.
    let file = super::content::upload(
        &app,
        &e.teacher,
        "so-do.png",
        &super::content::png(),
        "image/png",
    )
    .await;
    assert_eq!(file.status, 200, "{}", file.text);
    let lesson = app
        .post("/api/v1/content/items", Some(&e.teacher), json!({ "title": "Sơ đồ", "scope": "school",
            "body": { "kind": "image", "file_id": file.body["id"] },
            "metadata": { "subject": "toan", "grade": 12, "topic": ["Chương 1"], "licence": "cc_by" } }))
        .await;
    assert_eq!(lesson.status, 201, "{}", lesson.text);
    let assignment = app
        .post(
            &format!("/api/v1/classes/{}/assignments", e.class),
            Some(&e.teacher),
            json!({ "item_id": lesson.body["id"] }),
        )
        .await;
    assert_eq!(assignment.status, 201, "{}", assignment.text);
    let code = super::passkeys::issue_code(&app, &e.teacher, &student_id).await;
    let mut authenticator = super::passkeys::authenticator(&app);
    super::passkeys::enroll(
        &app,
        &mut authenticator,
        code.body["code"].as_str().unwrap(),
        student,
    )
    .await;
    // A check-in photo the room's proctor took, under the student's consent.
    let photo_consent = app
        .post(
            "/api/v1/me/consents",
            Some(student),
            json!({ "purposes": ["photo"], "text_version": "2026-11-v1", "accepted": true }),
        )
        .await;
    assert_eq!(photo_consent.status, 201, "{}", photo_consent.text);
    let image = super::content::png();
    let photo = app
        .post(
            &format!("/api/v1/attempts/{}/photos", attempts[0]),
            Some(&e.proctor),
            json!({ "kind": "check_in", "content_type": "image/png", "size": image.len() }),
        )
        .await;
    assert_eq!(photo.status, 201, "{}", photo.text);
    let sent = app
        .client
        .put(photo.body["url"].as_str().unwrap())
        .header("content-type", "image/png")
        .body(image)
        .send()
        .await
        .unwrap();
    assert!(sent.status().is_success());
    let photo_id = photo.body["photo_id"].as_str().unwrap().to_owned();
    let stored = app
        .post(
            &format!("/api/v1/photos/{photo_id}/complete"),
            Some(&e.proctor),
            json!({}),
        )
        .await;
    assert_eq!(stored.status, 204, "{}", stored.text);
    let passkey = app.get("/api/v1/me/passkeys", Some(student)).await.body[0]["id"].clone();
    let notice = app.get("/api/v1/me/notices", Some(student)).await.body[0]["id"].clone();
    let admin = app.admin_token().await;
    let school_b = app
        .create_school(&admin, "THPT-OB", "Trường THPT Ô B")
        .await;
    app.create_user(&admin, "qt.ob", &["school_admin"], Some(school_b))
        .await;
    app.create_user(&admin, "gv.ob", &["teacher", "proctor"], Some(school_b))
        .await;
    app.create_user(&admin, "gv.ngoai", &["teacher", "proctor"], Some(e.school))
        .await;
    let callers = [
        (
            "another school's admin",
            app.token("qt.ob", USER_PASSWORD).await,
        ),
        (
            "another school's teacher",
            app.token("gv.ob", USER_PASSWORD).await,
        ),
        (
            "a colleague with no part",
            app.token("gv.ngoai", USER_PASSWORD).await,
        ),
    ];
    let ids = [
        ("{exam_id}", e.exam.clone()),
        ("{sitting_id}", e.sitting.clone()),
        ("{room_id}", e.room.clone()),
        ("{attempt_id}", attempts[0].clone()),
        ("{candidate_id}", candidate),
        ("{paper_id}", e.paper.clone()),
        ("{code}", e.codes[0].clone()),
        ("{item_id}", item.body["id"].as_str().unwrap().to_owned()),
        ("{group_id}", group.body["id"].as_str().unwrap().to_owned()),
        ("{class_id}", e.class.to_string()),
        ("{version}", "1".to_owned()),
        ("{school_id}", e.school.to_string()),
        ("{user_id}", student_id),
        (
            "{consent_id}",
            consent.body["id"].as_str().unwrap().to_owned(),
        ),
        (
            "{upload_id}",
            upload.body["upload_id"].as_str().unwrap().to_owned(),
        ),
        ("{file_id}", file.body["id"].as_str().unwrap().to_owned()),
        (
            "{assignment_id}",
            assignment.body["id"].as_str().unwrap().to_owned(),
        ),
        ("{passkey_id}", passkey.as_str().unwrap().to_owned()),
        ("{notice_id}", notice.as_str().unwrap().to_owned()),
        ("{photo_id}", photo_id),
        // The figure the exam's paper shows.
        ("{name}", super::exams::FIGURE.to_owned()),
    ];
    // What a colleague of the same school may do with these objects, and why.
    let colleague_may: &[(&str, &str)] = &[
        // The school's classes are the teachers' to teach and assign work to.
        ("get", "/api/v1/classes/{class_id}/assignments"),
        ("post", "/api/v1/classes/{class_id}/assignments"),
        ("post", "/api/v1/classes/{class_id}/passkey-enrollment"),
        // Their own school and its class list.
        ("get", "/api/v1/schools/{school_id}"),
        ("get", "/api/v1/schools/{school_id}/classes"),
        // A student's enrollment code from any of the school's staff: it binds a passkey only to
        // the student's own signed-in session (finding 1), and the student is told.
        ("post", "/api/v1/users/{user_id}/passkey-enrollment"),
    ];
    let spec = app.get("/openapi.json", None).await.body;
    let mut checked = 0;
    let failures = std::cell::RefCell::new(Vec::new());
    for (path, item) in spec["paths"].as_object().unwrap() {
        let placeholders: Vec<&str> = path.split('/').filter(|s| s.starts_with('{')).collect();
        if placeholders.is_empty()
            || !placeholders
                .iter()
                .all(|p| ids.iter().any(|(name, _)| name == p))
        {
            continue;
        }
        let mut concrete = path.clone();
        for (name, id) in &ids {
            concrete = concrete.replace(name, id);
        }
        for (method, op) in item.as_object().unwrap() {
            if op.get("security").is_none() {
                continue;
            }
            for (who, token) in &callers {
                if who.starts_with("a colleague") && colleague_may.contains(&(method, path)) {
                    continue;
                }
                let url = app.url(&concrete);
                let request = match method.as_str() {
                    "get" => app.client.get(url),
                    "delete" => app.client.delete(url),
                    "put" => app
                        .client
                        .put(url)
                        .json(&body_for(path, &e.school.to_string())),
                    "patch" => app
                        .client
                        .patch(url)
                        .json(&body_for(path, &e.school.to_string())),
                    _ => app
                        .client
                        .post(url)
                        .json(&body_for(path, &e.school.to_string())),
                };
                let reply = app.send(request.bearer_auth(token)).await;
                if !matches!(reply.status, 403 | 404) {
                    let text = &reply.text[..reply.text.len().min(200)];
                    let status = reply.status;
                    let line = format!("{who} on {method} {path}: {status} {text}");
                    let mut failures = failures.borrow_mut();
                    failures.push(line);
                }
                checked += 1;
            }
        }
    }
    let failures = failures.into_inner();
    assert!(failures.is_empty(), "let through:\n{}", failures.join("\n"));
    let uncovered: BTreeSet<&str> = spec["paths"]
        .as_object()
        .unwrap()
        .keys()
        .flat_map(|p| p.split('/'))
        .filter(|s| s.starts_with('{') && !ids.iter().any(|(name, _)| name == s))
        .collect();
    assert!(
        uncovered.is_empty(),
        "ids with no real object in this matrix: {uncovered:?}"
    );
    assert!(
        checked > 150,
        "the matrix covers the routes ({checked} checks)"
    );
}
