//! Identity for exams: ID-card numbers kept as a keyed hash plus a sealed value, and check-in by
//! the chip ID card's QR code, matched field by field against the registered candidate.
pub mod cccd;
pub(crate) mod consent;
pub(crate) mod enrollment;
pub(crate) mod offboarding;
pub(crate) mod passkeys;
pub mod photos;
pub mod vault;

use actix_web::{HttpResponse, get, put, web};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    audit::{self, Event},
    auth::{CurrentUser, Scope, roles::Role},
    entities::{identity_number, user},
    error::{ApiError, Problem},
    request::RequestMeta,
    state::AppState,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(set_id_number)
        .service(read_id_number)
        .service(offboarding::offboard);
    consent::configure(cfg);
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
    (status = 204),
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
    let txn = audit::Change::begin(&state.db).await?;
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
    txn.commit(
        &meta,
        Event::by(user.id, "user.id_number_set", "user", target.id, json!({})),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct IdNumberResponse {
    pub number: String,
}

/// Shows a student's ID-card number to a school admin; every read is an audit event.
#[utoipa::path(tag = "identity", security(("bearer" = [])), params(("user_id" = Uuid, Path)), responses(
    (status = 200, body = IdNumberResponse)))]
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
    let txn = audit::Change::begin(&state.db).await?;
    txn.commit(
        &meta,
        Event::by(user.id, "user.id_number_read", "user", target.id, json!({})),
    )
    .await?;
    Ok(web::Json(IdNumberResponse {
        number: String::from_utf8(plain).map_err(|e| ApiError::Unexpected(e.into()))?,
    }))
}
