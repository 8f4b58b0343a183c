use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub login: String,
    pub email: Option<String>,
    pub full_name: String,
    pub full_name_folded: String,
    pub password_hash: String,
    pub roles: String,
    pub school_id: Option<Uuid>,
    pub class_id: Option<Uuid>,
    pub birth_date: Option<Date>,
    pub subjects: String,
    pub disabled: bool,
    pub password_changed_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
