use hocthi_tests::{TestApp, on_every_store};

on_every_store!(ready_reports_every_store, metrics_count_requests);

async fn ready_reports_every_store(app: TestApp) {
    let live = app.get("/health/live", None).await;
    assert_eq!(live.status, 200);
    let ready = app.get("/health/ready", None).await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_eq!(ready.body["ready"], true);
    let kinds = match app.stores {
        hocthi_tests::Stores::Embedded => ["sqlite", "memory", "local"],
        hocthi_tests::Stores::Real => ["postgres", "redis", "s3"],
    };
    assert_eq!(ready.body["database"]["kind"], kinds[0]);
    assert_eq!(ready.body["hot_store"]["kind"], kinds[1]);
    assert_eq!(ready.body["blob_store"]["kind"], kinds[2]);
}

async fn metrics_count_requests(app: TestApp) {
    app.get("/health/live", None).await;
    let metrics = app.get("/metrics", None).await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .text
            .contains("http_request_duration_seconds_bucket")
            && metrics.text.contains("route=\"/health/live\""),
        "metrics lack the request histogram: {}",
        &metrics.text[..metrics.text.len().min(500)]
    );
    // Not for anyone else: a client reaching this host through the (trusted) proxy is refused.
    let remote = app
        .send(
            app.client
                .get(app.url("/metrics"))
                .header("x-forwarded-for", "203.0.113.9"),
        )
        .await;
    assert_eq!(remote.status, 401, "{}", remote.text);
    assert_eq!(remote.body["code"], "metrics_token_required");
    // With a token configured, only its bearer reads them, from anywhere.
    let scraped = app
        .another_instance_with(|vars| {
            vars.insert(
                "HOCTHI_METRICS_TOKEN".into(),
                "prometheus-token-2026".into(),
            );
        })
        .await;
    let bare = scraped.get("/metrics", None).await;
    assert_eq!(bare.status, 401, "{}", bare.text);
    let wrong = scraped.get("/metrics", Some("prometheus-token-2025")).await;
    assert_eq!(wrong.status, 401);
    let right = scraped.get("/metrics", Some("prometheus-token-2026")).await;
    assert_eq!(right.status, 200, "{}", right.text);
}

/// A store that cannot be reached stops start-up with a message that names it.
#[tokio::test]
async fn unreachable_stores_stop_start_up() {
    let dir = std::env::temp_dir().join(format!("hocthi-bad-{}", uuid::Uuid::new_v4()));
    let cases = [
        ("REDIS_URL", "redis://127.0.0.1:1", "Redis"),
        (
            "DATABASE_URL",
            "postgres://nobody@127.0.0.1:1/none",
            "database",
        ),
    ];
    for (name, value, words) in cases {
        let vars = std::collections::HashMap::from([
            ("HOCTHI_DATA_DIR".to_owned(), dir.display().to_string()),
            ("HOCTHI_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
            (name.to_owned(), value.to_owned()),
        ]);
        let settings = hocthi::config::Settings::from_map(&vars).unwrap();
        let err = match hocthi::startup::Application::build(settings).await {
            Ok(_) => panic!("{name}={value} must not start"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains(words), "{name}: {err}");
        assert!(
            !err.contains("nobody@"),
            "credentials are not echoed: {err}"
        );
    }
    std::fs::remove_dir_all(dir).ok();
}
