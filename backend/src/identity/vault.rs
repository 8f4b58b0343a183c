//! Personal data at rest: an ID number is kept as a keyed hash (to find and match it) and as an
//! AES-256-GCM ciphertext (to show it to those allowed, every read audited). The keys derive from
//! one configured secret, so a copy of the database alone reveals nothing. Each sealed value is
//! bound to the row it belongs to (its table and id as associated data): copied into another
//! row, it no longer opens, so sealed values cannot be swapped between people.
use aws_lc_rs::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    hmac,
};
use base64::Engine;

/// The mark of a value bound to its row (base64 has no `.`).
const BOUND: &str = "v2.";

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

    /// `v2.` base64(nonce | ciphertext | tag), a fresh random nonce each time, bound to `row`
    /// (say `identity_numbers:<user id>`).
    pub fn seal(&self, plain: &[u8], row: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        let mut data = plain.to_vec();
        self.sealing
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(row.as_bytes()),
                &mut data,
            )
            .expect("sealing in memory cannot fail");
        let mut out = nonce.to_vec();
        out.extend(data);
        format!(
            "{BOUND}{}",
            base64::engine::general_purpose::STANDARD.encode(out)
        )
    }

    /// Opens a value sealed for `row`; one sealed for another row, or before values were bound,
    /// does not open.
    pub fn open(&self, sealed: &str, row: &str) -> anyhow::Result<Vec<u8>> {
        let bound = sealed
            .strip_prefix(BOUND)
            .ok_or_else(|| anyhow::anyhow!("a sealed value not bound to its row"))?;
        self.open_with(bound, Aad::from(row.as_bytes()))
    }

    /// Opens a value sealed before values were bound, to seal it again for its row.
    pub fn open_legacy(&self, sealed: &str) -> anyhow::Result<Vec<u8>> {
        self.open_with(sealed, Aad::from(&[][..]))
    }

    fn open_with(&self, sealed: &str, aad: Aad<&[u8]>) -> anyhow::Result<Vec<u8>> {
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
            .open_in_place(nonce, aad, &mut data)
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
        let row = "identity_numbers:a";
        let sealed = vault.seal(b"001308012345", row);
        assert!(!sealed.contains("001308012345"));
        assert_ne!(
            sealed,
            vault.seal(b"001308012345", row),
            "a fresh nonce each time"
        );
        assert_eq!(vault.open(&sealed, row).unwrap(), b"001308012345");
        assert!(
            vault.open(&sealed, "identity_numbers:b").is_err(),
            "moved to another row, it does not open"
        );
        assert_eq!(
            vault.lookup_hash("001308012345"),
            vault.lookup_hash("001308012345")
        );
        let other = Vault::new(b"another secret..................").unwrap();
        assert!(other.open(&sealed, row).is_err());
        assert_ne!(
            other.lookup_hash("001308012345"),
            vault.lookup_hash("001308012345")
        );
    }
}
