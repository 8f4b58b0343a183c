//! Failed sign-ins are counted per account from one address, per account overall and per
//! address, in the hot store. The per-address limit is high because a whole school often sits
//! behind one NAT address; the tight limit is on one account from one address.
use std::{net::IpAddr, time::Duration};

use crate::{error::ApiError, stores::hot::HotStore};

pub const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const PER_ACCOUNT_AND_ADDRESS: i64 = 5;
pub const PER_ACCOUNT: i64 = 30;
pub const PER_ADDRESS: i64 = 300;

fn keys(login: &str, ip: Option<IpAddr>) -> [(String, i64); 3] {
    let ip = ip
        .map(|i| i.to_string())
        .unwrap_or_else(|| "unknown".into());
    [
        (
            format!("login-fail:acct-ip:{login}:{ip}"),
            PER_ACCOUNT_AND_ADDRESS,
        ),
        (format!("login-fail:acct:{login}"), PER_ACCOUNT),
        (format!("login-fail:ip:{ip}"), PER_ADDRESS),
    ]
}

/// Refuses with 429 and `Retry-After` while any counter is at its limit.
pub async fn check(hot: &dyn HotStore, login: &str, ip: Option<IpAddr>) -> Result<(), ApiError> {
    for (key, limit) in keys(login, ip) {
        let count = match hot.get(&key).await.map_err(ApiError::from)? {
            Some(v) => std::str::from_utf8(&v)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(0),
            None => 0,
        };
        if count >= limit {
            let retry_after_secs = hot
                .ttl(&key)
                .await
                .map_err(ApiError::from)?
                .unwrap_or(WINDOW.as_secs());
            return Err(ApiError::TooManyRequests {
                code: "too_many_login_attempts",
                retry_after_secs,
            });
        }
    }
    Ok(())
}

pub async fn record_failure(
    hot: &dyn HotStore,
    login: &str,
    ip: Option<IpAddr>,
) -> Result<(), ApiError> {
    for (key, _) in keys(login, ip) {
        hot.incr(&key, 1, WINDOW).await.map_err(ApiError::from)?;
    }
    Ok(())
}

/// A success from an address forgives that address's failures for the account.
pub async fn record_success(
    hot: &dyn HotStore,
    login: &str,
    ip: Option<IpAddr>,
) -> Result<(), ApiError> {
    let [(key, _), ..] = keys(login, ip);
    hot.delete(&key).await.map_err(ApiError::from)
}
