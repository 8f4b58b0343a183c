use sea_orm_migration::{
    prelude::*,
    schema::*,
    sea_orm::{ConnectionTrait, DatabaseBackend},
};

/// An exam's explicit staff: its organisers and its essay markers, as space-padded lists of
/// user ids (like a room's proctors), read with the exam row so a check costs no query. Existing
/// exams keep their creator as their organiser.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Exams::Organisers, Exams::Markers] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Exams::Table)
                        .add_column(text(column).default(" "))
                        .to_owned(),
                )
                .await?;
        }
        // The creator's id as text: PostgreSQL stores a uuid, SQLite its 16 bytes.
        let creator = match manager.get_database_backend() {
            DatabaseBackend::Sqlite => {
                "lower(substr(hex(created_by), 1, 8) || '-' || substr(hex(created_by), 9, 4) || '-' \
                 || substr(hex(created_by), 13, 4) || '-' || substr(hex(created_by), 17, 4) || '-' \
                 || substr(hex(created_by), 21))"
            }
            _ => "CAST(created_by AS TEXT)",
        };
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "UPDATE exams SET organisers = ' ' || {creator} || ' '"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Exams::Markers, Exams::Organisers] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Exams::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Exams {
    Table,
    Organisers,
    Markers,
}
