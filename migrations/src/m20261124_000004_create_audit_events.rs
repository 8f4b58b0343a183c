use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(pk_auto(AuditEvents::Id).big_integer())
                    .col(timestamp_with_time_zone(AuditEvents::At))
                    .col(uuid_null(AuditEvents::ActorId))
                    .col(string(AuditEvents::Action))
                    .col(string(AuditEvents::TargetType))
                    .col(string_null(AuditEvents::TargetId))
                    .col(string_null(AuditEvents::Ip))
                    .col(string_null(AuditEvents::RequestId))
                    // Canonical JSON kept as text, so the hash covers exactly the stored bytes.
                    .col(text(AuditEvents::Details))
                    .col(string(AuditEvents::PrevHash))
                    .col(string(AuditEvents::Hash))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_events_target")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::TargetType)
                    .col(AuditEvents::TargetId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    At,
    ActorId,
    Action,
    TargetType,
    TargetId,
    Ip,
    RequestId,
    Details,
    PrevHash,
    Hash,
}
