//! Liveness, readiness (each store checked with a timeout) and Prometheus metrics.
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, get, web};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::{error::ApiError, request::RequestMeta, state::AppState, telemetry};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(live).service(ready).service(metrics);
}

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Serialize, ToSchema)]
pub struct StoreStatus {
    /// `sqlite`/`postgres`, `memory`/`redis`, `local`/`s3`.
    pub kind: &'static str,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ReadyResponse {
    pub ready: bool,
    pub database: StoreStatus,
    pub hot_store: StoreStatus,
    pub blob_store: StoreStatus,
}

async fn check<F: Future<Output = anyhow::Result<()>>>(
    kind: &'static str,
    probe: F,
) -> StoreStatus {
    let error = match tokio::time::timeout(CHECK_TIMEOUT, probe).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(format!("{e:#}")),
        Err(_) => Some("timed out".to_owned()),
    };
    if let Some(e) = &error {
        tracing::warn!(store = kind, error = %e, "readiness check failed");
    }
    // The reason goes to the log; the response only says which store is down.
    StoreStatus {
        kind,
        ok: error.is_none(),
        error: error.map(|_| "unavailable".to_owned()),
    }
}

/// The process is up.
#[utoipa::path(tag = "health", responses((status = 200, description = "alive")))]
#[get("/health/live")]
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// Every store answers: 200 when all do, 503 otherwise.
#[utoipa::path(tag = "health", responses((status = 200, body = ReadyResponse), (status = 503, body = ReadyResponse)))]
#[get("/health/ready")]
async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let db_kind = match state.db.get_database_backend() {
        sea_orm::DbBackend::Postgres => "postgres",
        _ => "sqlite",
    };
    let (database, hot_store, blob_store) = tokio::join!(
        check(db_kind, async {
            state
                .db
                .execute_unprepared("SELECT 1")
                .await
                .map(|_| ())
                .map_err(Into::into)
        }),
        check(state.hot.kind(), state.hot.ping()),
        check(state.blobs.kind(), state.blobs.ping()),
    );
    let ready = database.ok && hot_store.ok && blob_store.ok;
    let body = ReadyResponse {
        ready,
        database,
        hot_store,
        blob_store,
    };
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Prometheus metrics in the text exposition format: with `HOCTHI_METRICS_TOKEN` set, for the
/// bearer of that token; without it, only for this host (the client address as the trusted
/// proxies tell it, so a proxy on this host does not open it to everyone).
#[utoipa::path(tag = "health", responses((status = 200, description = "metrics", content_type = "text/plain"),
    (status = 401, body = crate::error::Problem)))]
#[get("/metrics")]
async fn metrics(
    state: web::Data<AppState>,
    meta: RequestMeta,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let allowed = match &state.settings.metrics_token {
        Some(token) => req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| same(given.trim(), token.expose())),
        None => meta.ip.is_some_and(|ip| ip.is_loopback()),
    };
    if !allowed {
        return Err(ApiError::Unauthorized("metrics_token_required"));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(telemetry::metrics_handle().render()))
}

/// Compares without telling by its time how much matched.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
