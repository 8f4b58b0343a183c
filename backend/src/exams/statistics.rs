//! Statistics of a sitting: mean, median, spread, the phổ điểm (as SVG or PNG), schools
//! compared, and item analysis (facility, discrimination, distractors).
use std::collections::{BTreeMap, HashMap};

use actix_web::{HttpResponse, get, web};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::graded::{GroupFilter, Row, graded_rows, total};
use super::{
    chart,
    domain::{self, ItemFigures, Summary},
    grading::{self},
    setup::organised_sitting,
};
use crate::exam_format::{
    Choice, Points, score_multiple_choice, score_short_answer, score_true_false,
};
use crate::{
    auth::CurrentUser,
    entities::{answer_save, school, sitting},
    error::ApiError,
    questions::papers::{CodeKey, Slot},
    state::AppState,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(statistics)
        .service(distribution_svg)
        .service(distribution_png);
}

#[derive(Serialize, ToSchema)]
pub struct Distribution {
    /// Each bar is this wide (points).
    pub bin_width: f64,
    /// Candidates per bar from 0 upwards; a 10 counts in the last bar.
    pub counts: Vec<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct SchoolFigures {
    pub school_id: Option<Uuid>,
    pub school_name: String,
    pub summary: Summary,
}

#[derive(Serialize, ToSchema)]
pub struct ItemAnalysis {
    pub item_id: Uuid,
    pub version: i32,
    pub part: u8,
    pub figures: ItemFigures,
    /// Part I: how often each option (in the author's order A-D) was chosen, and blanks.
    pub options: BTreeMap<String, u32>,
}

#[derive(Serialize, ToSchema)]
pub struct Statistics {
    pub sitting_id: Uuid,
    /// Candidates with a final score (essays all marked).
    pub summary: Summary,
    pub distribution: Distribution,
    pub by_school: Vec<SchoolFigures>,
    pub items: Vec<ItemAnalysis>,
}

pub(super) async fn compute_statistics(
    state: &AppState,
    sitting: &sitting::Model,
    rows: &[Row],
) -> Result<Statistics, ApiError> {
    let totals: Vec<u32> = rows.iter().filter_map(total).collect();
    let mut by_school_scores: BTreeMap<Option<Uuid>, Vec<u32>> = BTreeMap::new();
    for r in rows {
        if let Some(t) = total(r) {
            by_school_scores.entry(r.school_id).or_default().push(t);
        }
    }
    let names: HashMap<Uuid, String> = school::Entity::find()
        .filter(school::Column::Id.is_in(by_school_scores.keys().flatten().copied()))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let mut by_school: Vec<SchoolFigures> = by_school_scores
        .iter()
        .map(|(id, scores)| SchoolFigures {
            school_id: *id,
            school_name: id.and_then(|i| names.get(&i).cloned()).unwrap_or_default(),
            summary: domain::summary(scores),
        })
        .collect();
    by_school.sort_by(|a, b| b.summary.mean.total_cmp(&a.summary.mean));
    Ok(Statistics {
        sitting_id: sitting.id,
        summary: domain::summary(&totals),
        distribution: Distribution {
            bin_width: f64::from(domain::BIN_WIDTH) / 100.0,
            counts: domain::distribution(&totals),
        },
        by_school,
        items: item_analysis(state, rows).await?,
    })
}

/// Classical item analysis over the graded attempts, by item (across codes: each code's
/// permutation is undone, so options are counted in the author's order).
async fn item_analysis(state: &AppState, rows: &[Row]) -> Result<Vec<ItemAnalysis>, ApiError> {
    let mut layouts: HashMap<(Uuid, String), (Vec<Slot>, CodeKey)> = HashMap::new();
    let mut marks: BTreeMap<(Uuid, i32, u8), Vec<(f64, f64)>> = BTreeMap::new();
    let mut options: HashMap<(Uuid, i32), BTreeMap<String, u32>> = HashMap::new();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.attempt.id).collect();
    let mut answers: HashMap<Uuid, BTreeMap<i32, (i64, Option<String>)>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let saves = answer_save::Entity::find()
            .filter(answer_save::Column::AttemptId.is_in(chunk.iter().copied()))
            .order_by_asc(answer_save::Column::Seq)
            .all(&state.db)
            .await?;
        for s in saves {
            let value: Option<String> = serde_json::from_str(&s.value).unwrap_or(None);
            answers
                .entry(s.attempt_id)
                .or_default()
                .insert(s.slot, (s.seq, value));
        }
    }
    let empty = BTreeMap::new();
    for r in rows {
        let Some(total) = total(r) else { continue };
        let total = f64::from(total) / 100.0;
        let key = (r.attempt.paper_id, r.attempt.code.clone());
        if !layouts.contains_key(&key) {
            let layout = grading::code_of(&state.db, key.0, &key.1).await?;
            layouts.insert(key.clone(), layout);
        }
        let (slots, code_key) = &layouts[&key];
        let paper_key = grading::paper_key(code_key)?;
        let latest = answers.get(&r.attempt.id).unwrap_or(&empty);
        let mut n = [0usize; 5];
        for (i, slot) in slots.iter().enumerate() {
            let at = n[slot.part as usize];
            n[slot.part as usize] += 1;
            let value = latest.get(&(i as i32)).and_then(|(_, v)| v.as_deref());
            let fraction = match slot.part {
                1 => {
                    let chosen = value.and_then(Choice::parse);
                    let label = match chosen {
                        Some(c) => slot
                            .order
                            .get(c.index())
                            .and_then(|o| Choice::from_index(*o as usize))
                            .map(|c| c.letter().to_string())
                            .unwrap_or_else(|| "?".into()),
                        None => "blank".into(),
                    };
                    *options
                        .entry((slot.item_id, slot.version))
                        .or_default()
                        .entry(label)
                        .or_default() += 1;
                    let got = score_multiple_choice(paper_key.part1[at], chosen);
                    f64::from(got.as_hundredths()) / 25.0
                }
                2 => {
                    let got = score_true_false(
                        paper_key.part2[at],
                        &domain::true_false_marks(value.unwrap_or("")),
                    );
                    f64::from(got.as_hundredths()) / 100.0
                }
                3 => {
                    let got =
                        score_short_answer(&paper_key.part3[at], value, Points::hundredths(1));
                    f64::from(got.as_hundredths())
                }
                _ => continue,
            };
            marks
                .entry((slot.item_id, slot.version, slot.part))
                .or_default()
                .push((fraction, total));
        }
    }
    Ok(marks
        .into_iter()
        .map(|((item_id, version, part), list)| ItemAnalysis {
            item_id,
            version,
            part,
            figures: domain::item_figures(&list),
            options: options.remove(&(item_id, version)).unwrap_or_default(),
        })
        .collect())
}

/// Mean, median, standard deviation, the distribution (phổ điểm), schools compared and item
/// analysis, for the whole sitting or one school or class.
#[utoipa::path(tag = "results", security(("bearer" = [])), params(("sitting_id" = Uuid, Path), GroupFilter), responses(
    (status = 200, body = Statistics)))]
#[get("/sittings/{sitting_id}/statistics")]
async fn statistics(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    filter: web::Query<GroupFilter>,
) -> Result<web::Json<Statistics>, ApiError> {
    let (_, sitting) = organised_sitting(&state, &user, path.into_inner()).await?;
    let rows = graded_rows(&state, &user, &sitting, &filter).await?;
    Ok(web::Json(
        compute_statistics(&state, &sitting, &rows).await?,
    ))
}

async fn distribution_of(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
    filter: &GroupFilter,
) -> Result<(String, Vec<u32>), ApiError> {
    let (exam, sitting) = organised_sitting(state, user, id).await?;
    let rows = graded_rows(state, user, &sitting, filter).await?;
    let totals: Vec<u32> = rows.iter().filter_map(total).collect();
    Ok((
        format!("Phổ điểm – {} – {}", exam.name, sitting.name),
        domain::distribution(&totals),
    ))
}

/// The distribution as an SVG bar chart.
#[utoipa::path(tag = "results", security(("bearer" = [])), params(("sitting_id" = Uuid, Path), GroupFilter), responses(
    (status = 200, description = "image/svg+xml", content_type = "image/svg+xml")))]
#[get("/sittings/{sitting_id}/distribution.svg")]
async fn distribution_svg(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    filter: web::Query<GroupFilter>,
) -> Result<HttpResponse, ApiError> {
    let (title, counts) = distribution_of(&state, &user, path.into_inner(), &filter).await?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .body(chart::svg(&title, &counts)))
}

/// The distribution as a PNG bar chart.
#[utoipa::path(tag = "results", security(("bearer" = [])), params(("sitting_id" = Uuid, Path), GroupFilter), responses(
    (status = 200, description = "image/png", content_type = "image/png")))]
#[get("/sittings/{sitting_id}/distribution.png")]
async fn distribution_png(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    filter: web::Query<GroupFilter>,
) -> Result<HttpResponse, ApiError> {
    let (_, counts) = distribution_of(&state, &user, path.into_inner(), &filter).await?;
    Ok(HttpResponse::Ok()
        .content_type("image/png")
        .body(chart::png(&counts)))
}
