//! [`LoginsKey`]: the app's key for the secret fields stored on disk.
//!
//! Usernames and passwords never touch the database in the clear: they are
//! sealed together with AES-256-GCM under a key the app keeps (in the OS
//! keychain, typically) and passes in when it opens the store. A random
//! 96-bit nonce per seal; the stored text is `base64(nonce ‖ ciphertext ‖ tag)`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::LoginsError;

/// A 256-bit key for the secret fields at rest.
#[derive(Clone)]
pub struct LoginsKey {
    raw: [u8; 32],
}

impl std::fmt::Debug for LoginsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginsKey(…)")
    }
}

impl LoginsKey {
    /// A new random key.
    pub fn generate() -> Result<Self, LoginsError> {
        let mut raw = [0u8; 32];
        SystemRandom::new()
            .fill(&mut raw)
            .map_err(|_| LoginsError::Crypto("no randomness available".into()))?;
        Ok(LoginsKey { raw })
    }

    /// A key from its 32 bytes.
    pub fn from_bytes(raw: [u8; 32]) -> Self {
        LoginsKey { raw }
    }

    /// A key from its base64 text (as [`LoginsKey::to_base64`] writes it).
    pub fn from_base64(text: &str) -> Result<Self, LoginsError> {
        let bytes = BASE64
            .decode(text.trim())
            .map_err(|e| LoginsError::InvalidKey(format!("not base64: {e}")))?;
        let raw: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| LoginsError::InvalidKey(format!("{} bytes, not 32", b.len())))?;
        Ok(LoginsKey { raw })
    }

    /// The key as base64 text, for the app to store.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.raw)
    }

    pub(crate) fn sealer(&self) -> Result<Sealer, LoginsError> {
        let key = UnboundKey::new(&AES_256_GCM, &self.raw)
            .map_err(|_| LoginsError::Crypto("AES-256-GCM key rejected".into()))?;
        Ok(Sealer {
            key: LessSafeKey::new(key),
            rng: SystemRandom::new(),
        })
    }
}

/// The secret fields of a login, sealed together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SecureFields {
    #[serde(rename = "u")]
    pub username: String,
    #[serde(rename = "p")]
    pub password: String,
}

/// Seals and opens text with one key.
pub(crate) struct Sealer {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl Sealer {
    pub(crate) fn seal(&self, plaintext: &[u8]) -> Result<String, LoginsError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| LoginsError::Crypto("no randomness available".into()))?;
        let mut buf = Vec::with_capacity(NONCE_LEN + plaintext.len() + AES_256_GCM.tag_len());
        buf.extend_from_slice(&nonce);
        buf.extend_from_slice(plaintext);
        let mut sealed = buf.split_off(NONCE_LEN);
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut sealed)
            .map_err(|_| LoginsError::Crypto("sealing failed".into()))?;
        buf.extend_from_slice(&sealed);
        Ok(BASE64.encode(buf))
    }

    /// Opens what [`Sealer::seal`] wrote; a wrong key or altered text is
    /// [`LoginsError::Decrypt`].
    pub(crate) fn open(&self, sealed: &str) -> Result<Vec<u8>, LoginsError> {
        let mut bytes = BASE64.decode(sealed).map_err(|_| LoginsError::Decrypt)?;
        if bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(LoginsError::Decrypt);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&bytes[..NONCE_LEN]);
        let plaintext = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut bytes[NONCE_LEN..],
            )
            .map_err(|_| LoginsError::Decrypt)?;
        Ok(plaintext.to_vec())
    }

    pub(crate) fn seal_fields(&self, fields: &SecureFields) -> Result<String, LoginsError> {
        self.seal(&serde_json::to_vec(fields)?)
    }

    pub(crate) fn open_fields(&self, sealed: &str) -> Result<SecureFields, LoginsError> {
        serde_json::from_slice(&self.open(sealed)?).map_err(|_| LoginsError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn seals_open_with_the_same_key_only() {
        let key = LoginsKey::generate().unwrap();
        let sealer = key.sealer().unwrap();
        let fields = SecureFields {
            username: "alice".into(),
            password: "hunter2".into(),
        };
        let sealed = sealer.seal_fields(&fields).unwrap();
        assert!(!sealed.contains("hunter2"));
        assert_ne!(sealed, sealer.seal_fields(&fields).unwrap(), "nonces differ");
        assert_eq!(sealer.open_fields(&sealed).unwrap(), fields);

        let other = LoginsKey::generate().unwrap().sealer().unwrap();
        assert!(matches!(other.open_fields(&sealed), Err(LoginsError::Decrypt)));
        assert!(matches!(sealer.open("AAAA"), Err(LoginsError::Decrypt)));
        assert!(matches!(sealer.open("not base64!"), Err(LoginsError::Decrypt)));
    }

    #[test]
    fn keys_round_trip_through_base64_and_bad_ones_are_refused() {
        let key = LoginsKey::generate().unwrap();
        assert_eq!(LoginsKey::from_base64(&key.to_base64()).unwrap().raw, key.raw);
        assert!(matches!(
            LoginsKey::from_base64("AAAA"),
            Err(LoginsError::InvalidKey(_))
        ));
        assert!(matches!(
            LoginsKey::from_base64("%%%"),
            Err(LoginsError::InvalidKey(_))
        ));
    }
}
