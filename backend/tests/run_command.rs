//! The README's run command as a newcomer meets it: the binary on the embedded default, with
//! nothing configured, prints its URL and a first admin login that works.
use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

#[tokio::test]
async fn the_binary_starts_on_the_embedded_default_and_its_admin_signs_in() {
    let data = std::env::temp_dir().join(format!("hocthi-run-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_hocthi"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOCTHI_DATA_DIR", &data)
        .env("HOCTHI_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut url, mut password) = (None, None);
    // The service prints these two lines before it serves; reading blocks until they come.
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("HọcThi is running at ") {
            url = rest.split_whitespace().next().map(str::to_owned);
        }
        if line.starts_with("First province admin") {
            password = line.split('`').nth(3).map(str::to_owned);
            break;
        }
    }
    let (url, password) = (
        url.expect("the URL is printed"),
        password.expect("a one-time password is printed"),
    );
    let client = reqwest::Client::new();
    let ready = client
        .get(format!("{url}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    // A newcomer's first look: the printed address is `localhost` (where passkeys work) and
    // its root is the landing page, not an API error.
    assert!(url.starts_with("http://localhost:"), "{url}");
    let landing = client.get(format!("{url}/")).send().await.unwrap();
    assert_eq!(landing.status(), 200);
    assert!(
        landing.text().await.unwrap().contains("href=\"/my/exams\""),
        "the landing page leads students to their tests"
    );
    let tokens: serde_json::Value = client
        .post(format!("{url}/api/v1/auth/login"))
        .json(&serde_json::json!({ "login": "admin", "password": password }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let me: serde_json::Value = client
        .get(format!("{url}/api/v1/me"))
        .bearer_auth(tokens["access_token"].as_str().expect("signed in"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["roles"], serde_json::json!(["province_admin"]));
    child.kill().ok();
    child.wait().ok();
    std::fs::remove_dir_all(data).ok();
}
