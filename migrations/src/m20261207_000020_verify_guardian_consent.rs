use sea_orm_migration::{prelude::*, schema::*};

/// A guardian's consent for a student under 16 counts once someone answerable has verified it:
/// who (a school admin), how, and when. Consents given before by a guardian stay unverified.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            uuid_null(Consents::GuardianVerifiedBy),
            timestamp_with_time_zone_null(Consents::GuardianVerifiedAt),
            string_null(Consents::GuardianVerification),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Consents::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Consents::GuardianVerification,
            Consents::GuardianVerifiedAt,
            Consents::GuardianVerifiedBy,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Consents::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Consents {
    Table,
    GuardianVerifiedBy,
    GuardianVerifiedAt,
    GuardianVerification,
}
