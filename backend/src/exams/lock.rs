//! Locking a sitting's roster: every candidate is given a paper code and every attempt is
//! created before the start, so that the start spike writes no new rows.
use std::collections::HashMap;

use actix_web::{post, web};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::setup::organised_sitting;
use super::{
    domain::{self},
    lifecycle,
};
use crate::{
    audit::{self, Event},
    auth::CurrentUser,
    entities::{attempt, candidate, paper_code, sitting},
    error::{ApiError, Problem},
    request::RequestMeta,
    state::AppState,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(lock_sitting);
}

#[derive(Serialize, ToSchema)]
pub struct LockReport {
    pub attempts_created: usize,
    /// How many candidates got each code.
    pub codes: HashMap<String, usize>,
}

/// Locks the roster: every candidate gets a paper code (spread evenly over each room, no two
/// neighbouring seats alike) and an attempt, created now so the start does no work.
#[utoipa::path(tag = "exams", security(("bearer" = [])), params(("sitting_id" = Uuid, Path)), responses(
    (status = 200, body = LockReport), (status = 409, body = Problem)))]
#[post("/sittings/{sitting_id}/lock")]
async fn lock_sitting(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<LockReport>, ApiError> {
    let (_, sitting) = organised_sitting(&state, &user, path.into_inner()).await?;
    let txn = audit::Change::begin(&state.db).await?;
    // The version check of the lock itself: only one caller moves locked_at from NULL.
    let locked = sitting::Entity::update_many()
        .col_expr(
            sitting::Column::LockedAt,
            sea_orm::sea_query::Expr::value(state.clock.now()),
        )
        .filter(sitting::Column::Id.eq(sitting.id))
        .filter(sitting::Column::LockedAt.is_null())
        .exec(&txn)
        .await?;
    if locked.rows_affected != 1 {
        return Err(ApiError::Conflict("sitting_locked"));
    }
    let codes: Vec<String> = paper_code::Entity::find()
        .filter(paper_code::Column::PaperId.eq(sitting.paper_id))
        .order_by_asc(paper_code::Column::Code)
        .all(&txn)
        .await?
        .into_iter()
        .map(|c| c.code)
        .collect();
    let candidates = candidate::Entity::find()
        .filter(candidate::Column::SittingId.eq(sitting.id))
        .order_by_asc(candidate::Column::RoomId)
        .order_by_asc(candidate::Column::Seat)
        .all(&txn)
        .await?;
    if candidates.is_empty() {
        return Err(ApiError::Conflict("no_candidates"));
    }
    if codes.is_empty() {
        return Err(ApiError::Conflict("paper_has_no_codes"));
    }
    let mut by_room: Vec<(Option<Uuid>, Vec<&candidate::Model>)> = Vec::new();
    for c in &candidates {
        match by_room.last_mut() {
            Some((room, list)) if *room == c.room_id => list.push(c),
            _ => by_room.push((c.room_id, vec![c])),
        }
    }
    let mut attempts = Vec::with_capacity(candidates.len());
    let mut counts: HashMap<String, usize> = HashMap::new();
    for (room_index, (_, list)) in by_room.iter().enumerate() {
        for (c, code) in list
            .iter()
            .zip(domain::assign_codes(&codes, room_index, list.len()))
        {
            *counts.entry(code.clone()).or_default() += 1;
            attempts.push(lifecycle::new_attempt(
                &sitting,
                Some(c),
                c.user_id,
                code,
                1,
            ));
        }
    }
    for chunk in attempts.chunks(500) {
        attempt::Entity::insert_many(
            chunk
                .iter()
                .map(|a| attempt::ActiveModel::from(a.clone()).reset_all()),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "sitting.locked",
            "sitting",
            sitting.id,
            json!({ "attempts": attempts.len(), "codes": counts }),
        ),
    )
    .await?;
    Ok(web::Json(LockReport {
        attempts_created: attempts.len(),
        codes: counts,
    }))
}
