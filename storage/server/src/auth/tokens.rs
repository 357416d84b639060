//! Storage tokens in Mozilla's `tokenlib` v1 format: the Hawk id the token
//! server hands out, and the Hawk key derived from it.
//!
//! Followed byte for byte: Python `tokenlib` 2.0 (`make_token`,
//! `parse_token`, `get_derived_secret`), which Mozilla's Python token server
//! uses, and syncstorage-rs's Rust port of it (its token server and
//! `web/auth`). A token made by either verifies here and one made here
//! verifies there; `tests/it/tokenlib.rs` checks both directions against
//! vectors made with the real Python library.
//!
//! - signing key = HKDF-SHA256(IKM = master secret (UTF-8), no salt,
//!   info = `services.mozilla.com/tokenlib/v1/signing`, 32 bytes)
//! - id = base64url **with padding** of (payload JSON ‖ HMAC-SHA256(signing
//!   key, payload JSON)); the last 32 bytes are the signature, checked in
//!   constant time before the JSON is parsed
//! - Hawk key = padded base64url of HKDF-SHA256(IKM = master secret,
//!   salt = the payload's `salt` (ASCII), info =
//!   `services.mozilla.com/tokenlib/v1/derive/` ‖ the whole id, 32 bytes);
//!   Hawk uses that base64 *string's* bytes as its MAC key.
//!
//! Several master secrets may be configured: the first signs, every one
//! verifies, so a secret can be rotated without logging anyone out.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use ring::{hkdf, hmac};
use serde::{Deserialize, Serialize};

const SIGNING_INFO: &[u8] = b"services.mozilla.com/tokenlib/v1/signing";
const DERIVE_INFO: &[u8] = b"services.mozilla.com/tokenlib/v1/derive/";
const SIGNATURE_LEN: usize = 32;

/// What a storage token asserts: the JSON payload of a tokenlib v1 token.
///
/// The field order is the Python token server's, so our payloads read like
/// Mozilla's; fields this code does not know are ignored, as Mozilla's
/// storage nodes ignore them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenPayload {
    /// The storage uid. A storage node serves `/1.5/<uid>/…` only to it.
    pub uid: u64,
    /// The node base URL the token was issued for.
    pub node: String,
    /// Expiry, in seconds since the epoch (a float in Mozilla's tokens).
    pub expires: f64,
    /// The FxA account id.
    #[serde(default)]
    pub fxa_uid: String,
    /// `<keys_changed_at, 13 digits>-<base64url(client state)>`, as Mozilla's token server writes it.
    #[serde(default)]
    pub fxa_kid: String,
    /// An unlinkable id of the account, for metrics.
    #[serde(default)]
    pub hashed_fxa_uid: String,
    /// An unlinkable id of the device, for metrics.
    #[serde(default)]
    pub hashed_device_id: String,
    /// Random, 6 lowercase hex characters: the HKDF salt of the Hawk key.
    pub salt: String,
}

/// Why a token id was refused. Every one of them is a 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not padded base64url, or too short to hold a signature.
    #[error("malformed token id")]
    Malformed,
    /// No configured secret signed it (forged, tampered with, or another service's).
    #[error("bad token signature")]
    BadSignature,
    /// Signed by us, but the payload is not a token payload.
    #[error("invalid token payload")]
    InvalidPayload,
    /// Past its `expires`.
    #[error("expired token")]
    Expired,
}

/// A token that checked out: what it says and the Hawk key that goes with it.
#[derive(Clone)]
pub struct VerifiedToken {
    /// The payload.
    pub payload: TokenPayload,
    /// The Hawk key (the base64 string; Hawk MACs with its bytes).
    pub hawk_key: String,
}

impl std::fmt::Debug for VerifiedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedToken")
            .field("payload", &self.payload)
            .finish_non_exhaustive()
    }
}

struct Secret {
    master: Vec<u8>,
    signing: hmac::Key,
}

/// The master secrets that sign token ids and derive their Hawk keys.
pub struct TokenSecrets {
    /// Never empty; the first signs.
    secrets: Vec<Secret>,
    /// Keys the unlinkable metrics ids (`hashed_fxa_uid`, `hashed_device_id`).
    metrics: hmac::Key,
}

impl std::fmt::Debug for TokenSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenSecrets {{ {} secret(s) }}", self.secrets.len())
    }
}

/// No master secret was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("at least one master secret is needed")]
pub struct NoSecret;

impl TokenSecrets {
    /// From the configured master secrets (the first signs) and the secret
    /// that keys metrics hashes (derived from the first master secret when
    /// not given).
    pub fn new<S: AsRef<str>>(masters: &[S], metrics_secret: Option<&str>) -> Result<Self, NoSecret> {
        let secrets: Vec<Secret> = masters
            .iter()
            .map(|m| {
                let master = m.as_ref().as_bytes().to_vec();
                let signing = hkdf32(&master, None, &[SIGNING_INFO]);
                Secret {
                    signing: hmac::Key::new(hmac::HMAC_SHA256, &signing),
                    master,
                }
            })
            .collect();
        let first = secrets.first().ok_or(NoSecret)?;
        let metrics = match metrics_secret {
            Some(s) => s.as_bytes().to_vec(),
            None => hkdf32(&first.master, None, &[b"sync-storage metrics hash"]).to_vec(),
        };
        Ok(TokenSecrets {
            metrics: hmac::Key::new(hmac::HMAC_SHA256, &metrics),
            secrets,
        })
    }

    /// A token id for `payload` (whose `salt` must already be set), signed
    /// with the first secret, and its Hawk key.
    pub fn issue(&self, payload: &TokenPayload) -> (String, String) {
        // Serializing a struct of strings and numbers cannot fail; a NaN
        // `expires` would, and would then yield an id nobody accepts.
        let mut bytes = serde_json::to_vec(payload).unwrap_or_default();
        let signer = &self.secrets[0];
        let signature = hmac::sign(&signer.signing, &bytes);
        bytes.extend_from_slice(signature.as_ref());
        let id = URL_SAFE.encode(bytes);
        let key = derive_key(&signer.master, &payload.salt, &id);
        (id, key)
    }

    /// Checks a token id: padding and length, then the signature against
    /// each secret (constant time), then the payload, then — unless
    /// `now_secs` is `None` — that it has not expired.
    pub fn verify(&self, id: &str, now_secs: Option<f64>) -> Result<VerifiedToken, TokenError> {
        let bytes = URL_SAFE.decode(id).map_err(|_| TokenError::Malformed)?;
        if bytes.len() <= SIGNATURE_LEN {
            return Err(TokenError::Malformed);
        }
        let (payload, signature) = bytes.split_at(bytes.len() - SIGNATURE_LEN);
        let secret = self
            .secrets
            .iter()
            .find(|s| hmac::verify(&s.signing, payload, signature).is_ok())
            .ok_or(TokenError::BadSignature)?;
        let payload: TokenPayload =
            serde_json::from_slice(payload).map_err(|_| TokenError::InvalidPayload)?;
        if !payload.expires.is_finite() || !payload.salt.is_ascii() {
            return Err(TokenError::InvalidPayload);
        }
        if now_secs.is_some_and(|now| payload.expires <= now) {
            return Err(TokenError::Expired);
        }
        let hawk_key = derive_key(&secret.master, &payload.salt, id);
        Ok(VerifiedToken { payload, hawk_key })
    }

    /// `hashed_fxa_uid`: the first 32 hex digits of HMAC-SHA256(metrics key,
    /// fxa uid), as Mozilla's token server computes it.
    pub fn hashed_fxa_uid(&self, fxa_uid: &str) -> String {
        self.metrics_hash(fxa_uid.as_bytes())
    }

    /// `hashed_device_id`: Mozilla's token server hashes the hashed fxa uid
    /// followed by `none` (OAuth requests name no device).
    pub fn hashed_device_id(&self, hashed_fxa_uid: &str) -> String {
        self.metrics_hash(format!("{hashed_fxa_uid}none").as_bytes())
    }

    fn metrics_hash(&self, data: &[u8]) -> String {
        let mut hex = hex::encode(hmac::sign(&self.metrics, data).as_ref());
        hex.truncate(32);
        hex
    }
}

/// A fresh salt: 3 random bytes as 6 lowercase hex characters, as tokenlib makes them.
pub fn random_salt() -> Result<String, ring::error::Unspecified> {
    use ring::rand::SecureRandom;
    let mut salt = [0u8; 3];
    ring::rand::SystemRandom::new().fill(&mut salt)?;
    Ok(hex::encode(salt))
}

/// `fxa_kid` as Mozilla's token server writes it: keys_changed_at padded
/// to 13 digits, a dash, and the client state as unpadded base64url.
pub fn fxa_kid(keys_changed_at: i64, client_state_hex: &str) -> String {
    let state = hex::decode(client_state_hex).unwrap_or_default();
    format!(
        "{keys_changed_at:013}-{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(state)
    )
}

fn derive_key(master: &[u8], salt: &str, id: &str) -> String {
    URL_SAFE.encode(hkdf32(
        master,
        Some(salt.as_bytes()),
        &[DERIVE_INFO, id.as_bytes()],
    ))
}

/// HKDF-SHA256 to 32 bytes. Without a salt, RFC 5869's default (a block of
/// zeros, which HMAC treats exactly like an empty key) applies.
fn hkdf32(ikm: &[u8], salt: Option<&[u8]>, info: &[&[u8]]) -> [u8; 32] {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt.unwrap_or(&[])).extract(ikm);
    let mut out = [0u8; 32];
    // 32 bytes is HKDF-SHA256's natural length; expanding to it cannot fail.
    if let Ok(okm) = prk.expand(info, hkdf::HKDF_SHA256) {
        let _ = okm.fill(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(expires: f64) -> TokenPayload {
        TokenPayload {
            uid: 42,
            node: "http://127.0.0.1:8000".into(),
            expires,
            fxa_uid: "abc".into(),
            fxa_kid: fxa_kid(1_000, "0011"),
            hashed_fxa_uid: String::new(),
            hashed_device_id: String::new(),
            salt: "a1b2c3".into(),
        }
    }

    fn secrets(s: &[&str]) -> TokenSecrets {
        TokenSecrets::new(s, None).unwrap()
    }

    #[test]
    fn issued_ids_verify_with_their_key_until_they_expire() {
        let s = secrets(&["master"]);
        let (id, key) = s.issue(&payload(2_000.5));
        assert!(id.ends_with('=') || id.len() % 4 == 0, "padded: {id}");
        let verified = s.verify(&id, Some(1_000.0)).unwrap();
        assert_eq!(verified.payload, payload(2_000.5));
        assert_eq!(verified.hawk_key, key);
        assert_eq!(s.verify(&id, Some(2_000.5)).unwrap_err(), TokenError::Expired);
        assert!(s.verify(&id, None).is_ok(), "expiry not checked");
        assert_eq!(
            secrets(&["other"]).verify(&id, Some(1_000.0)).unwrap_err(),
            TokenError::BadSignature
        );
    }

    #[test]
    fn every_configured_secret_verifies_and_the_first_signs() {
        let old = secrets(&["old"]);
        let rotated = secrets(&["new", "old"]);
        let (old_id, old_key) = old.issue(&payload(2_000.0));
        let verified = rotated.verify(&old_id, Some(1.0)).unwrap();
        assert_eq!(
            verified.hawk_key, old_key,
            "the key comes from the secret that signed"
        );
        let (new_id, _) = rotated.issue(&payload(2_000.0));
        assert!(secrets(&["new"]).verify(&new_id, Some(1.0)).is_ok());
        assert!(old.verify(&new_id, Some(1.0)).is_err());
        assert!(TokenSecrets::new::<&str>(&[], None).is_err());
    }

    #[test]
    fn tampered_truncated_unpadded_and_garbage_ids_are_refused() {
        let s = secrets(&["master"]);
        let (id, _) = s.issue(&payload(2_000.0));
        let mut bytes = URL_SAFE.decode(&id).unwrap();
        let pos = bytes.windows(2).position(|w| w == b"42").unwrap();
        bytes[pos + 1] = b'3';
        assert_eq!(
            s.verify(&URL_SAFE.encode(&bytes), Some(1.0)).unwrap_err(),
            TokenError::BadSignature
        );
        let unpadded = id.trim_end_matches('=');
        if unpadded != id {
            assert_eq!(s.verify(unpadded, Some(1.0)).unwrap_err(), TokenError::Malformed);
        }
        let truncated = URL_SAFE.encode(&URL_SAFE.decode(&id).unwrap()[..40]);
        assert!(s.verify(&truncated, Some(1.0)).is_err());
        for garbage in ["", "!!!", "AAAA", &"A".repeat(100), "eyJ1aWQiOjF9"] {
            assert!(s.verify(garbage, Some(1.0)).is_err(), "{garbage}");
        }
    }

    #[test]
    fn a_signed_payload_that_is_not_a_token_is_refused() {
        let s = secrets(&["master"]);
        for body in [&b"[]"[..], b"{\"uid\":1}", b"not json"] {
            let mut bytes = body.to_vec();
            let key = hmac::Key::new(hmac::HMAC_SHA256, &hkdf32(b"master", None, &[SIGNING_INFO]));
            bytes.extend_from_slice(hmac::sign(&key, body).as_ref());
            assert_eq!(
                s.verify(&URL_SAFE.encode(bytes), Some(1.0)).unwrap_err(),
                TokenError::InvalidPayload
            );
        }
    }

    #[test]
    fn metrics_ids_and_key_ids_have_mozillas_shape() {
        let s = secrets(&["master"]);
        let hashed = s.hashed_fxa_uid("a");
        assert_eq!(hashed.len(), 32);
        assert_eq!(hashed, s.hashed_fxa_uid("a"));
        assert_ne!(hashed, s.hashed_fxa_uid("b"));
        assert_eq!(s.hashed_device_id(&hashed).len(), 32);
        assert_eq!(fxa_kid(1234, "aaaa"), "0000000001234-qqo");
        let salt = random_salt().unwrap();
        assert_eq!(salt.len(), 6);
        assert!(
            salt.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }
}
