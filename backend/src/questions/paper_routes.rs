use std::collections::HashSet;

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, ExprTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{
    db::{self, ItemFilter, StoredBody},
    domain::RenderedBody,
    paper_code::{PaperCodeResponse, render_code},
    papers::{self, Candidate, CellReport, CodeKey, Guidance, Matrix, PaperOptions},
    print,
    routes::{AUTHORS, viewer},
};
use crate::exam_format::{Subject, format_of};
use crate::{
    audit::{self, Event},
    auth::CurrentUser,
    entities::{item, paper, paper_code},
    error::{ApiError, Problem},
    request::RequestMeta,
    state::AppState,
};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(check_matrix)
        .service(create_paper)
        .service(get_paper)
        .service(get_paper_code)
        .service(paper_code_media)
        .service(print_paper_code)
        .service(print_paper_keys);
}

/// Approved items visible to the caller, per cell of the matrix, in matrix order.
async fn candidates(
    state: &AppState,
    user: &CurrentUser,
    matrix: &Matrix,
) -> Result<Vec<Vec<Candidate>>, ApiError> {
    let mut pools = Vec::new();
    for row in &matrix.rows {
        for cell in &row.cells {
            let filter = ItemFilter {
                subject: Some(matrix.subject.code().to_owned()),
                kind: Some(cell.kind),
                level: Some(cell.level),
                topic: Some(row.topic.clone()),
                approved_only: true,
                limit: 100_000,
                ..Default::default()
            };
            let rows = db::search(&state.db, &viewer(user), &filter).await?;
            let pool = rows
                .into_iter()
                .map(|(v, item)| {
                    let stored: StoredBody = serde_json::from_str(&v.body)
                        .map_err(|e| ApiError::Unexpected(e.into()))?;
                    Ok(Candidate {
                        item_id: v.item_id,
                        version: v.version,
                        body: stored.body,
                        group: item.group_id,
                        position: item.group_position,
                    })
                })
                .collect::<Result<Vec<_>, ApiError>>()?;
            pools.push(pool);
        }
    }
    Ok(pools)
}

fn checked(matrix: &Matrix) -> Result<(), ApiError> {
    matrix.check_shape().map_err(|problem| {
        tracing::info!(%problem, "matrix does not fit its format");
        ApiError::field("matrix", "matrix_shape")
    })
}

#[derive(Deserialize, ToSchema)]
pub struct MatrixRequest {
    pub matrix: Matrix,
}

#[derive(Serialize, ToSchema)]
pub struct MatrixCheck {
    /// True when every cell has enough approved items.
    pub satisfied: bool,
    /// Every cell with how many approved items could fill it.
    pub cells: Vec<CellReport>,
    pub guidance: Guidance,
}

/// Checks a matrix against the bank: every cell with the approved items available to the caller.
#[utoipa::path(tag = "papers", security(("bearer" = [])), request_body = MatrixRequest, responses(
    (status = 200, body = MatrixCheck), (status = 422, body = Problem)))]
#[post("/matrices/check")]
async fn check_matrix(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: web::Json<MatrixRequest>,
) -> Result<web::Json<MatrixCheck>, ApiError> {
    user.require(AUTHORS, user.home())?;
    let matrix = &body.matrix;
    checked(matrix)?;
    let pools = candidates(&state, &user, matrix).await?;
    let cells: Vec<CellReport> = matrix
        .rows
        .iter()
        .flat_map(|r| r.cells.iter().map(move |c| (r, c)))
        .zip(&pools)
        .map(|((row, cell), pool)| CellReport {
            topic: row.topic.clone(),
            kind: cell.kind,
            level: cell.level,
            required: cell.count,
            available: pool.len(),
        })
        .collect();
    Ok(web::Json(MatrixCheck {
        satisfied: cells.iter().all(|c| c.available >= c.required as usize),
        cells,
        guidance: matrix.guidance(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct CreatePaperRequest {
    pub matrix: Matrix,
    /// Reuse a seed to rebuild the same paper; one is chosen when left out.
    pub seed: Option<i64>,
    #[serde(flatten)]
    pub options: PaperOptions,
    /// Prefer items not used by this school's last five papers of the subject (default true).
    pub avoid_recent: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct PaperResponse {
    pub id: Uuid,
    pub name: String,
    pub subject: Subject,
    pub minutes: u16,
    pub seed: i64,
    pub codes: Vec<String>,
    pub items: Vec<FrozenItem>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct FrozenItem {
    pub item_id: Uuid,
    pub version: i32,
}

/// The 422 of `POST /papers`: a problem (any field error has `errors`), and when the bank cannot
/// fill the matrix (`matrix_not_satisfied`), the cells that fall short.
#[derive(Serialize, ToSchema)]
pub struct UnsatisfiedMatrix {
    pub code: &'static str,
    pub cells: Option<Vec<CellReport>>,
}

async fn recently_used(
    state: &AppState,
    user: &CurrentUser,
    subject: Subject,
) -> Result<HashSet<Uuid>, ApiError> {
    let mut select = paper::Entity::find().filter(paper::Column::Subject.eq(subject.code()));
    select = match user.school {
        Some(school) => select.filter(paper::Column::SchoolId.eq(school)),
        None => select.filter(paper::Column::CreatedBy.eq(user.id)),
    };
    let recent = select
        .order_by_desc(paper::Column::CreatedAt)
        .limit(5)
        .all(&state.db)
        .await?;
    let mut used = HashSet::new();
    for p in recent {
        let items: Vec<FrozenItem> =
            serde_json::from_str(&p.items).map_err(|e| ApiError::Unexpected(e.into()))?;
        used.extend(items.into_iter().map(|i| i.item_id));
    }
    Ok(used)
}

/// Draws a paper from a matrix and makes its codes (mã đề). The paper is frozen: exact item
/// versions, each code's order and permutations, and one answer key per code.
#[utoipa::path(tag = "papers", security(("bearer" = [])), request_body = CreatePaperRequest, responses(
    (status = 201, body = PaperResponse),
    (status = 422, description = "a matrix that does not fit, or cells the bank cannot fill", body = UnsatisfiedMatrix, content_type = "application/problem+json")))]
#[post("/papers")]
async fn create_paper(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    body: web::Json<CreatePaperRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(AUTHORS, user.home())?;
    let request = body.into_inner();
    checked(&request.matrix)?;
    if !(1..=99).contains(&request.options.codes) {
        return Err(ApiError::field("codes", "invalid_code_count"));
    }
    if let Some(prefix) = &request.options.code_prefix
        && (prefix.len() != 2 || !prefix.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(ApiError::field("code_prefix", "invalid_code"));
    }
    let seed = request
        .seed
        .unwrap_or_else(|| (rand::random::<u64>() >> 12) as i64);
    let recent = if request.avoid_recent.unwrap_or(true) {
        recently_used(&state, &user, request.matrix.subject).await?
    } else {
        HashSet::new()
    };
    let pools = candidates(&state, &user, &request.matrix).await?;
    let items = match papers::draw(&request.matrix, &pools, &recent, seed) {
        Ok(items) => items,
        Err(cells) => {
            let cells = serde_json::json!({ "cells": cells });
            return Ok(crate::error::rejected_with("matrix_not_satisfied", cells));
        }
    };
    let codes = papers::make_codes(request.matrix.subject, &items, seed, &request.options);
    let frozen: Vec<FrozenItem> = items
        .iter()
        .map(|c| FrozenItem {
            item_id: c.item_id,
            version: c.version,
        })
        .collect();
    let id = Uuid::now_v7();
    let now = Utc::now();
    let txn = audit::Change::begin(&state.db).await?;
    paper::Entity::insert(paper::ActiveModel {
        id: Set(id),
        name: Set(request.matrix.name.clone()),
        subject: Set(request.matrix.subject.code().to_owned()),
        seed: Set(seed),
        matrix: Set(json(&request.matrix)?),
        items: Set(json(&frozen)?),
        created_by: Set(user.id),
        school_id: Set(user.school),
        created_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await?;
    for code in &codes {
        paper_code::Entity::insert(paper_code::ActiveModel {
            paper_id: Set(id),
            code: Set(code.code.clone()),
            layout: Set(json(&code.slots)?),
            answer_key: Set(json(&code.key)?),
        })
        .exec_without_returning(&txn)
        .await?;
    }
    item::Entity::update_many()
        .col_expr(
            item::Column::TimesUsed,
            Expr::col(item::Column::TimesUsed).add(1),
        )
        .filter(item::Column::Id.is_in(frozen.iter().map(|f| f.item_id)))
        .exec(&txn)
        .await?;
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "paper.created",
            "paper",
            id,
            serde_json::json!({ "seed": seed, "codes": codes.len() }),
        ),
    )
    .await?;
    Ok(HttpResponse::Created().json(PaperResponse {
        id,
        name: request.matrix.name,
        subject: request.matrix.subject,
        minutes: format_of(request.matrix.subject).minutes,
        seed,
        codes: codes.into_iter().map(|c| c.code).collect(),
        items: frozen,
        created_by: user.id,
        created_at: now,
    }))
}

fn json<T: Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(|e| ApiError::Unexpected(e.into()))
}

pub(crate) async fn paper_in_reach(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
) -> Result<paper::Model, ApiError> {
    user.require(AUTHORS, user.home())?;
    let paper = paper::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("paper_not_found"))?;
    if !db::may_read_paper(&state.db, &super::routes::paper_reader(user), &paper).await? {
        return Err(ApiError::NotFound("paper_not_found"));
    }
    Ok(paper)
}

/// A paper's summary: its seed, codes and frozen item versions.
#[utoipa::path(tag = "papers", security(("bearer" = [])), params(("paper_id" = Uuid, Path)), responses(
    (status = 200, body = PaperResponse)))]
#[get("/papers/{paper_id}")]
async fn get_paper(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<PaperResponse>, ApiError> {
    let paper = paper_in_reach(&state, &user, path.into_inner()).await?;
    let subject = Subject::parse(&paper.subject)
        .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("stored subject")))?;
    let codes: Vec<String> = paper_code::Entity::find()
        .select_only()
        .column(paper_code::Column::Code)
        .filter(paper_code::Column::PaperId.eq(paper.id))
        .order_by_asc(paper_code::Column::Code)
        .into_tuple()
        .all(&state.db)
        .await?;
    Ok(web::Json(PaperResponse {
        id: paper.id,
        name: paper.name,
        subject,
        minutes: format_of(subject).minutes,
        seed: paper.seed,
        codes,
        items: serde_json::from_str(&paper.items).map_err(|e| ApiError::Unexpected(e.into()))?,
        created_by: paper.created_by,
        created_at: paper.created_at,
    }))
}

/// One code as printed, with its answer key (the paper's author, its school's admins and the
/// organisers of an exam that uses it).
#[utoipa::path(tag = "papers", security(("bearer" = [])), params(("paper_id" = Uuid, Path), ("code" = String, Path)), responses(
    (status = 200, body = PaperCodeResponse)))]
#[get("/papers/{paper_id}/codes/{code}")]
async fn get_paper_code(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(Uuid, String)>,
) -> Result<web::Json<PaperCodeResponse>, ApiError> {
    let (paper_id, code) = path.into_inner();
    let mut response = load_code(&state, &user, paper_id, code).await?.1;
    let src = |name: &str| {
        format!(
            "/api/v1/papers/{paper_id}/codes/{}/media/{name}",
            response.code
        )
    };
    let rendered: Vec<RenderedBody> = response
        .questions
        .iter()
        .map(|q| RenderedBody::of_content(&q.content, &src))
        .collect();
    for (question, html) in response.questions.iter_mut().zip(rendered) {
        question.rendered = Some(html);
    }
    Ok(web::Json(response))
}

/// A figure of a paper code, to whoever may read the code: only one its questions or stimuli show.
#[utoipa::path(tag = "papers", security(("bearer" = [])), params(("paper_id" = Uuid, Path), ("code" = String, Path), ("name" = String, Path)), responses(
    (status = 200, description = "the image", content_type = "image/png")))]
#[get("/papers/{paper_id}/codes/{code}/media/{name}")]
async fn paper_code_media(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(Uuid, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (paper_id, code, name) = path.into_inner();
    let response = load_code(&state, &user, paper_id, code).await?.1;
    let text = serde_json::to_string(&(&response.questions, &response.groups))
        .map_err(|e| ApiError::Unexpected(e.into()))?;
    if !super::media::shows(&text, &name) {
        return Err(ApiError::NotFound("media_not_found"));
    }
    super::media::serve(&state, &name).await
}

async fn load_code(
    state: &AppState,
    user: &CurrentUser,
    paper_id: Uuid,
    code: String,
) -> Result<(paper::Model, PaperCodeResponse), ApiError> {
    let paper = paper_in_reach(state, user, paper_id).await?;
    let response = render_code(&state.db, &paper, code).await?;
    Ok((paper, response))
}

#[derive(Deserialize, IntoParams)]
pub struct PrintQuery {
    /// The title printed in the header (an exam's name); the paper's name when absent.
    pub title: Option<String>,
}

const WORD: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

/// The header of a printed paper: the caller's school (or the Sở for province staff) and the
/// title asked for, else the paper's name.
async fn print_header(
    state: &AppState,
    user: &CurrentUser,
    paper: &paper::Model,
    query: &PrintQuery,
) -> Result<(String, String), ApiError> {
    let organisation = match user.school {
        Some(id) => crate::entities::school::Entity::find_by_id(id)
            .one(&state.db)
            .await?
            .map(|s| s.name)
            .unwrap_or_default(),
        None => "Sở Giáo dục và Đào tạo".to_owned(),
    };
    let title = match query.title.as_deref().map(crate::text::clean_name) {
        Some(t) if t.chars().count() > 200 => {
            return Err(ApiError::field("title", "too_long"));
        }
        Some(t) if !t.is_empty() => t,
        _ => paper.name.clone(),
    };
    Ok((organisation, title))
}

/// The images a code's questions and stimuli show, read from the blob store once each.
async fn pictures_of(
    state: &AppState,
    response: &PaperCodeResponse,
) -> Result<Vec<print::Picture>, ApiError> {
    let text = serde_json::to_string(&(&response.questions, &response.groups))
        .map_err(|e| ApiError::Unexpected(e.into()))?;
    let mut pictures = Vec::new();
    for piece in text.split("(blob:").skip(1) {
        let Some(key) = piece.split(')').next() else {
            continue;
        };
        if pictures.iter().any(|p: &print::Picture| p.key == key) {
            continue;
        }
        let extension = match key.rsplit('.').next() {
            Some("png") => "png",
            Some("jpg") => "jpg",
            Some("gif") => "gif",
            _ => continue,
        };
        if let Some(bytes) = state.blobs.get(key).await? {
            pictures.push(print::Picture {
                key: key.to_owned(),
                bytes: bytes.to_vec(),
                extension,
            });
        }
    }
    Ok(pictures)
}

/// The same code as a printable Word file for the candidates: no answer key in it (the keys
/// are `GET /papers/{paper_id}/keys/docx`).
#[utoipa::path(tag = "papers", security(("bearer" = [])), params(("paper_id" = Uuid, Path), ("code" = String, Path), PrintQuery), responses(
    (status = 200, description = "the .docx", content_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document")))]
#[get("/papers/{paper_id}/codes/{code}/docx")]
async fn print_paper_code(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(Uuid, String)>,
    query: web::Query<PrintQuery>,
) -> Result<HttpResponse, ApiError> {
    let (paper_id, code) = path.into_inner();
    let (paper, response) = load_code(&state, &user, paper_id, code).await?;
    let (organisation, title) = print_header(&state, &user, &paper, &query).await?;
    let pictures = pictures_of(&state, &response).await?;
    let header = print::Header {
        organisation: &organisation,
        title: &title,
    };
    let file = print::docx(&header, &response, &pictures)?;
    Ok(HttpResponse::Ok()
        .content_type(WORD)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"de-{}.docx\"", response.code),
        ))
        .body(file))
}

/// Every code's answer key in one Word file, as schools hand it to the markers.
#[utoipa::path(tag = "papers", security(("bearer" = [])), params(("paper_id" = Uuid, Path), PrintQuery), responses(
    (status = 200, description = "the .docx", content_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document")))]
#[get("/papers/{paper_id}/keys/docx")]
async fn print_paper_keys(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    query: web::Query<PrintQuery>,
) -> Result<HttpResponse, ApiError> {
    let paper = paper_in_reach(&state, &user, path.into_inner()).await?;
    let (organisation, title) = print_header(&state, &user, &paper, &query).await?;
    let keys = paper_code::Entity::find()
        .filter(paper_code::Column::PaperId.eq(paper.id))
        .order_by_asc(paper_code::Column::Code)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|row| serde_json::from_str::<CodeKey>(&row.answer_key))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::Unexpected(e.into()))?;
    let header = print::Header {
        organisation: &organisation,
        title: &title,
    };
    let file = print::keys_docx(&header, &keys)?;
    Ok(HttpResponse::Ok()
        .content_type(WORD)
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"dap-an.docx\"".to_owned(),
        ))
        .body(file))
}
