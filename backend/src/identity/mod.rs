//! Identity for exams: ID-card numbers kept as a keyed hash plus a sealed value, and check-in by
//! the chip ID card's QR code, matched field by field against the registered candidate.
pub mod cccd;
pub mod consent;
pub mod enrollment;
pub mod offboarding;
pub mod passkeys;
pub mod photos;
pub mod vault;

use actix_web::{HttpResponse, get, post, put, web};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    audit::{self, Event},
    auth::{CurrentUser, Scope, roles::Role},
    entities::{candidate, exam_room, identity_number, incident_report, user},
    error::{ApiError, FieldError, Problem},
    request::RequestMeta,
    state::AppState,
    text::fold,
};

/// ID-card checks one person may make in a window: a room's worth, with retries.
const ID_CARD_CHECKS_PER_WINDOW: i64 = 120;
const ID_CARD_WINDOW_SECS: u64 = 600;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(set_id_number)
        .service(read_id_number)
        .service(check_in_with_card)
        .service(offboarding::offboard);
    consent::configure(cfg);
    photos::configure(cfg);
    passkeys::configure(cfg);
}

/// A user in the caller's reach as a school admin (province admins: everyone).
async fn user_in_reach(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
) -> Result<user::Model, ApiError> {
    user.require(&[Role::SchoolAdmin], user.home())?;
    let target = user::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("user_not_found"))?;
    let scope = target
        .school_id
        .map(Scope::School)
        .unwrap_or(Scope::Province);
    user.require(&[Role::SchoolAdmin], scope)?;
    Ok(target)
}

/// A sealed value that does not open for its row was moved there from another row, or written
/// under another key: the data is refused (409), never shown, and the fault logged.
pub fn unreadable(error: anyhow::Error) -> ApiError {
    tracing::error!(%error, "sealed personal data does not open for its row");
    ApiError::Conflict("personal_data_unreadable")
}

/// What a sealed ID number is bound to: its row (`vault`).
pub fn number_row(user: Uuid) -> String {
    format!("identity_numbers:{user}")
}

/// Seals again, bound to their rows, the values sealed before they were bound (ID numbers and
/// photos' keys). Runs at start-up; a no-op once every value is bound.
pub async fn reseal_legacy(
    db: &sea_orm::DatabaseConnection,
    vault: &vault::Vault,
) -> anyhow::Result<u64> {
    use crate::entities::photo;
    let txn = db.begin().await?;
    let mut resealed = 0;
    let numbers = identity_number::Entity::find()
        .filter(identity_number::Column::NumberSealed.not_like("v2.%"))
        .all(&txn)
        .await?;
    for row in numbers {
        let plain = vault.open_legacy(&row.number_sealed)?;
        let sealed = vault.seal(&plain, &number_row(row.user_id));
        let mut active: identity_number::ActiveModel = row.into();
        active.number_sealed = sea_orm::Set(sealed);
        active.update(&txn).await?;
        resealed += 1;
    }
    let photos = photo::Entity::find()
        .filter(photo::Column::WrappedKey.is_not_null())
        .filter(photo::Column::WrappedKey.not_like("v2.%"))
        .all(&txn)
        .await?;
    for row in photos {
        let Some(wrapped) = row.wrapped_key.clone() else {
            continue;
        };
        let plain = vault.open_legacy(&wrapped)?;
        let sealed = vault.seal(&plain, &photos::photo_row(row.id));
        let mut active: photo::ActiveModel = row.into();
        active.wrapped_key = sea_orm::Set(Some(sealed));
        active.update(&txn).await?;
        resealed += 1;
    }
    txn.commit().await?;
    if resealed > 0 {
        tracing::info!(values = resealed, "sealed personal data bound to its rows");
    }
    Ok(resealed)
}

#[derive(Deserialize, ToSchema)]
pub struct IdNumberRequest {
    /// The 12-digit number of the chip ID card (CCCD).
    pub number: String,
}

/// Records a student's ID-card number (school admins), once the student (or guardian) has
/// consented to the card's use (409 `no_consent_for_id_card` before). Stored as a keyed hash
/// and a sealed value; the number never appears in logs or audit details; withdrawing the last
/// such consent erases it.
#[utoipa::path(tag = "identity", security(("bearer" = [])), params(("user_id" = Uuid, Path)), request_body = IdNumberRequest, responses(
    (status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, body = Problem), (status = 422, body = Problem)))]
#[put("/users/{user_id}/id-number")]
async fn set_id_number(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<IdNumberRequest>,
) -> Result<HttpResponse, ApiError> {
    let target = user_in_reach(&state, &user, path.into_inner()).await?;
    let number =
        cccd::parse_number(&body.number).map_err(|code| ApiError::field("number", code))?;
    // Decree 356/2025: the number is personal data, kept only with the person's (or, under 16,
    // their guardian's) standing consent for the ID card's use.
    if !consent::stands(&state.db, target.id, "id_card").await? {
        return Err(ApiError::Conflict("no_consent_for_id_card"));
    }
    if let Some(born) = target.birth_date
        && chrono::Datelike::year(&born) != number.birth_year
    {
        return Err(ApiError::field("number", "id_number_birth_year_differs"));
    }
    let hash = state.vault.lookup_hash(&number.digits);
    let txn = state.db.begin().await?;
    let taken = identity_number::Entity::find()
        .filter(identity_number::Column::NumberHash.eq(hash.as_str()))
        .one(&txn)
        .await?;
    if taken.as_ref().is_some_and(|t| t.user_id != target.id) {
        return Err(ApiError::Conflict("id_number_taken"));
    }
    let row = identity_number::ActiveModel {
        user_id: sea_orm::Set(target.id),
        number_hash: sea_orm::Set(hash),
        number_sealed: sea_orm::Set(
            state
                .vault
                .seal(number.digits.as_bytes(), &number_row(target.id)),
        ),
        updated_at: sea_orm::Set(Utc::now()),
    };
    if identity_number::Entity::find_by_id(target.id)
        .one(&txn)
        .await?
        .is_some()
    {
        row.update(&txn).await?;
    } else {
        identity_number::Entity::insert(row)
            .exec_without_returning(&txn)
            .await?;
    }
    audit::record(
        &txn,
        &meta,
        Event::by(user.id, "user.id_number_set", "user", target.id, json!({})),
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct IdNumberResponse {
    pub number: String,
}

/// Shows a student's ID-card number to a school admin; every read is an audit event.
#[utoipa::path(tag = "identity", security(("bearer" = [])), params(("user_id" = Uuid, Path)), responses(
    (status = 200, body = IdNumberResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/users/{user_id}/id-number")]
async fn read_id_number(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<IdNumberResponse>, ApiError> {
    let target = user_in_reach(&state, &user, path.into_inner()).await?;
    let row = identity_number::Entity::find_by_id(target.id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("id_number_not_found"))?;
    let plain = state
        .vault
        .open(&row.number_sealed, &number_row(row.user_id))
        .map_err(unreadable)?;
    let txn = state.db.begin().await?;
    audit::record(
        &txn,
        &meta,
        Event::by(user.id, "user.id_number_read", "user", target.id, json!({})),
    )
    .await?;
    txn.commit().await?;
    Ok(web::Json(IdNumberResponse {
        number: String::from_utf8(plain).map_err(|e| ApiError::Unexpected(e.into()))?,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct CardCheckInRequest {
    /// The line the QR scanner typed:
    /// `number|old ID|full name|ddmmyyyy|Nam/Nữ|address|issue date`.
    pub qr: String,
}

/// Checks a candidate in with the chip ID card: number, name (without diacritics or case) and
/// date of birth must all match the registered candidate. A mismatch names the fields and is
/// written up as an incident of the room.
#[utoipa::path(tag = "identity", security(("bearer" = [])), params(("candidate_id" = Uuid, Path)), request_body = CardCheckInRequest, responses(
    (status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, description = "already_checked_in, id_belongs_to_another_candidate", body = Problem),
    (status = 422, description = "malformed_qr, invalid_id_number, id_card_mismatch (fields named)", body = Problem)))]
#[post("/candidates/{candidate_id}/check-in/id-card")]
async fn check_in_with_card(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<CardCheckInRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(
        &[Role::Proctor, Role::Teacher, Role::SchoolAdmin],
        user.home(),
    )?;
    let candidate = candidate::Entity::find_by_id(path.into_inner())
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("candidate_not_found"))?;
    let room = match candidate.room_id {
        Some(r) => exam_room::Entity::find_by_id(r).one(&state.db).await?,
        None => None,
    }
    .ok_or(ApiError::Conflict("candidate_has_no_room"))?;
    let organiser = {
        let exam = crate::entities::exam::Entity::find_by_id(candidate.exam_id)
            .one(&state.db)
            .await?
            .ok_or(ApiError::NotFound("candidate_not_found"))?;
        crate::exams::staff::is_organiser(&user, &exam)
    };
    // The field-by-field answer (and that a number belongs to someone else) is for the room's
    // own proctors; an organiser elsewhere learns only that the card does not match.
    let room_proctor = crate::exams::staff::is_proctor_of(&room, user.id);
    if !organiser && !room_proctor {
        return Err(ApiError::NotFound("candidate_not_found"));
    }
    // Each check can tell whether a number is someone's: a proctor checks a room, not a
    // province.
    let checks = state
        .hot
        .incr(
            &format!("idcard-checks:{}", user.id),
            1,
            std::time::Duration::from_secs(ID_CARD_WINDOW_SECS),
        )
        .await?;
    if checks > ID_CARD_CHECKS_PER_WINDOW {
        return Err(ApiError::TooManyRequests {
            code: "too_many_id_card_checks",
            retry_after_secs: ID_CARD_WINDOW_SECS,
        });
    }
    let mismatch = |fields: Vec<FieldError>| ApiError::Validation {
        code: "id_card_mismatch",
        fields: if room_proctor { fields } else { Vec::new() },
    };
    if candidate.checked_in_at.is_some() {
        return Err(ApiError::Conflict("already_checked_in"));
    }
    // The card is identity data: read only with the candidate's standing consent.
    if !consent::has_consent(&state, candidate.user_id, candidate.exam_id, "id_card").await? {
        return Err(ApiError::Conflict("no_consent_for_id_card"));
    }
    let card = cccd::parse_qr(&body.qr).map_err(|code| ApiError::field("qr", code))?;
    let person = user::Entity::find_by_id(candidate.user_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("candidate_not_found"))?;
    let hash = state.vault.lookup_hash(&card.number.digits);
    let holder = identity_number::Entity::find()
        .filter(identity_number::Column::NumberHash.eq(hash.as_str()))
        .one(&state.db)
        .await?;
    let now = state.clock.now();
    let incident = |text: String| incident_report::Model {
        id: Uuid::now_v7(),
        room_id: room.id,
        attempt_id: None,
        author_id: user.id,
        text,
        at: now,
    };
    if holder.as_ref().is_some_and(|h| h.user_id != person.id) {
        write_incident(
            &state,
            &meta,
            &user,
            incident(format!(
                "Thí sinh SBD {} xuất trình CCCD của một thí sinh khác.",
                candidate.number
            )),
        )
        .await?;
        return Err(if room_proctor {
            ApiError::Conflict("id_belongs_to_another_candidate")
        } else {
            mismatch(Vec::new())
        });
    }
    let mut wrong = Vec::new();
    if holder.is_none() {
        wrong.push(FieldError::new("id_number", "id_card_mismatch"));
    }
    if fold(&card.full_name) != person.full_name_folded {
        wrong.push(FieldError::new("full_name", "id_card_mismatch"));
    }
    if person.birth_date != Some(card.birth_date) {
        wrong.push(FieldError::new("birth_date", "id_card_mismatch"));
    }
    if !wrong.is_empty() {
        let fields: Vec<String> = wrong.iter().map(|f| f.field.clone()).collect();
        write_incident(
            &state,
            &meta,
            &user,
            incident(format!(
                "CCCD không khớp với thí sinh SBD {}: {}.",
                candidate.number,
                fields.join(", ")
            )),
        )
        .await?;
        return Err(mismatch(wrong));
    }
    let txn = state.db.begin().await?;
    let mut active: candidate::ActiveModel = candidate.clone().into();
    active.checked_in_at = sea_orm::Set(Some(now));
    active.update(&txn).await?;
    audit::record(
        &txn,
        &meta,
        Event::by(
            user.id,
            "candidate.checked_in",
            "candidate",
            candidate.id,
            json!({ "method": "id_card" }),
        ),
    )
    .await?;
    txn.commit().await?;
    crate::auth::limits::forgive_checked_in(&state.db, state.hot.as_ref(), candidate.user_id).await;
    crate::exams::taking::announce(
        &state,
        Some(room.id),
        json!({ "type": "checked_in", "candidate": candidate.id, "at": now }),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

async fn write_incident(
    state: &AppState,
    meta: &RequestMeta,
    user: &CurrentUser,
    report: incident_report::Model,
) -> Result<(), ApiError> {
    let txn = state.db.begin().await?;
    incident_report::Entity::insert(incident_report::ActiveModel::from(report.clone()).reset_all())
        .exec_without_returning(&txn)
        .await?;
    audit::record(
        &txn,
        meta,
        Event::by(
            user.id,
            "room.incident_reported",
            "room",
            report.room_id,
            json!({ "report": report.id, "cause": "id_card" }),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
