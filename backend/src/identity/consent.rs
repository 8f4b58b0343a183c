//! Consent before identity data is collected (Law 91/2025/QH15, Decree 356/2025/NĐ-CP): the
//! text says what is collected and why, and that photos are sensitive data; consent is explicit,
//! given by the student or, under 16, by a legal representative; it is recorded with its time and
//! text version, and can be withdrawn. A student can export what is held about them.
use actix_web::{HttpResponse, get, post, web};
use chrono::{Datelike, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    audit::{self, Event},
    auth::{CurrentUser, roles::Role},
    entities::{attempt, audit_event, candidate, consent, exam, identity_number},
    error::{ApiError, FieldError, Problem},
    request::RequestMeta,
    state::AppState,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(consent_text)
        .service(give)
        .service(mine)
        .service(withdraw)
        .service(verify_guardian)
        .service(export);
}

pub const TEXT_VERSION: &str = "2026-11-v1";
pub const PURPOSES: [&str; 2] = ["id_card", "photo"];
/// Under this age a legal representative consents.
const AGE_OF_CONSENT: i32 = 16;

#[derive(Serialize, ToSchema)]
pub struct Purpose {
    pub id: &'static str,
    /// Sensitive personal data (biometrics, ID-card images) needs its own explicit consent.
    pub sensitive: bool,
    pub vi: &'static str,
    pub en: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentText {
    pub version: &'static str,
    pub vi: &'static str,
    pub en: &'static str,
    pub purposes: Vec<Purpose>,
}

/// What the exam collects and why, in the version consent is given to.
#[utoipa::path(tag = "identity", security(("bearer" = [])), responses((status = 200, body = ConsentText)))]
#[get("/consent/text")]
async fn consent_text(_user: CurrentUser) -> web::Json<ConsentText> {
    web::Json(ConsentText {
        version: TEXT_VERSION,
        vi: "Để xác minh đúng người dự thi, kỳ thi thu thập: số căn cước công dân (dữ liệu cá nhân cơ bản) khi điểm danh bằng mã QR trên thẻ; và nếu bạn đồng ý, ảnh chân dung khi điểm danh và trong giờ thi (dữ liệu cá nhân nhạy cảm). Dữ liệu được mã hóa, chỉ giám thị của kỳ thi và quản trị viên được xem, mọi lần xem đều được ghi lại, và được xóa khi hết thời hạn lưu trữ của kỳ thi. Bạn có thể rút lại sự đồng ý và xuất toàn bộ dữ liệu cá nhân của mình bất cứ lúc nào. Học sinh dưới 16 tuổi do cha, mẹ hoặc người giám hộ đồng ý thay.",
        en: "To verify that the right person sits the exam, it collects: the chip ID card number (basic personal data) when you check in with the card's QR code; and, if you agree, portrait photos at check-in and during the exam (sensitive personal data). The data is encrypted, only the exam's proctors and administrators may see it, every view is logged, and it is deleted when the exam's retention period ends. You may withdraw consent and export all your personal data at any time. For students under 16 a parent or guardian consents.",
        purposes: vec![
            Purpose {
                id: "id_card",
                sensitive: false,
                vi: "Số CCCD để điểm danh",
                en: "ID card number for check-in",
            },
            Purpose {
                id: "photo",
                sensitive: true,
                vi: "Ảnh chân dung khi điểm danh và trong giờ thi (dữ liệu nhạy cảm)",
                en: "Portrait photos at check-in and during the exam (sensitive data)",
            },
        ],
    })
}

#[derive(Deserialize, ToSchema)]
pub struct Guardian {
    pub full_name: String,
    /// e.g. "mẹ", "bố", "người giám hộ".
    pub relation: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ConsentRequest {
    /// One exam, or every exam when left out.
    pub exam_id: Option<Uuid>,
    pub purposes: Vec<String>,
    /// The version of the text shown; must be the current one.
    pub text_version: String,
    /// Must be true: silence or a default is not consent.
    pub accepted: bool,
    /// Required for a student under 16 (or whose date of birth is unknown).
    pub guardian: Option<Guardian>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentResponse {
    pub id: Uuid,
    pub exam_id: Option<Uuid>,
    pub purposes: Vec<String>,
    pub text_version: String,
    pub guardian_name: Option<String>,
    pub guardian_relation: Option<String>,
    pub given_at: chrono::DateTime<Utc>,
    pub withdrawn_at: Option<chrono::DateTime<Utc>>,
    /// A guardian's consent counts once a school admin has verified it: then when, and how
    /// (`in_person`, `signed_form`, `phone_call`).
    pub guardian_verified_at: Option<chrono::DateTime<Utc>>,
    pub guardian_verification: Option<String>,
}

fn response(c: &consent::Model) -> ConsentResponse {
    ConsentResponse {
        id: c.id,
        exam_id: c.exam_id,
        purposes: c.purposes.split_whitespace().map(str::to_owned).collect(),
        text_version: c.text_version.clone(),
        guardian_name: c.guardian_name.clone(),
        guardian_relation: c.guardian_relation.clone(),
        given_at: c.given_at,
        withdrawn_at: c.withdrawn_at,
        guardian_verified_at: c.guardian_verified_at,
        guardian_verification: c.guardian_verification.clone(),
    }
}

/// Records consent, by the student or, under 16, naming the legal representative who gives it.
#[utoipa::path(tag = "identity", security(("bearer" = [])), request_body = ConsentRequest, responses(
    (status = 201, body = ConsentResponse), (status = 422, body = Problem)))]
#[post("/me/consents")]
async fn give(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    body: web::Json<ConsentRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Student], user.home())?;
    let mut problems = Vec::new();
    if !body.accepted {
        problems.push(FieldError::new("accepted", "consent_not_given"));
    }
    if body.text_version != TEXT_VERSION {
        problems.push(FieldError::new("text_version", "consent_text_outdated"));
    }
    if body.purposes.is_empty()
        || body
            .purposes
            .iter()
            .any(|p| !PURPOSES.contains(&p.as_str()))
    {
        problems.push(FieldError::new("purposes", "invalid"));
    }
    let me = user.account(&state.db).await?;
    let today = Utc::now().date_naive();
    let minor = me.birth_date.is_none_or(|born| {
        let mut age = today.year() - born.year();
        if (today.month(), today.day()) < (born.month(), born.day()) {
            age -= 1;
        }
        age < AGE_OF_CONSENT
    });
    let guardian = body
        .guardian
        .as_ref()
        .filter(|g| !g.full_name.trim().is_empty() && !g.relation.trim().is_empty());
    if minor && guardian.is_none() {
        problems.push(FieldError::new("guardian", "guardian_required"));
    }
    if let Some(exam_id) = body.exam_id
        && exam::Entity::find_by_id(exam_id)
            .one(&state.db)
            .await?
            .is_none()
    {
        problems.push(FieldError::new("exam_id", "exam_not_found"));
    }
    if !problems.is_empty() {
        return Err(ApiError::fields(problems));
    }
    let model = consent::Model {
        id: Uuid::now_v7(),
        user_id: user.id,
        exam_id: body.exam_id,
        purposes: format!(" {} ", body.purposes.join(" ")),
        text_version: TEXT_VERSION.to_owned(),
        guardian_name: guardian.map(|g| crate::text::clean_name(&g.full_name)),
        guardian_relation: guardian.map(|g| g.relation.trim().to_owned()),
        given_at: Utc::now(),
        withdrawn_at: None,
        guardian_verified_by: None,
        guardian_verified_at: None,
        guardian_verification: None,
    };
    let txn = audit::Change::begin(&state.db).await?;
    consent::Entity::insert(consent::ActiveModel::from(model.clone()).reset_all())
        .exec_without_returning(&txn)
        .await?;
    txn.commit(&meta, Event::by(user.id, "consent.given", "user", user.id,
        json!({ "consent": model.id, "purposes": body.purposes, "by_guardian": guardian.is_some(), "text_version": TEXT_VERSION }))).await?;
    Ok(HttpResponse::Created().json(response(&model)))
}

use sea_orm::ActiveModelTrait;

/// The caller's consents, given and withdrawn.
#[utoipa::path(tag = "identity", security(("bearer" = [])), responses(
    (status = 200, body = Vec<ConsentResponse>)))]
#[get("/me/consents")]
async fn mine(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<web::Json<Vec<ConsentResponse>>, ApiError> {
    let list = consent::Entity::find()
        .filter(consent::Column::UserId.eq(user.id))
        .order_by_asc(consent::Column::GivenAt)
        .all(&state.db)
        .await?;
    Ok(web::Json(list.iter().map(response).collect()))
}

/// Withdraws a consent: what it allowed stops (card check-in falls back to a proctor's manual
/// check-in).
#[utoipa::path(tag = "identity", security(("bearer" = [])), params(("consent_id" = Uuid, Path)), responses(
    (status = 200, body = ConsentResponse), (status = 409, body = Problem)))]
#[post("/me/consents/{consent_id}/withdraw")]
async fn withdraw(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<ConsentResponse>, ApiError> {
    let found = consent::Entity::find_by_id(path.into_inner())
        .one(&state.db)
        .await?
        .filter(|c| c.user_id == user.id)
        .ok_or(ApiError::NotFound("consent_not_found"))?;
    if found.withdrawn_at.is_some() {
        return Err(ApiError::Conflict("consent_withdrawn"));
    }
    let txn = audit::Change::begin(&state.db).await?;
    let mut active: consent::ActiveModel = found.clone().into();
    active.withdrawn_at = sea_orm::Set(Some(Utc::now()));
    let updated = active.update(&txn).await?;
    // The ID number is kept only under a standing consent: the last one withdrawn erases it.
    if found.purposes.contains(" id_card ") && !stands(&txn, user.id, "id_card").await? {
        let erased = identity_number::Entity::delete_by_id(user.id)
            .exec(&txn)
            .await?;
        if erased.rows_affected > 0 {
            let details = json!({ "reason": "consent_withdrawn" });
            let event = Event::by(user.id, "user.id_number_erased", "user", user.id, details);
            txn.record(&meta, event).await?;
        }
    }
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "consent.withdrawn",
            "user",
            user.id,
            json!({ "consent": found.id }),
        ),
    )
    .await?;
    // Photos are not legally required: without a standing photo consent they go now.
    if found.purposes.contains(" photo ") {
        let still = standing(user.id, "photo").all(&state.db).await?;
        let covered: Vec<Option<Uuid>> = still.iter().map(|c| c.exam_id).collect();
        super::photos::delete_uncovered(&state, user.id, &covered).await?;
    }
    Ok(web::Json(response(&updated)))
}

/// The user's consents for `purpose` that count: not withdrawn, and if a guardian gave one,
/// verified by a school admin.
fn standing(user: Uuid, purpose: &str) -> sea_orm::Select<consent::Entity> {
    use sea_orm::Condition;
    consent::Entity::find()
        .filter(consent::Column::UserId.eq(user))
        .filter(consent::Column::WithdrawnAt.is_null())
        .filter(consent::Column::Purposes.contains(format!(" {purpose} ")))
        .filter(
            Condition::any()
                .add(consent::Column::GuardianName.is_null())
                .add(consent::Column::GuardianVerifiedAt.is_not_null()),
        )
}

/// How a school admin verified that a guardian gave a consent.
const VERIFICATIONS: [&str; 3] = ["in_person", "signed_form", "phone_call"];

#[derive(Deserialize, ToSchema)]
pub struct GuardianVerification {
    /// `in_person` (the guardian came to the school), `signed_form` (a signed paper form is on
    /// file) or `phone_call` (the school called the guardian on the number it holds).
    pub method: String,
}

/// Verifies that the guardian named on a student's consent gave it (the student's school
/// admins). Until then a guardian's consent does not count: no ID number is stored, no card is
/// read, no photo is taken under it. Who verified, how and when are recorded and audited.
#[utoipa::path(tag = "identity", security(("bearer" = [])),
    params(("user_id" = Uuid, Path), ("consent_id" = Uuid, Path)), request_body = GuardianVerification, responses(
    (status = 200, body = ConsentResponse), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/users/{user_id}/consents/{consent_id}/verify-guardian")]
async fn verify_guardian(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: CurrentUser,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<GuardianVerification>,
) -> Result<web::Json<ConsentResponse>, ApiError> {
    let (user_id, consent_id) = path.into_inner();
    let target = super::user_in_reach(&state, &caller, user_id).await?;
    if !VERIFICATIONS.contains(&body.method.as_str()) {
        return Err(ApiError::field("method", "invalid"));
    }
    let found = consent::Entity::find_by_id(consent_id)
        .one(&state.db)
        .await?
        .filter(|c| c.user_id == target.id)
        .ok_or(ApiError::NotFound("consent_not_found"))?;
    if found.guardian_name.is_none() {
        return Err(ApiError::Conflict("consent_not_by_guardian"));
    }
    if found.withdrawn_at.is_some() {
        return Err(ApiError::Conflict("consent_withdrawn"));
    }
    let now = Utc::now();
    let txn = audit::Change::begin(&state.db).await?;
    let mut active: consent::ActiveModel = found.clone().into();
    active.guardian_verified_by = sea_orm::Set(Some(caller.id));
    active.guardian_verified_at = sea_orm::Set(Some(now));
    active.guardian_verification = sea_orm::Set(Some(body.method.clone()));
    let updated = active.update(&txn).await?;
    let details = json!({ "consent": found.id, "method": body.method });
    let event = Event::by(
        caller.id,
        "consent.guardian_verified",
        "user",
        target.id,
        details,
    );
    txn.commit(&meta, event).await?;
    Ok(web::Json(response(&updated)))
}

/// Whether the user has any standing consent for `purpose`, for one exam or for all.
pub async fn stands(
    db: &impl sea_orm::ConnectionTrait,
    user: Uuid,
    purpose: &str,
) -> Result<bool, ApiError> {
    Ok(standing(user, purpose).one(db).await?.is_some())
}

/// Whether the user has a standing consent for `purpose` covering `exam`.
pub async fn has_consent(
    state: &AppState,
    user: Uuid,
    exam: Uuid,
    purpose: &str,
) -> Result<bool, ApiError> {
    let list = standing(user, purpose).all(&state.db).await?;
    Ok(list.iter().any(|c| c.exam_id.is_none_or(|e| e == exam)))
}

/// Everything held about the caller: profile, ID number, consents, exams and results, and the
/// audit entries about them. The ID number is masked but for its last four digits unless the
/// session stepped up in the last five minutes (`POST /me/step-up`); reading it plain is audited.
#[utoipa::path(tag = "identity", security(("bearer" = [])), responses(
    (status = 200, description = "the caller's personal data (JSON)")))]
#[get("/me/personal-data")]
async fn export(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
) -> Result<HttpResponse, ApiError> {
    let me = user.account(&state.db).await?;
    let plain = crate::auth::step_up::is_fresh(state.hot.as_ref(), user.session).await?;
    let id_number = match identity_number::Entity::find_by_id(me.id)
        .one(&state.db)
        .await?
    {
        Some(row) => Some(
            String::from_utf8(
                state
                    .vault
                    .open(&row.number_sealed, &super::number_row(row.user_id))
                    .map_err(super::unreadable)?,
            )
            .map_err(|e| ApiError::Unexpected(e.into()))?,
        ),
        None => None,
    };
    let id_number = id_number.map(|n| if plain { n } else { masked(&n) });
    let consents = consent::Entity::find()
        .filter(consent::Column::UserId.eq(me.id))
        .all(&state.db)
        .await?;
    let candidacies = candidate::Entity::find()
        .filter(candidate::Column::UserId.eq(me.id))
        .all(&state.db)
        .await?;
    let attempts = attempt::Entity::find()
        .filter(attempt::Column::UserId.eq(me.id))
        .all(&state.db)
        .await?;
    let about_me = audit_event::Entity::find()
        .filter(audit_event::Column::TargetId.eq(me.id.to_string()))
        .order_by_asc(audit_event::Column::Id)
        .all(&state.db)
        .await?;
    let body = json!({
        "exported_at": Utc::now(),
        "profile": { "id": me.id, "login": me.login, "full_name": me.full_name, "email": me.email,
            "birth_date": me.birth_date, "school_id": me.school_id, "class_id": me.class_id,
            "roles": crate::auth::roles::from_db(&me.roles), "created_at": me.created_at },
        "id_number": id_number,
        "id_number_masked": !plain,
        "consents": consents.iter().map(response).collect::<Vec<_>>(),
        "candidacies": candidacies.iter().map(|c| json!({ "exam_id": c.exam_id, "sitting_id": c.sitting_id,
            "number": c.number, "room_id": c.room_id, "checked_in_at": c.checked_in_at, "extra_minutes": c.extra_minutes })).collect::<Vec<_>>(),
        "attempts": attempts.iter().map(|a| json!({ "id": a.id, "sitting_id": a.sitting_id, "code": a.code,
            "state": a.state, "started_at": a.started_at, "submitted_at": a.submitted_at,
            "incidents": serde_json::from_str::<serde_json::Value>(&a.incidents).unwrap_or_default() })).collect::<Vec<_>>(),
        "audit": about_me.iter().map(|e| json!({ "at": e.at, "action": e.action, "actor_id": e.actor_id })).collect::<Vec<_>>(),
    });
    if plain && id_number.is_some() {
        let txn = audit::Change::begin(&state.db).await?;
        txn.commit(
            &meta,
            Event::by(
                user.id,
                "user.id_number_read",
                "user",
                me.id,
                json!({ "via": "personal_data_export" }),
            ),
        )
        .await?;
    }
    Ok(HttpResponse::Ok()
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"du-lieu-ca-nhan.json\"",
        ))
        .json(body))
}

/// All but the last four characters hidden: enough for a person to recognise their own number.
fn masked(number: &str) -> String {
    let shown = number.chars().count().saturating_sub(4);
    number
        .chars()
        .enumerate()
        .map(|(i, c)| if i < shown { '•' } else { c })
        .collect()
}
