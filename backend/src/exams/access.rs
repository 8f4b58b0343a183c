//! Who may act on an attempt or a room: the attempt's room proctors and the exam's organisers
//! (`staff.rs` says who those are). Anyone else is told "not found", so that ids do not leak.

use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

use super::{
    lifecycle::Context,
    staff::{is_organiser, is_proctor_of},
};
use crate::{
    auth::{CurrentUser, roles::Role},
    entities::{exam, exam_room, sitting},
    error::ApiError,
};

pub const PROCTORS: &[Role] = &[Role::Proctor, Role::Teacher, Role::SchoolAdmin];

/// The attempt's room proctors and the exam's organisers; anyone else is told "not found".
pub async fn require_room_staff(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    ctx: &Context,
) -> Result<(), ApiError> {
    if is_organiser(user, &ctx.exam) {
        return Ok(());
    }
    if let Some(room) = ctx.attempt.room_id {
        let room = exam_room::Entity::find_by_id(room).one(db).await?;
        if room.is_some_and(|r| is_proctor_of(&r, user.id)) {
            return Ok(());
        }
    }
    Err(ApiError::NotFound("attempt_not_found"))
}

pub async fn room_in_reach(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    id: Uuid,
) -> Result<(exam_room::Model, sitting::Model, exam::Model), ApiError> {
    user.require(PROCTORS, user.home())?;
    // The room, its sitting and exam in one round trip: every dashboard's status poll asks.
    let Some((room, Some(sitting), Some(exam))) = exam_room::Entity::find_by_id(id)
        .find_also_related(sitting::Entity)
        .and_also_related(exam::Entity)
        .one(db)
        .await?
    else {
        return Err(ApiError::NotFound("room_not_found"));
    };
    if !is_proctor_of(&room, user.id) && !is_organiser(user, &exam) {
        return Err(ApiError::NotFound("room_not_found"));
    }
    Ok((room, sitting, exam))
}
