use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "items")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub author_id: Uuid,
    pub school_id: Option<Uuid>,
    pub subject: String,
    pub scope: String,
    pub latest_version: i32,
    pub approved_version: Option<i32>,
    pub retired: bool,
    pub times_used: i32,
    pub group_id: Option<Uuid>,
    pub group_position: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
