//! Browser sessions over HTTP: the cookies' attributes, the anti-forgery check on everything
//! that changes state, renewal by rotation (a replayed refresh cookie ends the session), and
//! sign-out ending both the pages and the API calls made with the cookie.
use hocthi_tests::{ADMIN_LOGIN, ADMIN_PASSWORD, TestApp, on_every_store};
use reqwest::{StatusCode, header};

on_every_store!(browser_sessions_are_cookies_checked_like_tokens_and_guarded_against_forgery);

/// A client that follows no redirect, so each answer is seen.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A form field's value as a browser sends it (application/x-www-form-urlencoded).
fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The value of `name` among a response's Set-Cookie headers, with the whole header.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<(String, String)> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let value = v[name.len() + 1..].split(';').next().unwrap().to_owned();
            (value, v.to_owned())
        })
}

async fn browser_sessions_are_cookies_checked_like_tokens_and_guarded_against_forgery(
    app: TestApp,
) {
    let http = client();
    let port = app.address.rsplit(':').next().unwrap();
    let site = format!("http://localhost:{port}");
    let sign_in = |origin: &'static str| {
        let http = http.clone();
        let site = site.clone();
        async move {
            http.post(format!("{site}/sign-in"))
                .header(
                    header::ORIGIN,
                    if origin.is_empty() {
                        site.clone()
                    } else {
                        origin.to_owned()
                    },
                )
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(format!(
                    "login={}&password={}&next=%2Fmy%2Fexams",
                    form_encode(ADMIN_LOGIN),
                    form_encode(ADMIN_PASSWORD)
                ))
                .send()
                .await
                .unwrap()
        }
    };

    // A sign-in posted from another site is refused before the password is even checked.
    let forged = sign_in("https://evil.example").await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&forged, "hocthi_access").is_none());

    // From the service's own page: two cookies, HttpOnly and SameSite=Strict, not Secure on
    // localhost; back to the page that asked.
    let signed_in = sign_in("").await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(signed_in.headers()[header::LOCATION], "/my/exams");
    let (access, header_line) = set_cookie(&signed_in, "hocthi_access").expect("the access cookie");
    assert!(
        header_line.contains("HttpOnly") && header_line.contains("SameSite=Strict"),
        "{header_line}"
    );
    assert!(
        !header_line.contains("Secure"),
        "no TLS on localhost: {header_line}"
    );
    let (refresh, _) = set_cookie(&signed_in, "hocthi_refresh").expect("the refresh cookie");
    let cookies = format!("hocthi_access={access}; hocthi_refresh={refresh}");

    // Reading with the cookie works like a bearer token.
    let me = http
        .get(format!("{site}/api/v1/me"))
        .header(header::COOKIE, &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);

    // A page's failure answers a page, in Vietnamese, not the API's JSON.
    let missing = http
        .get(format!("{site}/exam/{}", uuid::Uuid::new_v4()))
        .header(header::COOKIE, &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(
        missing.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("Không tìm thấy bài làm")
    );

    // A change with the cookie needs this service's Origin: none, or another site's, is refused.
    let change = |origin: Option<&'static str>| {
        let http = http.clone();
        let site = site.clone();
        let cookies = cookies.clone();
        async move {
            let mut request = http
                .post(format!("{site}/api/v1/schools"))
                .header(header::COOKIE, cookies)
                .json(&serde_json::json!({ "code": "THPT-WEB", "name": "Trường THPT Thử Trang", "level": "THPT" }));
            if let Some(origin) = origin {
                request = request.header(header::ORIGIN, origin.replace("SITE", &site));
            }
            request.send().await.unwrap()
        }
    };
    let no_origin = change(None).await;
    assert_eq!(no_origin.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = no_origin.json().await.unwrap();
    assert_eq!(body["code"], "cross_site_request");
    assert_eq!(
        change(Some("https://evil.example")).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(change(Some("SITE")).await.status(), StatusCode::CREATED);
    let schools = app
        .get("/api/v1/schools", Some(&app.admin_token().await))
        .await;
    assert_eq!(
        schools.text.matches("THPT-WEB").count(),
        1,
        "only the request from the service's own page was carried out"
    );

    // Renewal rotates the refresh cookie; the old one presented again ends the session.
    let renewed = http
        .post(format!("{site}/session/renew"))
        .header(header::ORIGIN, &site)
        .header(header::COOKIE, &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(renewed.status(), StatusCode::OK);
    let (new_access, _) = set_cookie(&renewed, "hocthi_access").unwrap();
    let (new_refresh, _) = set_cookie(&renewed, "hocthi_refresh").unwrap();
    assert_ne!(new_refresh, refresh);
    let replayed = http
        .post(format!("{site}/session/renew"))
        .header(header::ORIGIN, &site)
        .header(header::COOKIE, &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED);
    let after_replay = http
        .get(format!("{site}/api/v1/me"))
        .header(header::COOKIE, format!("hocthi_access={new_access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        after_replay.status(),
        StatusCode::UNAUTHORIZED,
        "the family is revoked"
    );

    // Sign-out: the page and the API both stop taking the cookie.
    let fresh = sign_in("").await;
    let (access, _) = set_cookie(&fresh, "hocthi_access").unwrap();
    let cookie = format!("hocthi_access={access}");
    let out = http
        .post(format!("{site}/sign-out"))
        .header(header::ORIGIN, &site)
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(&out, "hocthi_access").is_some_and(|(v, _)| v.is_empty()));
    let api = http
        .get(format!("{site}/api/v1/me"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    let page = http
        .get(format!("{site}/my/exams"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert!(
        page.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/sign-in")
    );

    // Every page carries the strict policy: no inline script or style anywhere.
    let home = http.get(format!("{site}/")).send().await.unwrap();
    let policy = home.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"),
        "{policy}"
    );
    let html = home.text().await.unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "inline code in the page"
    );
    let stylesheet = html
        .split("href=\"")
        .filter_map(|p| p.split('"').next())
        .find(|p| p.starts_with("/static/site."))
        .expect("the stylesheet's hashed address");
    let asset = http
        .get(format!("{site}{stylesheet}"))
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(
        asset.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    // Compressed for browsers that take it (the client here may undo it before the test sees
    // the header; the browser test measures the compressed sizes).
    assert_eq!(asset.headers()[header::VARY], "Accept-Encoding");
}
