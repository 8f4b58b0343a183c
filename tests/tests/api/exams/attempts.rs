//! The invariants of one attempt: durable acknowledged saves, the server's clock, idempotent
//! saves, exactly-once auto-submit, one device at a time, no keys for candidates.
use super::*;

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
);

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
        hocthi::exams::sweeper::sweep_once(&app.state),
        hocthi::exams::sweeper::sweep_once(&second.state)
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
        hocthi::exams::sweeper::sweep_once(&third.state)
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
    let figure = format!("/api/v1/attempts/{}/media/{FIGURE}", attempts[0]);
    assert_eq!(
        app.get(&figure, Some(mine)).await.status,
        409,
        "not before the start"
    );
    start(&app, mine, &attempts[0], DEVICE_A).await;
    // The paper's figures, to its candidate only, and only those the paper shows.
    let shown = app
        .send(app.client.get(app.url(&figure)).bearer_auth(mine))
        .await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert_eq!(shown.headers["content-type"], "image/png");
    assert_eq!(
        app.get(&figure, Some(theirs)).await.body["code"],
        "attempt_not_found"
    );
    // The paper's author reads the code rendered, its figure at the code's own media route.
    let code = app
        .get(
            &format!("/api/v1/papers/{}/codes/{}", e.paper, e.codes[0]),
            Some(&e.teacher),
        )
        .await;
    let part2 = code.body["questions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["part"] == 2)
        .unwrap();
    let src = format!(
        "/api/v1/papers/{}/codes/{}/media/{FIGURE}",
        e.paper, e.codes[0]
    );
    let stem = part2["rendered"]["stem"].as_str().unwrap();
    assert!(
        stem.contains(&format!(r#"<img src="{src}""#)) && stem.contains("<msup>"),
        "{stem}"
    );
    assert_eq!(app.get(&src, Some(&e.teacher)).await.status, 200);
    let other = format!(
        "/api/v1/attempts/{}/media/{}.png",
        attempts[0],
        "0".repeat(64)
    );
    assert_eq!(
        app.get(&other, Some(mine)).await.body["code"],
        "media_not_found"
    );
    let paper = app
        .get(
            &format!("/api/v1/attempts/{}/paper", attempts[0]),
            Some(mine),
        )
        .await;
    assert_eq!(paper.status, 200, "{}", paper.text);
    assert!(
        !paper.text.contains("\"rendered\""),
        "the candidate's paper stays lean: no HTML beside the content"
    );
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
    hocthi::exams::sweeper::sweep_once(&app.state)
        .await
        .unwrap();
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
    hocthi::exams::sweeper::sweep_once(&app.state)
        .await
        .unwrap();
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
    hocthi::exams::sweeper::sweep_once(&app.state)
        .await
        .unwrap();
    let again = answers_of(&app, token, &attempts[0], DEVICE_A).await;
    assert_eq!(again["deadline"], view["deadline"]);
}
