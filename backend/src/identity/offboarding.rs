//! A person leaves (a student moves province, a teacher retires, a parent asks for erasure):
//! what exam law requires is kept, the rest is removed, and the removal is recorded (Law
//! 91/2025, Decree 356/2025; docs/SECURITY.md, finding 12).
//!
//! Kept: the account's name, birth date, school and class, as candidate records need them;
//! candidacies, attempts, answers, marks and results for their retention; the audit log.
//! Removed: the e-mail address, the password (replaced by an unusable one), every session and
//! passkey, the ID number, the photos; standing consents are withdrawn (their record stays).
use actix_web::{post, web};
use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    audit::{self, Event},
    auth::{self, CurrentUser},
    entities::{consent, identity_number, passkey, user},
    error::ApiError,
    request::RequestMeta,
    state::AppState,
};

/// What was removed; everything else about the person is kept.
#[derive(Serialize, ToSchema)]
pub struct OffboardReport {
    pub sessions_revoked: usize,
    pub passkeys_removed: u64,
    pub id_number_removed: bool,
    pub photos_removed: usize,
    pub consents_withdrawn: u64,
    /// What is kept, and why: exam records.
    pub kept: Vec<&'static str>,
}

const KEPT: [&str; 4] = [
    "full_name, birth_date, school, class (candidate records)",
    "candidacies, attempts, answers, marks, results (exam retention)",
    "withdrawn consents (proof of what was agreed)",
    "audit log",
];

/// Off-boards a person: the account can no longer sign in, and the personal data exam law does
/// not require is removed (school admins for their school's people, province admins for all;
/// another admin needs the province). Repeating it removes nothing more.
#[utoipa::path(tag = "identity", security(("bearer" = [])), params(("user_id" = Uuid, Path)), responses(
    (status = 200, body = OffboardReport)))]
#[post("/users/{user_id}/offboard")]
pub async fn offboard(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<OffboardReport>, ApiError> {
    let target = super::user_in_reach(&state, &caller, path.into_inner()).await?;
    caller.require_account_manager_of(&target, "offboard_not_yourself")?;
    // An unusable password still costs a full hash to check, so a sign-in cannot tell.
    let mut random = [0u8; 32];
    rand::fill(&mut random);
    let unusable = state.passwords.hash(hex::encode(random)).await?;
    let now = Utc::now();
    let txn = audit::Change::begin(&state.db).await?;
    user::Entity::update_many()
        .col_expr(user::Column::Disabled, Expr::value(true))
        .col_expr(user::Column::Email, Expr::value(Option::<String>::None))
        .col_expr(user::Column::PasswordHash, Expr::value(unusable))
        .col_expr(user::Column::PasswordChangedAt, Expr::value(now))
        .filter(user::Column::Id.eq(target.id))
        .exec(&txn)
        .await?;
    let sessions = auth::db::revoke_all_for_user(&txn, target.id, now, None).await?;
    let passkeys_removed = passkey::Entity::delete_many()
        .filter(passkey::Column::UserId.eq(target.id))
        .exec(&txn)
        .await?
        .rows_affected;
    let id_number_removed = identity_number::Entity::delete_by_id(target.id)
        .exec(&txn)
        .await?
        .rows_affected
        > 0;
    let consents_withdrawn = consent::Entity::update_many()
        .col_expr(consent::Column::WithdrawnAt, Expr::value(Some(now)))
        .filter(consent::Column::UserId.eq(target.id))
        .filter(consent::Column::WithdrawnAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    let details = json!({
        "sessions_revoked": sessions.len(), "passkeys_removed": passkeys_removed,
        "id_number_removed": id_number_removed, "consents_withdrawn": consents_withdrawn,
    });
    let event = Event::by(caller.id, "user.offboarded", "user", target.id, details);
    txn.commit(&meta, event).await?;
    state.revocations.revoke(&sessions).await?;
    // Sealed photo blobs go after the commit; no consent covers them any more.
    let photos_removed = super::photos::delete_uncovered(&state, target.id, &[]).await?;
    Ok(web::Json(OffboardReport {
        sessions_revoked: sessions.len(),
        passkeys_removed,
        id_number_removed,
        photos_removed,
        consents_withdrawn,
        kept: KEPT.to_vec(),
    }))
}
