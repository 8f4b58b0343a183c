//! Notices: what a person must be told about their own account, kept until they read it. A new
//! passkey on a student's account tells the student and every admin of their school, so a
//! credential bound without the student is seen by someone who can revoke it.
pub(crate) mod routes;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::Value;
use uuid::Uuid;

pub use routes::configure;

use crate::{
    auth::roles::{self, Role},
    entities::{notice, user},
    error::ApiError,
};

/// A passkey was registered on `about`'s account.
pub const PASSKEY_REGISTERED: &str = "passkey_registered";

/// Tells `about` and, for a school's student, that school's admins, inside the caller's
/// transaction, so a change and its notices are stored together or not at all.
pub async fn tell_owner_and_school_admins(
    txn: &impl ConnectionTrait,
    kind: &str,
    about: &user::Model,
    details: Value,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let mut readers = vec![about.id];
    if let Some(school) = about.school_id {
        let admins = user::Entity::find()
            .filter(user::Column::SchoolId.eq(school))
            .filter(user::Column::Roles.like(roles::db_pattern(Role::SchoolAdmin)))
            .filter(user::Column::Disabled.eq(false))
            .all(txn)
            .await?;
        readers.extend(
            admins
                .into_iter()
                .map(|a| a.id)
                .filter(|id| *id != about.id),
        );
    }
    let details = details.to_string();
    let rows = readers.into_iter().map(|reader| notice::ActiveModel {
        id: sea_orm::Set(Uuid::now_v7()),
        user_id: sea_orm::Set(reader),
        kind: sea_orm::Set(kind.to_owned()),
        about: sea_orm::Set(about.id),
        details: sea_orm::Set(details.clone()),
        created_at: sea_orm::Set(now),
        read_at: sea_orm::Set(None),
    });
    notice::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}
