//! What a failing database, a queued grading and simultaneous starts and submits leave behind.
use super::*;

on_every_store!(
    a_failing_database_answers_503_and_nothing_acknowledged_is_lost,
    a_submit_is_graded_after_its_response_and_before_any_score_is_read,
    starts_and_submits_that_come_at_once_are_each_applied_once,
);

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
        lifecycle::change_now(&app.state.exams, ids[0], now, |_| {
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
