//! The system of record: PostgreSQL in production, a SQLite file when embedded.
use std::{path::Path, time::Duration};

use anyhow::Context;
use migration::MigratorTrait;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};

use super::hot::redact_url;

pub fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("hocthi.db").display())
}

/// Opens the store; `pool_size` bounds PostgreSQL's connections (SQLite keeps one).
pub async fn connect(url: &str, pool_size: u32) -> anyhow::Result<DatabaseConnection> {
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
            .max_connections(pool_size)
            .min_connections(pool_size.min(2));
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

/// A transaction in which PostgreSQL plans each statement for its own values, for searches:
/// a generic plan for `LIKE $1` can use neither the trigram nor a prefix index and scans. Only
/// there: planning every execution of the exam's statements cost PostgreSQL a large share of
/// its CPU at a start spike (docs/PERFORMANCE.md). Commit it (or drop it) when done.
pub async fn planned_per_search(
    db: &DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
    use sea_orm::TransactionTrait;
    let txn = db.begin().await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan")
            .await?;
    }
    Ok(txn)
}

pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    migration::Migrator::up(db, None)
        .await
        .context("database migration failed")
}
