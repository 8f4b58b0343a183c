//! The candidate's side of an attempt (the hot path): start, fetch the paper, save answers,
//! heartbeats, resume, submit, and the result. Every response carries `server_now` and the
//! `deadline` (the paper, whose body is cached, carries them as headers).
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    batched,
    domain::{self, AttemptState, EventKind, ExamKind, Navigation, ResultRelease},
    grading::{self, Score},
    hot_clock,
    lifecycle::{self, Change, Context},
    room_feed::announce,
};
use crate::{
    auth::{CurrentUser, roles::Role},
    error::{ApiError, Problem},
    identity::passkeys::{AssertionRequest, AttemptProof, check_device},
    request::RequestMeta,
    state::AppState,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    // The commonest requests of a sitting first (see startup.rs).
    cfg.service(paper)
        .service(start)
        .service(submit)
        .service(resume)
        .service(get_attempt)
        .service(next_section)
        .service(result);
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
    pub passkey: Option<AssertionRequest>,
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
        let proof = AttemptProof::open(state, user, attempt, &self.device_id, proof).await?;
        if let Some(supervisor) = proof.enrolled_by() {
            refuse_if_only_proctor(state, attempt, supervisor).await?;
        }
        proof.finish(state, meta).await?;
        Ok(true)
    }
}

/// A passkey enrolled under X's supervision proves nothing to X: it does not open an attempt
/// whose room X proctors alone (a second proctor, or another passkey, is needed).
async fn refuse_if_only_proctor(
    state: &AppState,
    attempt: Uuid,
    supervisor: Uuid,
) -> Result<(), ApiError> {
    let room = match crate::entities::attempt::Entity::find_by_id(attempt)
        .one(&state.db)
        .await?
        .and_then(|a| a.room_id)
    {
        Some(room) => {
            crate::entities::exam_room::Entity::find_by_id(room)
                .one(&state.db)
                .await?
        }
        None => None,
    };
    let proctors = room
        .map(|r| super::staff::proctors_of(&r))
        .unwrap_or_default();
    if proctors == [supervisor] {
        return Err(ApiError::Forbidden("passkey_supervised_by_sole_proctor"));
    }
    Ok(())
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
        (ctx.state()?, ctx.attempt.deadline),
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
        state: ctx.state()?,
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
pub(super) async fn time_left(
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

/// Starts the attempt on this device. Exams need a check-in, the sitting's start time, and no
/// more than the late-start limit (unless a proctor admitted the candidate late).
/// Under a passkey identity policy the request carries a fresh assertion for this attempt and
/// device (`passkey_assertion_required` otherwise).
#[utoipa::path(tag = "attempts", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), request_body = StartRequest, responses(
    (status = 200, body = AttemptView), (status = 409, body = Problem), (status = 422, body = Problem)))]
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
        if ctx.state()? != AttemptState::NotStarted {
            return Err(ApiError::Conflict("attempt_already_started"));
        }
        if now < ctx.sitting.starts_at {
            return Err(ApiError::Conflict("sitting_not_open"));
        }
        let identity = ctx.policy()?.identity;
        if identity.needs_passkey() && !asserted {
            return Err(ApiError::Forbidden("passkey_assertion_required"));
        }
        if ExamKind::parse(&ctx.exam.kind)? == ExamKind::Exam {
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
    let ctx = batched::change(&state.exams, id, now, rule, crate::admission::leave)
        .await?
        .ctx;
    announce(
        &state,
        ctx.attempt.room_id,
        json!({ "type": "started", "attempt": id, "at": now }),
    )
    .await;
    // Warms the facts the paper fetch and heartbeats need; failing here only means they read.
    let _ = state.exams.facts_of(&ctx.attempt).await;
    // Nothing can have been saved before the start: no answers to read back.
    Ok(web::Json(view(&state, &ctx, false).await?))
}

/// Comes back to a started attempt: after a crash on the same device, or on another device once
/// a proctor approves the switch (practice tests switch without one). Under a passkey identity
/// policy every resume, on the same device or another, carries a fresh assertion.
#[utoipa::path(tag = "attempts", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), request_body = StartRequest, responses(
    (status = 200, body = AttemptView), (status = 409, description = "device_switch_needs_approval, attempt_closed, …", body = Problem)))]
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
    match ctx.state()? {
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
    if ExamKind::parse(&ctx.exam.kind)? == ExamKind::Practice {
        let ctx = lifecycle::change_now(&state.exams, id, now, |_| {
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
        lifecycle::change_now(&state.exams, id, now, |_| {
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
    (status = 200, body = AttemptView)))]
#[get("/attempts/{attempt_id}")]
async fn get_attempt(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<AttemptView>, ApiError> {
    let ctx = Context::load(&state.db, path.into_inner()).await?;
    if ctx.attempt.user_id != user.id {
        super::access::require_room_staff(&state.db, &user, &ctx).await?;
    }
    Ok(web::Json(view(&state, &ctx, true).await?))
}

/// This attempt's paper code: questions and options in the code's order, never a key. Cached
/// per code; send `If-None-Match` with the ETag to get 304.
#[utoipa::path(tag = "attempts", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), responses(
    (status = 200, description = "the paper (JSON); headers ETag, X-Server-Now, X-Deadline"),
    (status = 304, description = "unchanged"), (status = 409, body = Problem)))]
#[get("/attempts/{attempt_id}/paper")]
async fn paper(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Student], user.home())?;
    let id = path.into_inner();
    let facts = state.exams.facts(id).await?;
    if facts.user_id != user.id {
        return Err(ApiError::NotFound("attempt_not_found"));
    }
    let clock = hot_clock::read(&state.exams, id).await?;
    if clock.state == AttemptState::NotStarted {
        return Err(ApiError::Conflict("attempt_not_started"));
    }
    let cached = state.exams.paper(facts.paper_id, &facts.code).await?;
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

/// Forward-only navigation: closes the open part and opens the next one, for good.
#[utoipa::path(tag = "attempts", security(("bearer" = [])), params(("attempt_id" = Uuid, Path)), request_body = DeviceRequest, responses(
    (status = 200, body = AttemptView), (status = 409, body = Problem)))]
#[post("/attempts/{attempt_id}/next-section")]
async fn next_section(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<DeviceRequest>,
) -> Result<web::Json<AttemptView>, ApiError> {
    let id = path.into_inner();
    user.require(&[Role::Student], user.home())?;
    let facts = state.exams.facts(id).await?;
    let last = i32::from(facts.parts.iter().copied().max().unwrap_or(1));
    let now = state.clock.now();
    let ctx = lifecycle::change_now(&state.exams, id, now, |ctx| {
        owned(ctx, &user)?;
        if ctx.sitting.navigation != "forward_only" {
            return Err(ApiError::Conflict("navigation_is_free"));
        }
        if ctx.state()? != AttemptState::InProgress {
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
    (status = 200, body = AttemptView), (status = 409, body = Problem)))]
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
        match ctx.state()? {
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
    let applied = batched::change(&state.exams, id, now, rule, crate::admission::leave).await?;
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
    if let Err(e) = grading::settle_all(&state.exams, &batch).await {
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
    (status = 200, body = ResultView), (status = 409, description = "results_not_released, not_graded", body = Problem)))]
#[get("/attempts/{attempt_id}/result")]
async fn result(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<ResultView>, ApiError> {
    let ctx = Context::load(&state.db, path.into_inner()).await?;
    Ok(web::Json(result_of(&state, &user, &ctx).await?))
}

/// The result as `user` may see it: the candidate once released, the room's staff at any time.
pub(super) async fn result_of(
    state: &AppState,
    user: &CurrentUser,
    ctx: &Context,
) -> Result<ResultView, ApiError> {
    let staff = if ctx.attempt.user_id == user.id {
        false
    } else {
        super::access::require_room_staff(&state.db, user, ctx).await?;
        true
    };
    let policy = ctx.policy()?;
    if !(staff || ctx.exam.results_released || policy.release == ResultRelease::Immediate) {
        return Err(ApiError::Conflict("results_not_released"));
    }
    if !ctx.state()?.is_closed() {
        return Err(ApiError::Conflict("not_graded"));
    }
    // A submit whose grading is still queued is graded now: a released result is never missing.
    let score = match grading::stored_score(&ctx.attempt) {
        Some(score) => score,
        None => grading::settle(&state.exams, ctx).await?,
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
    Ok(ResultView {
        attempt_id: ctx.attempt.id,
        code: ctx.attempt.code.clone(),
        state: ctx.state()?,
        score,
        questions,
        server_now: state.clock.now(),
    })
}
