//! Browsing and searching the repository: by subject, grade, chapter, words without
//! diacritics, newest or most used, a page at a time by cursor.

use actix_web::{get, web};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::items::visible_condition;
use crate::{
    auth::CurrentUser,
    entities::{content_item, content_mark},
    error::ApiError,
    exam_format::Subject,
    state::AppState,
    text::fold,
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(search);
}

#[derive(Deserialize, IntoParams)]
pub struct SearchQuery {
    /// Words from titles, descriptions, lesson text, topics and tags; diacritics and case do
    /// not matter ("ham so" finds "Hàm số").
    pub q: Option<String>,
    pub subject: Option<Subject>,
    pub grade: Option<i16>,
    pub series: Option<String>,
    /// The start of the topic path, e.g. "Chương 1".
    pub topic: Option<String>,
    pub kind: Option<String>,
    pub tag: Option<String>,
    pub licence: Option<String>,
    pub language: Option<String>,
    pub scope: Option<String>,
    pub school_id: Option<Uuid>,
    pub author_id: Option<Uuid>,
    /// Only the items the caller bookmarked.
    #[serde(default)]
    pub bookmarked: bool,
    /// newest (default), most_used, best_rated.
    pub sort: Option<String>,
    /// Items per page: 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ContentSummary {
    pub id: Uuid,
    pub kind: String,
    pub title: String,
    pub subject: String,
    pub grade: i16,
    pub topic: String,
    pub scope: String,
    pub author_id: Uuid,
    pub school_id: Option<Uuid>,
    pub views: i64,
    pub downloads: i64,
    pub rating: Option<f64>,
    pub published_version: Option<i32>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchPage {
    pub items: Vec<ContentSummary>,
    pub next: Option<String>,
}

/// Browse and search what the caller may read: by subject, grade, series, topic, every other
/// metadata field and words; sorted by newest, most used or best rated; cursor pages.
#[utoipa::path(tag = "content", security(("bearer" = [])), params(SearchQuery), responses(
    (status = 200, body = SearchPage)))]
#[get("/content/items")]
async fn search(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<SearchQuery>,
) -> Result<web::Json<SearchPage>, ApiError> {
    let me = user.account(&state.db).await?;
    let q = query.into_inner();
    let mut find = content_item::Entity::find().filter(visible_condition(&user, &me));
    if let Some(text) = &q.q {
        for word in fold(text).split_whitespace().take(8) {
            find = find.filter(content_item::Column::SearchText.contains(word));
        }
    }
    if let Some(s) = q.subject {
        find = find.filter(content_item::Column::Subject.eq(s.code()));
    }
    if let Some(g) = q.grade {
        find = find.filter(content_item::Column::Grade.eq(g));
    }
    if let Some(s) = &q.series {
        find = find.filter(content_item::Column::Series.eq(s.as_str()));
    }
    if let Some(t) = &q.topic {
        find = find.filter(content_item::Column::Topic.starts_with(fold(t)));
    }
    if let Some(k) = &q.kind {
        find = find.filter(content_item::Column::Kind.eq(k.as_str()));
    }
    if let Some(t) = &q.tag {
        find = find.filter(
            content_item::Column::Tags.contains(format!(" {} ", fold(t).replace(' ', "-"))),
        );
    }
    if let Some(l) = &q.licence {
        find = find.filter(content_item::Column::Licence.eq(l.as_str()));
    }
    if let Some(l) = &q.language {
        find = find.filter(content_item::Column::Language.eq(l.as_str()));
    }
    if let Some(s) = &q.scope {
        find = find.filter(content_item::Column::Scope.eq(s.as_str()));
    }
    if let Some(s) = q.school_id {
        find = find.filter(content_item::Column::SchoolId.eq(s));
    }
    if let Some(a) = q.author_id {
        find = find.filter(content_item::Column::AuthorId.eq(a));
    }
    if q.bookmarked {
        let marked: Vec<Uuid> = content_mark::Entity::find()
            .select_only()
            .column(content_mark::Column::ItemId)
            .filter(content_mark::Column::UserId.eq(user.id))
            .filter(content_mark::Column::Bookmarked.eq(true))
            .into_tuple()
            .all(&state.db)
            .await?;
        find = find.filter(content_item::Column::Id.is_in(marked));
    }
    let limit = crate::error::page_limit(q.limit, 20, 100)?;
    // Keyset pages: the sort value and the id of the last row seen.
    // Best rated: the mean of the stars, in hundredths, the same on both databases.
    const MEAN_RATING: &str =
        "(rating_sum * 100 / CASE WHEN rating_count = 0 THEN 1 ELSE rating_count END)";
    let metric = match q.sort.as_deref() {
        None | Some("newest") => None,
        Some("most_used") => Some(Expr::col(content_item::Column::Views)),
        Some("best_rated") => Some(Expr::cust(MEAN_RATING)),
        Some(_) => return Err(ApiError::BadRequest("invalid_sort")),
    };
    let cursor = match &q.cursor {
        None => None,
        Some(c) => {
            let (value, id) = c
                .split_once('_')
                .ok_or(ApiError::BadRequest("invalid_cursor"))?;
            Some((
                value
                    .parse::<i64>()
                    .map_err(|_| ApiError::BadRequest("invalid_cursor"))?,
                id.parse::<Uuid>()
                    .map_err(|_| ApiError::BadRequest("invalid_cursor"))?,
            ))
        }
    };
    find = match metric {
        None => {
            if let Some((_, id)) = cursor {
                find = find.filter(content_item::Column::Id.lt(id));
            }
            find.order_by_desc(content_item::Column::Id)
        }
        Some(metric) => {
            if let Some((value, id)) = cursor {
                find = find.filter(
                    Condition::any().add(metric.clone().lt(value)).add(
                        Condition::all()
                            .add(metric.clone().eq(value))
                            .add(content_item::Column::Id.lt(id)),
                    ),
                );
            }
            find.order_by(metric, sea_orm::Order::Desc)
                .order_by_desc(content_item::Column::Id)
        }
    };
    let txn = crate::stores::db::planned_per_search(&state.db).await?;
    let mut rows = find.limit(limit + 1).all(&txn).await?;
    txn.commit().await?;
    let next = (rows.len() as u64 > limit).then(|| {
        rows.truncate(limit as usize);
        let last = rows.last().expect("a full page");
        let value = match q.sort.as_deref() {
            Some("most_used") => last.views,
            Some("best_rated") => {
                i64::from(last.rating_sum) * 100 / std::cmp::max(i64::from(last.rating_count), 1)
            }
            _ => 0,
        };
        format!("{value}_{}", last.id)
    });
    Ok(web::Json(SearchPage {
        items: rows
            .into_iter()
            .map(|r| ContentSummary {
                rating: (r.rating_count > 0)
                    .then(|| f64::from(r.rating_sum) / f64::from(r.rating_count)),
                id: r.id,
                kind: r.kind,
                title: r.title,
                subject: r.subject,
                grade: r.grade,
                topic: r.topic,
                scope: r.scope,
                author_id: r.author_id,
                school_id: r.school_id,
                views: r.views,
                downloads: r.downloads,
                published_version: r.published_version,
            })
            .collect(),
        next,
    }))
}
