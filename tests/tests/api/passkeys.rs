//! Passkeys at the protocol level, with a software authenticator that can also forge what a
//! browser never sends: supervised enrollment, discoverable sign-in, the exam step-up, and the
//! bad cases (replays, spent or expired challenges and codes, another origin, another user's
//! credential, a cloned authenticator).
use chrono::Duration;
use hocthi_tests::{Reply, TestApp, USER_PASSWORD, on_every_store};
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use soft_authenticator::SoftAuthenticator;

on_every_store!(
    enrollment_codes_are_supervised_spent_once_and_expire,
    passkey_sign_in_issues_tokens_and_refuses_bad_assertions,
    a_passkey_exam_needs_a_fresh_assertion_to_start_resume_and_switch,
);

pub fn authenticator(app: &TestApp) -> SoftAuthenticator {
    let port = app.address.rsplit(':').next().unwrap();
    SoftAuthenticator::new(&format!("http://localhost:{port}"), "localhost")
}

pub async fn user_id(app: &TestApp, token: &str) -> String {
    let me = app.get("/api/v1/me", Some(token)).await;
    assert_eq!(me.status, 200, "{}", me.text);
    me.body["id"].as_str().unwrap().to_owned()
}

pub async fn issue_code(app: &TestApp, supervisor: &str, student: &str) -> Reply {
    app.post(
        &format!("/api/v1/users/{student}/passkey-enrollment"),
        Some(supervisor),
        json!({}),
    )
    .await
}

async fn start_registration(app: &TestApp, code: &str, token: Option<&str>) -> Reply {
    app.post(
        "/api/v1/passkeys/registration/start",
        token,
        json!({ "code": code }),
    )
    .await
}

async fn finish_registration(
    app: &TestApp,
    token: &str,
    start: &Reply,
    credential: Value,
) -> Reply {
    app.post(
        "/api/v1/passkeys/registration/finish",
        Some(token),
        json!({ "ceremony_id": start.body["ceremony_id"], "credential": credential,
                "name": "Điện thoại của em" }),
    )
    .await
}

/// Registers a passkey with `code` in the student's session `token`; answers the credential's
/// index in `auth`.
pub async fn enroll(app: &TestApp, auth: &mut SoftAuthenticator, code: &str, token: &str) -> usize {
    let start = start_registration(app, code, Some(token)).await;
    assert_eq!(start.status, 200, "{}", start.text);
    let (index, credential) = auth.register(&start.body["options"]);
    let finished = finish_registration(app, token, &start, credential).await;
    assert_eq!(finished.status, 201, "{}", finished.text);
    index
}

async fn sign_in_start(app: &TestApp) -> Reply {
    let start = app
        .post("/api/v1/auth/passkey/start", None, json!({}))
        .await;
    assert_eq!(start.status, 200, "{}", start.text);
    start
}

async fn sign_in_finish(app: &TestApp, start: &Reply, credential: &Value) -> Reply {
    app.post(
        "/api/v1/auth/passkey/finish",
        None,
        json!({ "ceremony_id": start.body["ceremony_id"], "credential": credential }),
    )
    .await
}

fn code_of(reply: &Reply) -> &str {
    reply.body["code"].as_str().unwrap_or_default()
}

async fn enrollment_codes_are_supervised_spent_once_and_expire(app: TestApp) {
    let e = super::exams::exam_ready(&app, 2, "exam").await;
    let (first, second) = (&e.students[0].1, &e.students[1].1);
    let first_id = user_id(&app, first).await;
    let second_id = user_id(&app, second).await;
    let mut auth = authenticator(&app);

    // Who may supervise: not a student, not another school's teacher.
    let by_student = issue_code(&app, second, &first_id).await;
    assert_eq!(by_student.status, 403, "{}", by_student.text);
    let admin = app.admin_token().await;
    let other = app.create_school(&admin, "THPT-KHAC", "THPT Khác").await;
    app.create_user(&admin, "gv.khac", &["teacher"], Some(other))
        .await;
    let outsider = app.token("gv.khac", USER_PASSWORD).await;
    let by_outsider = issue_code(&app, &outsider, &first_id).await;
    assert_eq!(by_outsider.status, 403, "{}", by_outsider.text);
    let for_teacher = issue_code(&app, &e.proctor, &user_id(&app, &e.teacher).await).await;
    assert_eq!(
        for_teacher.status, 422,
        "a code is for a student: {}",
        for_teacher.text
    );

    // Province-level staff act in every school, but do not supervise enrollments there.
    app.create_user(&admin, "gt.tinh", &["proctor"], None).await;
    let province_proctor = app.token("gt.tinh", USER_PASSWORD).await;
    let by_province = issue_code(&app, &province_proctor, &first_id).await;
    assert_eq!(by_province.status, 403, "{}", by_province.text);
    assert_eq!(code_of(&by_province), "enrollment_needs_school_staff");
    app.create_user(&admin, "qt.truong", &["school_admin"], Some(e.school))
        .await;
    let school_admin = app.token("qt.truong", USER_PASSWORD).await;

    // A student cannot register without supervision, even signed in.
    let alone = app
        .post(
            "/api/v1/passkeys/registration/start",
            Some(first),
            json!({}),
        )
        .await;
    assert_eq!(alone.status, 403, "{}", alone.text);
    assert_eq!(code_of(&alone), "enrollment_code_required");

    // The proctor's code binds a passkey only to the student's own session: not anonymously,
    // not to the proctor's (the account takeover of SECURITY.md, finding 1).
    let issued = issue_code(&app, &e.proctor, &first_id).await;
    assert_eq!(issued.status, 201, "{}", issued.text);
    let code = issued.body["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 9);
    let anonymous = start_registration(&app, &code, None).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
    let by_supervisor = start_registration(&app, &code, Some(&e.proctor)).await;
    assert_eq!(by_supervisor.status, 403, "{}", by_supervisor.text);
    assert_eq!(code_of(&by_supervisor), "enrollment_code_not_yours");
    let by_classmate = start_registration(&app, &code, Some(second)).await;
    assert_eq!(by_classmate.status, 403, "{}", by_classmate.text);

    // The start names the student; two ceremonies race on the code, one wins; only the
    // student's session finishes them.
    let one = start_registration(&app, &code.to_lowercase(), Some(first)).await;
    assert_eq!(one.status, 200, "codes are case-insensitive: {}", one.text);
    assert_eq!(one.body["full_name"], "Học Sinh Số 00");
    assert_eq!(
        one.body["options"]["publicKey"]["authenticatorSelection"]["residentKey"],
        "required"
    );
    let two = start_registration(&app, &code, Some(first)).await;
    assert_eq!(two.status, 200, "{}", two.text);
    let (_, credential) = auth.register(&one.body["options"]);
    let hijacked = finish_registration(&app, &e.proctor, &one, credential.clone()).await;
    assert_eq!(hijacked.status, 400, "{}", hijacked.text);
    assert_eq!(code_of(&hijacked), "ceremony_mismatch");
    let one = start_registration(&app, &code, Some(first)).await;
    assert_eq!(one.status, 200, "{}", one.text);
    let (_, credential) = auth.register(&one.body["options"]);
    let finished = finish_registration(&app, first, &one, credential).await;
    assert_eq!(finished.status, 201, "{}", finished.text);
    assert_eq!(finished.body["name"], "Điện thoại của em");

    // The student and the school's admin are told; each marks their own notice read.
    for reader in [first, &school_admin] {
        let notices = app.get("/api/v1/me/notices", Some(reader)).await;
        assert_eq!(notices.status, 200, "{}", notices.text);
        let list = notices.body.as_array().unwrap();
        assert_eq!(list.len(), 1, "{}", notices.text);
        assert_eq!(list[0]["kind"], "passkey_registered");
        assert_eq!(list[0]["about"], first_id.as_str());
        assert_eq!(list[0]["details"]["name"], "Điện thoại của em");
        assert!(
            list[0]["message"]
                .as_str()
                .unwrap()
                .contains("khóa truy cập mới")
        );
        let read = format!(
            "/api/v1/me/notices/{}/read",
            list[0]["id"].as_str().unwrap()
        );
        let not_theirs = app.post(&read, Some(second), json!({})).await;
        assert_eq!(not_theirs.status, 404, "{}", not_theirs.text);
        let marked = app.post(&read, Some(reader), json!({})).await;
        assert_eq!(marked.status, 204, "{}", marked.text);
        let after = app.get("/api/v1/me/notices", Some(reader)).await;
        assert!(after.body[0]["read_at"].is_string(), "{}", after.text);
    }
    let none = app.get("/api/v1/me/notices", Some(&e.teacher)).await;
    assert_eq!(none.body, json!([]), "a teacher is not told");

    let (_, late) = auth.register(&two.body["options"]);
    let raced = finish_registration(&app, first, &two, late).await;
    assert_eq!(raced.status, 409, "{}", raced.text);
    assert_eq!(code_of(&raced), "enrollment_code_used");
    let again = start_registration(&app, &code, Some(first)).await;
    assert_eq!(again.status, 409, "{}", again.text);
    assert_eq!(code_of(&again), "enrollment_code_used");
    let unknown = start_registration(&app, "AAAA-2222", Some(first)).await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);

    // An expired code, and a ceremony that outlived its five minutes.
    let issued = issue_code(&app, &e.proctor, &second_id).await;
    let stale = issued.body["code"].as_str().unwrap().to_owned();
    let slow = start_registration(&app, &stale, Some(second)).await;
    assert_eq!(slow.status, 200, "{}", slow.text);
    app.state.clock.advance(Duration::minutes(11));
    let expired = start_registration(&app, &stale, Some(second)).await;
    assert_eq!(expired.status, 409, "{}", expired.text);
    assert_eq!(code_of(&expired), "enrollment_code_expired");
    let (_, credential) = auth.register(&slow.body["options"]);
    let too_late = finish_registration(&app, second, &slow, credential).await;
    assert_eq!(too_late.status, 400, "{}", too_late.text);
    assert_eq!(code_of(&too_late), "ceremony_expired");

    // A class session: each student once, signed in, and only that class.
    let session = app
        .post(
            &format!("/api/v1/classes/{}/passkey-enrollment", e.class),
            Some(&e.teacher),
            json!({ "minutes": 30 }),
        )
        .await;
    assert_eq!(session.status, 201, "{}", session.text);
    assert_eq!(session.body["class_name"], "12A1");
    let class_code = session.body["code"].as_str().unwrap().to_owned();
    let anonymous = start_registration(&app, &class_code, None).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
    enroll(&app, &mut auth, &class_code, second).await;
    let twice = start_registration(&app, &class_code, Some(second)).await;
    assert_eq!(twice.status, 409, "{}", twice.text);
    assert_eq!(code_of(&twice), "enrollment_code_used");
    enroll(&app, &mut auth, &class_code, first).await;
    let other_class = app.create_class(&e.admin, e.school, "12A2").await;
    app.post(
        "/api/v1/users",
        Some(&e.admin),
        json!({ "login": "hs.12a2", "password": USER_PASSWORD, "full_name": "Trần Thị Lan",
                "roles": ["student"], "school_id": e.school, "class_id": other_class }),
    )
    .await;
    let stranger = app.token("hs.12a2", USER_PASSWORD).await;
    let not_mine = start_registration(&app, &class_code, Some(&stranger)).await;
    assert_eq!(not_mine.status, 403, "{}", not_mine.text);
    assert_eq!(code_of(&not_mine), "not_in_class");

    // Several passkeys: list, rename, revoke; an admin sees and revokes them too.
    let mine = app.get("/api/v1/me/passkeys", Some(first)).await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    let keys = mine.body.as_array().unwrap();
    assert_eq!(keys.len(), 2, "{}", mine.text);
    let key = keys[0]["id"].as_str().unwrap();
    let renamed = app
        .send(
            app.client
                .patch(app.url(&format!("/api/v1/me/passkeys/{key}")))
                .bearer_auth(first)
                .json(&json!({ "name": "Máy tính bảng" })),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(renamed.body["name"], "Máy tính bảng");
    let not_theirs = app
        .send(
            app.client
                .delete(app.url(&format!("/api/v1/me/passkeys/{key}")))
                .bearer_auth(second),
        )
        .await;
    assert_eq!(not_theirs.status, 404, "{}", not_theirs.text);
    let listed = app
        .get(
            &format!("/api/v1/users/{first_id}/passkeys"),
            Some(&e.admin),
        )
        .await;
    assert_eq!(
        listed.body.as_array().map(Vec::len),
        Some(2),
        "{}",
        listed.text
    );
    let teacher_lists = app
        .get(
            &format!("/api/v1/users/{first_id}/passkeys"),
            Some(&e.teacher),
        )
        .await;
    assert_eq!(teacher_lists.status, 403, "{}", teacher_lists.text);
    let revoked = app
        .send(
            app.client
                .delete(app.url(&format!("/api/v1/users/{first_id}/passkeys/{key}")))
                .bearer_auth(&e.admin),
        )
        .await;
    assert_eq!(revoked.status, 204, "{}", revoked.text);
    let own = keys[1]["id"].as_str().unwrap();
    let self_revoked = app
        .send(
            app.client
                .delete(app.url(&format!("/api/v1/me/passkeys/{own}")))
                .bearer_auth(first),
        )
        .await;
    assert_eq!(self_revoked.status, 204, "{}", self_revoked.text);
    let none = app.get("/api/v1/me/passkeys", Some(first)).await;
    assert_eq!(none.body, json!([]));

    // The revoked passkey no longer signs in.
    let start = sign_in_start(&app).await;
    let assertion = auth.assert(&start.body["options"], 0);
    let refused = sign_in_finish(&app, &start, &assertion).await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert_eq!(code_of(&refused), "passkey_unknown");

    let audit = app
        .get(
            &format!("/api/v1/audit/events?target_type=user&target_id={first_id}&limit=100"),
            Some(&admin),
        )
        .await;
    assert_eq!(audit.status, 200, "{}", audit.text);
    for action in [
        "passkey.enrollment_opened",
        "passkey.registered",
        "passkey.revoked",
    ] {
        assert!(
            audit.text.contains(action),
            "{action} audited: {}",
            audit.text
        );
    }

    // Guessing codes: wrong ones (four above: used, unknown, expired, used) count against the
    // address, right ones do not; the thirtieth wrong one closes it for ten minutes.
    for n in 4..30 {
        let wrong = start_registration(&app, &format!("ZZZZ-{n:04}"), None).await;
        assert_eq!(wrong.status, 404, "{}", wrong.text);
    }
    let blocked = start_registration(&app, "ZZZZ-9999", None).await;
    assert_eq!(blocked.status, 429, "{}", blocked.text);
    assert!(blocked.headers.contains_key("retry-after"));
}

async fn passkey_sign_in_issues_tokens_and_refuses_bad_assertions(app: TestApp) {
    let e = super::exams::exam_ready(&app, 2, "practice").await;
    let (first, second) = (&e.students[0].1, &e.students[1].1);
    let first_id = user_id(&app, first).await;
    let second_id = user_id(&app, second).await;
    let mut auth = authenticator(&app);
    let code = issue_code(&app, &e.teacher, &first_id).await;
    let mine = enroll(&app, &mut auth, code.body["code"].as_str().unwrap(), first).await;
    let code = issue_code(&app, &e.teacher, &second_id).await;
    let theirs = enroll(&app, &mut auth, code.body["code"].as_str().unwrap(), second).await;

    // A good sign-in: the same tokens as a password sign-in.
    let start = sign_in_start(&app).await;
    assert!(
        start.body["options"].get("mediation").is_none(),
        "{}",
        start.text
    );
    let assertion = auth.assert(&start.body["options"], mine);
    let signed_in = sign_in_finish(&app, &start, &assertion).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text);
    assert_eq!(signed_in.body["token_type"], "Bearer");
    let token = signed_in.body["access_token"].as_str().unwrap();
    assert_eq!(user_id(&app, token).await, first_id);
    let refreshed = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": signed_in.body["refresh_token"] }),
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    // The verifier's counter was stored.
    let rows = hocthi::entities::passkey::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    let row = rows
        .iter()
        .find(|r| r.user_id.to_string() == first_id)
        .unwrap();
    assert_eq!(row.sign_count, 1);
    assert!(row.last_used_at.is_some());

    // The same answer again: the ceremony is spent.
    let replayed = sign_in_finish(&app, &start, &assertion).await;
    assert_eq!(replayed.status, 400, "{}", replayed.text);
    assert_eq!(code_of(&replayed), "ceremony_unknown");
    // A fresh answer on the spent challenge: still spent.
    let fresh = auth.assert(&start.body["options"], mine);
    let reused = sign_in_finish(&app, &start, &fresh).await;
    assert_eq!(reused.status, 400, "{}", reused.text);
    assert_eq!(code_of(&reused), "ceremony_unknown");
    // An old answer replayed against a new challenge.
    let next = sign_in_start(&app).await;
    let old_answer = sign_in_finish(&app, &next, &assertion).await;
    assert_eq!(old_answer.status, 401, "{}", old_answer.text);
    assert_eq!(code_of(&old_answer), "passkey_rejected");

    // Expired: a challenge answered after its five minutes.
    let slow = sign_in_start(&app).await;
    let answer = auth.assert(&slow.body["options"], mine);
    app.state.clock.advance(Duration::seconds(301));
    let expired = sign_in_finish(&app, &slow, &answer).await;
    assert_eq!(expired.status, 400, "{}", expired.text);
    assert_eq!(code_of(&expired), "ceremony_expired");

    // A phishing page: right key, wrong origin.
    let phished = sign_in_start(&app).await;
    let real_origin = auth.origin.clone();
    auth.origin = real_origin.replace("localhost", "hocthi-login.localhost");
    let answer = auth.assert(&phished.body["options"], mine);
    auth.origin = real_origin;
    let wrong_origin = sign_in_finish(&app, &phished, &answer).await;
    assert_eq!(wrong_origin.status, 401, "{}", wrong_origin.text);
    assert_eq!(code_of(&wrong_origin), "passkey_rejected");

    // Another user's credential presented as mine (user handle swapped).
    let forged = sign_in_start(&app).await;
    let handle = auth.credentials[mine].user_handle.clone();
    auth.credentials[theirs].user_handle = handle;
    let answer = auth.assert(&forged.body["options"], theirs);
    let swapped = sign_in_finish(&app, &forged, &answer).await;
    assert_eq!(swapped.status, 401, "{}", swapped.text);
    assert_eq!(code_of(&swapped), "passkey_unknown");

    // A clone: a counter that goes backwards blocks the passkey, for good.
    let cloned = sign_in_start(&app).await;
    let answer = auth.assert_with_counter(&cloned.body["options"], mine, 1);
    let flagged = sign_in_finish(&app, &cloned, &answer).await;
    assert_eq!(flagged.status, 401, "{}", flagged.text);
    assert_eq!(code_of(&flagged), "passkey_clone_suspected");
    let after = sign_in_start(&app).await;
    let answer = auth.assert(&after.body["options"], mine);
    let blocked = sign_in_finish(&app, &after, &answer).await;
    assert_eq!(blocked.status, 401, "{}", blocked.text);
    assert_eq!(code_of(&blocked), "passkey_clone_suspected");
    let listed = app.get("/api/v1/me/passkeys", Some(first)).await;
    assert!(
        !listed.body[0]["clone_suspected_at"].is_null(),
        "{}",
        listed.text
    );

    // Garbage is a 4xx, never a 500.
    let garbage = app
        .post(
            "/api/v1/auth/passkey/finish",
            None,
            json!({ "ceremony_id": sign_in_start(&app).await.body["ceremony_id"], "credential": { "id": "x" } }),
        )
        .await;
    assert!((400..500).contains(&garbage.status), "{}", garbage.text);
}

async fn challenge(app: &TestApp, token: &str, attempt: &str, device: &str) -> Reply {
    app.post(
        &format!("/api/v1/attempts/{attempt}/passkey-challenge"),
        Some(token),
        json!({ "device_id": device }),
    )
    .await
}

async fn enter(
    app: &TestApp,
    token: &str,
    attempt: &str,
    how: &str,
    device: &str,
    proof: Option<(&Reply, &Value)>,
) -> Reply {
    let passkey = proof.map(
        |(c, credential)| json!({ "ceremony_id": c.body["ceremony_id"], "credential": credential }),
    );
    app.post(
        &format!("/api/v1/attempts/{attempt}/{how}"),
        Some(token),
        json!({ "device_id": device, "passkey": passkey }),
    )
    .await
}

async fn a_passkey_exam_needs_a_fresh_assertion_to_start_resume_and_switch(app: TestApp) {
    let e = super::exams::exam_ready_with_policy(
        &app,
        2,
        "exam",
        Some(json!({ "release": "manual", "identity": "passkey_and_check_in" })),
    )
    .await;
    let attempts = super::exams::register_lock_check_in(&app, &e).await;
    let (first, second) = (&e.students[0].1, &e.students[1].1);
    let mut auth = authenticator(&app);
    let mut keys = Vec::new();
    for token in [first, second] {
        let code = issue_code(&app, &e.teacher, &user_id(&app, token).await).await;
        keys.push(enroll(&app, &mut auth, code.body["code"].as_str().unwrap(), token).await);
    }
    let (mine, theirs) = (keys[0], keys[1]);
    let attempt = &attempts[0];
    let device = "may-tinh-phong-01-so-07";

    let bare = enter(&app, first, attempt, "start", device, None).await;
    assert_eq!(bare.status, 403, "{}", bare.text);
    assert_eq!(code_of(&bare), "passkey_assertion_required");

    // A passkey enrolled under the room's only proctor proves nothing to that proctor.
    let code = issue_code(&app, &e.proctor, &user_id(&app, first).await).await;
    let by_proctor = enroll(&app, &mut auth, code.body["code"].as_str().unwrap(), first).await;
    let c = challenge(&app, first, attempt, device).await;
    assert_eq!(c.status, 200, "{}", c.text);
    let answer = auth.assert(&c.body["options"], by_proctor);
    let refused = enter(&app, first, attempt, "start", device, Some((&c, &answer))).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(code_of(&refused), "passkey_supervised_by_sole_proctor");

    // Bound to the device: asked for one, used on another.
    let c = challenge(&app, first, attempt, device).await;
    assert_eq!(c.status, 200, "{}", c.text);
    let answer = auth.assert(&c.body["options"], mine);
    let elsewhere = enter(
        &app,
        first,
        attempt,
        "start",
        "another-device-9",
        Some((&c, &answer)),
    )
    .await;
    assert_eq!(elsewhere.status, 400, "{}", elsewhere.text);
    assert_eq!(code_of(&elsewhere), "ceremony_mismatch");
    // Bound to the attempt: a challenge for one attempt does not open another's.
    let c = challenge(&app, first, attempt, device).await;
    let answer = auth.assert(&c.body["options"], mine);
    let other_attempt = enter(
        &app,
        second,
        &attempts[1],
        "start",
        device,
        Some((&c, &answer)),
    )
    .await;
    assert_eq!(other_attempt.status, 400, "{}", other_attempt.text);
    // A classmate's passkey on my attempt.
    let c = challenge(&app, first, attempt, device).await;
    let answer = auth.assert(&c.body["options"], theirs);
    let borrowed = enter(&app, first, attempt, "start", device, Some((&c, &answer))).await;
    assert_eq!(borrowed.status, 401, "{}", borrowed.text);
    assert_eq!(code_of(&borrowed), "passkey_not_yours");
    let nobody = challenge(&app, first, &attempts[1], device).await;
    assert_eq!(nobody.status, 404, "{}", nobody.text);

    // The real thing.
    let c = challenge(&app, first, attempt, device).await;
    let answer = auth.assert(&c.body["options"], mine);
    let started = enter(&app, first, attempt, "start", device, Some((&c, &answer))).await;
    assert_eq!(started.status, 200, "{}", started.text);
    assert_eq!(started.body["state"], "in_progress");

    // Every resume asks again, on the same device too; a replayed answer does not do.
    let bare = enter(&app, first, attempt, "resume", device, None).await;
    assert_eq!(bare.status, 403, "{}", bare.text);
    let replayed = enter(&app, first, attempt, "resume", device, Some((&c, &answer))).await;
    assert_eq!(replayed.status, 400, "{}", replayed.text);
    assert_eq!(code_of(&replayed), "ceremony_unknown");
    let c = challenge(&app, first, attempt, device).await;
    let answer = auth.assert(&c.body["options"], mine);
    let resumed = enter(&app, first, attempt, "resume", device, Some((&c, &answer))).await;
    assert_eq!(resumed.status, 200, "{}", resumed.text);

    // A device switch needs an assertion, then the proctor.
    let tablet = "may-tinh-bang-du-phong";
    let bare = enter(&app, first, attempt, "resume", tablet, None).await;
    assert_eq!(bare.status, 403, "{}", bare.text);
    let c = challenge(&app, first, attempt, tablet).await;
    let answer = auth.assert(&c.body["options"], mine);
    let asked = enter(&app, first, attempt, "resume", tablet, Some((&c, &answer))).await;
    assert_eq!(asked.status, 409, "{}", asked.text);
    assert_eq!(code_of(&asked), "device_switch_needs_approval");
    let approved = app
        .post(
            &format!("/api/v1/attempts/{attempt}/approve-device"),
            Some(&e.proctor),
            json!({}),
        )
        .await;
    assert!(approved.status < 300, "{}", approved.text);
    let c = challenge(&app, first, attempt, tablet).await;
    let answer = auth.assert(&c.body["options"], mine);
    let switched = enter(&app, first, attempt, "resume", tablet, Some((&c, &answer))).await;
    assert_eq!(switched.status, 200, "{}", switched.text);
}

/// Each anonymous sign-in start keeps a challenge for five minutes: they are bounded per
/// address and in all (docs/SECURITY.md, finding 10). Low bounds here: 3 per address, 5 in all.
async fn anonymous_sign_in_starts_are_bounded(app: TestApp) {
    let start_from = |address: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/passkey/start"))
            .header("x-forwarded-for", address)
            .json(&json!({}))
    };
    let mut statuses = Vec::new();
    for address in [
        "10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.2",
    ] {
        statuses.push(app.send(start_from(address)).await.status);
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 429, 200, 200],
        "the fourth from one address is refused; another address still starts"
    );
    let over = app.send(start_from("10.0.0.3")).await;
    assert_eq!(
        (over.status, over.body["code"].as_str()),
        (429, Some("too_many_passkey_starts")),
        "the sixth in all is refused whatever its address: {}",
        over.text
    );
    let wait: u64 = over.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&wait), "retry after the window: {wait}");
}

fn few_passkey_starts(vars: &mut std::collections::HashMap<String, String>) {
    vars.insert("HOCTHI_TRUSTED_PROXIES".into(), "127.0.0.1".into());
    vars.insert("HOCTHI_PASSKEY_STARTS_PER_ADDRESS".into(), "3".into());
    vars.insert("HOCTHI_PASSKEY_STARTS_TOTAL".into(), "5".into());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_sign_in_starts_are_bounded_embedded() {
    let app = hocthi_tests::spawn_app_with(hocthi_tests::Stores::Embedded, few_passkey_starts);
    anonymous_sign_in_starts_are_bounded(app.await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_sign_in_starts_are_bounded_real_stores() {
    if let Some(app) = hocthi_tests::spawn_real_app_with(few_passkey_starts).await {
        anonymous_sign_in_starts_are_bounded(app).await;
    }
}
