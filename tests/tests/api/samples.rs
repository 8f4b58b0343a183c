//! The sample banks in content-samples/ import whole, equations and figure included.
use hocthi_tests::{TestApp, on_every_store};

use super::items::bank;

on_every_store!(sample_docx_banks_import_intact);

async fn sample_docx_banks_import_intact(app: TestApp) {
    let b = bank(&app).await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../content-samples/questions/");
    // A dry run counts the figure the import will store.
    let dry = app
        .send(
            app.client
                .post(app.url(
                    "/api/v1/items/import?subject=toan&grade=12&topic=M%E1%BA%ABu&dry_run=true",
                ))
                .bearer_auth(&b.author)
                .body(std::fs::read(format!("{dir}toan-12.docx")).unwrap()),
        )
        .await;
    assert_eq!(
        (
            dry.body["items"].as_array().map(Vec::len),
            dry.body["rejected"].as_u64(),
            dry.body["images"].as_u64()
        ),
        (Some(60), Some(0), Some(1)),
        "{}",
        &dry.text[..dry.text.len().min(300)]
    );
    for (file, subject) in [
        ("toan-12.docx", "toan"),
        ("vat-li-12.docx", "vat_li"),
        ("toan-12.txt", "toan"),
    ] {
        let bytes = std::fs::read(format!("{dir}{file}")).unwrap();
        let reply = app
            .send(
                app.client
                    .post(app.url(&format!(
                        "/api/v1/items/import?subject={subject}&grade=12&topic=M%E1%BA%ABu"
                    )))
                    .bearer_auth(&b.author)
                    .body(bytes),
            )
            .await;
        assert_eq!(
            reply.status,
            200,
            "{file}: {}",
            &reply.text[..reply.text.len().min(600)]
        );
        assert_eq!(
            (
                reply.body["created"].as_u64(),
                reply.body["rejected"].as_u64()
            ),
            (Some(60), Some(0)),
            "{file}"
        );
    }
    let with_math = app
        .get(
            "/api/v1/items?mine=true&q=dao%20ham&limit=500",
            Some(&b.author),
        )
        .await;
    let stems: Vec<&str> = with_math.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["body"]["stem"].as_str().unwrap())
        .collect();
    assert!(
        stems.iter().any(|s| s.contains("x^{") && s.contains('$')),
        "OMML equations arrive as LaTeX: {stems:?}"
    );
    assert!(
        !stems.iter().any(|s| s.contains("{}_") || s.contains("{}^")),
        "canonical LaTeX, with no empty groups: {stems:?}"
    );
    let rendered: Vec<&str> = with_math.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["rendered"]["stem"].as_str().unwrap())
        .collect();
    assert!(
        rendered
            .iter()
            .all(|s| s.contains("<math") && !s.contains("math-error")),
        "every formula shows as MathML: {rendered:?}"
    );
    let figures = app
        .get(
            "/api/v1/items?mine=true&kind=true_false&limit=500",
            Some(&b.author),
        )
        .await;
    let linked: Vec<&str> = figures.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["body"]["stem"].as_str())
        .filter(|s| s.contains("(blob:items/media/"))
        .collect();
    assert_eq!(linked.len(), 1, "the docx figure is stored and linked once");
    let key = linked[0]
        .split("(blob:")
        .nth(1)
        .unwrap()
        .trim_end_matches(')');
    assert!(
        app.state
            .blobs
            .get(key)
            .await
            .unwrap()
            .unwrap()
            .starts_with(b"\x89PNG")
    );
    // The figure shows on screens through the item's media route, to whoever may read the
    // item, and to nobody else.
    let item = figures.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["body"]["stem"].as_str().unwrap().contains("(blob:"))
        .unwrap();
    let name = key.trim_start_matches("items/media/");
    let route = format!(
        "/api/v1/items/{}/media/{name}",
        item["id"].as_str().unwrap()
    );
    assert!(
        item["rendered"]["stem"]
            .as_str()
            .unwrap()
            .contains(&format!(r#"<img src="{route}" alt="hình">"#)),
        "{}",
        item["rendered"]["stem"]
    );
    let shown = app
        .send(app.client.get(app.url(&route)).bearer_auth(&b.author))
        .await;
    assert_eq!(
        (
            shown.status,
            shown.headers["content-type"].to_str().unwrap()
        ),
        (200, "image/png")
    );
    app.create_user(&b.admin, "gv.khac", &["teacher"], Some(b.school))
        .await;
    let colleague = app.token("gv.khac", hocthi_tests::USER_PASSWORD).await;
    assert_eq!(
        app.get(&route, Some(&colleague)).await.body["code"],
        "item_not_found",
        "a colleague does not see another teacher's draft, nor its figures"
    );
    let not_shown = format!(
        "/api/v1/items/{}/media/{}.png",
        item["id"].as_str().unwrap(),
        "0".repeat(64)
    );
    assert_eq!(
        app.get(&not_shown, Some(&b.author)).await.body["code"],
        "media_not_found"
    );
}

on_every_store!(seeding_loads_samples_and_every_sample_matrix_fits);

async fn seeding_loads_samples_and_every_sample_matrix_fits(app: TestApp) {
    let samples = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../content-samples"));
    let report = hocthi::seed::seed(&app.state, samples).await.unwrap();
    assert_eq!(
        (
            report.schools,
            report.users.len(),
            report.items,
            report.matrices,
            report.lessons
        ),
        (3, 13, 140, 10, 5)
    );
    use sea_orm::{EntityTrait, PaginatorTrait};
    let groups = hocthi::entities::item_group::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(groups, 1, "the English bank's reading passage is a group");
    let again = hocthi::seed::seed(&app.state, samples).await.unwrap();
    assert_eq!(
        (again.schools, again.users.len(), again.items, again.lessons),
        (0, 0, 0, 0),
        "seeding twice adds nothing"
    );
    // The lessons are in the province repository with their pictures and the sound file,
    // found without diacritics by anyone.
    let admin = app.admin_token().await;
    let found = app
        .get("/api/v1/content/items?q=song+am", Some(&admin))
        .await;
    assert_eq!(
        found.body["items"][0]["title"], "Sóng âm: độ cao và tần số",
        "{}",
        found.text
    );
    let lesson = app
        .get(
            &format!(
                "/api/v1/content/items/{}",
                found.body["items"][0]["id"].as_str().unwrap()
            ),
            Some(&admin),
        )
        .await;
    let mimes: Vec<&str> = lesson.body["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["mime"].as_str().unwrap())
        .collect();
    assert!(
        mimes.contains(&"image/png") && mimes.contains(&"audio/wav"),
        "{mimes:?}"
    );
    let all = app
        .get(
            "/api/v1/content/items?scope=province&limit=100",
            Some(&admin),
        )
        .await;
    let subjects: std::collections::BTreeSet<&str> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects.len(), 5, "five subjects: {subjects:?}");

    for file in ["toan.json", "vat-li.json"] {
        let matrix: serde_json::Value =
            serde_json::from_slice(&std::fs::read(samples.join("matrices").join(file)).unwrap())
                .unwrap();
        let check = app
            .post(
                "/api/v1/matrices/check",
                Some(&admin),
                serde_json::json!({ "matrix": matrix }),
            )
            .await;
        assert_eq!(check.body["satisfied"], true, "{file}: {}", check.text);
        let paper = app
            .post(
                "/api/v1/papers",
                Some(&admin),
                serde_json::json!({ "matrix": matrix, "codes": 24 }),
            )
            .await;
        assert_eq!(paper.status, 201, "{file}: {}", paper.text);
        assert_eq!(paper.body["codes"].as_array().unwrap().len(), 24);
        // Printed as a school would hand it out: the sample banks' equations as Word equations,
        // none as LaTeX text. The files are kept for a look (tools/render-printed.sh).
        let paper_id = paper.body["id"].as_str().unwrap();
        let code = paper.body["codes"][0].as_str().unwrap();
        let title = "K%E1%BB%B3%20thi%20th%E1%BB%AD%20t%E1%BB%91t%20nghi%E1%BB%87p%20THPT%202026";
        let printed =
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/printed"));
        std::fs::create_dir_all(printed).unwrap();
        for (path, name) in [
            (
                format!("codes/{code}/docx"),
                format!("de-{}-{code}.docx", &file[..file.len() - 5]),
            ),
            (
                "keys/docx".to_owned(),
                format!("dap-an-{}.docx", &file[..file.len() - 5]),
            ),
        ] {
            let docx = super::papers::download(
                &app,
                &admin,
                &format!("/api/v1/papers/{paper_id}/{path}?title={title}"),
            )
            .await;
            let xml = super::papers::docx_part(&docx, "word/document.xml");
            assert!(xml.contains("KỲ THI THỬ TỐT NGHIỆP THPT 2026"), "{name}");
            assert!(
                !xml.contains('$'),
                "{name}: no formula printed as LaTeX text"
            );
            if name.starts_with("de-toan") {
                assert!(
                    xml.contains("<m:oMath>"),
                    "{name}: equations as Word equations"
                );
            }
            std::fs::write(printed.join(&name), &docx).unwrap();
        }
    }
}
