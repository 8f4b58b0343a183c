//! A fresh step-up: the session's owner proved their presence again (password typed again)
//! within the last few minutes. What only the person themself may see now, such as their plain
//! ID number, asks for one, so a stolen or borrowed session alone does not reveal it.
use uuid::Uuid;

use crate::{error::ApiError, stores::hot::HotStore};

/// How long a step-up lasts.
pub const FRESH: chrono::Duration = chrono::Duration::minutes(5);

fn key(session: Uuid) -> String {
    format!("step-up:{session}")
}

pub async fn remember(hot: &dyn HotStore, session: Uuid) -> Result<(), ApiError> {
    let ttl = FRESH.to_std().expect("a positive duration");
    hot.set(&key(session), b"1", ttl).await?;
    Ok(())
}

pub async fn is_fresh(hot: &dyn HotStore, session: Uuid) -> Result<bool, ApiError> {
    Ok(hot.get(&key(session)).await?.is_some())
}
