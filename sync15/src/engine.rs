//! The [`SyncEngine`] trait: the one shape every engine has.
//!
//! The [`SyncDriver`](crate::SyncDriver) calls an engine's methods in this
//! order for every sync:
//!
//! 1. [`begin_sync`](SyncEngine::begin_sync) — drop anything staged by an
//!    interrupted sync;
//!    and [`prepare_for_sync`](SyncEngine::prepare_for_sync) — learn the
//!    server's limits and the device list;
//! 2. [`incoming_request`](SyncEngine::incoming_request) — what to download
//!    (usually "newer than my last sync"), or nothing;
//! 3. [`stage_incoming`](SyncEngine::stage_incoming), once per downloaded
//!    page — store the decrypted records without merging;
//! 4. [`apply`](SyncEngine::apply) — merge staged records with local
//!    changes; return the records to upload;
//! 5. [`set_uploaded`](SyncEngine::set_uploaded), once per committed batch;
//! 6. [`sync_finished`](SyncEngine::sync_finished) — persist the new
//!    last-sync time.
//!
//! Around those, the manager uses [`sync_association`](SyncEngine::sync_association),
//! [`reset`](SyncEngine::reset) and [`wipe`](SyncEngine::wipe) to keep the
//! engine's sync IDs in step with `meta/global`.
//!
//! Methods take `&self`: an app keeps using the engine's store while a sync
//! runs, so engines guard their own state. What most engines keep between
//! the steps is shared, not inherited: [`StagedRecords`](crate::StagedRecords)
//! holds a download until `apply`, and `sync-sql`'s `engine_meta` keeps the
//! last-sync time and sync IDs in the engine's SQLite store.

use serde::Serialize;

use crate::bso::{IncomingRecord, OutgoingRecord};
use crate::client::CollectionRequest;
use crate::context::SyncContext;
use crate::device_commands::DeviceCommand;
use crate::error::EngineError;
use crate::guid::Guid;
use crate::timestamp::ServerTimestamp;

/// The global and collection sync IDs an engine last synced under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CollSyncIds {
    /// `meta/global`'s `syncID`.
    pub global: Guid,
    /// The engine's own `syncID` in `meta/global`.
    pub coll: Guid,
}

/// Whether an engine is tied to the data on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineSyncAssociation {
    /// Never synced, or reset: the next sync is a first sync.
    Disconnected,
    /// Synced under these IDs; if `meta/global` shows others, the server
    /// was wiped and the engine must be reset.
    Connected(CollSyncIds),
}

impl EngineSyncAssociation {
    /// Reads what [`EngineSyncAssociation::to_stored`] wrote; nothing
    /// stored means disconnected.
    pub fn from_stored(stored: Option<&str>) -> Result<Self, serde_json::Error> {
        Ok(match stored {
            Some(json) => EngineSyncAssociation::Connected(serde_json::from_str(json)?),
            None => EngineSyncAssociation::Disconnected,
        })
    }

    /// The text an engine keeps in its store; `None` when disconnected.
    pub fn to_stored(&self) -> Result<Option<String>, serde_json::Error> {
        match self {
            EngineSyncAssociation::Connected(ids) => serde_json::to_string(ids).map(Some),
            EngineSyncAssociation::Disconnected => Ok(None),
        }
    }
}

/// Counters an engine fills in while applying incoming records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ApplyStats {
    /// Incoming records applied to the local store.
    pub applied: usize,
    /// Incoming records that conflicted with local changes and were merged.
    pub reconciled: usize,
    /// Incoming records skipped as invalid.
    pub failed: usize,
}

impl ApplyStats {
    /// Counts one incoming record's outcome.
    pub fn count(&mut self, outcome: ApplyOutcome) {
        match outcome {
            ApplyOutcome::Applied => self.applied += 1,
            ApplyOutcome::Reconciled => self.reconciled += 1,
            ApplyOutcome::Failed => self.failed += 1,
        }
    }
}

impl std::ops::AddAssign for ApplyStats {
    fn add_assign(&mut self, other: ApplyStats) {
        self.applied += other.applied;
        self.reconciled += other.reconciled;
        self.failed += other.failed;
    }
}

/// What became of one incoming record; [`ApplyStats::count`] adds it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// Taken as it came.
    Applied,
    /// Merged with a local change.
    Reconciled,
    /// Skipped as invalid.
    Failed,
}

/// A syncable data type. See the module docs for the call order.
pub trait SyncEngine: Send + Sync {
    /// The engine's name in `meta/global` (`passwords`, `bookmarks`, …).
    fn name(&self) -> &str;

    /// The server collection it syncs (usually its name).
    fn collection_name(&self) -> &str {
        self.name()
    }

    /// The record-format version it speaks, as written in `meta/global`.
    fn version(&self) -> u64;

    /// The sync IDs it last synced under.
    fn sync_association(&self) -> Result<EngineSyncAssociation, EngineError>;

    /// Forgets all sync state (last-sync time, mirror, change flags become
    /// "everything changed") but keeps the user's data, and records `assoc`
    /// as the new association.
    fn reset(&self, assoc: &EngineSyncAssociation) -> Result<(), EngineError>;

    /// Deletes the user's local data of this type.
    fn wipe(&self) -> Result<(), EngineError>;

    /// Called first in every sync: drop anything staged by a sync that was
    /// interrupted before [`SyncEngine::apply`].
    fn begin_sync(&self) -> Result<(), EngineError> {
        Ok(())
    }

    /// Called after [`SyncEngine::begin_sync`] with the server's limits and,
    /// when a manager runs the sync, this device's client id and the other
    /// devices. Engines that need neither keep the default.
    fn prepare_for_sync(&self, context: &SyncContext<'_>) -> Result<(), EngineError> {
        let _ = context;
        Ok(())
    }

    /// What to download, given the collection's last-modified time on the
    /// server ([`ServerTimestamp::ZERO`] if it does not exist). `None`
    /// downloads nothing — typically when `server_modified` is not newer than
    /// the engine's last sync, which makes an unchanged engine cost no request
    /// ([`CollectionRequest::changes_since`] is that rule).
    fn incoming_request(
        &self,
        server_modified: ServerTimestamp,
    ) -> Result<Option<CollectionRequest>, EngineError>;

    /// Stores a page of decrypted incoming records, without merging.
    fn stage_incoming(&self, records: Vec<IncomingRecord>) -> Result<(), EngineError>;

    /// Merges what was staged with local changes, as of the collection's
    /// `timestamp`; returns the records to upload.
    fn apply(
        &self,
        timestamp: ServerTimestamp,
        stats: &mut ApplyStats,
    ) -> Result<Vec<OutgoingRecord>, EngineError>;

    /// Acts on a command another device sent this one (the tabs engine
    /// closes tabs); whether it changed anything. The manager offers every
    /// command to every engine before they sync; most keep this default.
    fn apply_device_command(&self, command: &DeviceCommand) -> Result<bool, EngineError> {
        let _ = command;
        Ok(false)
    }

    /// These records are now on the server, as of `timestamp`.
    fn set_uploaded(&self, timestamp: ServerTimestamp, ids: Vec<Guid>) -> Result<(), EngineError>;

    /// The sync completed: persist `last_sync` as the time to download
    /// newer records from next time.
    fn sync_finished(&self, last_sync: ServerTimestamp) -> Result<(), EngineError>;
}
