//! The test harness: starts the real service (port 0) per test, on the embedded stores or on
//! PostgreSQL, Redis and S3, each test with its own database, hot-store prefix and blob prefix.
use std::{collections::HashMap, path::PathBuf};

use hocthi::{config::Settings, startup::Application, state::AppState};
use serde_json::{Value, json};
use uuid::Uuid;

pub const ADMIN_LOGIN: &str = "admin@so.edu.vn";
pub const ADMIN_PASSWORD: &str = "Mật-khẩu-thử-nghiệm-2025";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stores {
    Embedded,
    Real,
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub stores: Stores,
    data_dir: PathBuf,
    database: Option<(String, String)>,
    vars: HashMap<String, String>,
    server: actix_web::dev::ServerHandle,
    /// False for a second instance: the first one cleans the stores up.
    owns_stores: bool,
}

/// Runs a test body once on the embedded stores and once on the real ones.
#[macro_export]
macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                super::$name($crate::spawn_app($crate::Stores::Embedded).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn real_stores() {
                if let Some(app) = $crate::spawn_real_app().await {
                    super::$name(app).await
                }
            }
        }
    )*};
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The real-store app, or `None` (a skip) when no store is configured and none is required.
pub async fn spawn_real_app() -> Option<TestApp> {
    spawn_real_app_with(|_| {}).await
}

/// A real-store app with some variables changed, or None when the stores are not configured
/// (a failure instead when `HOCTHI_TEST_REQUIRE_SERVICES=1`).
pub async fn spawn_real_app_with(
    adjust: impl FnOnce(&mut HashMap<String, String>),
) -> Option<TestApp> {
    let required = env("HOCTHI_TEST_REQUIRE_SERVICES").is_some_and(|v| v == "1");
    let missing: Vec<&str> = ["DATABASE_URL", "REDIS_URL", "S3_ENDPOINT", "S3_BUCKET"]
        .into_iter()
        .filter(|n| env(n).is_none())
        .collect();
    if !missing.is_empty() {
        assert!(
            !required,
            "HOCTHI_TEST_REQUIRE_SERVICES=1 but {missing:?} are not set"
        );
        eprintln!("skipped: real stores not configured ({missing:?} unset)");
        return None;
    }
    Some(spawn_app_with(Stores::Real, adjust).await)
}

pub async fn spawn_app(stores: Stores) -> TestApp {
    spawn_app_with(stores, |_| {}).await
}

pub async fn spawn_app_with(
    stores: Stores,
    adjust: impl FnOnce(&mut HashMap<String, String>),
) -> TestApp {
    let id = Uuid::new_v4().simple().to_string();
    let data_dir = std::env::temp_dir().join("hocthi-tests").join(&id);
    let mut vars: HashMap<String, String> = [
        ("HOCTHI_LISTEN", "127.0.0.1:0".to_owned()),
        ("HOCTHI_DATA_DIR", data_dir.display().to_string()),
        (
            "HOCTHI_BOOTSTRAP_ADMIN",
            format!("{ADMIN_LOGIN}:{ADMIN_PASSWORD}"),
        ),
        ("HOCTHI_SEED_ON_FIRST_START", "0".to_owned()),
        ("HOCTHI_TRUSTED_PROXIES", "127.0.0.1".to_owned()),
        ("HOCTHI_LOG_FORMAT", "pretty".to_owned()),
        // Tests drive the sweeper themselves (`hocthi::exams::sweeper::sweep_once`).
        ("HOCTHI_SWEEP_INTERVAL_MS", "0".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut database = None;
    if stores == Stores::Real {
        let server_url = env("DATABASE_URL").expect("DATABASE_URL");
        let name = format!("hocthi_test_{id}");
        create_database(&server_url, &name).await;
        vars.insert("DATABASE_URL".into(), with_database(&server_url, &name));
        vars.insert("REDIS_URL".into(), env("REDIS_URL").expect("REDIS_URL"));
        vars.insert("HOCTHI_HOT_PREFIX".into(), format!("test:{id}:"));
        for name in [
            "S3_ENDPOINT",
            "S3_PUBLIC_ENDPOINT",
            "S3_BUCKET",
            "S3_REGION",
            "S3_ACCESS_KEY_ID",
            "S3_SECRET_ACCESS_KEY",
        ] {
            if let Some(v) = env(name) {
                vars.insert(name.into(), v);
            }
        }
        vars.insert("S3_PREFIX".into(), format!("test-{id}"));
        database = Some((server_url, name));
    }
    adjust(&mut vars);
    start(stores, vars, data_dir, database).await
}

async fn start(
    stores: Stores,
    vars: HashMap<String, String>,
    data_dir: PathBuf,
    database: Option<(String, String)>,
) -> TestApp {
    let settings = Settings::from_map(&vars).expect("test settings are valid");
    let app = Application::build(settings)
        .await
        .expect("the application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    let server = app.into_server();
    let handle = server.handle();
    tokio::spawn(server);
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        state,
        stores,
        data_dir,
        database,
        vars,
        server: handle,
        owns_stores: true,
    }
}

fn with_database(server_url: &str, name: &str) -> String {
    let (base, query) = server_url
        .split_once('?')
        .map(|(b, q)| (b, Some(q)))
        .unwrap_or((server_url, None));
    let base = match base.rfind('/') {
        Some(i) if i > base.find("://").map(|s| s + 2).unwrap_or(0) => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

async fn create_database(server_url: &str, name: &str) {
    use sea_orm::{ConnectionTrait, Database};
    let admin = Database::connect(server_url)
        .await
        .expect("PostgreSQL is reachable at DATABASE_URL");
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create the test database");
    admin.close().await.ok();
}

impl TestApp {
    /// Another instance of the service on the same stores (database, hot store, blobs), as a
    /// second server behind a load balancer or the same service after a restart. The first
    /// instance keeps the stores and cleans them up.
    pub async fn another_instance(&self) -> TestApp {
        self.another_instance_with(|_| {}).await
    }

    /// The same, with some settings changed.
    pub async fn another_instance_with(
        &self,
        adjust: impl FnOnce(&mut HashMap<String, String>),
    ) -> TestApp {
        let mut vars = self.vars.clone();
        adjust(&mut vars);
        let mut twin = start(self.stores, vars, self.data_dir.clone(), None).await;
        twin.owns_stores = false;
        twin
    }

    /// Stops this instance's HTTP server, as a crash or a restart would.
    pub async fn stop(&self) {
        self.server.stop(false).await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if self.owns_stores {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
        if let Some((server_url, name)) = self.database.take() {
            // The runtime is going away with the test: drop the database from a thread of its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    use sea_orm::{ConnectionTrait, Database};
                    if let Ok(admin) = Database::connect(&server_url).await {
                        let _ = admin
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            ))
                            .await;
                        let _ = admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// A response read whole, for assertions.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestApp {
    /// The service's data folder (its generated keys live in `keys/`).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request
            .send()
            .await
            .expect("the request reaches the service");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = self.client.get(self.url(path));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        self.send(request).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        let mut request = self.client.post(self.url(path)).json(&body);
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        self.send(request).await
    }

    pub async fn login(&self, login: &str, password: &str) -> Reply {
        self.post(
            "/api/v1/auth/login",
            None,
            json!({ "login": login, "password": password }),
        )
        .await
    }

    /// Signs in and returns the access token, failing the test if it cannot.
    pub async fn token(&self, login: &str, password: &str) -> String {
        let reply = self.login(login, password).await;
        assert_eq!(
            reply.status, 200,
            "sign-in as {login} failed: {}",
            reply.text
        );
        reply.body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn admin_token(&self) -> String {
        self.token(ADMIN_LOGIN, ADMIN_PASSWORD).await
    }

    pub async fn create_school(&self, token: &str, code: &str, name: &str) -> Uuid {
        let reply = self
            .post(
                "/api/v1/schools",
                Some(token),
                json!({ "code": code, "name": name, "level": "THPT" }),
            )
            .await;
        assert_eq!(reply.status, 201, "create school: {}", reply.text);
        reply.body["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn create_class(&self, token: &str, school: Uuid, name: &str) -> Uuid {
        let reply = self
            .post(
                &format!("/api/v1/schools/{school}/classes"),
                Some(token),
                json!({ "name": name, "grade": 12, "school_year": "2025-2026" }),
            )
            .await;
        assert_eq!(reply.status, 201, "create class: {}", reply.text);
        reply.body["id"].as_str().unwrap().parse().unwrap()
    }

    /// Creates an account with a known password and returns its id.
    pub async fn create_user(
        &self,
        token: &str,
        login: &str,
        roles: &[&str],
        school: Option<Uuid>,
    ) -> Uuid {
        let reply = self
            .post(
                "/api/v1/users",
                Some(token),
                json!({ "login": login, "password": "mat-khau-123", "full_name": "Nguyễn Văn Thử", "roles": roles, "school_id": school }),
            )
            .await;
        assert_eq!(reply.status, 201, "create user {login}: {}", reply.text);
        reply.body["user"]["id"].as_str().unwrap().parse().unwrap()
    }
}

pub const USER_PASSWORD: &str = "mat-khau-123";
