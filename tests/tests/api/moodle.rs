//! Moodle XML in and out; a round trip leaves every item as it was.
use hocthi_tests::{TestApp, USER_PASSWORD, on_every_store};
use serde_json::{Value, json};

use super::items::{all_mine, bank, comparable, import_items};

async fn import(app: &TestApp, token: &str, query: &str, body: Vec<u8>) -> hocthi_tests::Reply {
    import_items(
        app,
        token,
        &format!("subject=toan&grade=12&topic=Nh%E1%BA%ADp{query}"),
        body,
    )
    .await
}

on_every_store!(
    moodle_round_trip_keeps_items_equal,
    moodle_files_from_elsewhere
);

async fn moodle_round_trip_keeps_items_equal(app: TestApp) {
    let b = bank(&app).await;
    let sample = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../content-samples/questions/toan-12.txt"
    ))
    .unwrap();
    assert_eq!(
        import(&app, &b.author, "&series=ket_noi", sample)
            .await
            .body["created"],
        60
    );
    let essay = json!({
        "body": { "kind": "essay", "stem": "Trình bày cách tìm cực trị của hàm số bậc ba & cho ví dụ với $a<b$.",
                  "rubric": [{ "description": "Nêu đúng các bước", "points": "0.5" }, { "description": "Ví dụ đúng", "points": "1" }] },
        "metadata": { "subject": "toan", "grade": 12, "series": "ket_noi", "topic": ["Chương 1", "Bài 2. Cực trị"], "level": "van_dung",
                      "competency": "GQVĐ", "tags": ["tu-luan"], "source": "Tổ Toán", "solution": "Xem SGK." }
    });
    assert_eq!(
        app.post("/api/v1/items", Some(&b.author), essay)
            .await
            .status,
        201
    );
    let originals = all_mine(&app, &b.author).await;
    assert_eq!(originals.len(), 61);

    let ids: Vec<&Value> = originals.iter().map(|i| &i["id"]).collect();
    let exported = app
        .send(
            app.client
                .post(app.url("/api/v1/items/export"))
                .bearer_auth(&b.author)
                .json(&json!({ "format": "moodle_xml", "item_ids": ids })),
        )
        .await;
    assert_eq!(
        exported.status,
        200,
        "{}",
        &exported.text[..exported.text.len().min(300)]
    );
    assert!(exported.text.contains("<quiz>") && exported.text.contains("type=\"essay\""));

    app.create_user(&b.admin, "gv.nhap", &["teacher"], Some(b.school))
        .await;
    let other = app.token("gv.nhap", USER_PASSWORD).await;
    let again = import(
        &app,
        &other,
        "&series=ket_noi",
        exported.text.clone().into_bytes(),
    )
    .await;
    assert_eq!(
        (
            again.status,
            again.body["format"].as_str(),
            again.body["created"].as_u64()
        ),
        (200, Some("moodle_xml"), Some(61)),
        "{}",
        &again.text[..again.text.len().min(500)]
    );
    assert_eq!(
        comparable(&all_mine(&app, &other).await),
        comparable(&originals),
        "a round trip changes nothing"
    );
}

async fn moodle_files_from_elsewhere(app: TestApp) {
    let b = bank(&app).await;
    let file = r#"<?xml version="1.0" encoding="UTF-8"?>
<quiz>
  <question type="category"><category><text>$course$/Top/Toán 12/Chương 3. Tọa độ</text></category></question>
  <question type="multichoice"><name><text>Q1</text></name>
    <questiontext format="html"><text><![CDATA[<p>Khoảng cách từ O đến M(3; 4; 0) là \(d\)?</p>]]></text></questiontext>
    <single>true</single>
    <answer fraction="0"><text>4</text></answer><answer fraction="100"><text>5</text></answer>
    <answer fraction="0"><text>6</text></answer><answer fraction="0"><text>7</text></answer>
  </question>
  <question type="numerical"><name><text>Q2</text></name>
    <questiontext format="html"><text>Tính 1,5 + 1</text></questiontext>
    <answer fraction="100"><text>2.5</text><tolerance>0</tolerance></answer>
  </question>
  <question type="essay"><name><text>Q4</text></name>
    <questiontext format="html"><text>Giải thích thẻ qti-assessment-item trong chuẩn QTI.</text></questiontext>
  </question>
  <question type="truefalse"><name><text>Q3</text></name>
    <questiontext format="html"><text>Mệnh đề đơn</text></questiontext>
    <answer fraction="100"><text>true</text></answer><answer fraction="0"><text>false</text></answer>
  </question>
</quiz>"#;
    let rejected = import(&app, &b.author, "", file.as_bytes().to_vec()).await;
    assert_eq!(rejected.status, 422);
    assert_eq!(
        rejected.body["items"][3]["reason_code"],
        "single_true_false"
    );
    assert_eq!(
        rejected.body["format"], "moodle_xml",
        "text mentioning a QTI element does not make it QTI"
    );
    let kept = import(
        &app,
        &b.author,
        "&keep_valid=true",
        file.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(kept.body["created"], 3, "{}", kept.text);
    let items = all_mine(&app, &b.author).await;
    let mc = items
        .iter()
        .find(|i| i["kind"] == "multiple_choice")
        .unwrap();
    assert_eq!(
        (mc["body"]["correct"].as_str(), mc["body"]["stem"].as_str()),
        (Some("B"), Some("Khoảng cách từ O đến M(3; 4; 0) là $d$?"))
    );
    assert_eq!(
        mc["metadata"]["topic"],
        json!(["Top", "Toán 12", "Chương 3. Tọa độ"]),
        "the category path becomes the topic path"
    );
    let sa = items.iter().find(|i| i["kind"] == "short_answer").unwrap();
    assert_eq!(sa["body"]["accepted"], json!(["2,5"]));

    let xxe = r#"<?xml version="1.0"?><!DOCTYPE quiz [<!ENTITY x SYSTEM "file:///etc/passwd">]><quiz>&x;</quiz>"#;
    let reply = import(&app, &b.author, "", xxe.as_bytes().to_vec()).await;
    assert_eq!(
        (reply.status, reply.body["errors"][0]["code"].as_str()),
        (422, Some("xml_entity"))
    );
}
