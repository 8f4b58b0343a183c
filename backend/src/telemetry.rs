//! Logs (JSON in production, readable when embedded), request ids, per-request spans and
//! Prometheus metrics.
use std::{sync::OnceLock, time::Instant};

use actix_web::{
    Error, ResponseError,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::Instrument;
use tracing_subscriber::{EnvFilter, fmt};

use crate::{
    config::LogFormat,
    error::ApiError,
    i18n::{self, Lang, RequestContext},
};

pub fn init(format: &LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

/// The process-wide recorder: metrics are global, however many apps run in one process.
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                &[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ],
            )
            .expect("valid buckets");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (a host program); ours still renders.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Accepts a sane incoming `X-Request-Id` or makes one; returns it; logs the request under it.
fn request_id_of(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Errors raised by actix itself (payload limits, extractors without our handler) are rewritten
/// into the one envelope, so no client ever sees a plain-text error.
fn in_envelope(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let Some(err) = response.response().error() else {
        return response;
    };
    // Our own errors, the API's and the pages' (which answer HTML), are already what they say.
    if err.as_error::<ApiError>().is_some() || err.as_error::<crate::webapp::PageError>().is_some()
    {
        return response;
    }
    let refused = err
        .as_error::<actix_web::error::PayloadError>()
        .and_then(crate::error::edge_refusal);
    let api_error = match response.status().as_u16() {
        _ if let Some(code) = refused => ApiError::BadRequest(code),
        413 => ApiError::PayloadTooLarge,
        404 => ApiError::NotFound("route_not_found"),
        405 => ApiError::MethodNotAllowed,
        415 => ApiError::UnsupportedMediaType,
        400..=499 => ApiError::BadRequest("malformed_body"),
        _ => ApiError::Unexpected(anyhow::anyhow!("{err}")),
    };
    let rewritten = api_error.error_response();
    response.into_response(rewritten)
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let request_id = request_id_of(&req);
    // The language a reader chose on the pages wins; pages are Vietnamese until then (school
    // computers often run an English browser), the API follows `Accept-Language`.
    let lang = crate::request::chosen_lang(req.request()).unwrap_or_else(|| {
        if req.path().starts_with("/api/") {
            Lang::from_accept_language(
                req.headers()
                    .get("accept-language")
                    .and_then(|v| v.to_str().ok()),
            )
        } else {
            Lang::Vi
        }
    });
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let span = tracing::info_span!("http", %method, %path, request_id = %request_id);
    let started = Instant::now();
    let context = RequestContext {
        request_id: request_id.clone(),
        lang,
    };
    let result = i18n::REQUEST
        .scope(
            context,
            async move {
                next.call(req)
                    .await
                    .map(|r| in_envelope(r.map_into_boxed_body()))
            }
            .instrument(span.clone()),
        )
        .await;
    let elapsed = started.elapsed();
    let mut response = result?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status().as_u16();
    metrics::histogram!("http_request_duration_seconds", "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
        .record(elapsed.as_secs_f64());
    span.in_scope(
        || tracing::info!(status, route = %route, ms = elapsed.as_secs_f64() * 1000.0, "request"),
    );
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    Ok(response)
}
