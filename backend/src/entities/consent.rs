use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub exam_id: Option<Uuid>,
    pub purposes: String,
    pub text_version: String,
    pub guardian_name: Option<String>,
    pub guardian_relation: Option<String>,
    pub given_at: DateTimeUtc,
    pub withdrawn_at: Option<DateTimeUtc>,
    pub guardian_verified_by: Option<Uuid>,
    pub guardian_verified_at: Option<DateTimeUtc>,
    pub guardian_verification: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
