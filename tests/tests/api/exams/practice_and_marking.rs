//! Practice sittings (several attempts, the key shown) and essays marked twice, with a third
//! marker when the two differ.
use super::*;

on_every_store!(
    practice_tests_allow_several_attempts_and_show_the_key,
    essays_are_double_marked_with_a_third_marker_on_disagreement,
);

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
    let bank = super::super::items::bank(&app).await;
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
    let author_id = super::super::passkeys::user_id(&app, &bank.author).await;
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
