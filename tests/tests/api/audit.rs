use hocthi_tests::{TestApp, on_every_store};
use sea_orm::ConnectionTrait;

on_every_store!(
    the_chain_verifies_and_detects_tampering,
    a_chain_recomputed_without_the_key_is_caught,
    a_cut_tail_is_caught_by_the_checkpoint,
    an_unkeyed_log_is_sealed_when_whole
);

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
        serde_json::json!({ "valid": true, "events_checked": 5, "first_broken_id": null, "checkpoint": null })
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

/// Someone with database access deletes an event and recomputes every later hash the way an
/// unkeyed chain is computed (SHA-256 of the same fields): without the key the chain stays
/// broken (docs/SECURITY.md, finding 9).
async fn a_chain_recomputed_without_the_key_is_caught(app: TestApp) {
    let admin = app.admin_token().await;
    let school = app.create_school(&admin, "THPT-E", "Trường THPT E").await;
    app.create_class(&admin, school, "10A1").await;
    let events = app
        .get("/api/v1/audit/events?limit=100", Some(&admin))
        .await;
    let items = events.body["items"].as_array().unwrap().clone();
    assert!(
        items
            .iter()
            .all(|e| e["hash"].as_str().unwrap().starts_with("k1:")),
        "every event is keyed"
    );
    let victim = items[2]["id"].as_i64().unwrap();
    app.state
        .db
        .execute_unprepared(&format!("DELETE FROM audit_events WHERE id = {victim}"))
        .await
        .unwrap();
    let prev = items[1]["hash"].as_str().unwrap();
    rechain_without_key(&app, prev, &items[3..], "k1:").await;
    let verified = app.get("/api/v1/audit/verify", Some(&admin)).await;
    assert_eq!(
        (
            verified.body["valid"].as_bool(),
            verified.body["first_broken_id"].as_i64()
        ),
        (Some(false), items[3]["id"].as_i64()),
        "{}",
        verified.text
    );
}

/// Rewrites `events` as a chain after `prev` hashed the unkeyed way (SHA-256 of the fields, as
/// the chain was before it had a key), each hash marked with `mark`.
async fn rechain_without_key(app: &TestApp, prev: &str, events: &[serde_json::Value], mark: &str) {
    let mut prev = prev.to_owned();
    for event in events {
        let at = chrono::DateTime::parse_from_rfc3339(event["at"].as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        // The fields in the order the service hashes them (serde_json's json! would sort them).
        let field = |value: serde_json::Value| value.to_string();
        let text = format!(
            r#"{{"prev":{},"at":{},"actor":{},"action":{},"target_type":{},"target_id":{},"ip":{},"request_id":{},"details":{}}}"#,
            field(prev.clone().into()),
            field(at.into()),
            field(event["actor_id"].clone()),
            field(event["action"].clone()),
            field(event["target_type"].clone()),
            field(event["target_id"].clone()),
            field(event["ip"].clone()),
            field(event["request_id"].clone()),
            field(event["details"].to_string().into()),
        );
        let digest = <sha2::Sha256 as sha2::Digest>::digest(&text);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let hash = format!("{mark}{hex}");
        app.state
            .db
            .execute_unprepared(&format!(
                "UPDATE audit_events SET prev_hash = '{prev}', hash = '{hash}' WHERE id = {}",
                event["id"]
            ))
            .await
            .unwrap();
        prev = hash;
    }
}

/// A log written before the chain had a key is sealed under the key at start-up when its
/// unkeyed chain is whole, and left for verify to report when it is not.
async fn an_unkeyed_log_is_sealed_when_whole(app: TestApp) {
    let admin = app.admin_token().await;
    let school = app.create_school(&admin, "THPT-H", "Trường THPT H").await;
    app.create_class(&admin, school, "11A2").await;
    let events = app
        .get("/api/v1/audit/events?limit=100", Some(&admin))
        .await;
    let items = events.body["items"].as_array().unwrap().clone();
    rechain_without_key(&app, hocthi::audit::GENESIS, &items, "").await;
    let unkeyed = app.get("/api/v1/audit/verify", Some(&admin)).await;
    assert_eq!(
        unkeyed.body["valid"], false,
        "an unkeyed chain does not verify"
    );

    let key = &app.state.audit_key;
    assert_eq!(
        hocthi::audit::seal_legacy(&app.state.db, key)
            .await
            .unwrap(),
        items.len() as u64
    );
    let sealed = app.get("/api/v1/audit/verify", Some(&admin)).await;
    assert_eq!(
        (
            sealed.body["valid"].as_bool(),
            sealed.body["events_checked"].as_u64()
        ),
        (Some(true), Some(items.len() as u64 + 1)),
        "{}",
        sealed.text
    );

    // An unkeyed chain with an edit in it is not sealed over: the break stays visible.
    let items = app
        .get("/api/v1/audit/events?limit=100", Some(&admin))
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .clone();
    rechain_without_key(&app, hocthi::audit::GENESIS, &items, "").await;
    app.state
        .db
        .execute_unprepared(&format!(
            "UPDATE audit_events SET action = 'school.renamed' WHERE id = {}",
            items[2]["id"]
        ))
        .await
        .unwrap();
    assert_eq!(
        hocthi::audit::seal_legacy(&app.state.db, key)
            .await
            .unwrap(),
        0
    );
    let broken = app.get("/api/v1/audit/verify", Some(&admin)).await;
    assert_eq!(broken.body["valid"], false);
}

/// Cutting the last events leaves a shorter chain that is whole; the signed checkpoint in the
/// blob store still names the old head, so verify reports the cut. A checkpoint edited in the
/// blob store does not pass as the service's own.
async fn a_cut_tail_is_caught_by_the_checkpoint(app: TestApp) {
    let admin = app.admin_token().await;
    let school = app.create_school(&admin, "THPT-G", "Trường THPT G").await;
    app.create_class(&admin, school, "12A1").await;
    let written = app
        .post(
            "/api/v1/audit/checkpoints",
            Some(&admin),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(written.status, 200, "{}", written.text);
    let head = written.body["head_id"].as_i64().unwrap();
    assert_eq!(written.body["events"], 4);
    let verified = app.get("/api/v1/audit/verify", Some(&admin)).await;
    assert_eq!(
        (
            verified.body["valid"].as_bool(),
            verified.body["checkpoint"]["head_id"].as_i64(),
            verified.body["checkpoint"]["problem"].clone()
        ),
        (Some(true), Some(head), serde_json::Value::Null),
        "{}",
        verified.text
    );

    app.state
        .db
        .execute_unprepared(&format!(
            "DELETE FROM audit_events WHERE id >= {}",
            head - 1
        ))
        .await
        .unwrap();
    let cut = app.get("/api/v1/audit/verify", Some(&admin)).await;
    assert_eq!(
        (
            cut.body["valid"].as_bool(),
            cut.body["first_broken_id"].as_i64(),
            cut.body["checkpoint"]["problem"].as_str()
        ),
        (Some(false), None, Some("events_missing")),
        "{}",
        cut.text
    );

    // A forged checkpoint claiming a shorter chain is not signed with the key.
    let key = format!("audit/checkpoints/{head:019}.json");
    let mut forged: serde_json::Value =
        serde_json::from_slice(&app.state.blobs.get(&key).await.unwrap().unwrap()).unwrap();
    forged["events"] = 2.into();
    app.state
        .blobs
        .put(
            &key,
            serde_json::to_vec(&forged).unwrap().into(),
            "application/json",
        )
        .await
        .unwrap();
    let forged = app.get("/api/v1/audit/verify", Some(&admin)).await;
    assert_eq!(
        (
            forged.body["valid"].as_bool(),
            forged.body["checkpoint"]["problem"].as_str()
        ),
        (Some(false), Some("checkpoint_signature")),
        "{}",
        forged.text
    );
}
