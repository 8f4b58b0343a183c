use sea_orm_migration::{prelude::*, schema::*};

/// Photos taken at check-in or during an attempt: the object is sealed with its own data key,
/// which is stored here wrapped by the configured key; each is deleted after its exam's retention.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Photos::Table)
                    .col(pk_uuid(Photos::Id))
                    .col(uuid(Photos::AttemptId))
                    .col(uuid(Photos::UserId))
                    .col(uuid_null(Photos::RoomId))
                    // check_in or snapshot
                    .col(string(Photos::Kind))
                    // pending (uploaded to staging), stored (sealed)
                    .col(string(Photos::State))
                    .col(string(Photos::Mime))
                    .col(big_integer(Photos::Size))
                    .col(text_null(Photos::WrappedKey))
                    .col(uuid(Photos::TakenBy))
                    .col(timestamp_with_time_zone(Photos::TakenAt))
                    .col(timestamp_with_time_zone(Photos::DeleteAfter))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_photos_delete_after")
                    .table(Photos::Table)
                    .col(Photos::DeleteAfter)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Photos::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Photos {
    Table,
    Id,
    AttemptId,
    UserId,
    RoomId,
    Kind,
    State,
    Mime,
    Size,
    WrappedKey,
    TakenBy,
    TakenAt,
    DeleteAfter,
}
