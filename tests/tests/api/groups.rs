//! Question groups: a passage shared by several items, kept together on every paper code.
use hocthi_tests::{TestApp, USER_PASSWORD, on_every_store};
use serde_json::{Value, json};

use super::items::bank;

on_every_store!(a_reading_passage_stays_with_its_questions);

fn english_bank() -> String {
    let mut text =
        String::from("PHẦN I\nNgữ liệu: Read the passage and answer the questions that follow.\n");
    text.push_str("Hoi An is an old town in central Vietnam. Its streets are lit by silk lanterns at night.\nMany visitors come to see its wooden houses and the Japanese bridge.\n");
    let passage = [
        (
            "Where is Hoi An?",
            [
                "central Vietnam",
                "northern Vietnam",
                "the Mekong Delta",
                "Laos",
            ],
        ),
        (
            "What lights the streets at night?",
            ["silk lanterns", "neon signs", "candles", "fireworks"],
        ),
        (
            "What is the bridge called?",
            [
                "the Japanese bridge",
                "the Dragon bridge",
                "the Long Bien bridge",
                "the Golden bridge",
            ],
        ),
    ];
    for (i, (q, options)) in passage.iter().enumerate() {
        text.push_str(&format!(
            "Câu {}. {q}\n*A. {}\nB. {}\nC. {}\nD. {}\nChủ đề: Chủ đề 1. Đọc hiểu\n",
            i + 1,
            options[0],
            options[1],
            options[2],
            options[3]
        ));
    }
    text.push_str("Hết ngữ liệu\n");
    for i in 0..37 {
        text.push_str(&format!(
            "Câu {}. Choose the word closest in meaning to \"big\" (set {i}).\nA. tiny{i}\n*B. large{i}\nC. narrow{i}\nD. weak{i}\nChủ đề: Chủ đề 1. Từ vựng\n",
            i + 4
        ));
    }
    text
}

async fn a_reading_passage_stays_with_its_questions(app: TestApp) {
    let b = bank(&app).await;
    let created = app
        .post("/api/v1/users", Some(&b.admin), json!({ "login": "gv.anh", "password": USER_PASSWORD, "full_name": "Giáo viên Tiếng Anh",
            "roles": ["teacher", "reviewer"], "school_id": b.school, "subjects": ["tieng_anh"] }))
        .await;
    assert_eq!(created.status, 201);
    let author = app.token("gv.anh", USER_PASSWORD).await;
    app.create_user(&b.admin, "gv.anh2", &["teacher"], Some(b.school))
        .await;
    let reply = app
        .send(
            app.client
                .post(app.url("/api/v1/items/import?subject=tieng_anh&grade=12&topic=x"))
                .bearer_auth(&author)
                .body(english_bank()),
        )
        .await;
    assert_eq!(
        (reply.status, reply.body["created"].as_u64()),
        (200, Some(40)),
        "{}",
        &reply.text[..reply.text.len().min(400)]
    );
    let items: Vec<Value> = app
        .get("/api/v1/items?mine=true&limit=100", Some(&author))
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .clone();
    let members: Vec<&Value> = items.iter().filter(|i| !i["group_id"].is_null()).collect();
    assert_eq!(members.len(), 3);
    let group_id = members[0]["group_id"].as_str().unwrap().to_owned();
    let group = app
        .get(&format!("/api/v1/item-groups/{group_id}"), Some(&author))
        .await;
    assert_eq!(
        group.body["stimulus"].as_str().unwrap().lines().count(),
        2,
        "{}",
        group.text
    );
    assert_eq!(group.body["items"].as_array().unwrap().len(), 3);

    // Only the group's author adds to it.
    let other = app.token("gv.anh2", USER_PASSWORD).await;
    let mut intruder = super::items::mc_item("Extra question", "Chủ đề 1", "biet");
    intruder["metadata"]["subject"] = json!("tieng_anh");
    intruder["group_id"] = json!(group_id);
    assert_eq!(
        app.post("/api/v1/items", Some(&other), intruder)
            .await
            .status,
        403
    );

    // The reviewer approves everything (the author reviews English: approve via a second reviewer).
    app.post(
        "/api/v1/users",
        Some(&b.admin),
        json!({ "login": "tt.anh", "password": USER_PASSWORD, "full_name": "Tổ trưởng Anh",
        "roles": ["teacher", "reviewer"], "school_id": b.school, "subjects": ["tieng_anh"] }),
    )
    .await;
    let reviewer = app.token("tt.anh", USER_PASSWORD).await;
    for item in &items {
        let id = item["id"].as_str().unwrap();
        app.post(
            &format!("/api/v1/items/{id}/submit"),
            Some(&author),
            json!({}),
        )
        .await;
        assert_eq!(
            app.post(
                &format!("/api/v1/items/{id}/review"),
                Some(&reviewer),
                json!({ "decision": "approve" })
            )
            .await
            .status,
            204
        );
    }
    let matrix = json!({ "subject": "tieng_anh", "name": "Đề Tiếng Anh", "rows": [{ "topic": "Chủ đề 1", "cells": [{ "kind": "multiple_choice", "level": "biet", "count": 40 }] }] });
    let paper = app
        .post(
            "/api/v1/papers",
            Some(&author),
            json!({ "matrix": matrix, "codes": 6 }),
        )
        .await;
    assert_eq!(paper.status, 201, "{}", paper.text);
    let paper_id = paper.body["id"].as_str().unwrap();
    for code in paper.body["codes"].as_array().unwrap() {
        let code = code.as_str().unwrap();
        let printed = app
            .get(
                &format!("/api/v1/papers/{paper_id}/codes/{code}"),
                Some(&author),
            )
            .await;
        let questions = printed.body["questions"].as_array().unwrap();
        let at: Vec<usize> = questions
            .iter()
            .enumerate()
            .filter(|(_, q)| q["group_id"] == json!(group_id))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(at.len(), 3, "code {code}");
        assert!(
            at.windows(2).all(|w| w[1] == w[0] + 1),
            "code {code}: the passage's questions stay together"
        );
        let stems: Vec<&str> = at
            .iter()
            .map(|i| questions[*i]["content"]["stem"].as_str().unwrap())
            .collect();
        assert_eq!(
            stems,
            [
                "Where is Hoi An?",
                "What lights the streets at night?",
                "What is the bridge called?"
            ],
            "in their order"
        );
        assert!(
            printed.body["groups"][0]["stimulus"]
                .as_str()
                .unwrap()
                .starts_with("Hoi An is an old town")
        );
    }
    let xml = super::papers::printed_xml(&app, &author, paper_id, "0601").await;
    assert!(
        xml.contains("Hoi An is an old town"),
        "the printed paper carries the passage"
    );
}
