//! Password guesses are throttled before they are checked, never after: one check at a time per
//! login, and every guess counted (reserved) against its account before the password is
//! verified, so a burst of guesses sent at once is evaluated no more often than the limits allow
//! (SECURITY.md, finding 2). Counts are `incr`s, atomic in both hot stores.
//!
//! The tight limit is on one account from one address, and it is progressive: after
//! `FREE_FAILURES` the pair is locked for a minute, and each further failure doubles the lock up
//! to fifteen minutes. A classmate on the school's shared address can only hold an account back
//! briefly, a proctor's check-in lifts the lock (`forgive`), and passkeys are never throttled
//! here. The per-address limit is high because a whole school often sits behind one address.
use std::{net::IpAddr, time::Duration};

use crate::{error::ApiError, stores::hot::HotStore};

/// How long the account's and the address's counts live.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures of one account from one address before the pair is locked.
pub const FREE_FAILURES: i64 = 5;
pub const PER_ACCOUNT: i64 = 30;
pub const PER_ADDRESS: i64 = 300;
const FIRST_LOCK_SECS: u64 = 60;
const LONGEST_LOCK_SECS: u64 = 15 * 60;
/// How long a pair's failures are remembered, so the lock keeps growing for a patient guesser.
const PAIR_MEMORY: Duration = Duration::from_secs(60 * 60);
/// A check in flight holds its login this long at most (a crashed instance's hold runs out).
const IN_FLIGHT_HOLD: Duration = Duration::from_secs(30);

/// A guess allowed to be checked: it holds its login's one place and its reserved counts until
/// `failed` or `succeeded` gives them back.
pub struct Reservation {
    login: String,
    address: String,
    generation: String,
}

fn address(ip: Option<IpAddr>) -> String {
    ip.map(|i| i.to_string())
        .unwrap_or_else(|| "unknown".into())
}

impl Reservation {
    fn account_key(&self) -> String {
        format!("login-fail:acct:{}", self.login)
    }
    fn address_key(&self) -> String {
        format!("login-fail:ip:{}", self.address)
    }
    fn pair_key(&self) -> String {
        format!(
            "login-fail:acct-ip:{}:{}:{}",
            self.login, self.generation, self.address
        )
    }
    fn lock_key(&self) -> String {
        format!(
            "login-lock:{}:{}:{}",
            self.login, self.generation, self.address
        )
    }
}

fn in_flight_key(login: &str) -> String {
    format!("login-busy:{login}")
}

/// Bumped by `forgive`: every pair count and lock of the login is under its generation, so one
/// write lifts them all without a scan of the store.
fn generation_key(login: &str) -> String {
    format!("login-gen:{login}")
}

fn refused(retry_after_secs: u64) -> ApiError {
    ApiError::TooManyRequests {
        code: "too_many_login_attempts",
        retry_after_secs: retry_after_secs.max(1),
    }
}

/// Takes the login's one place and reserves this guess in the counts, or refuses with 429 and
/// `Retry-After` while the pair is locked, another check of the login is in flight, or a count is
/// at its limit. Nothing is left reserved when it refuses.
async fn reserve(
    hot: &dyn HotStore,
    login: &str,
    ip: Option<IpAddr>,
) -> Result<Reservation, ApiError> {
    let generation = hot
        .get(&generation_key(login))
        .await?
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_else(|| "0".into());
    let r = Reservation {
        login: login.to_owned(),
        address: address(ip),
        generation,
    };
    if let Some(secs) = hot.ttl(&r.lock_key()).await? {
        return Err(refused(secs));
    }
    let busy = in_flight_key(login);
    if hot.incr(&busy, 1, IN_FLIGHT_HOLD).await? > 1 {
        hot.incr(&busy, -1, IN_FLIGHT_HOLD).await?;
        return Err(refused(1));
    }
    let account = r.account_key();
    let over_account = match hot.incr(&account, 1, WINDOW).await {
        Ok(n) if n > PER_ACCOUNT => Some(account.as_str()),
        Ok(_) => None,
        Err(e) => {
            hot.incr(&busy, -1, IN_FLIGHT_HOLD).await?;
            return Err(e.into());
        }
    };
    // The address's count is read, not reserved: the check in flight per login already bounds
    // it, and a school's hundreds of right passwords at once behind one address must not be
    // refused as a burst.
    let address = r.address_key();
    let over = match over_account {
        Some(key) => Some(key),
        None => {
            let failures = hot
                .get(&address)
                .await?
                .and_then(|v| String::from_utf8(v).ok()?.parse::<i64>().ok())
                .unwrap_or(0);
            (failures >= PER_ADDRESS).then_some(address.as_str())
        }
    };
    if let Some(key) = over {
        let retry_after = hot.ttl(key).await?.unwrap_or(WINDOW.as_secs());
        hot.incr(&account, -1, WINDOW).await?;
        hot.incr(&busy, -1, IN_FLIGHT_HOLD).await?;
        return Err(refused(retry_after));
    }
    Ok(r)
}

/// Checks one password guess under the throttle: reserves it, runs `check` (`Some` when the
/// password is right), and settles the reservation by the outcome. A `check` that fails (a
/// store, the hashing queue) leaves the guess counted and frees the login.
pub async fn guarded<T>(
    hot: &dyn HotStore,
    login: &str,
    ip: Option<IpAddr>,
    check: impl std::future::Future<Output = Result<Option<T>, ApiError>>,
) -> Result<Option<T>, ApiError> {
    let reservation = reserve(hot, login, ip).await?;
    match check.await {
        Ok(Some(right)) => {
            succeeded(hot, reservation).await?;
            Ok(Some(right))
        }
        Ok(None) => {
            failed(hot, reservation).await?;
            Ok(None)
        }
        Err(e) => {
            abandoned(hot, reservation).await?;
            Err(e)
        }
    }
}

/// The guess was wrong: its reservation stays counted, the address's count grows, and so does
/// the pair's lock.
async fn failed(hot: &dyn HotStore, r: Reservation) -> Result<(), ApiError> {
    hot.incr(&r.address_key(), 1, WINDOW).await?;
    let failures = hot.incr(&r.pair_key(), 1, PAIR_MEMORY).await?;
    if let Some(secs) = lock_secs(failures) {
        hot.set(&r.lock_key(), b"1", Duration::from_secs(secs))
            .await?;
    }
    abandoned(hot, r).await
}

/// The guess was right: its reservation is given back and the pair's failures forgiven.
async fn succeeded(hot: &dyn HotStore, r: Reservation) -> Result<(), ApiError> {
    hot.incr(&r.account_key(), -1, WINDOW).await?;
    hot.delete(&r.pair_key()).await?;
    abandoned(hot, r).await
}

/// The check could not be made (a store failed): the guess stays counted, the login's place is
/// given back.
async fn abandoned(hot: &dyn HotStore, r: Reservation) -> Result<(), ApiError> {
    let key = in_flight_key(&r.login);
    // The hold expired while this check ran and another took a new one: below zero, the count
    // would let two checks run at once from then on.
    if hot.incr(&key, -1, IN_FLIGHT_HOLD).await? < 0 {
        hot.delete(&key).await?;
    }
    Ok(())
}

/// A proctor has seen the candidate in person: the account's locks and pair counts from every
/// address are lifted (the per-account and per-address counts stay).
pub async fn forgive(hot: &dyn HotStore, login: &str) -> Result<(), ApiError> {
    hot.incr(&generation_key(login), 1, PAIR_MEMORY).await?;
    Ok(())
}

/// After a proctor's check-in of `user`: lifts their locks, best effort (the check-in stands
/// whatever the hot store says).
pub async fn forgive_checked_in(
    db: &impl sea_orm::ConnectionTrait,
    hot: &dyn HotStore,
    user: uuid::Uuid,
) {
    let lifted = async {
        if let Some(account) = super::db::find_user(db, user).await? {
            forgive(hot, &account.login).await?;
        }
        Ok::<_, ApiError>(())
    };
    if let Err(e) = lifted.await {
        tracing::warn!(error = ?e, "sign-in locks not lifted after a check-in");
    }
}

/// How long a pair is locked after its `failures`-th failure: none before `FREE_FAILURES`, then
/// a minute doubling with each failure, at most fifteen.
fn lock_secs(failures: i64) -> Option<u64> {
    let beyond = u32::try_from(failures - FREE_FAILURES).ok()?;
    Some(
        FIRST_LOCK_SECS
            .saturating_mul(1u64.checked_shl(beyond).unwrap_or(u64::MAX))
            .min(LONGEST_LOCK_SECS),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_starts_at_a_minute_and_doubles_to_fifteen() {
        let cases = [
            (1, None, "the first failures are free"),
            (4, None, "still free"),
            (5, Some(60), "the fifth locks for a minute"),
            (6, Some(120), "then doubles"),
            (8, Some(480), "and doubles"),
            (9, Some(900), "up to fifteen minutes"),
            (70, Some(900), "and no further, however many"),
        ];
        for (failures, want, why) in cases {
            assert_eq!(lock_secs(failures), want, "{why}");
        }
    }

    #[tokio::test]
    async fn a_check_in_flight_holds_the_login_and_failures_lock_the_pair() {
        let hot = crate::stores::hot::MemoryHotStore::new();
        let ip = Some(IpAddr::from([10, 0, 0, 7]));
        let first = reserve(&hot, "hs.an", ip).await.expect("the first guess");
        assert!(
            reserve(&hot, "hs.an", ip).await.is_err(),
            "a second check of the same login waits"
        );
        assert!(
            reserve(&hot, "hs.binh", ip).await.is_ok(),
            "another login is not held"
        );
        failed(&hot, first).await.unwrap();
        for _ in 1..FREE_FAILURES {
            let r = reserve(&hot, "hs.an", ip).await.expect("still free");
            failed(&hot, r).await.unwrap();
        }
        let locked = reserve(&hot, "hs.an", ip).await;
        assert!(
            matches!(
                locked,
                Err(ApiError::TooManyRequests {
                    retry_after_secs: 59..=60,
                    ..
                })
            ),
            "the fifth failure locks the pair for a minute"
        );
        let elsewhere = reserve(&hot, "hs.an", Some(IpAddr::from([10, 0, 0, 8]))).await;
        assert!(
            elsewhere.is_ok(),
            "the lock is on the pair, not the account"
        );
        failed(&hot, elsewhere.unwrap()).await.unwrap();
        forgive(&hot, "hs.an").await.unwrap();
        assert!(
            reserve(&hot, "hs.an", ip).await.is_ok(),
            "a proctor's check-in lifts the lock"
        );
    }
}
