//! [`SyncRootKey`]: the account's kB and what is derived from it.

use std::fmt;

use base64::Engine as _;
use ring::{digest, hkdf};

use super::{CryptoError, KeyBundle, key32};

/// HKDF `info` for the sync key bundle (Firefox's "oldsync" scope).
const SYNC_KEY_INFO: &[u8] = b"identity.mozilla.com/picl/v1/oldsync";

/// The account's root sync key (kB, 32 bytes) with the key-rotation
/// timestamp Firefox Accounts reports for it (`keysChangedAt`, milliseconds).
///
/// From it come the two things a client needs before it can sync:
/// the sync [`KeyBundle`] that decrypts `crypto/keys`, and the `X-KeyID`
/// header the token server checks.
#[derive(Clone, PartialEq, Eq)]
pub struct SyncRootKey {
    kb: [u8; 32],
    key_rotation_timestamp: u64,
}

impl fmt::Debug for SyncRootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncRootKey")
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl SyncRootKey {
    /// From raw kB (32 bytes) and its rotation timestamp.
    pub fn new(kb: &[u8], key_rotation_timestamp: u64) -> Result<Self, CryptoError> {
        Ok(SyncRootKey {
            kb: key32(kb, "kB")?,
            key_rotation_timestamp,
        })
    }

    /// From kB as 64 hex characters.
    pub fn from_hex(kb_hex: &str, key_rotation_timestamp: u64) -> Result<Self, CryptoError> {
        let mut kb = [0u8; 32];
        hex::decode_to_slice(kb_hex.trim(), &mut kb).map_err(|_| CryptoError::InvalidKeyLength {
            what: "kB (as hex)",
            len: kb_hex.trim().len() / 2,
        })?;
        Self::new(&kb, key_rotation_timestamp)
    }

    /// kB as lowercase hex, e.g. to persist it in an app's secret store.
    pub fn to_hex(&self) -> String {
        hex::encode(self.kb)
    }

    /// The key-rotation timestamp this key was created with.
    pub fn key_rotation_timestamp(&self) -> u64 {
        self.key_rotation_timestamp
    }

    /// The sync key bundle: HKDF-SHA256(kB, salt = empty, info =
    /// `identity.mozilla.com/picl/v1/oldsync`) → 64 bytes, the encryption key
    /// first, then the HMAC key.
    pub fn sync_key_bundle(&self) -> KeyBundle {
        struct Len64;
        impl hkdf::KeyType for Len64 {
            fn len(&self) -> usize {
                64
            }
        }
        let mut okm = [0u8; 64];
        let info = [SYNC_KEY_INFO];
        // With an empty salt HKDF uses HashLen zero bytes, as RFC 5869 says.
        let filled = hkdf::Salt::new(hkdf::HKDF_SHA256, &[])
            .extract(&self.kb)
            .expand(&info, Len64)
            .and_then(|okm_ref| okm_ref.fill(&mut okm));
        // 64 bytes is far below HKDF-SHA256's 8160-byte limit, so expansion cannot fail.
        debug_assert!(filled.is_ok());
        let mut enc = [0u8; 32];
        let mut mac = [0u8; 32];
        enc.copy_from_slice(&okm[..32]);
        mac.copy_from_slice(&okm[32..]);
        KeyBundle::from_arrays(enc, mac)
    }

    /// The `X-KeyID` header for the token server:
    /// `<keysChangedAt>-<base64url, unpadded, of SHA-256(kB)[..16]>`.
    pub fn key_id(&self) -> String {
        let hash = digest::digest(&digest::SHA256, &self.kb);
        format!(
            "{}-{}",
            self.key_rotation_timestamp,
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&hash.as_ref()[..16])
        )
    }

    /// A random kB, for tests and for servers minting development accounts.
    pub fn random(key_rotation_timestamp: u64) -> Result<Self, CryptoError> {
        Ok(SyncRootKey {
            kb: super::random_array()?,
            key_rotation_timestamp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_wrong_length_kb() {
        assert!(SyncRootKey::new(&[0u8; 31], 0).is_err());
        assert!(SyncRootKey::from_hex("abcd", 0).is_err());
        assert!(SyncRootKey::from_hex(&"zz".repeat(32), 0).is_err());
    }

    #[test]
    fn hex_round_trip_and_debug_hides_kb() {
        let key = SyncRootKey::random(1_600_000_000_000).unwrap();
        let back = SyncRootKey::from_hex(&key.to_hex(), 1_600_000_000_000).unwrap();
        assert_eq!(back, key);
        assert!(!format!("{key:?}").contains(&key.to_hex()));
    }

    #[test]
    fn key_id_shape() {
        let key = SyncRootKey::new(&[0u8; 32], 1_234).unwrap();
        let id = key.key_id();
        let (ts, hash) = id.split_once('-').unwrap();
        assert_eq!(ts, "1234");
        assert_eq!(hash.len(), 22); // 16 bytes, unpadded base64
        assert!(!hash.contains('=') && !hash.contains('+') && !hash.contains('/'));
    }

    #[test]
    fn derived_bundles_differ_per_kb() {
        let a = SyncRootKey::new(&[1u8; 32], 0).unwrap().sync_key_bundle();
        let b = SyncRootKey::new(&[2u8; 32], 0).unwrap().sync_key_bundle();
        assert_ne!(a, b);
        let a_again = SyncRootKey::new(&[1u8; 32], 99).unwrap().sync_key_bundle();
        assert_eq!(a, a_again, "the rotation timestamp is not an HKDF input");
    }
}
