//! The shared content repository: uploads checked on completion (size, type by content,
//! SHA-256), stored once, within quotas, cleaned up when abandoned, downloaded by range; SCORM
//! packages read and unsafe ones refused; review, version pinning, scopes and search.
use std::io::Write;

use hocthi_tests::{TestApp, USER_PASSWORD, on_every_store};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

on_every_store!(
    a_single_upload_is_checked_and_downloaded_by_range,
    a_multipart_upload_is_assembled_and_checked,
    uploads_that_lie_are_refused_and_discarded,
    quotas_and_deduplication_hold,
    abandoned_uploads_are_cleaned_up,
    a_checked_upload_cannot_be_replaced_through_its_url,
    scorm_packages_are_read_and_unsafe_ones_refused,
    the_province_repository_goes_through_review_and_pins_versions,
    scopes_decide_who_sees_what_and_search_ignores_diacritics,
    classes_get_assignments_and_the_province_sees_usage,
    practice_sets_are_assigned_and_their_scores_show,
);

struct People {
    admin: String,
    teacher: String,
    colleague: String,
    reviewer: String,
    other_school: String,
    student: String,
    class: uuid::Uuid,
}

async fn people(app: &TestApp) -> People {
    let bank = super::items::bank(app).await;
    let other = app
        .create_school(&bank.admin, "THPT-K", "Trường THPT Khác")
        .await;
    let class = app.create_class(&bank.admin, bank.school, "10A1").await;
    app.create_user(
        &bank.admin,
        "gv.dongnghiep",
        &["teacher"],
        Some(bank.school),
    )
    .await;
    app.create_user(&bank.admin, "gv.truongkhac", &["teacher"], Some(other))
        .await;
    let created = app
        .post("/api/v1/users", Some(&bank.admin), json!({ "login": "hs.lop10a1", "password": USER_PASSWORD,
            "full_name": "Lê Văn Học", "roles": ["student"], "school_id": bank.school, "class_id": class }))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    People {
        colleague: app.token("gv.dongnghiep", USER_PASSWORD).await,
        other_school: app.token("gv.truongkhac", USER_PASSWORD).await,
        student: app.token("hs.lop10a1", USER_PASSWORD).await,
        admin: bank.admin,
        teacher: bank.author,
        reviewer: bank.reviewer,
        class,
    }
}

fn sha(bytes: &[u8]) -> String {
    hex_string(&Sha256::digest(bytes))
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn png() -> Vec<u8> {
    hocthi::exams::chart::png(&[3, 1, 4, 1, 5, 9, 2, 6])
}

/// Starts an upload; returns the ticket.
async fn ticket(
    app: &TestApp,
    token: &str,
    name: &str,
    bytes: &[u8],
    mime: &str,
) -> hocthi_tests::Reply {
    app.post("/api/v1/content/uploads", Some(token),
        json!({ "file_name": name, "size": bytes.len(), "content_type": mime, "sha256": sha(bytes) })).await
}

async fn put(app: &TestApp, url: &str, mime: &str, bytes: Vec<u8>) -> reqwest::Response {
    app.client
        .put(url)
        .header("content-type", mime)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

/// Completes the upload `ticket` started.
async fn complete(app: &TestApp, token: &str, ticket: &hocthi_tests::Reply) -> hocthi_tests::Reply {
    let id = ticket.body["upload_id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/content/uploads/{id}/complete"),
        Some(token),
        json!({}),
    )
    .await
}

/// Uploads in one PUT and completes; returns the completion reply.
pub async fn upload(
    app: &TestApp,
    token: &str,
    name: &str,
    bytes: &[u8],
    mime: &str,
) -> hocthi_tests::Reply {
    let t = ticket(app, token, name, bytes, mime).await;
    assert_eq!(t.status, 201, "{}", t.text);
    assert_eq!(t.body["method"], "single");
    let sent = put(app, t.body["url"].as_str().unwrap(), mime, bytes.to_vec()).await;
    assert!(sent.status().is_success(), "PUT {}", sent.status());
    complete(app, token, &t).await
}

fn meta(title_topic: &str) -> Value {
    json!({ "subject": "toan", "grade": 10, "series": "ket_noi", "topic": [title_topic, "Bài 1"], "tags": ["Hàm số"], "licence": "cc_by_sa" })
}

fn lesson(title: &str, scope: &str, text: &str) -> Value {
    json!({ "title": title, "description": "Bài giảng mẫu", "scope": scope,
        "body": { "kind": "lesson", "sections": [ { "kind": "text", "title": "Lý thuyết", "text": text } ] },
        "metadata": meta("Chương 1. Hàm số") })
}

async fn a_single_upload_is_checked_and_downloaded_by_range(app: TestApp) {
    let p = people(&app).await;
    let bytes = png();
    let done = upload(&app, &p.teacher, "do-thi.png", &bytes, "image/png").await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(
        (done.body["mime"].as_str(), done.body["size"].as_u64()),
        (Some("image/png"), Some(bytes.len() as u64))
    );
    let item = app
        .post("/api/v1/content/items", Some(&p.teacher), json!({ "title": "Đồ thị hàm số bậc hai", "scope": "school",
            "body": { "kind": "image", "file_id": done.body["id"] }, "metadata": meta("Chương 2. Hàm số bậc hai") }))
        .await;
    assert_eq!(item.status, 201, "{}", item.text);
    let link = app
        .get(
            &format!(
                "/api/v1/content/items/{}/download",
                item.body["id"].as_str().unwrap()
            ),
            Some(&p.colleague),
        )
        .await;
    assert_eq!(link.status, 200, "{}", link.text);
    let part = app
        .client
        .get(link.body["url"].as_str().unwrap())
        .header("range", "bytes=0-7")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap().as_ref(), &bytes[..8]);
    let whole = app
        .client
        .get(link.body["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(whole.bytes().await.unwrap().as_ref(), &bytes[..]);
    // A kind takes only its own file types.
    let wrong = app
        .post("/api/v1/content/items", Some(&p.teacher), json!({ "title": "Video?", "scope": "school",
            "body": { "kind": "video", "file_id": done.body["id"] }, "metadata": meta("Chương 2") }))
        .await;
    assert_eq!(
        wrong.body["errors"][0]["code"], "wrong_file_type",
        "{}",
        wrong.text
    );
}

async fn a_multipart_upload_is_assembled_and_checked(app: TestApp) {
    let p = people(&app).await;
    let small_parts = app
        .another_instance_with(|vars| {
            vars.insert("HOCTHI_MULTIPART_THRESHOLD_MB".into(), "6".into());
            vars.insert("HOCTHI_MULTIPART_PART_MB".into(), "5".into());
        })
        .await;
    // An MP4 of 11 MiB: the ftyp box, then data.
    let mut video = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41".to_vec();
    video.extend((0..11 * 1024 * 1024 - video.len()).map(|i| (i % 251) as u8));
    let t = ticket(
        &small_parts,
        &p.teacher,
        "bai-giang.mp4",
        &video,
        "video/mp4",
    )
    .await;
    assert_eq!(t.status, 201, "{}", t.text);
    assert_eq!(t.body["method"], "multipart");
    let urls: Vec<String> = t.body["part_urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(urls.len(), 3);
    let size = t.body["part_size"].as_u64().unwrap() as usize;
    let mut parts = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        let chunk = video[i * size..((i + 1) * size).min(video.len())].to_vec();
        let sent = app.client.put(url).body(chunk).send().await.unwrap();
        assert!(
            sent.status().is_success(),
            "part {}: {}",
            i + 1,
            sent.status()
        );
        let etag = sent.headers()["etag"].to_str().unwrap().to_owned();
        parts.push(json!({ "part_number": i + 1, "etag": etag }));
    }
    let id = t.body["upload_id"].as_str().unwrap();
    let missing = small_parts
        .post(
            &format!("/api/v1/content/uploads/{id}/complete"),
            Some(&p.teacher),
            json!({ "parts": &parts[..2] }),
        )
        .await;
    assert_eq!(missing.body["errors"][0]["code"], "missing_parts");
    let done = small_parts
        .post(
            &format!("/api/v1/content/uploads/{id}/complete"),
            Some(&p.teacher),
            json!({ "parts": parts }),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(
        (done.body["mime"].as_str(), done.body["size"].as_u64()),
        (Some("video/mp4"), Some(video.len() as u64))
    );
    // Seeking into the middle of the video.
    let link = small_parts
        .get(
            &format!(
                "/api/v1/content/files/{}/url",
                done.body["id"].as_str().unwrap()
            ),
            Some(&p.teacher),
        )
        .await;
    let middle = app
        .client
        .get(link.body["url"].as_str().unwrap())
        .header("range", "bytes=6291456-6291465")
        .send()
        .await
        .unwrap();
    assert_eq!(middle.status(), 206);
    assert_eq!(
        middle.bytes().await.unwrap().as_ref(),
        &video[6291456..6291466]
    );
}

async fn uploads_that_lie_are_refused_and_discarded(app: TestApp) {
    let p = people(&app).await;
    let bytes = png();
    // The declared checksum is of other bytes.
    let mut other = bytes.clone();
    other[20] ^= 1;
    let t = ticket(&app, &p.teacher, "anh.png", &other, "image/png").await;
    put(
        &app,
        t.body["url"].as_str().unwrap(),
        "image/png",
        bytes.clone(),
    )
    .await;
    let id = t.body["upload_id"].as_str().unwrap();
    let refused = app
        .post(
            &format!("/api/v1/content/uploads/{id}/complete"),
            Some(&p.teacher),
            json!({}),
        )
        .await;
    assert_eq!(
        (refused.status, refused.body["errors"][0]["code"].as_str()),
        (422, Some("checksum_mismatch")),
        "{}",
        refused.text
    );
    assert!(
        app.state
            .blobs
            .head(&format!("content/{id}"))
            .await
            .unwrap()
            .is_none(),
        "nothing half-kept"
    );
    let again = app
        .post(
            &format!("/api/v1/content/uploads/{id}/complete"),
            Some(&p.teacher),
            json!({}),
        )
        .await;
    assert_eq!(again.body["code"], "upload_not_pending");

    // A PNG declared as a PDF.
    let lying = upload(&app, &p.teacher, "de-cuong.pdf", &bytes, "application/pdf").await;
    assert_eq!(
        (lying.status, lying.body["errors"][0]["code"].as_str()),
        (422, Some("content_type_mismatch")),
        "{}",
        lying.text
    );
    // A type the repository does not take at all.
    let exe = ticket(
        &app,
        &p.teacher,
        "setup.exe",
        b"MZ\x90\x00",
        "application/x-msdownload",
    )
    .await;
    assert_eq!(exe.body["errors"][0]["code"], "unsupported_media_type");
    // Students do not upload to the repository.
    assert_eq!(
        ticket(&app, &p.student, "a.png", &bytes, "image/png")
            .await
            .status,
        403
    );
}

async fn quotas_and_deduplication_hold(app: TestApp) {
    let p = people(&app).await;
    let bytes = png();
    let first = upload(&app, &p.teacher, "anh.png", &bytes, "image/png").await;
    assert_eq!(first.status, 200);
    // The same content again from its uploader: nothing to upload, the stored file is reused.
    let again = ticket(&app, &p.teacher, "ban-sao.png", &bytes, "image/png").await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["method"], "none");
    assert_eq!(again.body["existing_file"]["id"], first.body["id"]);
    // Someone else knowing its SHA-256 or its id does not get it (docs/SECURITY.md, finding 6):
    // the ticket asks for the bytes, and an item cannot point at the file.
    let theirs = ticket(&app, &p.colleague, "ban-sao.png", &bytes, "image/png").await;
    assert_eq!(theirs.status, 201, "{}", theirs.text);
    assert!(theirs.body["existing_file"].is_null(), "{}", theirs.text);
    let borrow = |file: Value| {
        app.post(
            "/api/v1/content/items",
            Some(&p.colleague),
            json!({ "title": "Ảnh mượn", "scope": "school",
            "body": { "kind": "image", "file_id": file }, "metadata": meta("Chương 1") }),
        )
    };
    let refused = borrow(first.body["id"].clone()).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert_eq!(refused.body["errors"][0]["code"], "file_not_found");
    // Sending the bytes proves having them: the upload completes to the same stored file.
    put(
        &app,
        theirs.body["url"].as_str().unwrap(),
        "image/png",
        bytes.clone(),
    )
    .await;
    let held = complete(&app, &p.colleague, &theirs).await;
    assert_eq!(
        held.body["id"], first.body["id"],
        "stored once: {}",
        held.text
    );
    assert_eq!(borrow(first.body["id"].clone()).await.status, 201);
    // Two uploads of one new content in flight at once: both complete to the same file.
    let twin = hocthi::exams::chart::png(&[7, 7, 7]);
    let (a, b) = (
        ticket(&app, &p.teacher, "x.png", &twin, "image/png").await,
        ticket(&app, &p.colleague, "y.png", &twin, "image/png").await,
    );
    for t in [&a, &b] {
        put(
            &app,
            t.body["url"].as_str().unwrap(),
            "image/png",
            twin.clone(),
        )
        .await;
    }
    let done_a = complete(&app, &p.teacher, &a).await;
    let done_b = complete(&app, &p.colleague, &b).await;
    assert_eq!(done_a.body["id"], done_b.body["id"], "stored once");
    assert!(
        app.state
            .blobs
            .head(&format!(
                "content/{}",
                b.body["upload_id"].as_str().unwrap()
            ))
            .await
            .unwrap()
            .is_none()
    );

    let tight = app
        .another_instance_with(|vars| {
            vars.insert("HOCTHI_CONTENT_QUOTA_TEACHER_MB".into(), "1".into());
        })
        .await;
    let big = vec![0u8; 700 * 1024];
    let first_big = ticket(&tight, &p.teacher, "a.pdf", &big, "application/pdf").await;
    assert_eq!(first_big.status, 201, "{}", first_big.text);
    let over = ticket(
        &tight,
        &p.teacher,
        "b.pdf",
        &[1u8; 700 * 1024],
        "application/pdf",
    )
    .await;
    assert_eq!(
        (over.status, over.body["code"].as_str()),
        (413, Some("quota_exceeded")),
        "{}",
        over.text
    );
    // Another teacher has their own quota.
    assert_eq!(
        ticket(
            &tight,
            &p.colleague,
            "c.pdf",
            &[2u8; 700 * 1024],
            "application/pdf"
        )
        .await
        .status,
        201
    );
}

async fn abandoned_uploads_are_cleaned_up(app: TestApp) {
    let p = people(&app).await;
    let bytes = png();
    let t = ticket(&app, &p.teacher, "bo-do.png", &bytes, "image/png").await;
    put(&app, t.body["url"].as_str().unwrap(), "image/png", bytes).await;
    let id = t.body["upload_id"].as_str().unwrap();
    let key = format!("staging/content/{id}");
    assert!(app.state.blobs.head(&key).await.unwrap().is_some());
    let now = chrono::Utc::now();
    assert_eq!(
        hocthi::content::uploads::clean_abandoned(&app.state, now)
            .await
            .unwrap(),
        0,
        "not yet expired"
    );
    let later = now + chrono::Duration::hours(2);
    assert_eq!(
        hocthi::content::uploads::clean_abandoned(&app.state, later)
            .await
            .unwrap(),
        1
    );
    assert!(
        app.state.blobs.head(&key).await.unwrap().is_none(),
        "the object is gone"
    );
    let late = app
        .post(
            &format!("/api/v1/content/uploads/{id}/complete"),
            Some(&p.teacher),
            json!({}),
        )
        .await;
    assert_eq!(late.body["code"], "upload_not_pending");
    assert_eq!(
        hocthi::content::uploads::clean_abandoned(&app.state, later)
            .await
            .unwrap(),
        0,
        "once"
    );
}

/// A checked file is moved out of its upload's reach: the upload's URL, valid for the rest of
/// its hour, no longer changes what reviewers checked and readers download (docs/SECURITY.md,
/// finding 4); what it writes afterwards is deleted when the hour is over.
async fn a_checked_upload_cannot_be_replaced_through_its_url(app: TestApp) {
    let p = people(&app).await;
    let bytes = png();
    let t = ticket(&app, &p.teacher, "de-cuong.png", &bytes, "image/png").await;
    let url = t.body["url"].as_str().unwrap().to_owned();
    let id = t.body["upload_id"].as_str().unwrap().to_owned();
    assert!(
        put(&app, &url, "image/png", bytes.clone())
            .await
            .status()
            .is_success()
    );
    let done = complete(&app, &p.teacher, &t).await;
    assert_eq!(done.status, 200, "{}", done.text);
    let item = app
        .post("/api/v1/content/items", Some(&p.teacher), json!({ "title": "Đề cương ôn tập", "scope": "school",
            "body": { "kind": "image", "file_id": done.body["id"] }, "metadata": meta("Chương 1") }))
        .await;
    assert_eq!(item.status, 201, "{}", item.text);

    // The same URL, the same size, other bytes: accepted by the store, seen by no one.
    let mut swapped = bytes.clone();
    let last = swapped.len() - 1;
    swapped[last] ^= 0xff;
    put(&app, &url, "image/png", swapped).await;
    // More bytes than declared are refused outright.
    let bigger = put(&app, &url, "image/png", vec![0u8; bytes.len() + 4096]).await;
    assert!(bigger.status().is_client_error(), "{}", bigger.status());
    let link = app
        .get(
            &format!(
                "/api/v1/content/items/{}/download",
                item.body["id"].as_str().unwrap()
            ),
            Some(&p.colleague),
        )
        .await;
    let served = app
        .client
        .get(link.body["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        served.bytes().await.unwrap().as_ref(),
        &bytes[..],
        "the checked bytes"
    );

    let staging = format!("staging/content/{id}");
    assert!(app.state.blobs.head(&staging).await.unwrap().is_some());

    // A store that ignores the signed type keeps what the client sent: the right bytes stored
    // as text/html would be served as a page, so completion refuses them.
    let mut other = bytes.clone();
    other.extend(b"<script>alert(1)</script>");
    let html = ticket(&app, &p.teacher, "anh.png", &other, "image/png").await;
    let html_id = html.body["upload_id"].as_str().unwrap();
    app.state
        .blobs
        .put(
            &format!("staging/content/{html_id}"),
            other.clone().into(),
            "text/html",
        )
        .await
        .unwrap();
    let refused = complete(&app, &p.teacher, &html).await;
    assert_eq!(
        (
            refused.status,
            refused.body["errors"][0]["code"]
                .as_str()
                .or(refused.body["code"].as_str())
        ),
        (422, Some("content_type_mismatch")),
        "{}",
        refused.text
    );
    let later = chrono::Utc::now() + chrono::Duration::hours(2);
    hocthi::content::uploads::clean_abandoned(&app.state, later)
        .await
        .unwrap();
    assert!(
        app.state.blobs.head(&staging).await.unwrap().is_none(),
        "a late PUT's bytes are gone after the hour"
    );
    let again = app
        .client
        .get(link.body["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.bytes().await.unwrap().as_ref(),
        &bytes[..],
        "the file stays"
    );
}

fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in entries {
        out.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(body.as_bytes()).unwrap();
    }
    out.finish().unwrap().into_inner()
}

async fn scorm_packages_are_read_and_unsafe_ones_refused(app: TestApp) {
    let p = people(&app).await;
    let manifest = r#"<?xml version="1.0"?><manifest identifier="m1"><organizations default="o1"><organization identifier="o1">
        <title>Phân số và số thập phân</title></organization></organizations>
        <resources><resource identifier="r1" type="webcontent" adlcp:scormtype="sco" href="bai1/index.html"/></resources></manifest>"#;
    let good = zip_of(&[
        ("imsmanifest.xml", manifest),
        ("bai1/index.html", "<html><body>Bài 1</body></html>"),
    ]);
    let done = upload(&app, &p.teacher, "phan-so.zip", &good, "application/zip").await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.body["mime"], "application/vnd.scorm+zip");
    assert_eq!(done.body["package"]["title"], "Phân số và số thập phân");
    assert_eq!(done.body["package"]["launch"], "bai1/index.html");
    let item = app
        .post("/api/v1/content/items", Some(&p.teacher), json!({ "title": "Phân số (SCORM)", "scope": "school",
            "body": { "kind": "package", "file_id": done.body["id"] }, "metadata": meta("Chương 1. Phân số") }))
        .await;
    assert_eq!(item.status, 201, "{}", item.text);

    let evil = zip_of(&[
        ("imsmanifest.xml", manifest),
        ("bai1/index.html", "x"),
        ("../../../etc/cron.d/x", "* * * * * root sh"),
    ]);
    let refused = upload(
        &app,
        &p.teacher,
        "goi-doc-hai.zip",
        &evil,
        "application/zip",
    )
    .await;
    assert_eq!(
        (refused.status, refused.body["errors"][0]["code"].as_str()),
        (422, Some("unsafe_archive_path")),
        "{}",
        refused.text
    );
}

async fn the_province_repository_goes_through_review_and_pins_versions(app: TestApp) {
    let p = people(&app).await;
    let created = app
        .post(
            "/api/v1/content/items",
            Some(&p.teacher),
            lesson(
                "Hàm số bậc ba",
                "province",
                "Khảo sát hàm số $y = x^3 - 3x$.",
            ),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/content/items/{id}");
    assert_eq!(
        app.get(&path, Some(&p.other_school)).await.status,
        404,
        "not published before review"
    );
    assert_eq!(
        app.post(&format!("{path}/submit"), Some(&p.teacher), json!({}))
            .await
            .status,
        204
    );
    // Only a reviewer of the subject decides; a return needs a comment.
    assert_eq!(
        app.post(
            &format!("{path}/review"),
            Some(&p.colleague),
            json!({ "decision": "approve" })
        )
        .await
        .status,
        403
    );
    assert_eq!(
        app.post(
            &format!("{path}/review"),
            Some(&p.reviewer),
            json!({ "decision": "return" })
        )
        .await
        .status,
        422
    );
    assert_eq!(
        app.post(
            &format!("{path}/review"),
            Some(&p.reviewer),
            json!({ "decision": "approve" })
        )
        .await
        .status,
        204
    );
    let seen = app.get(&path, Some(&p.other_school)).await;
    assert_eq!(
        (
            seen.status,
            seen.body["title"].as_str(),
            seen.body["version"].as_i64()
        ),
        (200, Some("Hàm số bậc ba"), Some(1))
    );

    // A new version waits for review; readers keep seeing version 1.
    let edited = app
        .send(
            app.client
                .put(app.url(&path))
                .bearer_auth(&p.teacher)
                .json(&lesson(
                    "Hàm số bậc ba (sửa)",
                    "province",
                    "Khảo sát và vẽ đồ thị.",
                )),
        )
        .await;
    assert_eq!(
        (edited.status, edited.body["version"].as_i64()),
        (200, Some(2)),
        "{}",
        edited.text
    );
    let pinned = app.get(&path, Some(&p.other_school)).await;
    assert_eq!(
        (
            pinned.body["title"].as_str(),
            pinned.body["version"].as_i64()
        ),
        (Some("Hàm số bậc ba"), Some(1))
    );
    assert_eq!(
        app.post(&format!("{path}/submit"), Some(&p.teacher), json!({}))
            .await
            .status,
        204
    );
    assert_eq!(
        app.post(
            &format!("{path}/review"),
            Some(&p.reviewer),
            json!({ "decision": "return", "comment": "Thiếu ví dụ minh họa." })
        )
        .await
        .status,
        204
    );
    assert_eq!(
        app.get(&path, Some(&p.other_school)).await.body["version"],
        1
    );
    let history = app.get(&format!("{path}/versions"), Some(&p.teacher)).await;
    assert_eq!(history.body[0]["status"], "returned");
    assert_eq!(history.body[0]["review_comment"], "Thiếu ví dụ minh họa.");
    assert_eq!(history.body[1]["published"], true);
    assert_eq!(
        app.post(&format!("{path}/submit"), Some(&p.teacher), json!({}))
            .await
            .status,
        204
    );
    assert_eq!(
        app.post(
            &format!("{path}/review"),
            Some(&p.reviewer),
            json!({ "decision": "approve" })
        )
        .await
        .status,
        204
    );
    assert_eq!(
        app.get(&path, Some(&p.other_school)).await.body["title"],
        "Hàm số bậc ba (sửa)"
    );

    // Restoring version 1 makes a version 3 with its content, again for review.
    let restored = app
        .post(
            &format!("{path}/versions/1/restore"),
            Some(&p.teacher),
            json!({}),
        )
        .await;
    assert_eq!(
        (
            restored.status,
            restored.body["version"].as_i64(),
            restored.body["title"].as_str()
        ),
        (200, Some(3), Some("Hàm số bậc ba")),
        "{}",
        restored.text
    );
    assert_eq!(
        app.get(&path, Some(&p.other_school)).await.body["version"],
        2
    );

    // A province admin takes it down, with a reason; every step is in the audit log.
    assert_eq!(
        app.post(
            &format!("{path}/takedown"),
            Some(&p.admin),
            json!({ "reason": "Vi phạm bản quyền hình ảnh" })
        )
        .await
        .status,
        204
    );
    assert_eq!(app.get(&path, Some(&p.other_school)).await.status, 404);
    // The author cannot undo the take-down by moving the item out of the province repository.
    let rescoped = app
        .send(
            app.client
                .put(app.url(&path))
                .bearer_auth(&p.teacher)
                .json(&lesson("Hàm số bậc ba", "school", "Bản sửa.")),
        )
        .await;
    assert_eq!(rescoped.status, 200, "{}", rescoped.text);
    assert_eq!(
        app.get(&path, Some(&p.colleague)).await.status,
        404,
        "still taken down for the school"
    );
    // Nor does a reviewer read an author's items outside the province repository.
    let private = app
        .post(
            "/api/v1/content/items",
            Some(&p.teacher),
            lesson("Nháp riêng", "private", "Ghi chú của tôi."),
        )
        .await;
    let private_path = format!(
        "/api/v1/content/items/{}",
        private.body["id"].as_str().unwrap()
    );
    assert_eq!(app.get(&private_path, Some(&p.reviewer)).await.status, 404);
    assert_eq!(
        app.get(&format!("{private_path}/versions"), Some(&p.reviewer))
            .await
            .status,
        404
    );
    let log = app
        .get(
            &format!("/api/v1/audit/events?target_type=content_item&target_id={id}&limit=100"),
            Some(&p.admin),
        )
        .await;
    let actions: Vec<&str> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "content.created",
        "content.submitted",
        "content.approved",
        "content.returned",
        "content.versioned",
        "content.taken_down",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}

async fn scopes_decide_who_sees_what_and_search_ignores_diacritics(app: TestApp) {
    let p = people(&app).await;
    let app = &app;
    let mut ids = std::collections::HashMap::new();
    for (title, scope) in [
        ("Giới hạn của dãy số", "private"),
        ("Đạo hàm và ứng dụng", "school"),
        ("Hàm số mũ và lôgarit", "class"),
    ] {
        let mut body = lesson(title, scope, "Nội dung bài học.");
        if scope == "class" {
            body["class_id"] = json!(p.class);
        }
        let created = app
            .post("/api/v1/content/items", Some(&p.teacher), body)
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        ids.insert(scope, created.body["id"].as_str().unwrap().to_owned());
    }
    let can_see = |token: String, scope: &'static str| {
        let path = format!("/api/v1/content/items/{}", ids[scope]);
        async move { app.get(&path, Some(&token)).await.status == 200 }
    };
    assert!(!can_see(p.colleague.clone(), "private").await);
    assert!(can_see(p.colleague.clone(), "school").await);
    assert!(
        !can_see(p.other_school.clone(), "school").await,
        "another school's school-scoped item"
    );
    assert!(!can_see(p.other_school.clone(), "class").await);
    assert!(
        can_see(p.student.clone(), "class").await,
        "the class's student"
    );
    assert!(
        can_see(p.colleague.clone(), "class").await,
        "the school's teachers"
    );

    // Search: no diacritics, any case, only what the caller may see.
    let found = |token: String, q: &'static str| async move {
        let reply = app
            .get(
                &format!("/api/v1/content/items?q={}", q.replace(' ', "+")),
                Some(&token),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["title"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        found(p.colleague.clone(), "DAO HAM ung dung").await,
        ["Đạo hàm và ứng dụng"]
    );
    assert_eq!(
        found(p.student.clone(), "ham so mu").await,
        ["Hàm số mũ và lôgarit"]
    );
    assert!(found(p.other_school.clone(), "dao ham").await.is_empty());
    assert!(
        found(p.colleague.clone(), "gioi han").await.is_empty(),
        "a private item stays private"
    );
    assert_eq!(
        found(p.teacher.clone(), "gioi han").await,
        ["Giới hạn của dãy số"],
        "but its author finds it"
    );

    // Filters and cursor pages.
    let page = app
        .get(
            "/api/v1/content/items?subject=toan&grade=10&topic=chuong+1&limit=1",
            Some(&p.teacher),
        )
        .await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 1);
    let next = page.body["next"].as_str().unwrap();
    let second = app
        .get(
            &format!("/api/v1/content/items?subject=toan&grade=10&limit=1&cursor={next}"),
            Some(&p.teacher),
        )
        .await;
    assert_ne!(second.body["items"][0]["id"], page.body["items"][0]["id"]);
    // Ratings order the best rated first.
    let rate = |token: &str, scope: &str, stars: i64| {
        let path = format!("/api/v1/content/items/{}/mark", ids[scope]);
        app.send(
            app.client
                .put(app.url(&path))
                .bearer_auth(token)
                .json(&json!({ "rating": stars, "bookmarked": true })),
        )
    };
    assert_eq!(rate(&p.colleague, "school", 5).await.status, 204);
    assert_eq!(rate(&p.colleague, "class", 2).await.status, 204);
    assert_eq!(rate(&p.colleague, "class", 9).await.status, 422);
    let marked = app
        .get("/api/v1/content/items?bookmarked=true", Some(&p.colleague))
        .await;
    assert_eq!(
        marked.body["items"].as_array().unwrap().len(),
        2,
        "{}",
        marked.text
    );
    let best = app
        .get("/api/v1/content/items?sort=best_rated", Some(&p.colleague))
        .await;
    assert_eq!(best.body["items"][0]["title"], "Đạo hàm và ứng dụng");
    assert_eq!(best.body["items"][0]["rating"], 5.0);
}

async fn classes_get_assignments_and_the_province_sees_usage(app: TestApp) {
    let p = people(&app).await;
    let shared = app
        .post(
            "/api/v1/content/items",
            Some(&p.teacher),
            lesson("Tập xác định của hàm số", "school", "Tìm tập xác định."),
        )
        .await;
    let private = app
        .post(
            "/api/v1/content/items",
            Some(&p.teacher),
            lesson("Ghi chú riêng", "private", "Nháp."),
        )
        .await;
    let class_path = format!("/api/v1/classes/{}/assignments", p.class);
    let refused = app
        .post(
            &class_path,
            Some(&p.teacher),
            json!({ "item_id": private.body["id"] }),
        )
        .await;
    assert_eq!(
        refused.body["errors"][0]["code"], "not_shared_with_class",
        "{}",
        refused.text
    );
    let due = chrono::Utc::now() - chrono::Duration::hours(1);
    let assigned = app
        .post(
            &class_path,
            Some(&p.teacher),
            json!({ "item_id": shared.body["id"], "due_at": due, "note": "Đọc trước buổi học" }),
        )
        .await;
    assert_eq!(assigned.status, 201, "{}", assigned.text);
    let id = assigned.body["id"].as_str().unwrap();
    assert_eq!(
        app.get(&class_path, Some(&p.other_school)).await.status,
        403,
        "another school's teacher"
    );

    let mine = app.get("/api/v1/me/assignments", Some(&p.student)).await;
    assert_eq!(mine.body.as_array().unwrap().len(), 1, "{}", mine.text);
    assert_eq!(
        mine.body[0]["assignment"]["title"],
        "Tập xác định của hàm số"
    );
    let before = app.get(&class_path, Some(&p.teacher)).await;
    assert_eq!(
        (
            before.body[0]["opened"].as_u64(),
            before.body[0]["students"][0]["overdue"].as_bool()
        ),
        (Some(0), Some(true))
    );
    for status in ["opened", "completed"] {
        let r = app
            .post(
                &format!("/api/v1/assignments/{id}/progress"),
                Some(&p.student),
                json!({ "status": status }),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
    }
    let after = app.get(&class_path, Some(&p.teacher)).await;
    assert_eq!(
        (
            after.body[0]["opened"].as_u64(),
            after.body[0]["completed"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(after.body[0]["students"][0]["overdue"], false);

    // Views and downloads are counted by day; the Sở sees them with the assignments.
    let item = format!(
        "/api/v1/content/items/{}",
        shared.body["id"].as_str().unwrap()
    );
    for _ in 0..3 {
        assert_eq!(app.get(&item, Some(&p.colleague)).await.status, 200);
    }
    let usage = app.get("/api/v1/content/usage", Some(&p.admin)).await;
    assert_eq!(usage.status, 200, "{}", usage.text);
    assert_eq!(
        (
            usage.body["totals"]["views"].as_i64(),
            usage.body["totals"]["assignments"].as_i64()
        ),
        (Some(3), Some(1))
    );
    assert_eq!(
        usage.body["top_items"][0]["title"],
        "Tập xác định của hàm số"
    );
    assert_eq!(usage.body["by_subject"]["toan"]["views"], 3);
    assert_eq!(usage.body["by_day"].as_array().unwrap().len(), 1);
    let least = usage.body["least_active_schools"][0]["name"]
        .as_str()
        .unwrap();
    assert_eq!(
        least, "Trường THPT Khác",
        "the school that neither publishes nor reuses comes first"
    );
    let xlsx = app
        .client
        .get(app.url("/api/v1/content/usage.xlsx"))
        .bearer_auth(&p.admin)
        .send()
        .await
        .unwrap();
    let bytes = xlsx.bytes().await.unwrap();
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).unwrap();
    use calamine::Reader;
    let sheet = book.worksheet_range("Học liệu dùng nhiều").unwrap();
    assert_eq!(sheet.rows().nth(1).unwrap()[2].to_string(), "3");
    assert_eq!(
        app.get("/api/v1/content/usage", Some(&p.teacher))
            .await
            .status,
        403
    );
}

async fn practice_sets_are_assigned_and_their_scores_show(app: TestApp) {
    let e = super::exams::exam_ready(&app, 1, "practice").await;
    let class_path = format!("/api/v1/classes/{}/assignments", e.class);
    let assigned = app
        .post(
            &class_path,
            Some(&e.teacher),
            json!({ "sitting_id": e.sitting }),
        )
        .await;
    assert_eq!(assigned.status, 201, "{}", assigned.text);
    let (_, token) = &e.students[0];
    let attempt = app
        .post(
            &format!("/api/v1/sittings/{}/attempts", e.sitting),
            Some(token),
            json!({}),
        )
        .await;
    let a = attempt.body["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/attempts/{a}/start"),
        Some(token),
        json!({ "device_id": "may-hoc-sinh-01" }),
    )
    .await;
    let submitted = app
        .post(
            &format!("/api/v1/attempts/{a}/submit"),
            Some(token),
            json!({ "device_id": "may-hoc-sinh-01" }),
        )
        .await;
    assert_eq!(submitted.status, 200, "{}", submitted.text);
    let progress = app.get(&class_path, Some(&e.teacher)).await;
    assert_eq!(
        progress.body[0]["students"][0]["best_score"], "0.00",
        "{}",
        progress.text
    );
    let mine = app.get("/api/v1/me/assignments", Some(token)).await;
    assert_eq!(mine.body[0]["best_score"], "0.00");
}
