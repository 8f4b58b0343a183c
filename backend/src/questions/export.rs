//! `POST /items/export`: any selection of visible items as one file.
use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    db::{self, ItemFilter, StoredBody},
    routes::{AUTHORS, viewer},
};
use crate::{
    auth::CurrentUser,
    error::{ApiError, Problem},
    state::AppState,
};

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    MoodleXml,
    /// A QTI 3.0 content package (zip).
    QtiPackage,
}

#[derive(Deserialize, ToSchema)]
pub struct ExportRequest {
    pub format: ExportFormat,
    /// At most 5,000 items; items the caller may not see are left out.
    pub item_ids: Vec<Uuid>,
}

/// Exports items the caller can see (their own newest versions, others' approved ones).
#[utoipa::path(tag = "questions", security(("bearer" = [])), request_body = ExportRequest, responses(
    (status = 200, description = "the file", content_type = "application/xml"), (status = 422, body = Problem)))]
#[post("/items/export")]
pub async fn export_items(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: web::Json<ExportRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(AUTHORS, user.home())?;
    if body.item_ids.is_empty() || body.item_ids.len() > 5000 {
        return Err(ApiError::field("item_ids", "required"));
    }
    let filter = ItemFilter {
        ids: Some(body.item_ids.clone()),
        limit: 5000,
        ..Default::default()
    };
    let rows = db::search(&state.db, &viewer(&user), &filter).await?;
    let mut items = Vec::with_capacity(rows.len());
    for (version, _) in &rows {
        let stored: StoredBody =
            serde_json::from_str(&version.body).map_err(|e| ApiError::Unexpected(e.into()))?;
        items.push((version.item_id.to_string(), stored.body, stored.metadata));
    }
    let (file, content_type, name) = match body.format {
        ExportFormat::MoodleXml => (
            super::moodle::export(&items).into_bytes(),
            "application/xml; charset=utf-8",
            "hocthi-items.xml",
        ),
        ExportFormat::QtiPackage => (
            {
                let mut figures = Vec::new();
                for name in super::qti::figures_of(items.iter().map(|(_, body, _)| body)) {
                    let key = format!("{}{name}", super::domain::FIGURES);
                    if let Some(bytes) = state.blobs.get(&key).await? {
                        figures.push((name, bytes));
                    }
                }
                super::qti::package(&items, &figures)?
            },
            "application/zip",
            "hocthi-items-qti.zip",
        ),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .body(file))
}
