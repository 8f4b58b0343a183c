use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "item_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub item_id: Uuid,
    pub version: i32,
    pub status: String,
    pub latest: bool,
    pub published: bool,
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub grade: i16,
    pub series: Option<String>,
    pub topic: String,
    pub topic_folded: String,
    pub level: String,
    pub competency: Option<String>,
    pub tags: String,
    pub source: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub search_text: String,
    pub created_by: Uuid,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::item::Entity",
        from = "Column::ItemId",
        to = "super::item::Column::Id"
    )]
    Item,
}

impl Related<super::item::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Item.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
