//! Exams (kỳ thi), sittings (ca thi), rooms (phòng thi) and candidates (thí sinh, with số báo
//! danh), registered from the school rosters or from a file; locking a sitting's roster gives
//! every candidate a paper code and creates every attempt before the start.
use std::collections::{HashMap, HashSet};

use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    domain::{self, ExamKind, ExamScope, Navigation, Policy},
    lifecycle,
    staff::{padded, proctors_of, require_organiser},
};
use crate::{
    audit::{self, Event},
    auth::{CurrentUser, Scope, roles::Role},
    entities::{attempt, candidate, class, exam, exam_room, paper, paper_code, sitting, user},
    error::{ApiError, FieldError, Problem},
    exam_format::{Subject, format_of},
    org::import,
    request::RequestMeta,
    state::AppState,
    text::fold,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_exam)
        .service(list_exams)
        .service(get_exam)
        .service(create_sitting)
        .service(create_room)
        .service(list_rooms)
        .service(register_candidates)
        .service(import_candidates)
        .service(list_candidates)
        .service(set_accommodation)
        .service(lock_sitting);
}

/// Staff who may see exams at all.
const STAFF: &[Role] = &[
    Role::SchoolAdmin,
    Role::Teacher,
    Role::Proctor,
    Role::Reviewer,
];

pub async fn find_exam(state: &AppState, id: Uuid) -> Result<exam::Model, ApiError> {
    exam::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("exam_not_found"))
}

/// A sitting with its exam, for an organiser.
pub async fn organised_sitting(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
) -> Result<(exam::Model, sitting::Model), ApiError> {
    sitting_for(state, user, id, require_organiser).await
}

/// A sitting with its exam, for whoever `allowed` lets in; anyone else is told "not found".
pub async fn sitting_for(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
    allowed: fn(&CurrentUser, &exam::Model) -> Result<(), ApiError>,
) -> Result<(exam::Model, sitting::Model), ApiError> {
    user.require(&[Role::SchoolAdmin, Role::Teacher], user.home())?;
    let sitting = sitting::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("sitting_not_found"))?;
    let exam = find_exam(state, sitting.exam_id).await?;
    allowed(user, &exam).map_err(|_| ApiError::NotFound("sitting_not_found"))?;
    Ok((exam, sitting))
}

#[derive(Deserialize, ToSchema)]
pub struct ExamRequest {
    /// e.g. "Kiểm tra cuối học kì I năm học 2025-2026".
    pub name: String,
    pub kind: ExamKind,
    pub scope: ExamScope,
    /// The school of a school exam (a class exam takes its class's school).
    pub school_id: Option<Uuid>,
    pub class_id: Option<Uuid>,
    /// Defaults: exams release results by hand and never show the key; practice shows both.
    pub policy: Option<Policy>,
}

#[derive(Serialize, ToSchema)]
pub struct ExamResponse {
    pub id: Uuid,
    pub name: String,
    pub kind: ExamKind,
    pub scope: ExamScope,
    pub school_id: Option<Uuid>,
    pub class_id: Option<Uuid>,
    pub policy: Policy,
    pub results_released: bool,
    pub sittings: Vec<SittingResponse>,
}

#[derive(Serialize, ToSchema)]
pub struct SittingResponse {
    pub id: Uuid,
    pub name: String,
    pub paper_id: Uuid,
    pub subject: Subject,
    pub starts_at: DateTime<Utc>,
    /// From the paper's format (Toán 90, most subjects 50, Ngữ văn 120).
    pub minutes: i32,
    pub late_start_minutes: i32,
    pub navigation: Navigation,
    pub closes_at: Option<DateTime<Utc>>,
    pub max_attempts: i32,
    pub locked_at: Option<DateTime<Utc>>,
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|e| ApiError::Unexpected(e.into()))
}

pub fn sitting_response(s: &sitting::Model) -> Result<SittingResponse, ApiError> {
    Ok(SittingResponse {
        id: s.id,
        name: s.name.clone(),
        paper_id: s.paper_id,
        subject: Subject::parse(&s.subject)
            .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("stored subject")))?,
        starts_at: s.starts_at,
        minutes: s.minutes,
        late_start_minutes: s.late_start_minutes,
        navigation: parse(&s.navigation)?,
        closes_at: s.closes_at,
        max_attempts: s.max_attempts,
        locked_at: s.locked_at,
    })
}

async fn exam_response(state: &AppState, e: exam::Model) -> Result<ExamResponse, ApiError> {
    let sittings = sitting::Entity::find()
        .filter(sitting::Column::ExamId.eq(e.id))
        .order_by_asc(sitting::Column::StartsAt)
        .all(&state.db)
        .await?;
    Ok(ExamResponse {
        id: e.id,
        name: e.name,
        kind: parse(&e.kind)?,
        scope: parse(&e.scope)?,
        school_id: e.school_id,
        class_id: e.class_id,
        policy: serde_json::from_str(&e.policy).map_err(|e| ApiError::Unexpected(e.into()))?,
        results_released: e.results_released,
        sittings: sittings
            .iter()
            .map(sitting_response)
            .collect::<Result<_, _>>()?,
    })
}

fn as_text<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Creates an exam at province, school or class scope.
#[utoipa::path(tag = "exams", security(("bearer" = [])), request_body = ExamRequest, responses(
    (status = 201, body = ExamResponse), (status = 401, body = Problem), (status = 403, body = Problem),
    (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/exams")]
async fn create_exam(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    body: web::Json<ExamRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::SchoolAdmin, Role::Teacher], user.home())?;
    let body = body.into_inner();
    let name = crate::text::clean_text(&body.name);
    if name.is_empty() || name.chars().count() > 300 {
        return Err(ApiError::field("name", "required"));
    }
    let (school_id, class_id) = match body.scope {
        ExamScope::Province => {
            user.require(&[Role::ProvinceAdmin], Scope::Province)?;
            (None, None)
        }
        ExamScope::School => {
            let school = body
                .school_id
                .or(user.school)
                .ok_or_else(|| ApiError::field("school_id", "required"))?;
            (Some(school), None)
        }
        ExamScope::Class => {
            let class_id = body
                .class_id
                .ok_or_else(|| ApiError::field("class_id", "required"))?;
            let class = class::Entity::find_by_id(class_id)
                .one(&state.db)
                .await?
                .ok_or(ApiError::NotFound("class_not_found"))?;
            (Some(class.school_id), Some(class_id))
        }
    };
    if let Some(school) = school_id {
        user.require(&[Role::SchoolAdmin, Role::Teacher], Scope::School(school))?;
    }
    let policy = body.policy.unwrap_or_else(|| Policy::for_kind(body.kind));
    let model = exam::Model {
        id: Uuid::now_v7(),
        name,
        kind: as_text(&body.kind),
        scope: as_text(&body.scope),
        school_id,
        class_id,
        policy: serde_json::to_string(&policy).expect("plain data"),
        results_released: false,
        created_by: user.id,
        // The creator organises it; its school's admins do too without being listed.
        organisers: padded(&[user.id]),
        markers: padded(&[]),
        created_at: state.clock.now(),
    };
    let txn = state.db.begin().await?;
    exam::Entity::insert(exam::ActiveModel::from(model.clone()).reset_all())
        .exec_without_returning(&txn)
        .await?;
    audit::record(
        &txn,
        &meta,
        Event::by(
            user.id,
            "exam.created",
            "exam",
            model.id,
            json!({ "name": model.name, "scope": model.scope, "kind": model.kind }),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::Created().json(exam_response(&state, model).await?))
}

/// Exams the caller may organise or proctor: the province's, and their own school's.
#[utoipa::path(tag = "exams", security(("bearer" = [])), responses(
    (status = 200, body = Vec<ExamResponse>), (status = 401, body = Problem), (status = 403, body = Problem)))]
#[get("/exams")]
async fn list_exams(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<web::Json<Vec<ExamResponse>>, ApiError> {
    user.require(STAFF, user.home())?;
    let mut query = exam::Entity::find().order_by_desc(exam::Column::CreatedAt);
    if !user.has(Role::ProvinceAdmin) && user.school.is_some() {
        query = query.filter(
            sea_orm::Condition::any()
                .add(exam::Column::SchoolId.is_null())
                .add(exam::Column::SchoolId.eq(user.school)),
        );
    }
    let mut list = Vec::new();
    for e in query.all(&state.db).await? {
        list.push(exam_response(&state, e).await?);
    }
    Ok(web::Json(list))
}

#[utoipa::path(tag = "exams", security(("bearer" = [])), params(("exam_id" = Uuid, Path)), responses(
    (status = 200, body = ExamResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/exams/{exam_id}")]
async fn get_exam(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<ExamResponse>, ApiError> {
    user.require(STAFF, user.home())?;
    let e = find_exam(&state, path.into_inner()).await?;
    if e.school_id.is_some() && user.school.is_some() && e.school_id != user.school {
        return Err(ApiError::NotFound("exam_not_found"));
    }
    // Its staff only: a colleague with no part in it does not read its sittings and papers.
    if !super::staff::has_part(&state.db, &user, &e).await? {
        return Err(ApiError::NotFound("exam_not_found"));
    }
    Ok(web::Json(exam_response(&state, e).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct SittingRequest {
    /// e.g. "Ca 1 - Toán".
    pub name: String,
    pub paper_id: Uuid,
    pub starts_at: DateTime<Utc>,
    /// Default 15: candidates may start at most this late without a proctor's admission.
    pub late_start_minutes: Option<i32>,
    pub navigation: Option<Navigation>,
    /// Practice: the window closes here (no start after it).
    pub closes_at: Option<DateTime<Utc>>,
    /// Practice: attempts per student (default 1 for exams, 3 for practice).
    pub max_attempts: Option<i32>,
    /// Time allowed in minutes, 1-300; default from the paper's format (a short class test,
    /// or a rehearsal of the province's timetable played faster).
    pub minutes: Option<i32>,
}

/// Adds a sitting (ca thi) with a paper; its time comes from the paper's format unless given.
#[utoipa::path(tag = "exams", security(("bearer" = [])), params(("exam_id" = Uuid, Path)), request_body = SittingRequest, responses(
    (status = 201, body = SittingResponse), (status = 401, body = Problem), (status = 403, body = Problem),
    (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/exams/{exam_id}/sittings")]
async fn create_sitting(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<SittingRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::SchoolAdmin, Role::Teacher], user.home())?;
    let exam = find_exam(&state, path.into_inner()).await?;
    require_organiser(&user, &exam)?;
    let paper = paper::Entity::find_by_id(body.paper_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("paper_not_found"))?;
    // A province paper serves a province exam; otherwise the caller must be able to read the
    // paper's keys already, or attaching it would open them.
    let reachable = (paper.school_id.is_none() && exam.school_id.is_none())
        || crate::questions::db::may_read_paper(
            &state.db,
            &crate::questions::routes::paper_reader(&user),
            &paper,
        )
        .await?;
    if !reachable {
        return Err(ApiError::NotFound("paper_not_found"));
    }
    let subject = Subject::parse(&paper.subject)
        .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("stored subject")))?;
    let practice = exam.kind == "practice";
    let late = body.late_start_minutes.unwrap_or(15);
    let max_attempts = body.max_attempts.unwrap_or(if practice { 3 } else { 1 });
    let mut problems = Vec::new();
    if !(0..=240).contains(&late) {
        problems.push(FieldError::new("late_start_minutes", "out_of_range"));
    }
    if !(1..=50).contains(&max_attempts) || (!practice && max_attempts != 1) {
        problems.push(FieldError::new("max_attempts", "out_of_range"));
    }
    let minutes = body
        .minutes
        .unwrap_or(i32::from(format_of(subject).minutes));
    if !(1..=300).contains(&minutes) {
        problems.push(FieldError::new("minutes", "out_of_range"));
    }
    if body.closes_at.is_some_and(|c| c <= body.starts_at) {
        problems.push(FieldError::new("closes_at", "before_start"));
    }
    let name = crate::text::clean_text(&body.name);
    if name.is_empty() {
        problems.push(FieldError::new("name", "required"));
    }
    if !problems.is_empty() {
        return Err(ApiError::fields(problems));
    }
    let model = sitting::Model {
        id: Uuid::now_v7(),
        exam_id: exam.id,
        name,
        paper_id: paper.id,
        subject: subject.code().to_owned(),
        starts_at: body.starts_at,
        minutes,
        late_start_minutes: late,
        navigation: as_text(&body.navigation.unwrap_or(Navigation::Free)),
        closes_at: body.closes_at,
        max_attempts,
        locked_at: None,
        created_at: state.clock.now(),
    };
    let txn = state.db.begin().await?;
    sitting::Entity::insert(sitting::ActiveModel::from(model.clone()).reset_all())
        .exec_without_returning(&txn)
        .await?;
    audit::record(
        &txn,
        &meta,
        Event::by(
            user.id,
            "sitting.created",
            "sitting",
            model.id,
            json!({ "exam": exam.id, "paper": paper.id, "starts_at": model.starts_at }),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::Created().json(sitting_response(&model)?))
}

#[derive(Deserialize, ToSchema)]
pub struct RoomRequest {
    /// e.g. "Phòng 01".
    pub name: String,
    pub capacity: i32,
    #[serde(default)]
    pub proctor_ids: Vec<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct RoomResponse {
    pub id: Uuid,
    pub sitting_id: Uuid,
    pub name: String,
    pub capacity: i32,
    pub proctor_ids: Vec<Uuid>,
    pub candidates: u64,
}

/// Adds a room (phòng thi) with its proctors (giám thị).
#[utoipa::path(tag = "exams", security(("bearer" = [])), params(("sitting_id" = Uuid, Path)), request_body = RoomRequest, responses(
    (status = 201, body = RoomResponse), (status = 401, body = Problem), (status = 403, body = Problem),
    (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/sittings/{sitting_id}/rooms")]
async fn create_room(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<RoomRequest>,
) -> Result<HttpResponse, ApiError> {
    let (exam, sitting) = organised_sitting(&state, &user, path.into_inner()).await?;
    if sitting.locked_at.is_some() {
        return Err(ApiError::Conflict("sitting_locked"));
    }
    let name = crate::text::clean_text(&body.name);
    let mut problems = Vec::new();
    if name.is_empty() {
        problems.push(FieldError::new("name", "required"));
    }
    if !(1..=500).contains(&body.capacity) {
        problems.push(FieldError::new("capacity", "out_of_range"));
    }
    let proctors = user::Entity::find()
        .filter(user::Column::Id.is_in(body.proctor_ids.clone()))
        .all(&state.db)
        .await?;
    for id in &body.proctor_ids {
        let fits = proctors.iter().any(|p| {
            p.id == *id
                && (exam.school_id.is_none()
                    || p.school_id.is_none()
                    || p.school_id == exam.school_id)
                && [Role::Proctor, Role::Teacher, Role::SchoolAdmin]
                    .iter()
                    .any(|r| crate::auth::roles::from_db(&p.roles).contains(r))
        });
        if !fits {
            problems.push(FieldError::new("proctor_ids", "not_a_proctor"));
            break;
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::fields(problems));
    }
    let model = exam_room::Model {
        id: Uuid::now_v7(),
        sitting_id: sitting.id,
        name,
        capacity: body.capacity,
        proctors: padded(&body.proctor_ids),
    };
    let txn = state.db.begin().await?;
    exam_room::Entity::insert(exam_room::ActiveModel::from(model.clone()).reset_all())
        .exec_without_returning(&txn)
        .await?;
    audit::record(
        &txn,
        &meta,
        Event::by(
            user.id,
            "room.created",
            "room",
            model.id,
            json!({ "sitting": sitting.id, "name": model.name, "proctors": body.proctor_ids }),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::Created().json(RoomResponse {
        id: model.id,
        sitting_id: sitting.id,
        name: model.name,
        capacity: model.capacity,
        proctor_ids: body.proctor_ids.clone(),
        candidates: 0,
    }))
}

#[utoipa::path(tag = "exams", security(("bearer" = [])), params(("sitting_id" = Uuid, Path)), responses(
    (status = 200, body = Vec<RoomResponse>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/sittings/{sitting_id}/rooms")]
async fn list_rooms(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<Vec<RoomResponse>>, ApiError> {
    let (_, sitting) = organised_sitting(&state, &user, path.into_inner()).await?;
    let rooms = rooms_of(&state.db, sitting.id).await?;
    let mut list = Vec::new();
    for r in rooms {
        let candidates = candidate::Entity::find()
            .filter(candidate::Column::RoomId.eq(r.id))
            .count(&state.db)
            .await?;
        list.push(RoomResponse {
            id: r.id,
            sitting_id: r.sitting_id,
            proctor_ids: proctors_of(&r),
            name: r.name,
            capacity: r.capacity,
            candidates,
        });
    }
    Ok(web::Json(list))
}

async fn rooms_of(
    db: &impl sea_orm::ConnectionTrait,
    sitting: Uuid,
) -> Result<Vec<exam_room::Model>, ApiError> {
    Ok(exam_room::Entity::find()
        .filter(exam_room::Column::SittingId.eq(sitting))
        .order_by_asc(exam_room::Column::Name)
        .all(db)
        .await?)
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// Every student of these classes becomes a candidate.
    #[serde(default)]
    pub class_ids: Vec<Uuid>,
    /// And these students.
    #[serde(default)]
    pub user_ids: Vec<Uuid>,
    /// Printed before the running number of each số báo danh, e.g. "29" (default none).
    #[serde(default)]
    pub number_prefix: String,
}

#[derive(Serialize, ToSchema)]
pub struct RegisterReport {
    pub registered: usize,
    /// Already candidates of this sitting: left as they were.
    pub already: usize,
}

/// Registers candidates from the school rosters: numbers in name order, rooms filled in order.
#[utoipa::path(tag = "exams", security(("bearer" = [])), params(("sitting_id" = Uuid, Path)), request_body = RegisterRequest, responses(
    (status = 200, body = RegisterReport), (status = 401, body = Problem), (status = 403, body = Problem),
    (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/sittings/{sitting_id}/candidates")]
async fn register_candidates(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<RegisterRequest>,
) -> Result<web::Json<RegisterReport>, ApiError> {
    let (exam, sitting) = organised_sitting(&state, &user, path.into_inner()).await?;
    if sitting.locked_at.is_some() {
        return Err(ApiError::Conflict("sitting_locked"));
    }
    if body.number_prefix.len() > 8
        || !body
            .number_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric())
    {
        return Err(ApiError::field("number_prefix", "invalid"));
    }
    let mut students = Vec::new();
    if !body.class_ids.is_empty() {
        students.extend(
            user::Entity::find()
                .filter(user::Column::ClassId.is_in(body.class_ids.clone()))
                .filter(user::Column::Roles.contains(" student "))
                .all(&state.db)
                .await?,
        );
    }
    if !body.user_ids.is_empty() {
        students.extend(
            user::Entity::find()
                .filter(user::Column::Id.is_in(body.user_ids.clone()))
                .filter(user::Column::Roles.contains(" student "))
                .all(&state.db)
                .await?,
        );
    }
    if students.is_empty() {
        return Err(ApiError::field("class_ids", "no_students"));
    }
    if let Some(school) = exam.school_id
        && students.iter().any(|s| s.school_id != Some(school))
    {
        return Err(ApiError::field("user_ids", "other_school"));
    }
    students.sort_by(|a, b| {
        a.full_name_folded
            .rsplit(' ')
            .next()
            .cmp(&b.full_name_folded.rsplit(' ').next())
            .then(a.full_name_folded.cmp(&b.full_name_folded))
    });
    students.dedup_by_key(|s| s.id);
    let txn = state.db.begin().await?;
    let existing = candidate::Entity::find()
        .filter(candidate::Column::SittingId.eq(sitting.id))
        .all(&txn)
        .await?;
    let known: HashSet<Uuid> = existing.iter().map(|c| c.user_id).collect();
    let fresh: Vec<&user::Model> = students.iter().filter(|s| !known.contains(&s.id)).collect();
    let taken_numbers = candidate::Entity::find()
        .filter(candidate::Column::ExamId.eq(exam.id))
        .count(&txn)
        .await?;
    let mut seats = seat_plan(&txn, sitting.id, &existing, exam.kind == "exam").await?;
    let mut rows = Vec::new();
    for (i, s) in fresh.iter().enumerate() {
        let (room_id, seat) = seats
            .next_seat()
            .ok_or(ApiError::Conflict("not_enough_seats"))?;
        rows.push(candidate::Model {
            id: Uuid::now_v7(),
            exam_id: exam.id,
            sitting_id: sitting.id,
            room_id,
            user_id: s.id,
            number: format!(
                "{}{:06}",
                body.number_prefix,
                taken_numbers as usize + i + 1
            ),
            seat,
            extra_minutes: 0,
            admitted_late: false,
            checked_in_at: None,
        });
    }
    insert_candidates(&txn, rows.clone()).await?;
    audit::record(
        &txn,
        &meta,
        Event::by(
            user.id,
            "candidates.registered",
            "sitting",
            sitting.id,
            json!({ "registered": rows.len(), "classes": body.class_ids }),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(web::Json(RegisterReport {
        registered: rows.len(),
        already: students.len() - fresh.len(),
    }))
}

async fn insert_candidates(
    txn: &DatabaseTransaction,
    rows: Vec<candidate::Model>,
) -> Result<(), ApiError> {
    for chunk in rows.chunks(500) {
        candidate::Entity::insert_many(
            chunk
                .iter()
                .map(|c| candidate::ActiveModel::from(c.clone()).reset_all()),
        )
        .exec_without_returning(txn)
        .await?;
    }
    Ok(())
}

/// Free seats room by room, in room order.
struct Seats {
    free: Vec<(Uuid, i32, i32)>,
    roomless: bool,
}

impl Seats {
    fn next_seat(&mut self) -> Option<(Option<Uuid>, i32)> {
        if self.roomless {
            return Some((None, 0));
        }
        let room = self.free.iter_mut().find(|(_, used, cap)| used < cap)?;
        room.1 += 1;
        Some((Some(room.0), room.1))
    }

    fn seat_in(&mut self, room: Uuid) -> Option<i32> {
        let room = self
            .free
            .iter_mut()
            .find(|(id, used, cap)| *id == room && used < cap)?;
        room.1 += 1;
        Some(room.1)
    }
}

async fn seat_plan(
    txn: &DatabaseTransaction,
    sitting: Uuid,
    existing: &[candidate::Model],
    rooms_required: bool,
) -> Result<Seats, ApiError> {
    let rooms = rooms_of(txn, sitting).await?;
    let free = rooms
        .iter()
        .map(|r| {
            let used = existing
                .iter()
                .filter(|c| c.room_id == Some(r.id))
                .map(|c| c.seat)
                .max()
                .unwrap_or(0);
            (r.id, used, r.capacity)
        })
        .collect();
    Ok(Seats {
        free,
        roomless: rooms.is_empty() && !rooms_required,
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct CandidateImportQuery {
    /// Check the file and report, writing nothing.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Serialize, ToSchema)]
pub struct CandidateRow {
    pub row: usize,
    pub number: Option<String>,
    pub login: Option<String>,
    pub ok: bool,
    pub field: Option<&'static str>,
    pub reason_code: Option<&'static str>,
    pub reason: Option<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub struct CandidateImportReport {
    pub dry_run: bool,
    pub committed: bool,
    pub registered: usize,
    pub rejected: usize,
    pub rows: Vec<CandidateRow>,
}

/// Registers candidates from a file (.xlsx or CSV) with the columns "Số báo danh", "Tên đăng
/// nhập", "Phòng" and optionally "Cộng thêm (phút)" (extra time). All rows or none.
#[utoipa::path(tag = "exams", security(("bearer" = [])), params(("sitting_id" = Uuid, Path), CandidateImportQuery),
    request_body(content = String, content_type = "text/csv", description = "CSV or .xlsx"),
    responses(
        (status = 200, body = CandidateImportReport), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, description = "rejected: the body is the report, nothing written", body = CandidateImportReport, content_type = "application/problem+json")))]
#[post("/sittings/{sitting_id}/candidates/import")]
async fn import_candidates(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    query: web::Query<CandidateImportQuery>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (exam, sitting) = organised_sitting(&state, &user, path.into_inner()).await?;
    if sitting.locked_at.is_some() {
        return Err(ApiError::Conflict("sitting_locked"));
    }
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    let kind = import::detect(content_type, &body).map_err(|_| ApiError::UnsupportedMediaType)?;
    let table = import::read_queued(&state.imports, kind, body.clone()).await?;
    let column = |names: &[&str]| {
        table
            .headers
            .iter()
            .position(|h| names.contains(&h.as_str()))
    };
    let number_col = column(&["so bao danh", "sbd", "candidate number", "number"]);
    let login_col = column(&["ten dang nhap", "login", "tai khoan", "username"]);
    let room_col = column(&["phong", "phong thi", "room"]);
    let extra_col = column(&[
        "cong them (phut)",
        "cong them",
        "extra minutes",
        "extra time",
    ]);
    let mut missing = Vec::new();
    if number_col.is_none() {
        missing.push(FieldError::new("so_bao_danh", "missing_columns"));
    }
    if login_col.is_none() {
        missing.push(FieldError::new("login", "missing_columns"));
    }
    if !missing.is_empty() {
        return Err(ApiError::fields(missing));
    }
    let cell = |cells: &[String], col: Option<usize>| {
        col.and_then(|i| cells.get(i))
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let rooms = rooms_of(&state.db, sitting.id).await?;
    let room_by_name: HashMap<String, Uuid> = rooms.iter().map(|r| (fold(&r.name), r.id)).collect();
    let logins: Vec<String> = table
        .rows
        .iter()
        .filter_map(|(_, cells)| cell(cells, login_col))
        .collect();
    let users: HashMap<String, user::Model> = user::Entity::find()
        .filter(user::Column::Login.is_in(logins))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|u| (u.login.clone(), u))
        .collect();
    let txn = state.db.begin().await?;
    let existing = candidate::Entity::find()
        .filter(candidate::Column::ExamId.eq(exam.id))
        .all(&txn)
        .await?;
    let sitting_existing: Vec<candidate::Model> = existing
        .iter()
        .filter(|c| c.sitting_id == sitting.id)
        .cloned()
        .collect();
    let mut numbers: HashSet<String> = existing.iter().map(|c| c.number.clone()).collect();
    let mut members: HashSet<Uuid> = sitting_existing.iter().map(|c| c.user_id).collect();
    let mut seats = seat_plan(&txn, sitting.id, &sitting_existing, exam.kind == "exam").await?;
    let mut report = Vec::new();
    let mut rows = Vec::new();
    for (row, cells) in &table.rows {
        let number = cell(cells, number_col);
        let login = cell(cells, login_col);
        let refuse = |field: &'static str, code: &'static str| CandidateRow {
            row: *row,
            number: number.clone(),
            login: login.clone(),
            ok: false,
            field: Some(field),
            reason_code: Some(code),
            reason: Some(crate::i18n::message(code)),
        };
        let Some(n) = number
            .clone()
            .filter(|n| n.len() <= 20 && n.chars().all(|c| c.is_ascii_alphanumeric()))
        else {
            report.push(refuse("so_bao_danh", "invalid_candidate_number"));
            continue;
        };
        if !numbers.insert(n.clone()) {
            report.push(refuse("so_bao_danh", "duplicate_candidate_number"));
            continue;
        }
        let Some(student) = login.as_ref().and_then(|l| users.get(l)) else {
            report.push(refuse("login", "user_not_found"));
            continue;
        };
        if !crate::auth::roles::from_db(&student.roles).contains(&Role::Student)
            || exam.school_id.is_some_and(|s| student.school_id != Some(s))
        {
            report.push(refuse("login", "not_a_student_of_exam"));
            continue;
        }
        if !members.insert(student.id) {
            report.push(refuse("login", "already_registered"));
            continue;
        }
        let extra = match cell(cells, extra_col).map(|e| e.parse::<i32>()) {
            None => 0,
            Some(Ok(m)) if (0..=180).contains(&m) => m,
            Some(_) => {
                report.push(refuse("extra_minutes", "out_of_range"));
                continue;
            }
        };
        let placed = match cell(cells, room_col) {
            Some(name) => match room_by_name.get(&fold(&name)) {
                Some(room) => seats.seat_in(*room).map(|seat| (Some(*room), seat)),
                None => {
                    report.push(refuse("room", "room_not_found"));
                    continue;
                }
            },
            None => seats.next_seat(),
        };
        let Some((room_id, seat)) = placed else {
            report.push(refuse("room", "not_enough_seats"));
            continue;
        };
        rows.push(candidate::Model {
            id: Uuid::now_v7(),
            exam_id: exam.id,
            sitting_id: sitting.id,
            room_id,
            user_id: student.id,
            number: n.clone(),
            seat,
            extra_minutes: extra,
            admitted_late: false,
            checked_in_at: None,
        });
        report.push(CandidateRow {
            row: *row,
            number: Some(n),
            login,
            ok: true,
            field: None,
            reason_code: None,
            reason: None,
        });
    }
    let rejected = report.iter().filter(|r| !r.ok).count();
    let commit = rejected == 0 && !query.dry_run;
    let registered = rows.len();
    if commit {
        insert_candidates(&txn, rows).await?;
        audit::record(
            &txn,
            &meta,
            Event::by(
                user.id,
                "candidates.imported",
                "sitting",
                sitting.id,
                json!({ "registered": registered }),
            ),
        )
        .await?;
        txn.commit().await?;
    } else {
        txn.rollback().await?;
    }
    let body = CandidateImportReport {
        dry_run: query.dry_run,
        committed: commit,
        registered: if commit { registered } else { 0 },
        rejected,
        rows: report,
    };
    Ok(if rejected > 0 {
        crate::error::rejected_with("import_rejected", body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

#[derive(Serialize, ToSchema)]
pub struct CandidateResponse {
    pub id: Uuid,
    pub user_id: Uuid,
    pub number: String,
    pub full_name: String,
    pub room_id: Option<Uuid>,
    pub seat: i32,
    pub extra_minutes: i32,
    pub checked_in: bool,
    /// After the lock: the paper code and the attempt.
    pub code: Option<String>,
    pub attempt_id: Option<Uuid>,
    pub state: Option<String>,
}

#[utoipa::path(tag = "exams", security(("bearer" = [])), params(("sitting_id" = Uuid, Path)), responses(
    (status = 200, body = Vec<CandidateResponse>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/sittings/{sitting_id}/candidates")]
async fn list_candidates(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<Vec<CandidateResponse>>, ApiError> {
    let (_, sitting) = organised_sitting(&state, &user, path.into_inner()).await?;
    Ok(web::Json(candidates_of(&state, sitting.id, None).await?))
}

pub async fn candidates_of(
    state: &AppState,
    sitting: Uuid,
    room: Option<Uuid>,
) -> Result<Vec<CandidateResponse>, ApiError> {
    let mut query = candidate::Entity::find().filter(candidate::Column::SittingId.eq(sitting));
    if let Some(room) = room {
        query = query.filter(candidate::Column::RoomId.eq(room));
    }
    let list = query
        .order_by_asc(candidate::Column::Number)
        .all(&state.db)
        .await?;
    let users: HashMap<Uuid, String> = user::Entity::find()
        .filter(user::Column::Id.is_in(list.iter().map(|c| c.user_id)))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.full_name))
        .collect();
    let attempts: HashMap<Uuid, attempt::Model> = attempt::Entity::find()
        .filter(attempt::Column::SittingId.eq(sitting))
        .filter(attempt::Column::CandidateId.is_not_null())
        .all(&state.db)
        .await?
        .into_iter()
        .filter_map(|a| a.candidate_id.map(|c| (c, a)))
        .collect();
    Ok(list
        .into_iter()
        .map(|c| {
            let a = attempts.get(&c.id);
            CandidateResponse {
                id: c.id,
                user_id: c.user_id,
                full_name: users.get(&c.user_id).cloned().unwrap_or_default(),
                number: c.number,
                room_id: c.room_id,
                seat: c.seat,
                extra_minutes: c.extra_minutes,
                checked_in: c.checked_in_at.is_some(),
                code: a.map(|a| a.code.clone()),
                attempt_id: a.map(|a| a.id),
                state: a.map(|a| a.state.clone()),
            }
        })
        .collect())
}

#[derive(Deserialize, ToSchema)]
pub struct AccommodationRequest {
    /// Extra minutes for this candidate (e.g. a disability accommodation).
    pub extra_minutes: i32,
    pub reason: String,
}

/// Sets a candidate's extra time before their attempt starts.
#[utoipa::path(tag = "exams", security(("bearer" = [])), params(("candidate_id" = Uuid, Path)), request_body = AccommodationRequest, responses(
    (status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, body = Problem), (status = 422, body = Problem)))]
#[put("/candidates/{candidate_id}/accommodation")]
async fn set_accommodation(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<AccommodationRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::SchoolAdmin, Role::Teacher], user.home())?;
    let candidate = candidate::Entity::find_by_id(path.into_inner())
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("candidate_not_found"))?;
    let (_, _) = organised_sitting(&state, &user, candidate.sitting_id)
        .await
        .map_err(|_| ApiError::NotFound("candidate_not_found"))?;
    if !(0..=180).contains(&body.extra_minutes) {
        return Err(ApiError::field("extra_minutes", "out_of_range"));
    }
    if body.reason.trim().is_empty() {
        return Err(ApiError::field("reason", "required"));
    }
    let started = attempt::Entity::find()
        .filter(attempt::Column::CandidateId.eq(candidate.id))
        .filter(attempt::Column::State.ne("not_started"))
        .count(&state.db)
        .await?;
    if started > 0 {
        return Err(ApiError::Conflict("attempt_already_started"));
    }
    let txn = state.db.begin().await?;
    let mut active: candidate::ActiveModel = candidate.clone().into();
    active.extra_minutes = sea_orm::Set(body.extra_minutes);
    active.update(&txn).await?;
    audit::record(
        &txn,
        &meta,
        Event::by(
            user.id,
            "candidate.accommodation_set",
            "candidate",
            candidate.id,
            json!({ "extra_minutes": body.extra_minutes, "reason": body.reason.trim() }),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
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
    (status = 200, body = LockReport), (status = 401, body = Problem), (status = 403, body = Problem),
    (status = 404, body = Problem), (status = 409, body = Problem)))]
#[post("/sittings/{sitting_id}/lock")]
async fn lock_sitting(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<LockReport>, ApiError> {
    let (_, sitting) = organised_sitting(&state, &user, path.into_inner()).await?;
    let txn = state.db.begin().await?;
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
    audit::record(
        &txn,
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
    txn.commit().await?;
    Ok(web::Json(LockReport {
        attempts_created: attempts.len(),
        codes: counts,
    }))
}
