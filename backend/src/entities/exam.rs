use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "exams")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub scope: String,
    pub school_id: Option<Uuid>,
    pub class_id: Option<Uuid>,
    #[sea_orm(column_type = "Text")]
    pub policy: String,
    pub results_released: bool,
    pub created_by: Uuid,
    /// Space-padded user ids: the exam's organisers beyond its school's admins.
    #[sea_orm(column_type = "Text")]
    pub organisers: String,
    /// Space-padded user ids: who marks its essays, beside its organisers.
    #[sea_orm(column_type = "Text")]
    pub markers: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
