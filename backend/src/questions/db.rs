//! Queries for items, their versions and reviews.
use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, JoinType,
    QueryFilter, QueryOrder, QuerySelect, RelationTrait, sea_query::Expr,
};
use uuid::Uuid;

use super::domain::{Body, Kind, Level, Metadata, search_text};
use crate::{
    entities::{exam, item, item_group, item_review, item_version, paper, sitting},
    text::fold,
};

pub struct NewVersion<'a> {
    pub item_id: Uuid,
    pub version: i32,
    pub body: &'a Body,
    pub metadata: &'a Metadata,
    pub author: Uuid,
}

pub async fn insert_item(
    db: &impl ConnectionTrait,
    id: Uuid,
    author: Uuid,
    school: Option<Uuid>,
    metadata: &Metadata,
    group: Option<(Uuid, i32)>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    item::Entity::insert(item::ActiveModel {
        id: Set(id),
        author_id: Set(author),
        school_id: Set(school),
        subject: Set(metadata.subject.code().to_owned()),
        scope: Set("private".to_owned()),
        latest_version: Set(1),
        approved_version: Set(None),
        retired: Set(false),
        times_used: Set(0),
        group_id: Set(group.map(|(g, _)| g)),
        group_position: Set(group.map(|(_, p)| p).unwrap_or(0)),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Metadata and content as stored; the stored text is the canonical JSON of `Body` and
/// `Metadata` together.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct StoredBody {
    pub body: Body,
    pub metadata: Metadata,
}

pub async fn insert_version(db: &impl ConnectionTrait, new: NewVersion<'_>) -> Result<(), DbErr> {
    let m = new.metadata;
    let stored = StoredBody {
        body: new.body.clone(),
        metadata: m.clone(),
    };
    item_version::Entity::insert(item_version::ActiveModel {
        id: Set(Uuid::now_v7()),
        item_id: Set(new.item_id),
        version: Set(new.version),
        status: Set("draft".to_owned()),
        latest: Set(true),
        published: Set(false),
        kind: Set(new.body.kind().as_str().to_owned()),
        body: Set(serde_json::to_string(&stored).map_err(|e| DbErr::Custom(e.to_string()))?),
        grade: Set(m.grade),
        series: Set(m.series.clone()),
        topic: Set(m.topic_path()),
        topic_folded: Set(fold(&m.topic_path())),
        level: Set(m.level.as_str().to_owned()),
        competency: Set(m.competency.clone()),
        tags: Set(format!(" {} ", m.tags.join(" "))),
        source: Set(m.source.clone()),
        search_text: Set(search_text(new.body, m)),
        created_by: Set(new.author),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

pub async fn find_item(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<item::Model>, DbErr> {
    item::Entity::find_by_id(id).one(db).await
}

pub async fn find_version(
    db: &impl ConnectionTrait,
    id: Uuid,
    version: i32,
) -> Result<Option<item_version::Model>, DbErr> {
    item_version::Entity::find()
        .filter(item_version::Column::ItemId.eq(id))
        .filter(item_version::Column::Version.eq(version))
        .one(db)
        .await
}

pub async fn set_status(
    db: &impl ConnectionTrait,
    id: Uuid,
    version: i32,
    status: &str,
) -> Result<(), DbErr> {
    item_version::Entity::update_many()
        .col_expr(item_version::Column::Status, Expr::value(status))
        .filter(item_version::Column::ItemId.eq(id))
        .filter(item_version::Column::Version.eq(version))
        .exec(db)
        .await?;
    touch(db, id).await
}

async fn touch(db: &impl ConnectionTrait, id: Uuid) -> Result<(), DbErr> {
    item::Entity::update_many()
        .col_expr(item::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(item::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Replaces the content of a draft or returned version in place (it was never approved).
pub async fn rewrite_version(db: &impl ConnectionTrait, new: NewVersion<'_>) -> Result<(), DbErr> {
    let id = new.item_id;
    item_version::Entity::delete_many()
        .filter(item_version::Column::ItemId.eq(new.item_id))
        .filter(item_version::Column::Version.eq(new.version))
        .exec(db)
        .await?;
    insert_version(db, new).await?;
    touch(db, id).await
}

/// A new version on top of an approved one: the approved one stays published meanwhile.
pub async fn add_version(db: &impl ConnectionTrait, new: NewVersion<'_>) -> Result<(), DbErr> {
    item_version::Entity::update_many()
        .col_expr(item_version::Column::Latest, Expr::value(false))
        .filter(item_version::Column::ItemId.eq(new.item_id))
        .exec(db)
        .await?;
    item::Entity::update_many()
        .col_expr(item::Column::LatestVersion, Expr::value(new.version))
        .col_expr(item::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(item::Column::Id.eq(new.item_id))
        .exec(db)
        .await?;
    insert_version(db, new).await
}

pub async fn publish(db: &impl ConnectionTrait, id: Uuid, version: i32) -> Result<(), DbErr> {
    item_version::Entity::update_many()
        .col_expr(item_version::Column::Published, Expr::value(false))
        .filter(item_version::Column::ItemId.eq(id))
        .exec(db)
        .await?;
    item_version::Entity::update_many()
        .col_expr(item_version::Column::Published, Expr::value(true))
        .col_expr(item_version::Column::Status, Expr::value("approved"))
        .filter(item_version::Column::ItemId.eq(id))
        .filter(item_version::Column::Version.eq(version))
        .exec(db)
        .await?;
    item::Entity::update_many()
        .col_expr(item::Column::ApprovedVersion, Expr::value(version))
        .col_expr(item::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(item::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn set_scope(db: &impl ConnectionTrait, id: Uuid, scope: &str) -> Result<(), DbErr> {
    item::Entity::update_many()
        .col_expr(item::Column::Scope, Expr::value(scope))
        .col_expr(item::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(item::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn retire(db: &impl ConnectionTrait, id: Uuid) -> Result<(), DbErr> {
    item::Entity::update_many()
        .col_expr(item::Column::Retired, Expr::value(true))
        .col_expr(item::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(item::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn insert_review(
    db: &impl ConnectionTrait,
    item_id: Uuid,
    version: i32,
    reviewer: Uuid,
    decision: &str,
    comment: Option<String>,
) -> Result<(), DbErr> {
    item_review::Entity::insert(item_review::ActiveModel {
        id: Set(Uuid::now_v7()),
        item_id: Set(item_id),
        version: Set(version),
        reviewer_id: Set(reviewer),
        decision: Set(decision.to_owned()),
        comment: Set(comment),
        at: Set(Utc::now()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

pub async fn reviews_of(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Vec<item_review::Model>, DbErr> {
    item_review::Entity::find()
        .filter(item_review::Column::ItemId.eq(id))
        .order_by_asc(item_review::Column::At)
        .all(db)
        .await
}

/// Who is asking, for visibility.
pub struct Viewer {
    pub id: Uuid,
    pub school: Option<Uuid>,
    /// Province admins see every item.
    pub sees_all: bool,
}

#[derive(Default)]
pub struct ItemFilter {
    pub subject: Option<String>,
    pub grade: Option<i16>,
    pub series: Option<String>,
    pub level: Option<Level>,
    pub kind: Option<Kind>,
    /// Items whose topic path starts with this (diacritics ignored).
    pub topic: Option<String>,
    pub tag: Option<String>,
    pub competency: Option<String>,
    pub status: Option<String>,
    pub q: Option<String>,
    pub mine: bool,
    /// Only approved versions shared with the viewer (or their own approved ones): what papers draw from.
    pub approved_only: bool,
    /// Only these items.
    pub ids: Option<Vec<Uuid>>,
    pub after: Option<Uuid>,
    pub limit: u64,
}

/// The viewer's own items at their newest version, and everyone else's shared items at their
/// approved version; never another teacher's drafts.
fn visible_to(viewer: &Viewer, approved_only: bool) -> Condition {
    let own_latest = Condition::all()
        .add(item::Column::AuthorId.eq(viewer.id))
        .add(if approved_only {
            item_version::Column::Published.eq(true)
        } else {
            item_version::Column::Latest.eq(true)
        });
    let mut shared = Condition::any().add(item::Column::Scope.eq("province"));
    if let Some(school) = viewer.school {
        shared = shared.add(
            Condition::all()
                .add(item::Column::Scope.eq("school"))
                .add(item::Column::SchoolId.eq(school)),
        );
    }
    let mut others = Condition::all()
        .add(item::Column::AuthorId.ne(viewer.id))
        .add(item_version::Column::Published.eq(true));
    if !viewer.sees_all {
        others = others.add(shared);
    }
    Condition::any().add(own_latest).add(others)
}

pub async fn search(
    db: &sea_orm::DatabaseConnection,
    viewer: &Viewer,
    filter: &ItemFilter,
) -> Result<Vec<(item_version::Model, item::Model)>, DbErr> {
    let mut condition = Condition::all()
        .add(visible_to(viewer, filter.approved_only))
        .add(item::Column::Retired.eq(false));
    if let Some(s) = &filter.subject {
        condition = condition.add(item::Column::Subject.eq(s.as_str()));
    }
    if let Some(g) = filter.grade {
        condition = condition.add(item_version::Column::Grade.eq(g));
    }
    if let Some(s) = &filter.series {
        condition = condition.add(item_version::Column::Series.eq(s.as_str()));
    }
    if let Some(l) = filter.level {
        condition = condition.add(item_version::Column::Level.eq(l.as_str()));
    }
    if let Some(k) = filter.kind {
        condition = condition.add(item_version::Column::Kind.eq(k.as_str()));
    }
    if let Some(t) = &filter.topic {
        condition = condition.add(item_version::Column::TopicFolded.starts_with(fold(t)));
    }
    if let Some(t) = &filter.tag {
        condition = condition
            .add(item_version::Column::Tags.contains(format!(" {} ", fold(t).replace(' ', "-"))));
    }
    if let Some(c) = &filter.competency {
        condition = condition.add(item_version::Column::Competency.eq(c.as_str()));
    }
    if let Some(s) = &filter.status {
        condition = condition.add(item_version::Column::Status.eq(s.as_str()));
    }
    if let Some(q) = &filter.q {
        for word in fold(q).split_whitespace() {
            condition = condition.add(item_version::Column::SearchText.contains(word));
        }
    }
    if let Some(ids) = &filter.ids {
        condition = condition.add(item_version::Column::ItemId.is_in(ids.iter().copied()));
    }
    if filter.mine {
        condition = condition.add(item::Column::AuthorId.eq(viewer.id));
    }
    if let Some(after) = filter.after {
        condition = condition.add(item_version::Column::ItemId.gt(after));
    }
    let txn = crate::stores::db::planned_per_search(db).await?;
    let rows = item_version::Entity::find()
        .find_also_related(item::Entity)
        .filter(condition)
        .order_by_asc(item_version::Column::ItemId)
        .limit(filter.limit)
        .all(&txn)
        .await?;
    txn.commit().await?;
    Ok(rows
        .into_iter()
        .filter_map(|(v, i)| i.map(|i| (v, i)))
        .collect())
}

/// Submitted versions waiting for a reviewer of these subjects, in their reach.
pub async fn review_queue(
    db: &impl ConnectionTrait,
    reviewer: &Viewer,
    subjects: &[String],
    limit: u64,
) -> Result<Vec<(item_version::Model, item::Model)>, DbErr> {
    let mut condition = Condition::all()
        .add(item_version::Column::Status.eq("submitted"))
        .add(item::Column::AuthorId.ne(reviewer.id))
        .add(item::Column::Retired.eq(false));
    if !reviewer.sees_all {
        condition = condition.add(item::Column::Subject.is_in(subjects.iter().map(String::as_str)));
        if let Some(school) = reviewer.school {
            condition = condition.add(item::Column::SchoolId.eq(school));
        }
    }
    item_version::Entity::find()
        .join(JoinType::InnerJoin, item_version::Relation::Item.def())
        .select_also(item::Entity)
        .filter(condition)
        .order_by_asc(item_version::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await
        .map(|rows| {
            rows.into_iter()
                .filter_map(|(v, i)| i.map(|i| (v, i)))
                .collect()
        })
}

pub async fn insert_group(
    db: &impl ConnectionTrait,
    author: Uuid,
    school: Option<Uuid>,
    subject: &str,
    title: &str,
    stimulus: &str,
) -> Result<item_group::Model, DbErr> {
    let model = item_group::Model {
        id: Uuid::now_v7(),
        author_id: author,
        school_id: school,
        subject: subject.to_owned(),
        title: title.to_owned(),
        stimulus: stimulus.to_owned(),
        created_at: Utc::now(),
    };
    item_group::Entity::insert(item_group::ActiveModel {
        id: Set(model.id),
        author_id: Set(author),
        school_id: Set(school),
        subject: Set(model.subject.clone()),
        title: Set(model.title.clone()),
        stimulus: Set(model.stimulus.clone()),
        created_at: Set(model.created_at),
    })
    .exec_without_returning(db)
    .await?;
    Ok(model)
}

pub async fn find_group(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<item_group::Model>, DbErr> {
    item_group::Entity::find_by_id(id).one(db).await
}

pub async fn groups_by_ids(
    db: &impl ConnectionTrait,
    ids: Vec<Uuid>,
) -> Result<Vec<item_group::Model>, DbErr> {
    item_group::Entity::find()
        .filter(item_group::Column::Id.is_in(ids))
        .all(db)
        .await
}

/// Members of a group in their order.
pub async fn group_members(db: &impl ConnectionTrait, id: Uuid) -> Result<Vec<item::Model>, DbErr> {
    item::Entity::find()
        .filter(item::Column::GroupId.eq(id))
        .order_by_asc(item::Column::GroupPosition)
        .all(db)
        .await
}

/// Who asks to read a paper (built from the caller by `questions::routes::paper_reader`).
pub struct PaperReader {
    pub id: Uuid,
    /// The school whose admin the reader is, if any.
    pub admin_of: Option<Uuid>,
    pub province_admin: bool,
}

/// Whether `reader` may read `paper` with its keys: its author, the province's admins, the
/// admins of its school, and the organisers of an exam that uses it. Other teachers of the
/// school may not (SECURITY.md, finding 5).
pub async fn may_read_paper(
    db: &impl ConnectionTrait,
    reader: &PaperReader,
    paper: &paper::Model,
) -> Result<bool, DbErr> {
    if paper.created_by == reader.id
        || reader.province_admin
        || (paper.school_id.is_some() && paper.school_id == reader.admin_of)
    {
        return Ok(true);
    }
    let exams: Vec<Uuid> = sitting::Entity::find()
        .select_only()
        .column(sitting::Column::ExamId)
        .filter(sitting::Column::PaperId.eq(paper.id))
        .into_tuple()
        .all(db)
        .await?;
    if exams.is_empty() {
        return Ok(false);
    }
    let organised = exam::Entity::find()
        .filter(exam::Column::Id.is_in(exams))
        .filter(exam::Column::Organisers.contains(format!(" {} ", reader.id)))
        .one(db)
        .await?;
    Ok(organised.is_some())
}
