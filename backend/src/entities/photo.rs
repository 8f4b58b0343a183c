use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "photos")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub attempt_id: Uuid,
    pub user_id: Uuid,
    pub room_id: Option<Uuid>,
    pub kind: String,
    pub state: String,
    pub mime: String,
    pub size: i64,
    #[sea_orm(column_type = "Text", nullable)]
    pub wrapped_key: Option<String>,
    pub taken_by: Uuid,
    pub taken_at: DateTimeUtc,
    pub delete_after: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
