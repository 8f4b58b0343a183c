//! A proctor's live dashboard (SSE) ends with its session and is capped per person
//! (docs/SECURITY.md, finding 8).
use hocthi_tests::{TestApp, on_every_store};
use serde_json::json;

on_every_store!(a_dashboard_stream_ends_with_its_session_and_is_capped_per_person);

async fn a_dashboard_stream_ends_with_its_session_and_is_capped_per_person(app: TestApp) {
    let e = super::exams::exam_ready(&app, 1, "exam").await;
    let attempts = super::exams::register_lock_check_in(&app, &e).await;
    let open = || {
        app.client
            .get(app.url(&format!("/api/v1/rooms/{}/dashboard", e.room)))
            .bearer_auth(&e.proctor)
            .send()
    };
    let mut streams = Vec::new();
    for n in 0..4 {
        let stream = open().await.unwrap();
        assert_eq!(stream.status(), 200, "stream {n}");
        streams.push(stream);
    }
    let fifth = open().await.unwrap();
    assert_eq!(fifth.status(), 429);
    assert!(fifth.headers().contains_key("retry-after"));
    let body: serde_json::Value = fifth.json().await.unwrap();
    assert_eq!(body["code"], "too_many_streams");

    // The first event arrives; then the proctor signs out, and the room's next event ends the
    // stream instead of reaching a session that no longer exists.
    let mut stream = streams.remove(0);
    let first = stream.chunk().await.unwrap().expect("the first snapshot");
    assert!(first.starts_with(b"event: snapshot"));
    let out = app
        .post("/api/v1/auth/logout", Some(&e.proctor), json!({}))
        .await;
    assert_eq!(out.status, 204, "{}", out.text);
    let (_, student) = &e.students[0];
    let started = app
        .post(
            &format!("/api/v1/attempts/{}/start", attempts[0]),
            Some(student),
            json!({ "device_id": "may-tinh-phong-01-so-01" }),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let ended = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        let mut after = Vec::new();
        while let Some(chunk) = stream.chunk().await.unwrap() {
            after.extend_from_slice(&chunk);
        }
        after
    })
    .await
    .expect("the stream ends after the sign-out");
    assert!(
        !String::from_utf8_lossy(&ended).contains("\"started\""),
        "no event reaches the signed-out session"
    );
}
