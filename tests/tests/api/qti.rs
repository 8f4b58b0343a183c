//! QTI 3.0 packages out and in; a round trip leaves every item as it was.
use std::io::Write;

use hocthi_tests::{TestApp, USER_PASSWORD, on_every_store};
use serde_json::{Value, json};

use super::items::{all_mine, bank, comparable, import_items};

async fn import(app: &TestApp, token: &str, query: &str, body: Vec<u8>) -> hocthi_tests::Reply {
    import_items(
        app,
        token,
        &format!("subject=vat_li&grade=12&topic=Nh%E1%BA%ADp{query}"),
        body,
    )
    .await
}

on_every_store!(
    qti_round_trip_keeps_items_equal,
    broken_qti_is_refused,
    other_tools_items_keep_their_prompts_figures_and_text
);

async fn qti_round_trip_keeps_items_equal(app: TestApp) {
    let b = bank(&app).await;
    let sample = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../content-samples/questions/vat-li-12.txt"
    ))
    .unwrap();
    assert_eq!(
        import(&app, &b.author, "&series=canh_dieu", sample)
            .await
            .body["created"],
        60
    );
    let essay = json!({
        "body": { "kind": "essay", "stem": "Giải thích hiện tượng cảm ứng điện từ, với $e_{c}=-\\frac{\\Delta\\Phi}{\\Delta t}$.\nNêu một ứng dụng.",
                  "rubric": [{ "description": "Giải thích đúng", "points": "0.75" }, { "description": "Ứng dụng đúng", "points": "0.25" }] },
        "metadata": { "subject": "vat_li", "grade": 12, "series": "canh_dieu", "topic": ["Chương 3. Từ trường", "Cảm ứng"], "level": "van_dung",
                      "competency": "NL3", "tags": ["tu-luan"], "source": "Tổ Lí", "solution": null }
    });
    assert_eq!(
        app.post("/api/v1/items", Some(&b.author), essay)
            .await
            .status,
        201
    );
    let with_formulas = json!({
        "body": { "kind": "multiple_choice", "stem": "Chu kì dao động của con lắc đơn là",
                  "options": ["$T=2\\pi\\sqrt{\\frac{l}{g}}$", "$T=2\\pi\\sqrt{\\frac{g}{l}}$", "$T=\\frac{1}{2\\pi}\\sqrt{\\frac{l}{g}}$", "$T=\\sqrt{lg}$"], "correct": "A" },
        "metadata": { "subject": "vat_li", "grade": 12, "series": "canh_dieu", "topic": ["Chương 4. Dao động"], "level": "biet" }
    });
    let created = app
        .post("/api/v1/items", Some(&b.author), with_formulas)
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let figure = format!("{}.png", hex_sha256(super::exams::PNG));
    app.state
        .blobs
        .put(
            &format!("items/media/{figure}"),
            bytes::Bytes::from_static(super::exams::PNG),
            "image/png",
        )
        .await
        .unwrap();
    let with_figure = json!({
        "body": { "kind": "short_answer", "stem": format!("Dựa vào đồ thị ![Đồ thị](blob:items/media/{figure}), tính gia tốc (m/s²)."), "accepted": ["2"] },
        "metadata": { "subject": "vat_li", "grade": 12, "series": "canh_dieu", "topic": ["Chương 4. Dao động"], "level": "hieu" }
    });
    let created = app
        .post("/api/v1/items", Some(&b.author), with_figure)
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let originals = all_mine(&app, &b.author).await;
    let ids: Vec<&Value> = originals.iter().map(|i| &i["id"]).collect();
    let package = app
        .client
        .post(app.url("/api/v1/items/export"))
        .bearer_auth(&b.author)
        .json(&json!({ "format": "qti_package", "item_ids": ids }))
        .send()
        .await
        .unwrap();
    assert_eq!(package.headers()["content-type"], "application/zip");
    let bytes = package.bytes().await.unwrap().to_vec();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.clone())).unwrap();
    assert_eq!(
        archive.len(),
        65,
        "a manifest, one file per item and the figure"
    );
    assert!(archive.by_name(&format!("items/media/{figure}")).is_ok());
    let mut manifest = String::new();
    std::io::Read::read_to_string(
        &mut archive.by_name("imsmanifest.xml").unwrap(),
        &mut manifest,
    )
    .unwrap();
    assert!(manifest.contains("imsqti_item_xmlv3p0"));
    // Formulas travel as MathML, none as LaTeX text.
    let mut with_maths = 0;
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        if file.name().is_ok_and(|n| n.ends_with(".png")) {
            continue;
        }
        let mut xml = String::new();
        std::io::Read::read_to_string(&mut file, &mut xml).unwrap();
        if xml.contains(r#"<math xmlns="http://www.w3.org/1998/Math/MathML">"#) {
            with_maths += 1;
        }
        if file.name().is_ok_and(|n| n.starts_with("items/")) {
            assert!(!xml.contains('$'), "{:?}: {xml}", file.name());
        }
    }
    assert_eq!(
        with_maths, 2,
        "the items with formulas carry them as MathML"
    );
    assert!(manifest.contains(&format!(r#"<file href="items/media/{figure}"/>"#)));

    app.create_user(&b.admin, "gv.qti", &["teacher"], Some(b.school))
        .await;
    let other = app.token("gv.qti", USER_PASSWORD).await;
    let again = import(&app, &other, "&series=canh_dieu", bytes).await;
    assert_eq!(
        (
            again.status,
            again.body["format"].as_str(),
            again.body["created"].as_u64()
        ),
        (200, Some("qti"), Some(63)),
        "{}",
        &again.text[..again.text.len().min(500)]
    );
    assert_eq!(
        comparable(&all_mine(&app, &other).await),
        comparable(&originals),
        "a round trip changes nothing"
    );
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn package(files: &[(&str, &str)]) -> Vec<u8> {
    package_bytes(
        &files
            .iter()
            .map(|(name, body)| (*name, body.as_bytes()))
            .collect::<Vec<_>>(),
    )
}

fn package_bytes(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in files {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(body).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// Items as other tools write them: a prompt inside the interaction, a figure in the package
/// beside the item, text around an essay's box, and a multiple-response item, which Part I
/// cannot score and is refused with that reason.
async fn other_tools_items_keep_their_prompts_figures_and_text(app: TestApp) {
    let b = bank(&app).await;
    let head = r#"<?xml version="1.0"?><qti-assessment-item xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0" identifier="q" title="Câu hỏi"><qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier"><qti-correct-response><qti-value>B</qti-value></qti-correct-response></qti-response-declaration><qti-item-body>"#;
    let choices = r#"<qti-simple-choice identifier="A">1 s</qti-simple-choice><qti-simple-choice identifier="B">2 s</qti-simple-choice><qti-simple-choice identifier="C">3 s</qti-simple-choice><qti-simple-choice identifier="D">4 s</qti-simple-choice>"#;
    let prompted = format!(
        r#"{head}<p>Một con lắc đơn dao động điều hòa.</p><img src="../images/do-thi.png" alt="Đồ thị li độ"/><qti-choice-interaction response-identifier="RESPONSE" max-choices="1"><qti-prompt>Chu kì của con lắc là</qti-prompt>{choices}</qti-choice-interaction></qti-item-body></qti-assessment-item>"#
    );
    let several = format!(
        r#"{}<p>Những đại lượng nào là vectơ?</p><qti-choice-interaction response-identifier="RESPONSE" max-choices="0">{choices}</qti-choice-interaction></qti-item-body></qti-assessment-item>"#,
        head.replace(r#"title="Câu hỏi""#, r#"title="Câu nhiều đáp án""#)
            .replace(
                "<qti-value>B</qti-value>",
                "<qti-value>A</qti-value><qti-value>B</qti-value>"
            )
            .replace(r#"cardinality="single""#, r#"cardinality="multiple""#)
    );
    let essay = r#"<?xml version="1.0"?><qti-assessment-item xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0" identifier="e" title="Tự luận"><qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="string"/><qti-item-body><div><p>Đọc đoạn trích sau:</p><p>«Sóng âm truyền được trong chất rắn, lỏng và khí.»</p></div><qti-extended-text-interaction response-identifier="RESPONSE"><qti-prompt>Giải thích vì sao âm không truyền được trong chân không.</qti-prompt></qti-extended-text-interaction></qti-item-body></qti-assessment-item>"#;
    let manifest = r#"<manifest identifier="M"><resources><resource identifier="R1" type="imsqti_item_xmlv3p0" href="items/prompted.xml"/><resource identifier="R2" type="imsqti_item_xmlv3p0" href="items/several.xml"/><resource identifier="R3" type="imsqti_item_xmlv3p0" href="items/essay.xml"/></resources></manifest>"#;
    let file = package_bytes(&[
        ("imsmanifest.xml", manifest.as_bytes()),
        ("items/prompted.xml", prompted.as_bytes()),
        ("items/several.xml", several.as_bytes()),
        ("items/essay.xml", essay.as_bytes()),
        ("images/do-thi.png", super::exams::PNG),
    ]);
    let reply = import(&app, &b.author, "&keep_valid=true", file).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reasons: Vec<Option<&str>> = reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reason_code"].as_str())
        .collect();
    assert_eq!(
        reasons,
        [None, Some("multiple_response_unsupported"), None],
        "{}",
        reply.text
    );
    assert_eq!(
        reply.body["items"][1]["number"], "Câu nhiều đáp án",
        "a refused item is named by its title"
    );
    assert_eq!(reply.body["images"], 1);
    let mine = all_mine(&app, &b.author).await;
    let stem_of = |kind: &str| {
        mine.iter().find(|i| i["body"]["kind"] == kind).unwrap()["body"]["stem"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let figure = format!("{}.png", hex_sha256(super::exams::PNG));
    assert_eq!(
        stem_of("multiple_choice"),
        format!(
            "Một con lắc đơn dao động điều hòa.\n![Đồ thị li độ](blob:items/media/{figure})\nChu kì của con lắc là"
        )
    );
    assert_eq!(
        stem_of("essay"),
        "Đọc đoạn trích sau:\n«Sóng âm truyền được trong chất rắn, lỏng và khí.»\nGiải thích vì sao âm không truyền được trong chân không."
    );
    assert!(
        app.state
            .blobs
            .get(&format!("items/media/{figure}"))
            .await
            .unwrap()
            .is_some(),
        "the figure is stored with the item"
    );
}

async fn broken_qti_is_refused(app: TestApp) {
    let b = bank(&app).await;
    let manifest = |href: &str| {
        format!(
            r#"<manifest identifier="M"><resources><resource identifier="R1" type="imsqti_item_xmlv3p0" href="{href}"/></resources></manifest>"#
        )
    };
    let escaping = package(&[("imsmanifest.xml", &manifest("../../etc/passwd"))]);
    let reply = import(&app, &b.author, "", escaping).await;
    assert_eq!(
        (reply.status, reply.body["items"][0]["reason_code"].as_str()),
        (422, Some("unsafe_path")),
        "{}",
        reply.text
    );
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><qti-assessment-item identifier="x">&e;</qti-assessment-item>"#;
    let reply = import(
        &app,
        &b.author,
        "",
        package(&[
            ("imsmanifest.xml", &manifest("items/a.xml")),
            ("items/a.xml", xxe),
        ]),
    )
    .await;
    assert_eq!(
        (reply.status, reply.body["items"][0]["reason_code"].as_str()),
        (422, Some("xml_entity")),
        "{}",
        reply.text
    );
    let single = r#"<?xml version="1.0"?><qti-assessment-item xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0" identifier="q1"><qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier"><qti-correct-response><qti-value>C</qti-value></qti-correct-response></qti-response-declaration><qti-item-body><p>Đơn vị của cảm ứng từ là</p><qti-choice-interaction response-identifier="RESPONSE" max-choices="1"><qti-simple-choice identifier="A">V</qti-simple-choice><qti-simple-choice identifier="B">A</qti-simple-choice><qti-simple-choice identifier="C">T</qti-simple-choice><qti-simple-choice identifier="D">Wb/s</qti-simple-choice></qti-choice-interaction></qti-item-body></qti-assessment-item>"#;
    let reply = import(&app, &b.author, "", single.as_bytes().to_vec()).await;
    assert_eq!(
        (reply.status, reply.body["created"].as_u64()),
        (200, Some(1)),
        "{}",
        reply.text
    );
    let item = &all_mine(&app, &b.author).await[0];
    assert_eq!(
        (
            item["body"]["stem"].as_str(),
            item["body"]["correct"].as_str()
        ),
        (Some("Đơn vị của cảm ứng từ là"), Some("C"))
    );
}

on_every_store!(the_qti_sample_package_imports);

async fn the_qti_sample_package_imports(app: TestApp) {
    let b = bank(&app).await;
    let file = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../content-samples/questions/tin-hoc-11-qti.zip"
    ))
    .unwrap();
    let reply = app
        .send(
            app.client
                .post(app.url("/api/v1/items/import?subject=tin_hoc&grade=11&topic=M%E1%BA%ABu"))
                .bearer_auth(&b.author)
                .body(file),
        )
        .await;
    assert_eq!(
        (
            reply.status,
            reply.body["format"].as_str(),
            reply.body["created"].as_u64()
        ),
        (200, Some("qti"), Some(4)),
        "{}",
        reply.text
    );
    let items = all_mine(&app, &b.author).await;
    let tf = items.iter().find(|i| i["kind"] == "true_false").unwrap();
    assert_eq!(tf["metadata"]["solution"], "s = 1 + 2 + 3 + 4 = 10.");
    let marks: Vec<bool> = tf["body"]["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["correct"].as_bool().unwrap())
        .collect();
    assert_eq!(marks, [true, false, true, false]);
}
