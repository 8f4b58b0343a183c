//! Exam matrices and paper codes drawn from the bank.
use hocthi_tests::{TestApp, on_every_store};
use serde_json::{Value, json};

use super::items::bank;

on_every_store!(a_paper_with_24_codes_keys_every_code_right);

pub fn maths_matrix() -> Value {
    json!({
        "subject": "toan",
        "name": "Đề kiểm tra cuối kì I - Toán 12",
        "rows": [
            { "topic": "Chương 1", "cells": [
                { "kind": "multiple_choice", "level": "biet", "count": 8 },
                { "kind": "true_false", "level": "hieu", "count": 2 },
                { "kind": "short_answer", "level": "van_dung", "count": 3 } ] },
            { "topic": "Chương 2", "cells": [
                { "kind": "multiple_choice", "level": "hieu", "count": 4 },
                { "kind": "true_false", "level": "van_dung", "count": 2 },
                { "kind": "short_answer", "level": "van_dung", "count": 3 } ] }
        ]
    })
}

fn item(n: usize, topic: &str, kind: &str, level: &str) -> Value {
    let correct = ["A", "B", "C", "D"][n % 4];
    let body = match kind {
        "multiple_choice" => {
            json!({ "kind": kind, "stem": format!("Câu {n}: tính $\\int_0^{n} 2x\\,dx$ và $f'({n})$"),
            "options": [format!("{n}A"), format!("{n}B"), format!("{n}C"), format!("{n}D")], "correct": correct })
        }
        "true_false" => json!({ "kind": kind, "stem": format!("Câu {n}: xét hàm số"),
            "statements": (0..4).map(|i| json!({ "text": format!("Ý {n}.{i}"), "correct": (n + i).is_multiple_of(2) })).collect::<Vec<_>>() }),
        _ => {
            json!({ "kind": kind, "stem": format!("Câu {n}: tính giá trị"), "accepted": [format!("{},5", n % 100)] })
        }
    };
    json!({ "body": body, "metadata": { "subject": "toan", "grade": 12, "topic": [topic], "level": level } })
}

async fn a_paper_with_24_codes_keys_every_code_right(app: TestApp) {
    let b = bank(&app).await;
    let mut n = 0;
    let plan = [
        ("Chương 1. Đạo hàm", "multiple_choice", "biet", 9),
        ("Chương 1. Đạo hàm", "true_false", "hieu", 2),
        ("Chương 1. Đạo hàm", "short_answer", "van_dung", 4),
        ("Chương 2. Nguyên hàm", "multiple_choice", "hieu", 5),
        ("Chương 2. Nguyên hàm", "true_false", "van_dung", 2),
        ("Chương 2. Nguyên hàm", "short_answer", "van_dung", 2),
    ];
    let mut originals = std::collections::HashMap::new();
    for (topic, kind, level, count) in plan {
        for _ in 0..count {
            n += 1;
            let request = item(n, topic, kind, level);
            let created = app
                .post("/api/v1/items", Some(&b.author), request.clone())
                .await;
            assert_eq!(created.status, 201, "{}", created.text);
            let id = created.body["id"].as_str().unwrap().to_owned();
            app.post(
                &format!("/api/v1/items/{id}/submit"),
                Some(&b.author),
                json!({}),
            )
            .await;
            let reviewed = app
                .post(
                    &format!("/api/v1/items/{id}/review"),
                    Some(&b.reviewer),
                    json!({ "decision": "approve" }),
                )
                .await;
            assert_eq!(reviewed.status, 204, "{}", reviewed.text);
            originals.insert(id, request["body"].clone());
        }
    }
    // Chương 2 has 2 short answers where 3 are needed.
    let check = app
        .post(
            "/api/v1/matrices/check",
            Some(&b.author),
            json!({ "matrix": maths_matrix() }),
        )
        .await;
    assert_eq!(check.status, 200, "{}", check.text);
    assert_eq!(check.body["satisfied"], false);
    let short: Vec<&Value> = check.body["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["available"].as_u64() < c["required"].as_u64())
        .collect();
    assert_eq!(short.len(), 1);
    assert_eq!(
        (
            short[0]["topic"].as_str(),
            short[0]["kind"].as_str(),
            short[0]["available"].as_u64()
        ),
        (Some("Chương 2"), Some("short_answer"), Some(2))
    );
    let refused = app
        .post(
            "/api/v1/papers",
            Some(&b.author),
            json!({ "matrix": maths_matrix(), "codes": 24 }),
        )
        .await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (422, Some("matrix_not_satisfied")),
        "{}",
        refused.text
    );

    let mut bad_shape = maths_matrix();
    bad_shape["rows"][0]["cells"][0]["count"] = json!(7);
    let reply = app
        .post(
            "/api/v1/papers",
            Some(&b.author),
            json!({ "matrix": bad_shape, "codes": 24 }),
        )
        .await;
    assert_eq!(reply.body["errors"][0]["code"], "matrix_shape");

    let mut matrix = maths_matrix();
    matrix["rows"][0]["cells"][2]["count"] = json!(4);
    matrix["rows"][1]["cells"][2]["count"] = json!(2);
    let created = app
        .post(
            "/api/v1/papers",
            Some(&b.author),
            json!({ "matrix": matrix, "codes": 24, "seed": 2025, "avoid_recent": false }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let codes: Vec<String> = created.body["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 24);
    assert_eq!((codes[0].as_str(), codes[23].as_str()), ("0101", "0124"));
    let paper_id = created.body["id"].as_str().unwrap();

    let mut layouts = Vec::new();
    for code in &codes {
        let printed = app
            .get(
                &format!("/api/v1/papers/{paper_id}/codes/{code}"),
                Some(&b.author),
            )
            .await;
        assert_eq!(printed.status, 200, "{}", printed.text);
        let questions = printed.body["questions"].as_array().unwrap();
        assert_eq!(questions.len(), 22);
        let key = &printed.body["key"];
        // The key names the option that holds the original correct answer.
        for (q, letter) in questions
            .iter()
            .filter(|q| q["part"] == 1)
            .zip(key["part1"].as_array().unwrap())
        {
            let original = &originals[q["item_id"].as_str().unwrap()];
            let correct = original["correct"].as_str().unwrap();
            let correct_text = &original["options"][["A", "B", "C", "D"]
                .iter()
                .position(|l| *l == correct)
                .unwrap()];
            let at = ["A", "B", "C", "D"]
                .iter()
                .position(|l| *l == letter.as_str().unwrap())
                .unwrap();
            assert_eq!(&q["content"]["options"][at], correct_text, "code {code}");
            assert!(
                q["content"].get("correct").is_none(),
                "the printed content carries no key"
            );
        }
        // Answering the code with its own key scores 10, through the same grader teachers use.
        let responses = json!([{ "candidate": code, "part1": key["part1"], "part2": key["part2"],
            "part3": key["part3"].as_array().unwrap().iter().map(|a| a[0].clone()).collect::<Vec<_>>() }]);
        let scores =
            hocthi::questions::key_file::grade(&key.to_string(), &responses.to_string()).unwrap();
        assert_eq!(scores[0].score.total.to_string(), "10.00", "code {code}");
        layouts.push(
            questions
                .iter()
                .map(|q| (q["item_id"].clone(), q["content"].clone()))
                .collect::<Vec<_>>(),
        );
    }
    assert!(
        layouts.windows(2).any(|w| w[0] != w[1]),
        "codes are shuffled differently"
    );

    // The same seed over the same bank rebuilds the same paper.
    let again = app
        .post(
            "/api/v1/papers",
            Some(&b.author),
            json!({ "matrix": matrix, "codes": 24, "seed": 2025, "avoid_recent": false }),
        )
        .await;
    let again_id = again.body["id"].as_str().unwrap();
    assert_eq!(again.body["items"], created.body["items"]);
    for (i, code) in codes.iter().enumerate().step_by(7) {
        let printed = app
            .get(
                &format!("/api/v1/papers/{again_id}/codes/{code}"),
                Some(&b.author),
            )
            .await;
        let layout: Vec<_> = printed.body["questions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| (q["item_id"].clone(), q["content"].clone()))
            .collect();
        assert_eq!(layout, layouts[i], "code {code}");
    }
    let summary = app
        .get(&format!("/api/v1/papers/{paper_id}"), Some(&b.author))
        .await;
    assert_eq!(
        (
            summary.body["seed"].as_i64(),
            summary.body["minutes"].as_u64()
        ),
        (Some(2025), Some(90))
    );
    let used = app
        .get(
            &format!(
                "/api/v1/items/{}",
                created.body["items"][0]["item_id"].as_str().unwrap()
            ),
            Some(&b.author),
        )
        .await;
    assert_eq!(used.body["times_used"], 2);
    // Formulas are kept canonical, shown as MathML, and printed as Word equations.
    assert!(
        used.body["body"]["stem"]
            .as_str()
            .unwrap()
            .contains("$\\int_{0}^{"),
        "{}",
        used.body["body"]["stem"]
    );
    let shown = used.body["rendered"]["stem"].as_str().unwrap();
    assert!(shown.contains("<msubsup><mo>∫</mo><mn>0</mn>"), "{shown}");
    assert!(!shown.contains('$'), "{shown}");
    let xml = printed_xml(&app, &b.author, paper_id, &codes[0]).await;
    assert_eq!(
        xml.matches("<m:oMath>").count(),
        2 * 12,
        "two equations in each of the 12 Part I stems"
    );
    assert!(xml.contains(r#"<m:nary><m:naryPr><m:chr m:val="∫"/>"#));
    assert!(!xml.contains('$'), "no formula printed as LaTeX text");
    // Laid out as schools print: the header, Part III boxes, the end mark, no key inside.
    assert!(
        xml.contains("ĐỀ KIỂM TRA CUỐI KÌ I - TOÁN 12") && xml.contains("Môn: TOÁN"),
        "{}",
        xml.chars().take(3000).collect::<String>()
    );
    assert!(xml.contains(&format!("Mã đề thi {}", codes[0])));
    assert_eq!(
        xml.matches("Trả lời:").count(),
        6,
        "a row of boxes per Part III question"
    );
    assert!(xml.contains("— HẾT —"));
    assert!(
        !xml.contains("ĐÁP ÁN"),
        "the candidates' file carries no key"
    );
    let titled = printed_part(
        &app,
        &b.author,
        &format!("/api/v1/papers/{paper_id}/codes/{}/docx?title=K%E1%BB%B3%20thi%20th%E1%BB%AD%20t%E1%BB%91t%20nghi%E1%BB%87p", codes[1]),
        "word/document.xml",
    )
    .await;
    assert!(
        titled.contains("KỲ THI THỬ TỐT NGHIỆP"),
        "the exam's name heads the paper"
    );
    let footer = printed_part(
        &app,
        &b.author,
        &format!("/api/v1/papers/{paper_id}/codes/{}/docx", codes[0]),
        "word/footer1.xml",
    )
    .await;
    assert!(
        footer.contains("Trang ") && footer.contains(" PAGE ") && footer.contains(" NUMPAGES ")
    );
    // The keys: one file, every code, each Part I letter where the code's key has it.
    let keys = printed_part(
        &app,
        &b.author,
        &format!("/api/v1/papers/{paper_id}/keys/docx"),
        "word/document.xml",
    )
    .await;
    for code in &codes {
        assert!(
            keys.contains(&format!(">{code}<")),
            "code {code} in the keys"
        );
    }
    let first = app
        .get(
            &format!("/api/v1/papers/{paper_id}/codes/{}", codes[0]),
            Some(&b.author),
        )
        .await;
    let letters: String = first.body["key"]["part1"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let printed_letters: String = keys
        .split("PHẦN II")
        .next()
        .unwrap()
        .split("<w:tr>")
        .skip(2)
        .map(|row| {
            row.split("<w:t xml:space=\"preserve\">")
                .nth(2)
                .and_then(|cell| cell.split('<').next())
                .unwrap()
                .to_owned()
        })
        .take(letters.len())
        .collect();
    assert_eq!(
        printed_letters, letters,
        "the first code's column is its key"
    );
}

/// The `word/document.xml` of a code's printable .docx.
pub async fn printed_xml(app: &TestApp, token: &str, paper_id: &str, code: &str) -> String {
    printed_part(
        app,
        token,
        &format!("/api/v1/papers/{paper_id}/codes/{code}/docx"),
        "word/document.xml",
    )
    .await
}

/// One part of a .docx the service prints.
async fn printed_part(app: &TestApp, token: &str, path: &str, part: &str) -> String {
    docx_part(&download(app, token, path).await, part)
}

/// The bytes of a file the service answers with.
pub async fn download(app: &TestApp, token: &str, path: &str) -> Vec<u8> {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

/// One XML part of a .docx, as text.
pub fn docx_part(docx: &[u8], part: &str) -> String {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(docx)).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(&mut archive.by_name(part).unwrap(), &mut xml).unwrap();
    xml
}
