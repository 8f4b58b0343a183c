//! Who may act on an exam: its explicit staff. Organisers (the province's admins, the exam's
//! school's admins, and the people listed, its creator first), markers of its essays (listed,
//! beside the organisers) and each room's proctors. A teacher of the school with no part in the
//! exam sees none of its results, keys, photos or candidates (SECURITY.md, finding 5). The lists
//! are space-padded ids on the exam and room rows, so a check costs no query.
use actix_web::{get, put, web};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    audit::{self, Event},
    auth::{CurrentUser, roles::Role},
    entities::{exam, exam_room, user},
    error::{ApiError, FieldError, Problem},
    request::RequestMeta,
    state::AppState,
};

/// Organisers or markers one exam may list.
const MOST_LISTED: usize = 100;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_exam_staff).service(set_exam_staff);
}

/// `ids` as stored: space-padded, so `" {id} "` finds one with a plain substring test.
pub fn padded(ids: &[Uuid]) -> String {
    let mut out = String::from(" ");
    for id in ids {
        out.push_str(&id.to_string());
        out.push(' ');
    }
    out
}

pub fn ids_of(list: &str) -> Vec<Uuid> {
    list.split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn listed(list: &str, id: Uuid) -> bool {
    list.contains(&format!(" {id} "))
}

pub fn proctors_of(room: &exam_room::Model) -> Vec<Uuid> {
    ids_of(&room.proctors)
}

pub fn is_proctor_of(room: &exam_room::Model, user: Uuid) -> bool {
    listed(&room.proctors, user)
}

/// The province's admins, the admins of the exam's school, and its listed organisers.
pub fn is_organiser(user: &CurrentUser, exam: &exam::Model) -> bool {
    user.has(Role::ProvinceAdmin)
        || (exam.school_id.is_some()
            && exam.school_id == user.school
            && user.has(Role::SchoolAdmin))
        || listed(&exam.organisers, user.id)
}

pub fn require_organiser(user: &CurrentUser, exam: &exam::Model) -> Result<(), ApiError> {
    if is_organiser(user, exam) {
        Ok(())
    } else {
        Err(ApiError::Forbidden("not_exam_staff"))
    }
}

/// Organisers, and the markers listed for the exam's essays.
pub fn require_marker(user: &CurrentUser, exam: &exam::Model) -> Result<(), ApiError> {
    if is_organiser(user, exam) || listed(&exam.markers, user.id) {
        Ok(())
    } else {
        Err(ApiError::Forbidden("not_exam_staff"))
    }
}

/// Whether the caller has any part in the exam: organiser, marker, or proctor of one of its
/// rooms. Reading the exam's definition needs one (a colleague with none is refused).
pub async fn has_part(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    exam: &exam::Model,
) -> Result<bool, ApiError> {
    if is_organiser(user, exam) || listed(&exam.markers, user.id) {
        return Ok(true);
    }
    use crate::entities::sitting;
    use sea_orm::QuerySelect;
    let sittings: Vec<Uuid> = sitting::Entity::find()
        .filter(sitting::Column::ExamId.eq(exam.id))
        .select_only()
        .column(sitting::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let proctoring = exam_room::Entity::find()
        .filter(exam_room::Column::SittingId.is_in(sittings))
        .filter(exam_room::Column::Proctors.contains(format!(" {} ", user.id)))
        .one(db)
        .await?;
    Ok(proctoring.is_some())
}

#[derive(Serialize, ToSchema)]
pub struct StaffMember {
    pub id: Uuid,
    pub full_name: String,
    pub login: String,
}

#[derive(Serialize, ToSchema)]
pub struct ExamStaff {
    /// Besides these, the province's admins and the exam's school's admins organise it.
    pub organisers: Vec<StaffMember>,
    pub markers: Vec<StaffMember>,
}

#[derive(Deserialize, ToSchema)]
pub struct ExamStaffRequest {
    /// Who organises the exam (creates sittings and rooms, registers candidates, sees results,
    /// papers and photos, releases). Staff of the exam's school; any staff for a province exam.
    pub organisers: Vec<Uuid>,
    /// Who marks its essays (and sees only them).
    #[serde(default)]
    pub markers: Vec<Uuid>,
}

async fn members(db: &impl ConnectionTrait, list: &str) -> Result<Vec<StaffMember>, ApiError> {
    let ids = ids_of(list);
    let mut people = user::Entity::find()
        .filter(user::Column::Id.is_in(ids.clone()))
        .all(db)
        .await?;
    people.sort_by_key(|p| ids.iter().position(|id| *id == p.id));
    Ok(people
        .into_iter()
        .map(|p| StaffMember {
            id: p.id,
            full_name: p.full_name,
            login: p.login,
        })
        .collect())
}

async fn staff_of(db: &impl ConnectionTrait, exam: &exam::Model) -> Result<ExamStaff, ApiError> {
    Ok(ExamStaff {
        organisers: members(db, &exam.organisers).await?,
        markers: members(db, &exam.markers).await?,
    })
}

async fn organised_exam(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    id: Uuid,
) -> Result<exam::Model, ApiError> {
    user.require(&[Role::SchoolAdmin, Role::Teacher], user.home())?;
    let exam = exam::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("exam_not_found"))?;
    require_organiser(user, &exam).map_err(|_| ApiError::NotFound("exam_not_found"))?;
    Ok(exam)
}

/// The exam's organisers and markers (its organisers only).
#[utoipa::path(tag = "exams", security(("bearer" = [])), params(("exam_id" = Uuid, Path)), responses(
    (status = 200, body = ExamStaff)))]
#[get("/exams/{exam_id}/staff")]
async fn get_exam_staff(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<ExamStaff>, ApiError> {
    let exam = organised_exam(&state.db, &user, path.into_inner()).await?;
    Ok(web::Json(staff_of(&state.db, &exam).await?))
}

/// Replaces the exam's organisers and markers (its organisers only). Each must be an enabled
/// staff account of the exam's school (any school, or the province, for a province exam).
#[utoipa::path(tag = "exams", security(("bearer" = [])), params(("exam_id" = Uuid, Path)), request_body = ExamStaffRequest, responses(
    (status = 200, body = ExamStaff),
    (status = 422, body = Problem)))]
#[put("/exams/{exam_id}/staff")]
async fn set_exam_staff(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
    body: web::Json<ExamStaffRequest>,
) -> Result<web::Json<ExamStaff>, ApiError> {
    let ExamStaffRequest {
        mut organisers,
        mut markers,
    } = body.into_inner();
    for list in [&mut organisers, &mut markers] {
        let mut seen = std::collections::HashSet::new();
        list.retain(|id| seen.insert(*id));
    }
    let txn = audit::Change::begin(&state.db).await?;
    let exam = organised_exam(&txn, &user, path.into_inner()).await?;
    let mut problems = Vec::new();
    for (field, list) in [("organisers", &organisers), ("markers", &markers)] {
        if list.len() > MOST_LISTED {
            problems.push(FieldError::new(field, "too_many"));
            continue;
        }
        let people = user::Entity::find()
            .filter(user::Column::Id.is_in(list.clone()))
            .all(&txn)
            .await?;
        for (i, id) in list.iter().enumerate() {
            let fits = people.iter().any(|p| {
                p.id == *id
                    && !p.disabled
                    && (exam.school_id.is_none() || p.school_id == exam.school_id)
                    && crate::auth::roles::from_db(&p.roles).iter().any(|r| {
                        matches!(
                            r,
                            Role::Teacher
                                | Role::SchoolAdmin
                                | Role::Reviewer
                                | Role::Proctor
                                | Role::ProvinceAdmin
                        )
                    })
            });
            if !fits {
                problems.push(FieldError::new(format!("{field}[{i}]"), "not_school_staff"));
            }
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::fields(problems));
    }
    let mut active: exam::ActiveModel = exam.clone().into();
    active.organisers = sea_orm::Set(padded(&organisers));
    active.markers = sea_orm::Set(padded(&markers));
    let exam = active.update(&txn).await?;
    let staff = staff_of(&txn, &exam).await?;
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "exam.staff_set",
            "exam",
            exam.id,
            json!({ "organisers": organisers, "markers": markers }),
        ),
    )
    .await?;
    Ok(web::Json(staff))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip_and_match_whole_ids_only() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let stored = padded(&[a, b]);
        assert_eq!(ids_of(&stored), vec![a, b]);
        assert!(listed(&stored, a) && listed(&stored, b));
        assert!(!listed(&stored, Uuid::now_v7()));
        assert!(!listed(" ", a), "an empty list lists no one");
        let prefix = &a.to_string()[..8];
        assert!(!stored.contains(&format!(" {prefix} ")), "no partial match");
    }
}
