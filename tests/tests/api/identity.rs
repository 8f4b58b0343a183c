//! ID-card numbers at rest and check-in with the chip ID card's QR code.
use hocthi_tests::{TestApp, on_every_store};
use serde_json::{Value, json};

on_every_store!(
    id_numbers_are_unreadable_at_rest_and_every_read_is_audited,
    a_sealed_number_opens_only_in_its_own_row,
    a_person_is_offboarded_keeping_what_exam_law_requires,
    the_id_card_qr_checks_a_candidate_in_field_by_field,
    consent_comes_first_from_a_guardian_under_16_and_data_can_be_exported,
    photos_are_sealed_seen_only_by_the_room_and_deleted_after_retention,
);

const FIRST: &str = "001208012345";
const SECOND: &str = "001308054321";

/// The exam with its two candidates registered and locked, not checked in; their ID numbers set.
async fn ready(app: &TestApp) -> (super::exams::Exam, Vec<Value>) {
    let e = super::exams::exam_ready(app, 2, "exam").await;
    let registered = app
        .post(
            &format!("/api/v1/sittings/{}/candidates", e.sitting),
            Some(&e.teacher),
            json!({ "class_ids": [e.class] }),
        )
        .await;
    assert_eq!(registered.status, 200, "{}", registered.text);
    let locked = app
        .post(
            &format!("/api/v1/sittings/{}/lock", e.sitting),
            Some(&e.teacher),
            json!({}),
        )
        .await;
    assert_eq!(locked.status, 200, "{}", locked.text);
    let list = app
        .get(
            &format!("/api/v1/sittings/{}/candidates", e.sitting),
            Some(&e.teacher),
        )
        .await;
    let candidates = list.body.as_array().unwrap().clone();
    // The number is kept only under the student's consent to the card's use.
    for (_, student) in &e.students {
        let given = app
            .post("/api/v1/me/consents", Some(student), json!({ "purposes": ["id_card"], "text_version": "2026-11-v1", "accepted": true, "exam_id": e.exam }))
            .await;
        assert_eq!(given.status, 201, "{}", given.text);
    }
    for (c, number) in candidates.iter().zip([FIRST, SECOND]) {
        let set = app
            .send(
                app.client
                    .put(app.url(&format!(
                        "/api/v1/users/{}/id-number",
                        c["user_id"].as_str().unwrap()
                    )))
                    .bearer_auth(&e.admin)
                    .json(&json!({ "number": number })),
            )
            .await;
        assert_eq!(set.status, 204, "{}", set.text);
    }
    (e, candidates)
}

async fn id_numbers_are_unreadable_at_rest_and_every_read_is_audited(app: TestApp) {
    let (e, candidates) = ready(&app).await;
    let first = candidates[0]["user_id"].as_str().unwrap();
    let path = format!("/api/v1/users/{first}/id-number");
    let put = |number: &'static str| {
        app.send(
            app.client
                .put(app.url(&path))
                .bearer_auth(&e.admin)
                .json(&json!({ "number": number })),
        )
    };
    assert_eq!(
        put("003208012345").await.body["errors"][0]["code"],
        "invalid_id_number",
        "unknown province code"
    );
    assert_eq!(
        put("001209012345").await.body["errors"][0]["code"],
        "id_number_birth_year_differs"
    );
    assert_eq!(put(SECOND).await.body["code"], "id_number_taken");

    // The rows hold neither number in the clear.
    use sea_orm::EntityTrait;
    let rows = hocthi::entities::identity_number::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        let raw = format!("{row:?}");
        assert!(!raw.contains(FIRST) && !raw.contains(SECOND), "{raw}");
    }
    let shown = app.get(&path, Some(&e.admin)).await;
    assert_eq!(
        (shown.status, shown.body["number"].as_str()),
        (200, Some(FIRST)),
        "{}",
        shown.text
    );
    assert_eq!(app.get(&path, Some(&e.teacher)).await.status, 403);
    let log = app
        .get(
            &format!("/api/v1/audit/events?target_type=user&target_id={first}"),
            Some(&e.admin),
        )
        .await;
    let actions: Vec<&str> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"user.id_number_set") && actions.contains(&"user.id_number_read"),
        "{actions:?}"
    );
    assert!(
        !log.text.contains(FIRST),
        "the audit log never holds the number"
    );
}

/// docs/SECURITY.md, finding 12: someone with database access who copies one person's sealed
/// number into another's row gets nothing to read; values sealed before they were bound to
/// their rows are sealed again, bound, at start-up.
async fn a_sealed_number_opens_only_in_its_own_row(app: TestApp) {
    use sea_orm::EntityTrait;
    let (e, candidates) = ready(&app).await;
    let first = candidates[0]["user_id"].as_str().unwrap();
    let second = candidates[1]["user_id"].as_str().unwrap();
    let path = format!("/api/v1/users/{first}/id-number");
    let rows = hocthi::entities::identity_number::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(rows.iter().all(|r| r.number_sealed.starts_with("v2.")));
    let theirs = rows
        .iter()
        .find(|r| r.user_id.to_string() == second)
        .unwrap()
        .number_sealed
        .clone();
    set_sealed(&app, first, &theirs).await;
    let swapped = app.get(&path, Some(&e.admin)).await;
    assert_eq!(
        (swapped.status, swapped.body["code"].as_str()),
        (409, Some("personal_data_unreadable")),
        "{}",
        swapped.text
    );
    assert!(!swapped.text.contains(SECOND));

    // A value sealed the old way (no row bound) is sealed again for its row at start-up.
    let plain = app
        .state
        .vault
        .open(
            &theirs,
            &hocthi::identity::number_row(second.parse().unwrap()),
        )
        .unwrap();
    assert_eq!(plain, SECOND.as_bytes());
    let legacy = legacy_seal(&app, &plain);
    set_sealed(&app, second, &legacy).await;
    let resealed = hocthi::identity::reseal_legacy(&app.state.db, &app.state.vault)
        .await
        .unwrap();
    assert_eq!(resealed, 1);
    let shown = app
        .get(&format!("/api/v1/users/{second}/id-number"), Some(&e.admin))
        .await;
    assert_eq!(
        (shown.status, shown.body["number"].as_str()),
        (200, Some(SECOND)),
        "{}",
        shown.text
    );
}

/// Writes a sealed value into a person's row, as someone with database access could.
async fn set_sealed(app: &TestApp, user: &str, sealed: &str) {
    use hocthi::entities::identity_number::{Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let user: uuid::Uuid = user.parse().unwrap();
    let changed = Entity::update_many()
        .col_expr(Column::NumberSealed, Expr::value(sealed))
        .filter(Column::UserId.eq(user))
        .exec(&app.state.db)
        .await
        .unwrap();
    assert_eq!(changed.rows_affected, 1);
}

/// A value sealed as before values were bound: AES-256-GCM with no associated data, the vault's
/// sealing key derived from the data folder's PII key as the vault derives it.
fn legacy_seal(app: &TestApp, plain: &[u8]) -> String {
    use aws_lc_rs::{
        aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
        hmac,
    };
    use base64::Engine;
    let secret = std::fs::read(app.data_dir().join("keys").join("pii.key")).unwrap();
    let master = hmac::Key::new(hmac::HMAC_SHA256, &secret);
    let key = hmac::sign(&master, b"hocthi pii sealing v1");
    let sealing = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key.as_ref()).unwrap());
    let nonce = [7u8; NONCE_LEN];
    let mut data = plain.to_vec();
    sealing
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
        .unwrap();
    let mut out = nonce.to_vec();
    out.extend(data);
    base64::engine::general_purpose::STANDARD.encode(out)
}

async fn the_id_card_qr_checks_a_candidate_in_field_by_field(app: TestApp) {
    let (e, candidates) = ready(&app).await;
    let first = &candidates[0];
    let path = format!(
        "/api/v1/candidates/{}/check-in/id-card",
        first["id"].as_str().unwrap()
    );
    let name = first["full_name"].as_str().unwrap().to_owned();
    let scan = |qr: String| app.post(&path, Some(&e.proctor), json!({ "qr": qr }));
    let line = |number: &str, name: &str, born: &str| {
        format!("{number}||{name}|{born}|Nam|Số 1 Tràng Tiền, Hà Nội|01012022")
    };

    // Consent withdrawn: the number is erased with it, and the card is not read at all.
    let (_, student) = &e.students[0];
    let mine = app.get("/api/v1/me/consents", Some(student)).await;
    let consent = mine.body[0]["id"].as_str().unwrap().to_owned();
    let withdrawn = app
        .post(
            &format!("/api/v1/me/consents/{consent}/withdraw"),
            Some(student),
            json!({}),
        )
        .await;
    assert_eq!(withdrawn.status, 200, "{}", withdrawn.text);
    let number_path = format!(
        "/api/v1/users/{}/id-number",
        first["user_id"].as_str().unwrap()
    );
    assert_eq!(
        app.get(&number_path, Some(&e.admin)).await.body["code"],
        "id_number_not_found",
        "erased with the consent"
    );
    let refused = scan(line(FIRST, &name, "01052008")).await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (409, Some("no_consent_for_id_card")),
        "{}",
        refused.text
    );
    let set_number = || {
        app.send(
            app.client
                .put(app.url(&number_path))
                .bearer_auth(&e.admin)
                .json(&json!({ "number": FIRST })),
        )
    };
    let without = set_number().await;
    assert_eq!(
        (without.status, without.body["code"].as_str()),
        (409, Some("no_consent_for_id_card")),
        "not stored without consent: {}",
        without.text
    );
    let given = app
        .post("/api/v1/me/consents", Some(student), json!({ "purposes": ["id_card"], "text_version": "2026-11-v1", "accepted": true, "exam_id": e.exam }))
        .await;
    assert_eq!(given.status, 201, "{}", given.text);
    assert_eq!(set_number().await.status, 204);

    let malformed = scan("0012080123".into()).await;
    assert_eq!(
        (
            malformed.status,
            malformed.body["errors"][0]["code"].as_str()
        ),
        (422, Some("malformed_qr")),
        "{}",
        malformed.text
    );
    let invalid = scan(line("003208012345", &name, "01052008")).await;
    assert_eq!(invalid.body["errors"][0]["code"], "invalid_id_number");
    let theirs = scan(line(SECOND, &name, "01052008")).await;
    assert_eq!(
        (theirs.status, theirs.body["code"].as_str()),
        (409, Some("id_belongs_to_another_candidate"))
    );
    for (qr, field) in [
        (line("001208099999", &name, "01052008"), "id_number"),
        (line(FIRST, "Học Sinh Số 99", "01052008"), "full_name"),
        (line(FIRST, &name, "02052008"), "birth_date"),
    ] {
        let reply = scan(qr).await;
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (422, Some("id_card_mismatch")),
            "{}",
            reply.text
        );
        let fields: Vec<&str> = reply.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, [field], "exactly the field that differs");
    }
    let reports = app
        .get(
            &format!("/api/v1/rooms/{}/incident-reports", e.room),
            Some(&e.proctor),
        )
        .await;
    assert_eq!(
        reports.body.as_array().unwrap().len(),
        4,
        "each mismatch is written up: {}",
        reports.text
    );
    assert!(
        !reports.text.contains(FIRST),
        "no ID number in the incident records"
    );

    // An organiser who is not the room's proctor learns only that the card does not match:
    // not which field, nor that the number is another candidate's.
    let organiser = |qr: String| app.post(&path, Some(&e.teacher), json!({ "qr": qr }));
    for qr in [
        line(SECOND, &name, "01052008"),
        line(FIRST, &name, "02052008"),
    ] {
        let reply = organiser(qr).await;
        assert_eq!(reply.status, 422, "{}", reply.text);
        assert_eq!(reply.body["code"], "id_card_mismatch");
        assert!(reply.body["errors"].is_null(), "{}", reply.text);
    }

    // The card matches: name read without diacritics or case.
    let upper = crate_upper(&name);
    let ok = scan(line(FIRST, &upper, "01052008")).await;
    assert_eq!(ok.status, 204, "{}", ok.text);
    let list = app
        .get(
            &format!("/api/v1/sittings/{}/candidates", e.sitting),
            Some(&e.teacher),
        )
        .await;
    assert_eq!(list.body[0]["checked_in"], true);
    assert_eq!(
        scan(line(FIRST, &name, "01052008")).await.body["code"],
        "already_checked_in"
    );

    // A proctor checks a room, not a province: past 120 checks in ten minutes, 429.
    let mut last = None;
    for _ in 0..120 {
        last = Some(scan("0012080123".into()).await);
        if last.as_ref().is_some_and(|r| r.status == 429) {
            break;
        }
    }
    let last = last.unwrap();
    assert_eq!(last.status, 429, "{}", last.text);
    assert_eq!(last.body["code"], "too_many_id_card_checks");
}

/// "Học Sinh Số 00" as a scanner in capitals without diacritics might type it.
fn crate_upper(name: &str) -> String {
    hocthi::text::fold(name).to_uppercase()
}

async fn consent_comes_first_from_a_guardian_under_16_and_data_can_be_exported(app: TestApp) {
    let (e, candidates) = ready(&app).await;
    let text = app
        .get("/api/v1/consent/text", Some(&e.students[0].1))
        .await;
    assert!(
        text.body["vi"].as_str().unwrap().contains("nhạy cảm"),
        "the text says photos are sensitive"
    );
    assert_eq!(text.body["purposes"][1]["sensitive"], true);
    let version = text.body["version"].as_str().unwrap().to_owned();

    // A student of 13: only a legal representative consents.
    let created = app
        .post("/api/v1/users", Some(&e.admin), json!({ "login": "hs.lop7", "password": hocthi_tests::USER_PASSWORD,
            "full_name": "Phạm Minh Khang", "roles": ["student"], "school_id": e.school, "birth_date": "2013-09-02" }))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let young = app.token("hs.lop7", hocthi_tests::USER_PASSWORD).await;
    let consent = |guardian: Value, accepted: bool| {
        app.post("/api/v1/me/consents", Some(&young), json!({ "purposes": ["id_card", "photo"], "text_version": version, "accepted": accepted, "guardian": guardian }))
    };
    assert_eq!(
        consent(Value::Null, true).await.body["errors"][0]["code"],
        "guardian_required"
    );
    assert_eq!(
        consent(
            json!({ "full_name": "Phạm Thu Trang", "relation": "mẹ" }),
            false
        )
        .await
        .body["errors"][0]["code"],
        "consent_not_given"
    );
    let given = consent(
        json!({ "full_name": "Phạm Thu Trang", "relation": "mẹ" }),
        true,
    )
    .await;
    assert_eq!(
        (given.status, given.body["guardian_relation"].as_str()),
        (201, Some("mẹ")),
        "{}",
        given.text
    );
    // A guardian's consent counts once the school has verified it (here: a signed form).
    let young_id = created.body["user"]["id"].as_str().unwrap();
    let young_number = || {
        app.send(
            app.client
                .put(app.url(&format!("/api/v1/users/{young_id}/id-number")))
                .bearer_auth(&e.admin)
                .json(&json!({ "number": "001213012345" })),
        )
    };
    let pending = young_number().await;
    assert_eq!(
        (pending.status, pending.body["code"].as_str()),
        (409, Some("no_consent_for_id_card")),
        "not before the guardian is verified: {}",
        pending.text
    );
    let verify_path = format!(
        "/api/v1/users/{young_id}/consents/{}/verify-guardian",
        given.body["id"].as_str().unwrap()
    );
    let verify = async |token: &str, method: &str| {
        app.post(&verify_path, Some(token), json!({ "method": method }))
            .await
    };
    assert_eq!(verify(&e.teacher, "signed_form").await.status, 403);
    assert_eq!(
        verify(&e.admin, "a nod").await.body["errors"][0]["code"],
        "invalid"
    );
    let verified = verify(&e.admin, "signed_form").await;
    assert_eq!(
        (
            verified.status,
            verified.body["guardian_verification"].as_str()
        ),
        (200, Some("signed_form")),
        "{}",
        verified.text
    );
    assert!(verified.body["guardian_verified_at"].is_string());
    assert_eq!(
        young_number().await.status,
        204,
        "verified: the number is kept"
    );
    let outdated = app
        .post(
            "/api/v1/me/consents",
            Some(&young),
            json!({ "purposes": ["id_card"], "text_version": "2020-01", "accepted": true,
        "guardian": { "full_name": "Phạm Thu Trang", "relation": "mẹ" } }),
        )
        .await;
    assert_eq!(outdated.body["errors"][0]["code"], "consent_text_outdated");

    // Withdrawal is honoured: the card is no longer read for that candidate.
    let (_, student) = &e.students[0];
    let mine = app
        .post(
            "/api/v1/me/consents",
            Some(student),
            json!({ "purposes": ["id_card"], "text_version": version, "accepted": true }),
        )
        .await;
    assert_eq!(mine.status, 201, "{}", mine.text);
    // Both standing consents (this one and the exam's) are withdrawn.
    let standing = app.get("/api/v1/me/consents", Some(student)).await;
    for consent in standing.body.as_array().unwrap() {
        let id = consent["id"].as_str().unwrap();
        let withdrawn = app
            .post(
                &format!("/api/v1/me/consents/{id}/withdraw"),
                Some(student),
                json!({}),
            )
            .await;
        assert!(
            withdrawn.body["withdrawn_at"].is_string(),
            "{}",
            withdrawn.text
        );
    }
    let scan = app
        .post(&format!("/api/v1/candidates/{}/check-in/id-card", candidates[0]["id"].as_str().unwrap()), Some(&e.proctor),
            json!({ "qr": format!("{FIRST}||{}|01052008|Nam|x|y", candidates[0]["full_name"].as_str().unwrap()) }))
        .await;
    assert_eq!(scan.body["code"], "no_consent_for_id_card");
    // Consent given again, the school records the number again.
    let again = app
        .post(
            "/api/v1/me/consents",
            Some(student),
            json!({ "purposes": ["id_card"], "text_version": version, "accepted": true }),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.text);
    let user = candidates[0]["user_id"].as_str().unwrap();
    let set = app
        .send(
            app.client
                .put(app.url(&format!("/api/v1/users/{user}/id-number")))
                .bearer_auth(&e.admin)
                .json(&json!({ "number": FIRST })),
        )
        .await;
    assert_eq!(set.status, 204, "{}", set.text);

    // The student exports what is held about them. The ID number is masked until the session
    // steps up with the password typed again; reading it plain is audited.
    let masked = app.get("/api/v1/me/personal-data", Some(student)).await;
    assert_eq!(masked.status, 200, "{}", masked.text);
    assert_eq!(masked.body["id_number"], "••••••••2345");
    assert_eq!(masked.body["id_number_masked"], true);
    let wrong = app
        .post(
            "/api/v1/me/step-up",
            Some(student),
            json!({ "password": "không phải mật khẩu" }),
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    let stepped = app
        .post(
            "/api/v1/me/step-up",
            Some(student),
            json!({ "password": hocthi_tests::USER_PASSWORD }),
        )
        .await;
    assert_eq!(stepped.status, 200, "{}", stepped.text);
    assert!(stepped.body["valid_until"].is_string(), "{}", stepped.text);
    let export = app.get("/api/v1/me/personal-data", Some(student)).await;
    assert_eq!(export.status, 200, "{}", export.text);
    assert_eq!(export.body["id_number"], FIRST);
    assert_eq!(export.body["id_number_masked"], false);
    let kept: Vec<bool> = export.body["consents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["withdrawn_at"].is_string())
        .collect();
    assert_eq!(
        kept.iter().filter(|w| **w).count(),
        2,
        "the withdrawn consents stay on record: {kept:?}"
    );
    assert_eq!(
        export.body["candidacies"][0]["number"],
        candidates[0]["number"]
    );
    assert_eq!(export.body["attempts"].as_array().unwrap().len(), 1);
    let user_id = candidates[0]["user_id"].as_str().unwrap();
    let log = app
        .get(
            &format!("/api/v1/audit/events?target_type=user&target_id={user_id}"),
            Some(&e.admin),
        )
        .await;
    let reads = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["action"] == "user.id_number_read")
        .count();
    assert_eq!(reads, 1, "{}", log.text);
}

async fn photos_are_sealed_seen_only_by_the_room_and_deleted_after_retention(app: TestApp) {
    let (e, candidates) = ready(&app).await;
    let app = &app;
    let attempt = candidates[0]["attempt_id"].as_str().unwrap().to_owned();
    let (_, student) = &e.students[0];
    let image = hocthi::exams::chart::png(&[1, 2, 3]);
    let ask = |token: String, kind: &'static str| {
        let path = format!("/api/v1/attempts/{attempt}/photos");
        let size = image.len();
        async move {
            app.post(
                &path,
                Some(&token),
                json!({ "kind": kind, "content_type": "image/png", "size": size }),
            )
            .await
        }
    };
    assert_eq!(
        ask(e.proctor.clone(), "check_in").await.body["code"],
        "no_consent_for_photos"
    );
    let given = app
        .post(
            "/api/v1/me/consents",
            Some(student),
            json!({ "purposes": ["photo"], "text_version": "2026-11-v1", "accepted": true }),
        )
        .await;
    assert_eq!(given.status, 201, "{}", given.text);
    assert_eq!(
        ask(e.students[1].1.clone(), "snapshot").await.status,
        404,
        "not another candidate's attempt"
    );
    let ticket = ask(e.proctor.clone(), "check_in").await;
    assert_eq!(ticket.status, 201, "{}", ticket.text);
    let id = ticket.body["photo_id"].as_str().unwrap().to_owned();
    let put = app
        .client
        .put(ticket.body["url"].as_str().unwrap())
        .header("content-type", "image/png")
        .body(image.clone())
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());
    let done = app
        .post(
            &format!("/api/v1/photos/{id}/complete"),
            Some(&e.proctor),
            json!({}),
        )
        .await;
    assert_eq!(done.status, 204, "{}", done.text);

    // At rest: the object is not the image, the row holds no usable key.
    let raw = app
        .state
        .blobs
        .get(&format!("photos/sealed/{id}"))
        .await
        .unwrap()
        .unwrap();
    assert!(
        !raw.starts_with(b"\x89PNG") && raw.windows(4).all(|w| w != b"IHDR"),
        "the stored object is ciphertext"
    );
    assert!(
        app.state
            .blobs
            .get(&format!("photos/staging/{id}"))
            .await
            .unwrap()
            .is_none(),
        "no clear copy left"
    );
    use sea_orm::EntityTrait;
    let row = hocthi::entities::photo::Entity::find_by_id(id.parse::<uuid::Uuid>().unwrap())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(row.wrapped_key.as_deref().is_some_and(|k| k.len() > 40));

    // Seen by the room's proctor, each view audited; not by the candidate or another proctor.
    let seen = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/photos/{id}")))
                .bearer_auth(&e.proctor),
        )
        .await;
    assert_eq!(seen.status, 200);
    let bytes = app
        .client
        .get(app.url(&format!("/api/v1/photos/{id}")))
        .bearer_auth(&e.proctor)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), &image[..]);
    assert_eq!(
        app.get(&format!("/api/v1/photos/{id}"), Some(student))
            .await
            .status,
        404
    );
    let log = app
        .get(
            &format!("/api/v1/audit/events?target_type=photo&target_id={id}"),
            Some(&e.admin),
        )
        .await;
    assert_eq!(
        log.body["items"].as_array().unwrap().len(),
        2,
        "{}",
        log.text
    );

    // Deleted after the exam's retention (30 days by default).
    let now = chrono::Utc::now();
    assert_eq!(
        hocthi::identity::photos::clean_expired(&app.state, now)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        hocthi::identity::photos::clean_expired(&app.state, now + chrono::Duration::days(31))
            .await
            .unwrap(),
        1
    );
    assert!(
        app.state
            .blobs
            .get(&format!("photos/sealed/{id}"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        app.get(&format!("/api/v1/photos/{id}"), Some(&e.proctor))
            .await
            .status,
        404
    );

    // Withdrawing the photo consent deletes the photos taken so far, at once.
    let second = ask(e.proctor.clone(), "check_in").await;
    let second_id = second.body["photo_id"].as_str().unwrap().to_owned();
    app.client
        .put(second.body["url"].as_str().unwrap())
        .header("content-type", "image/png")
        .body(image.clone())
        .send()
        .await
        .unwrap();
    let stored = app
        .post(
            &format!("/api/v1/photos/{second_id}/complete"),
            Some(&e.proctor),
            json!({}),
        )
        .await;
    assert_eq!(stored.status, 204);
    let withdrawn = app
        .post(
            &format!(
                "/api/v1/me/consents/{}/withdraw",
                given.body["id"].as_str().unwrap()
            ),
            Some(student),
            json!({}),
        )
        .await;
    assert_eq!(withdrawn.status, 200, "{}", withdrawn.text);
    assert!(
        app.state
            .blobs
            .get(&format!("photos/sealed/{second_id}"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        app.get(&format!("/api/v1/photos/{second_id}"), Some(&e.proctor))
            .await
            .status,
        404
    );
    assert_eq!(
        ask(e.proctor.clone(), "check_in").await.body["code"],
        "no_consent_for_photos"
    );
}

/// The PII and audit keys can live outside the data folder, in files a secret store mounts
/// (docs/SECURITY.md, finding 12): then none is generated beside the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_can_come_from_files_outside_the_data_folder() {
    use base64::Engine;
    let secrets = std::env::temp_dir().join(format!("hocthi-secrets-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&secrets).unwrap();
    let encode = |byte: u8| base64::engine::general_purpose::STANDARD.encode([byte; 32]);
    std::fs::write(secrets.join("pii"), format!("{}\n", encode(1))).unwrap();
    std::fs::write(secrets.join("audit"), encode(2)).unwrap();
    let (pii, audit) = (secrets.join("pii"), secrets.join("audit"));
    let app = hocthi_tests::spawn_app_with(hocthi_tests::Stores::Embedded, |vars| {
        vars.insert("HOCTHI_PII_KEY_FILE".into(), pii.display().to_string());
        vars.insert("HOCTHI_AUDIT_KEY_FILE".into(), audit.display().to_string());
    })
    .await;
    let admin = app.admin_token().await;
    let verified = app.get("/api/v1/audit/verify", Some(&admin)).await;
    assert_eq!(verified.body["valid"], true, "{}", verified.text);
    let keys = app.data_dir().join("keys");
    assert!(!keys.join("pii.key").exists() && !keys.join("audit.key").exists());
    let sealed = app.state.vault.seal(b"001208012345", "identity_numbers:x");
    let same = hocthi::identity::vault::Vault::new(&[1; 32]).unwrap();
    assert_eq!(
        same.open(&sealed, "identity_numbers:x").unwrap(),
        b"001208012345",
        "the vault's key is the file's"
    );
    std::fs::remove_dir_all(&secrets).unwrap();
}

/// docs/SECURITY.md, finding 12: a person who leaves keeps their exam records; the rest of
/// their personal data and every way into the account go, and the removal is on record.
async fn a_person_is_offboarded_keeping_what_exam_law_requires(app: TestApp) {
    let (e, candidates) = ready(&app).await;
    let user = candidates[0]["user_id"].as_str().unwrap();
    let (login, student) = &e.students[0];
    let app = &app;
    let offboard = |token: String, who: String| async move {
        let path = format!("/api/v1/users/{who}/offboard");
        app.post(&path, Some(&token), json!({})).await
    };
    assert_eq!(
        offboard(e.teacher.clone(), user.into()).await.status,
        403,
        "a school admin's work"
    );
    let admin_id = app.get("/api/v1/me", Some(&e.admin)).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let own = offboard(e.admin.clone(), admin_id).await;
    assert_eq!(own.body["code"], "offboard_not_yourself", "{}", own.text);

    let done = offboard(e.admin.clone(), user.into()).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.body["id_number_removed"], true);
    assert_eq!(done.body["consents_withdrawn"], 1);
    assert!(done.body["sessions_revoked"].as_u64().unwrap() >= 1);

    // No way in: the session is gone and the password is no longer theirs.
    assert_eq!(app.get("/api/v1/me", Some(student)).await.status, 401);
    assert_eq!(
        app.login(login, hocthi_tests::USER_PASSWORD).await.status,
        401
    );
    // The personal data is gone; the exam record stays.
    let number = app
        .get(&format!("/api/v1/users/{user}/id-number"), Some(&e.admin))
        .await;
    assert_eq!(number.body["code"], "id_number_not_found");
    let kept = app
        .get(&format!("/api/v1/users/{user}"), Some(&e.admin))
        .await;
    assert_eq!(kept.body["full_name"], candidates[0]["full_name"]);
    assert!(kept.body["email"].is_null());
    let list = app
        .get(
            &format!("/api/v1/sittings/{}/candidates", e.sitting),
            Some(&e.teacher),
        )
        .await;
    assert!(list.text.contains(user), "still a candidate on the list");
    let log = app
        .get(
            &format!("/api/v1/audit/events?target_type=user&target_id={user}"),
            Some(&e.admin),
        )
        .await;
    assert!(log.text.contains("user.offboarded"), "{}", log.text);
    let again = offboard(e.admin.clone(), user.into()).await;
    assert_eq!(
        (again.status, again.body["id_number_removed"].as_bool()),
        (200, Some(false)),
        "repeating it removes nothing more"
    );
}
