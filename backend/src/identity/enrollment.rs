//! Supervised passkey enrollment: a teacher or proctor of the student's own school issues a short
//! code for one student, or opens a session for a class; the student, signed in with their own
//! password, registers a passkey with it in front of them. A code never binds a passkey to an
//! account without that account's own session, so no supervisor can enroll themselves as the
//! student (SECURITY.md, finding 1). Codes live in the hot store (only their hash as the key)
//! and are spent when registration finishes: once for a student's code, once per student for a
//! class session.
use std::time::Duration;

use actix_web::{post, web};
use chrono::{DateTime, Utc};
use rand::Rng;
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    audit::{self, Event},
    auth::{CurrentUser, Scope, roles::Role},
    entities::{class, user},
    error::{ApiError, Problem},
    request::RequestMeta,
    state::AppState,
};

/// Who may supervise an enrollment.
const SUPERVISORS: &[Role] = &[Role::Teacher, Role::Proctor, Role::SchoolAdmin];
/// A student's own code lasts this long.
const STUDENT_CODE_MINUTES: i64 = 10;
/// No letters or digits that read alike (0/O, 1/I/L).
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// Wrong codes per address within ten minutes before 429: a code has ~40 bits, this keeps
/// guessing hopeless.
const WRONG_CODES_PER_ADDRESS: i64 = 30;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(issue_student_enrollment_code)
        .service(open_class_enrollment_session);
}

#[derive(Serialize, Deserialize)]
struct Grant {
    student: Option<Uuid>,
    class: Option<Uuid>,
    issued_by: Uuid,
    expires_at: DateTime<Utc>,
}

fn code_key(hash: &str) -> String {
    format!("enroll:{hash}")
}

fn spent_key(hash: &str, student: Option<Uuid>) -> String {
    match student {
        Some(s) => format!("enroll-spent:{hash}:{s}"),
        None => format!("enroll-spent:{hash}"),
    }
}

/// Upper case, no separators: "k7m2-pq4x" and "K7M2 PQ4X" are the same code.
fn hash_code(code: &str) -> String {
    let clean: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    hex::encode(Sha256::digest(clean.as_bytes()))
}

fn new_code() -> String {
    let mut rng = rand::rng();
    let chars: String = (0..8)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{}-{}", &chars[..4], &chars[4..])
}

#[derive(Serialize, ToSchema)]
pub struct EnrollmentCode {
    /// Shown to the student (e.g. "K7M2-PQ4X"); only its hash is kept.
    pub code: String,
    pub expires_at: DateTime<Utc>,
    /// The student, for a student's code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    /// The class, for a class session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
}

async fn issue(
    state: &AppState,
    meta: &RequestMeta,
    grant: Grant,
    target: (&str, Uuid),
) -> Result<(String, DateTime<Utc>), ApiError> {
    let code = new_code();
    let lifetime = (grant.expires_at - state.clock.now())
        .to_std()
        .unwrap_or(Duration::from_secs(60));
    let bytes = serde_json::to_vec(&grant).map_err(|e| ApiError::Unexpected(e.into()))?;
    let txn = audit::Change::begin(&state.db).await?;
    state
        .hot
        .set(&code_key(&hash_code(&code)), &bytes, lifetime)
        .await
        .map_err(ApiError::from)?;
    txn.commit(
        meta,
        Event::by(
            grant.issued_by,
            "passkey.enrollment_opened",
            target.0,
            target.1,
            json!({ "expires_at": grant.expires_at }),
        ),
    )
    .await?;
    Ok((code, grant.expires_at))
}

/// Issues a 10-minute enrollment code for one student (teachers, proctors and school admins of
/// the student's own school; not province-level staff). The student redeems it signed in.
#[utoipa::path(tag = "passkeys", security(("bearer" = [])), params(("user_id" = Uuid, Path)), responses(
    (status = 201, body = EnrollmentCode), (status = 422, description = "not_a_student", body = Problem)))]
#[post("/users/{user_id}/passkey-enrollment")]
async fn issue_student_enrollment_code(
    state: web::Data<AppState>,
    meta: RequestMeta,
    supervisor: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<actix_web::HttpResponse, ApiError> {
    supervisor.require(SUPERVISORS, supervisor.home())?;
    let student = user::Entity::find_by_id(path.into_inner())
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("user_not_found"))?;
    let school = student
        .school_id
        .ok_or(ApiError::NotFound("user_not_found"))?;
    require_supervisor_of(&supervisor, school)?;
    if !crate::auth::roles::from_db(&student.roles).contains(&Role::Student) {
        return Err(ApiError::field("user_id", "not_a_student"));
    }
    let grant = Grant {
        student: Some(student.id),
        class: None,
        issued_by: supervisor.id,
        expires_at: state.clock.now() + chrono::Duration::minutes(STUDENT_CODE_MINUTES),
    };
    let (code, expires_at) = issue(&state, &meta, grant, ("user", student.id)).await?;
    Ok(actix_web::HttpResponse::Created().json(EnrollmentCode {
        code,
        expires_at,
        full_name: Some(student.full_name),
        class_name: None,
    }))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct ClassSessionRequest {
    /// How long the session stays open: 5-120 minutes, default 45 (one lesson).
    #[serde(default)]
    pub minutes: Option<i64>,
}

/// Opens a supervised enrollment session for a class: each of its students, signed in with
/// their password, registers one passkey with the session's code.
#[utoipa::path(tag = "passkeys", security(("bearer" = [])), params(("class_id" = Uuid, Path)), request_body = ClassSessionRequest, responses(
    (status = 201, body = EnrollmentCode), (status = 422, body = Problem)))]
#[post("/classes/{class_id}/passkey-enrollment")]
async fn open_class_enrollment_session(
    state: web::Data<AppState>,
    meta: RequestMeta,
    supervisor: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Bytes,
) -> Result<actix_web::HttpResponse, ApiError> {
    supervisor.require(SUPERVISORS, supervisor.home())?;
    let body: ClassSessionRequest = crate::error::optional_json(&body)?;
    let minutes = body.minutes.unwrap_or(45);
    if !(5..=120).contains(&minutes) {
        return Err(ApiError::field("minutes", "out_of_range"));
    }
    let class = class::Entity::find_by_id(path.into_inner())
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("class_not_found"))?;
    require_supervisor_of(&supervisor, class.school_id)?;
    let grant = Grant {
        student: None,
        class: Some(class.id),
        issued_by: supervisor.id,
        expires_at: state.clock.now() + chrono::Duration::minutes(minutes),
    };
    let (code, expires_at) = issue(&state, &meta, grant, ("class", class.id)).await?;
    Ok(actix_web::HttpResponse::Created().json(EnrollmentCode {
        code,
        expires_at,
        full_name: None,
        class_name: Some(class.name),
    }))
}

/// A supervisor works in the student's own school: staff of the province, who act in every
/// school, do not supervise enrollments there.
fn require_supervisor_of(supervisor: &CurrentUser, school: Uuid) -> Result<(), ApiError> {
    supervisor.require(SUPERVISORS, Scope::School(school))?;
    if supervisor.school != Some(school) {
        return Err(ApiError::Forbidden("enrollment_needs_school_staff"));
    }
    Ok(())
}

async fn grant_for(state: &AppState, hash: &str) -> Result<Option<Grant>, ApiError> {
    let bytes = state
        .hot
        .get(&code_key(hash))
        .await
        .map_err(ApiError::from)?;
    Ok(bytes.and_then(|b| serde_json::from_slice(&b).ok()))
}

async fn spent(state: &AppState, key: &str) -> Result<bool, ApiError> {
    Ok(state.hot.get(key).await.map_err(ApiError::from)?.is_some())
}

/// The account a code enrolls, without spending it: always the signed-in caller's own, who must be
/// the code's student (or in the session's class). Wrong codes count against the address (a
/// whole school may share one), right ones do not.
pub async fn redeemable(
    state: &AppState,
    meta: &RequestMeta,
    code: &str,
    signed_in: Option<&CurrentUser>,
) -> Result<(user::Model, String), ApiError> {
    let address = meta
        .ip
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into());
    let tries_key = format!("enroll-wrong:{address}");
    let wrong = state
        .hot
        .get(&tries_key)
        .await
        .map_err(ApiError::from)?
        .and_then(|v| String::from_utf8(v).ok()?.parse::<i64>().ok())
        .unwrap_or(0);
    if wrong >= WRONG_CODES_PER_ADDRESS {
        return Err(ApiError::TooManyRequests {
            code: "too_many_enrollment_attempts",
            retry_after_secs: 600,
        });
    }
    let outcome = redeem(state, code, signed_in).await;
    if let Err(ApiError::NotFound(_) | ApiError::Conflict(_)) = outcome {
        state
            .hot
            .incr(&tries_key, 1, Duration::from_secs(600))
            .await
            .map_err(ApiError::from)?;
    }
    outcome
}

async fn redeem(
    state: &AppState,
    code: &str,
    signed_in: Option<&CurrentUser>,
) -> Result<(user::Model, String), ApiError> {
    let hash = hash_code(code);
    let Some(grant) = grant_for(state, &hash).await? else {
        return Err(if spent(state, &spent_key(&hash, None)).await? {
            ApiError::Conflict("enrollment_code_used")
        } else {
            ApiError::NotFound("enrollment_code_unknown")
        });
    };
    if state.clock.now() > grant.expires_at {
        return Err(ApiError::Conflict("enrollment_code_expired"));
    }
    let me = signed_in.ok_or(ApiError::Unauthorized("unauthenticated"))?;
    let account = match (grant.student, grant.class) {
        (Some(student), _) => {
            if me.id != student {
                return Err(ApiError::Forbidden("enrollment_code_not_yours"));
            }
            me.account(&state.db).await?
        }
        (None, Some(class)) => {
            let account = me.account(&state.db).await?;
            if account.class_id != Some(class) {
                return Err(ApiError::Forbidden("not_in_class"));
            }
            if spent(state, &spent_key(&hash, Some(account.id))).await? {
                return Err(ApiError::Conflict("enrollment_code_used"));
            }
            account
        }
        (None, None) => return Err(ApiError::NotFound("enrollment_code_unknown")),
    };
    Ok((account, hash))
}

/// Spends the code for `owner` once registration verified; answers who supervised it.
pub async fn spend(state: &AppState, hash: &str, owner: Uuid) -> Result<Uuid, ApiError> {
    let grant = grant_for(state, hash)
        .await?
        .ok_or(ApiError::Conflict("enrollment_code_used"))?;
    if state.clock.now() > grant.expires_at {
        return Err(ApiError::Conflict("enrollment_code_expired"));
    }
    let lifetime = Duration::from_secs(24 * 3600);
    if grant.student.is_some() {
        // Taken exactly once: a second registration racing on the same code finds it gone.
        state
            .hot
            .take(&code_key(hash))
            .await
            .map_err(ApiError::from)?
            .ok_or(ApiError::Conflict("enrollment_code_used"))?;
        state
            .hot
            .set(&spent_key(hash, None), b"1", lifetime)
            .await
            .map_err(ApiError::from)?;
    } else {
        let uses = state
            .hot
            .incr(&spent_key(hash, Some(owner)), 1, lifetime)
            .await
            .map_err(ApiError::from)?;
        if uses > 1 {
            return Err(ApiError::Conflict("enrollment_code_used"));
        }
    }
    Ok(grant.issued_by)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_alike_however_typed() {
        let code = new_code();
        assert_eq!(code.len(), 9);
        assert!(
            code.chars()
                .all(|c| c == '-' || ALPHABET.contains(&(c as u8)))
        );
        assert_eq!(
            hash_code(&code),
            hash_code(&code.to_lowercase().replace('-', " "))
        );
        assert_ne!(hash_code("AAAA-AAAA"), hash_code("AAAA-AAAB"));
    }
}
