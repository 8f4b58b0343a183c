//! The graded attempts of a sitting with who sat them, filtered by school, class or room: what
//! the results table, the Excel export and the statistics all read.
use std::collections::HashMap;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{
    domain::AttemptState,
    grading::{self, Score},
};
use crate::exam_format::Points;
use crate::{
    auth::{CurrentUser, roles::Role},
    entities::{attempt, candidate, sitting, user},
    error::ApiError,
    state::AppState,
};

/// One graded attempt with who sat it.
pub(super) struct Row {
    pub(super) attempt: attempt::Model,
    pub(super) score: Score,
    pub(super) number: String,
    pub(super) full_name: String,
    pub(super) birth_date: Option<chrono::NaiveDate>,
    pub(super) school_id: Option<Uuid>,
    pub(super) class_id: Option<Uuid>,
}

#[derive(Deserialize, IntoParams)]
pub struct GroupFilter {
    /// Only this school's candidates.
    pub school_id: Option<Uuid>,
    /// Only this class's candidates.
    pub class_id: Option<Uuid>,
}

/// Every closed attempt of the sitting, graded first if its grading is still queued (voided
/// ones excluded), narrowed to the caller's school
/// when they are school staff, and by the filter.
pub(super) async fn graded_rows(
    state: &AppState,
    user: &CurrentUser,
    sitting: &sitting::Model,
    filter: &GroupFilter,
) -> Result<Vec<Row>, ApiError> {
    grading::settle_waiting(&state.exams, sitting.id).await?;
    let attempts = attempt::Entity::find()
        .filter(attempt::Column::SittingId.eq(sitting.id))
        .filter(attempt::Column::State.is_in([
            AttemptState::Submitted.as_str(),
            AttemptState::AutoSubmitted.as_str(),
        ]))
        .order_by_asc(attempt::Column::Id)
        .all(&state.db)
        .await?;
    let candidates: HashMap<Uuid, candidate::Model> = candidate::Entity::find()
        .filter(candidate::Column::SittingId.eq(sitting.id))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let mut users = HashMap::new();
    let ids: Vec<Uuid> = attempts.iter().map(|a| a.user_id).collect();
    for chunk in ids.chunks(1000) {
        for u in user::Entity::find()
            .filter(user::Column::Id.is_in(chunk.iter().copied()))
            .all(&state.db)
            .await?
        {
            users.insert(u.id, u);
        }
    }
    let own_school = (!user.has(Role::ProvinceAdmin))
        .then_some(user.school)
        .flatten();
    let mut rows = Vec::new();
    for a in attempts {
        let Some(score) = grading::stored_score(&a) else {
            continue;
        };
        let Some(u) = users.get(&a.user_id) else {
            continue;
        };
        if own_school.is_some_and(|s| u.school_id != Some(s))
            || filter.school_id.is_some_and(|s| u.school_id != Some(s))
            || filter.class_id.is_some_and(|c| u.class_id != Some(c))
        {
            continue;
        }
        rows.push(Row {
            number: a
                .candidate_id
                .and_then(|c| candidates.get(&c))
                .map(|c| c.number.clone())
                .unwrap_or_default(),
            full_name: u.full_name.clone(),
            birth_date: u.birth_date,
            school_id: u.school_id,
            class_id: u.class_id,
            score,
            attempt: a,
        });
    }
    rows.sort_by(|a, b| a.number.cmp(&b.number));
    Ok(rows)
}

pub(super) fn total(row: &Row) -> Option<u32> {
    row.score.total.map(Points::as_hundredths)
}
