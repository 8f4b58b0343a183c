//! Every error, whatever produced it, is the same problem+json envelope.
use hocthi_tests::{TestApp, on_every_store};
use serde_json::json;

on_every_store!(
    bad_input_gets_the_envelope,
    language_follows_accept_language,
    request_ids_are_kept_or_made,
    openapi_and_docs_are_served,
    an_instance_at_its_limit_sheds_requests_with_retry_after,
    a_nul_character_is_refused_at_the_edge_and_nothing_is_written,
    the_openapi_document_tells_the_truth,
    what_the_document_does_not_allow_is_refused,
);

fn assert_problem(reply: &hocthi_tests::Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(
        reply.headers["content-type"], "application/problem+json",
        "{}",
        reply.text
    );
    assert_eq!(reply.body["code"], code, "{}", reply.text);
    assert_eq!(reply.body["status"], status);
    assert_eq!(reply.body["type"], format!("/problems/{code}"));
    assert!(reply.body["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(reply.body["request_id"].as_str().is_some());
}

async fn bad_input_gets_the_envelope(app: TestApp) {
    let token = app.admin_token().await;
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        (
            "malformed JSON",
            app.client
                .post(app.url("/api/v1/auth/login"))
                .header("content-type", "application/json")
                .body("{\"login\": "),
            400,
            "malformed_json",
        ),
        (
            "JSON of the wrong type",
            app.client
                .post(app.url("/api/v1/auth/login"))
                .json(&json!({ "login": 42, "password": [] })),
            400,
            "json_wrong_type",
        ),
        (
            "JSON without its content type",
            app.client.post(app.url("/api/v1/auth/login")).body("{}"),
            400,
            "missing_content_type",
        ),
        (
            "an oversize JSON body",
            app.client
                .post(app.url("/api/v1/schools"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(format!(
                    "{{\"code\":\"X\",\"name\":\"{}\",\"level\":\"THPT\"}}",
                    "a".repeat(300 * 1024)
                )),
            413,
            "payload_too_large",
        ),
        (
            "an unknown route",
            app.client.get(app.url("/api/v1/no-such-thing")),
            404,
            "route_not_found",
        ),
        (
            "a path id that is not a UUID",
            app.client
                .get(app.url("/api/v1/schools/42"))
                .bearer_auth(&token),
            404,
            "malformed_path",
        ),
        (
            "a malformed query",
            app.client
                .get(app.url("/api/v1/users?limit=many"))
                .bearer_auth(&token),
            400,
            "malformed_query",
        ),
        (
            "an invalid field",
            app.client
                .post(app.url("/api/v1/schools"))
                .bearer_auth(&token)
                .json(&json!({ "code": "bad code", "name": "", "level": "ĐH" })),
            422,
            "validation_failed",
        ),
    ];
    for (what, request, status, code) in cases {
        let reply = app.send(request).await;
        assert_eq!(reply.status, status, "{what}: {}", reply.text);
        assert_problem(&reply, status, code);
    }
    let reply = app
        .send(
            app.client
                .post(app.url("/api/v1/schools"))
                .bearer_auth(&token)
                .json(&json!({ "code": "bad code", "name": "", "level": "ĐH" })),
        )
        .await;
    let fields: Vec<&str> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["code", "name", "level"],
        "every bad field is reported at once"
    );
}

async fn language_follows_accept_language(app: TestApp) {
    let vi = app.send(app.client.get(app.url("/api/v1/me"))).await;
    assert_eq!(vi.body["title"], "Bạn cần đăng nhập.");
    let en = app
        .send(
            app.client
                .get(app.url("/api/v1/me"))
                .header("accept-language", "en-GB,en;q=0.9,vi;q=0.5"),
        )
        .await;
    assert_eq!(en.body["title"], "You need to sign in.");
    assert_eq!(
        en.body["code"], vi.body["code"],
        "the code does not depend on the language"
    );
}

async fn request_ids_are_kept_or_made(app: TestApp) {
    // Every response, an error too, tells browsers not to sniff, frame or leak the address.
    let health = app.get("/health/live", None).await;
    let missing = app.get("/api/v1/no-such-route", None).await;
    for reply in [&health, &missing] {
        assert_eq!(reply.headers["x-content-type-options"], "nosniff");
        assert_eq!(reply.headers["referrer-policy"], "same-origin");
        assert_eq!(reply.headers["x-frame-options"], "DENY");
        assert!(
            !reply.headers.contains_key("strict-transport-security"),
            "no HSTS over plain HTTP"
        );
    }
    let behind_tls = app
        .another_instance_with(|vars| {
            vars.insert("HOCTHI_PUBLIC_URL".into(), "https://thi.so.edu.vn".into());
        })
        .await;
    let over_tls = behind_tls.get("/health/live", None).await;
    assert_eq!(
        over_tls.headers["strict-transport-security"],
        "max-age=31536000"
    );
    let kept = app
        .send(
            app.client
                .get(app.url("/api/v1/me"))
                .header("x-request-id", "so-gd-123"),
        )
        .await;
    assert_eq!(kept.headers["x-request-id"], "so-gd-123");
    assert_eq!(kept.body["request_id"], "so-gd-123");
    let made = app.send(app.client.get(app.url("/health/live"))).await;
    assert!(made.headers["x-request-id"].to_str().unwrap().len() >= 32);
    let unsafe_id = app
        .send(
            app.client
                .get(app.url("/health/live"))
                .header("x-request-id", "<script>"),
        )
        .await;
    assert_ne!(
        unsafe_id.headers["x-request-id"], "<script>",
        "unsafe ids are replaced"
    );
}

async fn openapi_and_docs_are_served(app: TestApp) {
    let spec = app.get("/openapi.json", None).await;
    assert_eq!(spec.status, 200);
    assert!(spec.body["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(spec.body["paths"]["/api/v1/auth/login"]["post"].is_object());
    let docs = app.get("/docs/", None).await;
    assert_eq!(docs.status, 200, "{}", docs.text);
    assert!(
        docs.text.contains("swagger"),
        "the vendored Swagger UI is served"
    );
}

#[tokio::test]
async fn cors_allows_only_listed_origins() {
    let app = hocthi_tests::spawn_app_with(hocthi_tests::Stores::Embedded, |vars| {
        vars.insert("HOCTHI_CORS_ORIGINS".into(), "https://k12.so.edu.vn".into());
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/auth/login"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
    };
    let allowed = app.send(preflight("https://k12.so.edu.vn")).await;
    assert_eq!(
        allowed
            .headers
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some("https://k12.so.edu.vn")
    );
    let other = app.send(preflight("https://evil.example")).await;
    assert!(
        other.headers.get("access-control-allow-origin").is_none(),
        "an unlisted origin gets no CORS grant"
    );

    let plain = hocthi_tests::spawn_app(hocthi_tests::Stores::Embedded).await;
    let reply = plain
        .send(
            plain
                .client
                .get(plain.url("/health/live"))
                .header("origin", "https://k12.so.edu.vn"),
        )
        .await;
    assert!(
        reply.headers.get("access-control-allow-origin").is_none(),
        "no origins listed: no CORS headers"
    );
}

async fn an_instance_at_its_limit_sheds_requests_with_retry_after(app: TestApp) {
    let token = app.admin_token().await;
    let limit = app.state.settings.max_in_flight;
    assert!(limit > 0, "a limit by default");
    // Every place taken, as by `limit` slow requests.
    let held: Vec<_> = (0..limit)
        .map(|_| app.state.admission.try_enter().expect("a place"))
        .collect();
    let shed = app.get("/api/v1/me", Some(&token)).await;
    assert_problem(&shed, 503, "service_unavailable");
    assert_eq!(shed.headers["retry-after"], "1");
    // A refused save (a small body) is read before the refusal, so the connection stays open
    // for the client's retry instead of costing it a new one.
    let save = app
        .client
        .put(app.url(
            "/api/v1/attempts/01950000-0000-7000-8000-000000000000/answers",
        ))
        .bearer_auth(&token)
        .json(&json!({ "device_id": "may-thi-1", "seq": 1, "answers": [{ "slot": 0, "value": "A" }] }))
        .send()
        .await
        .expect("an answer");
    assert_eq!(save.status(), 503);
    assert_eq!(save.headers()["retry-after"], "1");
    assert_ne!(
        save.headers().get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..]),
        "a refused request with a small body keeps its connection"
    );
    // Probes still answer: the instance is alive, only full.
    assert_eq!(app.get("/health/live", None).await.status, 200);
    drop(held);
    assert_eq!(app.get("/api/v1/me", Some(&token)).await.status, 200);
    assert_eq!(app.state.admission.in_flight(), 0, "every place given back");
}

/// PostgreSQL cannot hold U+0000 in text (it answered 500, and logged a backtrace); SQLite would
/// store it. Both refuse it with 400 before anything runs (docs/SECURITY.md, finding 11).
async fn a_nul_character_is_refused_at_the_edge_and_nothing_is_written(app: TestApp) {
    let token = app.admin_token().await;
    let school = app
        .create_school(&token, "THPT-NUL", "Trường THPT Nul")
        .await;
    let cases: Vec<(&str, reqwest::RequestBuilder)> = vec![
        (
            "a search query",
            app.client
                .get(app.url("/api/v1/items?q=%00"))
                .bearer_auth(&token),
        ),
        (
            "a sign-in, unauthenticated",
            app.client
                .post(app.url("/api/v1/auth/login"))
                .json(&json!({ "login": "hs\u{0}an", "password": "x" })),
        ),
        (
            "a new school",
            app.client
                .post(app.url("/api/v1/schools"))
                .bearer_auth(&token)
                .json(&json!({ "code": "THPT-X", "name": "Trường\u{0}X", "level": "THPT" })),
        ),
        (
            "a roster file",
            app.client
                .post(app.url(&format!("/api/v1/schools/{school}/users/import")))
                .bearer_auth(&token)
                .header("content-type", "text/csv")
                .body("login,full_name,role\nhs.nul,Học\0Sinh,student\n"),
        ),
    ];
    for (what, request) in cases {
        let reply = app.send(request).await;
        assert_problem(&reply, 400, "nul_character");
        assert!(reply.text.len() < 2000, "{what}: a short answer");
    }
    let escaped = app
        .post(
            "/api/v1/schools",
            Some(&token),
            json!({ "code": "THPT-Y", "name": "Trường \\u0000 Y", "level": "THPT" }),
        )
        .await;
    assert_eq!(
        escaped.status, 201,
        "a backslash and text is not a NUL: {}",
        escaped.text
    );
    let schools = app.get("/api/v1/schools", Some(&token)).await;
    assert!(
        !schools.text.contains("THPT-X"),
        "nothing written: {}",
        schools.text
    );
    let users = app.get("/api/v1/users?q=nul", Some(&token)).await;
    assert!(!users.text.contains("hs.nul"), "{}", users.text);
}

/// docs/SECURITY.md, finding 11: what schemathesis found wrong in the document for client
/// authors. (The schema-name clash is checked over the source by `backend/tests/imports.rs`.)
async fn the_openapi_document_tells_the_truth(app: TestApp) {
    let spec = app.get("/openapi.json", None).await.body;
    let mut ids = std::collections::BTreeMap::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap().to_owned();
            *ids.entry(id).or_insert(0) += 1;
            for (status, response) in op["responses"].as_object().unwrap() {
                let types: Vec<&String> = response["content"]
                    .as_object()
                    .map(|c| c.keys().collect())
                    .unwrap_or_default();
                if status.starts_with('4') {
                    assert_eq!(
                        types,
                        ["application/problem+json"],
                        "{method} {path} {status}: errors are problem+json"
                    );
                }
            }
            assert!(op["responses"].get("400").is_some(), "{method} {path}: 400");
            if path.contains('{') {
                assert!(op["responses"].get("404").is_some(), "{method} {path}: 404");
            }
            if let Some(content) = op
                .pointer("/requestBody/content")
                .and_then(|c| c.as_object())
            {
                for (media, body) in content {
                    assert_ne!(
                        body["schema"]["type"], "array",
                        "{method} {path} {media}: a file is binary, not an array of bytes"
                    );
                }
            }
        }
    }
    let repeated: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "operation ids repeat: {repeated:?}");
    let upload = &spec["paths"]["/api/v1/items/import"]["post"]["requestBody"]["content"];
    assert_eq!(
        upload["application/octet-stream"]["schema"],
        json!({ "type": "string", "format": "binary" })
    );
}

async fn what_the_document_does_not_allow_is_refused(app: TestApp) {
    let admin = app.admin_token().await;
    // A JSON array where an object is required created a school before.
    let array = app
        .send(
            app.client
                .post(app.url("/api/v1/schools"))
                .bearer_auth(&admin)
                .json(&json!(["THPT-ARR", "Trường mảng"])),
        )
        .await;
    assert_problem(&array, 400, "json_object_expected");
    let schools = app.get("/api/v1/schools", Some(&admin)).await;
    assert_eq!(schools.body["items"].as_array().map(Vec::len), Some(0));

    // A method the path does not take is 405 with the methods it does.
    let wrong = app
        .send(
            app.client
                .delete(app.url("/api/v1/schools"))
                .bearer_auth(&admin),
        )
        .await;
    assert_problem(&wrong, 405, "method_not_allowed");
    assert_eq!(wrong.headers["allow"], "GET, POST");
    let nowhere = app.get("/api/v1/no-such-thing", Some(&admin)).await;
    assert_problem(&nowhere, 404, "route_not_found");

    // A page size beyond its documented maximum is refused, not quietly cut.
    let too_many = app.get("/api/v1/schools?limit=501", Some(&admin)).await;
    assert_problem(&too_many, 422, "validation_failed");
    assert_eq!(too_many.body["errors"][0]["field"], "limit");

    // A malformed optional body is an error, not the defaults.
    let school = app.create_school(&admin, "THPT-K", "Trường THPT K").await;
    let class = app.create_class(&admin, school, "10A3").await;
    app.create_user(&admin, "qt.k", &["school_admin"], Some(school))
        .await;
    let admin = app.token("qt.k", hocthi_tests::USER_PASSWORD).await;
    let malformed = app
        .send(
            app.client
                .post(app.url(&format!("/api/v1/classes/{class}/passkey-enrollment")))
                .bearer_auth(&admin)
                .header("content-type", "application/json")
                .body("{\"minutes\": 30"),
        )
        .await;
    assert_problem(&malformed, 400, "malformed_json");
    let wrong_type = app
        .send(
            app.client
                .post(app.url(&format!("/api/v1/classes/{class}/passkey-enrollment")))
                .bearer_auth(&admin)
                .json(&json!({ "minutes": "many" })),
        )
        .await;
    assert_problem(&wrong_type, 400, "json_wrong_type");
}
