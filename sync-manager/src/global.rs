//! The account-wide records: `meta/global` (sync IDs, storage version,
//! declined engines) and `crypto/keys` — reading them (from cache when the
//! server says they did not change), repairing them, and keeping them in
//! step with this device's engines and choices.

use std::collections::{BTreeMap, BTreeSet};

use sync15::{
    CRYPTO_COLLECTION, CollectionKeys, Error, Guid, IncomingBso, IncomingEnvelope, InfoCollections,
    KEYS_RECORD_ID, KeyBundle, META_COLLECTION, META_GLOBAL_ID, MetaGlobal, MetaGlobalEngine, Precondition,
    STORAGE_VERSION, ServerTimestamp, StorageClient, UnknownFields,
};

use crate::state::{CachedRecord, PersistedState};

/// An engine as `meta/global` needs to know it.
#[derive(Debug, Clone)]
pub(crate) struct EngineInfo {
    pub name: String,
    pub version: u64,
}

/// The account's global state for this sync.
pub(crate) struct GlobalState {
    pub meta: MetaGlobal,
    pub keys: CollectionKeys,
    /// Something was written, so `info/collections` is stale.
    pub wrote: bool,
    /// The server was wiped or the keys replaced: every engine starts over.
    pub reset_all: bool,
}

/// Brings `meta/global` and `crypto/keys` up to date.
pub(crate) fn setup(
    client: &StorageClient,
    state: &mut PersistedState,
    info: &InfoCollections,
    sync_key: &KeyBundle,
    engines: &[EngineInfo],
    changes: &BTreeMap<String, bool>,
) -> Result<GlobalState, Error> {
    let local_declined = merge_declined(state.declined.as_deref().unwrap_or(&[]), changes);
    let current = match info.get(META_COLLECTION) {
        None => None,
        Some(ts) => read_meta(client, state, ts)?,
    };
    let (mut meta, meta_ts) = match current {
        Some((meta, ts)) => {
            // Newer than us: stop, and say why. Older: take the account over.
            meta.check_storage_version()?;
            if meta.storage_version < STORAGE_VERSION {
                return fresh_start(client, state, sync_key, engines, &local_declined);
            }
            (meta, ts)
        }
        None => return fresh_start(client, state, sync_key, engines, &local_declined),
    };

    // Declined: the server's list, with this device's changes applied.
    let server_declined = merge_declined(&meta.declined, changes);
    let mut changed = server_declined.iter().cloned().collect::<BTreeSet<_>>()
        != meta.declined.iter().cloned().collect::<BTreeSet<_>>();
    meta.declined = server_declined;
    changed |= add_missing_engines(&mut meta, engines);
    let mut wrote = false;
    if changed {
        let written = client.put_record(
            META_COLLECTION,
            &meta.to_bso()?,
            Precondition::IfUnmodifiedSince(meta_ts),
        )?;
        cache_meta(state, &meta, written.modified)?;
        wrote = true;
    }
    state.declined = Some(meta.declined.clone());

    let previous = state
        .crypto_keys
        .as_ref()
        .and_then(|cached| CollectionKeys::from_bso(&cached_bso(KEYS_RECORD_ID, cached), sync_key).ok());
    let (keys, replaced) = read_or_repair_keys(client, state, info, sync_key)?;
    // Keys another device replaced make our last-sync times meaningless:
    // the data they covered was deleted with the old keys.
    let keys_changed = previous.is_some_and(|old| !same_keys(&old, &keys));
    Ok(GlobalState {
        meta,
        keys,
        wrote: wrote || replaced,
        reset_all: replaced || keys_changed,
    })
}

/// The server's declined list with `changes` (engine → enabled) applied.
fn merge_declined(declined: &[String], changes: &BTreeMap<String, bool>) -> Vec<String> {
    let mut set: BTreeSet<String> = declined.iter().cloned().collect();
    for (engine, enabled) in changes {
        if *enabled {
            set.remove(engine);
        } else {
            set.insert(engine.clone());
        }
    }
    set.into_iter().collect()
}

/// Gives every enabled engine an entry with a sync ID. Returns whether
/// anything changed. Entries of engines this device does not have are kept.
fn add_missing_engines(meta: &mut MetaGlobal, engines: &[EngineInfo]) -> bool {
    let mut changed = false;
    for engine in engines {
        if meta.is_declined(&engine.name) {
            continue;
        }
        let outdated = meta
            .engines
            .get(&engine.name)
            .is_none_or(|entry| entry.version < engine.version);
        if outdated {
            meta.engines.insert(
                engine.name.clone(),
                MetaGlobalEngine {
                    version: engine.version,
                    sync_id: Guid::random(),
                    unknown: UnknownFields::new(),
                },
            );
            changed = true;
        }
    }
    changed
}

fn read_meta(
    client: &StorageClient,
    state: &mut PersistedState,
    ts: ServerTimestamp,
) -> Result<Option<(MetaGlobal, ServerTimestamp)>, Error> {
    if let Some(cached) = &state.meta_global {
        if cached.modified == ts {
            let bso = cached_bso(META_GLOBAL_ID, cached);
            if let Ok(meta) = MetaGlobal::from_bso(bso) {
                return Ok(Some((meta, ts)));
            }
        }
    }
    match client.get_record(META_COLLECTION, &Guid::new(META_GLOBAL_ID), Precondition::None) {
        Ok(fetched) => {
            let payload = fetched.value.payload.clone();
            let meta = MetaGlobal::from_bso(fetched.value)?;
            state.meta_global = Some(CachedRecord {
                modified: ts,
                payload,
            });
            Ok(Some((meta, ts)))
        }
        Err(Error::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A fresh server (or one we must take over): wipe it, write a new
/// `meta/global` and new keys.
fn fresh_start(
    client: &StorageClient,
    state: &mut PersistedState,
    sync_key: &KeyBundle,
    engines: &[EngineInfo],
    declined: &[String],
) -> Result<GlobalState, Error> {
    log::info!("fresh start: wiping the server and writing new meta/global and keys");
    client.delete_everything()?;
    let mut meta = MetaGlobal::new();
    meta.declined = declined.to_vec();
    add_missing_engines(&mut meta, engines);
    let written = client.put_record(META_COLLECTION, &meta.to_bso()?, Precondition::None)?;
    cache_meta(state, &meta, written.modified)?;
    state.declined = Some(meta.declined.clone());
    let keys = upload_new_keys(client, state, sync_key, ServerTimestamp::ZERO)?;
    Ok(GlobalState {
        meta,
        keys,
        wrote: true,
        reset_all: true,
    })
}

fn cache_meta(state: &mut PersistedState, meta: &MetaGlobal, modified: ServerTimestamp) -> Result<(), Error> {
    state.meta_global = Some(CachedRecord {
        modified,
        payload: meta.to_bso()?.payload,
    });
    Ok(())
}

/// Returns the keys, and whether they had to be replaced.
fn read_or_repair_keys(
    client: &StorageClient,
    state: &mut PersistedState,
    info: &InfoCollections,
    sync_key: &KeyBundle,
) -> Result<(CollectionKeys, bool), Error> {
    let Some(ts) = info.get(CRYPTO_COLLECTION) else {
        log::warn!("crypto/keys is missing; generating new keys");
        return replace_keys(client, state, info, sync_key, ServerTimestamp::ZERO).map(|k| (k, true));
    };
    if let Some(cached) = &state.crypto_keys {
        if cached.modified == ts {
            if let Ok(keys) = CollectionKeys::from_bso(&cached_bso(KEYS_RECORD_ID, cached), sync_key) {
                return Ok((keys, false));
            }
        }
    }
    match client.get_record(CRYPTO_COLLECTION, &Guid::new(KEYS_RECORD_ID), Precondition::None) {
        Ok(fetched) => match CollectionKeys::from_bso(&fetched.value, sync_key) {
            Ok(keys) => {
                state.crypto_keys = Some(CachedRecord {
                    modified: ts,
                    payload: fetched.value.payload,
                });
                Ok((keys, false))
            }
            Err(e) => {
                log::warn!(
                    "crypto/keys does not decrypt with our key ({e}); replacing the keys and the data"
                );
                replace_keys(client, state, info, sync_key, ts).map(|k| (k, true))
            }
        },
        Err(Error::NotFound) => replace_keys(client, state, info, sync_key, ts).map(|k| (k, true)),
        Err(e) => Err(e),
    }
}

/// New keys make every encrypted record on the server unreadable, so those
/// collections are deleted first; engines then upload everything again.
fn replace_keys(
    client: &StorageClient,
    state: &mut PersistedState,
    info: &InfoCollections,
    sync_key: &KeyBundle,
    keys_ts: ServerTimestamp,
) -> Result<CollectionKeys, Error> {
    for (collection, _) in info.iter() {
        if collection != META_COLLECTION && collection != CRYPTO_COLLECTION {
            match client.delete_collection(collection, Precondition::None) {
                Ok(_) | Err(Error::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
    }
    upload_new_keys(client, state, sync_key, keys_ts)
}

fn upload_new_keys(
    client: &StorageClient,
    state: &mut PersistedState,
    sync_key: &KeyBundle,
    unmodified_since: ServerTimestamp,
) -> Result<CollectionKeys, Error> {
    let keys = CollectionKeys::new_random()?;
    let bso = keys.to_bso(sync_key)?;
    let written = client.put_record(
        CRYPTO_COLLECTION,
        &bso,
        Precondition::IfUnmodifiedSince(unmodified_since),
    )?;
    state.crypto_keys = Some(CachedRecord {
        modified: written.modified,
        payload: bso.payload,
    });
    Ok(keys)
}

fn same_keys(a: &CollectionKeys, b: &CollectionKeys) -> bool {
    a.default == b.default && a.collections == b.collections
}

fn cached_bso(id: &str, cached: &CachedRecord) -> IncomingBso {
    IncomingBso {
        envelope: IncomingEnvelope::new(Guid::new(id), cached.modified),
        payload: cached.payload.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declined_merging() {
        let changes: BTreeMap<String, bool> = [("history".to_string(), false), ("tabs".to_string(), true)]
            .into_iter()
            .collect();
        assert_eq!(
            merge_declined(&["tabs".into(), "forms".into()], &changes),
            ["forms", "history"]
        );
        assert_eq!(merge_declined(&[], &BTreeMap::new()), Vec::<String>::new());
    }

    #[test]
    fn missing_and_outdated_engines_get_entries_others_are_kept() {
        let mut meta = MetaGlobal::new();
        meta.engines.insert(
            "forms".into(),
            MetaGlobalEngine {
                version: 1,
                sync_id: Guid::new("formsformsfo"),
                unknown: UnknownFields::new(),
            },
        );
        meta.engines.insert(
            "bookmarks".into(),
            MetaGlobalEngine {
                version: 1,
                sync_id: Guid::new("oldbookmarks"),
                unknown: UnknownFields::new(),
            },
        );
        meta.declined = vec!["history".into()];
        let engines = [
            EngineInfo {
                name: "bookmarks".into(),
                version: 2,
            },
            EngineInfo {
                name: "history".into(),
                version: 1,
            },
            EngineInfo {
                name: "tabs".into(),
                version: 1,
            },
        ];
        assert!(add_missing_engines(&mut meta, &engines));
        assert_eq!(meta.engines["bookmarks"].version, 2);
        assert_ne!(meta.engines["bookmarks"].sync_id, Guid::new("oldbookmarks"));
        assert!(meta.engines.contains_key("tabs"));
        assert!(
            !meta.engines.contains_key("history"),
            "declined engines get no entry"
        );
        assert_eq!(
            meta.engines["forms"].sync_id,
            Guid::new("formsformsfo"),
            "unknown engines are kept"
        );
        assert!(!add_missing_engines(&mut meta, &engines), "idempotent");
    }
}
