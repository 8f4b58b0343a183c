use actix_web::{HttpResponse, get, post, web};
use chrono::Utc;
use sea_orm::{DbErr, SqlErr};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{UserFields, UserResponse, db, domain, validate_user};
use crate::{
    audit::{self, Event},
    auth::{self, CurrentUser, Scope, password, roles::Role},
    entities::{class, school},
    error::{ApiError, FieldError, Problem},
    request::RequestMeta,
    state::AppState,
};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_school)
        .service(list_schools)
        .service(get_school)
        .service(create_class)
        .service(list_classes)
        .service(create_user)
        .service(list_users)
        .service(get_user)
        .service(get_me)
        .service(reset_password);
}

/// Staff who may see a school's organisation.
const SCHOOL_STAFF: &[Role] = &[
    Role::SchoolAdmin,
    Role::Teacher,
    Role::Reviewer,
    Role::Proctor,
];

pub(super) fn unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

// ----------------------------------------------------------------------------------------------
// Schools

#[derive(Deserialize, ToSchema)]
pub struct CreateSchoolRequest {
    /// Short unique code, e.g. "THPT-CVA".
    pub code: String,
    /// e.g. "Trường THPT Chu Văn An".
    pub name: String,
    /// TH, THCS or THPT.
    pub level: String,
}

#[derive(Serialize, ToSchema)]
pub struct SchoolResponse {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub level: String,
}

impl From<school::Model> for SchoolResponse {
    fn from(m: school::Model) -> Self {
        Self {
            id: m.id,
            code: m.code,
            name: m.name,
            level: m.level,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SchoolPage {
    pub items: Vec<SchoolResponse>,
    pub next: Option<Uuid>,
}

#[derive(Deserialize, IntoParams)]
pub struct PageQuery {
    /// Part of a name; diacritics and case are ignored.
    pub q: Option<String>,
    /// The `next` cursor of the previous page.
    pub after: Option<Uuid>,
    /// Items per page: 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// Adds a school to the province (province admins).
#[utoipa::path(tag = "organisation", security(("bearer" = [])), request_body = CreateSchoolRequest, responses(
    (status = 201, body = SchoolResponse),
    (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/schools")]
async fn create_school(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    body: web::Json<CreateSchoolRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::ProvinceAdmin], Scope::Province)?;
    let code = body.code.trim().to_uppercase();
    let name = crate::text::clean_name(&body.name);
    let mut problems = Vec::new();
    if let Err(c) = domain::check_code(&code) {
        problems.push(FieldError::new("code", c));
    }
    if let Err(c) = domain::check_name(&name) {
        problems.push(FieldError::new("name", c));
    }
    let level = domain::check_school_level(&body.level)
        .map_err(|c| problems.push(FieldError::new("level", c)))
        .ok();
    if !problems.is_empty() {
        return Err(ApiError::fields(problems));
    }
    let txn = audit::Change::begin(&state.db).await?;
    let school = match db::insert_school(&txn, &code, &name, level.unwrap_or_default()).await {
        Err(e) if unique_violation(&e) => return Err(ApiError::Conflict("school_code_taken")),
        other => other?,
    };
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "school.created",
            "school",
            school.id,
            serde_json::json!({ "code": code, "name": name }),
        ),
    )
    .await?;
    Ok(HttpResponse::Created().json(SchoolResponse::from(school)))
}

/// Lists schools: all of them for province staff, one's own for school staff.
#[utoipa::path(tag = "organisation", security(("bearer" = [])), params(PageQuery), responses(
    (status = 200, body = SchoolPage)))]
#[get("/schools")]
async fn list_schools(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<PageQuery>,
) -> Result<web::Json<SchoolPage>, ApiError> {
    let limit = crate::error::page_limit(query.limit, 50, 500)?;
    let mut rows = db::list_schools(
        &state.db,
        user.school,
        query.q.as_deref(),
        query.after,
        limit + 1,
    )
    .await?;
    let next = page_cursor(&mut rows, limit, |s| s.id);
    Ok(web::Json(SchoolPage {
        items: rows.into_iter().map(Into::into).collect(),
        next,
    }))
}

fn page_cursor<T>(rows: &mut Vec<T>, limit: u64, id: impl Fn(&T) -> Uuid) -> Option<Uuid> {
    if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(id)
    } else {
        None
    }
}

/// One school.
#[utoipa::path(tag = "organisation", security(("bearer" = [])), params(("school_id" = Uuid, Path)), responses(
    (status = 200, body = SchoolResponse)))]
#[get("/schools/{school_id}")]
async fn get_school(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<SchoolResponse>, ApiError> {
    let school_id = path.into_inner();
    user.require(
        &[
            Role::SchoolAdmin,
            Role::Teacher,
            Role::Reviewer,
            Role::Proctor,
            Role::Student,
        ],
        Scope::School(school_id),
    )?;
    let school = db::find_school(&state.db, school_id)
        .await?
        .ok_or(ApiError::NotFound("school_not_found"))?;
    Ok(web::Json(school.into()))
}

// ----------------------------------------------------------------------------------------------
// Classes

#[derive(Deserialize, ToSchema)]
pub struct CreateClassRequest {
    /// e.g. "12A1".
    pub name: String,
    pub grade: i16,
    /// e.g. "2025-2026".
    pub school_year: String,
}

#[derive(Serialize, ToSchema)]
pub struct ClassResponse {
    pub id: Uuid,
    pub school_id: Uuid,
    pub name: String,
    pub grade: i16,
    pub school_year: String,
}

impl From<class::Model> for ClassResponse {
    fn from(m: class::Model) -> Self {
        Self {
            id: m.id,
            school_id: m.school_id,
            name: m.name,
            grade: m.grade,
            school_year: m.school_year,
        }
    }
}

/// Adds a class to a school (that school's admins).
#[utoipa::path(tag = "organisation", security(("bearer" = [])), params(("school_id" = Uuid, Path)), request_body = CreateClassRequest, responses(
    (status = 201, body = ClassResponse), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/schools/{school_id}/classes")]
async fn create_class(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<CreateClassRequest>,
) -> Result<HttpResponse, ApiError> {
    let school_id = path.into_inner();
    user.require(&[Role::SchoolAdmin], Scope::School(school_id))?;
    let name = crate::text::clean_name(&body.name);
    let mut problems = Vec::new();
    if let Err(c) = domain::check_name(&name) {
        problems.push(FieldError::new("name", c));
    }
    if !(1..=12).contains(&body.grade) {
        problems.push(FieldError::new("grade", "invalid_grade"));
    }
    if let Err(c) = domain::check_school_year(&body.school_year) {
        problems.push(FieldError::new("school_year", c));
    }
    if !problems.is_empty() {
        return Err(ApiError::fields(problems));
    }
    db::find_school(&state.db, school_id)
        .await?
        .ok_or(ApiError::NotFound("school_not_found"))?;
    let txn = audit::Change::begin(&state.db).await?;
    let class = match db::insert_class(&txn, school_id, &name, body.grade, &body.school_year).await
    {
        Err(e) if unique_violation(&e) => return Err(ApiError::Conflict("class_exists")),
        other => other?,
    };
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "class.created",
            "class",
            class.id,
            serde_json::json!({ "school_id": school_id, "name": name }),
        ),
    )
    .await?;
    Ok(HttpResponse::Created().json(ClassResponse::from(class)))
}

/// A school's classes, newest school year first (that school's staff).
#[utoipa::path(tag = "organisation", security(("bearer" = [])), params(("school_id" = Uuid, Path)), responses(
    (status = 200, body = Vec<ClassResponse>)))]
#[get("/schools/{school_id}/classes")]
async fn list_classes(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<Vec<ClassResponse>>, ApiError> {
    let school_id = path.into_inner();
    user.require(SCHOOL_STAFF, Scope::School(school_id))?;
    Ok(web::Json(
        db::list_classes(&state.db, school_id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

// ----------------------------------------------------------------------------------------------
// Users

#[derive(Deserialize, ToSchema)]
pub struct CreateUserRequest {
    pub login: String,
    /// Left out: a random password is generated and returned once.
    pub password: Option<String>,
    pub full_name: String,
    pub email: Option<String>,
    pub roles: Vec<Role>,
    pub school_id: Option<Uuid>,
    pub class_id: Option<Uuid>,
    /// ISO date, e.g. "2009-03-07".
    pub birth_date: Option<chrono::NaiveDate>,
    /// The subjects a teacher or reviewer works in (e.g. ["toan", "vat_li"]).
    #[serde(default)]
    pub subjects: Vec<crate::exam_format::Subject>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedUserResponse {
    pub user: UserResponse,
    /// Present only when the password was generated: hand it to the person, it is not shown again.
    pub initial_password: Option<String>,
}

/// Only a province admin hands out province-admin or school-admin roles.
pub(super) fn check_grant(caller: &CurrentUser, roles: &[Role]) -> Result<(), ApiError> {
    let elevated = roles
        .iter()
        .any(|r| matches!(r, Role::ProvinceAdmin | Role::SchoolAdmin));
    if elevated && !caller.has(Role::ProvinceAdmin) {
        return Err(ApiError::Forbidden("forbidden"));
    }
    Ok(())
}

fn to_fields(problems: Vec<(&'static str, &'static str)>) -> ApiError {
    ApiError::fields(
        problems
            .into_iter()
            .map(|(f, c)| FieldError::new(f, c))
            .collect(),
    )
}

/// Checks that a class belongs to the user's school.
async fn check_class(
    state: &AppState,
    school_id: Option<Uuid>,
    class_id: Option<Uuid>,
) -> Result<(), ApiError> {
    if let Some(class_id) = class_id {
        let class = db::find_class(&state.db, class_id).await?;
        if class.is_none_or(|c| Some(c.school_id) != school_id) {
            return Err(ApiError::field("class_id", "unknown_class"));
        }
    }
    Ok(())
}

/// Creates an account (province admins; school admins within their school).
#[utoipa::path(tag = "organisation", security(("bearer" = [])), request_body = CreateUserRequest, responses(
    (status = 201, body = CreatedUserResponse),
    (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/users")]
async fn create_user(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    body: web::Json<CreateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    match body.school_id {
        Some(school) => user.require(&[Role::SchoolAdmin], Scope::School(school))?,
        None => user.require(&[Role::ProvinceAdmin], Scope::Province)?,
    }
    check_grant(&user, &body.roles)?;
    let new = validate_user(UserFields {
        login: &body.login,
        email: body.email.as_deref(),
        full_name: &body.full_name,
        roles: body.roles.clone(),
        school_id: body.school_id,
        class_id: body.class_id,
        birth_date: body.birth_date,
        subjects: body.subjects.clone(),
    })
    .map_err(to_fields)?;
    if let Some(p) = &body.password {
        password::check_strength(p).map_err(|c| ApiError::field("password", c))?;
    }
    if let Some(school) = body.school_id {
        db::find_school(&state.db, school)
            .await?
            .ok_or(ApiError::field("school_id", "unknown_school"))?;
    }
    check_class(&state, body.school_id, body.class_id).await?;
    let generated = body.password.is_none().then(domain::generate_password);
    let hash = state
        .passwords
        .hash(body.password.or(generated.clone()).unwrap_or_default())
        .await?;
    let txn = audit::Change::begin(&state.db).await?;
    let created = match db::insert_user(&txn, &new, hash).await {
        Err(e) if unique_violation(&e) => return Err(ApiError::Conflict("login_taken")),
        other => other?,
    };
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "user.created",
            "user",
            created.id,
            serde_json::json!({ "login": new.login, "roles": new.roles }),
        ),
    )
    .await?;
    Ok(HttpResponse::Created().json(CreatedUserResponse {
        user: created.into(),
        initial_password: generated,
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct UserQuery {
    pub school_id: Option<Uuid>,
    pub class_id: Option<Uuid>,
    pub role: Option<Role>,
    /// Part of a name; diacritics and case are ignored ("nguyen van an" finds "Nguyễn Văn An").
    pub q: Option<String>,
    pub after: Option<Uuid>,
    /// Items per page: 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserResponse>,
    pub next: Option<Uuid>,
}

/// Lists accounts (province admins; school admins see their school only).
#[utoipa::path(tag = "organisation", security(("bearer" = [])), params(UserQuery), responses(
    (status = 200, body = UserPage)))]
#[get("/users")]
async fn list_users(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<UserQuery>,
) -> Result<web::Json<UserPage>, ApiError> {
    // A school admin is pinned to their school whatever the query says.
    let school_id = if user.has(Role::ProvinceAdmin) {
        query.school_id
    } else {
        user.school.or(query.school_id)
    };
    match school_id {
        Some(school) => user.require(&[Role::SchoolAdmin], Scope::School(school))?,
        None => user.require(&[Role::ProvinceAdmin], Scope::Province)?,
    }
    let limit = crate::error::page_limit(query.limit, 50, 500)?;
    let mut rows = db::list_users(
        &state.db,
        db::UserFilter {
            school_id,
            class_id: query.class_id,
            role: query.role,
            name: query.q.as_deref(),
            after: query.after,
            limit: limit + 1,
        },
    )
    .await?;
    let next = page_cursor(&mut rows, limit, |u| u.id);
    Ok(web::Json(UserPage {
        items: rows.into_iter().map(Into::into).collect(),
        next,
    }))
}

async fn user_in_reach(
    state: &AppState,
    caller: &CurrentUser,
    user_id: Uuid,
) -> Result<crate::entities::user::Model, ApiError> {
    let target = auth::db::find_user(&state.db, user_id).await?;
    // Someone outside the school learns nothing, not even whether the account exists.
    let Some(target) = target else {
        caller
            .require(&[Role::SchoolAdmin], Scope::Province)
            .map_err(|_| ApiError::Forbidden("forbidden"))?;
        return Err(ApiError::NotFound("user_not_found"));
    };
    match target.school_id {
        Some(school) => caller.require(&[Role::SchoolAdmin], Scope::School(school))?,
        None => caller.require(&[Role::ProvinceAdmin], Scope::Province)?,
    }
    Ok(target)
}

/// One account (admins of its school, or province admins).
#[utoipa::path(tag = "organisation", security(("bearer" = [])), params(("user_id" = Uuid, Path)), responses(
    (status = 200, body = UserResponse)))]
#[get("/users/{user_id}")]
async fn get_user(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<UserResponse>, ApiError> {
    let user_id = path.into_inner();
    if user_id == user.id {
        let me = auth::db::find_user(&state.db, user_id)
            .await?
            .ok_or(ApiError::NotFound("user_not_found"))?;
        return Ok(web::Json(me.into()));
    }
    Ok(web::Json(
        user_in_reach(&state, &user, user_id).await?.into(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct ResetPasswordRequest {
    /// Left out: a random password is generated and returned once.
    pub new_password: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ResetPasswordResponse {
    pub initial_password: Option<String>,
}

/// Sets a new password for an account and signs it out everywhere (its school's admins).
#[utoipa::path(tag = "organisation", security(("bearer" = [])), params(("user_id" = Uuid, Path)), request_body = ResetPasswordRequest, responses(
    (status = 200, body = ResetPasswordResponse), (status = 422, body = Problem)))]
#[post("/users/{user_id}/password-reset")]
async fn reset_password(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<ResetPasswordRequest>,
) -> Result<web::Json<ResetPasswordResponse>, ApiError> {
    let target = user_in_reach(&state, &user, path.into_inner()).await?;
    // One's own password changes at `/me/password`, which asks for the current one: a stolen
    // session must not set a new password and keep the account. Another admin's takes the province.
    user.require_account_manager_of(&target, "reset_not_for_yourself")?;
    if let Some(p) = &body.new_password {
        password::check_strength(p).map_err(|c| ApiError::field("new_password", c))?;
    }
    let generated = body.new_password.is_none().then(domain::generate_password);
    let hash = state
        .passwords
        .hash(
            body.new_password
                .clone()
                .or(generated.clone())
                .unwrap_or_default(),
        )
        .await?;
    let now = Utc::now();
    let txn = audit::Change::begin(&state.db).await?;
    auth::db::set_password(&txn, target.id, hash, now).await?;
    let sessions = auth::db::revoke_all_for_user(&txn, target.id, now, None).await?;
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "user.password_reset",
            "user",
            target.id,
            serde_json::json!({ "sessions_revoked": sessions.len() }),
        ),
    )
    .await?;
    state.revocations.revoke(&sessions).await?;
    Ok(web::Json(ResetPasswordResponse {
        initial_password: generated,
    }))
}

/// The signed-in user.
#[utoipa::path(tag = "auth", security(("bearer" = [])), responses(
    (status = 200, body = UserResponse)))]
#[get("/me")]
async fn get_me(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<web::Json<UserResponse>, ApiError> {
    let model = crate::auth::db::find_user(&state.db, user.id)
        .await?
        .ok_or(ApiError::Unauthorized("token_invalid"))?;
    Ok(web::Json(UserResponse::from(model)))
}
