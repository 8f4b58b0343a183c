use sea_orm_migration::{prelude::*, schema::*};

/// Question groups: one stimulus (a passage, a figure, a table) shared by several items that
/// always travel together.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ItemGroups::Table)
                    .col(pk_uuid(ItemGroups::Id))
                    .col(uuid(ItemGroups::AuthorId))
                    .col(uuid_null(ItemGroups::SchoolId))
                    .col(string(ItemGroups::Subject))
                    .col(string(ItemGroups::Title))
                    .col(text(ItemGroups::Stimulus))
                    .col(timestamp_with_time_zone(ItemGroups::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Items::Table)
                    .add_column(uuid_null(Items::GroupId))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Items::Table)
                    .add_column(integer(Items::GroupPosition).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_items_group")
                    .table(Items::Table)
                    .col(Items::GroupId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_items_group")
                    .table(Items::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Items::Table)
                    .drop_column(Items::GroupPosition)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Items::Table)
                    .drop_column(Items::GroupId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(ItemGroups::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ItemGroups {
    Table,
    Id,
    AuthorId,
    SchoolId,
    Subject,
    Title,
    Stimulus,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Items {
    Table,
    GroupId,
    GroupPosition,
}
