use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Papers::Table)
                    .col(pk_uuid(Papers::Id))
                    .col(string(Papers::Name))
                    .col(string(Papers::Subject))
                    .col(big_integer(Papers::Seed))
                    // The matrix it was drawn from and the exact item versions, frozen as JSON.
                    .col(text(Papers::Matrix))
                    .col(text(Papers::Items))
                    .col(uuid(Papers::CreatedBy))
                    .col(uuid_null(Papers::SchoolId))
                    .col(timestamp_with_time_zone(Papers::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PaperCodes::Table)
                    .col(uuid(PaperCodes::PaperId))
                    .col(string(PaperCodes::Code))
                    // Question order and option permutations of this code, and its answer key.
                    .col(text(PaperCodes::Layout))
                    .col(text(PaperCodes::AnswerKey))
                    .primary_key(
                        Index::create()
                            .col(PaperCodes::PaperId)
                            .col(PaperCodes::Code),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_paper_codes_paper")
                            .from(PaperCodes::Table, PaperCodes::PaperId)
                            .to(Papers::Table, Papers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_papers_subject_school")
                    .table(Papers::Table)
                    .col(Papers::Subject)
                    .col(Papers::SchoolId)
                    .col(Papers::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PaperCodes::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Papers::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Papers {
    Table,
    Id,
    Name,
    Subject,
    Seed,
    Matrix,
    Items,
    CreatedBy,
    SchoolId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PaperCodes {
    Table,
    PaperId,
    Code,
    Layout,
    AnswerKey,
}
