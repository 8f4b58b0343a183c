//! Schools, classes and people: roster import from CSV and Excel, Vietnamese names kept
//! exactly and found without diacritics.
use hocthi_tests::{TestApp, on_every_store};
use serde_json::Value;

on_every_store!(
    csv_roster_imports_with_a_report,
    a_bad_row_stops_the_whole_file_unless_asked,
    xlsx_roster_imports,
    broken_files_are_refused_cleanly,
    names_round_trip_and_search_ignores_diacritics,
);

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

async fn setup(app: &TestApp) -> (String, uuid::Uuid) {
    let admin = app.admin_token().await;
    let school = app
        .create_school(&admin, "THPT-CVA", "Trường THPT Chu Văn An")
        .await;
    app.create_class(&admin, school, "12A1").await;
    app.create_class(&admin, school, "12A2").await;
    (admin, school)
}

async fn import(
    app: &TestApp,
    token: &str,
    school: uuid::Uuid,
    query: &str,
    content_type: &str,
    body: Vec<u8>,
) -> hocthi_tests::Reply {
    app.send(
        app.client
            .post(app.url(&format!("/api/v1/schools/{school}/users/import{query}")))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body),
    )
    .await
}

fn statuses(reply: &hocthi_tests::Reply) -> Vec<(u64, String, Option<String>)> {
    reply.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap(),
                r["status"].as_str().unwrap().to_owned(),
                r["reason_code"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

async fn count_users(app: &TestApp, token: &str, school: uuid::Uuid) -> usize {
    app.get(
        &format!("/api/v1/users?school_id={school}&limit=500"),
        Some(token),
    )
    .await
    .body["items"]
        .as_array()
        .unwrap()
        .len()
}

async fn csv_roster_imports_with_a_report(app: TestApp) {
    let (admin, school) = setup(&app).await;
    let file = "Tên đăng nhập,Họ và tên,Vai trò,Lớp,Ngày sinh,Mật khẩu\n\
                hs.an,Nguyễn Văn An,học sinh,12A1,07/03/2008,\n\
                hs.binh,Trần Thị Bình,Học sinh,12a2,2008-11-30,mat-khau-rieng\n\
                gv.cuong,Lê Văn Cường,giáo viên,,,\n";
    let dry = import(
        &app,
        &admin,
        school,
        "?dry_run=true",
        "text/csv",
        file.into(),
    )
    .await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    assert_eq!(
        statuses(&dry),
        [
            (2, "would_create".into(), None),
            (3, "would_create".into(), None),
            (4, "would_create".into(), None)
        ]
    );
    assert_eq!(
        count_users(&app, &admin, school).await,
        0,
        "a dry run writes nothing"
    );

    let done = import(
        &app,
        &admin,
        school,
        "",
        "text/csv; charset=utf-8",
        file.into(),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(
        (
            done.body["committed"].as_bool(),
            done.body["created"].as_u64()
        ),
        (Some(true), Some(3))
    );
    let rows = done.body["rows"].as_array().unwrap();
    assert!(
        rows[0]["initial_password"].as_str().is_some(),
        "a generated password is shown once"
    );
    assert!(
        rows[1]["initial_password"].is_null(),
        "a password given in the file is not echoed"
    );
    let password = rows[0]["initial_password"].as_str().unwrap();
    let student = app.token("hs.an", password).await;
    let me = app.get("/api/v1/me", Some(&student)).await.body;
    assert_eq!(me["full_name"], "Nguyễn Văn An");
    assert_eq!(me["birth_date"], "2008-03-07");
    assert_eq!(me["roles"], serde_json::json!(["student"]));
    assert!(me["class_id"].is_string(), "the class is matched by name");
    assert!(!app.token("hs.binh", "mat-khau-rieng").await.is_empty());

    // Importing the same file again skips every row: the logins are taken.
    let again = import(
        &app,
        &admin,
        school,
        "?keep_valid=true",
        "text/csv",
        file.into(),
    )
    .await;
    assert_eq!(again.status, 200);
    assert!(
        statuses(&again)
            .iter()
            .all(|(_, s, r)| s == "skipped" && r.as_deref() == Some("login_taken"))
    );
}

async fn a_bad_row_stops_the_whole_file_unless_asked(app: TestApp) {
    let (admin, school) = setup(&app).await;
    let file = "login,full_name,role,class,birth_date\n\
                hs.dung,Phạm Thị Dung,student,12A1,01/01/2008\n\
                hs.em,,student,12A1,\n\
                hs.giang,Hoàng Giang,học sinh,12B9,\n\
                hs.ha,Đỗ Thu Hà,hiệu trưởng,,\n\
                hs.dung,Phạm Dung,student,12A1,\n\
                hs.khanh,Vũ Khánh,student,12A1,31/02/2008\n\
                hs.lan,Ngô Lan,school_admin,,\n\
                Ngô Lan,Ngô Lan,student,,\n";
    let rejected = import(&app, &admin, school, "", "text/csv", file.into()).await;
    assert_eq!(rejected.status, 422, "{}", rejected.text);
    assert_eq!(rejected.body["code"], "import_rejected");
    assert_eq!(rejected.body["committed"], false);
    let want = [
        (2, "would_create", None),
        (3, "skipped", Some("required")),
        (4, "skipped", Some("unknown_class")),
        (5, "skipped", Some("invalid_role")),
        (6, "skipped", Some("duplicate_in_file")),
        (7, "skipped", Some("invalid_date")),
        (8, "would_create", None),
        (9, "skipped", Some("invalid_login")),
    ];
    let got = statuses(&rejected);
    for ((row, status, reason), (got_row, got_status, got_reason)) in want.iter().zip(&got) {
        assert_eq!(
            (*row as u64, *status, reason.map(str::to_owned)),
            (*got_row, got_status.as_str(), got_reason.clone()),
            "row {row}"
        );
    }
    assert_eq!(
        count_users(&app, &admin, school).await,
        0,
        "nothing half-written"
    );

    let kept = import(
        &app,
        &admin,
        school,
        "?keep_valid=true",
        "text/csv",
        file.into(),
    )
    .await;
    assert_eq!(kept.status, 200, "{}", kept.text);
    assert_eq!(kept.body["created"], 2);
    assert_eq!(kept.body["skipped"], 6);
    assert_eq!(count_users(&app, &admin, school).await, 2);
}

fn xlsx_file(rows: &[[&str; 5]]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            if r > 0 && c == 4 && !cell.is_empty() {
                // A real date cell, as Excel stores it.
                let date = chrono::NaiveDate::parse_from_str(cell, "%d/%m/%Y").unwrap();
                let excel = rust_xlsxwriter::ExcelDateTime::from_ymd(
                    date.format("%Y").to_string().parse().unwrap(),
                    date.format("%m").to_string().parse().unwrap(),
                    date.format("%d").to_string().parse().unwrap(),
                )
                .unwrap();
                sheet
                    .write_datetime_with_format(
                        r as u32,
                        c as u16,
                        &excel,
                        &rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy"),
                    )
                    .unwrap();
            } else {
                sheet.write_string(r as u32, c as u16, *cell).unwrap();
            }
        }
    }
    book.save_to_buffer().unwrap()
}

async fn xlsx_roster_imports(app: TestApp) {
    let (admin, school) = setup(&app).await;
    let file = xlsx_file(&[
        ["Tên đăng nhập", "Họ và tên", "Vai trò", "Lớp", "Ngày sinh"],
        [
            "hs.minh",
            "Bùi Quang Minh",
            "học sinh",
            "12A1",
            "15/09/2008",
        ],
        ["gv.nga", "Đặng Thị Nga", "giáo viên", "", ""],
        ["hs.oanh", "", "học sinh", "12A1", ""],
    ]);
    let rejected = import(&app, &admin, school, "", XLSX, file.clone()).await;
    assert_eq!(rejected.status, 422, "{}", rejected.text);
    assert_eq!(
        statuses(&rejected)[2],
        (4, "skipped".into(), Some("required".into()))
    );
    let kept = import(&app, &admin, school, "?keep_valid=true", XLSX, file).await;
    assert_eq!(kept.status, 200, "{}", kept.text);
    assert_eq!(kept.body["created"], 2);
    let password = kept.body["rows"][0]["initial_password"].as_str().unwrap();
    let token = app.token("hs.minh", password).await;
    let me = app.get("/api/v1/me", Some(&token)).await.body;
    assert_eq!(
        (me["full_name"].as_str(), me["birth_date"].as_str()),
        (Some("Bùi Quang Minh"), Some("2008-09-15"))
    );
}

async fn broken_files_are_refused_cleanly(app: TestApp) {
    let (admin, school) = setup(&app).await;
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "a zip that is not a workbook",
            XLSX,
            b"PK\x03\x04garbage".to_vec(),
            422,
            "validation_failed",
        ),
        (
            "an image",
            "image/png",
            b"\x89PNG\r\n".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "a header without data",
            "text/csv",
            b"login,full_name,role\n".to_vec(),
            422,
            "validation_failed",
        ),
        (
            "required columns missing",
            "text/csv",
            b"login,ho_ten_sai\nx,y\n".to_vec(),
            422,
            "validation_failed",
        ),
        (
            "legacy encoding",
            "text/csv",
            b"login,full_name,role\nhs,Nguy\xean,student\n".to_vec(),
            422,
            "validation_failed",
        ),
        (
            "a zip bomb posing as a workbook",
            XLSX,
            zip_bomb(),
            413,
            "archive_too_large",
        ),
        (
            "more than 10 MiB",
            "text/csv",
            vec![b'a'; 11 * 1024 * 1024],
            413,
            "payload_too_large",
        ),
    ];
    for (what, content_type, body, status, code) in cases {
        let reply = import(&app, &admin, school, "", content_type, body).await;
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (status, Some(code)),
            "{what}: {}",
            &reply.text[..reply.text.len().min(300)]
        );
    }
    assert_eq!(count_users(&app, &admin, school).await, 0);
}

async fn names_round_trip_and_search_ignores_diacritics(app: TestApp) {
    let (admin, school) = setup(&app).await;
    // The same name typed with combining marks (as some keyboards do) is stored precomposed.
    let decomposed = "Nguye\u{302}\u{303}n Thi\u{323} \u{110}a\u{300}o";
    let created = app
        .post(
            "/api/v1/users",
            Some(&admin),
            serde_json::json!({ "login": "hs.dao", "full_name": decomposed, "roles": ["student"], "school_id": school }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["user"]["full_name"], "Nguyễn Thị Đào");
    for query in ["nguyen thi dao", "NGUYỄN THỊ ĐÀO", "dao", "Đào"] {
        let found = app
            .get(
                &format!("/api/v1/users?school_id={school}&q={}", urlencode(query)),
                Some(&admin),
            )
            .await;
        let names: Vec<&str> = found.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["full_name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Nguyễn Thị Đào"], "query {query:?}");
    }
    let none = app
        .get(
            &format!("/api/v1/users?school_id={school}&q=binh"),
            Some(&admin),
        )
        .await;
    assert_eq!(none.body["items"], Value::Array(vec![]));
    let schools = app
        .get("/api/v1/schools?q=chu%20van%20an", Some(&admin))
        .await;
    assert_eq!(schools.body["items"][0]["name"], "Trường THPT Chu Văn An");
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// 200 MiB of zeros in a few hundred KiB: refused before any parser unpacks it.
pub fn zip_bomb() -> Vec<u8> {
    use std::io::Write;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer
        .start_file(
            "xl/worksheets/sheet1.xml",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
    let chunk = vec![0u8; 1024 * 1024];
    for _ in 0..200 {
        writer.write_all(&chunk).unwrap();
    }
    writer.finish().unwrap().into_inner()
}
