//! Record cryptography.
//!
//! - [`SyncRootKey`]: the account's kB, from which the sync key bundle and the
//!   token server's `X-KeyID` are derived.
//! - [`KeyBundle`]: an AES-256-CBC key and an HMAC-SHA256 key; encrypts a
//!   record's cleartext into an [`EncryptedPayload`] and back.
//! - [`CollectionKeys`]: the `crypto/keys` record — the default bundle and
//!   per-collection overrides, itself encrypted with the sync key bundle.
//! - [`KeyBundle::decrypt_all`], [`KeyBundle::encrypt_all`]: a page or an
//!   upload's worth of records, on every core.
//!
//! `ring` provides HMAC, HKDF, SHA-256 and randomness; RustCrypto's `aes` and
//! `cbc` provide the cipher (ring has no CBC mode).

mod collection_keys;
mod key_bundle;
mod parallel;
mod root_key;

pub use collection_keys::{CRYPTO_COLLECTION, CollectionKeys, KEYS_RECORD_ID};
pub use key_bundle::{EncryptedPayload, KeyBundle, encrypted_payload_len};
pub use parallel::PARALLEL_MIN_RECORDS;
pub use root_key::SyncRootKey;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// What went wrong in a cryptographic operation. None of these carry key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The record's HMAC does not match its ciphertext: the record was
    /// tampered with, corrupted, or encrypted with another key.
    #[error("HMAC mismatch: the record was corrupted or encrypted with a different key")]
    BadHmac,
    /// The `hmac` field is not 64 hexadecimal characters.
    #[error("the record's hmac field is not a hex-encoded SHA-256 MAC")]
    MalformedHmac,
    /// A field that must be base64 is not.
    #[error("{field} is not valid base64")]
    InvalidBase64 {
        /// Which field: `ciphertext`, `IV`, or a key.
        field: &'static str,
    },
    /// The IV is not 16 bytes.
    #[error("the IV must be 16 bytes, got {0}")]
    InvalidIvLength(usize),
    /// A key is not 32 bytes.
    #[error("{what} must be 32 bytes, got {len}")]
    InvalidKeyLength {
        /// Which key.
        what: &'static str,
        /// The length received.
        len: usize,
    },
    /// The ciphertext passed its HMAC but does not decrypt (bad padding or
    /// a length that is not a multiple of the block size).
    #[error("the ciphertext does not decrypt (bad length or padding)")]
    Decrypt,
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
}

/// Standard base64 that accepts input with or without padding (some clients
/// strip it) and always writes it, as Firefox does.
pub(crate) const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// `N` bytes from the operating system's secure random source.
pub(crate) fn random_array<const N: usize>() -> Result<[u8; N], CryptoError> {
    use ring::rand::SecureRandom;
    let mut out = [0u8; N];
    ring::rand::SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| CryptoError::Random)?;
    Ok(out)
}

/// A fresh 16-byte IV from the operating system's secure random source.
///
/// IVs are public and needed once per record, so they are drawn from a small
/// per-thread pool refilled from the OS 64 IVs at a time: one `getrandom` call
/// per 64 records instead of one per record. Keys never come from this pool.
pub(crate) fn random_iv() -> Result<[u8; 16], CryptoError> {
    use std::cell::RefCell;
    const POOL_IVS: usize = 64;
    struct Pool {
        bytes: [u8; 16 * POOL_IVS],
        next: usize,
    }
    thread_local! {
        static POOL: RefCell<Pool> = const {
            RefCell::new(Pool { bytes: [0; 16 * POOL_IVS], next: POOL_IVS })
        };
    }
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.next == POOL_IVS {
            use ring::rand::SecureRandom;
            ring::rand::SystemRandom::new()
                .fill(&mut pool.bytes)
                .map_err(|_| CryptoError::Random)?;
            pool.next = 0;
        }
        let start = pool.next * 16;
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&pool.bytes[start..start + 16]);
        // Spent IVs are wiped so that a later memory disclosure shows nothing reusable.
        pool.bytes[start..start + 16].fill(0);
        pool.next += 1;
        Ok(iv)
    })
}

/// Copies a slice into a 32-byte key, or says which key had the wrong size.
pub(crate) fn key32(bytes: &[u8], what: &'static str) -> Result<[u8; 32], CryptoError> {
    bytes.try_into().map_err(|_| CryptoError::InvalidKeyLength {
        what,
        len: bytes.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn pooled_ivs_are_distinct_across_refills() {
        let ivs: HashSet<[u8; 16]> = (0..1000).map(|_| random_iv().unwrap()).collect();
        assert_eq!(ivs.len(), 1000);
        assert!(!ivs.contains(&[0u8; 16]));
    }

    #[test]
    fn key32_names_the_key_with_the_wrong_size() {
        assert_eq!(key32(&[1u8; 32], "k").unwrap(), [1u8; 32]);
        assert_eq!(
            key32(&[1u8; 33], "the HMAC key").unwrap_err(),
            CryptoError::InvalidKeyLength {
                what: "the HMAC key",
                len: 33
            }
        );
    }
}
