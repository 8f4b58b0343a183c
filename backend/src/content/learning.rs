//! Classes and learning: a teacher assigns lessons, documents and practice sets (practice
//! sittings of the exam engine) to a class with an optional due date; students see theirs and
//! record progress; the teacher sees the class at a glance, practice scores included.
use std::collections::HashMap;

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    audit::{self, Event},
    auth::{CurrentUser, Scope, roles::Role},
    entities::{
        assignment, assignment_progress, attempt, class, content_item, exam, sitting, user,
    },
    error::{ApiError, Problem},
    exams::{
        domain::{AttemptState, ExamKind},
        grading,
    },
    request::RequestMeta,
    state::AppState,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(assign)
        .service(class_progress)
        .service(my_assignments)
        .service(record_progress);
}

#[derive(Deserialize, ToSchema)]
pub struct AssignRequest {
    /// A content item (lesson, document, video…) the class may read.
    pub item_id: Option<Uuid>,
    /// Or a practice set: a practice sitting of this class or school.
    pub sitting_id: Option<Uuid>,
    pub due_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub note: String,
}

#[derive(Serialize, ToSchema)]
pub struct AssignmentResponse {
    pub id: Uuid,
    pub class_id: Uuid,
    pub title: String,
    pub item_id: Option<Uuid>,
    pub sitting_id: Option<Uuid>,
    pub due_at: Option<DateTime<Utc>>,
    pub note: String,
    pub created_at: DateTime<Utc>,
}

fn response(a: &assignment::Model) -> AssignmentResponse {
    AssignmentResponse {
        id: a.id,
        class_id: a.class_id,
        title: a.title.clone(),
        item_id: a.item_id,
        sitting_id: a.sitting_id,
        due_at: a.due_at,
        note: a.note.clone(),
        created_at: a.created_at,
    }
}

async fn class_of(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
) -> Result<class::Model, ApiError> {
    let class = class::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("class_not_found"))?;
    user.require(
        &[Role::Teacher, Role::SchoolAdmin],
        Scope::School(class.school_id),
    )?;
    Ok(class)
}

/// Assigns a lesson, document or practice set to a class, with an optional due date.
#[utoipa::path(tag = "content", security(("bearer" = [])), params(("class_id" = Uuid, Path)), request_body = AssignRequest, responses(
    (status = 201, body = AssignmentResponse), (status = 422, body = Problem)))]
#[post("/classes/{class_id}/assignments")]
async fn assign(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<AssignRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Teacher, Role::SchoolAdmin], user.home())?;
    let class = class_of(&state, &user, path.into_inner()).await?;
    let title = match (body.item_id, body.sitting_id) {
        (Some(item), None) => {
            let item = content_item::Entity::find_by_id(item)
                .one(&state.db)
                .await?
                .ok_or_else(|| ApiError::field("item_id", "content_not_found"))?;
            // The class's students must be able to read it.
            let readable = item.published_version.is_some()
                && item.review != "taken_down"
                && match item.scope.as_str() {
                    "province" => true,
                    "school" => item.school_id == Some(class.school_id),
                    "class" => item.class_id == Some(class.id),
                    _ => false,
                };
            if !readable {
                return Err(ApiError::field("item_id", "not_shared_with_class"));
            }
            item.title
        }
        (None, Some(sitting_id)) => {
            let sitting = sitting::Entity::find_by_id(sitting_id)
                .one(&state.db)
                .await?
                .ok_or_else(|| ApiError::field("sitting_id", "sitting_not_found"))?;
            let exam = exam::Entity::find_by_id(sitting.exam_id)
                .one(&state.db)
                .await?
                .ok_or_else(|| ApiError::field("sitting_id", "sitting_not_found"))?;
            let fits = ExamKind::parse(&exam.kind)? == ExamKind::Practice
                && (exam.class_id == Some(class.id)
                    || (exam.class_id.is_none() && exam.school_id == Some(class.school_id)));
            if !fits {
                return Err(ApiError::field("sitting_id", "not_a_practice_for_class"));
            }
            format!("{} – {}", exam.name, sitting.name)
        }
        _ => return Err(ApiError::field("item_id", "one_of_item_or_sitting")),
    };
    let model = assignment::Model {
        id: Uuid::now_v7(),
        class_id: class.id,
        school_id: class.school_id,
        teacher_id: user.id,
        item_id: body.item_id,
        sitting_id: body.sitting_id,
        title,
        note: body.note.trim().to_owned(),
        due_at: body.due_at,
        created_at: Utc::now(),
    };
    let txn = audit::Change::begin(&state.db).await?;
    assignment::Entity::insert(assignment::ActiveModel::from(model.clone()).reset_all())
        .exec_without_returning(&txn)
        .await?;
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "assignment.created",
            "class",
            class.id,
            json!({ "assignment": model.id, "item": model.item_id, "sitting": model.sitting_id }),
        ),
    )
    .await?;
    Ok(HttpResponse::Created().json(response(&model)))
}

use sea_orm::ActiveModelTrait;

#[derive(Serialize, ToSchema)]
pub struct StudentProgress {
    pub student_id: Uuid,
    pub full_name: String,
    pub opened_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Practice sets: the best graded total so far.
    pub best_score: Option<String>,
    /// Not completed and past the due date.
    pub overdue: bool,
}

#[derive(Serialize, ToSchema)]
pub struct AssignmentProgressView {
    pub assignment: AssignmentResponse,
    pub opened: usize,
    pub completed: usize,
    pub students: Vec<StudentProgress>,
}

/// Best graded practice totals per student for a sitting.
async fn best_scores(state: &AppState, sitting: Uuid) -> Result<HashMap<Uuid, String>, ApiError> {
    grading::settle_waiting(&state.exams, sitting).await?;
    let attempts = attempt::Entity::find()
        .filter(attempt::Column::SittingId.eq(sitting))
        .filter(attempt::Column::State.is_in([
            AttemptState::Submitted.as_str(),
            AttemptState::AutoSubmitted.as_str(),
        ]))
        .all(&state.db)
        .await?;
    let mut best: HashMap<Uuid, crate::exam_format::Points> = HashMap::new();
    for a in attempts {
        if let Some(total) = grading::stored_score(&a).and_then(|s| s.total) {
            let entry = best.entry(a.user_id).or_insert(total);
            if total > *entry {
                *entry = total;
            }
        }
    }
    Ok(best.into_iter().map(|(k, v)| (k, v.to_string())).collect())
}

/// A class's assignments with every student's progress (its teachers and school admins).
#[utoipa::path(tag = "content", security(("bearer" = [])), params(("class_id" = Uuid, Path)), responses(
    (status = 200, body = Vec<AssignmentProgressView>)))]
#[get("/classes/{class_id}/assignments")]
async fn class_progress(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<Vec<AssignmentProgressView>>, ApiError> {
    user.require(&[Role::Teacher, Role::SchoolAdmin], user.home())?;
    let class = class_of(&state, &user, path.into_inner()).await?;
    let students = user::Entity::find()
        .filter(user::Column::ClassId.eq(class.id))
        .filter(user::Column::Roles.contains(" student "))
        .order_by_asc(user::Column::FullNameFolded)
        .all(&state.db)
        .await?;
    let assignments = assignment::Entity::find()
        .filter(assignment::Column::ClassId.eq(class.id))
        .order_by_desc(assignment::Column::CreatedAt)
        .all(&state.db)
        .await?;
    let progress = assignment_progress::Entity::find()
        .filter(assignment_progress::Column::AssignmentId.is_in(assignments.iter().map(|a| a.id)))
        .all(&state.db)
        .await?;
    let now = Utc::now();
    let mut out = Vec::new();
    for a in &assignments {
        let scores = match a.sitting_id {
            Some(s) => best_scores(&state, s).await?,
            None => HashMap::new(),
        };
        let rows: Vec<StudentProgress> = students
            .iter()
            .map(|s| {
                let p = progress
                    .iter()
                    .find(|p| p.assignment_id == a.id && p.student_id == s.id);
                let completed_at = p.and_then(|p| p.completed_at);
                StudentProgress {
                    student_id: s.id,
                    full_name: s.full_name.clone(),
                    opened_at: p.and_then(|p| p.opened_at),
                    completed_at,
                    best_score: scores.get(&s.id).cloned(),
                    overdue: completed_at.is_none() && a.due_at.is_some_and(|d| d < now),
                }
            })
            .collect();
        out.push(AssignmentProgressView {
            assignment: response(a),
            opened: rows.iter().filter(|r| r.opened_at.is_some()).count(),
            completed: rows.iter().filter(|r| r.completed_at.is_some()).count(),
            students: rows,
        });
    }
    Ok(web::Json(out))
}

#[derive(Serialize, ToSchema)]
pub struct MyAssignment {
    pub assignment: AssignmentResponse,
    pub opened_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub best_score: Option<String>,
}

/// The caller's assignments (students), soonest due first.
#[utoipa::path(tag = "content", security(("bearer" = [])), responses(
    (status = 200, body = Vec<MyAssignment>)))]
#[get("/me/assignments")]
async fn my_assignments(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<web::Json<Vec<MyAssignment>>, ApiError> {
    user.require(&[Role::Student], user.home())?;
    let me = user.account(&state.db).await?;
    let Some(class) = me.class_id else {
        return Ok(web::Json(Vec::new()));
    };
    let mut assignments = assignment::Entity::find()
        .filter(assignment::Column::ClassId.eq(class))
        .all(&state.db)
        .await?;
    assignments.sort_by_key(|a| {
        (
            a.due_at.is_none(),
            a.due_at,
            std::cmp::Reverse(a.created_at),
        )
    });
    let progress = assignment_progress::Entity::find()
        .filter(assignment_progress::Column::StudentId.eq(user.id))
        .all(&state.db)
        .await?;
    let mut out = Vec::new();
    for a in &assignments {
        let p = progress.iter().find(|p| p.assignment_id == a.id);
        let best_score = match a.sitting_id {
            Some(s) => best_scores(&state, s).await?.remove(&user.id),
            None => None,
        };
        out.push(MyAssignment {
            assignment: response(a),
            opened_at: p.and_then(|p| p.opened_at),
            completed_at: p.and_then(|p| p.completed_at),
            best_score,
        });
    }
    Ok(web::Json(out))
}

#[derive(Deserialize, ToSchema)]
pub struct ProgressRequest {
    /// "opened" or "completed".
    pub status: String,
}

/// A student records opening or completing an assignment (the first time counts).
#[utoipa::path(tag = "content", security(("bearer" = [])), params(("assignment_id" = Uuid, Path)), request_body = ProgressRequest, responses(
    (status = 204), (status = 422, body = Problem)))]
#[post("/assignments/{assignment_id}/progress")]
async fn record_progress(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<ProgressRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Student], user.home())?;
    let completed = match body.status.as_str() {
        "opened" => false,
        "completed" => true,
        _ => return Err(ApiError::field("status", "invalid")),
    };
    let a = assignment::Entity::find_by_id(path.into_inner())
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("assignment_not_found"))?;
    let me = user.account(&state.db).await?;
    if me.class_id != Some(a.class_id) {
        return Err(ApiError::NotFound("assignment_not_found"));
    }
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let old = assignment_progress::Entity::find_by_id((a.id, user.id))
        .one(&txn)
        .await?;
    let opened_at = old.as_ref().and_then(|o| o.opened_at).or(Some(now));
    let completed_at = old
        .as_ref()
        .and_then(|o| o.completed_at)
        .or(completed.then_some(now));
    let row = assignment_progress::ActiveModel {
        assignment_id: sea_orm::Set(a.id),
        student_id: sea_orm::Set(user.id),
        opened_at: sea_orm::Set(opened_at),
        completed_at: sea_orm::Set(completed_at),
    };
    if old.is_some() {
        row.update(&txn).await?;
    } else {
        assignment_progress::Entity::insert(row)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
