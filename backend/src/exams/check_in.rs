//! A candidate checked in with the chip ID card (the card's printed QR code today): the
//! number, the name without diacritics or case and the date of birth must match the registered
//! candidate; a mismatch names the fields to the room's proctors and is an incident of the room.
use actix_web::{HttpResponse, post, web};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    audit::{self, Event},
    auth::{CurrentUser, roles::Role},
    entities::{candidate, exam_room, identity_number, incident_report, user},
    error::{ApiError, FieldError, Problem},
    identity::{cccd, consent},
    request::RequestMeta,
    state::AppState,
    text::fold,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(check_in_with_card);
}

/// ID-card checks one person may make in a window: a room's worth, with retries.
const ID_CARD_CHECKS_PER_WINDOW: i64 = 120;
const ID_CARD_WINDOW_SECS: u64 = 600;

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
    (status = 204),
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
        super::staff::is_organiser(&user, &exam)
    };
    // The field-by-field answer (and that a number belongs to someone else) is for the room's
    // own proctors; an organiser elsewhere learns only that the card does not match.
    let room_proctor = super::staff::is_proctor_of(&room, user.id);
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
    let txn = audit::Change::begin(&state.db).await?;
    let mut active: candidate::ActiveModel = candidate.clone().into();
    active.checked_in_at = sea_orm::Set(Some(now));
    active.update(&txn).await?;
    txn.commit(
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
    crate::auth::limits::forgive_checked_in(&state.db, state.hot.as_ref(), candidate.user_id).await;
    super::room_feed::announce(
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
    let txn = audit::Change::begin(&state.db).await?;
    incident_report::Entity::insert(incident_report::ActiveModel::from(report.clone()).reset_all())
        .exec_without_returning(&txn)
        .await?;
    txn.commit(
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
    Ok(())
}
