//! Proctors (giám thị): the actions a proctor takes in a room (check-in, late admission, pause,
//! extra time, device changes, voiding, incident reports). Every action is an attempt event and
//! an audit event, in one transaction, then a message on the room feed (`room_feed.rs`).

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::access::require_room_staff;
use super::{
    access::{PROCTORS, room_in_reach},
    domain::{AttemptState, EventKind},
    hot_clock,
    lifecycle::{self, Change, Context},
    room_feed::announce,
};
use crate::{
    audit::{self, Event},
    auth::CurrentUser,
    entities::{attempt, candidate, incident_report},
    error::{ApiError, Problem},
    request::RequestMeta,
    state::AppState,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(check_in)
        .service(admit_late)
        .service(pause)
        .service(carry_on)
        .service(pause_room)
        .service(carry_on_room)
        .service(add_time)
        .service(approve_device)
        .service(void)
        .service(write_report)
        .service(list_reports);
}

#[derive(Deserialize, ToSchema)]
pub struct ReasonRequest {
    pub reason: String,
}

fn reason(body: &ReasonRequest) -> Result<String, ApiError> {
    let text = body.reason.trim();
    if text.is_empty() || text.chars().count() > 2000 {
        return Err(ApiError::field("reason", "required"));
    }
    Ok(text.to_owned())
}

/// One proctor action on one attempt: authorised, applied, audited and announced together.
async fn act(
    state: &AppState,
    meta: &RequestMeta,
    user: &CurrentUser,
    id: Uuid,
    action: &'static str,
    details: serde_json::Value,
    build: impl FnOnce(&Context) -> Result<Change, ApiError>,
) -> Result<attempt::Model, ApiError> {
    user.require(PROCTORS, user.home())?;
    let now = state.clock.now();
    let txn = audit::Change::begin(&state.db).await?;
    let ctx = Context::load(&txn, id).await?;
    require_room_staff(&txn, user, &ctx).await?;
    let change = build(&ctx)?;
    let after = lifecycle::apply(&txn, &ctx, change, now).await?;
    txn.commit(meta, Event::by(user.id, action, "attempt", id, details))
        .await?;
    hot_clock::remember(state.hot.as_ref(), &after).await;
    announce(
        state,
        after.room_id,
        json!({ "type": action, "attempt": id, "at": now, "state": after.state }),
    )
    .await;
    Ok(after)
}

#[derive(Serialize, ToSchema)]
pub struct ActionResult {
    pub attempt_id: Uuid,
    pub state: AttemptState,
    pub deadline: Option<DateTime<Utc>>,
    pub server_now: DateTime<Utc>,
}

fn acted(state: &AppState, a: attempt::Model) -> Result<web::Json<ActionResult>, ApiError> {
    Ok(web::Json(ActionResult {
        attempt_id: a.id,
        state: AttemptState::parse(&a.state)?,
        deadline: a.deadline,
        server_now: state.clock.now(),
    }))
}

/// Checks a candidate in by hand (a proctor who has seen their papers), with a reason.
#[utoipa::path(tag = "proctoring", security(("bearer" = [])), params(("candidate_id" = Uuid, Path)), request_body = ReasonRequest, responses(
    (status = 204),
    (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/candidates/{candidate_id}/check-in")]
async fn check_in(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<ReasonRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(PROCTORS, user.home())?;
    let why = reason(&body)?;
    let txn = audit::Change::begin(&state.db).await?;
    let candidate = candidate::Entity::find_by_id(path.into_inner())
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound("candidate_not_found"))?;
    let Some(room_id) = candidate.room_id else {
        return Err(ApiError::Conflict("candidate_has_no_room"));
    };
    room_in_reach(&txn, &user, room_id)
        .await
        .map_err(|_| ApiError::NotFound("candidate_not_found"))?;
    if candidate.checked_in_at.is_some() {
        return Err(ApiError::Conflict("already_checked_in"));
    }
    let now = state.clock.now();
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
            json!({ "method": "manual", "reason": why }),
        ),
    )
    .await?;
    crate::auth::limits::forgive_checked_in(&state.db, state.hot.as_ref(), candidate.user_id).await;
    announce(
        &state,
        Some(room_id),
        json!({ "type": "checked_in", "candidate": candidate.id, "at": now }),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Lets a candidate start after the late-start limit.
#[utoipa::path(tag = "proctoring", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), request_body = ReasonRequest, responses(
    (status = 200, body = ActionResult),
    (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/attempts/{attempt_id}/admit-late")]
async fn admit_late(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<ReasonRequest>,
) -> Result<web::Json<ActionResult>, ApiError> {
    let why = reason(&body)?;
    let id = path.into_inner();
    let after = act(
        &state,
        &meta,
        &user,
        id,
        "attempt.admitted_late",
        json!({ "reason": why }),
        |ctx| {
            if ctx.state()? != AttemptState::NotStarted {
                return Err(ApiError::Conflict("attempt_already_started"));
            }
            Ok(Change::new(
                EventKind::AdmittedLate,
                Some(user.id),
                json!({ "reason": why }),
            ))
        },
    )
    .await?;
    if let Some(c) = after.candidate_id {
        candidate::Entity::update_many()
            .col_expr(candidate::Column::AdmittedLate, Expr::value(true))
            .filter(candidate::Column::Id.eq(c))
            .exec(&state.db)
            .await?;
    }
    acted(&state, after)
}

/// Pauses one candidate: their time stops until they carry on.
#[utoipa::path(tag = "proctoring", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), request_body = ReasonRequest, responses(
    (status = 200, body = ActionResult),
    (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/attempts/{attempt_id}/pause")]
async fn pause(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<ReasonRequest>,
) -> Result<web::Json<ActionResult>, ApiError> {
    let why = reason(&body)?;
    let after = act(
        &state,
        &meta,
        &user,
        path.into_inner(),
        "attempt.paused",
        json!({ "reason": why }),
        |ctx| pause_change(ctx, user.id, &why),
    )
    .await?;
    acted(&state, after)
}

fn pause_change(ctx: &Context, actor: Uuid, why: &str) -> Result<Change, ApiError> {
    if ctx.state()? != AttemptState::InProgress {
        return Err(ApiError::Conflict("attempt_not_in_progress"));
    }
    Ok(
        Change::new(EventKind::Paused, Some(actor), json!({ "reason": why }))
            .to(AttemptState::Paused),
    )
}

fn continue_change(ctx: &Context, actor: Uuid) -> Result<Change, ApiError> {
    if ctx.state()? != AttemptState::Paused {
        return Err(ApiError::Conflict("attempt_not_paused"));
    }
    Ok(Change::new(EventKind::Continued, Some(actor), json!({})).to(AttemptState::InProgress))
}

/// Ends a pause: the candidate's time runs again from where it stopped.
#[utoipa::path(tag = "proctoring", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), responses(
    (status = 200, body = ActionResult),
    (status = 409, body = Problem)))]
#[post("/attempts/{attempt_id}/continue")]
async fn carry_on(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<ActionResult>, ApiError> {
    let after = act(
        &state,
        &meta,
        &user,
        path.into_inner(),
        "attempt.continued",
        json!({}),
        |ctx| continue_change(ctx, user.id),
    )
    .await?;
    acted(&state, after)
}

#[derive(Serialize, ToSchema)]
pub struct RoomActionResult {
    pub changed: usize,
    pub server_now: DateTime<Utc>,
}

async fn room_wide(
    state: &AppState,
    meta: &RequestMeta,
    user: &CurrentUser,
    room_id: Uuid,
    action: &'static str,
    details: serde_json::Value,
    build: impl Fn(&Context) -> Result<Change, ApiError>,
) -> Result<RoomActionResult, ApiError> {
    let now = state.clock.now();
    let txn = audit::Change::begin(&state.db).await?;
    let (room, _, _) = room_in_reach(&txn, user, room_id).await?;
    let attempts = attempt::Entity::find()
        .filter(attempt::Column::RoomId.eq(room.id))
        .all(&txn)
        .await?;
    let mut changed = Vec::new();
    for a in attempts {
        let ctx = Context::around(&txn, a).await?;
        if let Ok(change) = build(&ctx) {
            changed.push(lifecycle::apply(&txn, &ctx, change, now).await?);
        }
    }
    txn.commit(
        meta,
        Event::by(
            user.id,
            action,
            "room",
            room.id,
            json!({ "details": details, "attempts": changed.len() }),
        ),
    )
    .await?;
    for after in &changed {
        hot_clock::remember(state.hot.as_ref(), after).await;
    }
    announce(
        state,
        Some(room.id),
        json!({ "type": action, "room": room.id, "at": now, "attempts": changed.len() }),
    )
    .await;
    Ok(RoomActionResult {
        changed: changed.len(),
        server_now: now,
    })
}

/// Pauses every running attempt of the room (time frozen for all).
#[utoipa::path(tag = "proctoring", security(("bearer" = [])), params(("room_id" = Uuid, Path)), request_body = ReasonRequest, responses(
    (status = 200, body = RoomActionResult),
    (status = 422, body = Problem)))]
#[post("/rooms/{room_id}/pause")]
async fn pause_room(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<ReasonRequest>,
) -> Result<web::Json<RoomActionResult>, ApiError> {
    user.require(PROCTORS, user.home())?;
    let why = reason(&body)?;
    let result = room_wide(
        &state,
        &meta,
        &user,
        path.into_inner(),
        "room.paused",
        json!({ "reason": why }),
        |ctx| pause_change(ctx, user.id, &why),
    )
    .await?;
    Ok(web::Json(result))
}

/// Ends a room-wide pause.
#[utoipa::path(tag = "proctoring", security(("bearer" = [])), params(("room_id" = Uuid, Path)), responses(
    (status = 200, body = RoomActionResult)))]
#[post("/rooms/{room_id}/continue")]
async fn carry_on_room(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<RoomActionResult>, ApiError> {
    user.require(PROCTORS, user.home())?;
    let result = room_wide(
        &state,
        &meta,
        &user,
        path.into_inner(),
        "room.continued",
        json!({}),
        |ctx| continue_change(ctx, user.id),
    )
    .await?;
    Ok(web::Json(result))
}

#[derive(Deserialize, ToSchema)]
pub struct AddTimeRequest {
    /// 1-120 minutes.
    pub minutes: i32,
    pub reason: String,
}

/// Adds time to one candidate's attempt, with a reason.
#[utoipa::path(tag = "proctoring", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), request_body = AddTimeRequest, responses(
    (status = 200, body = ActionResult),
    (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/attempts/{attempt_id}/add-time")]
async fn add_time(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<AddTimeRequest>,
) -> Result<web::Json<ActionResult>, ApiError> {
    let why = reason(&ReasonRequest {
        reason: body.reason.clone(),
    })?;
    if !(1..=120).contains(&body.minutes) {
        return Err(ApiError::field("minutes", "out_of_range"));
    }
    let minutes = body.minutes;
    let after = act(
        &state,
        &meta,
        &user,
        path.into_inner(),
        "attempt.time_added",
        json!({ "minutes": minutes, "reason": why }),
        |ctx| {
            if ctx.state()?.is_closed() {
                return Err(ApiError::Conflict("attempt_closed"));
            }
            Ok(Change::new(
                EventKind::TimeAdded,
                Some(user.id),
                json!({ "reason": why }),
            )
            .seconds(minutes * 60))
        },
    )
    .await?;
    acted(&state, after)
}

/// Lets the candidate continue on the device that asked to take over.
#[utoipa::path(tag = "proctoring", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), responses(
    (status = 200, body = ActionResult),
    (status = 409, body = Problem)))]
#[post("/attempts/{attempt_id}/approve-device")]
async fn approve_device(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<ActionResult>, ApiError> {
    let after = act(
        &state,
        &meta,
        &user,
        path.into_inner(),
        "attempt.device_switch_approved",
        json!({}),
        |ctx| {
            let Some(device) = ctx.attempt.pending_device.clone() else {
                return Err(ApiError::Conflict("no_device_switch_pending"));
            };
            if ctx.state()?.is_closed() {
                return Err(ApiError::Conflict("attempt_closed"));
            }
            Ok(Change::new(
                EventKind::DeviceSwitchApproved,
                Some(user.id),
                json!({ "device": device }),
            )
            .edit(|a, d| {
                a.device_id = d["device"].as_str().map(str::to_owned);
                a.pending_device = None;
            }))
        },
    )
    .await?;
    acted(&state, after)
}

/// Voids an attempt (cheating, identity fraud), with a reason. It is not graded.
#[utoipa::path(tag = "proctoring", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), request_body = ReasonRequest, responses(
    (status = 200, body = ActionResult),
    (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/attempts/{attempt_id}/void")]
async fn void(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<ReasonRequest>,
) -> Result<web::Json<ActionResult>, ApiError> {
    let why = reason(&body)?;
    let after = act(
        &state,
        &meta,
        &user,
        path.into_inner(),
        "attempt.voided",
        json!({ "reason": why }),
        |ctx| {
            if ctx.state()? == AttemptState::Voided {
                return Err(ApiError::Conflict("attempt_closed"));
            }
            Ok(
                Change::new(EventKind::Voided, Some(user.id), json!({ "reason": why }))
                    .to(AttemptState::Voided),
            )
        },
    )
    .await?;
    acted(&state, after)
}

#[derive(Deserialize, ToSchema)]
pub struct ReportRequest {
    /// The candidate concerned, if one.
    pub attempt_id: Option<Uuid>,
    /// What happened, as the biên bản records it.
    pub text: String,
}

#[derive(Serialize, ToSchema)]
pub struct ReportResponse {
    pub id: Uuid,
    pub room_id: Uuid,
    pub attempt_id: Option<Uuid>,
    pub author_id: Uuid,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// Writes an incident record (biên bản) for the room.
#[utoipa::path(tag = "proctoring", security(("bearer" = [])), params(("room_id" = Uuid, Path)), request_body = ReportRequest, responses(
    (status = 201, body = ReportResponse),
    (status = 422, body = Problem)))]
#[post("/rooms/{room_id}/incident-reports")]
async fn write_report(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<ReportRequest>,
) -> Result<HttpResponse, ApiError> {
    let text = body.text.trim().to_owned();
    if text.is_empty() || text.chars().count() > 10_000 {
        return Err(ApiError::field("text", "required"));
    }
    let txn = audit::Change::begin(&state.db).await?;
    let (room, _, _) = room_in_reach(&txn, &user, path.into_inner()).await?;
    if let Some(a) = body.attempt_id {
        let inside = attempt::Entity::find_by_id(a)
            .one(&txn)
            .await?
            .is_some_and(|a| a.room_id == Some(room.id));
        if !inside {
            return Err(ApiError::field("attempt_id", "not_in_room"));
        }
    }
    let report = incident_report::Model {
        id: Uuid::now_v7(),
        room_id: room.id,
        attempt_id: body.attempt_id,
        author_id: user.id,
        text,
        at: state.clock.now(),
    };
    incident_report::Entity::insert(incident_report::ActiveModel::from(report.clone()).reset_all())
        .exec_without_returning(&txn)
        .await?;
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "room.incident_reported",
            "room",
            room.id,
            json!({ "report": report.id, "attempt": report.attempt_id }),
        ),
    )
    .await?;
    announce(
        &state,
        Some(room.id),
        json!({ "type": "incident_report", "room": room.id, "at": report.at }),
    )
    .await;
    Ok(HttpResponse::Created().json(report_response(report)))
}

fn report_response(r: incident_report::Model) -> ReportResponse {
    ReportResponse {
        id: r.id,
        room_id: r.room_id,
        attempt_id: r.attempt_id,
        author_id: r.author_id,
        text: r.text,
        at: r.at,
    }
}

#[utoipa::path(tag = "proctoring", security(("bearer" = [])), params(("room_id" = Uuid, Path)), responses(
    (status = 200, body = Vec<ReportResponse>)))]
#[get("/rooms/{room_id}/incident-reports")]
async fn list_reports(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<Vec<ReportResponse>>, ApiError> {
    let (room, _, _) = room_in_reach(&state.db, &user, path.into_inner()).await?;
    Ok(web::Json(
        incident_report::Entity::find()
            .filter(incident_report::Column::RoomId.eq(room.id))
            .order_by_asc(incident_report::Column::At)
            .all(&state.db)
            .await?
            .into_iter()
            .map(report_response)
            .collect(),
    ))
}
