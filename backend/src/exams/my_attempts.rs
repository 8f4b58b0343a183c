//! A student's own attempts: the list of what they may sit or have sat, and a new attempt at a
//! practice sitting.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, FromQueryResult, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::taking::{AttemptView, view};
use super::{
    domain::{AttemptState, ExamKind},
    lifecycle::{self, Context},
};
use crate::{
    auth::{CurrentUser, roles::Role},
    entities::{attempt, exam, paper_code, sitting},
    error::{ApiError, Problem},
    state::AppState,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(my_attempts).service(new_practice_attempt);
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
    (status = 200, body = Vec<MyAttempt>)))]
#[get("/me/attempts")]
async fn my_attempts(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<web::Json<Vec<MyAttempt>>, ApiError> {
    Ok(web::Json(attempts_of(&state, user.id).await?))
}

/// A person's attempts, newest first.
pub(super) async fn attempts_of(
    state: &AppState,
    user_id: Uuid,
) -> Result<Vec<MyAttempt>, ApiError> {
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
        .filter(attempt::Column::UserId.eq(user_id))
        .order_by_desc(attempt::Column::Id)
        .into_model()
        .all(&state.db)
        .await?;
    let now = state.clock.now();
    let attempts = rows
        .into_iter()
        .map(|r| {
            Ok(MyAttempt {
                id: r.id,
                exam_name: r.exam_name,
                sitting_name: r.sitting_name,
                starts_at: r.starts_at,
                minutes: r.minutes,
                code: r.code,
                state: AttemptState::parse(&r.state)?,
                deadline: r.deadline,
                server_now: now,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(attempts)
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
    (status = 201, body = AttemptView), (status = 409, body = Problem)))]
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
    if ExamKind::parse(&exam.kind)? != ExamKind::Practice {
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
    for a in &mine {
        if !AttemptState::parse(&a.state)?.is_closed() {
            return Err(ApiError::Conflict("attempt_open"));
        }
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
