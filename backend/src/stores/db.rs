//! The system of record: PostgreSQL in production, a SQLite file when embedded.
use std::{path::Path, time::Duration};

use anyhow::Context;
use migration::MigratorTrait;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};

use super::hot::redact_url;

pub fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("hocthi.db").display())
}

pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5));
    if url.starts_with("sqlite:") {
        // SQLite allows one writer; one connection means no SQLITE_BUSY between our own
        // transactions. The embedded mode serves one school, not a province.
        options.max_connections(1).min_connections(1);
    } else {
        options
            .max_connections(20)
            .min_connections(2)
            // Plan each search with its own words: a generic plan for `LIKE $1` cannot use the
            // trigram or prefix indexes and scans instead.
            .map_sqlx_postgres_opts(|o| o.options([("plan_cache_mode", "force_custom_plan")]));
    }
    let db = Database::connect(options)
        .await
        .with_context(|| format!("cannot open the database {}", redact_url(url)))?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        )
        .await
        .context("cannot switch SQLite to WAL")?;
    }
    Ok(db)
}

pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    migration::Migrator::up(db, None)
        .await
        .context("database migration failed")
}
