use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "content_items")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: String,
    pub author_id: Uuid,
    pub school_id: Option<Uuid>,
    pub class_id: Option<Uuid>,
    pub scope: String,
    pub review: String,
    pub latest_version: i32,
    pub published_version: Option<i32>,
    pub title: String,
    pub subject: String,
    pub grade: i16,
    pub series: Option<String>,
    pub topic: String,
    pub tags: String,
    pub language: String,
    pub licence: String,
    #[sea_orm(column_type = "Text")]
    pub search_text: String,
    pub views: i64,
    pub downloads: i64,
    pub rating_sum: i32,
    pub rating_count: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
