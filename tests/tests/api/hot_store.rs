//! The hot-store seam: the same behaviour from the in-process store and from Redis.
use std::time::Duration;

use futures_util::StreamExt;
use hocthi_tests::{TestApp, on_every_store};

on_every_store!(values_expire_and_are_taken_once, counters_and_pub_sub);

async fn values_expire_and_are_taken_once(app: TestApp) {
    let hot = &app.state.hot;
    hot.set("ceremony:abc", b"state", Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(
        hot.get("ceremony:abc").await.unwrap().as_deref(),
        Some(&b"state"[..])
    );
    let ttl = hot.ttl("ceremony:abc").await.unwrap().unwrap();
    assert!((1..=300).contains(&ttl), "ttl {ttl}");

    // Ten takers at once: exactly one gets the value.
    let takers = (0..10).map(|_| {
        let hot = hot.clone();
        tokio::spawn(async move { hot.take("ceremony:abc").await.unwrap() })
    });
    let taken: Vec<_> = futures_util::future::join_all(takers)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(taken.iter().filter(|t| t.is_some()).count(), 1);
    assert!(hot.get("ceremony:abc").await.unwrap().is_none());

    // An expiry in the past by the time we look: a 1 ms value is gone once 1 ms has passed.
    hot.set("short", b"x", Duration::from_millis(1))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while hot.get("short").await.unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "a 1 ms value outlived 5 s"
        );
        tokio::task::yield_now().await;
    }
    assert!(hot.take("short").await.unwrap().is_none());

    hot.set("gone", b"x", Duration::from_secs(60))
        .await
        .unwrap();
    hot.delete("gone").await.unwrap();
    assert!(hot.get("gone").await.unwrap().is_none());
}

async fn counters_and_pub_sub(app: TestApp) {
    let hot = &app.state.hot;
    assert_eq!(
        hot.incr("count", 1, Duration::from_secs(60)).await.unwrap(),
        1
    );
    assert_eq!(
        hot.incr("count", 4, Duration::from_secs(1)).await.unwrap(),
        5
    );
    assert!(
        hot.ttl("count").await.unwrap().unwrap() > 1,
        "a later increment does not shorten the expiry"
    );

    let mut messages = hot.subscribe("room:12A1").await.unwrap();
    let mut other = hot.subscribe("room:12A2").await.unwrap();
    hot.publish("room:12A1", "thí sinh 07 đã nộp bài".as_bytes())
        .await
        .unwrap();
    hot.publish("room:12A2", b"other room").await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), messages.next())
        .await
        .expect("a message arrives")
        .unwrap();
    assert_eq!(String::from_utf8(first).unwrap(), "thí sinh 07 đã nộp bài");
    let second = tokio::time::timeout(Duration::from_secs(5), other.next())
        .await
        .expect("a message arrives")
        .unwrap();
    assert_eq!(second, b"other room");
}
