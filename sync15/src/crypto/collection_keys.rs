//! [`CollectionKeys`]: the `crypto/keys` record.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CryptoError, KeyBundle};
use crate::bso::{IncomingBso, OutgoingEnvelope, OutgoingRecord};
use crate::error::Error;
use crate::guid::Guid;
use crate::timestamp::ServerTimestamp;

/// The collection that holds the keys record.
pub const CRYPTO_COLLECTION: &str = "crypto";
/// The id of the keys record within it.
pub const KEYS_RECORD_ID: &str = "keys";

/// The key bundles every collection is encrypted with: one default, and
/// optional per-collection overrides. Stored on the server as `crypto/keys`,
/// encrypted with the sync key bundle derived from kB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionKeys {
    /// The server's `modified` time of the `crypto/keys` record these came
    /// from; [`ServerTimestamp::ZERO`] for keys not yet uploaded.
    pub timestamp: ServerTimestamp,
    /// The bundle for every collection without an override.
    pub default: KeyBundle,
    /// Per-collection overrides, by collection name.
    pub collections: BTreeMap<String, KeyBundle>,
}

/// The cleartext of `crypto/keys`, as Firefox writes it.
#[derive(Serialize, Deserialize)]
struct KeysCleartext {
    id: String,
    #[serde(default = "crypto_collection")]
    collection: String,
    default: [String; 2],
    #[serde(default)]
    collections: BTreeMap<String, [String; 2]>,
}

fn crypto_collection() -> String {
    CRYPTO_COLLECTION.to_owned()
}

impl CollectionKeys {
    /// A fresh random default bundle and no overrides.
    pub fn new_random() -> Result<Self, CryptoError> {
        Ok(CollectionKeys {
            timestamp: ServerTimestamp::ZERO,
            default: KeyBundle::new_random()?,
            collections: BTreeMap::new(),
        })
    }

    /// The bundle that encrypts `collection`: its override if there is one,
    /// else the default.
    pub fn key_for_collection(&self, collection: &str) -> &KeyBundle {
        self.collections.get(collection).unwrap_or(&self.default)
    }

    /// Gives `collection` its own bundle.
    pub fn set_collection_key(&mut self, collection: &str, bundle: KeyBundle) {
        self.collections.insert(collection.to_owned(), bundle);
    }

    /// Decrypts the downloaded `crypto/keys` BSO with the sync key bundle.
    /// A bad HMAC here means kB does not match the keys on the server.
    pub fn from_bso(bso: &IncomingBso, sync_key: &KeyBundle) -> Result<Self, Error> {
        let record = sync_key.decrypt(bso)?;
        let id = record.envelope.id.clone();
        let cleartext: KeysCleartext = record
            .cleartext
            .into_content()
            .map_err(|source| Error::MalformedPayload { id, source })?;
        let collections = cleartext
            .collections
            .iter()
            .map(|(name, [enc, mac])| Ok((name.clone(), KeyBundle::from_base64(enc, mac)?)))
            .collect::<Result<_, CryptoError>>()?;
        let [enc, mac] = &cleartext.default;
        Ok(CollectionKeys {
            timestamp: bso.envelope.modified,
            default: KeyBundle::from_base64(enc, mac)?,
            collections,
        })
    }

    /// The record to upload as `crypto/keys`, encrypted with the sync key bundle.
    pub fn to_bso(&self, sync_key: &KeyBundle) -> Result<crate::bso::OutgoingBso, Error> {
        let cleartext = KeysCleartext {
            id: KEYS_RECORD_ID.to_owned(),
            collection: CRYPTO_COLLECTION.to_owned(),
            default: self.default.to_base64(),
            collections: self
                .collections
                .iter()
                .map(|(name, bundle)| (name.clone(), bundle.to_base64()))
                .collect(),
        };
        let record =
            OutgoingRecord::from_content(OutgoingEnvelope::new(Guid::new(KEYS_RECORD_ID)), &cleartext)?;
        sync_key.encrypt(&record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bso::IncomingEnvelope;
    use crate::crypto::SyncRootKey;

    fn sync_key() -> KeyBundle {
        SyncRootKey::new(&[42u8; 32], 0).unwrap().sync_key_bundle()
    }

    #[test]
    fn round_trip_with_overrides() {
        let mut keys = CollectionKeys::new_random().unwrap();
        let bookmarks = KeyBundle::new_random().unwrap();
        keys.set_collection_key("bookmarks", bookmarks.clone());
        let bso = keys.to_bso(&sync_key()).unwrap();
        assert_eq!(bso.envelope.id, "keys");
        let back = CollectionKeys::from_bso(
            &bso.into_incoming(ServerTimestamp::from_millis(5_000)),
            &sync_key(),
        )
        .unwrap();
        assert_eq!(back.timestamp, ServerTimestamp::from_millis(5_000));
        assert_eq!(back.default, keys.default);
        assert_eq!(back.key_for_collection("bookmarks"), &bookmarks);
        assert_eq!(back.key_for_collection("history"), &keys.default);
    }

    #[test]
    fn wrong_kb_is_a_bad_hmac() {
        let keys = CollectionKeys::new_random().unwrap();
        let bso = keys
            .to_bso(&sync_key())
            .unwrap()
            .into_incoming(ServerTimestamp::ZERO);
        let other = SyncRootKey::new(&[1u8; 32], 0).unwrap().sync_key_bundle();
        let err = CollectionKeys::from_bso(&bso, &other).unwrap_err();
        assert!(err.is_bad_hmac(), "{err:?}");
    }

    #[test]
    fn firefox_shaped_cleartext_decodes() {
        let enc = "s3xFhR8mQGKXc4z4IkqhGUz0YI0iMWu0K/yr1vAJ4Ok=";
        let mac = "EdKA2R3QYjzW1qA0ZB+jYvKGMJhl5g0eBYhxz2S0Kzw=";
        let cleartext = format!(
            r#"{{"id":"keys","collection":"crypto","default":["{enc}","{mac}"],"collections":{{}}}}"#
        );
        let payload = sync_key().encrypt_bytes(cleartext.as_bytes()).unwrap().to_json();
        let bso = IncomingBso {
            envelope: IncomingEnvelope::new(Guid::new("keys"), ServerTimestamp::from_millis(1)),
            payload,
        };
        let keys = CollectionKeys::from_bso(&bso, &sync_key()).unwrap();
        assert_eq!(keys.default.to_base64(), [enc.to_string(), mac.to_string()]);
        assert!(keys.collections.is_empty());
    }

    #[test]
    fn missing_default_or_bad_key_is_an_error() {
        let encrypt = |text: &str| IncomingBso {
            envelope: IncomingEnvelope::new(Guid::new("keys"), ServerTimestamp::ZERO),
            payload: sync_key().encrypt_bytes(text.as_bytes()).unwrap().to_json(),
        };
        let no_default = encrypt(r#"{"id":"keys","collections":{}}"#);
        assert!(matches!(
            CollectionKeys::from_bso(&no_default, &sync_key()),
            Err(Error::MalformedPayload { .. })
        ));
        let short_key = encrypt(r#"{"id":"keys","default":["AAAA","AAAA"]}"#);
        assert!(matches!(
            CollectionKeys::from_bso(&short_key, &sync_key()),
            Err(Error::Crypto(CryptoError::InvalidKeyLength { .. }))
        ));
        let wrong_id = encrypt(r#"{"id":"nope","default":["AAAA","AAAA"]}"#);
        assert!(matches!(
            CollectionKeys::from_bso(&wrong_id, &sync_key()),
            Err(Error::RecordIdMismatch { .. })
        ));
    }
}
