//! The audit log read over HTTP: the events page, the chain's verification, a checkpoint on
//! demand. Apart from `audit/` (the chain every capability records into, sign-in included)
//! because these routes need the caller (`auth`), and auth records into the chain.
use actix_web::{get, post, web};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit::{ChainReport, checkpoints::Checkpoint};
use crate::{
    auth::{CurrentUser, Scope, roles::Role},
    entities::audit_event,
    error::ApiError,
    state::AppState,
};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_audit_events)
        .service(verify_audit_chain)
        .service(write_checkpoint);
}

#[derive(Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Events with an id greater than this (the cursor of the previous page).
    pub after: Option<i64>,
    /// Items per page: 1 to 1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub actor_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEventResponse {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub details: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEventResponse>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<i64>,
}

/// Reads the audit log, oldest first (province admins).
#[utoipa::path(tag = "audit", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = AuditPage)))]
#[get("/audit/events")]
async fn list_audit_events(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<AuditQuery>,
) -> Result<web::Json<AuditPage>, ApiError> {
    user.require(&[Role::ProvinceAdmin], Scope::Province)?;
    let limit = crate::error::page_limit(query.limit, 100, 1000)?;
    let mut select = audit_event::Entity::find()
        .filter(audit_event::Column::Id.gt(query.after.unwrap_or(0)))
        .order_by_asc(audit_event::Column::Id)
        .limit(limit + 1);
    if let Some(t) = &query.target_type {
        select = select.filter(audit_event::Column::TargetType.eq(t.as_str()));
    }
    if let Some(t) = &query.target_id {
        select = select.filter(audit_event::Column::TargetId.eq(t.as_str()));
    }
    if let Some(a) = query.actor_id {
        select = select.filter(audit_event::Column::ActorId.eq(a));
    }
    let mut rows = select.all(&state.db).await?;
    let next = (rows.len() as u64 > limit).then(|| {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id)
    });
    let items = rows
        .into_iter()
        .map(|r| AuditEventResponse {
            details: serde_json::from_str(&r.details)
                .unwrap_or(serde_json::Value::String(r.details)),
            id: r.id,
            at: r.at,
            actor_id: r.actor_id,
            action: r.action,
            target_type: r.target_type,
            target_id: r.target_id,
            ip: r.ip,
            request_id: r.request_id,
            prev_hash: r.prev_hash,
            hash: r.hash,
        })
        .collect();
    Ok(web::Json(AuditPage {
        items,
        next: next.flatten(),
    }))
}

/// Recomputes the whole keyed chain, reports the first broken event, and holds the chain
/// against the latest signed checkpoint in the blob store (province admins).
#[utoipa::path(tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = ChainReport)))]
#[get("/audit/verify")]
async fn verify_audit_chain(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<web::Json<ChainReport>, ApiError> {
    user.require(&[Role::ProvinceAdmin], Scope::Province)?;
    Ok(web::Json(crate::audit::checkpoints::verify(&state).await?))
}

/// Writes a signed checkpoint of the chain's head now, as the background job does every few
/// minutes: before and after an exam day, say (province admins). Absent when the log is empty.
#[utoipa::path(tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = Option<Checkpoint>)))]
#[post("/audit/checkpoints")]
async fn write_checkpoint(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<web::Json<Option<Checkpoint>>, ApiError> {
    user.require(&[Role::ProvinceAdmin], Scope::Province)?;
    let written = crate::audit::checkpoints::write(&state)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "audit checkpoint not written");
            ApiError::Unavailable {
                retry_after_secs: 5,
            }
        })?;
    Ok(web::Json(written))
}
