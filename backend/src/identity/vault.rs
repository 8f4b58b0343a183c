//! Personal data at rest: an ID number is kept as a keyed hash (to find and match it) and as an
//! AES-256-GCM ciphertext (to show it to those allowed, every read audited). The keys derive from
//! one configured secret, so a copy of the database alone reveals nothing.
use aws_lc_rs::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    hmac,
};
use base64::Engine;

pub struct Vault {
    lookup: hmac::Key,
    sealing: LessSafeKey,
}

impl Vault {
    pub fn new(secret: &[u8]) -> anyhow::Result<Vault> {
        let master = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let derive = |label: &[u8]| hmac::sign(&master, label);
        let lookup = hmac::Key::new(hmac::HMAC_SHA256, derive(b"hocthi pii lookup v1").as_ref());
        let sealing = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, derive(b"hocthi pii sealing v1").as_ref())
                .map_err(|_| anyhow::anyhow!("cannot build the personal-data key"))?,
        );
        Ok(Vault { lookup, sealing })
    }

    /// The same input always gives the same hash, which says nothing without the key.
    pub fn lookup_hash(&self, value: &str) -> String {
        hex::encode(hmac::sign(&self.lookup, value.as_bytes()).as_ref())
    }

    /// base64(nonce | ciphertext | tag), a fresh random nonce each time.
    pub fn seal(&self, plain: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        let mut data = plain.to_vec();
        self.sealing
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .expect("sealing in memory cannot fail");
        let mut out = nonce.to_vec();
        out.extend(data);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    pub fn open(&self, sealed: &str) -> anyhow::Result<Vec<u8>> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(sealed)?;
        if bytes.len() < NONCE_LEN {
            anyhow::bail!("sealed value too short");
        }
        let (nonce, data) = bytes.split_at(NONCE_LEN);
        let mut data = data.to_vec();
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| anyhow::anyhow!("bad nonce"))?;
        let plain = self
            .sealing
            .open_in_place(nonce, Aad::empty(), &mut data)
            .map_err(|_| anyhow::anyhow!("sealed value does not open with this key"))?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_round_trips_and_hides_the_value() {
        let vault = Vault::new(b"a test secret of some length....").unwrap();
        let sealed = vault.seal(b"001308012345");
        assert!(!sealed.contains("001308012345"));
        assert_ne!(
            sealed,
            vault.seal(b"001308012345"),
            "a fresh nonce each time"
        );
        assert_eq!(vault.open(&sealed).unwrap(), b"001308012345");
        assert_eq!(
            vault.lookup_hash("001308012345"),
            vault.lookup_hash("001308012345")
        );
        let other = Vault::new(b"another secret..................").unwrap();
        assert!(other.open(&sealed).is_err());
        assert_ne!(
            other.lookup_hash("001308012345"),
            vault.lookup_hash("001308012345")
        );
    }
}
