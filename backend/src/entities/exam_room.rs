use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "exam_rooms")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub sitting_id: Uuid,
    pub name: String,
    pub capacity: i32,
    #[sea_orm(column_type = "Text")]
    pub proctors: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::sitting::Entity",
        from = "Column::SittingId",
        to = "super::sitting::Column::Id"
    )]
    Sitting,
}

impl Related<super::sitting::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Sitting.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
