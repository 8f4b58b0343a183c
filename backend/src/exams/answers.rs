//! The two commonest requests of a sitting: an autosave (validated here, made durable by the
//! group-commit writer, `writer.rs`, before it is acknowledged) and a heartbeat (answered from
//! the hot store alone: presence, incidents, the clock).

use actix_web::{post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{domain::INCIDENTS, taking::time_left};
use super::{
    domain::{self, AttemptState},
    hot_clock, hot_keys,
    writer::{Answer, SaveJob},
};
use crate::{
    auth::{CurrentUser, roles::Role},
    error::{ApiError, FieldError, Problem},
    identity::passkeys::check_device,
    state::AppState,
    stores::hot::{Op, Reply},
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    // The commonest requests of a sitting first (see startup.rs).
    cfg.service(heartbeat).service(save);
}

/// Answers one save may carry.
const MAX_ANSWERS_PER_SAVE: usize = 60;
/// Presence is gone when no heartbeat came for this long.
const PRESENCE_TTL: std::time::Duration = std::time::Duration::from_secs(120);
/// Incident counts outlive any sitting; the submit copies them onto the attempt.
const INCIDENT_TTL: std::time::Duration = std::time::Duration::from_secs(86_400);

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
    (status = 200, body = SaveAck), (status = 409, description = "deadline_passed, attempt_paused, device_not_current, …", body = Problem),
    (status = 422, body = Problem)))]
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
    let facts = state.exams.facts(id).await?;
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
    (status = 200, body = HeartbeatAck), (status = 422, body = Problem)))]
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
    let facts = state.exams.facts(id).await?;
    if facts.user_id != user.id {
        return Err(ApiError::NotFound("attempt_not_found"));
    }
    let now = state.clock.now();
    // One round trip to the hot store: the clock copy read, presence and incident counts
    // written, the room told. Presence and counts are rebuilt by the next heartbeat if the hot
    // store loses them; a failed batch only means the clock comes from the row.
    let clock_key = hot_keys::clock(id);
    let presence_key = hot_keys::presence(id);
    let presence = json!({ "at": now, "device": body.device_id }).to_string();
    let total_key = hot_keys::incidents(id);
    let kind_keys: Vec<String> = body
        .incidents
        .iter()
        .map(|kind| hot_keys::incidents_of_kind(id, kind))
        .collect();
    let channel = facts.room_id.map(hot_keys::room_channel);
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
        None => hot_clock::read_row(&state.exams, id).await?,
    };
    let remaining_seconds = time_left(&state, id, (clock.state, clock.deadline), None, now).await?;
    Ok(web::Json(HeartbeatAck {
        state: clock.state,
        server_now: now,
        deadline: clock.deadline,
        remaining_seconds,
    }))
}
