//! Storage tokens: the Hawk id the token server hands out, and its key.
//!
//! The id is `base64url(claims JSON ‖ HMAC-SHA256(signing key, claims JSON))`,
//! so a storage request proves who it is for without a database lookup; the
//! Hawk key is derived from the id with HKDF, so it is never stored either.
//! Both keys come from the server's master secret.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::{hkdf, hmac};
use serde::{Deserialize, Serialize};

/// What a storage token asserts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// The storage uid.
    pub uid: u64,
    /// The node the token is valid on.
    pub node: String,
    /// Expiry, in seconds since the epoch.
    pub expires: u64,
    /// The FxA account, for logs.
    pub fxa_uid: String,
}

/// Why a token id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not ours, tampered with, or garbage.
    #[error("invalid token")]
    Invalid,
    /// Ours, but past its expiry.
    #[error("expired token")]
    Expired,
}

/// The keys that sign token ids and derive their Hawk keys.
pub struct TokenSecrets {
    signing: hmac::Key,
    derivation: hkdf::Prk,
    hashing: hmac::Key,
}

impl std::fmt::Debug for TokenSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSecrets { .. }")
    }
}

const SIGNATURE_LEN: usize = 32;

impl TokenSecrets {
    /// Derives the three keys from the master secret.
    pub fn new(master_secret: &str) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"sync-storage token secrets")
            .extract(master_secret.as_bytes());
        let derive = |info: &'static [u8]| -> [u8; 32] {
            let mut out = [0u8; 32];
            // 32 bytes is well within HKDF-SHA256's output limit, so these cannot fail.
            if let Ok(okm) = prk.expand(&[info], hkdf::HKDF_SHA256) {
                let _ = okm.fill(&mut out);
            }
            out
        };
        TokenSecrets {
            signing: hmac::Key::new(hmac::HMAC_SHA256, &derive(b"signing")),
            derivation: hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &derive(b"derivation")),
            hashing: hmac::Key::new(hmac::HMAC_SHA256, &derive(b"fxa uid hashing")),
        }
    }

    /// A token id for `claims`, and its Hawk key.
    pub fn issue(&self, claims: &TokenClaims) -> (String, String) {
        let mut bytes = serde_json::to_vec(claims).unwrap_or_default();
        let signature = hmac::sign(&self.signing, &bytes);
        bytes.extend_from_slice(signature.as_ref());
        let id = URL_SAFE_NO_PAD.encode(bytes);
        let key = self.key_for(&id);
        (id, key)
    }

    /// Checks a token id's signature and expiry (against `now_secs`).
    pub fn verify(&self, id: &str, now_secs: u64) -> Result<TokenClaims, TokenError> {
        let bytes = URL_SAFE_NO_PAD.decode(id).map_err(|_| TokenError::Invalid)?;
        if bytes.len() <= SIGNATURE_LEN {
            return Err(TokenError::Invalid);
        }
        let (claims, signature) = bytes.split_at(bytes.len() - SIGNATURE_LEN);
        hmac::verify(&self.signing, claims, signature).map_err(|_| TokenError::Invalid)?;
        let claims: TokenClaims = serde_json::from_slice(claims).map_err(|_| TokenError::Invalid)?;
        if claims.expires <= now_secs {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// The Hawk key for a token id (the client uses this string's bytes).
    pub fn key_for(&self, id: &str) -> String {
        let mut key = [0u8; 32];
        if let Ok(okm) = self.derivation.expand(&[id.as_bytes()], hkdf::HKDF_SHA256) {
            let _ = okm.fill(&mut key);
        }
        URL_SAFE_NO_PAD.encode(key)
    }

    /// A stable, unlinkable identifier for an FxA account (the token's `hashed_fxa_uid`).
    pub fn hashed_fxa_uid(&self, fxa_uid: &str) -> String {
        hex::encode(&hmac::sign(&self.hashing, fxa_uid.as_bytes()).as_ref()[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> TokenClaims {
        TokenClaims {
            uid: 42,
            node: "http://127.0.0.1:8000".into(),
            expires: 2_000,
            fxa_uid: "abc".into(),
        }
    }

    #[test]
    fn issued_ids_verify_and_derive_stable_keys() {
        let secrets = TokenSecrets::new("master");
        let (id, key) = secrets.issue(&claims());
        assert_eq!(secrets.verify(&id, 1_000).unwrap(), claims());
        assert_eq!(secrets.key_for(&id), key);
        assert_eq!(secrets.verify(&id, 2_000), Err(TokenError::Expired));
        // Another server's secret: not ours.
        assert_eq!(
            TokenSecrets::new("other").verify(&id, 1_000),
            Err(TokenError::Invalid)
        );
        assert_ne!(TokenSecrets::new("other").key_for(&id), key);
    }

    #[test]
    fn tampered_or_garbage_ids_are_invalid() {
        let secrets = TokenSecrets::new("master");
        let (id, _) = secrets.issue(&claims());
        let mut bytes = URL_SAFE_NO_PAD.decode(&id).unwrap();
        // Change the uid digit: the signature no longer matches.
        let pos = bytes.windows(2).position(|w| w == b"42").unwrap();
        bytes[pos] = b'4';
        bytes[pos + 1] = b'3';
        let forged = URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(secrets.verify(&forged, 1_000), Err(TokenError::Invalid));
        for garbage in ["", "!!!", "AAAA", &"A".repeat(100)] {
            assert_eq!(
                secrets.verify(garbage, 1_000),
                Err(TokenError::Invalid),
                "{garbage}"
            );
        }
    }

    #[test]
    fn hashed_uids_are_stable_and_distinct() {
        let secrets = TokenSecrets::new("master");
        assert_eq!(secrets.hashed_fxa_uid("a"), secrets.hashed_fxa_uid("a"));
        assert_ne!(secrets.hashed_fxa_uid("a"), secrets.hashed_fxa_uid("b"));
        assert_eq!(secrets.hashed_fxa_uid("a").len(), 32);
    }
}
