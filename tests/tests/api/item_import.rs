//! Importing question banks in the teachers' Word convention, from .docx and text.
use std::io::Write;

use hocthi_tests::{TestApp, on_every_store};

use super::items::{all_mine, bank};

on_every_store!(
    a_docx_bank_imports_with_equations_and_images,
    broken_banks_import_nothing,
    a_text_bank_imports,
    imports_stay_within_their_budget
);

const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0,
    1, 0, 0, 0, 1, 8, 6, 0, 0, 0,
];

/// A run: (text, bold, underline, red).
fn run(text: &str, bold: bool, underline: bool, red: bool) -> String {
    let mut props = String::new();
    if bold {
        props.push_str("<w:b/>");
    }
    if underline {
        props.push_str(r#"<w:u w:val="single"/>"#);
    }
    if red {
        props.push_str(r#"<w:color w:val="FF0000"/>"#);
    }
    format!(r#"<w:r><w:rPr>{props}</w:rPr><w:t xml:space="preserve">{text}</w:t></w:r>"#)
}

fn p(inner: &str) -> String {
    format!("<w:p>{inner}</w:p>")
}

pub fn docx(paragraphs: &[String], document_prefix: &str) -> Vec<u8> {
    let body = paragraphs.concat();
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{document_prefix}<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:m="http://schemas.openxmlformats.org/officeDocument/2006/math" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><w:body>{body}</w:body></w:document>"#
    );
    let rels = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="media/image1.png"/></Relationships>"#;
    let types = r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="png" ContentType="image/png"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, bytes) in [
        ("[Content_Types].xml", types.as_bytes()),
        ("word/document.xml", document.as_bytes()),
        ("word/_rels/document.xml.rels", rels.as_bytes()),
        ("word/media/image1.png", PNG),
    ] {
        zip.start_file(name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// A system, an integral with limits and a root, as Word's equation editor writes them.
const SYSTEM: &str = r#"<m:oMath><m:d><m:dPr><m:begChr m:val="{"/><m:endChr m:val=""/></m:dPr><m:e><m:eqArr><m:e><m:r><m:t>x+y=3</m:t></m:r></m:e><m:e><m:r><m:t>x−y=1</m:t></m:r></m:e></m:eqArr></m:e></m:d></m:oMath>"#;
const INTEGRAL: &str = r#"<m:oMath><m:nary><m:naryPr><m:chr m:val="∫"/><m:limLoc m:val="subSup"/></m:naryPr><m:sub><m:r><m:t>0</m:t></m:r></m:sub><m:sup><m:r><m:t>2</m:t></m:r></m:sup><m:e><m:r><m:t>4x dx</m:t></m:r></m:e></m:nary></m:oMath>"#;
const ROOT: &str = r#"<m:oMath><m:rad><m:radPr><m:degHide m:val="1"/></m:radPr><m:deg/><m:e><m:r><m:t>x+1</m:t></m:r></m:e></m:rad></m:oMath>"#;

fn good_bank() -> Vec<String> {
    let fraction = r#"<m:oMath><m:f><m:num><m:r><m:t>1</m:t></m:r></m:num><m:den><m:r><m:t>x</m:t></m:r></m:den></m:f></m:oMath>"#;
    let image = r#"<w:r><w:drawing><a:graphic><a:graphicData><a:blip r:embed="rId9"/></a:graphicData></a:graphic></w:drawing></w:r>"#;
    vec![
        p(&run(
            "PHẦN I. Câu trắc nghiệm nhiều phương án lựa chọn",
            true,
            false,
            false,
        )),
        p(&format!(
            "{}{}{}",
            run("Câu 1. Đạo hàm của hàm số ", true, false, false),
            fraction,
            run(" là", false, false, false)
        )),
        p(&format!(
            "{}{}",
            run("A.", true, false, false),
            run(" 1/x", false, false, false)
        )),
        p(&format!(
            "{}{}",
            run("B.", true, true, false),
            run(" -1/x²", false, false, false)
        )),
        p(&format!(
            "{}{}",
            run("C.", true, false, false),
            run(" ln x", false, false, false)
        )),
        p(&format!(
            "{}{}",
            run("D.", true, false, false),
            run(" x", false, false, false)
        )),
        p(&run("Mức độ: Hiểu", false, false, false)),
        p(&run(
            "PHẦN II. Câu trắc nghiệm đúng sai",
            true,
            false,
            false,
        )),
        p(&format!(
            "{}{}",
            run("Câu 1. Quan sát đồ thị: ", true, false, false),
            image
        )),
        p(&format!(
            "{}{}",
            run("a)", false, false, true),
            run(" Hàm số có hai cực trị", false, false, false)
        )),
        p(&format!(
            "{}{}",
            run("b)", false, false, false),
            run(" Đồ thị đi qua gốc tọa độ", false, false, false)
        )),
        p(&format!(
            "{}{}",
            run("c)", false, false, true),
            run(" Hàm số đồng biến trên (1; 2)", false, false, false)
        )),
        p(&format!(
            "{}{}",
            run("d)", false, false, false),
            run(" Giá trị lớn nhất bằng 3", false, false, false)
        )),
        p(&run(
            "PHẦN III. Câu trắc nghiệm trả lời ngắn",
            true,
            false,
            false,
        )),
        p(&format!(
            "{}{SYSTEM}{}{INTEGRAL}{}{ROOT}{}",
            run("Câu 1. Cho hệ ", false, false, false),
            run(", tích phân ", false, false, false),
            run(" và ", false, false, false),
            run(
                ". Tính giới hạn khi x tiến tới 0 của sin(2x)/x.",
                false,
                false,
                false
            ),
        )),
        p(&run("Đáp án: 2", false, false, false)),
        p(&run("Lời giải: Dùng giới hạn cơ bản.", false, false, false)),
    ]
}

async fn import(app: &TestApp, token: &str, query: &str, file: Vec<u8>) -> hocthi_tests::Reply {
    app.send(
        app.client
            .post(app.url(&format!(
                "/api/v1/items/import?subject=toan&grade=12&topic=Ch%C6%B0%C6%A1ng%201{query}"
            )))
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
            .body(file),
    )
    .await
}

async fn a_docx_bank_imports_with_equations_and_images(app: TestApp) {
    let b = bank(&app).await;
    let reply = import(&app, &b.author, "", docx(&good_bank(), "")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        (
            reply.body["created"].as_u64(),
            reply.body["images"].as_u64()
        ),
        (Some(3), Some(1))
    );
    let items = all_mine(&app, &b.author).await;
    let mc = items
        .iter()
        .find(|i| i["kind"] == "multiple_choice")
        .unwrap();
    assert_eq!(
        mc["body"]["stem"], "Đạo hàm của hàm số $\\frac{1}{x}$ là",
        "the equation became LaTeX"
    );
    assert_eq!(
        mc["body"]["correct"], "B",
        "underline decides when every label is bold"
    );
    assert_eq!(mc["metadata"]["level"], "hieu");
    let tf = items.iter().find(|i| i["kind"] == "true_false").unwrap();
    let marks: Vec<bool> = tf["body"]["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["correct"].as_bool().unwrap())
        .collect();
    assert_eq!(
        marks,
        [true, false, true, false],
        "red marks the true statements"
    );
    let stem = tf["body"]["stem"].as_str().unwrap();
    let key = stem
        .split("(blob:")
        .nth(1)
        .and_then(|s| s.strip_suffix(')'))
        .expect("the image is linked from the stem");
    let stored = app
        .state
        .blobs
        .get(key)
        .await
        .unwrap()
        .expect("the image is in the blob store");
    assert_eq!(stored.as_ref(), PNG);
    let sa = items.iter().find(|i| i["kind"] == "short_answer").unwrap();
    assert_eq!(sa["body"]["accepted"], serde_json::json!(["2"]));
    assert_eq!(sa["metadata"]["solution"], "Dùng giới hạn cơ bản.");
    // The system, the integral and the root: canonical LaTeX, shown as MathML.
    assert_eq!(
        sa["body"]["stem"],
        "Cho hệ $\\begin{cases}x+y=3 \\\\ x-y=1\\end{cases}$, tích phân $\\int_{0}^{2}4xdx$ và $\\sqrt{x+1}$. Tính giới hạn khi x tiến tới 0 của sin(2x)/x."
    );
    let shown = sa["rendered"]["stem"].as_str().unwrap();
    for part in [
        "<mtable",
        "<msubsup><mo>∫</mo><mn>0</mn><mn>2</mn></msubsup>",
        "<msqrt>",
    ] {
        assert!(shown.contains(part), "{part} in {shown}");
    }
    // Exported to QTI: formulas as MathML, the figure carried in the package.
    let ids: Vec<&serde_json::Value> = items.iter().map(|i| &i["id"]).collect();
    let package = app
        .client
        .post(app.url("/api/v1/items/export"))
        .bearer_auth(&b.author)
        .json(&serde_json::json!({ "format": "qti_package", "item_ids": ids }))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(package.to_vec())).unwrap();
    let names: Vec<String> = (0..archive.len())
        .map(|i| archive.by_index(i).unwrap().name().unwrap().to_string())
        .collect();
    let figure = key.trim_start_matches("items/media/");
    assert!(
        names.contains(&format!("items/media/{figure}")),
        "{names:?}"
    );
    let mut with_maths = 0;
    for name in names
        .iter()
        .filter(|n| n.ends_with(".xml") && n.starts_with("items/"))
    {
        let mut xml = String::new();
        std::io::Read::read_to_string(&mut archive.by_name(name).unwrap(), &mut xml).unwrap();
        assert!(!xml.contains('$'), "{name}: {xml}");
        with_maths += usize::from(xml.contains("<math"));
    }
    assert_eq!(with_maths, 2, "the Part I and Part III items carry MathML");
}

async fn broken_banks_import_nothing(app: TestApp) {
    let b = bank(&app).await;
    let mut missing = good_bank();
    missing[3] = p(&format!(
        "{}{}",
        run("B.", true, false, false),
        run(" -1/x²", false, false, false)
    ));
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "a corrupt zip",
            b"PK\x03\x04this is not a zip".to_vec(),
            422,
            "unreadable_file",
        ),
        (
            "an external entity",
            docx(
                &good_bank(),
                r#"<!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]>"#,
            ),
            422,
            "xml_entity",
        ),
        (
            "a zip bomb",
            super::roster::zip_bomb(),
            413,
            "archive_too_large",
        ),
        (
            "a missing answer",
            docx(&missing, ""),
            422,
            "import_rejected",
        ),
        (
            "not UTF-8 text",
            b"C\xe2u 1. \xff\xfe".to_vec(),
            415,
            "unsupported_media_type",
        ),
    ];
    for (what, file, status, code) in cases {
        let reply = import(&app, &b.author, "", file).await;
        assert_eq!(
            reply.status,
            status,
            "{what}: {}",
            &reply.text[..reply.text.len().min(300)]
        );
        let got = reply.body["errors"][0]["code"]
            .as_str()
            .or(reply.body["code"].as_str());
        assert_eq!(
            got,
            Some(code),
            "{what}: {}",
            &reply.text[..reply.text.len().min(300)]
        );
    }
    assert!(
        all_mine(&app, &b.author).await.is_empty(),
        "nothing half-imported"
    );
    let rejected = import(&app, &b.author, "", docx(&missing, "")).await;
    let first = &rejected.body["items"][0];
    assert_eq!(
        (
            first["at"].as_u64(),
            first["status"].as_str(),
            first["reason_code"].as_str()
        ),
        (Some(2), Some("rejected"), Some("missing_answer"))
    );
    let kept = import(&app, &b.author, "&keep_valid=true", docx(&missing, "")).await;
    assert_eq!(
        (
            kept.status,
            kept.body["created"].as_u64(),
            kept.body["rejected"].as_u64()
        ),
        (200, Some(2), Some(1))
    );
}

/// docs/SECURITY.md, finding 3: a file that refers to one part many times, or builds a huge
/// tree from a few megabytes, is read within one budget and refused with its own code.
async fn imports_stay_within_their_budget(app: TestApp) {
    let b = bank(&app).await;
    // One image referred to 5,000 times is stored, and counted, once (it used to be read, kept
    // and written once per reference).
    let image = r#"<w:r><w:drawing><a:graphic><a:graphicData><a:blip r:embed="rId9"/></a:graphicData></a:graphic></w:drawing></w:r>"#;
    let mut bank_file = good_bank();
    bank_file.insert(0, p(&image.repeat(5_000)));
    let reply = import(&app, &b.author, "", docx(&bank_file, "")).await;
    assert_eq!(
        (reply.status, reply.body["images"].as_u64()),
        (200, Some(1)),
        "{}",
        &reply.text[..reply.text.len().min(300)]
    );

    // A QTI manifest that lists one item 2,001 times: the item is parsed once, and the file
    // is refused for its number of items before anything is written.
    let item = r#"<?xml version="1.0"?><qti-assessment-item xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0" identifier="q1"><qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier"><qti-correct-response><qti-value>A</qti-value></qti-correct-response></qti-response-declaration><qti-item-body><p>Câu hỏi</p><qti-choice-interaction response-identifier="RESPONSE" max-choices="1"><qti-simple-choice identifier="A">1</qti-simple-choice><qti-simple-choice identifier="B">2</qti-simple-choice><qti-simple-choice identifier="C">3</qti-simple-choice><qti-simple-choice identifier="D">4</qti-simple-choice></qti-choice-interaction></qti-item-body></qti-assessment-item>"#;
    let manifest = |times: usize| {
        format!(
            r#"<manifest identifier="M"><resources>{}</resources></manifest>"#,
            r#"<resource identifier="R" type="imsqti_item_xmlv3p0" href="items/a.xml"/>"#
                .repeat(times)
        )
    };
    let package = |times: usize| {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, body) in [
            ("imsmanifest.xml", manifest(times)),
            ("items/a.xml", item.into()),
        ] {
            zip.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(body.as_bytes()).unwrap();
        }
        zip.finish().unwrap().into_inner()
    };
    let reply = import(&app, &b.author, "", package(2_001)).await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (413, Some("too_many_items")),
        "{}",
        &reply.text[..reply.text.len().min(300)]
    );
    let reply = import(&app, &b.author, "&dry_run=true", package(300)).await;
    assert_eq!(
        (reply.status, reply.body["items"].as_array().map(Vec::len)),
        (200, Some(300)),
        "{}",
        &reply.text[..reply.text.len().min(300)]
    );

    // 2.6 MB of empty elements would build a tree of ~100 MB: refused by the node budget.
    let wide = format!("<quiz>{}</quiz>", "<a/>".repeat(650_000));
    let reply = import(&app, &b.author, "", wide.into_bytes()).await;
    assert_eq!(
        (reply.status, reply.body["errors"][0]["code"].as_str()),
        (422, Some("import_too_complex")),
        "{}",
        &reply.text[..reply.text.len().min(300)]
    );
    assert_eq!(
        all_mine(&app, &b.author).await.len(),
        3,
        "only the first bank was written"
    );
}

async fn a_text_bank_imports(app: TestApp) {
    let b = bank(&app).await;
    let text = "PHẦN I\nCâu 1: Số nghiệm của phương trình $x^2 = 4$ là\nA. 0\nB. 1\n*C. 2\nD. 3\nPHẦN III\nCâu 1. Tính $\\sqrt{2{,}25}$.\nĐáp án: 1,5\n";
    let dry = import(&app, &b.author, "&dry_run=true", text.into()).await;
    assert_eq!(
        (
            dry.status,
            dry.body["format"].as_str(),
            dry.body["items"][0]["status"].as_str()
        ),
        (200, Some("text"), Some("would_create"))
    );
    assert!(
        all_mine(&app, &b.author).await.is_empty(),
        "a dry run writes nothing"
    );
    let done = import(&app, &b.author, "", text.into()).await;
    assert_eq!(done.body["created"], 2, "{}", done.text);
    let items = all_mine(&app, &b.author).await;
    assert!(items.iter().any(|i| i["body"]["correct"] == "C"));
}

on_every_store!(the_gift_sample_imports);

async fn the_gift_sample_imports(app: TestApp) {
    let b = bank(&app).await;
    let file = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../content-samples/questions/hoa-hoc-10.gift"
    ))
    .unwrap();
    let reply = app
        .send(
            app.client
                .post(app.url("/api/v1/items/import?subject=hoa_hoc&grade=10&topic=M%E1%BA%ABu"))
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
        (200, Some("gift"), Some(7)),
        "{}",
        reply.text
    );
    let kinds: Vec<String> = all_mine(&app, &b.author)
        .await
        .iter()
        .map(|i| i["kind"].as_str().unwrap().to_owned())
        .collect();
    for kind in ["multiple_choice", "true_false", "short_answer", "essay"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}
