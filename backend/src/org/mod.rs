//! The organisation: the province's schools, their classes, and the people in them.
pub(crate) mod db;
pub(crate) mod domain;
pub mod import;
pub(crate) mod roster;
pub(crate) mod routes;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    routes::configure(cfg);
    cfg.service(roster::import_users);
}

use crate::{
    auth::roles::{self, Role},
    entities::user,
    exam_format::Subject,
};

/// Space-padded subject codes (" toan vat_li "), so one LIKE finds a subject on any database.
pub fn subjects_to_db(subjects: &[Subject]) -> String {
    let mut codes: Vec<&str> = subjects.iter().map(|s| s.code()).collect();
    codes.sort_unstable();
    codes.dedup();
    format!(" {} ", codes.join(" "))
}

pub fn subjects_from_db(text: &str) -> Vec<Subject> {
    text.split_whitespace().filter_map(Subject::parse).collect()
}

#[derive(Serialize, ToSchema)]
pub struct UserResponse {
    pub id: Uuid,
    pub login: String,
    pub email: Option<String>,
    pub full_name: String,
    pub roles: Vec<Role>,
    pub school_id: Option<Uuid>,
    pub class_id: Option<Uuid>,
    pub birth_date: Option<NaiveDate>,
    /// The subjects a teacher or reviewer works in.
    pub subjects: Vec<Subject>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl From<user::Model> for UserResponse {
    fn from(m: user::Model) -> Self {
        Self {
            id: m.id,
            roles: roles::from_db(&m.roles),
            login: m.login,
            email: m.email,
            full_name: m.full_name,
            school_id: m.school_id,
            class_id: m.class_id,
            birth_date: m.birth_date,
            subjects: subjects_from_db(&m.subjects),
            disabled: m.disabled,
            created_at: m.created_at,
        }
    }
}

/// A person ready to be stored: every field checked, names in NFC.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub login: String,
    pub email: Option<String>,
    pub full_name: String,
    pub roles: Vec<Role>,
    pub school_id: Option<Uuid>,
    pub class_id: Option<Uuid>,
    pub birth_date: Option<NaiveDate>,
    pub subjects: Vec<Subject>,
}

/// Raw fields as they arrive from JSON or a spreadsheet row.
#[derive(Default)]
pub struct UserFields<'a> {
    pub login: &'a str,
    pub email: Option<&'a str>,
    pub full_name: &'a str,
    pub roles: Vec<Role>,
    pub school_id: Option<Uuid>,
    pub class_id: Option<Uuid>,
    pub birth_date: Option<NaiveDate>,
    pub subjects: Vec<Subject>,
}

/// Checks every field and returns all problems at once, as (field, code) pairs.
pub fn validate_user(fields: UserFields<'_>) -> Result<NewUser, Vec<(&'static str, &'static str)>> {
    let mut problems = Vec::new();
    let login = crate::auth::domain::normalise_login(fields.login);
    if let Err(code) = crate::auth::domain::check_login(&login) {
        problems.push(("login", code));
    }
    let email = fields
        .email
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_lowercase);
    if let Some(Err(code)) = email.as_deref().map(domain::check_email) {
        problems.push(("email", code));
    }
    let full_name = crate::text::clean_name(fields.full_name);
    if let Err(code) = domain::check_name(&full_name) {
        problems.push(("full_name", code));
    }
    if let Err(code) = roles::check_scope(&fields.roles, fields.school_id) {
        problems.push(("roles", code));
    }
    if problems.is_empty() {
        Ok(NewUser {
            login,
            email,
            full_name,
            roles: fields.roles,
            school_id: fields.school_id,
            class_id: fields.class_id,
            birth_date: fields.birth_date,
            subjects: fields.subjects,
        })
    } else {
        Err(problems)
    }
}
