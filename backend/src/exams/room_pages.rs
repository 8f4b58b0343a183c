//! The proctor's pages: their rooms for today and the days ahead (no ids to type), and a room's
//! live seat map with check-in and every action on a seat or the room. The map is rendered
//! here from the room's snapshot; `webapp/static/room.js` keeps it live from the dashboard's
//! event stream (authenticated by the session cookie) and carries out the actions through the
//! API, each with its reason.
use actix_web::{HttpRequest, HttpResponse, get, http::StatusCode, web};
use askama::Template;
use chrono::{Duration, FixedOffset, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::{access::room_in_reach, domain::AttemptState, room_feed::snapshot};
use crate::{
    entities::{exam, exam_room, sitting},
    exam_format::Subject,
    request::RequestMeta,
    state::AppState,
    webapp::{Frame, PageError, Visitor, assets, name_of, render, texts},
};

/// The texts `room.js` shows.
pub const SCRIPT_TEXTS: &[&str] = &[
    "room_live",
    "room_reconnecting",
    "not_checked_in",
    "checked_in_short",
    "state_not_started",
    "state_in_progress",
    "state_paused",
    "state_submitted",
    "state_closed",
    "device_switch_pending",
    "device_ok",
    "never",
    "seconds_ago",
    "card_mismatch",
    "camera_unavailable",
    "done_ok",
    "seat_actions_for",
    "check_in_for",
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(my_rooms).service(room_page);
}

struct RoomRow {
    id: Uuid,
    room: String,
    exam: String,
    sitting: String,
    starts: String,
    today: bool,
}

#[derive(Template)]
#[template(path = "exams/templates/my_rooms.html")]
struct MyRooms {
    frame: Frame,
    rows: Vec<RoomRow>,
}

/// The rooms the signed-in person proctors whose sitting starts today or in the next seven
/// days (Vietnam's days), earliest first.
#[get("/rooms")]
async fn my_rooms(
    state: web::Data<AppState>,
    meta: RequestMeta,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let visitor = Visitor::of(&state, &meta, &req).await;
    let Some(user) = visitor.user.clone() else {
        return Ok(visitor.sign_in_first(req.path()));
    };
    user.require(super::access::PROCTORS, user.home())?;
    let vietnam = FixedOffset::east_opt(7 * 3600).expect("a valid offset");
    let now = state.clock.now();
    let today = now
        .with_timezone(&vietnam)
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_local_timezone(vietnam)
        .single()
        .expect("a fixed offset has one midnight")
        .with_timezone(&Utc);
    let tomorrow = today + Duration::days(1);
    let found = exam_room::Entity::find()
        .find_also_related(sitting::Entity)
        .and_also_related(exam::Entity)
        .filter(exam_room::Column::Proctors.contains(format!(" {} ", user.id)))
        .filter(sitting::Column::StartsAt.gte(today))
        .filter(sitting::Column::StartsAt.lt(today + Duration::days(8)))
        .order_by_asc(sitting::Column::StartsAt)
        .order_by_asc(exam_room::Column::Name)
        .all(&state.db)
        .await?;
    let rows = found
        .into_iter()
        .filter_map(|(room, sitting, exam)| {
            let (sitting, exam) = (sitting?, exam?);
            Some(RoomRow {
                id: room.id,
                room: room.name,
                exam: exam.name,
                sitting: sitting.name,
                starts: texts::date_time(sitting.starts_at),
                today: sitting.starts_at < tomorrow,
            })
        })
        .collect();
    let name = name_of(&state, &visitor).await;
    let frame = Frame::new(&visitor, &req, visitor.t.get("my_rooms_title"), name);
    render(&visitor, &req, StatusCode::OK, &MyRooms { frame, rows })
}

struct SeatRow {
    candidate_id: Uuid,
    attempt_id: String,
    seat: i32,
    number: String,
    name: String,
    checked_in: bool,
    state_key: &'static str,
    state: &'static str,
    answered: i64,
    incidents: i64,
    device_switch_pending: bool,
}

#[derive(Template)]
#[template(path = "exams/templates/room.html")]
struct RoomPage {
    frame: Frame,
    room_id: Uuid,
    room: String,
    exam: String,
    sitting: String,
    subject: String,
    starts: String,
    questions: usize,
    seats: Vec<SeatRow>,
    room_js: &'static str,
    script_texts: String,
}

fn state_of(state: Option<AttemptState>) -> (&'static str, &'static str) {
    match state {
        None | Some(AttemptState::NotStarted) => ("state_not_started", "not_started"),
        Some(AttemptState::InProgress) => ("state_in_progress", "in_progress"),
        Some(AttemptState::Paused) => ("state_paused", "paused"),
        Some(AttemptState::Submitted) => ("state_submitted", "submitted"),
        Some(AttemptState::AutoSubmitted) => ("state_submitted", "auto_submitted"),
        Some(AttemptState::Voided) => ("state_closed", "voided"),
    }
}

/// A room's live seat map, for its proctors (and the exam's organisers).
#[get("/rooms/{room_id}")]
async fn room_page(
    state: web::Data<AppState>,
    meta: RequestMeta,
    req: HttpRequest,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, PageError> {
    let visitor = Visitor::of(&state, &meta, &req).await;
    let Some(user) = visitor.user.clone() else {
        return Ok(visitor.sign_in_first(req.path()));
    };
    let (room, sitting, exam) = room_in_reach(&state.db, &user, path.into_inner()).await?;
    let status = snapshot(&state, &room).await?;
    let questions = crate::entities::paper::Entity::find_by_id(sitting.paper_id)
        .one(&state.db)
        .await?
        .and_then(|p| serde_json::from_str::<Vec<serde_json::Value>>(&p.items).ok())
        .map_or(0, |slots| slots.len());
    let seats = status
        .seats
        .into_iter()
        .map(|s| {
            let (state_key, state) = state_of(s.state);
            SeatRow {
                candidate_id: s.candidate_id,
                attempt_id: s.attempt_id.map(|a| a.to_string()).unwrap_or_default(),
                seat: s.seat,
                number: s.number,
                name: s.full_name,
                checked_in: s.checked_in,
                state_key,
                state,
                answered: s.answered,
                incidents: s.incidents,
                device_switch_pending: s.device_switch_pending,
            }
        })
        .collect();
    let name = name_of(&state, &visitor).await;
    let title = format!("{} — {}", room.name, sitting.name);
    let page = RoomPage {
        frame: Frame::new(&visitor, &req, &title, name),
        room_id: room.id,
        room: room.name,
        exam: exam.name,
        subject: Subject::parse(&sitting.subject)
            .map_or_else(|| sitting.subject.clone(), |s| s.name_vi().to_owned()),
        sitting: sitting.name,
        starts: texts::date_time(sitting.starts_at),
        questions,
        seats,
        room_js: assets::url("room.js"),
        script_texts: visitor.t.json(SCRIPT_TEXTS),
    };
    render(&visitor, &req, StatusCode::OK, &page)
}
