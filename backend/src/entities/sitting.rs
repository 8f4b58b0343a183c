use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sittings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub exam_id: Uuid,
    pub name: String,
    pub paper_id: Uuid,
    pub subject: String,
    pub starts_at: DateTimeUtc,
    pub minutes: i32,
    pub late_start_minutes: i32,
    pub navigation: String,
    pub closes_at: Option<DateTimeUtc>,
    pub max_attempts: i32,
    pub locked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::exam::Entity",
        from = "Column::ExamId",
        to = "super::exam::Column::Id"
    )]
    Exam,
}

impl Related<super::exam::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Exam.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
