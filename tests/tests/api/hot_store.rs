//! The hot-store seam: the same behaviour from the in-process store and from Redis.
use std::time::Duration;

use futures_util::StreamExt;
use hocthi_tests::{TestApp, on_every_store};

on_every_store!(
    values_expire_and_are_taken_once,
    counters_and_pub_sub,
    a_versioned_value_is_never_replaced_by_an_older_one,
    a_batch_answers_each_command_in_order,
    keys_are_listed_by_a_literal_prefix,
    bits_are_set_in_a_bitmap_that_expires_when_new
);

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

async fn a_versioned_value_is_never_replaced_by_an_older_one(app: TestApp) {
    let hot = &app.state.hot;
    let ttl = Duration::from_secs(60);
    assert!(hot.get_versioned("clock:x").await.unwrap().is_none());
    assert!(hot.set_if_newer("clock:x", 3, b"three", ttl).await.unwrap());
    // An older copy (a reader that read the row before the change) and the same version again
    // are refused; a newer one replaces it, whatever order they arrive in.
    assert!(!hot.set_if_newer("clock:x", 2, b"two", ttl).await.unwrap());
    assert!(!hot.set_if_newer("clock:x", 3, b"again", ttl).await.unwrap());
    assert_eq!(
        hot.get_versioned("clock:x").await.unwrap(),
        Some((3, b"three".to_vec()))
    );
    assert!(
        hot.set_if_newer("clock:x", 4, b"four|with a bar", ttl)
            .await
            .unwrap()
    );
    assert_eq!(
        hot.get_versioned("clock:x").await.unwrap(),
        Some((4, b"four|with a bar".to_vec()))
    );
    // Many writers at once, in any order: the newest version is what stays.
    let writers = (5..25).rev().map(|v| {
        let hot = hot.clone();
        tokio::spawn(async move {
            hot.set_if_newer("clock:x", v, v.to_string().as_bytes(), ttl)
                .await
                .unwrap()
        })
    });
    futures_util::future::join_all(writers).await;
    assert_eq!(
        hot.get_versioned("clock:x").await.unwrap(),
        Some((24, b"24".to_vec()))
    );
    // An expired copy is gone, so any version may fill it again.
    assert!(
        hot.set_if_newer("clock:y", 9, b"nine", Duration::from_millis(1))
            .await
            .unwrap()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while hot.get_versioned("clock:y").await.unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "a 1 ms value outlived 5 s"
        );
        tokio::task::yield_now().await;
    }
    assert!(hot.set_if_newer("clock:y", 1, b"one", ttl).await.unwrap());
}

async fn a_batch_answers_each_command_in_order(app: TestApp) {
    use hocthi::stores::hot::{Op, Reply};
    let hot = &app.state.hot;
    let ttl = Duration::from_secs(60);
    let mut room = hot.subscribe("room:batch").await.unwrap();
    let replies = hot
        .batch(&[
            Op::Set("presence:a", b"here", ttl),
            Op::Get("presence:a"),
            Op::Incr("incidents:a", 2, ttl),
            Op::Get("nothing here"),
            Op::Incr("incidents:a", 3, Duration::from_secs(1)),
            Op::Publish("room:batch", "thí sinh 12 mất kết nối".as_bytes()),
        ])
        .await
        .unwrap();
    assert_eq!(
        replies,
        vec![
            Reply::Done,
            Reply::Value(Some(b"here".to_vec())),
            Reply::Count(2),
            Reply::Value(None),
            Reply::Count(5),
            Reply::Done,
        ]
    );
    assert!(
        hot.ttl("incidents:a").await.unwrap().unwrap() > 1,
        "a counter's expiry is set when it is new, as with incr"
    );
    let message = tokio::time::timeout(Duration::from_secs(5), room.next())
        .await
        .expect("the batch's message arrives")
        .unwrap();
    assert_eq!(
        String::from_utf8(message).unwrap(),
        "thí sinh 12 mất kết nối"
    );
    assert!(hot.batch(&[]).await.unwrap().is_empty());
}

async fn keys_are_listed_by_a_literal_prefix(app: TestApp) {
    let hot = &app.state.hot;
    let ttl = Duration::from_secs(60);
    for key in [
        "lit[e]ral:1",
        "lit[e]ral:2",
        "literal:3",
        "other:lit[e]ral:4",
    ] {
        hot.set(key, b"x", ttl).await.unwrap();
    }
    let mut keys = hot.keys("lit[e]ral:").await.unwrap();
    keys.sort();
    // "[e]" is not a glob class here: "literal:3" does not match.
    assert_eq!(keys, ["lit[e]ral:1", "lit[e]ral:2"]);
    assert!(hot.keys("no such prefix:").await.unwrap().is_empty());
}

async fn bits_are_set_in_a_bitmap_that_expires_when_new(app: TestApp) {
    use hocthi::stores::hot::{Op, Reply, bit_is_set};
    let hot = &app.state.hot;
    let replies = hot
        .batch(&[
            Op::SetBit("bits:a", 0, Duration::from_secs(60)),
            Op::SetBit("bits:a", 9, Duration::from_secs(1)),
            Op::SetBit("bits:a", 9, Duration::from_secs(1)),
            Op::Get("bits:a"),
        ])
        .await
        .unwrap();
    // Redis's bit order: offset 0 is the first byte's highest bit.
    assert_eq!(
        replies,
        vec![
            Reply::Done,
            Reply::Done,
            Reply::Done,
            Reply::Value(Some(vec![0b1000_0000, 0b0100_0000])),
        ]
    );
    assert!(
        hot.ttl("bits:a").await.unwrap().unwrap() > 1,
        "a bitmap's expiry is set when it is new"
    );
    hot.set("bits:b", &[0b0000_0001], Duration::from_secs(60))
        .await
        .unwrap();
    hot.batch(&[Op::SetBit("bits:b", 23, Duration::from_secs(60))])
        .await
        .unwrap();
    let stored = hot.get("bits:b").await.unwrap().unwrap();
    assert_eq!(stored, [0b0000_0001, 0, 0b0000_0001]);
    assert!(bit_is_set(&stored, 7) && bit_is_set(&stored, 23));
    assert!(!bit_is_set(&stored, 6) && !bit_is_set(&stored, 100));
}
