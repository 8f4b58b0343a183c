//! The audit key: the secret (`HOCTHI_AUDIT_KEY`) the audit chain and its checkpoints are
//! keyed with. It lives below `request` and `audit`, which both carry it.
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Clone)]
pub struct AuditKey(Arc<Vec<u8>>);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

impl AuditKey {
    pub fn new(secret: &[u8]) -> anyhow::Result<Self> {
        anyhow::ensure!(secret.len() >= 32, "the audit key needs at least 32 bytes");
        Ok(Self(Arc::new(secret.to_vec())))
    }

    /// HMAC-SHA256 of `bytes`, in hex, under a purpose that keeps events and checkpoints apart.
    pub fn mac(&self, purpose: &[u8], bytes: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose);
        mac.update(b"\n");
        mac.update(bytes);
        hex::encode(mac.finalize().into_bytes())
    }
}
