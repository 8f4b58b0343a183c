use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::{auth::CurrentUser, entities::notice, error::ApiError, i18n, state::AppState};

/// The newest notices a list shows.
const LIST_LIMIT: u64 = 100;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_my_notices).service(mark_notice_read);
}

#[derive(Serialize, ToSchema)]
pub struct NoticeView {
    pub id: Uuid,
    /// Stable kind, e.g. `passkey_registered`.
    pub kind: String,
    /// The account the notice is about (the reader's own, or a student of their school).
    pub about: Uuid,
    /// What to tell a person, in the request's language.
    pub message: &'static str,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

impl From<notice::Model> for NoticeView {
    fn from(row: notice::Model) -> Self {
        NoticeView {
            message: i18n::message(&format!("notice.{}", row.kind)),
            details: serde_json::from_str(&row.details).unwrap_or_default(),
            id: row.id,
            kind: row.kind,
            about: row.about,
            created_at: row.created_at,
            read_at: row.read_at,
        }
    }
}

/// The caller's notices, newest first (at most 100).
#[utoipa::path(tag = "notices", security(("bearer" = [])), responses(
    (status = 200, body = [NoticeView])))]
#[get("/me/notices")]
async fn list_my_notices(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<web::Json<Vec<NoticeView>>, ApiError> {
    let rows = notice::Entity::find()
        .filter(notice::Column::UserId.eq(user.id))
        .order_by_desc(notice::Column::CreatedAt)
        .limit(LIST_LIMIT)
        .all(&state.db)
        .await?;
    Ok(web::Json(rows.into_iter().map(NoticeView::from).collect()))
}

/// Marks one of the caller's notices read.
#[utoipa::path(tag = "notices", security(("bearer" = [])), params(("notice_id" = Uuid, Path)), responses(
    (status = 204)))]
#[post("/me/notices/{notice_id}/read")]
async fn mark_notice_read(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let done = notice::Entity::update_many()
        .col_expr(notice::Column::ReadAt, Expr::value(Utc::now()))
        .filter(notice::Column::Id.eq(id))
        .filter(notice::Column::UserId.eq(user.id))
        .filter(notice::Column::ReadAt.is_null())
        .exec(&state.db)
        .await?;
    // Already read is fine; someone else's is not found.
    if done.rows_affected == 0
        && notice::Entity::find_by_id(id)
            .filter(notice::Column::UserId.eq(user.id))
            .one(&state.db)
            .await?
            .is_none()
    {
        return Err(ApiError::NotFound("notice_not_found"));
    }
    Ok(HttpResponse::NoContent().finish())
}
