//! Typed settings, read once at start from the environment (12-factor). Secrets have no
//! defaults in any committed file; in embedded mode they are generated into the data folder.
use std::{collections::HashMap, fmt, net::IpAddr, path::PathBuf, time::Duration};

/// A secret string that never prints itself.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Clone, Debug)]
pub struct S3Settings {
    /// Where the service talks to the store; `None` means AWS itself.
    pub endpoint: Option<String>,
    /// Host that clients reach for presigned URLs (defaults to `endpoint`).
    pub public_endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    /// Key prefix inside the bucket, so several deployments or tests can share one bucket.
    pub prefix: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub listen: String,
    pub data_dir: PathBuf,
    /// Base URL clients use to reach this service (for signed blob URLs); defaults to
    /// `http://<bound address>`.
    pub public_url: Option<String>,
    pub database_url: Option<String>,
    /// PostgreSQL connections this instance keeps at most (SQLite always uses one).
    pub db_pool_size: u32,
    pub redis_url: Option<String>,
    /// Prefix of every hot-store key and channel.
    pub hot_prefix: String,
    pub s3: Option<S3Settings>,
    pub bootstrap_admin: Option<(String, Secret)>,
    /// Current JWT signing key (PKCS#8 Ed25519, base64); generated into the data folder if unset.
    pub jwt_signing_key: Option<Secret>,
    /// Earlier signing keys still published in the JWKS so their tokens verify until expiry.
    pub jwt_previous_keys: Vec<Secret>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub trusted_proxies: Vec<IpAddr>,
    pub cors_origins: Vec<String>,
    pub log_format: LogFormat,
    /// Password hashes computed at once; the rest wait, off the async workers.
    pub password_hash_concurrency: usize,
    /// How far below the request workers the hashing threads run (niceness added, 0 to 19).
    pub password_hash_nice: i32,
    /// HTTP worker threads (default: one per CPU).
    pub workers: usize,
    /// Seed `content-samples/` automatically on first start of an empty embedded database.
    pub seed_on_first_start: bool,
    pub samples_dir: PathBuf,
    /// Network grace after an attempt's deadline during which saves still count.
    pub save_grace: Duration,
    /// Saves waiting for the group-commit writer before new ones get 503.
    pub save_queue: usize,
    /// Requests served at once by this instance before new ones get 503 (0: no limit).
    pub max_in_flight: usize,
    /// How often the sweeper submits expired attempts; zero turns it off (tests drive it).
    pub sweep_interval: Duration,
    /// How often the exam page sends its heartbeat (the province load test models 30 s).
    pub heartbeat_interval: Duration,
    /// A gap this long with no instance alive is an outage whose time is given back.
    pub outage_threshold: Duration,
    /// The secret personal data is hashed and sealed with (base64, 32+ bytes); generated into
    /// the data folder when unset. Every instance needs the same one.
    pub pii_key: Option<Secret>,
    /// The secret the audit chain and its checkpoints are keyed with (base64, 32+ bytes);
    /// generated into the data folder when unset. Keep it out of the database's reach.
    pub audit_key: Option<Secret>,
    /// Files holding those two secrets (base64), for a secret store that mounts files
    /// (`HOCTHI_PII_KEY_FILE`, `HOCTHI_AUDIT_KEY_FILE`); the variables win when both are set.
    pub pii_key_file: Option<std::path::PathBuf>,
    pub audit_key_file: Option<std::path::PathBuf>,
    /// Anonymous passkey sign-ins that may start in five minutes from one address, and in all.
    pub passkey_starts_per_address: i64,
    pub passkey_starts_total: i64,
    /// Seconds between signed checkpoints of the audit chain written to the blob store.
    pub audit_checkpoint_every: Duration,
    /// A bearer token Prometheus sends for `/metrics`; without one, only this host may read it.
    pub metrics_token: Option<Secret>,
    /// Content repository limits, in bytes.
    pub content_max_file: u64,
    pub content_quota_teacher: u64,
    pub content_quota_school: u64,
    /// Uploads above this size go in parts of `multipart_part_size`.
    pub multipart_threshold: u64,
    pub multipart_part_size: u64,
    /// WebAuthn relying-party id (a domain); from the public URL's host, else `localhost`.
    pub webauthn_rp_id: Option<String>,
    /// Origins passkey ceremonies may come from; default the public URL, else
    /// `http://localhost:<port>`. Checked against the RP id at start-up.
    pub webauthn_origins: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

/// PostgreSQL connections per instance when `HOCTHI_DB_POOL_SIZE` is unset.
pub const DEFAULT_DB_POOL_SIZE: u32 = 20;

fn bad(name: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        name,
        problem: problem.into(),
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| vars.get(name).cloned())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let listen = get("HOCTHI_LISTEN").unwrap_or_else(|| "127.0.0.1:8080".into());
        if listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(bad(
                "HOCTHI_LISTEN",
                format!("`{listen}` is not an address like 127.0.0.1:8080"),
            ));
        }
        let database_url = get("DATABASE_URL");
        if let Some(url) = &database_url
            && !(url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.starts_with("sqlite:"))
        {
            return Err(bad(
                "DATABASE_URL",
                "must start with postgres://, postgresql:// or sqlite:",
            ));
        }
        let redis_url = get("REDIS_URL");
        if let Some(url) = &redis_url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            return Err(bad("REDIS_URL", "must start with redis:// or rediss://"));
        }
        let s3 = match (get("S3_BUCKET"), get("S3_ENDPOINT")) {
            (None, None) => None,
            (None, Some(_)) => return Err(bad("S3_BUCKET", "is required when S3_ENDPOINT is set")),
            (Some(bucket), endpoint) => Some(S3Settings {
                public_endpoint: get("S3_PUBLIC_ENDPOINT").or_else(|| endpoint.clone()),
                endpoint,
                bucket,
                region: get("S3_REGION").unwrap_or_else(|| "us-east-1".into()),
                access_key_id: get("S3_ACCESS_KEY_ID")
                    .ok_or_else(|| bad("S3_ACCESS_KEY_ID", "is required when S3_BUCKET is set"))?,
                secret_access_key: Secret::new(get("S3_SECRET_ACCESS_KEY").ok_or_else(|| {
                    bad("S3_SECRET_ACCESS_KEY", "is required when S3_BUCKET is set")
                })?),
                prefix: get("S3_PREFIX")
                    .map(|p| format!("{}/", p.trim_matches('/')))
                    .unwrap_or_default(),
            }),
        };
        let bootstrap_admin = match get("HOCTHI_BOOTSTRAP_ADMIN") {
            None => None,
            Some(value) => {
                let (login, password) = value
                    .split_once(':')
                    .ok_or_else(|| bad("HOCTHI_BOOTSTRAP_ADMIN", "must be email:password"))?;
                if login.is_empty() || password.chars().count() < 8 {
                    return Err(bad(
                        "HOCTHI_BOOTSTRAP_ADMIN",
                        "needs a login and a password of at least 8 characters",
                    ));
                }
                Some((login.to_owned(), Secret::new(password)))
            }
        };
        let trusted_proxies = list(get("HOCTHI_TRUSTED_PROXIES"))
            .into_iter()
            .map(|p| {
                p.parse().map_err(|_| {
                    bad(
                        "HOCTHI_TRUSTED_PROXIES",
                        format!("`{p}` is not an IP address"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        let log_format = match get("HOCTHI_LOG_FORMAT").as_deref() {
            None if database_url.is_some() => LogFormat::Json,
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(bad(
                    "HOCTHI_LOG_FORMAT",
                    format!("`{other}` is neither json nor pretty"),
                ));
            }
        };
        Ok(Self {
            listen,
            data_dir: PathBuf::from(get("HOCTHI_DATA_DIR").unwrap_or_else(|| "./data".into())),
            public_url: get("HOCTHI_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_owned()),
            database_url,
            redis_url,
            hot_prefix: get("HOCTHI_HOT_PREFIX").unwrap_or_else(|| "hocthi:".into()),
            s3,
            bootstrap_admin,
            jwt_signing_key: get("HOCTHI_JWT_SIGNING_KEY").map(Secret::new),
            jwt_previous_keys: list(get("HOCTHI_JWT_PREVIOUS_KEYS"))
                .into_iter()
                .map(Secret::new)
                .collect(),
            access_token_ttl: Duration::from_secs(seconds(
                &get,
                "HOCTHI_ACCESS_TOKEN_TTL_SECS",
                15 * 60,
            )?),
            refresh_token_ttl: Duration::from_secs(seconds(
                &get,
                "HOCTHI_REFRESH_TOKEN_TTL_SECS",
                14 * 24 * 3600,
            )?),
            trusted_proxies,
            cors_origins: list(get("HOCTHI_CORS_ORIGINS")),
            log_format,
            password_hash_concurrency: positive(&get, "HOCTHI_PASSWORD_HASH_CONCURRENCY")?
                .unwrap_or_else(cpus),
            password_hash_nice: match get("HOCTHI_PASSWORD_HASH_NICE") {
                // 0: at twice the capacity a lower priority starves the sign-ins into the exam
                // (docs/performance-notebook, "Re-measured 2026-12-03").
                None => 0,
                Some(v) => v
                    .parse()
                    .ok()
                    .filter(|n| (0..=19).contains(n))
                    .ok_or_else(|| {
                        bad("HOCTHI_PASSWORD_HASH_NICE", "must be a number from 0 to 19")
                    })?,
            },
            workers: positive(&get, "HOCTHI_WORKERS")?.unwrap_or_else(cpus),
            seed_on_first_start: get("HOCTHI_SEED_ON_FIRST_START")
                .map(|v| v != "0" && v != "false")
                .unwrap_or(true),
            samples_dir: PathBuf::from(
                get("HOCTHI_SAMPLES_DIR").unwrap_or_else(|| "content-samples".into()),
            ),
            save_grace: Duration::from_secs(seconds(&get, "HOCTHI_SAVE_GRACE_SECS", 15)?),
            save_queue: positive(&get, "HOCTHI_SAVE_QUEUE")?.unwrap_or(50_000),
            db_pool_size: positive(&get, "HOCTHI_DB_POOL_SIZE")?.unwrap_or(DEFAULT_DB_POOL_SIZE),
            max_in_flight: match get("HOCTHI_MAX_IN_FLIGHT") {
                None => 512,
                Some(v) => v
                    .parse()
                    .map_err(|_| bad("HOCTHI_MAX_IN_FLIGHT", "must be a number (0: no limit)"))?,
            },
            sweep_interval: Duration::from_millis(match get("HOCTHI_SWEEP_INTERVAL_MS") {
                None => 1000,
                Some(v) => v.parse().map_err(|_| {
                    bad(
                        "HOCTHI_SWEEP_INTERVAL_MS",
                        "must be a number of milliseconds",
                    )
                })?,
            }),
            heartbeat_interval: Duration::from_secs(seconds(&get, "HOCTHI_HEARTBEAT_SECS", 30)?),
            outage_threshold: Duration::from_secs(seconds(
                &get,
                "HOCTHI_OUTAGE_THRESHOLD_SECS",
                20,
            )?),
            pii_key: get("HOCTHI_PII_KEY").map(Secret::new),
            audit_key: get("HOCTHI_AUDIT_KEY").map(Secret::new),
            pii_key_file: get("HOCTHI_PII_KEY_FILE").map(Into::into),
            audit_key_file: get("HOCTHI_AUDIT_KEY_FILE").map(Into::into),
            passkey_starts_per_address: positive(&get, "HOCTHI_PASSKEY_STARTS_PER_ADDRESS")?
                .unwrap_or(2_000),
            passkey_starts_total: positive(&get, "HOCTHI_PASSKEY_STARTS_TOTAL")?.unwrap_or(100_000),
            audit_checkpoint_every: Duration::from_secs(seconds(
                &get,
                "HOCTHI_AUDIT_CHECKPOINT_SECS",
                300,
            )?),
            metrics_token: get("HOCTHI_METRICS_TOKEN").map(Secret::new),
            content_max_file: mebibytes(&get, "HOCTHI_CONTENT_MAX_FILE_MB", 4096)?,
            content_quota_teacher: mebibytes(&get, "HOCTHI_CONTENT_QUOTA_TEACHER_MB", 5 * 1024)?,
            content_quota_school: mebibytes(&get, "HOCTHI_CONTENT_QUOTA_SCHOOL_MB", 100 * 1024)?,
            multipart_threshold: mebibytes(&get, "HOCTHI_MULTIPART_THRESHOLD_MB", 64)?,
            multipart_part_size: match mebibytes(&get, "HOCTHI_MULTIPART_PART_MB", 16)? {
                // S3 refuses parts under 5 MiB (except the last).
                size if size < 5 << 20 => {
                    return Err(bad("HOCTHI_MULTIPART_PART_MB", "must be at least 5"));
                }
                size => size,
            },
            webauthn_rp_id: get("HOCTHI_WEBAUTHN_RP_ID").map(|v| v.trim().to_ascii_lowercase()),
            webauthn_origins: list(get("HOCTHI_WEBAUTHN_ORIGINS")),
        })
    }

    /// True when no external store is configured: SQLite, in-process hot store, local blobs.
    pub fn is_embedded(&self) -> bool {
        self.database_url.is_none() && self.redis_url.is_none() && self.s3.is_none()
    }
}

fn list(value: Option<String>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// A count that must be above zero, or None when unset.
fn positive<T: std::str::FromStr + PartialOrd + From<u8>>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<T>, ConfigError> {
    get(name)
        .map(|v| {
            v.parse::<T>()
                .ok()
                .filter(|n| *n > T::from(0))
                .ok_or_else(|| bad(name, "must be a positive number"))
        })
        .transpose()
}

fn cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

fn mebibytes(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
) -> Result<u64, ConfigError> {
    match get(name) {
        None => Ok(default << 20),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|m| *m > 0 && *m < (1 << 40))
            .map(|m| m << 20)
            .ok_or_else(|| bad(name, "must be a positive number of MiB")),
    }
}

fn seconds(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
) -> Result<u64, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| bad(name, "must be a positive number of seconds")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn nothing_set_means_the_embedded_default() {
        let s = settings(&[]).unwrap();
        assert!(s.is_embedded());
        assert_eq!(s.listen, "127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from("./data"));
        assert_eq!(s.log_format, LogFormat::Pretty);
        assert_eq!(s.password_hash_nice, 0, "hashing at the workers' priority");
        assert_eq!(s.db_pool_size, DEFAULT_DB_POOL_SIZE);
    }

    #[test]
    fn unusable_settings_are_named() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("HOCTHI_LISTEN", "everywhere")], "HOCTHI_LISTEN"),
            (&[("DATABASE_URL", "mysql://x")], "DATABASE_URL"),
            (&[("REDIS_URL", "http://x")], "REDIS_URL"),
            (&[("S3_ENDPOINT", "http://127.0.0.1:9000")], "S3_BUCKET"),
            (
                &[("S3_BUCKET", "b"), ("S3_SECRET_ACCESS_KEY", "s")],
                "S3_ACCESS_KEY_ID",
            ),
            (
                &[("HOCTHI_BOOTSTRAP_ADMIN", "admin-without-password")],
                "HOCTHI_BOOTSTRAP_ADMIN",
            ),
            (
                &[("HOCTHI_BOOTSTRAP_ADMIN", "admin:short")],
                "HOCTHI_BOOTSTRAP_ADMIN",
            ),
            (
                &[("HOCTHI_TRUSTED_PROXIES", "10.0.0.1, proxy")],
                "HOCTHI_TRUSTED_PROXIES",
            ),
            (
                &[("HOCTHI_ACCESS_TOKEN_TTL_SECS", "0")],
                "HOCTHI_ACCESS_TOKEN_TTL_SECS",
            ),
            (
                &[("HOCTHI_PASSWORD_HASH_NICE", "20")],
                "HOCTHI_PASSWORD_HASH_NICE",
            ),
            (
                &[("HOCTHI_PASSWORD_HASH_NICE", "-5")],
                "HOCTHI_PASSWORD_HASH_NICE",
            ),
            (&[("HOCTHI_DB_POOL_SIZE", "0")], "HOCTHI_DB_POOL_SIZE"),
            (&[("HOCTHI_DB_POOL_SIZE", "many")], "HOCTHI_DB_POOL_SIZE"),
            (&[("HOCTHI_WORKERS", "0")], "HOCTHI_WORKERS"),
            (&[("HOCTHI_SAVE_QUEUE", "-1")], "HOCTHI_SAVE_QUEUE"),
            (
                &[("HOCTHI_PASSWORD_HASH_CONCURRENCY", "two")],
                "HOCTHI_PASSWORD_HASH_CONCURRENCY",
            ),
        ];
        for (vars, name) in cases {
            let err = settings(vars).expect_err(name);
            assert_eq!(err.name, *name, "{err}");
        }
    }

    #[test]
    fn mixed_setups_and_secrets() {
        let s = settings(&[("DATABASE_URL", "postgres://u:p@db/hocthi")]).unwrap();
        assert!(!s.is_embedded());
        assert!(
            s.redis_url.is_none() && s.s3.is_none(),
            "PostgreSQL with the in-process hot store and local blobs"
        );
        assert_eq!(s.log_format, LogFormat::Json, "production logs are JSON");
        let s = settings(&[
            ("S3_BUCKET", "b"),
            ("S3_ACCESS_KEY_ID", "k"),
            ("S3_SECRET_ACCESS_KEY", "very-secret"),
        ])
        .unwrap();
        assert!(
            !format!("{s:?}").contains("very-secret"),
            "secrets never print"
        );
        assert_eq!(s.s3.unwrap().region, "us-east-1");
    }
}
