use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000001_create_schools_and_classes::{Classes, Schools};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_uuid(Users::Id))
                    .col(string_uniq(Users::Login))
                    .col(string_null(Users::Email))
                    .col(string(Users::FullName))
                    .col(string(Users::FullNameFolded))
                    .col(string(Users::PasswordHash))
                    // Space-padded role names (" teacher reviewer "), so one LIKE works on both
                    // PostgreSQL and SQLite; only `auth::Roles` reads or writes it.
                    .col(string(Users::Roles))
                    .col(uuid_null(Users::SchoolId))
                    .col(uuid_null(Users::ClassId))
                    .col(date_null(Users::BirthDate))
                    .col(boolean(Users::Disabled).default(false))
                    .col(timestamp_with_time_zone(Users::PasswordChangedAt))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_users_school")
                            .from(Users::Table, Users::SchoolId)
                            .to(Schools::Table, Schools::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_users_class")
                            .from(Users::Table, Users::ClassId)
                            .to(Classes::Table, Classes::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_users_school", Users::SchoolId),
            ("idx_users_full_name_folded", Users::FullNameFolded),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Users::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Users {
    Table,
    Id,
    Login,
    Email,
    FullName,
    FullNameFolded,
    PasswordHash,
    Roles,
    SchoolId,
    ClassId,
    BirthDate,
    Disabled,
    PasswordChangedAt,
    CreatedAt,
}
