use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Schools::Table)
                    .col(pk_uuid(Schools::Id))
                    .col(string_uniq(Schools::Code))
                    .col(string(Schools::Name))
                    .col(string(Schools::NameFolded))
                    .col(string(Schools::Level))
                    .col(timestamp_with_time_zone(Schools::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_schools_name_folded")
                    .table(Schools::Table)
                    .col(Schools::NameFolded)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Classes::Table)
                    .col(pk_uuid(Classes::Id))
                    .col(uuid(Classes::SchoolId))
                    .col(string(Classes::Name))
                    .col(small_integer(Classes::Grade))
                    .col(string(Classes::SchoolYear))
                    .col(timestamp_with_time_zone(Classes::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_classes_school")
                            .from(Classes::Table, Classes::SchoolId)
                            .to(Schools::Table, Schools::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_classes_school_year_name")
                    .table(Classes::Table)
                    .col(Classes::SchoolId)
                    .col(Classes::SchoolYear)
                    .col(Classes::Name)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Classes::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Schools::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Schools {
    Table,
    Id,
    Code,
    Name,
    NameFolded,
    Level,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum Classes {
    Table,
    Id,
    SchoolId,
    Name,
    Grade,
    SchoolYear,
    CreatedAt,
}
