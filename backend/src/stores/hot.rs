//! The hot store: ephemeral state that may be lost or rebuilt (rate limits, ceremony state,
//! revocations until expiry, presence, pub/sub). Redis in production, in-process when embedded.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context;
use async_trait::async_trait;
use futures_util::{StreamExt, stream::BoxStream};
use tokio::sync::broadcast;

#[async_trait]
pub trait HotStore: Send + Sync + 'static {
    async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>>;
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<()>;
    /// Returns the value and deletes it in one step, so only one caller ever gets it.
    async fn take(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>>;
    async fn delete(&self, key: &str) -> anyhow::Result<()>;
    /// Adds `by` and returns the new value; a counter that did not exist expires after `ttl`.
    async fn incr(&self, key: &str, by: i64, ttl: Duration) -> anyhow::Result<i64>;
    /// Seconds until `key` expires, if it exists and has an expiry.
    async fn ttl(&self, key: &str) -> anyhow::Result<Option<u64>>;
    async fn publish(&self, channel: &str, message: &[u8]) -> anyhow::Result<()>;
    /// Messages published on `channel` from now on, by any instance.
    async fn subscribe(&self, channel: &str) -> anyhow::Result<BoxStream<'static, Vec<u8>>>;
    async fn ping(&self) -> anyhow::Result<()>;
    fn kind(&self) -> &'static str;
    /// Stores `value` under `version` unless the key holds a newer or equal version already, so
    /// copies written out of order (or by a reader holding an older row) never replace a newer
    /// one. Returns whether it was stored. Read it back with `get_versioned`.
    async fn set_if_newer(
        &self,
        key: &str,
        version: i64,
        value: &[u8],
        ttl: Duration,
    ) -> anyhow::Result<bool>;

    /// A value stored by `set_if_newer`, with its version.
    async fn get_versioned(&self, key: &str) -> anyhow::Result<Option<(i64, Vec<u8>)>> {
        Ok(self
            .get(key)
            .await?
            .and_then(|stored| split_version(&stored).map(|(v, value)| (v, value.to_vec()))))
    }

    /// Several commands in one round trip (a Redis pipeline), answered in order. Not atomic:
    /// each command is what it would be alone, so a request that needs a few independent
    /// things from the store (a heartbeat) pays one round trip instead of one per thing.
    async fn batch(&self, ops: &[Op<'_>]) -> anyhow::Result<Vec<Reply>>;

    /// The keys that start with `prefix` (without the store's own prefix), for rebuilding what
    /// an instance keeps in memory; a full scan, so not for request paths.
    async fn keys(&self, prefix: &str) -> anyhow::Result<Vec<String>>;
}

/// One command of a `batch`.
pub enum Op<'a> {
    Get(&'a str),
    Set(&'a str, &'a [u8], Duration),
    /// `incr`: adds, and a new counter expires after the duration.
    Incr(&'a str, i64, Duration),
    Publish(&'a str, &'a [u8]),
    /// `SETBIT key offset 1`: sets one bit of a bitmap (bit 0 is the first byte's highest, as in
    /// Redis), growing it as needed; a new bitmap expires after the duration.
    SetBit(&'a str, u32, Duration),
}

/// The bits set in a bitmap written by `Op::SetBit`, read back with a `Get`.
pub fn bit_is_set(bitmap: &[u8], offset: u32) -> bool {
    bitmap
        .get(offset as usize / 8)
        .is_some_and(|byte| byte & (0x80 >> (offset % 8)) != 0)
}

/// The answer to one command of a `batch`, in the order of the commands.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    Value(Option<Vec<u8>>),
    Count(i64),
    Done,
}

/// Versioned values are stored as `{version}|{value}`; read raw (a `batch`'s Get), this splits
/// them.
pub fn split_version(stored: &[u8]) -> Option<(i64, &[u8])> {
    let bar = stored.iter().position(|b| *b == b'|')?;
    let version = std::str::from_utf8(&stored[..bar]).ok()?.parse().ok()?;
    Some((version, &stored[bar + 1..]))
}

fn with_version(version: i64, value: &[u8]) -> Vec<u8> {
    let mut stored = format!("{version}|").into_bytes();
    stored.extend_from_slice(value);
    stored
}

pub type SharedHotStore = Arc<dyn HotStore>;

// ---------------------------------------------------------------------------------------------
// In-process

struct Entry {
    value: Vec<u8>,
    expires: Instant,
}

#[derive(Default)]
pub struct MemoryHotStore {
    entries: Mutex<HashMap<String, Entry>>,
    channels: Mutex<HashMap<String, broadcast::Sender<Vec<u8>>>>,
}

impl MemoryHotStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn live<'a>(
        map: &'a mut HashMap<String, Entry>,
        key: &str,
        now: Instant,
    ) -> Option<&'a mut Entry> {
        if map.get(key).is_some_and(|e| e.expires <= now) {
            map.remove(key);
        }
        map.get_mut(key)
    }

    fn set_bit(&self, key: &str, offset: u32, ttl: Duration) {
        let now = Instant::now();
        let mut map = self.entries.lock().expect("hot store lock");
        if Self::live(&mut map, key, now).is_none() {
            Self::sweep(&mut map, now);
            map.insert(
                key.to_owned(),
                Entry {
                    value: Vec::new(),
                    expires: now + ttl,
                },
            );
        }
        let bitmap = &mut map.get_mut(key).expect("just made live").value;
        let byte = offset as usize / 8;
        if bitmap.len() <= byte {
            bitmap.resize(byte + 1, 0);
        }
        bitmap[byte] |= 0x80 >> (offset % 8);
    }

    /// Drops expired entries now and then so an idle key does not live forever.
    fn sweep(map: &mut HashMap<String, Entry>, now: Instant) {
        if map.len() > 10_000 {
            map.retain(|_, e| e.expires > now);
        }
    }
}

#[async_trait]
impl HotStore for MemoryHotStore {
    async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let mut map = self.entries.lock().expect("hot store lock");
        Ok(Self::live(&mut map, key, Instant::now()).map(|e| e.value.clone()))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<()> {
        let now = Instant::now();
        let mut map = self.entries.lock().expect("hot store lock");
        Self::sweep(&mut map, now);
        map.insert(
            key.to_owned(),
            Entry {
                value: value.to_vec(),
                expires: now + ttl,
            },
        );
        Ok(())
    }

    async fn take(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let mut map = self.entries.lock().expect("hot store lock");
        Ok(map
            .remove(key)
            .filter(|e| e.expires > Instant::now())
            .map(|e| e.value))
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.entries.lock().expect("hot store lock").remove(key);
        Ok(())
    }

    async fn incr(&self, key: &str, by: i64, ttl: Duration) -> anyhow::Result<i64> {
        let now = Instant::now();
        let mut map = self.entries.lock().expect("hot store lock");
        let current = match Self::live(&mut map, key, now) {
            Some(entry) => {
                let n: i64 = std::str::from_utf8(&entry.value)?.parse()?;
                entry.value = (n + by).to_string().into_bytes();
                return Ok(n + by);
            }
            None => by,
        };
        Self::sweep(&mut map, now);
        map.insert(
            key.to_owned(),
            Entry {
                value: current.to_string().into_bytes(),
                expires: now + ttl,
            },
        );
        Ok(current)
    }

    async fn ttl(&self, key: &str) -> anyhow::Result<Option<u64>> {
        let now = Instant::now();
        let mut map = self.entries.lock().expect("hot store lock");
        Ok(Self::live(&mut map, key, now)
            .map(|e| e.expires.saturating_duration_since(now).as_secs().max(1)))
    }

    async fn publish(&self, channel: &str, message: &[u8]) -> anyhow::Result<()> {
        if let Some(sender) = self.channels.lock().expect("hot store lock").get(channel) {
            // No subscriber is not an error: pub/sub is fire and forget.
            let _ = sender.send(message.to_vec());
        }
        Ok(())
    }

    async fn subscribe(&self, channel: &str) -> anyhow::Result<BoxStream<'static, Vec<u8>>> {
        let receiver = {
            let mut channels = self.channels.lock().expect("hot store lock");
            channels.retain(|_, s| s.receiver_count() > 0);
            channels
                .entry(channel.to_owned())
                .or_insert_with(|| broadcast::channel(1024).0)
                .subscribe()
        };
        let stream = futures_util::stream::unfold(receiver, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(message) => return Some((message, rx)),
                    // A slow subscriber skips what it missed, as with Redis.
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        Ok(stream.boxed())
    }

    async fn ping(&self) -> anyhow::Result<()> {
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn batch(&self, ops: &[Op<'_>]) -> anyhow::Result<Vec<Reply>> {
        let mut replies = Vec::with_capacity(ops.len());
        for op in ops {
            replies.push(match *op {
                Op::Get(key) => Reply::Value(self.get(key).await?),
                Op::Set(key, value, ttl) => {
                    self.set(key, value, ttl).await?;
                    Reply::Done
                }
                Op::Incr(key, by, ttl) => Reply::Count(self.incr(key, by, ttl).await?),
                Op::Publish(channel, message) => {
                    self.publish(channel, message).await?;
                    Reply::Done
                }
                Op::SetBit(key, offset, ttl) => {
                    self.set_bit(key, offset, ttl);
                    Reply::Done
                }
            });
        }
        Ok(replies)
    }

    async fn keys(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        let now = Instant::now();
        let map = self.entries.lock().expect("hot store lock");
        Ok(map
            .iter()
            .filter(|(k, e)| k.starts_with(prefix) && e.expires > now)
            .map(|(k, _)| k.clone())
            .collect())
    }

    async fn set_if_newer(
        &self,
        key: &str,
        version: i64,
        value: &[u8],
        ttl: Duration,
    ) -> anyhow::Result<bool> {
        let now = Instant::now();
        let mut map = self.entries.lock().expect("hot store lock");
        let held = Self::live(&mut map, key, now)
            .and_then(|e| split_version(&e.value))
            .map(|(v, _)| v);
        if held.is_some_and(|v| v >= version) {
            return Ok(false);
        }
        Self::sweep(&mut map, now);
        map.insert(
            key.to_owned(),
            Entry {
                value: with_version(version, value),
                expires: now + ttl,
            },
        );
        Ok(true)
    }
}

// ---------------------------------------------------------------------------------------------
// Redis

pub struct RedisHotStore {
    client: redis::Client,
    manager: redis::aio::ConnectionManager,
    prefix: String,
    set_if_newer: redis::Script,
}

/// Compare-and-set on the version prefix, atomic in Redis.
const SET_IF_NEWER: &str = r"
local held = redis.call('GET', KEYS[1])
if held then
  local v = tonumber(string.match(held, '^(-?%d+)|'))
  if v and v >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
";

impl RedisHotStore {
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).context("REDIS_URL is not a valid Redis URL")?;
        // While Redis restarts a request waits at most a second for it, then gets 503 with
        // Retry-After, rather than hanging on reconnect attempts.
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(std::time::Duration::from_secs(1)))
            .set_response_timeout(Some(std::time::Duration::from_secs(1)))
            .set_number_of_retries(1);
        let manager = redis::aio::ConnectionManager::new_with_config(client.clone(), config)
            .await
            .with_context(|| format!("cannot connect to Redis at {}", redact_url(url)))?;
        Ok(Self {
            client,
            manager,
            prefix: prefix.to_owned(),
            set_if_newer: redis::Script::new(SET_IF_NEWER),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }
}

/// `text` matched literally by a Redis glob pattern.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Hides a password in a URL before it goes into a message or a log.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

fn millis(ttl: Duration) -> u64 {
    (ttl.as_millis() as u64).max(1)
}

#[async_trait]
impl HotStore for RedisHotStore {
    async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let mut conn = self.manager.clone();
        Ok(redis::cmd("GET")
            .arg(self.key(key))
            .query_async(&mut conn)
            .await?)
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<()> {
        let mut conn = self.manager.clone();
        let _: () = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    async fn take(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let mut conn = self.manager.clone();
        Ok(redis::cmd("GETDEL")
            .arg(self.key(key))
            .query_async(&mut conn)
            .await?)
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let mut conn = self.manager.clone();
        let _: () = redis::cmd("DEL")
            .arg(self.key(key))
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    async fn incr(&self, key: &str, by: i64, ttl: Duration) -> anyhow::Result<i64> {
        // One round trip; the expiry is set only when the counter is new.
        match self.batch(&[Op::Incr(key, by, ttl)]).await?.pop() {
            Some(Reply::Count(n)) => Ok(n),
            _ => anyhow::bail!("INCRBY answered without a count"),
        }
    }

    async fn ttl(&self, key: &str) -> anyhow::Result<Option<u64>> {
        let mut conn = self.manager.clone();
        let ms: i64 = redis::cmd("PTTL")
            .arg(self.key(key))
            .query_async(&mut conn)
            .await?;
        Ok((ms > 0).then(|| (ms as u64).div_ceil(1000)))
    }

    async fn publish(&self, channel: &str, message: &[u8]) -> anyhow::Result<()> {
        let mut conn = self.manager.clone();
        let _: i64 = redis::cmd("PUBLISH")
            .arg(self.key(channel))
            .arg(message)
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    async fn subscribe(&self, channel: &str) -> anyhow::Result<BoxStream<'static, Vec<u8>>> {
        // Pub/sub needs a connection of its own; the shared manager keeps serving commands.
        let mut pubsub = self.client.get_async_pubsub().await?;
        pubsub.subscribe(self.key(channel)).await?;
        Ok(pubsub
            .into_on_message()
            .map(|msg| msg.get_payload_bytes().to_vec())
            .boxed())
    }

    async fn ping(&self) -> anyhow::Result<()> {
        let mut conn = self.manager.clone();
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn batch(&self, ops: &[Op<'_>]) -> anyhow::Result<Vec<Reply>> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for op in ops {
            match *op {
                Op::Get(key) => {
                    pipe.cmd("GET").arg(self.key(key));
                }
                Op::Set(key, value, ttl) => {
                    pipe.cmd("SET")
                        .arg(self.key(key))
                        .arg(value)
                        .arg("PX")
                        .arg(millis(ttl))
                        .ignore();
                }
                Op::Incr(key, by, ttl) => {
                    let key = self.key(key);
                    pipe.cmd("INCRBY")
                        .arg(&key)
                        .arg(by)
                        .cmd("PEXPIRE")
                        .arg(&key)
                        .arg(millis(ttl))
                        .arg("NX")
                        .ignore();
                }
                Op::Publish(channel, message) => {
                    pipe.cmd("PUBLISH")
                        .arg(self.key(channel))
                        .arg(message)
                        .ignore();
                }
                Op::SetBit(key, offset, ttl) => {
                    let key = self.key(key);
                    pipe.cmd("SETBIT")
                        .arg(&key)
                        .arg(offset)
                        .arg(1)
                        .ignore()
                        .cmd("PEXPIRE")
                        .arg(&key)
                        .arg(millis(ttl))
                        .arg("NX")
                        .ignore();
                }
            }
        }
        let mut conn = self.manager.clone();
        // Ignored commands give no value back: what is left lines up with the Gets and Incrs.
        let values: Vec<redis::Value> = pipe.query_async(&mut conn).await?;
        let mut values = values.into_iter();
        ops.iter()
            .map(|op| match op {
                Op::Get(_) => Ok(Reply::Value(redis::from_redis_value(
                    values.next().context("a pipeline answered short")?,
                )?)),
                Op::Incr(..) => Ok(Reply::Count(redis::from_redis_value(
                    values.next().context("a pipeline answered short")?,
                )?)),
                Op::Set(..) | Op::Publish(..) | Op::SetBit(..) => Ok(Reply::Done),
            })
            .collect()
    }

    async fn keys(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        let mut conn = self.manager.clone();
        let pattern = format!("{}*", glob_escape(&self.key(prefix)));
        let mut cursor: u64 = 0;
        let mut found = Vec::new();
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await?;
            found.extend(
                keys.into_iter()
                    .filter_map(|k| k.strip_prefix(&self.prefix).map(str::to_owned)),
            );
            if next == 0 {
                return Ok(found);
            }
            cursor = next;
        }
    }

    async fn set_if_newer(
        &self,
        key: &str,
        version: i64,
        value: &[u8],
        ttl: Duration,
    ) -> anyhow::Result<bool> {
        let mut conn = self.manager.clone();
        let stored: i64 = self
            .set_if_newer
            .key(self.key(key))
            .arg(version)
            .arg(with_version(version, value))
            .arg(millis(ttl))
            .invoke_async(&mut conn)
            .await?;
        Ok(stored == 1)
    }
}

/// A fresh in-process store: each application gets its own, so no prefix is needed.
pub fn memory() -> SharedHotStore {
    Arc::new(MemoryHotStore::new())
}
