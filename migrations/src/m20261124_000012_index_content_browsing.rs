use sea_orm_migration::{prelude::*, sea_orm::ConnectionTrait};

/// Indexes that let browsing read the newest (or most used) items of a subject in order and stop
/// after one page, and, on PostgreSQL with pg_trgm, a trigram index for word search.
#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: [(&str, &str); 3] = [
    ("idx_content_items_subject_grade_id", "subject, grade, id"),
    ("idx_content_items_subject_id", "subject, id"),
    ("idx_content_items_subject_views", "subject, views, id"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, columns) in INDEXES {
            db.execute_unprepared(&format!(
                "CREATE INDEX IF NOT EXISTS {name} ON content_items ({columns})"
            ))
            .await?;
        }
        if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
            // pg_trgm ships with PostgreSQL; where the role may not create extensions, search
            // still works, by scanning.
            let available = db
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'",
                ))
                .await?
                .is_some();
            if available
                && db
                    .execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                    .await
                    .is_ok()
            {
                db.execute_unprepared(
                    "CREATE INDEX IF NOT EXISTS idx_content_items_search \
                     ON content_items USING gin (search_text gin_trgm_ops)",
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX IF EXISTS idx_content_items_search")
            .await?;
        for (name, _) in INDEXES {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        Ok(())
    }
}
