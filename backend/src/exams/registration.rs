//! Candidates (thí sinh, with số báo danh) registered to a sitting from the school rosters or
//! from a file, seated in its rooms, listed, and given accommodations (extra time).
use std::collections::{HashMap, HashSet};

use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    domain::ExamKind,
    setup::{organised_sitting, rooms_of},
};
use crate::{
    audit::{self, Event},
    auth::{CurrentUser, roles::Role},
    entities::{attempt, candidate, user},
    error::{ApiError, FieldError, Problem},
    org::import,
    request::RequestMeta,
    state::AppState,
    text::fold,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(register_candidates)
        .service(import_candidates)
        .service(list_candidates)
        .service(set_accommodation);
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
    (status = 200, body = RegisterReport), (status = 409, body = Problem), (status = 422, body = Problem)))]
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
    let txn = audit::Change::begin(&state.db).await?;
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
    let mut seats = seat_plan(
        &txn,
        sitting.id,
        &existing,
        ExamKind::parse(&exam.kind)? == ExamKind::Exam,
    )
    .await?;
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
    txn.commit(
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
        (status = 200, body = CandidateImportReport), (status = 409, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem),
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
    let txn = audit::Change::begin(&state.db).await?;
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
    let mut seats = seat_plan(
        &txn,
        sitting.id,
        &sitting_existing,
        ExamKind::parse(&exam.kind)? == ExamKind::Exam,
    )
    .await?;
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
        txn.commit(
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
    (status = 200, body = Vec<CandidateResponse>)))]
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
    (status = 204),
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
    let txn = audit::Change::begin(&state.db).await?;
    let mut active: candidate::ActiveModel = candidate.clone().into();
    active.extra_minutes = sea_orm::Set(body.extra_minutes);
    active.update(&txn).await?;
    txn.commit(
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
    Ok(HttpResponse::NoContent().finish())
}
