use sea_orm_migration::{prelude::*, schema::*};

/// Lessons, documents and practice sets assigned to classes, each student's progress, and the
/// daily usage counters of the content repository.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Assignments::Table)
                    .col(pk_uuid(Assignments::Id))
                    .col(uuid(Assignments::ClassId))
                    .col(uuid(Assignments::SchoolId))
                    .col(uuid(Assignments::TeacherId))
                    .col(uuid_null(Assignments::ItemId))
                    .col(uuid_null(Assignments::SittingId))
                    .col(string(Assignments::Title))
                    .col(text(Assignments::Note))
                    .col(timestamp_with_time_zone_null(Assignments::DueAt))
                    .col(timestamp_with_time_zone(Assignments::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_assignments_class")
                    .table(Assignments::Table)
                    .col(Assignments::ClassId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AssignmentProgress::Table)
                    .col(uuid(AssignmentProgress::AssignmentId))
                    .col(uuid(AssignmentProgress::StudentId))
                    .col(timestamp_with_time_zone_null(AssignmentProgress::OpenedAt))
                    .col(timestamp_with_time_zone_null(
                        AssignmentProgress::CompletedAt,
                    ))
                    .primary_key(
                        Index::create()
                            .col(AssignmentProgress::AssignmentId)
                            .col(AssignmentProgress::StudentId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ContentUsage::Table)
                    .col(uuid(ContentUsage::ItemId))
                    // YYYY-MM-DD, sortable on every database.
                    .col(string(ContentUsage::Day))
                    .col(big_integer(ContentUsage::Views).default(0))
                    .col(big_integer(ContentUsage::Downloads).default(0))
                    .primary_key(
                        Index::create()
                            .col(ContentUsage::ItemId)
                            .col(ContentUsage::Day),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ContentUsage::Table.into_iden(),
            AssignmentProgress::Table.into_iden(),
            Assignments::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Assignments {
    Table,
    Id,
    ClassId,
    SchoolId,
    TeacherId,
    ItemId,
    SittingId,
    Title,
    Note,
    DueAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AssignmentProgress {
    Table,
    AssignmentId,
    StudentId,
    OpenedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum ContentUsage {
    Table,
    ItemId,
    Day,
    Views,
    Downloads,
}
