//! Usage figures for the Sở: views, downloads and assignments per item, school and subject,
//! day by day; the most used items; the schools that publish and reuse least. As JSON and as
//! an Excel workbook.
use std::collections::{BTreeMap, HashMap};

use actix_web::{HttpResponse, get, web};
use chrono::{NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    auth::{CurrentUser, roles::Role},
    entities::{assignment, content_item, content_usage, school},
    error::{ApiError, Problem},
    state::AppState,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(usage).service(usage_xlsx);
}

/// Counts one view or download of an item today (one upsert; no read first).
pub async fn count(db: &impl ConnectionTrait, item: Uuid, download: bool) -> Result<(), ApiError> {
    let day = Utc::now().date_naive().to_string();
    let column = if download {
        content_usage::Column::Downloads
    } else {
        content_usage::Column::Views
    };
    content_usage::Entity::insert(content_usage::ActiveModel {
        item_id: sea_orm::Set(item),
        day: sea_orm::Set(day),
        views: sea_orm::Set(i64::from(!download)),
        downloads: sea_orm::Set(i64::from(download)),
    })
    .on_conflict(
        OnConflict::columns([content_usage::Column::ItemId, content_usage::Column::Day])
            .value(column, Expr::col((content_usage::Entity, column)).add(1))
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

#[derive(Deserialize, IntoParams)]
pub struct UsageQuery {
    /// First day (inclusive), default 30 days ago.
    pub from: Option<NaiveDate>,
    /// Last day (inclusive), default today.
    pub to: Option<NaiveDate>,
}

#[derive(Clone, Default, Serialize, ToSchema)]
pub struct Counts {
    pub views: i64,
    pub downloads: i64,
    pub assignments: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ItemUsage {
    pub item_id: Uuid,
    pub title: String,
    pub subject: String,
    pub school_id: Option<Uuid>,
    pub counts: Counts,
}

#[derive(Serialize, ToSchema)]
pub struct SchoolUsage {
    pub school_id: Uuid,
    pub name: String,
    /// Items its teachers have in the province repository.
    pub published: i64,
    /// Assignments its teachers made of other schools' items.
    pub reused: i64,
    /// Views and downloads of its items, and assignments made by its teachers.
    pub counts: Counts,
}

#[derive(Serialize, ToSchema)]
pub struct DayUsage {
    pub day: String,
    pub views: i64,
    pub downloads: i64,
}

#[derive(Serialize, ToSchema)]
pub struct Usage {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub totals: Counts,
    /// The 20 most used items (views + downloads + assignments).
    pub top_items: Vec<ItemUsage>,
    pub by_school: Vec<SchoolUsage>,
    pub by_subject: BTreeMap<String, Counts>,
    pub by_day: Vec<DayUsage>,
    /// The ten schools that publish and reuse least, least first.
    pub least_active_schools: Vec<SchoolUsage>,
}

async fn compute(state: &AppState, user: &CurrentUser, q: &UsageQuery) -> Result<Usage, ApiError> {
    user.require(&[Role::SchoolAdmin], user.home())?;
    let to = q.to.unwrap_or_else(|| Utc::now().date_naive());
    let from = q.from.unwrap_or(to - chrono::Duration::days(30));
    if from > to {
        return Err(ApiError::field("from", "after_to"));
    }
    let own_school = (!user.has(Role::ProvinceAdmin))
        .then_some(user.school)
        .flatten();
    let rows = content_usage::Entity::find()
        .filter(content_usage::Column::Day.gte(from.to_string()))
        .filter(content_usage::Column::Day.lte(to.to_string()))
        .all(&state.db)
        .await?;
    let end = (to + chrono::Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    let start = from.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let assignments = assignment::Entity::find()
        .filter(assignment::Column::CreatedAt.gte(start))
        .filter(assignment::Column::CreatedAt.lt(end))
        .all(&state.db)
        .await?;
    let items: HashMap<Uuid, content_item::Model> = content_item::Entity::find()
        .all(&state.db)
        .await?
        .into_iter()
        .filter(|i| own_school.is_none() || i.school_id == own_school)
        .map(|i| (i.id, i))
        .collect();
    let schools: Vec<school::Model> = school::Entity::find()
        .all(&state.db)
        .await?
        .into_iter()
        .filter(|s| own_school.is_none_or(|o| o == s.id))
        .collect();

    let mut per_item: HashMap<Uuid, Counts> = HashMap::new();
    let mut per_day: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for r in rows.iter().filter(|r| items.contains_key(&r.item_id)) {
        let c = per_item.entry(r.item_id).or_default();
        c.views += r.views;
        c.downloads += r.downloads;
        let d = per_day.entry(r.day.clone()).or_default();
        d.0 += r.views;
        d.1 += r.downloads;
    }
    let mut made: HashMap<Uuid, i64> = HashMap::new();
    let mut reused: HashMap<Uuid, i64> = HashMap::new();
    for a in &assignments {
        *made.entry(a.school_id).or_default() += 1;
        if let Some(item) = a.item_id.and_then(|i| items.get(&i)) {
            per_item.entry(item.id).or_default().assignments += 1;
            if item.school_id != Some(a.school_id) {
                *reused.entry(a.school_id).or_default() += 1;
            }
        }
    }
    let mut totals = Counts::default();
    let mut by_subject: BTreeMap<String, Counts> = BTreeMap::new();
    let mut by_school_counts: HashMap<Uuid, Counts> = HashMap::new();
    for (id, c) in &per_item {
        totals.views += c.views;
        totals.downloads += c.downloads;
        totals.assignments += c.assignments;
        let item = &items[id];
        let s = by_subject.entry(item.subject.clone()).or_default();
        s.views += c.views;
        s.downloads += c.downloads;
        s.assignments += c.assignments;
        if let Some(school) = item.school_id {
            let s = by_school_counts.entry(school).or_default();
            s.views += c.views;
            s.downloads += c.downloads;
        }
    }
    let mut by_school: Vec<SchoolUsage> = schools
        .iter()
        .map(|s| {
            let mut counts = by_school_counts.get(&s.id).cloned().unwrap_or_default();
            counts.assignments = made.get(&s.id).copied().unwrap_or(0);
            SchoolUsage {
                school_id: s.id,
                name: s.name.clone(),
                published: items
                    .values()
                    .filter(|i| {
                        i.school_id == Some(s.id)
                            && i.scope == "province"
                            && i.published_version.is_some()
                            && i.review != "taken_down"
                    })
                    .count() as i64,
                reused: reused.get(&s.id).copied().unwrap_or(0),
                counts,
            }
        })
        .collect();
    by_school.sort_by(|a, b| a.name.cmp(&b.name));
    let mut least: Vec<SchoolUsage> = by_school
        .iter()
        .map(|s| SchoolUsage {
            school_id: s.school_id,
            name: s.name.clone(),
            published: s.published,
            reused: s.reused,
            counts: s.counts.clone(),
        })
        .collect();
    least.sort_by_key(|s| (s.published + s.reused, s.counts.assignments));
    least.truncate(10);
    let mut top: Vec<ItemUsage> = per_item
        .iter()
        .map(|(id, c)| ItemUsage {
            item_id: *id,
            title: items[id].title.clone(),
            subject: items[id].subject.clone(),
            school_id: items[id].school_id,
            counts: c.clone(),
        })
        .collect();
    top.sort_by_key(|i| {
        std::cmp::Reverse(i.counts.views + i.counts.downloads + i.counts.assignments)
    });
    top.truncate(20);
    Ok(Usage {
        from,
        to,
        totals,
        top_items: top,
        by_school,
        by_subject,
        by_day: per_day
            .into_iter()
            .map(|(day, (views, downloads))| DayUsage {
                day,
                views,
                downloads,
            })
            .collect(),
        least_active_schools: least,
    })
}

/// Usage of the repository over a period (province admins: the province; school admins:
/// their school).
#[utoipa::path(tag = "content", security(("bearer" = [])), params(UsageQuery), responses(
    (status = 200, body = Usage), (status = 422, body = Problem)))]
#[get("/content/usage")]
async fn usage(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<UsageQuery>,
) -> Result<web::Json<Usage>, ApiError> {
    Ok(web::Json(compute(&state, &user, &query).await?))
}

/// A sheet's name, its header and its rows.
type Sheet = (&'static str, Vec<&'static str>, Vec<Vec<String>>);

fn xlsx_error(e: rust_xlsxwriter::XlsxError) -> ApiError {
    ApiError::Unexpected(anyhow::anyhow!("building the usage workbook: {e}"))
}

/// The same figures as an Excel workbook: one sheet per view.
#[utoipa::path(tag = "content", security(("bearer" = [])), params(UsageQuery), responses(
    (status = 200, description = "the .xlsx", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
#[get("/content/usage.xlsx")]
async fn usage_xlsx(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<UsageQuery>,
) -> Result<HttpResponse, ApiError> {
    use rust_xlsxwriter::{Format, Workbook};
    let u = compute(&state, &user, &query).await?;
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let sheets: [Sheet; 4] = [
        (
            "Học liệu dùng nhiều",
            vec!["Học liệu", "Môn", "Lượt xem", "Lượt tải", "Lượt giao bài"],
            u.top_items
                .iter()
                .map(|i| {
                    vec![
                        i.title.clone(),
                        i.subject.clone(),
                        i.counts.views.to_string(),
                        i.counts.downloads.to_string(),
                        i.counts.assignments.to_string(),
                    ]
                })
                .collect(),
        ),
        (
            "Theo trường",
            vec![
                "Trường",
                "Học liệu đã chia sẻ",
                "Lượt dùng lại",
                "Lượt xem",
                "Lượt tải",
                "Lượt giao bài",
            ],
            u.by_school
                .iter()
                .map(|s| {
                    vec![
                        s.name.clone(),
                        s.published.to_string(),
                        s.reused.to_string(),
                        s.counts.views.to_string(),
                        s.counts.downloads.to_string(),
                        s.counts.assignments.to_string(),
                    ]
                })
                .collect(),
        ),
        (
            "Theo môn",
            vec!["Môn", "Lượt xem", "Lượt tải", "Lượt giao bài"],
            u.by_subject
                .iter()
                .map(|(s, c)| {
                    vec![
                        s.clone(),
                        c.views.to_string(),
                        c.downloads.to_string(),
                        c.assignments.to_string(),
                    ]
                })
                .collect(),
        ),
        (
            "Theo ngày",
            vec!["Ngày", "Lượt xem", "Lượt tải"],
            u.by_day
                .iter()
                .map(|d| vec![d.day.clone(), d.views.to_string(), d.downloads.to_string()])
                .collect(),
        ),
    ];
    for (name, header, rows) in sheets {
        let sheet = book.add_worksheet();
        sheet.set_name(name).map_err(xlsx_error)?;
        for (c, h) in header.iter().enumerate() {
            sheet
                .write_string_with_format(0, c as u16, *h, &bold)
                .map_err(xlsx_error)?;
        }
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                match cell.parse::<f64>() {
                    Ok(n) if c > 0 => sheet.write_number(r as u32 + 1, c as u16, n),
                    _ => sheet.write_string(r as u32 + 1, c as u16, cell),
                }
                .map_err(xlsx_error)?;
            }
        }
    }
    let file = book.save_to_buffer().map_err(xlsx_error)?;
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header((
            "Content-Disposition",
            format!(
                "attachment; filename=\"su-dung-hoc-lieu-{}-{}.xlsx\"",
                u.from, u.to
            ),
        ))
        .body(file))
}
