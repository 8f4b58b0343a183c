//! The question bank: items by type, review, versions, sharing, and search.
use hocthi_tests::{TestApp, USER_PASSWORD, on_every_store};
use serde_json::{Value, json};

on_every_store!(
    items_are_checked_by_type,
    review_versions_and_sharing,
    search_ignores_diacritics_and_filters
);

pub fn mc_item(stem: &str, topic: &str, level: &str) -> Value {
    json!({
        "body": { "kind": "multiple_choice", "stem": stem,
                  "options": ["$x = 1$", "$x = 2$", "$x = 3$", "$x = 4$"], "correct": "B" },
        "metadata": { "subject": "toan", "grade": 12, "series": "ket_noi", "topic": [topic], "level": level,
                      "competency": "TD1", "tags": ["Hàm số"], "source": "Sở GD&ĐT", "solution": "Giải: $x=2$." }
    })
}

/// Posts a file to the item importer; `query` carries subject, grade, topic and flags.
pub async fn import_items(
    app: &TestApp,
    token: &str,
    query: &str,
    body: Vec<u8>,
) -> hocthi_tests::Reply {
    app.send(
        app.client
            .post(app.url(&format!("/api/v1/items/import?{query}")))
            .bearer_auth(token)
            .body(body),
    )
    .await
}

/// Items as comparable text (body and metadata, ids left out), sorted.
pub fn comparable(items: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = items
        .iter()
        .map(|i| json!({ "body": i["body"], "metadata": i["metadata"] }).to_string())
        .collect();
    out.sort();
    out
}

/// The caller's own items (newest versions).
pub async fn all_mine(app: &TestApp, token: &str) -> Vec<Value> {
    app.get("/api/v1/items?mine=true&limit=500", Some(token))
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .clone()
}

pub struct Bank {
    pub admin: String,
    pub school: uuid::Uuid,
    pub author: String,
    pub reviewer: String,
}

pub async fn bank(app: &TestApp) -> Bank {
    let admin = app.admin_token().await;
    let school = app
        .create_school(&admin, "THPT-Q", "Trường THPT Quang Trung")
        .await;
    app.create_user(&admin, "gv.toan", &["teacher"], Some(school))
        .await;
    let created = app
        .post(
            "/api/v1/users",
            Some(&admin),
            json!({ "login": "tt.toan", "password": USER_PASSWORD, "full_name": "Tổ trưởng Toán",
                    "roles": ["teacher", "reviewer"], "school_id": school, "subjects": ["toan"] }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    Bank {
        admin,
        school,
        author: app.token("gv.toan", USER_PASSWORD).await,
        reviewer: app.token("tt.toan", USER_PASSWORD).await,
    }
}

async fn items_are_checked_by_type(app: TestApp) {
    let b = bank(&app).await;
    let cases = [
        (
            json!({ "kind": "multiple_choice", "stem": "Câu?", "options": ["1", "2", "3", "4", "5"], "correct": "A" }),
            "needs_four_options",
        ),
        (
            json!({ "kind": "true_false", "stem": "Xét:", "statements": [{"text": "a", "correct": true}, {"text": "b", "correct": false}, {"text": "c", "correct": true}] }),
            "needs_four_statements",
        ),
        (
            json!({ "kind": "short_answer", "stem": "Tính", "accepted": [] }),
            "required",
        ),
        (
            json!({ "kind": "essay", "stem": "Viết", "rubric": [] }),
            "required",
        ),
    ];
    for (body, code) in cases {
        let mut request = mc_item("x", "Chương 1", "biet");
        request["body"] = body.clone();
        let reply = app.post("/api/v1/items", Some(&b.author), request).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.text);
        assert_eq!(reply.body["errors"][0]["code"], code, "{body}");
    }
    // A Part III answer of five characters is refused when the JSON is read.
    let mut five = mc_item("x", "Chương 1", "biet");
    five["body"] = json!({ "kind": "short_answer", "stem": "Tính", "accepted": ["12345"] });
    let reply = app.post("/api/v1/items", Some(&b.author), five).await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (400, Some("json_wrong_type")),
        "{}",
        reply.text
    );

    let tf = json!({
        "body": { "kind": "true_false", "stem": "Cho hàm số <b>$y = x^3 - 3x$</b>.",
                  "statements": [{"text": "Hàm số đồng biến trên $(1; +\\infty)$", "correct": true},
                                 {"text": "Đạo hàm $y' = 3x^2$", "correct": false},
                                 {"text": "Có hai cực trị", "correct": true},
                                 {"text": "Giá trị cực đại bằng 1", "correct": false}] },
        "metadata": { "subject": "toan", "grade": 12, "topic": ["Chương 1. Ứng dụng đạo hàm"], "level": "hieu" }
    });
    let created = app.post("/api/v1/items", Some(&b.author), tf).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(
        created.body["body"]["stem"], "Cho hàm số $y=x^{3}-3x$.",
        "HTML is stripped, LaTeX kept in its canonical form"
    );
    assert_eq!(
        created.body["body"]["statements"][0]["text"],
        "Hàm số đồng biến trên $(1;+\\infty)$"
    );
    assert_eq!(
        created.body["rendered"]["statements"][1],
        "Đạo hàm <math xmlns=\"http://www.w3.org/1998/Math/MathML\"><mi>y</mi><mi>′</mi><mo>=</mo><mn>3</mn><msup><mi>x</mi><mn>2</mn></msup></math>"
    );
    // A formula outside the subset is refused, naming the field; nothing is stored.
    let mut coloured = mc_item("x", "Chương 1", "biet");
    coloured["body"]["options"][2] = json!("$\\color{red}{x}$");
    let reply = app.post("/api/v1/items", Some(&b.author), coloured).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(
        (
            reply.body["errors"][0]["field"].as_str(),
            reply.body["errors"][0]["code"].as_str()
        ),
        (Some("body.options[2]"), Some("unsupported_math"))
    );
    assert_eq!(
        (
            created.body["status"].as_str(),
            created.body["version"].as_i64()
        ),
        (Some("draft"), Some(1))
    );
}

async fn review_versions_and_sharing(app: TestApp) {
    let b = bank(&app).await;
    let other_school = app
        .create_school(&b.admin, "THPT-K", "Trường THPT Khác")
        .await;
    app.create_user(&b.admin, "gv.khac", &["teacher"], Some(other_school))
        .await;
    app.create_user(&b.admin, "gv.cung", &["teacher"], Some(b.school))
        .await;
    let stranger = app.token("gv.khac", USER_PASSWORD).await;
    let colleague = app.token("gv.cung", USER_PASSWORD).await;

    let created = app
        .post(
            "/api/v1/items",
            Some(&b.author),
            mc_item("Nghiệm của $2x = 4$ là", "Chương 2. Phương trình", "biet"),
        )
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get(&format!("/api/v1/items/{id}"), Some(&colleague))
            .await
            .status,
        404,
        "nobody else sees a draft"
    );

    let approve = json!({ "decision": "approve" });
    assert_eq!(
        app.post(
            &format!("/api/v1/items/{id}/review"),
            Some(&b.reviewer),
            approve.clone()
        )
        .await
        .body["code"],
        "item_not_submitted"
    );
    assert_eq!(
        app.post(
            &format!("/api/v1/items/{id}/submit"),
            Some(&b.author),
            json!({})
        )
        .await
        .status,
        204
    );
    let queue = app
        .get("/api/v1/items/review-queue", Some(&b.reviewer))
        .await;
    assert_eq!(queue.body["items"][0]["id"], id.as_str(), "{}", queue.text);
    let editing = app
        .send(
            app.client
                .put(app.url(&format!("/api/v1/items/{id}")))
                .bearer_auth(&b.author)
                .json(&mc_item("Sửa", "Chương 2", "biet")),
        )
        .await;
    assert_eq!(
        editing.body["code"], "item_not_editable",
        "no edits while under review"
    );

    let no_comment = app
        .post(
            &format!("/api/v1/items/{id}/review"),
            Some(&b.reviewer),
            json!({ "decision": "return" }),
        )
        .await;
    assert_eq!(no_comment.body["errors"][0]["code"], "comment_required");
    let returned = app
        .post(
            &format!("/api/v1/items/{id}/review"),
            Some(&b.reviewer),
            json!({ "decision": "return", "comment": "Thiếu lời giải chi tiết." }),
        )
        .await;
    assert_eq!(returned.status, 204, "{}", returned.text);
    let mine = app
        .get(&format!("/api/v1/items/{id}"), Some(&b.author))
        .await;
    assert_eq!(mine.body["status"], "returned");
    assert_eq!(
        mine.body["reviews"][0]["comment"],
        "Thiếu lời giải chi tiết."
    );

    app.post(
        &format!("/api/v1/items/{id}/submit"),
        Some(&b.author),
        json!({}),
    )
    .await;
    let self_review = app
        .post(
            &format!("/api/v1/items/{id}/review"),
            Some(&b.author),
            approve.clone(),
        )
        .await;
    assert_eq!(self_review.status, 403);
    assert_eq!(
        app.post(
            &format!("/api/v1/items/{id}/review"),
            Some(&b.reviewer),
            approve.clone()
        )
        .await
        .status,
        204
    );
    assert_eq!(
        app.get(&format!("/api/v1/items/{id}"), Some(&colleague))
            .await
            .status,
        404,
        "approved but not yet shared"
    );

    assert_eq!(
        app.post(
            &format!("/api/v1/items/{id}/share"),
            Some(&b.author),
            json!({ "scope": "school" })
        )
        .await
        .status,
        204
    );
    assert_eq!(
        app.get(&format!("/api/v1/items/{id}"), Some(&colleague))
            .await
            .body["version"],
        1,
        "the school sees the approved version"
    );
    assert_eq!(
        app.get(&format!("/api/v1/items/{id}"), Some(&stranger))
            .await
            .status,
        404,
        "another school does not"
    );

    // Editing an approved item makes version 2; everyone else keeps seeing version 1.
    let edited = app
        .send(
            app.client
                .put(app.url(&format!("/api/v1/items/{id}")))
                .bearer_auth(&b.author)
                .json(&mc_item(
                    "Nghiệm của $3x = 6$ là",
                    "Chương 2. Phương trình",
                    "biet",
                )),
        )
        .await;
    assert_eq!(
        (
            edited.body["version"].as_i64(),
            edited.body["status"].as_str()
        ),
        (Some(2), Some("draft")),
        "{}",
        edited.text
    );
    let seen = app
        .get(&format!("/api/v1/items/{id}"), Some(&colleague))
        .await;
    assert_eq!(
        (
            seen.body["version"].as_i64(),
            seen.body["body"]["stem"].as_str()
        ),
        (Some(1), Some("Nghiệm của $2x=4$ là"))
    );
    app.post(
        &format!("/api/v1/items/{id}/submit"),
        Some(&b.author),
        json!({}),
    )
    .await;
    app.post(
        &format!("/api/v1/items/{id}/review"),
        Some(&b.reviewer),
        approve,
    )
    .await;
    assert_eq!(
        app.get(&format!("/api/v1/items/{id}"), Some(&colleague))
            .await
            .body["version"],
        2,
        "the new version replaces it once approved"
    );
    let v1 = app
        .get(&format!("/api/v1/items/{id}?version=1"), Some(&b.author))
        .await;
    assert_eq!(
        v1.body["body"]["stem"], "Nghiệm của $2x=4$ là",
        "old versions stay readable"
    );

    assert_eq!(
        app.post(
            &format!("/api/v1/items/{id}/share"),
            Some(&b.author),
            json!({ "scope": "province" })
        )
        .await
        .status,
        204
    );
    assert_eq!(
        app.get(&format!("/api/v1/items/{id}"), Some(&stranger))
            .await
            .status,
        200,
        "province-shared items reach every school"
    );
    assert_eq!(
        app.post(
            &format!("/api/v1/items/{id}/retire"),
            Some(&stranger),
            json!({})
        )
        .await
        .status,
        403
    );
    assert_eq!(
        app.post(
            &format!("/api/v1/items/{id}/retire"),
            Some(&b.author),
            json!({})
        )
        .await
        .status,
        204
    );
    let listed = app.get("/api/v1/items", Some(&stranger)).await;
    assert_eq!(
        listed.body["items"],
        json!([]),
        "retired items are not offered"
    );
}

async fn search_ignores_diacritics_and_filters(app: TestApp) {
    let b = bank(&app).await;
    let items = [
        (
            "Dao động điều hòa có chu kì $T$",
            "Chương 1. Dao động",
            "biet",
        ),
        (
            "Con lắc lò xo dao động với biên độ $A$",
            "Chương 1. Dao động",
            "hieu",
        ),
        ("Sóng cơ truyền trên dây", "Chương 2. Sóng", "van_dung"),
    ];
    for (stem, topic, level) in items {
        let mut request = mc_item(stem, topic, level);
        request["metadata"]["subject"] = json!("toan");
        assert_eq!(
            app.post("/api/v1/items", Some(&b.author), request)
                .await
                .status,
            201
        );
    }
    assert_eq!(
        find(&app, &b.author, "q=dao%20dong%20dieu%20hoa").await,
        ["Dao động điều hòa có chu kì $T$"]
    );
    assert_eq!(
        find(&app, &b.author, "q=DAO%20%C4%90%E1%BB%98NG")
            .await
            .len(),
        2,
        "upper case with diacritics"
    );
    assert_eq!(find(&app, &b.author, "topic=chuong%201").await.len(), 2);
    assert_eq!(
        find(&app, &b.author, "level=van_dung").await,
        ["Sóng cơ truyền trên dây"]
    );
    assert_eq!(
        find(
            &app,
            &b.author,
            "tag=ham%20so&kind=multiple_choice&grade=12&series=ket_noi"
        )
        .await
        .len(),
        3
    );
    assert_eq!(find(&app, &b.author, "grade=11").await.len(), 0);
    assert_eq!(
        find(&app, &b.author, "approved=true").await.len(),
        0,
        "drafts are not approved"
    );
    let first = app.get("/api/v1/items?limit=2", Some(&b.author)).await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    let next = first.body["next"].as_str().unwrap();
    let second = app
        .get(
            &format!("/api/v1/items?limit=2&after={next}"),
            Some(&b.author),
        )
        .await;
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert!(second.body["next"].is_null());
}

async fn find(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let reply = app
        .get(&format!("/api/v1/items?{query}"), Some(token))
        .await;
    assert_eq!(reply.status, 200, "{query}: {}", reply.text);
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["body"]["stem"].as_str().unwrap().to_owned())
        .collect()
}
