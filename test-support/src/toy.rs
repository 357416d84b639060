//! [`ToyEngine`]: the smallest real engine — records are JSON objects kept
//! in memory; incoming wins unless the local copy changed since the last
//! sync. Enough to exercise the manager until real engines exist, and to
//! test the manager apart from any one engine's merge logic.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use serde_json::Value;
use sync15::{
    ApplyStats, CollectionRequest, EngineError, EngineSyncAssociation, Guid, IncomingKind, IncomingRecord,
    OutgoingEnvelope, OutgoingRecord, ServerTimestamp, SyncEngine,
};

/// See the module docs.
pub struct ToyEngine {
    name: String,
    version: u64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// id → (content or None for a pending deletion, changed since last sync).
    records: BTreeMap<Guid, (Option<Value>, bool)>,
    staged: Vec<IncomingRecord>,
    last_sync: ServerTimestamp,
    association: Option<EngineSyncAssociation>,
    resets: usize,
    wipes: usize,
}

impl std::fmt::Debug for ToyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToyEngine")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ToyEngine {
    /// An engine syncing the collection `name` at format version 1.
    pub fn new(name: &str) -> Self {
        Self::with_version(name, 1)
    }

    /// An engine speaking `version` of its format.
    pub fn with_version(name: &str, version: u64) -> Self {
        ToyEngine {
            name: name.to_owned(),
            version,
            state: Mutex::new(State::default()),
        }
    }

    /// Adds or changes a local record (its `id` is set from `id`).
    pub fn set(&self, id: &str, mut content: Value) {
        content["id"] = Value::String(id.to_owned());
        self.state
            .lock()
            .records
            .insert(Guid::new(id), (Some(content), true));
    }

    /// Deletes a local record; the deletion syncs as a tombstone.
    pub fn delete(&self, id: &str) {
        self.state.lock().records.insert(Guid::new(id), (None, true));
    }

    /// A live local record.
    pub fn get(&self, id: &str) -> Option<Value> {
        self.state
            .lock()
            .records
            .get(&Guid::new(id))
            .and_then(|(v, _)| v.clone())
    }

    /// Ids of live local records, sorted.
    pub fn ids(&self) -> Vec<String> {
        self.state
            .lock()
            .records
            .iter()
            .filter(|(_, (v, _))| v.is_some())
            .map(|(id, _)| id.to_string())
            .collect()
    }

    /// Local changes not yet uploaded.
    pub fn pending(&self) -> usize {
        self.state
            .lock()
            .records
            .values()
            .filter(|(_, changed)| *changed)
            .count()
    }

    /// How many times the manager reset it.
    pub fn resets(&self) -> usize {
        self.state.lock().resets
    }

    /// How many times it was wiped.
    pub fn wipes(&self) -> usize {
        self.state.lock().wipes
    }
}

impl SyncEngine for ToyEngine {
    fn name(&self) -> &str {
        &self.name
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn sync_association(&self) -> Result<EngineSyncAssociation, EngineError> {
        Ok(self
            .state
            .lock()
            .association
            .clone()
            .unwrap_or(EngineSyncAssociation::Disconnected))
    }

    fn reset(&self, assoc: &EngineSyncAssociation) -> Result<(), EngineError> {
        let mut state = self.state.lock();
        state.association = Some(assoc.clone());
        state.last_sync = ServerTimestamp::ZERO;
        state.staged.clear();
        state.resets += 1;
        // Everything local must go up again.
        for (_, changed) in state.records.values_mut() {
            *changed = true;
        }
        Ok(())
    }

    fn wipe(&self) -> Result<(), EngineError> {
        let mut state = self.state.lock();
        state.records.clear();
        state.wipes += 1;
        Ok(())
    }

    fn begin_sync(&self) -> Result<(), EngineError> {
        self.state.lock().staged.clear();
        Ok(())
    }

    fn incoming_request(
        &self,
        server_modified: ServerTimestamp,
    ) -> Result<Option<CollectionRequest>, EngineError> {
        let last = self.state.lock().last_sync;
        Ok((server_modified > last).then(|| CollectionRequest::new(self.name.clone()).newer_than(last)))
    }

    fn stage_incoming(&self, records: Vec<IncomingRecord>) -> Result<(), EngineError> {
        self.state.lock().staged.extend(records);
        Ok(())
    }

    fn apply(
        &self,
        _timestamp: ServerTimestamp,
        stats: &mut ApplyStats,
    ) -> Result<Vec<OutgoingRecord>, EngineError> {
        let mut state = self.state.lock();
        for record in std::mem::take(&mut state.staged) {
            let id = record.envelope.id.clone();
            if state.records.get(&id).is_some_and(|(_, changed)| *changed) {
                stats.reconciled += 1;
                continue;
            }
            match record.into_content::<Value>().kind {
                IncomingKind::Content(value) => {
                    state.records.insert(id, (Some(value), false));
                    stats.applied += 1;
                }
                IncomingKind::Tombstone => {
                    state.records.remove(&id);
                    stats.applied += 1;
                }
                IncomingKind::Malformed(_) => stats.failed += 1,
            }
        }
        let mut outgoing = Vec::new();
        for (id, (value, changed)) in &state.records {
            if *changed {
                outgoing.push(match value {
                    Some(value) => OutgoingRecord::from_content(OutgoingEnvelope::new(id.clone()), value)?,
                    None => OutgoingRecord::tombstone(id.clone()),
                });
            }
        }
        Ok(outgoing)
    }

    fn set_uploaded(&self, _timestamp: ServerTimestamp, ids: Vec<Guid>) -> Result<(), EngineError> {
        let mut state = self.state.lock();
        for id in ids {
            let deleted = match state.records.get_mut(&id) {
                Some((value, changed)) => {
                    *changed = false;
                    value.is_none()
                }
                None => false,
            };
            if deleted {
                state.records.remove(&id);
            }
        }
        Ok(())
    }

    fn sync_finished(&self, last_sync: ServerTimestamp) -> Result<(), EngineError> {
        self.state.lock().last_sync = last_sync;
        Ok(())
    }
}
