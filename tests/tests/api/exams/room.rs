//! The room as proctors see it, across instances, and what the dashboard counts.
use super::*;

on_every_store!(
    proctors_see_the_room_live_across_instances,
    the_dashboard_counts_answers_without_reading_saves_and_survives_a_lost_hot_store,
);

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

async fn the_dashboard_counts_answers_without_reading_saves_and_survives_a_lost_hot_store(
    app: TestApp,
) {
    use hocthi::exams::{answered, hot_keys};
    let e = exam_ready(&app, 1, "exam").await;
    let attempts = register_lock_check_in(&app, &e).await;
    let (_, token) = &e.students[0];
    let attempt = attempts[0].as_str();
    let bitmap = hot_keys::answered(attempt.parse().unwrap());
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
