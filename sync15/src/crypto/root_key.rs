//! [`SyncRootKey`]: the account's kB and what is derived from it.

use std::fmt;

use base64::Engine as _;
use ring::{digest, hkdf};

use super::{CryptoError, KeyBundle, key32};

/// HKDF `info` for the sync key bundle (Firefox's "oldsync" scope).
const SYNC_KEY_INFO: &[u8] = b"identity.mozilla.com/picl/v1/oldsync";

/// The account's root sync key: Firefox Accounts' "oldsync" scoped key,
/// with the key-rotation timestamp FxA reports for it (`keysChangedAt`,
/// milliseconds).
///
/// From it come the two things a client needs before it can sync: the sync
/// [`KeyBundle`] that decrypts `crypto/keys` (kSync, 64 bytes), and the
/// `X-KeyID` header the token server checks (from kXCS, 16 bytes). It is
/// made either from kB ([`SyncRootKey::new`]), deriving both as FxA
/// specifies, or from the scoped key itself ([`SyncRootKey::from_scoped_key`]),
/// which is what Firefox keeps after sign-in instead of kB.
#[derive(Clone)]
pub struct SyncRootKey {
    ksync: [u8; 64],
    kxcs: [u8; 16],
    kb: Option<[u8; 32]>,
    key_rotation_timestamp: u64,
}

impl PartialEq for SyncRootKey {
    fn eq(&self, other: &Self) -> bool {
        self.ksync == other.ksync
            && self.kxcs == other.kxcs
            && self.key_rotation_timestamp == other.key_rotation_timestamp
    }
}

impl Eq for SyncRootKey {}

impl fmt::Debug for SyncRootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncRootKey")
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl SyncRootKey {
    /// From raw kB (32 bytes) and its rotation timestamp: kSync =
    /// HKDF-SHA256(kB, salt = empty, info = `identity.mozilla.com/picl/v1/oldsync`,
    /// 64 bytes), kXCS = SHA-256(kB)[..16].
    pub fn new(kb: &[u8], key_rotation_timestamp: u64) -> Result<Self, CryptoError> {
        let kb = key32(kb, "kB")?;
        let mut ksync = [0u8; 64];
        let info = [SYNC_KEY_INFO];
        // With an empty salt HKDF uses HashLen zero bytes, as RFC 5869 says.
        let filled = hkdf::Salt::new(hkdf::HKDF_SHA256, &[])
            .extract(&kb)
            .expand(&info, Len64)
            .and_then(|okm_ref| okm_ref.fill(&mut ksync));
        // 64 bytes is far below HKDF-SHA256's 8160-byte limit, so expansion cannot fail.
        debug_assert!(filled.is_ok());
        let mut kxcs = [0u8; 16];
        kxcs.copy_from_slice(&digest::digest(&digest::SHA256, &kb).as_ref()[..16]);
        Ok(SyncRootKey {
            ksync,
            kxcs,
            kb: Some(kb),
            key_rotation_timestamp,
        })
    }

    /// From the oldsync scoped key itself: kSync (64 bytes) and kXCS (16
    /// bytes), as Firefox stores them.
    pub fn from_scoped_key(
        ksync: &[u8],
        kxcs: &[u8],
        key_rotation_timestamp: u64,
    ) -> Result<Self, CryptoError> {
        let ksync: [u8; 64] = ksync.try_into().map_err(|_| CryptoError::InvalidKeyLength {
            what: "kSync",
            len: ksync.len(),
        })?;
        let kxcs: [u8; 16] = kxcs.try_into().map_err(|_| CryptoError::InvalidKeyLength {
            what: "kXCS",
            len: kxcs.len(),
        })?;
        Ok(SyncRootKey {
            ksync,
            kxcs,
            kb: None,
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

    /// kB as lowercase hex, e.g. to persist it in an app's secret store;
    /// `None` for a key made from the scoped key, which has no kB.
    pub fn to_hex(&self) -> Option<String> {
        self.kb.map(hex::encode)
    }

    /// kSync (64 bytes: the encryption key, then the HMAC key).
    pub fn ksync(&self) -> &[u8; 64] {
        &self.ksync
    }

    /// kXCS (16 bytes): the key fingerprint the token server knows as the client state.
    pub fn kxcs(&self) -> &[u8; 16] {
        &self.kxcs
    }

    /// The key-rotation timestamp this key was created with.
    pub fn key_rotation_timestamp(&self) -> u64 {
        self.key_rotation_timestamp
    }

    /// The sync key bundle: kSync, the encryption key first, then the HMAC key.
    pub fn sync_key_bundle(&self) -> KeyBundle {
        let mut enc = [0u8; 32];
        let mut mac = [0u8; 32];
        enc.copy_from_slice(&self.ksync[..32]);
        mac.copy_from_slice(&self.ksync[32..]);
        KeyBundle::from_arrays(enc, mac)
    }

    /// The `X-KeyID` header for the token server (and the scoped key's
    /// `kid`): `<keysChangedAt>-<base64url, unpadded, of kXCS>`.
    pub fn key_id(&self) -> String {
        format!(
            "{}-{}",
            self.key_rotation_timestamp,
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.kxcs)
        )
    }

    /// A random kB, for tests and for servers minting development accounts.
    pub fn random(key_rotation_timestamp: u64) -> Result<Self, CryptoError> {
        Self::new(&super::random_array::<32>()?, key_rotation_timestamp)
    }
}

struct Len64;

impl hkdf::KeyType for Len64 {
    fn len(&self) -> usize {
        64
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
        let hex = key.to_hex().unwrap();
        let back = SyncRootKey::from_hex(&hex, 1_600_000_000_000).unwrap();
        assert_eq!(back, key);
        assert!(!format!("{key:?}").contains(&hex));
    }

    /// Firefox's own vector (`test_keys.js`, `test_derive_legacy_sync_key_test_vector`,
    /// from fxa-crypto-relier): kB → the oldsync scoped key's `kid` and `k`.
    #[test]
    fn oldsync_scoped_key_matches_firefoxs_vector() {
        let kb = "eaf9570b7219a4187d3d6bf3cec2770c2e0719b7cc0dfbb38243d6f1881675e9";
        let key = SyncRootKey::from_hex(kb, 1_510_726_317_123).unwrap();
        assert_eq!(key.key_id(), "1510726317123-IqQv4onc7VcVE1kTQkyyOw");
        let k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.ksync());
        assert_eq!(
            k,
            "DW_ll5GwX6SJ5GPqJVAuMUP2t6kDqhUulc2cbt26xbTcaKGQl-9l29FHAQ7kUiJETma4s9fIpEHrt909zgFang"
        );
        // The same key kept as Firefox keeps it, without kB.
        let scoped = SyncRootKey::from_scoped_key(key.ksync(), key.kxcs(), 1_510_726_317_123).unwrap();
        assert_eq!(scoped, key);
        assert_eq!(scoped.to_hex(), None);
        assert!(SyncRootKey::from_scoped_key(&[0; 63], &[0; 16], 0).is_err());
        assert!(SyncRootKey::from_scoped_key(&[0; 64], &[0; 15], 0).is_err());
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
