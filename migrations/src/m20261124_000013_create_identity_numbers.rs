use sea_orm_migration::{prelude::*, schema::*};

/// ID-card numbers, apart from the user rows: a keyed hash to find and match them, and the
/// number sealed with a key the database never sees.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdentityNumbers::Table)
                    .col(pk_uuid(IdentityNumbers::UserId))
                    .col(string(IdentityNumbers::NumberHash).unique_key())
                    .col(text(IdentityNumbers::NumberSealed))
                    .col(timestamp_with_time_zone(IdentityNumbers::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdentityNumbers::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum IdentityNumbers {
    Table,
    UserId,
    NumberHash,
    NumberSealed,
    UpdatedAt,
}
