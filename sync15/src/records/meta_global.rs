//! [`MetaGlobal`]: the account's `meta/global` record.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bso::{IncomingBso, OutgoingBso, OutgoingEnvelope, OutgoingRecord};
use crate::error::Error;
use crate::guid::Guid;
use crate::payload::UnknownFields;

/// The storage format version this code writes and reads. Firefox has used 5
/// since 2011; a higher number means a format this code does not know.
pub const STORAGE_VERSION: u64 = 5;
/// The collection holding `meta/global`.
pub const META_COLLECTION: &str = "meta";
/// The id of the record in it.
pub const META_GLOBAL_ID: &str = "global";

/// `meta/global`: the account's sync ID, storage version, the engines in use
/// with their versions and sync IDs, and the engines the user declined.
/// The one record stored unencrypted. Fields this code does not know —
/// at the top level and in each engine entry — are kept and written back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaGlobal {
    /// Changes when the server is wiped and started afresh; every client
    /// resets all engines when it sees a new one.
    #[serde(rename = "syncID")]
    pub sync_id: Guid,
    /// The storage format version; see [`STORAGE_VERSION`].
    #[serde(rename = "storageVersion")]
    pub storage_version: u64,
    /// Per engine, by meta/global name (`bookmarks`, `passwords`, …). Entries
    /// for engines this client does not implement must be kept.
    #[serde(default)]
    pub engines: BTreeMap<String, MetaGlobalEngine>,
    /// Engines the user chose not to sync, on any device.
    #[serde(default)]
    pub declined: Vec<String>,
    /// Anything else, kept as is.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// One engine's entry in `meta/global`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaGlobalEngine {
    /// The engine's record-format version (bookmarks 2; clients, tabs,
    /// passwords, history, forms, prefs 1).
    pub version: u64,
    /// Changes when the engine's collection is wiped; every client resets
    /// that engine when it sees a new one.
    #[serde(rename = "syncID")]
    pub sync_id: Guid,
    /// Anything else, kept as is.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

impl MetaGlobal {
    /// A fresh `meta/global` for an empty server: a new sync ID, the current
    /// storage version, no engines yet.
    pub fn new() -> Self {
        MetaGlobal {
            sync_id: Guid::random(),
            storage_version: STORAGE_VERSION,
            engines: BTreeMap::new(),
            declined: Vec::new(),
            unknown: UnknownFields::new(),
        }
    }

    /// Parses the downloaded `meta/global` BSO. The storage version is *not*
    /// checked here; see [`MetaGlobal::check_storage_version`].
    pub fn from_bso(bso: IncomingBso) -> Result<Self, Error> {
        let record = bso.into_cleartext_record()?;
        let id = record.envelope.id.clone();
        let mut cleartext = record.cleartext;
        // The record id is envelope data; it must not land in `unknown`.
        cleartext.as_map_mut().remove("id");
        cleartext
            .into_content()
            .map_err(|source| Error::MalformedPayload { id, source })
    }

    /// The BSO to upload (`meta/global`, payload in cleartext).
    pub fn to_bso(&self) -> Result<OutgoingBso, Error> {
        let record = OutgoingRecord::from_content(OutgoingEnvelope::new(Guid::new(META_GLOBAL_ID)), self)?;
        Ok(record.into_cleartext_bso())
    }

    /// Fails with [`Error::StorageVersionTooNew`] if a newer client wrote
    /// this server's data in a format this code does not understand.
    pub fn check_storage_version(&self) -> Result<(), Error> {
        if self.storage_version > STORAGE_VERSION {
            Err(Error::StorageVersionTooNew {
                found: self.storage_version,
                supported: STORAGE_VERSION,
            })
        } else {
            Ok(())
        }
    }

    /// Whether the user declined `engine` (on any device).
    pub fn is_declined(&self, engine: &str) -> bool {
        self.declined.iter().any(|d| d == engine)
    }
}

impl Default for MetaGlobal {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bso::IncomingEnvelope;
    use crate::timestamp::ServerTimestamp;

    fn bso(payload: &str) -> IncomingBso {
        IncomingBso {
            envelope: IncomingEnvelope::new(Guid::new("global"), ServerTimestamp::from_millis(1_000)),
            payload: payload.to_owned(),
        }
    }

    const FIREFOX: &str = r#"{"syncID":"lrvmrD2Tc-nL","storageVersion":5,
        "engines":{"clients":{"version":1,"syncID":"BkLSpvTA_7yx"},
                   "bookmarks":{"version":2,"syncID":"VS8bwKMT2xUW"},
                   "forms":{"version":1,"syncID":"2XvSgMqN9nLb","futureEngineField":true},
                   "addons":{"version":1,"syncID":"c6WySbX2QO5y"}},
        "declined":["addons","prefs"],"futureTopField":{"a":1}}"#;

    #[test]
    fn parses_and_keeps_everything() {
        let mg = MetaGlobal::from_bso(bso(FIREFOX)).unwrap();
        assert_eq!(mg.sync_id, "lrvmrD2Tc-nL");
        assert_eq!(mg.storage_version, 5);
        assert_eq!(mg.engines["bookmarks"].version, 2);
        assert!(mg.engines["forms"].unknown.contains_key("futureEngineField"));
        assert!(mg.unknown.contains_key("futureTopField"));
        assert!(!mg.unknown.contains_key("id"));
        assert!(mg.is_declined("prefs"));
        assert!(!mg.is_declined("bookmarks"));

        let out = mg.to_bso().unwrap();
        assert_eq!(out.envelope.id, "global");
        let again = MetaGlobal::from_bso(out.into_incoming(ServerTimestamp::ZERO)).unwrap();
        assert_eq!(again, mg);
        let as_json: serde_json::Value = serde_json::from_str(&mg.to_bso().unwrap().payload).unwrap();
        assert_eq!(as_json["engines"]["forms"]["futureEngineField"], true);
        assert_eq!(as_json["futureTopField"]["a"], 1);
        assert_eq!(as_json["id"], "global");
    }

    #[test]
    fn declined_may_be_absent() {
        let mg = MetaGlobal::from_bso(bso(r#"{"syncID":"abcdefghijkl","storageVersion":5}"#)).unwrap();
        assert!(mg.declined.is_empty() && mg.engines.is_empty());
    }

    #[test]
    fn storage_version_check() {
        let mut mg = MetaGlobal::new();
        assert!(mg.check_storage_version().is_ok());
        mg.storage_version = 6;
        assert!(matches!(
            mg.check_storage_version(),
            Err(Error::StorageVersionTooNew {
                found: 6,
                supported: 5
            })
        ));
    }

    #[test]
    fn malformed_meta_global_is_a_typed_error() {
        for bad in [
            r#"{"storageVersion":5}"#,
            r#"{"syncID":"x","storageVersion":"five"}"#,
            "[]",
            "nope",
        ] {
            assert!(
                matches!(
                    MetaGlobal::from_bso(bso(bad)),
                    Err(Error::MalformedPayload { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn fresh_meta_global_has_a_new_sync_id() {
        let a = MetaGlobal::new();
        let b = MetaGlobal::new();
        assert_ne!(a.sync_id, b.sync_id);
        assert!(a.sync_id.is_generated_form());
        assert_eq!(a.storage_version, STORAGE_VERSION);
    }
}
