use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub sitting_id: Uuid,
    pub candidate_id: Option<Uuid>,
    pub user_id: Uuid,
    pub room_id: Option<Uuid>,
    pub paper_id: Uuid,
    pub code: String,
    pub number: i32,
    pub state: String,
    pub started_at: Option<DateTimeUtc>,
    pub deadline: Option<DateTimeUtc>,
    pub paused_at: Option<DateTimeUtc>,
    pub section: i32,
    pub device_id: Option<String>,
    pub pending_device: Option<String>,
    pub submitted_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub score: Option<String>,
    pub graded_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub incidents: String,
    pub version: i32,
    pub event_count: i32,
    pub last_hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::sitting::Entity",
        from = "Column::SittingId",
        to = "super::sitting::Column::Id"
    )]
    Sitting,
    #[sea_orm(
        belongs_to = "super::candidate::Entity",
        from = "Column::CandidateId",
        to = "super::candidate::Column::Id"
    )]
    Candidate,
}

impl Related<super::sitting::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Sitting.def()
    }
}

impl Related<super::candidate::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Candidate.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
