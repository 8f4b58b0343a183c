use std::time::Duration;

use hocthi::auth::tokens::KeySet;
use hocthi_tests::{ADMIN_LOGIN, ADMIN_PASSWORD, TestApp, USER_PASSWORD, on_every_store};
use serde_json::json;

on_every_store!(
    sign_in_then_me,
    wrong_password_is_refused_alike_for_unknown_logins,
    refresh_rotates_and_reuse_revokes_the_family,
    logout_ends_the_session,
    a_revocation_reaches_every_instance_and_outlives_the_hot_store,
    expired_and_tampered_tokens_are_refused,
    failed_sign_ins_are_limited_per_account_and_address,
    a_burst_of_wrong_passwords_is_checked_no_more_often_than_the_limit,
    a_proctors_check_in_lifts_a_classmates_lockout,
    password_change_and_admin_reset,
    jwks_publishes_the_signing_key,
);

async fn sign_in_then_me(app: TestApp) {
    let reply = app.login(ADMIN_LOGIN, ADMIN_PASSWORD).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 900);
    let token = reply.body["access_token"].as_str().unwrap();
    let me = app.get("/api/v1/me", Some(token)).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["login"], ADMIN_LOGIN);
    assert_eq!(me.body["roles"], json!(["province_admin"]));
    assert_eq!(me.body["full_name"], "Quản trị Sở GD&ĐT");
    assert!(me.body.get("password_hash").is_none());
    // Logins are case-insensitive.
    assert_eq!(
        app.login(&ADMIN_LOGIN.to_uppercase(), ADMIN_PASSWORD)
            .await
            .status,
        200
    );
}

async fn wrong_password_is_refused_alike_for_unknown_logins(app: TestApp) {
    let wrong = app.login(ADMIN_LOGIN, "not the password").await;
    let unknown = app.login("nobody@so.edu.vn", "not the password").await;
    for reply in [&wrong, &unknown] {
        assert_eq!(reply.status, 401);
        assert_eq!(reply.body["code"], "invalid_credentials");
    }
}

async fn refresh_rotates_and_reuse_revokes_the_family(app: TestApp) {
    let first = app.login(ADMIN_LOGIN, ADMIN_PASSWORD).await.body;
    let refresh_1 = first["refresh_token"].as_str().unwrap();
    let second = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": refresh_1 }),
        )
        .await;
    assert_eq!(second.status, 200, "{}", second.text);
    let refresh_2 = second.body["refresh_token"].as_str().unwrap();
    let access_2 = second.body["access_token"].as_str().unwrap();
    assert_ne!(refresh_1, refresh_2, "the refresh token rotates");
    assert_eq!(app.get("/api/v1/me", Some(access_2)).await.status, 200);

    // The first token again: a replay. The whole family dies, the newest tokens included.
    let replay = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": refresh_1 }),
        )
        .await;
    assert_eq!(replay.status, 401);
    assert_eq!(replay.body["code"], "refresh_token_reused");
    let after = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": refresh_2 }),
        )
        .await;
    assert_eq!(
        after.status, 401,
        "the newest refresh token is revoked with its family"
    );
    let me = app.get("/api/v1/me", Some(access_2)).await;
    assert_eq!(me.status, 401);
    assert_eq!(me.body["code"], "token_revoked");

    // Another session of the same user is untouched.
    let other = app.login(ADMIN_LOGIN, ADMIN_PASSWORD).await.body;
    let again = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": other["refresh_token"] }),
        )
        .await;
    assert_eq!(again.status, 200);

    let junk = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": "made-up" }),
        )
        .await;
    assert_eq!(junk.body["code"], "refresh_token_invalid");
}

async fn logout(app: &TestApp, access: &str) {
    let out = app
        .send(
            app.client
                .post(app.url("/api/v1/auth/logout"))
                .bearer_auth(access),
        )
        .await;
    assert_eq!(out.status, 204, "{}", out.text);
}

async fn logout_ends_the_session(app: TestApp) {
    let tokens = app.login(ADMIN_LOGIN, ADMIN_PASSWORD).await.body;
    let access = tokens["access_token"].as_str().unwrap();
    logout(&app, access).await;
    assert_eq!(
        app.get("/api/v1/me", Some(access)).await.body["code"],
        "token_revoked"
    );
    let refresh = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": tokens["refresh_token"] }),
        )
        .await;
    assert_eq!(refresh.status, 401);
}

async fn a_revocation_reaches_every_instance_and_outlives_the_hot_store(app: TestApp) {
    let tokens = app.login(ADMIN_LOGIN, ADMIN_PASSWORD).await.body;
    let access = tokens["access_token"].as_str().unwrap();
    let session = app
        .state
        .keys
        .verify(access)
        .ok()
        .expect("our own token")
        .sid;
    // On Redis a second instance shares the hot store; checks there come from its memory once
    // its set is loaded.
    let second = match app.stores {
        hocthi_tests::Stores::Real => {
            let second = app.another_instance().await;
            tokio::time::timeout(
                Duration::from_secs(10),
                second.state.revocations.until_live(),
            )
            .await
            .expect("the second instance loads the revocations");
            assert_eq!(second.get("/api/v1/me", Some(access)).await.status, 200);
            Some(second)
        }
        hocthi_tests::Stores::Embedded => None,
    };
    tokio::time::timeout(Duration::from_secs(10), app.state.revocations.until_live())
        .await
        .expect("the revocations are loaded");

    logout(&app, access).await;
    // At once on the instance that signed out.
    assert_eq!(
        app.get("/api/v1/me", Some(access)).await.body["code"],
        "token_revoked"
    );
    // On the other as soon as the announcement arrives.
    if let Some(second) = &second {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let me = second.get("/api/v1/me", Some(access)).await;
            if me.body["code"] == "token_revoked" {
                break;
            }
            assert_eq!(me.status, 200, "{}", me.text);
            assert!(
                std::time::Instant::now() < deadline,
                "the revocation did not reach the second instance in 5 s"
            );
            tokio::task::yield_now().await;
        }
    }
    // The hot store losing the revocation (a Redis restart keeps nothing) does not bring the
    // token back on instances that already know.
    app.state
        .hot
        .delete(&format!("revoked-session:{session}"))
        .await
        .unwrap();
    for instance in std::iter::once(&app).chain(second.as_ref()) {
        assert_eq!(
            instance.get("/api/v1/me", Some(access)).await.body["code"],
            "token_revoked"
        );
    }
}

async fn expired_and_tampered_tokens_are_refused(app: TestApp) {
    let token = app.admin_token().await;
    let me = app.get("/api/v1/me", Some(&token)).await;
    let user_id = me.body["id"].as_str().unwrap().parse().unwrap();
    let keys = &app.state.keys;

    let an_hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    let expired = keys
        .issue(&KeySet::claims_for(
            user_id,
            uuid::Uuid::now_v7(),
            vec![hocthi::auth::roles::Role::ProvinceAdmin],
            None,
            an_hour_ago,
            Duration::from_secs(900),
        ))
        .unwrap();
    let reply = app.get("/api/v1/me", Some(&expired)).await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (401, Some("token_expired"))
    );

    // Flip one character of the payload: the signature no longer matches.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut payload: Vec<char> = parts[1].chars().collect();
    payload[10] = if payload[10] == 'A' { 'B' } else { 'A' };
    parts[1] = payload.into_iter().collect();
    let tampered = parts.join(".");

    // A token signed with a key the service never published.
    let stranger =
        KeySet::from_pkcs8(&hocthi::auth::tokens::generate_pkcs8().unwrap(), &[]).unwrap();
    let forged = stranger
        .issue(&KeySet::claims_for(
            user_id,
            uuid::Uuid::now_v7(),
            vec![hocthi::auth::roles::Role::ProvinceAdmin],
            None,
            chrono::Utc::now(),
            Duration::from_secs(900),
        ))
        .unwrap();

    // "alg": "none" with no signature.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let unsigned = format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        token.split('.').nth(1).unwrap()
    );

    for (what, bad) in [
        ("tampered", tampered.as_str()),
        ("forged", forged.as_str()),
        ("unsigned", unsigned.as_str()),
        ("garbage", "abc"),
    ] {
        let reply = app.get("/api/v1/me", Some(bad)).await;
        assert_eq!(reply.status, 401, "{what}");
        assert_eq!(reply.body["code"], "token_invalid", "{what}");
    }
    let no_token = app.get("/api/v1/me", None).await;
    assert_eq!(
        (no_token.status, no_token.body["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    assert_eq!(no_token.headers["www-authenticate"], "Bearer");
}

async fn failed_sign_ins_are_limited_per_account_and_address(app: TestApp) {
    let token = app.admin_token().await;
    let school = app.create_school(&token, "THPT-A", "Trường THPT A").await;
    app.create_user(&token, "hs.an", &["student"], Some(school))
        .await;
    let from = |ip: &'static str, login: &str, password: &str| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", ip)
            .json(&json!({ "login": login, "password": password }))
    };
    let school_nat = |login: &str, password: &str| from("203.0.113.7", login, password);
    for attempt in 1..=5 {
        let reply = app.send(school_nat("hs.an", "sai-mat-khau")).await;
        assert_eq!(reply.status, 401, "attempt {attempt}");
    }
    let locked = app.send(school_nat("hs.an", USER_PASSWORD)).await;
    assert_eq!(locked.status, 429, "{}", locked.text);
    assert_eq!(locked.body["code"], "too_many_login_attempts");
    let retry_after: u64 = locked.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (50..=60).contains(&retry_after),
        "the first lock is a minute, not fifteen: {retry_after}"
    );

    // The same account from elsewhere, and other accounts behind the same NAT, still work.
    assert_eq!(
        app.send(from("198.51.100.9", "hs.an", USER_PASSWORD))
            .await
            .status,
        200
    );
    assert_eq!(
        app.send(school_nat(ADMIN_LOGIN, ADMIN_PASSWORD))
            .await
            .status,
        200
    );
}

async fn password_change_and_admin_reset(app: TestApp) {
    let admin = app.admin_token().await;
    let school = app.create_school(&admin, "THPT-B", "Trường THPT B").await;
    let teacher_id = app
        .create_user(&admin, "gv.binh", &["teacher"], Some(school))
        .await;
    let old_session = app.token("gv.binh", USER_PASSWORD).await;
    let current = app.token("gv.binh", USER_PASSWORD).await;

    let short = app
        .post(
            "/api/v1/me/password",
            Some(&current),
            json!({ "current_password": USER_PASSWORD, "new_password": "ngắn" }),
        )
        .await;
    assert_eq!(short.status, 422);
    assert_eq!(short.body["errors"][0]["code"], "password_too_short");
    let common = app
        .post(
            "/api/v1/me/password",
            Some(&current),
            json!({ "current_password": USER_PASSWORD, "new_password": "Mật khẩu 123" }),
        )
        .await;
    assert_eq!(common.status, 422, "{}", common.text);
    assert_eq!(common.body["errors"][0]["code"], "password_too_common");
    let wrong = app
        .post(
            "/api/v1/me/password",
            Some(&current),
            json!({ "current_password": "sai", "new_password": "mật khẩu mới dài" }),
        )
        .await;
    assert_eq!(wrong.body["errors"][0]["code"], "wrong_current_password");

    let ok = app
        .post(
            "/api/v1/me/password",
            Some(&current),
            json!({ "current_password": USER_PASSWORD, "new_password": "mật khẩu mới dài" }),
        )
        .await;
    assert_eq!(ok.status, 204, "{}", ok.text);
    assert_eq!(
        app.get("/api/v1/me", Some(&current)).await.status,
        200,
        "the session that changed it stays"
    );
    assert_eq!(
        app.get("/api/v1/me", Some(&old_session)).await.status,
        401,
        "other sessions end"
    );
    assert_eq!(app.login("gv.binh", USER_PASSWORD).await.status, 401);
    assert_eq!(app.login("gv.binh", "mật khẩu mới dài").await.status, 200);

    let reset = app
        .post(
            &format!("/api/v1/users/{teacher_id}/password-reset"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(reset.status, 200, "{}", reset.text);
    let generated = reset.body["initial_password"].as_str().unwrap();
    assert_eq!(
        app.get("/api/v1/me", Some(&current)).await.status,
        401,
        "a reset signs the user out everywhere"
    );
    assert_eq!(app.login("gv.binh", generated).await.status, 200);

    // A school admin resets their school's people, not a fellow admin: that takes the province.
    let admin_b = app
        .create_user(&admin, "qt.binh", &["school_admin"], Some(school))
        .await;
    app.create_user(&admin, "qt.binh2", &["school_admin"], Some(school))
        .await;
    let school_admin = app.token("qt.binh2", USER_PASSWORD).await;
    let takeover = app
        .post(
            &format!("/api/v1/users/{admin_b}/password-reset"),
            Some(&school_admin),
            json!({}),
        )
        .await;
    assert_eq!(takeover.status, 403, "{}", takeover.text);
    assert_eq!(takeover.body["code"], "reset_needs_province_admin");
    assert_eq!(
        app.login("qt.binh", USER_PASSWORD).await.status,
        200,
        "unchanged"
    );
    let by_school = app
        .post(
            &format!("/api/v1/users/{teacher_id}/password-reset"),
            Some(&school_admin),
            json!({}),
        )
        .await;
    assert_eq!(by_school.status, 200, "a teacher, yes: {}", by_school.text);

    // Nobody resets their own password here (schemathesis did it with the admin's session):
    // a stolen session would set a new password and keep the account.
    let me = app.get("/api/v1/me", Some(&admin)).await.body["id"].clone();
    let own = app
        .post(
            &format!("/api/v1/users/{}/password-reset", me.as_str().unwrap()),
            Some(&admin),
            json!({ "new_password": "một mật khẩu mới rất dài 2026" }),
        )
        .await;
    assert_eq!(
        (own.status, own.body["code"].as_str()),
        (403, Some("reset_not_for_yourself")),
        "{}",
        own.text
    );
    assert_eq!(
        app.get("/api/v1/me", Some(&admin)).await.status,
        200,
        "still signed in"
    );
}

async fn jwks_publishes_the_signing_key(app: TestApp) {
    let jwks = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(jwks.status, 200);
    let key = &jwks.body["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["alg"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    let token = app.admin_token().await;
    let header = jsonwebtoken_header_kid(&token);
    assert_eq!(
        key["kid"].as_str(),
        Some(header.as_str()),
        "tokens name the published key"
    );
}

fn jsonwebtoken_header_kid(token: &str) -> String {
    use base64::Engine;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    serde_json::from_slice::<serde_json::Value>(&header).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// 200 wrong passwords sent at once for one login: one check at a time per login and the pair's
/// lock after five failures mean at most five are evaluated; the rest are refused unread.
async fn a_burst_of_wrong_passwords_is_checked_no_more_often_than_the_limit(app: TestApp) {
    let token = app.admin_token().await;
    let school = app.create_school(&token, "THPT-C", "Trường THPT C").await;
    app.create_user(&token, "hs.chi", &["student"], Some(school))
        .await;
    let guesses = (0..200).map(|n| {
        app.send(
            app.client
                .post(app.url("/api/v1/auth/login"))
                .header("x-forwarded-for", "203.0.113.20")
                .json(&json!({ "login": "hs.chi", "password": format!("doan-{n:03}") })),
        )
    });
    let replies = futures_util::future::join_all(guesses).await;
    let evaluated = replies.iter().filter(|r| r.status == 401).count();
    let refused = replies.iter().filter(|r| r.status == 429).count();
    assert_eq!(evaluated + refused, 200, "only 401 or 429");
    assert!(
        (1..=5).contains(&evaluated),
        "{evaluated} guesses were checked"
    );
    assert!(
        replies
            .iter()
            .filter(|r| r.status == 429)
            .all(|r| r.body["code"] == "too_many_login_attempts"
                && r.headers.contains_key("retry-after"))
    );
    // Five failures lock the pair: even the right password waits now.
    for _ in evaluated..5 {
        let wrong = app
            .send(
                app.client
                    .post(app.url("/api/v1/auth/login"))
                    .header("x-forwarded-for", "203.0.113.20")
                    .json(&json!({ "login": "hs.chi", "password": "van-sai" })),
            )
            .await;
        assert_eq!(wrong.status, 401, "{}", wrong.text);
    }
    let right = app
        .send(
            app.client
                .post(app.url("/api/v1/auth/login"))
                .header("x-forwarded-for", "203.0.113.20")
                .json(&json!({ "login": "hs.chi", "password": USER_PASSWORD })),
        )
        .await;
    assert_eq!(right.status, 429, "{}", right.text);
}

/// A classmate locks a candidate's account from the school's shared address on exam morning;
/// the proctor checks the candidate in, and the candidate signs in.
async fn a_proctors_check_in_lifts_a_classmates_lockout(app: TestApp) {
    let e = super::exams::exam_ready(&app, 1, "exam").await;
    let login = e.students[0].0.clone();
    let from_school = |password: &str| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", "203.0.113.30")
            .json(&json!({ "login": login, "password": password }))
    };
    for _ in 0..5 {
        assert_eq!(app.send(from_school("tro-dua")).await.status, 401);
    }
    assert_eq!(app.send(from_school(USER_PASSWORD)).await.status, 429);
    super::exams::register_lock_check_in(&app, &e).await;
    let signed_in = app.send(from_school(USER_PASSWORD)).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text);
}
