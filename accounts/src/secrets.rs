//! Secrets at rest, and the random values the service hands out.
//!
//! What the service must keep and could not verify from a hash — the Hawk
//! keys of live tokens, key bundles waiting to be fetched, TOTP secrets,
//! its own signing keys — is sealed with AES-256-GCM under a key derived
//! from the server's secret ([`Sealer`]); the database alone reveals none
//! of it. What it only needs to recognise — refresh tokens, authorization
//! codes, emailed codes — is stored as a SHA-256 hash.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::digest::{SHA256, digest};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::AccountsError;

/// `N` random bytes.
pub(crate) fn random<const N: usize>() -> Result<[u8; N], AccountsError> {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| AccountsError::Crypto("no randomness".into()))?;
    Ok(out)
}

/// Lowercase hex of SHA-256(`value`): how recognisable secrets are kept.
pub(crate) fn hash_hex(value: &[u8]) -> String {
    hex::encode(digest(&SHA256, value))
}

/// A random decimal code of `digits` digits, as emailed.
pub(crate) fn decimal_code(digits: usize) -> Result<String, AccountsError> {
    let bytes = random::<16>()?;
    let mut n = u128::from_be_bytes(bytes);
    let mut code = String::with_capacity(digits);
    for _ in 0..digits {
        code.push(char::from(b'0' + (n % 10) as u8));
        n /= 10;
    }
    Ok(code)
}

/// Seals and opens secrets kept in the database.
pub(crate) struct Sealer {
    key: LessSafeKey,
}

struct Len32;

impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

impl Sealer {
    /// The sealer keyed by `secret` (the server's master secret).
    pub fn new(secret: &[u8]) -> Result<Self, AccountsError> {
        let mut key = [0u8; 32];
        hkdf::Salt::new(hkdf::HKDF_SHA256, b"sync-accounts")
            .extract(secret)
            .expand(&[b"at-rest encryption v1"], Len32)
            .and_then(|okm| okm.fill(&mut key))
            .map_err(|_| AccountsError::Crypto("key derivation failed".into()))?;
        let key = UnboundKey::new(&AES_256_GCM, &key).map_err(|_| AccountsError::Crypto("bad key".into()))?;
        Ok(Sealer {
            key: LessSafeKey::new(key),
        })
    }

    /// `nonce ‖ ciphertext ‖ tag`, bound to `label` (what the value is, so
    /// a sealed value cannot be moved to another column).
    pub fn seal(&self, label: &str, plaintext: &[u8]) -> Result<Vec<u8>, AccountsError> {
        let nonce = random::<NONCE_LEN>()?;
        let mut data = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(label.as_bytes()),
                &mut data,
            )
            .map_err(|_| AccountsError::Crypto("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(out)
    }

    /// What [`Sealer::seal`] sealed with the same label.
    pub fn open(&self, label: &str, sealed: &[u8]) -> Result<Vec<u8>, AccountsError> {
        if sealed.len() < NONCE_LEN {
            return Err(AccountsError::Corrupt(format!("a sealed {label} is too short")));
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| AccountsError::Corrupt(format!("a sealed {label} has a bad nonce")))?;
        let mut data = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(label.as_bytes()), &mut data)
            .map_err(|_| {
                AccountsError::Corrupt(format!(
                    "a sealed {label} does not open (tampered, or the server's secret changed)"
                ))
            })?;
        Ok(plain.to_vec())
    }

    /// [`Sealer::open`] of exactly 32 bytes.
    pub fn open32(&self, label: &str, sealed: &[u8]) -> Result<[u8; 32], AccountsError> {
        self.open(label, sealed)?
            .try_into()
            .map_err(|_| AccountsError::Corrupt(format!("a sealed {label} is not 32 bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_label() {
        let sealer = Sealer::new(b"server secret").unwrap();
        let sealed = sealer.seal("hmac key", &[7; 32]).unwrap();
        assert_eq!(sealer.open32("hmac key", &sealed).unwrap(), [7; 32]);
        assert!(sealer.open("totp", &sealed).is_err(), "another column's label");
        assert!(
            Sealer::new(b"another secret")
                .unwrap()
                .open("hmac key", &sealed)
                .is_err()
        );
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(sealer.open("hmac key", &tampered).is_err());
        assert!(sealer.open("hmac key", &[1, 2]).is_err());
        assert_ne!(
            sealer.seal("x", b"same").unwrap(),
            sealer.seal("x", b"same").unwrap()
        );
    }

    #[test]
    fn codes_are_digits() {
        let code = decimal_code(8).unwrap();
        assert_eq!(code.len(), 8);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(hash_hex(b"abc").len(), 64);
    }
}
