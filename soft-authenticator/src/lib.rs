//! A software passkey authenticator speaking the browser's JSON form of WebAuthn: enough of
//! CTAP2 (ES256 keys, "none" attestation, discoverable credentials, signature counters) to
//! drive the service's ceremonies from tests and load generators, and to forge the bad cases a
//! browser never sends (another origin, a replay, a counter that goes backwards).
use aws_lc_rs::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Authenticator data flags.
const USER_PRESENT: u8 = 0x01;
const USER_VERIFIED: u8 = 0x04;
const ATTESTED_CREDENTIAL: u8 = 0x40;

pub struct Credential {
    pub id: Vec<u8>,
    pub user_handle: Vec<u8>,
    pub counter: u32,
    key: EcdsaKeyPair,
}

pub struct SoftAuthenticator {
    /// The origin this "browser" claims in client data (change it to forge a phishing site).
    pub origin: String,
    pub rp_id: String,
    pub credentials: Vec<Credential>,
    random: SystemRandom,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .expect("base64url from the server")
}

/// Minimal CBOR: a byte string's or text's header (major type + length).
fn cbor_header(major: u8, len: usize, out: &mut Vec<u8>) {
    let major = major << 5;
    match len {
        0..=23 => out.push(major | len as u8),
        24..=0xff => out.extend([major | 24, len as u8]),
        _ => {
            out.push(major | 25);
            out.extend((len as u16).to_be_bytes());
        }
    }
}

fn cbor_text(text: &str, out: &mut Vec<u8>) {
    cbor_header(3, text.len(), out);
    out.extend(text.as_bytes());
}

fn cbor_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    cbor_header(2, bytes.len(), out);
    out.extend(bytes);
}

impl SoftAuthenticator {
    pub fn new(origin: &str, rp_id: &str) -> Self {
        SoftAuthenticator {
            origin: origin.to_owned(),
            rp_id: rp_id.to_owned(),
            credentials: Vec::new(),
            random: SystemRandom::new(),
        }
    }

    fn client_data(&self, kind: &str, options: &Value) -> Vec<u8> {
        let challenge = options["publicKey"]["challenge"]
            .as_str()
            .expect("options.publicKey.challenge");
        json!({ "type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false })
            .to_string()
            .into_bytes()
    }

    fn auth_data(&self, flags: u8, counter: u32) -> Vec<u8> {
        let mut data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend(counter.to_be_bytes());
        data
    }

    /// Answers `navigator.credentials.create()` for the server's options; the new credential
    /// is kept (discoverable, with the user handle) and its index returned with the JSON.
    pub fn register(&mut self, options: &Value) -> (usize, Value) {
        let user_handle = unb64(
            options["publicKey"]["user"]["id"]
                .as_str()
                .expect("options.publicKey.user.id"),
        );
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("P-256 key");
        let point = key.public_key().as_ref().to_vec(); // 0x04 | x | y
        let mut id = [0u8; 32];
        aws_lc_rs::rand::fill(&mut id).expect("randomness");
        let mut auth_data = self.auth_data(USER_PRESENT | USER_VERIFIED | ATTESTED_CREDENTIAL, 0);
        auth_data.extend([0u8; 16]); // AAGUID: none
        auth_data.extend((id.len() as u16).to_be_bytes());
        auth_data.extend(id);
        // COSE_Key {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}
        auth_data.extend([0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21]);
        cbor_bytes(&point[1..33], &mut auth_data);
        auth_data.push(0x22);
        cbor_bytes(&point[33..65], &mut auth_data);
        let mut attestation = vec![0xa3];
        cbor_text("fmt", &mut attestation);
        cbor_text("none", &mut attestation);
        cbor_text("attStmt", &mut attestation);
        attestation.push(0xa0);
        cbor_text("authData", &mut attestation);
        cbor_bytes(&auth_data, &mut attestation);
        let client_data = self.client_data("webauthn.create", options);
        self.credentials.push(Credential {
            id: id.to_vec(),
            user_handle,
            counter: 0,
            key,
        });
        let credential = json!({
            "id": b64(&id), "rawId": b64(&id), "type": "public-key",
            "response": { "attestationObject": b64(&attestation), "clientDataJSON": b64(&client_data) },
            "extensions": {}
        });
        (self.credentials.len() - 1, credential)
    }

    /// Answers `navigator.credentials.get()` with credential `index`, counting one more use.
    pub fn assert(&mut self, options: &Value, index: usize) -> Value {
        self.credentials[index].counter += 1;
        self.assert_with_counter(options, index, self.credentials[index].counter)
    }

    /// The same, with a chosen signature counter (a clone replays an older one).
    pub fn assert_with_counter(&self, options: &Value, index: usize, counter: u32) -> Value {
        let credential = &self.credentials[index];
        let auth_data = self.auth_data(USER_PRESENT | USER_VERIFIED, counter);
        let client_data = self.client_data("webauthn.get", options);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature = credential
            .key
            .sign(&self.random, &signed)
            .expect("ECDSA signature");
        json!({
            "id": b64(&credential.id), "rawId": b64(&credential.id), "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(signature.as_ref()),
                "userHandle": b64(&credential.user_handle)
            },
            "extensions": {}
        })
    }
}
