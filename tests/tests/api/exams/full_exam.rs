//! A whole exam from the roster to the results, the statistics and the appeal export.
use super::*;

on_every_store!(a_full_exam_runs_from_roster_to_results,);

async fn a_full_exam_runs_from_roster_to_results(app: TestApp) {
    let e = exam_ready(&app, 4, "exam").await;
    // The roster arrives as a file: candidate number, login, room, extra minutes.
    let csv = "Số báo danh,Tên đăng nhập,Phòng,Cộng thêm (phút)\n290001,hs.00,Phòng 01,\n290002,hs.01,Phòng 01,15\n290003,hs.02,Phòng 01,\n290004,hs.03,Phòng 01,\n290005,khong.co,Phòng 01,\n";
    let import = |dry: bool, body: String| {
        app.send(
            app.client
                .post(app.url(&format!(
                    "/api/v1/sittings/{}/candidates/import?dry_run={dry}",
                    e.sitting
                )))
                .bearer_auth(&e.teacher)
                .header("content-type", "text/csv")
                .body(body),
        )
    };
    let rejected = import(false, csv.to_owned()).await;
    assert_eq!(rejected.status, 422, "{}", rejected.text);
    assert_eq!(rejected.body["rows"][4]["reason_code"], "user_not_found");
    assert_eq!(rejected.body["committed"], false);
    let good = csv.lines().take(5).collect::<Vec<_>>().join("\n");
    let imported = import(false, good).await;
    assert_eq!(
        (imported.status, imported.body["registered"].as_u64()),
        (200, Some(4)),
        "{}",
        imported.text
    );
    let attempts = lock_and_check_in(&app, &e).await;
    let relock = app
        .post(
            &format!("/api/v1/sittings/{}/lock", e.sitting),
            Some(&e.teacher),
            json!({}),
        )
        .await;
    assert_eq!(relock.body["code"], "sitting_locked");
    let candidates = app
        .get(
            &format!("/api/v1/sittings/{}/candidates", e.sitting),
            Some(&e.teacher),
        )
        .await;
    let codes: Vec<&str> = candidates
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes.iter().filter(|c| **c == e.codes[0]).count(),
        2,
        "codes balanced: {codes:?}"
    );
    assert!(
        codes.windows(2).all(|w| w[0] != w[1]),
        "neighbours differ: {codes:?}"
    );

    // Each candidate answers from the key of their own code, right for a known share.
    let mut keys = std::collections::HashMap::new();
    for code in &e.codes {
        let printed = app
            .get(
                &format!("/api/v1/papers/{}/codes/{code}", e.paper),
                Some(&e.teacher),
            )
            .await;
        keys.insert(code.clone(), printed.body["key"].clone());
    }
    let mut expected_totals = Vec::new();
    for (i, (_, token)) in e.students.iter().enumerate() {
        let started = start(&app, token, &attempts[i], DEVICE_A).await;
        let key = &keys[started["code"].as_str().unwrap()];
        // Candidate i gets the first 3*(i+1) Part I questions right and the rest wrong.
        let right = 3 * (i + 1);
        let mut answers = Vec::new();
        for q in 0..12 {
            let k = key["part1"][q].as_str().unwrap();
            let letter = if q < right {
                k.to_owned()
            } else {
                ["A", "B", "C", "D"]
                    .iter()
                    .find(|l| **l != k)
                    .unwrap()
                    .to_string()
            };
            answers.push(json!({ "slot": q, "value": letter }));
        }
        assert_eq!(
            save(
                &app,
                token,
                &attempts[i],
                DEVICE_A,
                1,
                Value::Array(answers)
            )
            .await
            .status,
            200
        );
        // Part II question 1 all right (1.0), Part III question 1 right (0.5).
        let tf = key["part2"][0].as_str().unwrap();
        let sa = key["part3"][0][0].as_str().unwrap();
        assert_eq!(
            save(
                &app,
                token,
                &attempts[i],
                DEVICE_A,
                2,
                json!([{ "slot": 12, "value": tf }, { "slot": 16, "value": sa }])
            )
            .await
            .status,
            200
        );
        expected_totals.push(25 * right as u32 + 100 + 50);
    }
    // Candidate 0's browser crashes: they come back on the same machine and carry on.
    let (_, crashed) = &e.students[0];
    let resumed = answers_of(&app, crashed, &attempts[0], DEVICE_A).await;
    assert_eq!(resumed["answers"].as_array().unwrap().len(), 14);
    assert_eq!(resumed["last_seq"], 2);
    for (i, (_, token)) in e.students.iter().enumerate().take(2) {
        let done = app
            .post(
                &format!("/api/v1/attempts/{}/submit", attempts[i]),
                Some(token),
                json!({ "device_id": DEVICE_A }),
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.text);
        assert_eq!(done.body["state"], "submitted");
    }
    // The others never submit: at the deadline (candidate 1 has 15 more minutes) the sweeper does.
    app.state.clock.advance(Duration::minutes(91));
    let swept = hocthi::exams::sweeper::sweep_once(&app.state)
        .await
        .unwrap();
    assert_eq!(swept.len(), 2);

    let results = app
        .get(
            &format!("/api/v1/sittings/{}/results", e.sitting),
            Some(&e.teacher),
        )
        .await;
    assert_eq!(results.status, 200, "{}", results.text);
    let totals: Vec<String> = results
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["score"]["total"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = expected_totals
        .iter()
        .map(|t| format!("{}.{:02}", t / 100, t % 100))
        .collect();
    assert_eq!(totals, expected);
    assert_eq!(results.body[2]["state"], "auto_submitted");

    // Released: the candidate sees their breakdown by part.
    let (_, token) = &e.students[3];
    assert_eq!(
        app.get(
            &format!("/api/v1/attempts/{}/result", attempts[3]),
            Some(token)
        )
        .await
        .status,
        409
    );
    let released = app
        .post(
            &format!("/api/v1/exams/{}/release", e.exam),
            Some(&e.teacher),
            json!({}),
        )
        .await;
    assert_eq!(released.status, 200, "{}", released.text);
    assert_eq!(released.body["items_updated"], 22);
    let result = app
        .get(
            &format!("/api/v1/attempts/{}/result", attempts[3]),
            Some(token),
        )
        .await;
    assert_eq!(result.status, 200, "{}", result.text);
    assert_eq!(
        (
            result.body["score"]["part1"].as_str(),
            result.body["score"]["part2"].as_str(),
            result.body["score"]["part3"].as_str()
        ),
        (Some("3.00"), Some("1.00"), Some("0.50"))
    );
    assert!(
        result.body["questions"][0]["key"].is_null(),
        "an exam does not show its key"
    );

    let stats = app
        .get(
            &format!("/api/v1/sittings/{}/statistics", e.sitting),
            Some(&e.teacher),
        )
        .await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    assert_eq!(stats.body["summary"]["count"], 4);
    let mean = expected_totals.iter().sum::<u32>() as f64 / 400.0;
    assert_eq!(
        stats.body["summary"]["mean"].as_f64().unwrap(),
        (mean * 100.0).round() / 100.0
    );
    assert_eq!(
        stats.body["distribution"]["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .sum::<u64>(),
        4
    );
    assert_eq!(stats.body["by_school"][0]["summary"]["count"], 4);
    let items = stats.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 22);
    // Part I question 1 (every candidate right) versus the last ones (only the best).
    let facilities: Vec<f64> = items
        .iter()
        .filter(|i| i["part"] == 2)
        .map(|i| i["figures"]["facility"].as_f64().unwrap())
        .collect();
    assert!(
        facilities.contains(&1.0) || facilities.contains(&0.0),
        "{facilities:?}"
    );
    let discriminating = items
        .iter()
        .filter(|i| i["figures"]["discrimination"].as_f64().unwrap() > 0.0)
        .count();
    assert!(discriminating > 0);
    let chosen: u64 = items
        .iter()
        .filter(|i| i["part"] == 1)
        .flat_map(|i| {
            i["options"]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_u64().unwrap())
        })
        .sum();
    assert_eq!(
        chosen,
        12 * 4,
        "every Part I answer counted under an option"
    );

    let svg = app
        .get(
            &format!("/api/v1/sittings/{}/distribution.svg", e.sitting),
            Some(&e.teacher),
        )
        .await;
    assert!(
        svg.text.starts_with("<svg") && svg.text.contains("Phổ điểm"),
        "{}",
        svg.text
    );
    let png = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/sittings/{}/distribution.png", e.sitting)))
                .bearer_auth(&e.teacher),
        )
        .await;
    assert_eq!(png.headers["content-type"], "image/png");
    let xlsx = app
        .client
        .get(app.url(&format!("/api/v1/sittings/{}/results.xlsx", e.sitting)))
        .bearer_auth(&e.teacher)
        .send()
        .await
        .unwrap();
    assert_eq!(xlsx.status(), 200);
    let bytes = xlsx.bytes().await.unwrap();
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).unwrap();
    use calamine::Reader;
    let sheet = book.worksheet_range("Kết quả").unwrap();
    let header: Vec<String> = sheet
        .rows()
        .nth(3)
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(header[1], "Số báo danh");
    assert_eq!(header[11], "Tổng điểm");
    let first = sheet.rows().nth(4).unwrap();
    assert_eq!(first[1].to_string(), "290001");
    assert_eq!(
        first[11].to_string(),
        format!("{}", expected_totals[0] as f64 / 100.0)
    );

    // The appeal export has the paper with its key, every save with its time, a valid chain.
    let appeal = app
        .get(
            &format!("/api/v1/attempts/{}/appeal", attempts[2]),
            Some(&e.teacher),
        )
        .await;
    assert_eq!(appeal.status, 200, "{}", appeal.text);
    assert_eq!(appeal.body["candidate_number"], "290003");
    assert_eq!(appeal.body["saves"].as_array().unwrap().len(), 14);
    assert!(appeal.body["saves"][0]["saved_at"].is_string());
    assert!(appeal.body["paper"]["key"]["part1"].is_array());
    assert_eq!(appeal.body["chain"]["valid"], true);
    assert!(
        appeal.body["audit"].as_array().unwrap().is_empty()
            || appeal.body["audit"][0]["hash"].is_string()
    );

    // Item statistics flowed back to the bank.
    let frozen = app
        .get(&format!("/api/v1/papers/{}", e.paper), Some(&e.teacher))
        .await;
    let item = frozen.body["items"][0]["item_id"].as_str().unwrap();
    let item_stats = app
        .get(
            &format!("/api/v1/items/{item}/statistics"),
            Some(&e.teacher),
        )
        .await;
    assert_eq!(item_stats.status, 200, "{}", item_stats.text);
    assert_eq!(item_stats.body[0]["responses"], 4);
    // Its answer spread tells its key: only someone who may read the item sees it.
    let elsewhere = app.create_school(&e.admin, "THPT-XA", "THPT Xa").await;
    app.create_user(&e.admin, "gv.xa", &["teacher"], Some(elsewhere))
        .await;
    let stranger = app.token("gv.xa", USER_PASSWORD).await;
    let hidden = app
        .get(&format!("/api/v1/items/{item}/statistics"), Some(&stranger))
        .await;
    assert_eq!(hidden.status, 404, "{}", hidden.text);

    // A key correction, tried first: Part I question 12 of the first code becomes the answer
    // every candidate of that code gave.
    let code = e.codes[0].clone();
    let given = appeal_answer(&app, &e, &attempts, &code).await;
    let dry = app.post(&format!("/api/v1/sittings/{}/key-corrections", e.sitting), Some(&e.teacher),
        json!({ "dry_run": true, "corrections": [{ "code": code, "part": 1, "number": 12, "key": given }] })).await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    let changes = dry.body["changes"].as_array().unwrap().clone();
    assert_eq!(
        changes.len(),
        2,
        "both candidates of code {code} gain 0.25: {}",
        dry.text
    );
    let unchanged = app
        .get(
            &format!("/api/v1/sittings/{}/results", e.sitting),
            Some(&e.teacher),
        )
        .await;
    assert_eq!(unchanged.body, results.body, "a dry run changes nothing");
    let applied = app.post(&format!("/api/v1/sittings/{}/key-corrections", e.sitting), Some(&e.teacher),
        json!({ "dry_run": false, "corrections": [{ "code": code, "part": 1, "number": 12, "key": given }] })).await;
    assert_eq!(applied.status, 200, "{}", applied.text);
    let after = app
        .get(
            &format!("/api/v1/sittings/{}/results", e.sitting),
            Some(&e.teacher),
        )
        .await;
    for change in &changes {
        let row = after
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["attempt_id"] == change["attempt_id"])
            .unwrap();
        assert_eq!(row["score"]["total"], change["after"]);
        assert_ne!(change["after"], change["before"]);
    }
}
