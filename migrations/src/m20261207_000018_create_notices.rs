use sea_orm_migration::{prelude::*, schema::*};

/// Notices: what a person must be told about their own account (a new passkey on it, for the
/// student and their school's admins), kept until read.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Notices::Table)
                    .col(pk_uuid(Notices::Id))
                    .col(uuid(Notices::UserId))
                    .col(string(Notices::Kind))
                    .col(uuid(Notices::About))
                    .col(text(Notices::Details))
                    .col(timestamp_with_time_zone(Notices::CreatedAt))
                    .col(timestamp_with_time_zone_null(Notices::ReadAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Notices::Table, Notices::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("notices_by_user")
                    .table(Notices::Table)
                    .col(Notices::UserId)
                    .col(Notices::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Notices::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Notices {
    Table,
    Id,
    UserId,
    Kind,
    /// The user the notice is about (the student, for a school admin's copy).
    About,
    Details,
    CreatedAt,
    ReadAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
