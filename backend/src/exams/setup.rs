//! Exams (kỳ thi), their sittings (ca thi) and rooms (phòng thi), as organisers set them up;
//! the finders every exam route uses to reach a sitting it may act on.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    domain::{ExamKind, ExamScope, Navigation, Policy},
    staff::{padded, proctors_of, require_organiser},
};
use crate::{
    audit::{self, Event},
    auth::{CurrentUser, Scope, roles::Role},
    entities::{candidate, class, exam, exam_room, paper, sitting, user},
    error::{ApiError, FieldError, Problem},
    exam_format::{Subject, format_of},
    request::RequestMeta,
    state::AppState,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_exam)
        .service(list_exams)
        .service(get_exam)
        .service(create_sitting)
        .service(create_room)
        .service(list_rooms);
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
        kind: ExamKind::parse(&e.kind)?,
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
    (status = 201, body = ExamResponse),
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
    let txn = audit::Change::begin(&state.db).await?;
    exam::Entity::insert(exam::ActiveModel::from(model.clone()).reset_all())
        .exec_without_returning(&txn)
        .await?;
    txn.commit(
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
    Ok(HttpResponse::Created().json(exam_response(&state, model).await?))
}

/// Exams the caller may organise or proctor: the province's, and their own school's.
#[utoipa::path(tag = "exams", security(("bearer" = [])), responses(
    (status = 200, body = Vec<ExamResponse>)))]
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
    (status = 200, body = ExamResponse)))]
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
    (status = 201, body = SittingResponse), (status = 422, body = Problem)))]
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
    let practice = ExamKind::parse(&exam.kind)? == ExamKind::Practice;
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
    let txn = audit::Change::begin(&state.db).await?;
    sitting::Entity::insert(sitting::ActiveModel::from(model.clone()).reset_all())
        .exec_without_returning(&txn)
        .await?;
    txn.commit(
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
    (status = 201, body = RoomResponse), (status = 409, body = Problem), (status = 422, body = Problem)))]
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
    let txn = audit::Change::begin(&state.db).await?;
    exam_room::Entity::insert(exam_room::ActiveModel::from(model.clone()).reset_all())
        .exec_without_returning(&txn)
        .await?;
    txn.commit(
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
    (status = 200, body = Vec<RoomResponse>)))]
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

pub(super) async fn rooms_of(
    db: &impl sea_orm::ConnectionTrait,
    sitting: Uuid,
) -> Result<Vec<exam_room::Model>, ApiError> {
    Ok(exam_room::Entity::find()
        .filter(exam_room::Column::SittingId.eq(sitting))
        .order_by_asc(exam_room::Column::Name)
        .all(db)
        .await?)
}
