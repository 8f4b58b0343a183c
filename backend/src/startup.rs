//! Builds the application exactly as production runs it: stores, keys, the one route table.
use std::{net::TcpListener, sync::Arc};

use actix_cors::Cors;
use actix_web::{
    App, HttpServer,
    dev::Server,
    middleware::{Condition, DefaultHeaders, from_fn},
    web,
};
use anyhow::Context;
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, scope};
use utoipa_swagger_ui::SwaggerUi;

use crate::{
    auth,
    auth::{password::Passwords, tokens::KeySet},
    bootstrap,
    config::Settings,
    error, health, org,
    state::AppState,
    stores::{
        blob::{LocalBlobStore, S3BlobStore, SharedBlobStore},
        blob_http, db,
        hot::{self, RedisHotStore, SharedHotStore},
    },
    telemetry,
};

/// JSON bodies larger than this are refused with 413.
pub const JSON_LIMIT: usize = 256 * 1024;
/// Uploaded files handled in memory by the API (rosters, imports).
pub const FILE_LIMIT: usize = 10 * 1024 * 1024;

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    jobs: crate::jobs::Jobs,
    /// The first admin's generated password, to be printed once.
    pub bootstrap: Option<bootstrap::FirstAdmin>,
    /// What the first start loaded from `content-samples/`, to be printed once.
    pub seeded: Option<crate::seed::SeedReport>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&settings.data_dir).with_context(|| {
            format!(
                "cannot create the data folder {}",
                settings.data_dir.display()
            )
        })?;
        let database_url = settings
            .database_url
            .clone()
            .unwrap_or_else(|| db::sqlite_url(&settings.data_dir));
        let db = db::connect(&database_url, settings.db_pool_size).await?;
        db::migrate(&db).await?;

        let hot: SharedHotStore = match &settings.redis_url {
            Some(url) => Arc::new(RedisHotStore::connect(url, &settings.hot_prefix).await?),
            None => hot::memory(),
        };

        let listener = TcpListener::bind(&settings.listen)
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let port = listener.local_addr()?.port();
        let public_url = settings.public_url.clone().unwrap_or_else(|| {
            let host = settings
                .listen
                .rsplit_once(':')
                .map(|(h, _)| h)
                .unwrap_or("127.0.0.1");
            let host = if host == "0.0.0.0" { "127.0.0.1" } else { host };
            format!("http://{host}:{port}")
        });

        let (blobs, local_blobs): (SharedBlobStore, _) = match &settings.s3 {
            Some(s3) => (Arc::new(S3BlobStore::connect(s3).await?), None),
            None => {
                let secret = auth::tokens::load_or_create_secret(
                    &settings.data_dir.join("keys").join("url-signing.key"),
                )?;
                let local = Arc::new(LocalBlobStore::new(
                    settings.data_dir.join("blobs"),
                    public_url.clone(),
                    secret,
                )?);
                (local.clone() as SharedBlobStore, Some(local))
            }
        };

        let webauthn = Arc::new(crate::identity::passkeys::build_webauthn(
            settings.webauthn_rp_id.as_deref(),
            &settings.webauthn_origins,
            &public_url,
            port,
        )?);
        let keys = Arc::new(KeySet::load(&settings)?);
        let passwords = Passwords::new(
            settings.password_hash_concurrency,
            settings.password_hash_nice,
        );
        let pii_secret = secret_from(
            settings.pii_key.as_ref(),
            settings.pii_key_file.as_deref(),
            "HOCTHI_PII_KEY",
            &settings.data_dir.join("keys").join("pii.key"),
        )?;
        let audit_key = crate::audit_key::AuditKey::new(&secret_from(
            settings.audit_key.as_ref(),
            settings.audit_key_file.as_deref(),
            "HOCTHI_AUDIT_KEY",
            &settings.data_dir.join("keys").join("audit.key"),
        )?)?;
        crate::audit::seal_legacy(&db, &audit_key).await?;
        let vault = Arc::new(crate::identity::vault::Vault::new(&pii_secret)?);
        crate::identity::reseal_legacy(&db, &vault).await?;
        let clock = crate::clock::ServerClock::default();
        let exams = Arc::new(crate::exams::Engine::start(
            db.clone(),
            hot.clone(),
            clock.clone(),
            &settings,
        ));
        let settings_max_in_flight = settings.max_in_flight;
        let revocations = Arc::new(auth::revocations::Revocations::new(
            hot.clone(),
            settings.access_token_ttl,
        ));
        let state = AppState {
            settings: Arc::new(settings),
            db,
            hot,
            blobs,
            local_blobs,
            keys,
            revocations,
            passwords,
            clock,
            exams,
            vault,
            webauthn,
            audit_key,
            admission: crate::admission::Admission::new(settings_max_in_flight),
            imports: Arc::new(crate::imports::ImportQueue::for_this_machine()),
        };
        let bootstrap = bootstrap::ensure_first_admin(&state).await?;
        let seeded = if state.settings.seed_on_first_start
            && bootstrap.is_some()
            && state.settings.is_embedded()
        {
            crate::seed::seed_if_present(&state).await?
        } else {
            None
        };
        telemetry::metrics_handle();
        let jobs = crate::jobs::Jobs::start(crate::jobs::of(&state));

        let server = serve(listener, state.clone())?;
        Ok(Self {
            port,
            server,
            state,
            jobs,
            bootstrap,
            seeded,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until the server stops (a signal), then stops the background jobs.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.jobs.stop().await;
        served
    }

    /// The server alone, for a harness that runs it; the background jobs go on for the life
    /// of the runtime.
    pub fn into_server(self) -> Server {
        self.server
    }
}

/// A secret from its variable (base64, 32+ bytes), else from the file its `_FILE` variable
/// names (base64 too: a secret store's mount), else from (or into) a file of the data folder,
/// where the embedded default keeps its keys beside its database.
fn secret_from(
    value: Option<&crate::config::Secret>,
    file: Option<&std::path::Path>,
    variable: &str,
    default_file: &std::path::Path,
) -> anyhow::Result<Vec<u8>> {
    use base64::Engine;
    let text = match (value, file) {
        (Some(value), _) => value.expose().to_owned(),
        (None, Some(file)) => std::fs::read_to_string(file)
            .with_context(|| format!("{variable}_FILE: cannot read {}", file.display()))?,
        (None, None) => return auth::tokens::load_or_create_secret(default_file),
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .with_context(|| format!("{variable}: not base64"))?;
    anyhow::ensure!(bytes.len() >= 32, "{variable}: needs at least 32 bytes");
    Ok(bytes)
}

fn serve(listener: TcpListener, state: AppState) -> anyhow::Result<Server> {
    let workers = state.settings.workers;
    let origins = state.settings.cors_origins.clone();
    let behind_tls = state
        .settings
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    let request_settings = web::Data::new(crate::request::RequestSettings {
        trusted_proxies: state.settings.trusted_proxies.clone(),
        chain: state.audit_key.clone(),
        public_url: state.settings.public_url.clone(),
    });
    let admission = web::Data::from(state.admission.clone());
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        let (app, api) = App::new()
            .into_utoipa_app()
            .openapi(crate::api_doc::ApiDoc::openapi())
            .app_data(data.clone())
            .app_data(request_settings.clone())
            .app_data(admission.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(JSON_LIMIT)
                    .error_handler(error::json_error),
            )
            .app_data(web::PayloadConfig::new(FILE_LIMIT))
            .app_data(web::QueryConfig::default().error_handler(error::query_error))
            .app_data(web::PathConfig::default().error_handler(error::path_error))
            .service(
                // The router tries routes in this order, each pattern a regex match: a sitting's
                // candidates (heartbeats, saves) come first so their requests match at once.
                scope("/api/v1")
                    .configure(crate::exams::configure)
                    .configure(auth::configure)
                    .configure(org::configure)
                    .configure(crate::audit_log::configure)
                    .configure(crate::questions::configure)
                    .configure(crate::content::configure)
                    .configure(crate::identity::configure)
                    .configure(crate::notices::configure),
            )
            .service(auth::routes::jwks)
            .configure(health::configure)
            .split_for_parts();
        let api = crate::api_doc::finish(api);
        let routes = Arc::new(crate::api_doc::Routes::of(&api));
        app.service(
            SwaggerUi::new("/docs/{_:.*}")
                .external_urls_from_iter_unchecked([("/openapi.json", api)]),
        )
        .configure(blob_http::configure)
        .configure(crate::webapp::configure)
        .configure(crate::exams::pages::configure)
        .configure(crate::exams::room_pages::configure)
        .default_service(web::to(move |req: actix_web::HttpRequest| {
            let routes = routes.clone();
            async move { routes.refuse(&req) }
        }))
        .wrap(from_fn(crate::nul::refuse_nul))
        .wrap(security_headers(behind_tls))
        .wrap(from_fn(crate::admission::admit))
        .wrap(Condition::new(!origins.is_empty(), cors(&origins)))
        .wrap(from_fn(telemetry::request_context))
    })
    .workers(workers)
    .listen(listener)?
    .run();
    Ok(server)
}

/// On every response: browsers take the declared type as it is and send no page address to
/// other sites; behind TLS (a public `https://` URL) they keep to HTTPS for a year.
fn security_headers(behind_tls: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"));
    if behind_tls {
        headers.add(("Strict-Transport-Security", "max-age=31536000"))
    } else {
        headers
    }
}

/// Cross-origin browser access only for the listed origins (e.g. a K12Online-style front end);
/// with none listed, no CORS headers are sent and browsers keep to same-origin.
fn cors(origins: &[String]) -> Cors {
    use actix_web::http::header;
    origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
        ])
        .allowed_header("x-request-id")
        .expose_headers(["x-request-id", "retry-after", "etag"])
        .max_age(3600)
}
