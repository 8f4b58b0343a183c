//! Access tokens (EdDSA JWTs with a `kid`, published as a JWKS) and opaque refresh tokens.
use std::{collections::HashMap, path::Path, sync::RwLock, time::Duration};

use anyhow::{Context, bail};
use aws_lc_rs::{
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::roles::Role;
use crate::config::Settings;

const ISSUER: &str = "hocthi";
const AUDIENCE: &str = "hocthi-api";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    /// The refresh-token family (the session): logout revokes it.
    pub sid: Uuid,
    pub roles: Vec<Role>,
    pub school: Option<Uuid>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

struct VerifyingKey {
    kid: String,
    x: String,
    key: DecodingKey,
}

pub struct KeySet {
    current_kid: String,
    current: EncodingKey,
    verifying: Vec<VerifyingKey>,
    validation: Validation,
    /// Tokens already verified, by the SHA-256 of the whole token: a candidate's token comes
    /// with every save and heartbeat, and a hash and a lookup cost a small part of a signature
    /// check. Only the expiry is checked again.
    verified: RwLock<HashMap<[u8; 32], Claims>>,
}

/// Verified tokens remembered before the memory starts again (~250 bytes each).
const MAX_VERIFIED: usize = 200_000;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub usage: &'static str,
    pub kid: String,
    pub x: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

pub enum TokenError {
    Expired,
    Invalid,
}

fn kid_of(public_key: &[u8]) -> String {
    hex::encode(&Sha256::digest(public_key)[..8])
}

fn verifying_key(pkcs8: &[u8]) -> anyhow::Result<VerifyingKey> {
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8).context("not a PKCS#8 Ed25519 key")?;
    let public = pair.public_key().as_ref();
    let x = URL_SAFE_NO_PAD.encode(public);
    Ok(VerifyingKey {
        kid: kid_of(public),
        key: DecodingKey::from_ed_components(&x)?,
        x,
    })
}

pub fn generate_pkcs8() -> anyhow::Result<Vec<u8>> {
    let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| anyhow::anyhow!("key generation failed"))?;
    Ok(doc.as_ref().to_vec())
}

const CURRENT_FILE: &str = "jwt-current.pk8";

impl KeySet {
    pub fn from_pkcs8(current: &[u8], previous: &[Vec<u8>]) -> anyhow::Result<Self> {
        let first = verifying_key(current)?;
        let mut verifying = vec![first];
        for key in previous {
            let key = verifying_key(key)?;
            if verifying.iter().all(|k| k.kid != key.kid) {
                verifying.push(key);
            }
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Ok(Self {
            current_kid: verifying[0].kid.clone(),
            current: EncodingKey::from_ed_der(current),
            verifying,
            validation,
            verified: RwLock::default(),
        })
    }

    /// Keys from configuration when given (shared by every instance), otherwise from the data
    /// folder, generated there on first start.
    pub fn load(settings: &Settings) -> anyhow::Result<Self> {
        let decode = |name: &str, value: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(value)
                .with_context(|| format!("{name} is not base64 PKCS#8"))
        };
        if let Some(current) = &settings.jwt_signing_key {
            let current = decode("HOCTHI_JWT_SIGNING_KEY", current.expose())?;
            let previous = settings
                .jwt_previous_keys
                .iter()
                .map(|k| decode("HOCTHI_JWT_PREVIOUS_KEYS", k.expose()))
                .collect::<anyhow::Result<Vec<_>>>()?;
            return Self::from_pkcs8(&current, &previous);
        }
        let dir = settings.data_dir.join("keys");
        let current_path = dir.join(CURRENT_FILE);
        if !current_path.exists() {
            write_private(&current_path, &generate_pkcs8()?)?;
        }
        let current = std::fs::read(&current_path)
            .with_context(|| format!("cannot read {}", current_path.display()))?;
        let mut previous = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("jwt-previous-"))
            {
                previous.push(std::fs::read(&path)?);
            }
        }
        Self::from_pkcs8(&current, &previous)
    }

    /// Makes a new signing key in the data folder; the old one stays published for verification.
    pub fn rotate_in(data_dir: &Path) -> anyhow::Result<String> {
        let dir = data_dir.join("keys");
        let current_path = dir.join(CURRENT_FILE);
        if current_path.exists() {
            let old = std::fs::read(&current_path)?;
            let kid = verifying_key(&old)?.kid;
            std::fs::rename(&current_path, dir.join(format!("jwt-previous-{kid}.pk8")))?;
        }
        let fresh = generate_pkcs8()?;
        write_private(&current_path, &fresh)?;
        Ok(verifying_key(&fresh)?.kid)
    }

    pub fn current_kid(&self) -> &str {
        &self.current_kid
    }

    pub fn issue(&self, claims: &Claims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.current_kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.current)?)
    }

    pub fn claims_for(
        user_id: Uuid,
        session: Uuid,
        roles: Vec<Role>,
        school: Option<Uuid>,
        issued_at: chrono::DateTime<chrono::Utc>,
        ttl: Duration,
    ) -> Claims {
        Claims {
            sub: user_id,
            sid: session,
            roles,
            school,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: issued_at.timestamp(),
            exp: issued_at.timestamp() + ttl.as_secs() as i64,
        }
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let known = self
            .verified
            .read()
            .expect("not poisoned")
            .get(&digest)
            .cloned();
        if let Some(claims) = known {
            let now = chrono::Utc::now().timestamp();
            return if claims.exp < now - self.validation.leeway as i64 {
                Err(TokenError::Expired)
            } else {
                Ok(claims)
            };
        }
        let claims = self.verify_signature(token)?;
        let mut verified = self.verified.write().expect("not poisoned");
        if verified.len() >= MAX_VERIFIED {
            verified.clear();
        }
        verified.insert(digest, claims.clone());
        Ok(claims)
    }

    fn verify_signature(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let key = self
            .verifying
            .iter()
            .find(|k| k.kid == kid)
            .ok_or(TokenError::Invalid)?;
        jsonwebtoken::decode::<Claims>(token, &key.key, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }

    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self
                .verifying
                .iter()
                .map(|k| Jwk {
                    kty: "OKP",
                    crv: "Ed25519",
                    alg: "EdDSA",
                    usage: "sig",
                    kid: k.kid.clone(),
                    x: k.x.clone(),
                })
                .collect(),
        }
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)?;
    if bytes.is_empty() {
        bail!("empty key");
    }
    Ok(())
}

/// A refresh token: 32 random bytes, given to the client once; only its hash is stored.
pub fn new_refresh_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Random bytes for secrets generated into the data folder (e.g. URL signing).
pub fn load_or_create_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    if !path.exists() {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes);
        write_private(path, &bytes)?;
    }
    Ok(std::fs::read(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: chrono::DateTime<chrono::Utc>) -> Claims {
        KeySet::claims_for(
            Uuid::now_v7(),
            Uuid::now_v7(),
            vec![Role::Teacher],
            None,
            now,
            Duration::from_secs(900),
        )
    }

    #[test]
    fn a_remembered_token_still_expires_and_a_tampered_one_is_still_refused() {
        let keys = KeySet::from_pkcs8(&generate_pkcs8().unwrap(), &[]).unwrap();
        let token = keys.issue(&claims(chrono::Utc::now())).unwrap();
        assert!(keys.verify(&token).is_ok());
        assert!(keys.verify(&token).is_ok(), "the second time from memory");
        // The same claims under another signature, and a payload changed under the same one.
        let (head, rest) = token.split_once('.').unwrap();
        let (payload, signature) = rest.split_once('.').unwrap();
        let mut forged_signature = signature.to_owned();
        forged_signature.replace_range(0..1, if signature.starts_with('A') { "B" } else { "A" });
        let mut forged_payload = payload.to_owned();
        forged_payload.replace_range(0..1, if payload.starts_with('e') { "f" } else { "e" });
        for forged in [
            format!("{head}.{payload}.{forged_signature}"),
            format!("{head}.{forged_payload}.{signature}"),
        ] {
            assert!(matches!(keys.verify(&forged), Err(TokenError::Invalid)));
        }
        // Once its time is up, the remembered token is refused as expired.
        for remembered in keys.verified.write().unwrap().values_mut() {
            remembered.exp = chrono::Utc::now().timestamp() - 60;
        }
        assert!(matches!(keys.verify(&token), Err(TokenError::Expired)));
    }

    #[test]
    fn rotation_keeps_the_previous_key_published_and_verifying() {
        let dir = std::env::temp_dir().join(format!("hocthi-keys-{}", Uuid::new_v4()));
        let settings = Settings::from_lookup(|name| {
            (name == "HOCTHI_DATA_DIR").then(|| dir.display().to_string())
        })
        .unwrap();
        let before = KeySet::load(&settings).unwrap();
        let old_token = before.issue(&claims(chrono::Utc::now())).unwrap();

        let new_kid = KeySet::rotate_in(&dir).unwrap();
        let after = KeySet::load(&settings).unwrap();
        assert_eq!(after.current_kid(), new_kid);
        assert_ne!(after.current_kid(), before.current_kid());
        let published: Vec<String> = after.jwks().keys.into_iter().map(|k| k.kid).collect();
        assert!(
            published.contains(&before.current_kid().to_owned()),
            "the previous key stays in the JWKS"
        );
        assert!(
            after.verify(&old_token).is_ok(),
            "tokens signed before the rotation still verify"
        );
        let new_token = after.issue(&claims(chrono::Utc::now())).unwrap();
        assert!(
            before.verify(&new_token).is_err(),
            "the old key set does not know the new key"
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn keys_from_configuration_override_the_data_folder() {
        use base64::engine::general_purpose::STANDARD;
        let current = STANDARD.encode(generate_pkcs8().unwrap());
        let previous = STANDARD.encode(generate_pkcs8().unwrap());
        let vars = [
            ("HOCTHI_JWT_SIGNING_KEY", current),
            ("HOCTHI_JWT_PREVIOUS_KEYS", previous),
        ];
        let settings =
            Settings::from_lookup(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()))
                .unwrap();
        let keys = KeySet::load(&settings).unwrap();
        assert_eq!(keys.jwks().keys.len(), 2);
        let bad = Settings::from_lookup(|n| {
            (n == "HOCTHI_JWT_SIGNING_KEY").then(|| "not base64!".to_owned())
        })
        .unwrap();
        assert!(KeySet::load(&bad).is_err());
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let (a, hash_a) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(hash_refresh_token(&a), hash_a);
        assert!(!hash_a.contains(&a));
    }
}
