//! Proctors (giám thị): a room's live dashboard over Server-Sent Events, fed through the hot
//! store's pub/sub so it shows candidates served by any instance, and the actions a proctor
//! takes. Every action is an attempt event and an audit event, in one transaction.
use std::{collections::HashMap, time::Duration as StdDuration};

use actix_web::{HttpResponse, get, post, web};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, stream};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, JoinType,
    QueryFilter, QueryOrder, QuerySelect, RelationTrait, TransactionTrait,
    sea_query::{Expr, IntoCondition},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    answered,
    domain::{AttemptState, EventKind},
    hot_clock,
    lifecycle::{self, Change, Context},
    staff::{is_organiser, is_proctor_of},
    taking::announce,
};
use crate::{
    audit::{self, Event},
    auth::{CurrentUser, roles::Role},
    entities::{attempt, candidate, exam, exam_room, incident_report, sitting},
    error::{ApiError, Problem},
    request::RequestMeta,
    state::AppState,
    stores::hot::{Op, Reply},
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(room_status)
        .service(dashboard)
        .service(check_in)
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

const PROCTORS: &[Role] = &[Role::Proctor, Role::Teacher, Role::SchoolAdmin];
/// How often the dashboard sends a full snapshot between live events.
const SNAPSHOT_EVERY: StdDuration = StdDuration::from_secs(10);

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

async fn room_in_reach(
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

#[derive(Serialize, ToSchema)]
pub struct SeatStatus {
    pub candidate_id: Uuid,
    pub number: String,
    pub full_name: String,
    pub seat: i32,
    pub checked_in: bool,
    pub attempt_id: Option<Uuid>,
    pub code: Option<String>,
    pub state: Option<AttemptState>,
    /// Questions with at least one saved answer.
    pub answered: i64,
    pub last_heartbeat: Option<DateTime<Utc>>,
    pub incidents: i64,
    pub deadline: Option<DateTime<Utc>>,
    pub remaining_seconds: Option<i64>,
    /// A second device is waiting for approval.
    pub device_switch_pending: bool,
}

#[derive(Serialize, ToSchema)]
pub struct RoomStatus {
    pub room_id: Uuid,
    pub name: String,
    pub sitting_id: Uuid,
    pub server_now: DateTime<Utc>,
    pub seats: Vec<SeatStatus>,
}

/// One seat of a room as the snapshot reads it: the candidate, their name, and the attempt
/// they hold in this room (none before the lock).
#[derive(FromQueryResult)]
struct SeatRow {
    #[sea_orm(nested)]
    candidate: candidate::Model,
    full_name: Option<String>,
    attempt_id: Option<Uuid>,
    attempt_code: Option<String>,
    attempt_state: Option<String>,
    attempt_deadline: Option<DateTime<Utc>>,
    attempt_pending_device: Option<String>,
}

/// The room's seats in one round trip: each candidate by seat with their name and their attempt
/// in the room. A status poll is the most frequent statement of a sitting (every dashboard of
/// the province, every 10 s), so it reads the few attempt columns it shows, not whole rows.
async fn seats_of(db: &impl ConnectionTrait, room: Uuid) -> Result<Vec<SeatRow>, ApiError> {
    let in_this_room = attempt::Relation::Candidate
        .def()
        .rev()
        .on_condition(move |_, _| attempt::Column::RoomId.eq(room).into_condition());
    let rows: Vec<SeatRow> = candidate::Entity::find()
        // The name by the users' key per seat: a join lets PostgreSQL hash the whole users
        // table every poll (measured: 1.0 ms a poll with 1,400 users, 0.3 ms this way).
        .column_as(
            Expr::cust("(SELECT full_name FROM users WHERE users.id = candidates.user_id)"),
            "full_name",
        )
        .column_as(attempt::Column::Id, "attempt_id")
        .column_as(attempt::Column::Code, "attempt_code")
        .column_as(attempt::Column::State, "attempt_state")
        .column_as(attempt::Column::Deadline, "attempt_deadline")
        .column_as(attempt::Column::PendingDevice, "attempt_pending_device")
        .join(JoinType::LeftJoin, in_this_room)
        .filter(candidate::Column::RoomId.eq(room))
        .order_by_asc(candidate::Column::Seat)
        .order_by_desc(attempt::Column::Number)
        .into_model()
        .all(db)
        .await?;
    // A candidate shows once, with their latest attempt in the room.
    let mut seen = std::collections::HashSet::with_capacity(rows.len());
    Ok(rows
        .into_iter()
        .filter(|r| seen.insert(r.candidate.id))
        .collect())
}

async fn snapshot(state: &AppState, room: &exam_room::Model) -> Result<RoomStatus, ApiError> {
    let now = state.clock.now();
    let rows = seats_of(&state.db, room.id).await?;
    // Presence, incident counts and answered bitmaps of the whole room in one round trip;
    // without the hot store the snapshot still shows the rest (a dashboard is no reason to
    // fail), and counts answers from the saves.
    let seated: Vec<Uuid> = rows.iter().filter_map(|r| r.attempt_id).collect();
    let keys: Vec<[String; 3]> = seated
        .iter()
        .map(|id| {
            [
                format!("presence:{id}"),
                format!("incidents:{id}"),
                answered::key(*id),
            ]
        })
        .collect();
    let ops: Vec<Op> = keys.iter().flatten().map(|k| Op::Get(k)).collect();
    let replies = state.hot.batch(&ops).await.unwrap_or_default();
    let mut hot: HashMap<Uuid, (Option<DateTime<Utc>>, i64)> = HashMap::new();
    let mut answered: HashMap<Uuid, i64> = HashMap::new();
    for (id, triple) in seated.iter().zip(replies.chunks(3)) {
        let value = |i: usize| match triple.get(i) {
            Some(Reply::Value(Some(v))) => Some(v.as_slice()),
            _ => None,
        };
        let last_heartbeat = value(0)
            .and_then(|p| serde_json::from_slice::<serde_json::Value>(p).ok())
            .and_then(|v| v["at"].as_str().and_then(|t| t.parse().ok()));
        let incidents = value(1)
            .and_then(|n| std::str::from_utf8(n).ok())
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        hot.insert(*id, (last_heartbeat, incidents));
        if let Some(n) = answered::count(value(2)) {
            answered.insert(*id, n);
        }
    }
    let unknown: Vec<Uuid> = seated
        .iter()
        .filter(|id| !answered.contains_key(id))
        .copied()
        .collect();
    answered.extend(answered::rebuild(&state.db, state.hot.as_ref(), &unknown).await?);
    let mut seats = Vec::with_capacity(rows.len());
    for r in rows {
        let c = r.candidate;
        let state = r.attempt_state.as_deref().map(AttemptState::parse);
        let (last_heartbeat, incidents) = r
            .attempt_id
            .and_then(|a| hot.get(&a))
            .copied()
            .unwrap_or((None, 0));
        let remaining = match state {
            Some(AttemptState::InProgress) => {
                r.attempt_deadline.map(|d| (d - now).num_seconds().max(0))
            }
            _ => None,
        };
        seats.push(SeatStatus {
            candidate_id: c.id,
            full_name: r.full_name.unwrap_or_default(),
            number: c.number,
            seat: c.seat,
            checked_in: c.checked_in_at.is_some(),
            attempt_id: r.attempt_id,
            code: r.attempt_code,
            state,
            answered: r
                .attempt_id
                .and_then(|a| answered.get(&a))
                .copied()
                .unwrap_or(0),
            last_heartbeat,
            incidents,
            deadline: r.attempt_deadline,
            remaining_seconds: remaining,
            device_switch_pending: r.attempt_pending_device.is_some(),
        });
    }
    Ok(RoomStatus {
        room_id: room.id,
        name: room.name.clone(),
        sitting_id: room.sitting_id,
        server_now: now,
        seats,
    })
}

/// The room at a glance (the dashboard's snapshot, once).
#[utoipa::path(tag = "proctoring", security(("bearer" = [])), params(("room_id" = Uuid, Path)), responses(
    (status = 200, body = RoomStatus), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/rooms/{room_id}/status")]
async fn room_status(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<RoomStatus>, ApiError> {
    let (room, _, _) = room_in_reach(&state.db, &user, path.into_inner()).await?;
    Ok(web::Json(snapshot(&state, &room).await?))
}

fn frame(event: &str, data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 32);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// The room's live dashboard as Server-Sent Events (at most 4 per person, 429
/// `too_many_streams` past it; it ends when the session is signed out or revoked): `snapshot` (a RoomStatus) at once and
/// every 10 s, `live` for each check-in, start, heartbeat, incident, submit or proctor action as
/// it happens on any instance.
#[utoipa::path(tag = "proctoring", security(("bearer" = [])), params(("room_id" = Uuid, Path)), responses(
    (status = 200, description = "text/event-stream", content_type = "text/event-stream"),
    (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 503, body = Problem)))]
#[get("/rooms/{room_id}/dashboard")]
async fn dashboard(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (room, _, _) = room_in_reach(&state.db, &user, path.into_inner()).await?;
    let place = state
        .exams
        .streams
        .open(user.id)
        .ok_or(ApiError::TooManyRequests {
            code: "too_many_streams",
            retry_after_secs: 10,
        })?;
    let live = state
        .hot
        .subscribe(&super::taking::room_channel(room.id))
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "dashboard cannot subscribe");
            ApiError::Unavailable {
                retry_after_secs: 2,
            }
        })?;
    let first = serde_json::to_vec(&snapshot(&state, &room).await?)
        .map_err(|e| ApiError::Unexpected(e.into()))?;
    let mut ticker = tokio::time::interval(SNAPSHOT_EVERY);
    ticker.reset();
    let snapshots = stream::unfold(
        (state.clone(), room, ticker),
        |(state, room, mut ticker)| async move {
            ticker.tick().await;
            let body = match snapshot(&state, &room).await {
                Ok(s) => serde_json::to_vec(&s).unwrap_or_default(),
                Err(_) => b"{}".to_vec(),
            };
            Some((frame("snapshot", &body), (state, room, ticker)))
        },
    );
    let live = live.map(|message| frame("live", &message));
    // The session is checked again before every event (in memory, kept in step across
    // instances): a signed-out or revoked session stops receiving at its next event, at the
    // latest one snapshot later. The stream's place goes with it.
    let revocations = state.revocations.clone();
    let session = user.session;
    let events = stream::once(async move { frame("snapshot", &first) })
        .chain(stream::select(live, snapshots))
        .take_while(move |_| {
            let revocations = revocations.clone();
            async move { !revocations.is_revoked(session).await.unwrap_or(true) }
        })
        .map(move |frame| {
            let _held = &place;
            Ok::<_, actix_web::Error>(frame)
        });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(events))
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
    let txn = state.db.begin().await?;
    let ctx = Context::load(&txn, id).await?;
    require_room_staff(&txn, user, &ctx).await?;
    let change = build(&ctx)?;
    let after = lifecycle::apply(&txn, &ctx, change, now).await?;
    audit::record(
        &txn,
        meta,
        Event::by(user.id, action, "attempt", id, details),
    )
    .await?;
    txn.commit().await?;
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

fn acted(state: &AppState, a: attempt::Model) -> web::Json<ActionResult> {
    web::Json(ActionResult {
        attempt_id: a.id,
        state: AttemptState::parse(&a.state),
        deadline: a.deadline,
        server_now: state.clock.now(),
    })
}

/// Checks a candidate in by hand (a proctor who has seen their papers), with a reason.
#[utoipa::path(tag = "proctoring", security(("bearer" = [])), params(("candidate_id" = Uuid, Path)), request_body = ReasonRequest, responses(
    (status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
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
    let txn = state.db.begin().await?;
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
    audit::record(
        &txn,
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
    txn.commit().await?;
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
    (status = 200, body = ActionResult), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
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
            if ctx.state() != AttemptState::NotStarted {
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
    Ok(acted(&state, after))
}

/// Pauses one candidate: their time stops until they carry on.
#[utoipa::path(tag = "proctoring", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), request_body = ReasonRequest, responses(
    (status = 200, body = ActionResult), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
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
    Ok(acted(&state, after))
}

fn pause_change(ctx: &Context, actor: Uuid, why: &str) -> Result<Change, ApiError> {
    if ctx.state() != AttemptState::InProgress {
        return Err(ApiError::Conflict("attempt_not_in_progress"));
    }
    Ok(
        Change::new(EventKind::Paused, Some(actor), json!({ "reason": why }))
            .to(AttemptState::Paused),
    )
}

fn continue_change(ctx: &Context, actor: Uuid) -> Result<Change, ApiError> {
    if ctx.state() != AttemptState::Paused {
        return Err(ApiError::Conflict("attempt_not_paused"));
    }
    Ok(Change::new(EventKind::Continued, Some(actor), json!({})).to(AttemptState::InProgress))
}

/// Ends a pause: the candidate's time runs again from where it stopped.
#[utoipa::path(tag = "proctoring", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), responses(
    (status = 200, body = ActionResult), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
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
    Ok(acted(&state, after))
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
    let txn = state.db.begin().await?;
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
    audit::record(
        &txn,
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
    txn.commit().await?;
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
    (status = 200, body = RoomActionResult), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
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
    (status = 200, body = RoomActionResult), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
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
    (status = 200, body = ActionResult), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
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
            if ctx.state().is_closed() {
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
    Ok(acted(&state, after))
}

/// Lets the candidate continue on the device that asked to take over.
#[utoipa::path(tag = "proctoring", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), responses(
    (status = 200, body = ActionResult), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
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
            if ctx.state().is_closed() {
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
    Ok(acted(&state, after))
}

/// Voids an attempt (cheating, identity fraud), with a reason. It is not graded.
#[utoipa::path(tag = "proctoring", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), request_body = ReasonRequest, responses(
    (status = 200, body = ActionResult), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
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
            if ctx.state() == AttemptState::Voided {
                return Err(ApiError::Conflict("attempt_closed"));
            }
            Ok(
                Change::new(EventKind::Voided, Some(user.id), json!({ "reason": why }))
                    .to(AttemptState::Voided),
            )
        },
    )
    .await?;
    Ok(acted(&state, after))
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
    (status = 201, body = ReportResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
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
    let txn = state.db.begin().await?;
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
    audit::record(
        &txn,
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
    txn.commit().await?;
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
    (status = 200, body = Vec<ReportResponse>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
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
