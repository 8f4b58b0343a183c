use hocthi_tests::{TestApp, on_every_store};
use sea_orm::ConnectionTrait;

on_every_store!(the_chain_verifies_and_detects_tampering);

async fn the_chain_verifies_and_detects_tampering(app: TestApp) {
    let admin = app.admin_token().await;
    let school = app.create_school(&admin, "THPT-D", "Trường THPT D").await;
    app.create_class(&admin, school, "11A1").await;
    app.create_user(&admin, "gv.dat", &["teacher"], Some(school))
        .await;

    let events = app
        .get("/api/v1/audit/events?limit=100", Some(&admin))
        .await;
    assert_eq!(events.status, 200, "{}", events.text);
    let actions: Vec<&str> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "user.bootstrapped",
            "auth.login",
            "school.created",
            "class.created",
            "user.created"
        ]
    );
    let created = &events.body["items"][2];
    assert_eq!(created["target_id"], school.to_string());
    assert_eq!(created["ip"], "127.0.0.1");
    assert!(created["request_id"].is_string());
    assert_eq!(
        events.body["items"][1]["prev_hash"], events.body["items"][0]["hash"],
        "each event links to the one before"
    );

    let verified = app.get("/api/v1/audit/verify", Some(&admin)).await;
    assert_eq!(
        verified.body,
        serde_json::json!({ "valid": true, "events_checked": 5, "first_broken_id": null })
    );

    // Someone with database access rewrites history.
    let id = created["id"].as_i64().unwrap();
    app.state
        .db
        .execute_unprepared(&format!(
            "UPDATE audit_events SET details = '{{\"code\":\"THPT-X\"}}' WHERE id = {id}"
        ))
        .await
        .unwrap();
    let broken = app.get("/api/v1/audit/verify", Some(&admin)).await;
    assert_eq!(broken.body["valid"], false);
    assert_eq!(broken.body["first_broken_id"], id);

    // Deleting a row breaks the link of the next one.
    app.state
        .db
        .execute_unprepared(&format!(
            "UPDATE audit_events SET details = '{}' WHERE id = {id}",
            created["details"].to_string().replace('\'', "''")
        ))
        .await
        .unwrap();
    assert_eq!(
        app.get("/api/v1/audit/verify", Some(&admin)).await.body["valid"],
        true,
        "restoring the row restores the chain"
    );
    app.state
        .db
        .execute_unprepared(&format!("DELETE FROM audit_events WHERE id = {id}"))
        .await
        .unwrap();
    let gap = app.get("/api/v1/audit/verify", Some(&admin)).await;
    assert_eq!(
        (
            gap.body["valid"].as_bool(),
            gap.body["first_broken_id"].as_i64()
        ),
        (Some(false), Some(id + 1))
    );
}
