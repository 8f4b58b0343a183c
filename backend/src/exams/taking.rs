//! The candidate's side of an attempt (the hot path): start, fetch the paper, save answers,
//! heartbeats, resume, submit, and the result. Every response carries `server_now` and the
//! `deadline` (the paper, whose body is cached, carries them as headers).
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, FromQueryResult, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    batched,
    domain::{self, AttemptState, EventKind, Navigation, ResultRelease},
    grading::{self, Score},
    hot_clock,
    lifecycle::{self, Change, Context},
    writer::{Answer, SaveJob},
};
use crate::{
    auth::{CurrentUser, roles::Role},
    entities::{attempt, exam, paper_code, sitting},
    error::{ApiError, FieldError, Problem},
    request::RequestMeta,
    state::AppState,
    stores::hot::{Op, Reply},
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    // The commonest requests of a sitting first (see startup.rs).
    cfg.service(heartbeat)
        .service(save)
        .service(paper)
        .service(start)
        .service(submit)
        .service(my_attempts)
        .service(new_practice_attempt)
        .service(resume)
        .service(get_attempt)
        .service(next_section)
        .service(result);
}

/// Client-reported incidents the proctor sees.
pub const INCIDENTS: &[&str] = &[
    "focus_lost",
    "tab_hidden",
    "fullscreen_exited",
    "copy_paste",
    "network_lost",
];
/// Answers one save may carry.
const MAX_ANSWERS_PER_SAVE: usize = 60;
/// Presence is gone when no heartbeat came for this long.
const PRESENCE_TTL: std::time::Duration = std::time::Duration::from_secs(120);
/// Incident counts outlive any sitting; the submit copies them onto the attempt.
const INCIDENT_TTL: std::time::Duration = std::time::Duration::from_secs(86_400);

pub fn room_channel(room: Uuid) -> String {
    format!("room:{room}")
}

/// Tells the room's proctors, on every instance, that something happened.
pub async fn announce(state: &AppState, room: Option<Uuid>, message: serde_json::Value) {
    if let Some(room) = room
        && let Err(e) = state
            .hot
            .publish(&room_channel(room), message.to_string().as_bytes())
            .await
    {
        tracing::debug!(error = %e, "room announcement lost (the dashboard's next snapshot repairs it)");
    }
}

#[derive(Deserialize, ToSchema)]
pub struct DeviceRequest {
    /// A random id the client keeps for this device (8-100 characters).
    pub device_id: String,
}

#[derive(Deserialize, ToSchema)]
pub struct StartRequest {
    /// A random id the client keeps for this device (8-100 characters).
    pub device_id: String,
    /// The passkey's answer to `/attempts/{id}/passkey-challenge`, when the exam's identity
    /// policy asks for one.
    #[serde(default)]
    pub passkey: Option<crate::identity::passkeys::AssertionRequest>,
}

impl StartRequest {
    /// Verifies the step-up assertion if one came; answers whether it did.
    async fn verify_passkey(
        self,
        state: &AppState,
        meta: &RequestMeta,
        user: &CurrentUser,
        attempt: Uuid,
    ) -> Result<bool, ApiError> {
        let Some(proof) = self.passkey else {
            return Ok(false);
        };
        crate::identity::passkeys::verify_for_attempt(
            state,
            meta,
            user,
            attempt,
            &self.device_id,
            proof,
        )
        .await?;
        Ok(true)
    }
}

pub fn check_device(device: &str) -> Result<(), ApiError> {
    if (8..=100).contains(&device.len()) && device.chars().all(|c| c.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(ApiError::field("device_id", "invalid"))
    }
}

#[derive(Serialize, ToSchema)]
pub struct SavedAnswer {
    pub slot: i32,
    pub seq: i64,
    /// The stored form: "B", "ĐS_Đ", "-1,5", essay text; null when cleared.
    pub value: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AttemptView {
    pub id: Uuid,
    pub sitting_id: Uuid,
    pub code: String,
    pub number: i32,
    pub state: AttemptState,
    pub server_now: DateTime<Utc>,
    /// Null before the start and while paused (time is frozen then).
    pub deadline: Option<DateTime<Utc>>,
    pub remaining_seconds: i64,
    pub navigation: Navigation,
    /// The open part under forward-only navigation.
    pub section: i32,
    pub answers: Vec<SavedAnswer>,
    /// Continue numbering saves after this.
    pub last_seq: i64,
    pub submitted_at: Option<DateTime<Utc>>,
}

pub async fn view(state: &AppState, ctx: &Context, answers: bool) -> Result<AttemptView, ApiError> {
    let latest = if answers {
        Some(grading::latest_answers(&state.db, ctx.attempt.id).await?)
    } else {
        None
    };
    view_with(state, ctx, latest.as_ref()).await
}

/// The view with the answers the caller has read (none: the view carries no answers).
async fn view_with(
    state: &AppState,
    ctx: &Context,
    latest: Option<&grading::Latest>,
) -> Result<AttemptView, ApiError> {
    let now = state.clock.now();
    let remaining_seconds = time_left(
        state,
        ctx.attempt.id,
        (ctx.state(), ctx.attempt.deadline),
        Some(ctx),
        now,
    )
    .await?;
    let mut saved = Vec::new();
    let mut last_seq = 0;
    for (slot, (seq, value)) in latest.into_iter().flatten() {
        last_seq = last_seq.max(*seq);
        saved.push(SavedAnswer {
            slot: *slot,
            seq: *seq,
            value: value.clone(),
        });
    }
    let a = &ctx.attempt;
    Ok(AttemptView {
        id: a.id,
        sitting_id: a.sitting_id,
        code: a.code.clone(),
        number: a.number,
        state: ctx.state(),
        server_now: now,
        deadline: a.deadline,
        remaining_seconds,
        navigation: if ctx.sitting.navigation == "forward_only" {
            Navigation::ForwardOnly
        } else {
            Navigation::Free
        },
        section: a.section,
        answers: saved,
        last_seq,
        submitted_at: a.submitted_at,
    })
}

/// Seconds left: a running attempt's deadline minus now, with no read; a paused or unstarted
/// one's folded from its events (and its context, loaded unless given).
async fn time_left(
    state: &AppState,
    id: Uuid,
    (current, deadline): (AttemptState, Option<DateTime<Utc>>),
    ctx: Option<&Context>,
    now: DateTime<Utc>,
) -> Result<i64, ApiError> {
    match (current, deadline) {
        (s, _) if s.is_closed() => Ok(0),
        (AttemptState::InProgress, Some(deadline)) => Ok((deadline - now).num_seconds().max(0)),
        _ => {
            let allowed = match ctx {
                Some(ctx) => ctx.allowed(),
                None => Context::load(&state.db, id).await?.allowed(),
            };
            let events = lifecycle::events(&state.db, id).await?;
            Ok(domain::clock(allowed, &lifecycle::ticks(&events), now).remaining_seconds)
        }
    }
}

/// The caller's own attempt; anyone else's is "not found".
async fn own(state: &AppState, user: &CurrentUser, id: Uuid) -> Result<Context, ApiError> {
    user.require(&[Role::Student], user.home())?;
    let ctx = Context::load(&state.db, id).await?;
    owned(&ctx, user)?;
    Ok(ctx)
}

fn owned(ctx: &Context, user: &CurrentUser) -> Result<(), ApiError> {
    if ctx.attempt.user_id != user.id {
        return Err(ApiError::NotFound("attempt_not_found"));
    }
    Ok(())
}

#[derive(Serialize, ToSchema)]
pub struct MyAttempt {
    pub id: Uuid,
    pub exam_name: String,
    pub sitting_name: String,
    pub starts_at: DateTime<Utc>,
    pub minutes: i32,
    pub code: String,
    pub state: AttemptState,
    pub deadline: Option<DateTime<Utc>>,
    pub server_now: DateTime<Utc>,
}

/// The caller's attempts: what to start, resume or look back on.
#[utoipa::path(tag = "attempts", security(("bearer" = [])), responses(
    (status = 200, body = Vec<MyAttempt>), (status = 401, body = Problem)))]
#[get("/me/attempts")]
async fn my_attempts(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<web::Json<Vec<MyAttempt>>, ApiError> {
    // One joined read: every candidate asks for this at the start spike, and three round
    // trips each (attempts, then their sittings, then their exams) were two too many.
    let rows: Vec<MyAttemptRow> = attempt::Entity::find()
        .select_only()
        .columns([
            attempt::Column::Id,
            attempt::Column::Code,
            attempt::Column::State,
            attempt::Column::Deadline,
        ])
        .column_as(exam::Column::Name, "exam_name")
        .column_as(sitting::Column::Name, "sitting_name")
        .columns([sitting::Column::StartsAt, sitting::Column::Minutes])
        .join(JoinType::InnerJoin, attempt::Relation::Sitting.def())
        .join(JoinType::InnerJoin, sitting::Relation::Exam.def())
        .filter(attempt::Column::UserId.eq(user.id))
        .order_by_desc(attempt::Column::Id)
        .into_model()
        .all(&state.db)
        .await?;
    let now = state.clock.now();
    Ok(web::Json(
        rows.into_iter()
            .map(|r| MyAttempt {
                id: r.id,
                exam_name: r.exam_name,
                sitting_name: r.sitting_name,
                starts_at: r.starts_at,
                minutes: r.minutes,
                code: r.code,
                state: AttemptState::parse(&r.state),
                deadline: r.deadline,
                server_now: now,
            })
            .collect(),
    ))
}

#[derive(FromQueryResult)]
struct MyAttemptRow {
    id: Uuid,
    code: String,
    state: String,
    deadline: Option<DateTime<Utc>>,
    exam_name: String,
    sitting_name: String,
    starts_at: DateTime<Utc>,
    minutes: i32,
}

/// Practice and homework: a new attempt in the open window, up to the sitting's limit.
#[utoipa::path(tag = "attempts", security(("bearer" = [])), params(("sitting_id" = Uuid, Path)), responses(
    (status = 201, body = AttemptView), (status = 401, body = Problem), (status = 403, body = Problem),
    (status = 404, body = Problem), (status = 409, body = Problem)))]
#[post("/sittings/{sitting_id}/attempts")]
async fn new_practice_attempt(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Student], user.home())?;
    let sitting = sitting::Entity::find_by_id(path.into_inner())
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("sitting_not_found"))?;
    let exam = exam::Entity::find_by_id(sitting.exam_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("sitting_not_found"))?;
    let me = user.account(&state.db).await?;
    let eligible = match (exam.class_id, exam.school_id) {
        (Some(class), _) => me.class_id == Some(class),
        (None, Some(school)) => me.school_id == Some(school),
        (None, None) => true,
    };
    if !eligible {
        return Err(ApiError::NotFound("sitting_not_found"));
    }
    if exam.kind != "practice" {
        return Err(ApiError::Conflict("not_a_practice_test"));
    }
    let now = state.clock.now();
    if now < sitting.starts_at || sitting.closes_at.is_some_and(|c| now > c) {
        return Err(ApiError::Conflict("sitting_not_open"));
    }
    let mine = attempt::Entity::find()
        .filter(attempt::Column::SittingId.eq(sitting.id))
        .filter(attempt::Column::UserId.eq(user.id))
        .all(&state.db)
        .await?;
    if mine
        .iter()
        .any(|a| !AttemptState::parse(&a.state).is_closed())
    {
        return Err(ApiError::Conflict("attempt_open"));
    }
    if mine.len() as i32 >= sitting.max_attempts {
        return Err(ApiError::Conflict("no_attempts_left"));
    }
    let codes = paper_code::Entity::find()
        .filter(paper_code::Column::PaperId.eq(sitting.paper_id))
        .order_by_asc(paper_code::Column::Code)
        .all(&state.db)
        .await?;
    if codes.is_empty() {
        return Err(ApiError::Conflict("paper_has_no_codes"));
    }
    // Spread students over the codes, and give each new attempt the next code.
    let first = (user.id.as_u128() % codes.len() as u128) as usize;
    let code = codes[(first + mine.len()) % codes.len()].code.clone();
    let model = lifecycle::new_attempt(&sitting, None, user.id, code, mine.len() as i32 + 1);
    attempt::Entity::insert(attempt::ActiveModel::from(model.clone()).reset_all())
        .exec_without_returning(&state.db)
        .await?;
    let ctx = Context::around(&state.db, model).await?;
    Ok(HttpResponse::Created().json(view(&state, &ctx, false).await?))
}

/// Starts the attempt on this device. Exams need a check-in, the sitting's start time, and no
/// more than the late-start limit (unless a proctor admitted the candidate late).
/// Under a passkey identity policy the request carries a fresh assertion for this attempt and
/// device (`passkey_assertion_required` otherwise).
#[utoipa::path(tag = "attempts", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), request_body = StartRequest, responses(
    (status = 200, body = AttemptView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
    (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/attempts/{attempt_id}/start")]
async fn start(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<StartRequest>,
) -> Result<web::Json<AttemptView>, ApiError> {
    let id = path.into_inner();
    check_device(&body.device_id)?;
    user.require(&[Role::Student], user.home())?;
    let device = body.device_id.clone();
    let asserted = body
        .into_inner()
        .verify_passkey(&state, &meta, &user, id)
        .await?;
    let now = state.clock.now();
    let starter = user.clone();
    let rule: batched::Rule = Arc::new(move |ctx| {
        let user = &starter;
        owned(ctx, user)?;
        if ctx.state() != AttemptState::NotStarted {
            return Err(ApiError::Conflict("attempt_already_started"));
        }
        if now < ctx.sitting.starts_at {
            return Err(ApiError::Conflict("sitting_not_open"));
        }
        let identity = ctx.policy()?.identity;
        if identity.needs_passkey() && !asserted {
            return Err(ApiError::Forbidden("passkey_assertion_required"));
        }
        if ctx.exam.kind == "exam" {
            let candidate = ctx.candidate.as_ref();
            if identity.needs_check_in() && candidate.is_none_or(|c| c.checked_in_at.is_none()) {
                return Err(ApiError::Conflict("not_checked_in"));
            }
            let limit = ctx.sitting.starts_at
                + chrono::Duration::minutes(i64::from(ctx.sitting.late_start_minutes));
            if now > limit && !candidate.is_some_and(|c| c.admitted_late) {
                return Err(ApiError::Conflict("late_start_limit_passed"));
            }
        } else if ctx.sitting.closes_at.is_some_and(|c| now > c) {
            return Err(ApiError::Conflict("sitting_not_open"));
        }
        Ok(Change::new(
            EventKind::Started,
            Some(user.id),
            json!({ "device": device, "passkey": asserted }),
        )
        .to(AttemptState::InProgress)
        .edit(|a, d| a.device_id = d["device"].as_str().map(str::to_owned)))
    });
    let ctx = batched::change(&state, id, now, rule).await?.ctx;
    announce(
        &state,
        ctx.attempt.room_id,
        json!({ "type": "started", "attempt": id, "at": now }),
    )
    .await;
    // Warms the facts the paper fetch and heartbeats need; failing here only means they read.
    let _ = state.exams.facts_of(&state.db, &ctx.attempt).await;
    // Nothing can have been saved before the start: no answers to read back.
    Ok(web::Json(view(&state, &ctx, false).await?))
}

/// Comes back to a started attempt: after a crash on the same device, or on another device once
/// a proctor approves the switch (practice tests switch without one). Under a passkey identity
/// policy every resume, on the same device or another, carries a fresh assertion.
#[utoipa::path(tag = "attempts", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), request_body = StartRequest, responses(
    (status = 200, body = AttemptView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
    (status = 404, body = Problem), (status = 409, description = "device_switch_needs_approval, attempt_closed, …", body = Problem)))]
#[post("/attempts/{attempt_id}/resume")]
async fn resume(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<StartRequest>,
) -> Result<web::Json<AttemptView>, ApiError> {
    let id = path.into_inner();
    check_device(&body.device_id)?;
    let ctx = own(&state, &user, id).await?;
    match ctx.state() {
        AttemptState::NotStarted => return Err(ApiError::Conflict("attempt_not_started")),
        s if s.is_closed() => return Err(ApiError::Conflict("attempt_closed")),
        _ => {}
    }
    let body = body.into_inner();
    let device = body.device_id.clone();
    let needs_passkey = ctx.policy()?.identity.needs_passkey();
    if needs_passkey && body.passkey.is_none() {
        return Err(ApiError::Forbidden("passkey_assertion_required"));
    }
    body.verify_passkey(&state, &meta, &user, id).await?;
    if ctx.attempt.device_id.as_deref() == Some(device.as_str()) {
        return Ok(web::Json(view(&state, &ctx, true).await?));
    }
    let now = state.clock.now();
    if ctx.exam.kind == "practice" {
        let ctx = lifecycle::change_now(&state, id, now, |_| {
            Ok(Change::new(
                EventKind::DeviceSwitchApproved,
                Some(user.id),
                json!({ "device": device }),
            )
            .edit(|a, d| {
                a.device_id = d["device"].as_str().map(str::to_owned);
                a.pending_device = None;
            }))
        })
        .await?;
        return Ok(web::Json(view(&state, &ctx, true).await?));
    }
    if ctx.attempt.pending_device.as_deref() != Some(device.as_str()) {
        lifecycle::change_now(&state, id, now, |_| {
            Ok(Change::new(
                EventKind::DeviceSwitchRequested,
                Some(user.id),
                json!({ "device": device }),
            )
            .edit(|a, d| a.pending_device = d["device"].as_str().map(str::to_owned)))
        })
        .await?;
        announce(
            &state,
            ctx.attempt.room_id,
            json!({ "type": "device_switch_requested", "attempt": id, "at": now }),
        )
        .await;
    }
    Err(ApiError::Conflict("device_switch_needs_approval"))
}

/// The attempt as it stands, with every saved answer (its candidate, or the exam's staff).
#[utoipa::path(tag = "attempts", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), responses(
    (status = 200, body = AttemptView), (status = 401, body = Problem), (status = 404, body = Problem)))]
#[get("/attempts/{attempt_id}")]
async fn get_attempt(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<AttemptView>, ApiError> {
    let ctx = Context::load(&state.db, path.into_inner()).await?;
    if ctx.attempt.user_id != user.id {
        super::proctor::require_room_staff(&state.db, &user, &ctx).await?;
    }
    Ok(web::Json(view(&state, &ctx, true).await?))
}

/// This attempt's paper code: questions and options in the code's order, never a key. Cached
/// per code; send `If-None-Match` with the ETag to get 304.
#[utoipa::path(tag = "attempts", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), responses(
    (status = 200, description = "the paper (JSON); headers ETag, X-Server-Now, X-Deadline"),
    (status = 304, description = "unchanged"),
    (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[get("/attempts/{attempt_id}/paper")]
async fn paper(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Student], user.home())?;
    let id = path.into_inner();
    let facts = state.exams.facts(&state.db, id).await?;
    if facts.user_id != user.id {
        return Err(ApiError::NotFound("attempt_not_found"));
    }
    let clock = hot_clock::read(&state, id).await?;
    if clock.state == AttemptState::NotStarted {
        return Err(ApiError::Conflict("attempt_not_started"));
    }
    let cached = state
        .exams
        .paper(&state, facts.paper_id, &facts.code)
        .await?;
    let unchanged = req
        .headers()
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == cached.etag));
    let mut response = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header(("ETag", cached.etag.clone()))
        .insert_header(("Cache-Control", "private, no-cache"))
        .insert_header(("X-Server-Now", state.clock.now().to_rfc3339()));
    if let Some(d) = clock.deadline {
        response.insert_header(("X-Deadline", d.to_rfc3339()));
    }
    if unchanged {
        return Ok(response.finish());
    }
    Ok(response
        .content_type("application/json")
        .body(cached.body.clone()))
}

#[derive(Deserialize, ToSchema)]
pub struct AnswerInput {
    /// The question's position in the paper, from 0.
    pub slot: i32,
    /// "B"; four marks like ["Đ", "S", null, "Đ"] or "ĐS_Đ"; "-1,5"; essay text; null clears.
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
}

#[derive(Deserialize, ToSchema)]
pub struct SaveRequest {
    pub device_id: String,
    /// The client's sequence number for this save, increasing over the attempt. Resending the
    /// same save is harmless; an older sequence never replaces a newer answer.
    pub seq: i64,
    pub answers: Vec<AnswerInput>,
}

#[derive(Serialize, ToSchema)]
pub struct SaveAck {
    /// Answers durable in the database (this save's, or a newer one's).
    pub saved: usize,
    pub seq: i64,
    pub server_now: DateTime<Utc>,
    pub deadline: Option<DateTime<Utc>>,
}

/// Saves one answer or several. Answered 200 only once committed; 503 with Retry-After when
/// the writer is full or the database is failing (resend the same save).
#[utoipa::path(tag = "attempts", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), request_body = SaveRequest, responses(
    (status = 200, body = SaveAck), (status = 401, body = Problem), (status = 403, body = Problem),
    (status = 404, body = Problem), (status = 409, description = "deadline_passed, attempt_paused, device_not_current, …", body = Problem),
    (status = 422, body = Problem), (status = 503, body = Problem)))]
#[put("/attempts/{attempt_id}/answers")]
async fn save(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<SaveRequest>,
) -> Result<web::Json<SaveAck>, ApiError> {
    user.require(&[Role::Student], user.home())?;
    let id = path.into_inner();
    let body = body.into_inner();
    check_device(&body.device_id)?;
    if body.seq < 1 {
        return Err(ApiError::field("seq", "out_of_range"));
    }
    if body.answers.is_empty() || body.answers.len() > MAX_ANSWERS_PER_SAVE {
        return Err(ApiError::field("answers", "out_of_range"));
    }
    let facts = state.exams.facts(&state.db, id).await?;
    if facts.user_id != user.id {
        return Err(ApiError::NotFound("attempt_not_found"));
    }
    let mut answers = Vec::with_capacity(body.answers.len());
    let mut problems = Vec::new();
    for (i, a) in body.answers.iter().enumerate() {
        let Some(part) = usize::try_from(a.slot)
            .ok()
            .and_then(|s| facts.parts.get(s))
            .copied()
        else {
            problems.push(FieldError::new(
                format!("answers[{i}].slot"),
                "no_such_slot",
            ));
            continue;
        };
        match domain::check_answer(part, &a.value) {
            Ok(value) => answers.push(Answer {
                slot: a.slot,
                part,
                value,
            }),
            Err(code) => problems.push(FieldError::new(format!("answers[{i}].value"), code)),
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::fields(problems));
    }
    let saved = answers.len();
    let ack = state
        .exams
        .writer
        .save(SaveJob {
            attempt_id: id,
            user_id: user.id,
            device_id: body.device_id,
            seq: body.seq,
            forward_only: facts.forward_only,
            answers,
        })
        .await?;
    Ok(web::Json(SaveAck {
        saved,
        seq: body.seq,
        server_now: ack.server_now,
        deadline: ack.deadline,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct HeartbeatRequest {
    pub device_id: String,
    /// Since the last heartbeat: "focus_lost", "tab_hidden", "fullscreen_exited", "copy_paste",
    /// "network_lost".
    #[serde(default)]
    pub incidents: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct HeartbeatAck {
    pub state: AttemptState,
    pub server_now: DateTime<Utc>,
    pub deadline: Option<DateTime<Utc>>,
    pub remaining_seconds: i64,
}

/// Presence and incidents go to the hot store (and the room's dashboard), not the database.
#[utoipa::path(tag = "attempts", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), request_body = HeartbeatRequest, responses(
    (status = 200, body = HeartbeatAck), (status = 401, body = Problem), (status = 403, body = Problem),
    (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/attempts/{attempt_id}/heartbeat")]
async fn heartbeat(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<HeartbeatRequest>,
) -> Result<web::Json<HeartbeatAck>, ApiError> {
    user.require(&[Role::Student], user.home())?;
    let id = path.into_inner();
    check_device(&body.device_id)?;
    if body.incidents.len() > 20
        || body
            .incidents
            .iter()
            .any(|i| !INCIDENTS.contains(&i.as_str()))
    {
        return Err(ApiError::field("incidents", "unknown_incident"));
    }
    let facts = state.exams.facts(&state.db, id).await?;
    if facts.user_id != user.id {
        return Err(ApiError::NotFound("attempt_not_found"));
    }
    let now = state.clock.now();
    // One round trip to the hot store: the clock copy read, presence and incident counts
    // written, the room told. Presence and counts are rebuilt by the next heartbeat if the hot
    // store loses them; a failed batch only means the clock comes from the row.
    let clock_key = hot_clock::key(id);
    let presence_key = format!("presence:{id}");
    let presence = json!({ "at": now, "device": body.device_id }).to_string();
    let total_key = format!("incidents:{id}");
    let kind_keys: Vec<String> = body
        .incidents
        .iter()
        .map(|kind| format!("incidents:{id}:{kind}"))
        .collect();
    let channel = facts.room_id.map(room_channel);
    let live =
        json!({ "type": "heartbeat", "attempt": id, "at": now, "incidents": body.incidents })
            .to_string();
    let mut ops = vec![
        Op::Get(&clock_key),
        Op::Set(&presence_key, presence.as_bytes(), PRESENCE_TTL),
    ];
    if !kind_keys.is_empty() {
        ops.push(Op::Incr(&total_key, kind_keys.len() as i64, INCIDENT_TTL));
        ops.extend(kind_keys.iter().map(|k| Op::Incr(k, 1, INCIDENT_TTL)));
    }
    if let Some(channel) = &channel {
        ops.push(Op::Publish(channel, live.as_bytes()));
    }
    let copy = match state.hot.batch(&ops).await {
        Ok(replies) => match replies.first() {
            Some(Reply::Value(Some(stored))) => hot_clock::parse(stored),
            _ => None,
        },
        Err(e) => {
            tracing::debug!(error = %e, "heartbeat's hot-store batch failed; the clock comes from the row");
            None
        }
    };
    let clock = match copy {
        Some(copy) => copy,
        None => hot_clock::read_row(&state, id).await?,
    };
    let remaining_seconds = time_left(&state, id, (clock.state, clock.deadline), None, now).await?;
    Ok(web::Json(HeartbeatAck {
        state: clock.state,
        server_now: now,
        deadline: clock.deadline,
        remaining_seconds,
    }))
}

/// Forward-only navigation: closes the open part and opens the next one, for good.
#[utoipa::path(tag = "attempts", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), request_body = DeviceRequest, responses(
    (status = 200, body = AttemptView), (status = 401, body = Problem), (status = 403, body = Problem),
    (status = 404, body = Problem), (status = 409, body = Problem)))]
#[post("/attempts/{attempt_id}/next-section")]
async fn next_section(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<DeviceRequest>,
) -> Result<web::Json<AttemptView>, ApiError> {
    let id = path.into_inner();
    user.require(&[Role::Student], user.home())?;
    let facts = state.exams.facts(&state.db, id).await?;
    let last = i32::from(facts.parts.iter().copied().max().unwrap_or(1));
    let now = state.clock.now();
    let ctx = lifecycle::change_now(&state, id, now, |ctx| {
        owned(ctx, &user)?;
        if ctx.sitting.navigation != "forward_only" {
            return Err(ApiError::Conflict("navigation_is_free"));
        }
        if ctx.state() != AttemptState::InProgress {
            return Err(ApiError::Conflict("attempt_not_in_progress"));
        }
        if ctx.attempt.device_id.as_deref() != Some(body.device_id.as_str()) {
            return Err(ApiError::Conflict("device_not_current"));
        }
        if ctx.attempt.section >= last {
            return Err(ApiError::Conflict("no_next_section"));
        }
        Ok(
            Change::new(EventKind::SectionAdvanced, Some(user.id), json!({}))
                .edit(|a, _| a.section += 1),
        )
    })
    .await?;
    Ok(web::Json(view(&state, &ctx, false).await?))
}

/// Hands the attempt in. Parts I-III are graded straight after the response; essays wait for
/// graders.
#[utoipa::path(tag = "attempts", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), request_body = DeviceRequest, responses(
    (status = 200, body = AttemptView), (status = 401, body = Problem), (status = 403, body = Problem),
    (status = 404, body = Problem), (status = 409, body = Problem)))]
#[post("/attempts/{attempt_id}/submit")]
async fn submit(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<DeviceRequest>,
) -> Result<web::Json<AttemptView>, ApiError> {
    let id = path.into_inner();
    user.require(&[Role::Student], user.home())?;
    let now = state.clock.now();
    let submitter = user.clone();
    let device = body.into_inner().device_id;
    let rule: batched::Rule = Arc::new(move |ctx| {
        owned(ctx, &submitter)?;
        match ctx.state() {
            AttemptState::InProgress => {}
            AttemptState::Paused => return Err(ApiError::Conflict("attempt_paused")),
            s if s.is_closed() => return Err(ApiError::Conflict("attempt_closed")),
            _ => return Err(ApiError::Conflict("attempt_not_started")),
        }
        if ctx.attempt.device_id.as_deref() != Some(device.as_str()) {
            return Err(ApiError::Conflict("device_not_current"));
        }
        Ok(
            Change::new(EventKind::Submitted, Some(submitter.id), json!({}))
                .to(AttemptState::Submitted),
        )
    });
    // The answers come read after the close, so they are final (a save batch holding the row
    // commits before the close; one after it finds the attempt closed): the response and the
    // grading share them.
    let applied = batched::change(&state, id, now, rule).await?;
    let (ctx, latest) = (applied.ctx, applied.answers.unwrap_or_default());
    announce(
        &state,
        ctx.attempt.room_id,
        json!({ "type": "submitted", "attempt": id, "at": now }),
    )
    .await;
    let view = view_with(&state, &ctx, Some(&latest)).await?;
    // Graded after the response: at the deadline submits come all at once, and the grading
    // queue takes them in batches (what reads a score grades what is still queued first).
    state.exams.grading.push(grading::Submitted {
        ctx,
        answers: Some(latest),
    });
    Ok(web::Json(view))
}

/// What follows the sweeper's submits: the attempts are settled together (incidents recorded,
/// graded), then their rooms hear of them. A failure here is retried by the sweeper's grading
/// pass; the submits themselves are already durable.
pub async fn after_sweep(state: &AppState, swept: &[Context]) {
    let batch: Vec<grading::Submitted> =
        swept.iter().cloned().map(grading::Submitted::new).collect();
    if let Err(e) = grading::settle_all(state, &batch).await {
        tracing::warn!(error = ?e, attempts = swept.len(), "grading after the sweep failed; the sweeper retries");
        return;
    }
    for ctx in swept {
        announce(
            state,
            ctx.attempt.room_id,
            json!({ "type": "auto_submitted", "attempt": ctx.attempt.id, "at": state.clock.now() }),
        )
        .await;
    }
}

#[derive(Serialize, ToSchema)]
pub struct QuestionResult {
    pub slot: i32,
    pub part: u8,
    /// Numbered within its part, as printed.
    pub number: usize,
    pub answer: Option<String>,
    /// Shown when the exam's policy shows the key (practice tests).
    pub key: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ResultView {
    pub attempt_id: Uuid,
    pub code: String,
    pub state: AttemptState,
    pub score: Score,
    pub questions: Vec<QuestionResult>,
    pub server_now: DateTime<Utc>,
}

/// The candidate's result with its breakdown by part, once the exam's policy releases it.
#[utoipa::path(tag = "attempts", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), responses(
    (status = 200, body = ResultView), (status = 401, body = Problem), (status = 403, body = Problem),
    (status = 404, body = Problem), (status = 409, description = "results_not_released, not_graded", body = Problem)))]
#[get("/attempts/{attempt_id}/result")]
async fn result(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<ResultView>, ApiError> {
    let ctx = Context::load(&state.db, path.into_inner()).await?;
    let staff = if ctx.attempt.user_id == user.id {
        false
    } else {
        super::proctor::require_room_staff(&state.db, &user, &ctx).await?;
        true
    };
    let policy = ctx.policy()?;
    if !(staff || ctx.exam.results_released || policy.release == ResultRelease::Immediate) {
        return Err(ApiError::Conflict("results_not_released"));
    }
    if !ctx.state().is_closed() {
        return Err(ApiError::Conflict("not_graded"));
    }
    // A submit whose grading is still queued is graded now: a released result is never missing.
    let score = match grading::stored_score(&ctx.attempt) {
        Some(score) => score,
        None => grading::settle(&state, &ctx).await?,
    };
    let (slots, key) = grading::code_of(&state.db, ctx.attempt.paper_id, &ctx.attempt.code).await?;
    let latest = grading::latest_answers(&state.db, ctx.attempt.id).await?;
    let show_key = staff || policy.show_key;
    let mut numbers = [0usize; 5];
    let questions = slots
        .iter()
        .enumerate()
        .map(|(i, s)| {
            numbers[s.part as usize] += 1;
            let n = numbers[s.part as usize];
            let key = show_key
                .then(|| match s.part {
                    1 => key.part1.get(n - 1).cloned(),
                    2 => key.part2.get(n - 1).cloned(),
                    3 => key.part3.get(n - 1).map(|a| a.join(" / ")),
                    _ => None,
                })
                .flatten();
            QuestionResult {
                slot: i as i32,
                part: s.part,
                number: n,
                answer: latest.get(&(i as i32)).and_then(|(_, v)| v.clone()),
                key,
            }
        })
        .collect();
    Ok(web::Json(ResultView {
        attempt_id: ctx.attempt.id,
        code: ctx.attempt.code.clone(),
        state: ctx.state(),
        score,
        questions,
        server_now: state.clock.now(),
    }))
}
