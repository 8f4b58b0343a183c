//! The figures of a candidate's own paper, served to the candidate once the attempt has
//! started: only a figure the paper's code shows (`GET /attempts/{id}/media/{name}`).
use actix_web::{HttpResponse, get, web};
use uuid::Uuid;

use super::{domain::AttemptState, hot_clock};
use crate::{
    auth::{CurrentUser, roles::Role},
    error::ApiError,
    questions::media,
    state::AppState,
};

#[utoipa::path(tag = "exams", security(("bearer" = [])), params(("attempt_id" = Uuid, Path), ("name" = String, Path)), responses(
    (status = 200, description = "the image", content_type = "image/png"),
    (status = 409, description = "the attempt has not started", body = crate::error::Problem)))]
#[get("/attempts/{attempt_id}/media/{name}")]
pub async fn paper_media(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Student], user.home())?;
    let (id, name) = path.into_inner();
    let facts = state.exams.facts(id).await?;
    if facts.user_id != user.id {
        return Err(ApiError::NotFound("attempt_not_found"));
    }
    if hot_clock::read(&state.exams, id).await?.state == AttemptState::NotStarted {
        return Err(ApiError::Conflict("attempt_not_started"));
    }
    let paper = state.exams.paper(facts.paper_id, &facts.code).await?;
    let text = std::str::from_utf8(&paper.body).unwrap_or_default();
    if !media::shows(text, &name) {
        return Err(ApiError::NotFound("media_not_found"));
    }
    media::serve(&state, &name).await
}
