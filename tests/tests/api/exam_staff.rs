//! An exam's explicit staff (SECURITY.md, finding 5): a teacher of the same school with no part
//! in the exam is refused its results, keys, essays, candidates and proctor actions; markers see
//! only the essays; organisers are listed by name, and only the school's staff can be listed.
use hocthi_tests::{TestApp, USER_PASSWORD, on_every_store};
use serde_json::{Value, json};

on_every_store!(
    only_an_exams_own_staff_act_on_it,
    a_key_correction_needs_every_exam_that_uses_the_paper,
);

async fn status(app: &TestApp, method: &str, path: &str, token: &str, body: Value) -> u16 {
    let url = app.url(path);
    let request = match method {
        "get" => app.client.get(url),
        "post" => app.client.post(url).json(&body),
        other => panic!("no case for {other}"),
    };
    app.send(request.bearer_auth(token)).await.status
}

async fn only_an_exams_own_staff_act_on_it(app: TestApp) {
    let e = super::exams::exam_ready(&app, 1, "exam").await;
    let attempts = super::exams::register_lock_check_in(&app, &e).await;
    let attempt = &attempts[0];
    let outsider_id = app
        .create_user(&e.admin, "gv.khac", &["teacher"], Some(e.school))
        .await;
    let outsider = app.token("gv.khac", USER_PASSWORD).await;
    let sitting = &e.sitting;
    let organiser_only = [
        (
            "get",
            format!("/api/v1/sittings/{sitting}/results"),
            json!({}),
        ),
        (
            "get",
            format!("/api/v1/sittings/{sitting}/statistics"),
            json!({}),
        ),
        (
            "get",
            format!("/api/v1/sittings/{sitting}/results.xlsx"),
            json!({}),
        ),
        (
            "get",
            format!("/api/v1/sittings/{sitting}/candidates"),
            json!({}),
        ),
        (
            "get",
            format!("/api/v1/attempts/{attempt}/appeal"),
            json!({}),
        ),
        (
            "get",
            format!("/api/v1/papers/{}/codes/{}", e.paper, e.codes[0]),
            json!({}),
        ),
        ("get", format!("/api/v1/papers/{}", e.paper), json!({})),
        ("get", format!("/api/v1/exams/{}/staff", e.exam), json!({})),
        (
            "post",
            format!("/api/v1/sittings/{sitting}/rooms"),
            json!({ "name": "Phòng 09", "capacity": 24, "proctor_ids": [] }),
        ),
        (
            "post",
            format!("/api/v1/attempts/{attempt}/add-time"),
            json!({ "minutes": 5, "reason": "Thử" }),
        ),
        (
            "post",
            format!("/api/v1/attempts/{attempt}/void"),
            json!({ "reason": "Thử" }),
        ),
        (
            "post",
            format!("/api/v1/exams/{}/release", e.exam),
            json!({}),
        ),
    ];
    for (method, path, body) in &organiser_only {
        let got = status(&app, method, path, &outsider, body.clone()).await;
        assert!(
            got == 404 || got == 403,
            "{method} {path}: a teacher with no part got {got}"
        );
    }
    let essays = format!("/api/v1/sittings/{sitting}/essays");
    assert_eq!(
        status(&app, "get", &essays, &outsider, json!({})).await,
        404
    );

    // The creator organises; so does the school's admin without being listed.
    let results = format!("/api/v1/sittings/{sitting}/results");
    assert_eq!(
        status(&app, "get", &results, &e.teacher, json!({})).await,
        200
    );
    app.create_user(&e.admin, "qt.truong", &["school_admin"], Some(e.school))
        .await;
    let school_admin = app.token("qt.truong", USER_PASSWORD).await;
    assert_eq!(
        status(&app, "get", &results, &school_admin, json!({})).await,
        200
    );

    // Listed as a marker: the essays, and nothing else.
    let staff_path = format!("/api/v1/exams/{}/staff", e.exam);
    let teacher_id = super::passkeys::user_id(&app, &e.teacher).await;
    let put = |body: Value| {
        app.send(
            app.client
                .put(app.url(&staff_path))
                .bearer_auth(&e.teacher)
                .json(&body),
        )
    };
    let set = put(json!({ "organisers": [teacher_id], "markers": [outsider_id] })).await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(set.body["markers"][0]["login"], "gv.khac");
    assert_eq!(set.body["organisers"][0]["id"], teacher_id.as_str());
    assert_eq!(
        status(&app, "get", &essays, &outsider, json!({})).await,
        200
    );
    assert_eq!(
        status(&app, "get", &results, &outsider, json!({})).await,
        404
    );
    let key = format!("/api/v1/papers/{}/codes/{}", e.paper, e.codes[0]);
    assert_eq!(status(&app, "get", &key, &outsider, json!({})).await, 404);

    // Listed as an organiser: the results and the paper's keys.
    let set = put(json!({ "organisers": [teacher_id, outsider_id] })).await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(
        status(&app, "get", &results, &outsider, json!({})).await,
        200
    );
    assert_eq!(status(&app, "get", &key, &outsider, json!({})).await, 200);

    // Only active staff of the exam's school can be listed; the change is audited.
    let student_id = super::passkeys::user_id(&app, &e.students[0].1).await;
    let other_school = app.create_school(&e.admin, "THPT-KHAC", "THPT Khác").await;
    let elsewhere = app
        .create_user(&e.admin, "gv.truongkhac", &["teacher"], Some(other_school))
        .await;
    for (who, why) in [
        (json!(student_id), "a student"),
        (json!(elsewhere), "another school"),
    ] {
        let refused = put(json!({ "organisers": [teacher_id, who] })).await;
        assert_eq!(refused.status, 422, "{why}: {}", refused.text);
        assert_eq!(
            refused.body["errors"][0]["code"], "not_school_staff",
            "{why}: {}",
            refused.text
        );
    }
    let audit = app
        .get(
            &format!("/api/v1/audit/events?target_type=exam&target_id={}", e.exam),
            Some(&e.admin),
        )
        .await;
    assert!(audit.text.contains("exam.staff_set"), "{}", audit.text);
}

/// A paper's key is the paper's: correcting it regrades every sitting on it, so only someone who
/// organises every exam using the paper may (docs/SECURITY.md, finding 10).
async fn a_key_correction_needs_every_exam_that_uses_the_paper(app: TestApp) {
    let e = super::exams::exam_ready(&app, 1, "exam").await;
    let correction = json!({ "dry_run": true,
        "corrections": [{ "code": e.codes[0], "part": 1, "number": 12, "key": "A" }] });
    let path = format!("/api/v1/sittings/{}/key-corrections", e.sitting);
    let alone = app.post(&path, Some(&e.teacher), correction.clone()).await;
    assert_eq!(
        alone.status, 200,
        "the only exam on the paper: {}",
        alone.text
    );

    app.create_user(&e.admin, "qt.truong", &["school_admin"], Some(e.school))
        .await;
    let school_admin = app.token("qt.truong", USER_PASSWORD).await;
    let other = app
        .post(
            "/api/v1/exams",
            Some(&school_admin),
            json!({ "name": "Thi thử lần 2",
            "kind": "exam", "scope": "school", "school_id": e.school }),
        )
        .await;
    assert_eq!(other.status, 201, "{}", other.text);
    let sitting = app
        .post(
            &format!(
                "/api/v1/exams/{}/sittings",
                other.body["id"].as_str().unwrap()
            ),
            Some(&school_admin),
            json!({ "name": "Ca 1", "paper_id": e.paper, "starts_at": chrono::Utc::now() }),
        )
        .await;
    assert_eq!(sitting.status, 201, "{}", sitting.text);

    let shared = app.post(&path, Some(&e.teacher), correction.clone()).await;
    assert_eq!(shared.status, 409, "{}", shared.text);
    assert_eq!(shared.body["code"], "paper_used_by_other_exams");
    let both = app.post(&path, Some(&school_admin), correction).await;
    assert_eq!(both.status, 200, "who organises both may: {}", both.text);
}
