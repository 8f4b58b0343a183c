//! One error type for every handler and one JSON envelope for every error: RFC 9457
//! problem+json with a stable `code`, a `title` in the reader's language and field details.
use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use serde::Serialize;

use crate::i18n;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: &'static str,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str) -> Self {
        Self {
            field: field.into(),
            code,
            message: i18n::message(code),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("validation failed ({code})")]
    Validation {
        code: &'static str,
        fields: Vec<FieldError>,
    },
    #[error("bad request ({0})")]
    BadRequest(&'static str),
    #[error("unauthorized ({0})")]
    Unauthorized(&'static str),
    #[error("forbidden ({0})")]
    Forbidden(&'static str),
    #[error("not found ({0})")]
    NotFound(&'static str),
    #[error("conflict ({0})")]
    Conflict(&'static str),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("payload too large")]
    PayloadTooLarge,
    /// A storage quota would be exceeded (413 with its own code).
    #[error("quota exceeded ({0})")]
    Quota(&'static str),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("too many requests ({code})")]
    TooManyRequests {
        code: &'static str,
        retry_after_secs: u64,
    },
    #[error("unavailable")]
    Unavailable { retry_after_secs: u64 },
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

impl From<anyhow::Error> for ApiError {
    /// A store that cannot be reached (Redis restarting, a dropped connection, a timeout) is
    /// an outage the client should wait out, not our bug: 503 with Retry-After.
    fn from(err: anyhow::Error) -> Self {
        let outage = err.chain().any(|cause| {
            cause.downcast_ref::<redis::RedisError>().is_some_and(|e| {
                e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || e.is_timeout()
            })
        });
        if outage {
            tracing::warn!(error = %err, "hot store unavailable");
            return ApiError::Unavailable {
                retry_after_secs: 2,
            };
        }
        ApiError::Unexpected(err)
    }
}

impl ApiError {
    pub fn field(field: impl Into<String>, code: &'static str) -> Self {
        ApiError::Validation {
            code: "validation_failed",
            fields: vec![FieldError::new(field, code)],
        }
    }

    pub fn fields(fields: Vec<FieldError>) -> Self {
        ApiError::Validation {
            code: "validation_failed",
            fields,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation { code, .. } => code,
            ApiError::BadRequest(code)
            | ApiError::Unauthorized(code)
            | ApiError::NotFound(code)
            | ApiError::Forbidden(code)
            | ApiError::Conflict(code)
            | ApiError::Quota(code) => code,
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::TooManyRequests { code, .. } => code,
            ApiError::Unavailable { .. } => "service_unavailable",
            ApiError::Unexpected(_) => "internal_error",
        }
    }
}

/// The envelope, as the OpenAPI document describes it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem kind: `/problems/<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Human text in the language chosen by `Accept-Language` (Vietnamese by default).
    pub title: &'static str,
    pub status: u16,
    /// Stable machine-readable code.
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge | ApiError::Quota(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let request_id = i18n::current_request_id();
        if let ApiError::Unexpected(cause) = self {
            // The whole cause chain goes to the log, never to the client.
            tracing::error!(request_id = request_id.as_deref().unwrap_or("-"), error = ?cause, "unexpected error");
        }
        let code = self.code();
        let status = self.status_code();
        let errors = match self {
            ApiError::Validation { fields, .. } => fields.clone(),
            _ => Vec::new(),
        };
        let body = Problem {
            kind: format!("/problems/{code}"),
            title: i18n::message(code),
            status: status.as_u16(),
            code,
            request_id,
            errors,
        };
        let mut response = HttpResponse::build(status);
        response.content_type("application/problem+json");
        if let ApiError::TooManyRequests {
            retry_after_secs, ..
        }
        | ApiError::Unavailable { retry_after_secs } = self
        {
            response.insert_header(("Retry-After", retry_after_secs.to_string()));
        }
        if let ApiError::Unauthorized(_) = self {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        response.json(body)
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        match err {
            // A pool that cannot hand out a connection is overload or an outage: tell the client
            // to come back rather than calling it our bug.
            sea_orm::DbErr::ConnectionAcquire(_) | sea_orm::DbErr::Conn(_) => {
                tracing::warn!(error = %err, "database unavailable");
                ApiError::Unavailable {
                    retry_after_secs: 2,
                }
            }
            sea_orm::DbErr::Query(ref e) | sea_orm::DbErr::Exec(ref e) if connection_lost(e) => {
                tracing::warn!(error = %err, "database connection lost mid-request");
                ApiError::Unavailable {
                    retry_after_secs: 2,
                }
            }
            // Text with U+0000 from a binary file's parser: PostgreSQL cannot hold it, and the
            // transaction is rolled back, so nothing is half-written (the edge refuses the rest).
            sea_orm::DbErr::Query(ref e) | sea_orm::DbErr::Exec(ref e)
                if e.to_string().contains("0x00") =>
            {
                ApiError::BadRequest(NUL_FOUND)
            }
            other => ApiError::Unexpected(other.into()),
        }
    }
}

/// A statement that failed because its connection went away (the server shutting down or
/// restarting, a reset socket), not because of what it asked: the request can be retried.
fn connection_lost(err: &sea_orm::RuntimeErr) -> bool {
    use sea_orm::sqlx::Error;
    let sea_orm::RuntimeErr::SqlxError(e) = err else {
        return false;
    };
    match e.as_ref() {
        Error::Io(_) | Error::Tls(_) | Error::PoolTimedOut | Error::PoolClosed => true,
        // SQLSTATE class 08 (connection exception) and 57 (operator intervention:
        // admin_shutdown, crash_shutdown, cannot_connect_now).
        Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57")),
        _ => false,
    }
}

/// Maps actix's own extractor errors into the envelope.
/// The code of text refused for holding U+0000, and the payload error `nul.rs` raises for it.
pub const NUL_FOUND: &str = "nul_character";

/// A JSON body must be an object: serde reads a struct from an array too, and `POST /schools`
/// created a school from `["X", "Y"]`. No operation takes a top-level array.
pub const OBJECT_EXPECTED: &str = "json_object_expected";

/// The code of a body the edge (`nul.rs`) refused as it streamed, if it was one.
pub fn edge_refusal(err: &actix_web::error::PayloadError) -> Option<&'static str> {
    let actix_web::error::PayloadError::Io(e) = err else {
        return None;
    };
    [NUL_FOUND, OBJECT_EXPECTED]
        .into_iter()
        .find(|code| e.to_string() == *code)
}

pub fn json_error(
    err: actix_web::error::JsonPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    if let E::Payload(ref e) = err
        && let Some(code) = edge_refusal(e)
    {
        return ApiError::BadRequest(code).into();
    }
    match err {
        E::Overflow { .. } | E::OverflowKnownLength { .. } => ApiError::PayloadTooLarge,
        E::ContentType => ApiError::BadRequest("missing_content_type"),
        E::Deserialize(e) if e.is_data() => ApiError::BadRequest("json_wrong_type"),
        E::Payload(actix_web::error::PayloadError::Overflow) => ApiError::PayloadTooLarge,
        _ => ApiError::BadRequest("malformed_json"),
    }
    .into()
}

/// 422 as problem+json whose body is also a report (an import's rows, a matrix's cells), so a
/// client reads both the verdict and each line of it in one envelope.
pub fn rejected_with(code: &'static str, report: impl Serialize) -> HttpResponse {
    let mut body = serde_json::to_value(&report).unwrap_or_default();
    if let Some(fields) = body.as_object_mut() {
        fields.insert("type".into(), format!("/problems/{code}").into());
        fields.insert("title".into(), i18n::message(code).into());
        fields.insert("status".into(), 422.into());
        fields.insert("code".into(), code.into());
        if let Some(id) = i18n::current_request_id() {
            fields.insert("request_id".into(), id.into());
        }
    }
    HttpResponse::UnprocessableEntity()
        .content_type("application/problem+json")
        .json(body)
}

/// A page size as asked for (`limit`), within its documented range; absent means `default`.
pub fn page_limit(asked: Option<u64>, default: u64, max: u64) -> Result<u64, ApiError> {
    match asked {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::field("limit", "out_of_range")),
    }
}

/// A JSON body that may be left out (empty means the defaults); one that is sent must parse.
/// (`Option<web::Json<T>>` would take a malformed body as an absent one.)
pub fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::BadRequest(if e.is_data() {
            "json_wrong_type"
        } else {
            "malformed_json"
        })
    })
}

pub fn query_error(
    _err: actix_web::error::QueryPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::BadRequest("malformed_query").into()
}

pub fn path_error(
    _err: actix_web::error::PathError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::NotFound("malformed_path").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_hot_store_is_an_outage_not_a_bug() {
        let refused = redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        ));
        let err = ApiError::from(anyhow::Error::new(refused).context("GET revoked-session"));
        assert!(
            matches!(
                err,
                ApiError::Unavailable {
                    retry_after_secs: 2
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        let bug = ApiError::from(anyhow::anyhow!("a broken invariant"));
        assert_eq!(bug.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    /// What PostgreSQL answers a statement with, by SQLSTATE.
    #[derive(Debug)]
    struct Refusal(&'static str);

    impl std::fmt::Display for Refusal {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "SQLSTATE {}", self.0)
        }
    }

    impl std::error::Error for Refusal {}

    impl sea_orm::sqlx::error::DatabaseError for Refusal {
        fn message(&self) -> &str {
            "refused"
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some(self.0.into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sea_orm::sqlx::error::ErrorKind {
            sea_orm::sqlx::error::ErrorKind::Other
        }
    }

    fn failed_query(err: sea_orm::sqlx::Error) -> ApiError {
        ApiError::from(sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(
            std::sync::Arc::new(err),
        )))
    }

    #[test]
    fn a_database_going_away_mid_statement_is_an_outage_not_a_bug() {
        // The server shutting down (a restart), a connection failure, a reset socket.
        for err in [
            sea_orm::sqlx::Error::Database(Box::new(Refusal("57P01"))),
            sea_orm::sqlx::Error::Database(Box::new(Refusal("08006"))),
            sea_orm::sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "reset",
            )),
        ] {
            assert_eq!(
                failed_query(err).status_code(),
                StatusCode::SERVICE_UNAVAILABLE
            );
        }
        // A statement that is wrong stays our bug.
        let syntax = sea_orm::sqlx::Error::Database(Box::new(Refusal("42601")));
        assert_eq!(
            failed_query(syntax).status_code(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
