//! The state a sync hands to the next one, as JSON the app stores.
//!
//! It caches what lets an unchanged account sync with one request:
//! `meta/global` and `crypto/keys` (still encrypted) with the times they
//! were read at, the storage node they came from, and the server's limits.
//! It is tied to the account's key id; new keys discard every cache.
//!
//! It holds nothing that grants access: the storage token (whose Hawk key
//! would let anyone holding the blob read and write the account's
//! encrypted data for up to an hour) stays in the manager's memory, and a
//! new process fetches its own. A blob written by an earlier version with
//! a token in it loses the token when loaded.

use serde::{Deserialize, Serialize};
use sync15::{InfoConfiguration, ServerTimestamp};

const STATE_VERSION: u32 = 1;

/// A record as last read, with the server time it was read at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedRecord {
    /// The collection's time when read.
    pub modified: ServerTimestamp,
    /// The payload as stored on the server (ciphertext for crypto/keys).
    pub payload: String,
}

/// See the module docs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PersistedState {
    #[serde(default)]
    version: u32,
    /// The key id (kB fingerprint) the caches belong to.
    #[serde(default)]
    pub key_id: Option<String>,
    /// The account's declined engines, as last known.
    #[serde(default)]
    pub declined: Option<Vec<String>>,
    /// `meta/global` as last read or written.
    #[serde(default)]
    pub meta_global: Option<CachedRecord>,
    /// `crypto/keys` as last read or written.
    #[serde(default)]
    pub crypto_keys: Option<CachedRecord>,
    /// The storage node (`api_endpoint`) the caches came from: a token
    /// for another node means they no longer apply.
    #[serde(default)]
    pub node: Option<String>,
    /// The server's limits.
    #[serde(default)]
    pub config: Option<InfoConfiguration>,
    /// Backoff carried over from the last sync (ms since the epoch).
    #[serde(default)]
    pub next_sync_allowed_at_ms: Option<u64>,
}

impl PersistedState {
    /// Reads the app's stored blob. A blob from another version, or one
    /// that does not parse, starts over (logged): caches are only caches.
    pub fn load(blob: Option<&str>, key_id: &str) -> Self {
        let mut state = match blob.map(serde_json::from_str::<PersistedState>) {
            None => PersistedState::default(),
            Some(Ok(state)) if state.version == STATE_VERSION => state,
            Some(Ok(_)) => {
                log::info!("persisted sync state is from another version; starting over");
                PersistedState::default()
            }
            Some(Err(e)) => {
                log::warn!("persisted sync state does not parse ({e}); starting over");
                PersistedState::default()
            }
        };
        if state.key_id.as_deref() != Some(key_id) {
            // Different keys: nothing cached can be trusted. The declined
            // list is the user's choice and survives.
            let declined = state.declined.take();
            state = PersistedState {
                key_id: Some(key_id.to_owned()),
                declined,
                ..PersistedState::default()
            };
        }
        state.version = STATE_VERSION;
        state
    }

    /// The blob to store.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Forgets everything tied to the storage node (after a 401).
    pub fn forget_node(&mut self) {
        self.node = None;
        self.meta_global = None;
        self.crypto_keys = None;
        self.config = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_survives_garbage() {
        let mut state = PersistedState::load(None, "k1");
        state.declined = Some(vec!["history".into()]);
        state.meta_global = Some(CachedRecord {
            modified: ServerTimestamp::from_millis(1230),
            payload: "{}".into(),
        });
        let blob = state.to_json();
        let back = PersistedState::load(Some(&blob), "k1");
        assert_eq!(back.declined, state.declined);
        assert_eq!(back.meta_global, state.meta_global);

        let other_keys = PersistedState::load(Some(&blob), "k2");
        assert_eq!(
            other_keys.declined, state.declined,
            "declines survive a key change"
        );
        assert_eq!(other_keys.meta_global, None, "caches do not");

        // A blob from before tokens were kept out: the token is dropped.
        let old = r#"{"version": 1, "key_id": "k1", "token": {"id": "i", "key": "secret-hawk-key", "uid": 1,
                      "api_endpoint": "https://node/1.5/1", "duration": 3600}}"#;
        let loaded = PersistedState::load(Some(old), "k1");
        assert!(!loaded.to_json().contains("secret-hawk-key"));

        let garbage = PersistedState::load(Some("{not json"), "k1");
        assert_eq!(garbage.declined, None);
        let future = PersistedState::load(Some(r#"{"version": 99, "declined": ["x"]}"#), "k1");
        assert_eq!(future.declined, None);
    }
}
