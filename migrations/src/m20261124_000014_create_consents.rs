use sea_orm_migration::{prelude::*, schema::*};

/// Consent to collect identity data: who gave it (the student, or a legal representative for a
/// student under 16), for what, under which text, when, and when it was withdrawn.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Consents::Table)
                    .col(pk_uuid(Consents::Id))
                    .col(uuid(Consents::UserId))
                    .col(uuid_null(Consents::ExamId))
                    // Space-padded purposes: " id_card photo ".
                    .col(string(Consents::Purposes))
                    .col(string(Consents::TextVersion))
                    .col(string_null(Consents::GuardianName))
                    .col(string_null(Consents::GuardianRelation))
                    .col(timestamp_with_time_zone(Consents::GivenAt))
                    .col(timestamp_with_time_zone_null(Consents::WithdrawnAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_consents_user")
                    .table(Consents::Table)
                    .col(Consents::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Consents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Consents {
    Table,
    Id,
    UserId,
    ExamId,
    Purposes,
    TextVersion,
    GuardianName,
    GuardianRelation,
    GivenAt,
    WithdrawnAt,
}
