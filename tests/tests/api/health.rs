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
        metrics.text.contains("http_request_duration_seconds_bucket") && metrics.text.contains("route=\"/health/live\""),
        "metrics lack the request histogram: {}",
        &metrics.text[..metrics.text.len().min(500)]
    );
}
