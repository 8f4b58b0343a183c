//! After the sitting: the graded rows every report reads, the results table, the Excel export
//! schools hand in, the release to students, and item statistics for the bank.
use std::collections::HashMap;

use actix_web::{HttpResponse, get, post, web};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::graded::{GroupFilter, graded_rows};
use super::statistics::compute_statistics;
use super::{
    domain::AttemptState,
    grading::Score,
    setup::{find_exam, organised_sitting},
    staff::require_organiser,
};
use crate::exam_format::Points;
use crate::{
    audit::{self, Event},
    auth::{CurrentUser, roles::Role},
    entities::{class, exam, item_statistic, school, sitting},
    error::ApiError,
    request::RequestMeta,
    state::AppState,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(results)
        .service(results_xlsx)
        .service(release)
        .service(item_statistics);
}

#[derive(Serialize, ToSchema)]
pub struct ResultRow {
    pub attempt_id: Uuid,
    pub number: String,
    pub full_name: String,
    pub code: String,
    pub state: AttemptState,
    pub score: Score,
}

/// Every graded candidate of the sitting (school staff see their own school's).
#[utoipa::path(tag = "results", security(("bearer" = [])), params(("sitting_id" = Uuid, Path), GroupFilter), responses(
    (status = 200, body = Vec<ResultRow>)))]
#[get("/sittings/{sitting_id}/results")]
async fn results(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    filter: web::Query<GroupFilter>,
) -> Result<web::Json<Vec<ResultRow>>, ApiError> {
    let (_, sitting) = organised_sitting(&state, &user, path.into_inner()).await?;
    let rows = graded_rows(&state, &user, &sitting, &filter).await?;
    let table = rows
        .into_iter()
        .map(|r| {
            Ok(ResultRow {
                attempt_id: r.attempt.id,
                number: r.number,
                full_name: r.full_name,
                code: r.attempt.code.clone(),
                state: AttemptState::parse(&r.attempt.state)?,
                score: r.score,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(web::Json(table))
}

fn xlsx_error(e: rust_xlsxwriter::XlsxError) -> ApiError {
    ApiError::Unexpected(anyhow::anyhow!("building the results workbook: {e}"))
}

/// The results sheet in the form schools hand in: STT, SBD, name, date of birth, class,
/// school, code, the parts, and the total with two decimals.
#[utoipa::path(tag = "results", security(("bearer" = [])), params(("sitting_id" = Uuid, Path), GroupFilter), responses(
    (status = 200, description = "the .xlsx", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
#[get("/sittings/{sitting_id}/results.xlsx")]
async fn results_xlsx(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    filter: web::Query<GroupFilter>,
) -> Result<HttpResponse, ApiError> {
    use rust_xlsxwriter::{Format, Workbook};
    let (exam, sitting) = organised_sitting(&state, &user, path.into_inner()).await?;
    let rows = graded_rows(&state, &user, &sitting, &filter).await?;
    let schools: HashMap<Uuid, String> = school::Entity::find()
        .all(&state.db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let classes: HashMap<Uuid, String> = class::Entity::find()
        .filter(class::Column::Id.is_in(rows.iter().filter_map(|r| r.class_id)))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Kết quả").map_err(xlsx_error)?;
    let bold = Format::new().set_bold();
    let score_format = Format::new().set_num_format("0.00");
    sheet
        .write_string_with_format(0, 0, "SỞ GIÁO DỤC VÀ ĐÀO TẠO", &bold)
        .map_err(xlsx_error)?;
    sheet
        .write_string_with_format(
            1,
            0,
            format!("BẢNG ĐIỂM: {} – {}", exam.name, sitting.name),
            &bold,
        )
        .map_err(xlsx_error)?;
    let header = [
        "STT",
        "Số báo danh",
        "Họ và tên",
        "Ngày sinh",
        "Lớp",
        "Trường",
        "Mã đề",
        "Phần I",
        "Phần II",
        "Phần III",
        "Tự luận",
        "Tổng điểm",
        "Ghi chú",
    ];
    for (c, h) in header.iter().enumerate() {
        sheet
            .write_string_with_format(3, c as u16, *h, &bold)
            .map_err(xlsx_error)?;
    }
    let number = |p: Points| f64::from(p.as_hundredths()) / 100.0;
    for (i, r) in rows.iter().enumerate() {
        let row = 4 + i as u32;
        let text = [
            (1, r.number.clone()),
            (2, r.full_name.clone()),
            (
                3,
                r.birth_date
                    .map(|d| d.format("%d/%m/%Y").to_string())
                    .unwrap_or_default(),
            ),
            (
                4,
                r.class_id
                    .and_then(|c| classes.get(&c).cloned())
                    .unwrap_or_default(),
            ),
            (
                5,
                r.school_id
                    .and_then(|s| schools.get(&s).cloned())
                    .unwrap_or_default(),
            ),
            (6, r.attempt.code.clone()),
        ];
        sheet
            .write_number(row, 0, (i + 1) as f64)
            .map_err(xlsx_error)?;
        for (c, t) in text {
            sheet.write_string(row, c, t).map_err(xlsx_error)?;
        }
        for (c, p) in [
            (7, Some(r.score.part1)),
            (8, Some(r.score.part2)),
            (9, Some(r.score.part3)),
            (10, r.score.essay),
            (11, r.score.total),
        ] {
            if let Some(p) = p {
                sheet
                    .write_number_with_format(row, c, number(p), &score_format)
                    .map_err(xlsx_error)?;
            }
        }
        let note = match (
            AttemptState::parse(&r.attempt.state)?,
            r.score.essays_pending,
        ) {
            (_, n) if n > 0 => "Chưa chấm xong tự luận",
            (AttemptState::AutoSubmitted, _) => "Hệ thống tự nộp khi hết giờ",
            _ => "",
        };
        sheet.write_string(row, 12, note).map_err(xlsx_error)?;
    }
    let file = book.save_to_buffer().map_err(xlsx_error)?;
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"ket-qua-{}.xlsx\"", sitting.id),
        ))
        .body(file))
}

#[derive(Serialize, ToSchema)]
pub struct ReleaseReport {
    pub sittings: usize,
    /// Item statistics written back to the question bank.
    pub items_updated: usize,
}

/// Releases the exam's results to candidates and writes each item's statistics back to the
/// question bank.
#[utoipa::path(tag = "results", security(("bearer" = [])), params(("exam_id" = Uuid, Path)), responses(
    (status = 200, body = ReleaseReport)))]
#[post("/exams/{exam_id}/release")]
async fn release(
    state: web::Data<AppState>,
    meta: RequestMeta,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<ReleaseReport>, ApiError> {
    user.require(&[Role::SchoolAdmin, Role::Teacher], user.home())?;
    let exam: exam::Model = find_exam(&state, path.into_inner()).await?;
    require_organiser(&user, &exam)?;
    let sittings = sitting::Entity::find()
        .filter(sitting::Column::ExamId.eq(exam.id))
        .all(&state.db)
        .await?;
    // Item statistics over every candidate, whoever releases.
    let everyone = CurrentUser {
        id: user.id,
        session: user.session,
        roles: vec![Role::ProvinceAdmin],
        school: None,
    };
    let mut figures = Vec::new();
    for s in &sittings {
        let rows = graded_rows(
            &state,
            &everyone,
            s,
            &GroupFilter {
                school_id: None,
                class_id: None,
            },
        )
        .await?;
        let stats = compute_statistics(&state, s, &rows).await?;
        figures.push((s.id, stats.items));
    }
    let now = state.clock.now();
    let txn = audit::Change::begin(&state.db).await?;
    let mut items_updated = 0;
    for (sitting_id, items) in figures {
        item_statistic::Entity::delete_many()
            .filter(item_statistic::Column::SittingId.eq(sitting_id))
            .exec(&txn)
            .await?;
        for i in items {
            item_statistic::Entity::insert(item_statistic::ActiveModel {
                item_id: sea_orm::Set(i.item_id),
                version: sea_orm::Set(i.version),
                sitting_id: sea_orm::Set(sitting_id),
                responses: sea_orm::Set(i.figures.responses as i32),
                facility: sea_orm::Set(i.figures.facility),
                discrimination: sea_orm::Set(i.figures.discrimination),
                point_biserial: sea_orm::Set(i.figures.point_biserial),
                options: sea_orm::Set(serde_json::to_string(&i.options).expect("plain data")),
                updated_at: sea_orm::Set(now),
            })
            .exec_without_returning(&txn)
            .await?;
            items_updated += 1;
        }
    }
    exam::Entity::update_many()
        .col_expr(exam::Column::ResultsReleased, Expr::value(true))
        .filter(exam::Column::Id.eq(exam.id))
        .exec(&txn)
        .await?;
    txn.commit(
        &meta,
        Event::by(
            user.id,
            "exam.results_released",
            "exam",
            exam.id,
            json!({ "items": items_updated }),
        ),
    )
    .await?;
    Ok(web::Json(ReleaseReport {
        sittings: sittings.len(),
        items_updated,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct ItemStatisticRow {
    pub version: i32,
    pub sitting_id: Uuid,
    pub responses: i32,
    pub facility: f64,
    pub discrimination: f64,
    pub point_biserial: f64,
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// How an item performed in released exams: facility, discrimination, point-biserial, options.
#[utoipa::path(tag = "questions", security(("bearer" = [])), params(("item_id" = Uuid, Path)), responses(
    (status = 200, body = Vec<ItemStatisticRow>)))]
#[get("/items/{item_id}/statistics")]
async fn item_statistics(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> Result<web::Json<Vec<ItemStatisticRow>>, ApiError> {
    // Only someone who may read the item: its answer spread tells its key.
    let item = crate::questions::routes::readable(&state, &user, path.into_inner(), None)
        .await?
        .item;
    Ok(web::Json(
        item_statistic::Entity::find()
            .filter(item_statistic::Column::ItemId.eq(item.id))
            .order_by_desc(item_statistic::Column::UpdatedAt)
            .all(&state.db)
            .await?
            .into_iter()
            .map(|s| ItemStatisticRow {
                version: s.version,
                sitting_id: s.sitting_id,
                responses: s.responses,
                facility: s.facility,
                discrimination: s.discrimination,
                point_biserial: s.point_biserial,
                options: serde_json::from_str(&s.options).unwrap_or_default(),
                updated_at: s.updated_at,
            })
            .collect(),
    ))
}
