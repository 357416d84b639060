//! The `tabs` engine: [`SyncEngine`] for [`TabsStore`].
//!
//! Downloads are staged in memory; `apply` stores the other devices'
//! records and hands out our own when it changed (or is a day old);
//! `set_uploaded` notes which version of it the server now holds.

use std::time::Duration;

use rusqlite::Connection;
use sync_sql::engine_meta;
use sync_sql::meta::{get_meta, get_meta_i64, set_meta};
use sync15::{
    ApplyStats, ClientData, CollectionRequest, DeviceCommand, EngineError, EngineSyncAssociation, Guid,
    IncomingRecord, OutgoingRecord, ServerTimestamp, SyncContext, SyncEngine, UnknownFields,
};

use crate::TabsError;
use crate::local::own_record;
use crate::record::TabsRecord;
use crate::store::{TabsStore, mark_changed, now_ms, read_local_tabs};

/// The collection and engine name.
pub const COLLECTION: &str = "tabs";
/// Our record is re-uploaded at least this often even when nothing
/// changed, so other devices can tell we are still around.
pub const REUPLOAD_EVERY: Duration = Duration::from_secs(24 * 3600);

impl TabsStore {
    fn remember_client_data(&self, data: &ClientData) -> Result<(), TabsError> {
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            if get_meta(tx, "local_client_id")?.as_deref() != Some(data.local_client_id.as_str()) {
                set_meta(tx, "local_client_id", data.local_client_id.as_str())?;
                mark_changed(tx)?;
            }
            if get_meta(tx, "client_name")?.as_deref() != Some(data.local_device_name.as_str()) {
                set_meta(tx, "client_name", &data.local_device_name)?;
                mark_changed(tx)?;
            }
            tx.execute("DELETE FROM devices", [])?;
            let mut insert =
                tx.prepare("INSERT OR REPLACE INTO devices (client_id, name, device_type) VALUES (?, ?, ?)")?;
            for device in &data.devices {
                insert.execute((device.client_id.as_str(), &device.name, &device.device_type))?;
            }
            set_meta(tx, "devices_known", "1")?;
            Ok::<_, TabsError>(())
        })
    }

    /// Stores staged records; notes what the server holds of our own.
    fn apply_incoming(&self, tx: &Connection, stats: &mut ApplyStats) -> Result<(), TabsError> {
        let local_id = get_meta(tx, "local_client_id")?.unwrap_or_default();
        for record in self.staged.take() {
            let id = record.envelope.id.to_string();
            let modified = record.envelope.modified.as_millis();
            if id == local_id {
                // Our own record as the server has it: keep fields a newer
                // version of this app wrote, and put back a deleted one.
                if record.is_tombstone() {
                    mark_changed(tx)?;
                } else if let Ok(own) = record.cleartext.into_content::<TabsRecord>() {
                    set_meta(tx, "own_unknown", &serde_json::to_string(&own.unknown)?)?;
                }
                stats.applied += 1;
                continue;
            }
            if record.is_tombstone() {
                tx.execute("DELETE FROM remote_tabs WHERE client_id = ?", [&id])?;
                stats.applied += 1;
                continue;
            }
            let json = record.cleartext.to_json_string();
            if serde_json::from_str::<TabsRecord>(&json).is_err() {
                log::warn!("skipping unreadable tabs record {id}");
                stats.failed += 1;
                continue;
            }
            tx.execute(
                "INSERT INTO remote_tabs (client_id, record, modified) VALUES (?1, ?2, ?3)
                 ON CONFLICT (client_id) DO UPDATE SET record = ?2, modified = ?3",
                (&id, &json, modified),
            )?;
            stats.applied += 1;
        }
        Ok(())
    }

    /// Our record, if it must be uploaded.
    fn outgoing(&self, tx: &Connection) -> Result<Option<OutgoingRecord>, TabsError> {
        let Some(local_id) = get_meta(tx, "local_client_id")? else {
            log::info!("tabs: no client id yet (synced without a clients engine); not uploading");
            return Ok(None);
        };
        let stale = now_ms() - get_meta_i64(tx, "last_upload")? > REUPLOAD_EVERY.as_millis() as i64;
        let version = get_meta_i64(tx, "local_version")?;
        if !stale && version == get_meta_i64(tx, "uploaded_version")? {
            return Ok(None);
        }
        *self.uploading_version.lock() = Some(version);
        let client_name = get_meta(tx, "client_name")?.unwrap_or_default();
        let unknown: UnknownFields = match get_meta(tx, "own_unknown")? {
            Some(json) => serde_json::from_str(&json).unwrap_or_default(),
            None => UnknownFields::new(),
        };
        let max = self.server_limits.lock().max_record_payload_bytes;
        let tabs = read_local_tabs(tx)?;
        let (record, dropped) = own_record(
            &Guid::new(&local_id),
            &client_name,
            &tabs,
            unknown,
            &self.config,
            max,
        )?;
        if dropped > 0 {
            log::info!("tabs: {dropped} oldest tabs left out to fit the server's {max}-byte limit");
        }
        Ok(Some(record))
    }
}

impl SyncEngine for TabsStore {
    fn name(&self) -> &str {
        COLLECTION
    }

    fn version(&self) -> u64 {
        1
    }

    fn sync_association(&self) -> Result<EngineSyncAssociation, EngineError> {
        Ok(engine_meta::sync_association(&self.conn.lock())?)
    }

    fn reset(&self, assoc: &EngineSyncAssociation) -> Result<(), EngineError> {
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            // Other devices' tabs come again; ours goes up again.
            tx.execute("DELETE FROM remote_tabs", [])?;
            mark_changed(tx)?;
            engine_meta::reset_sync_meta(tx, assoc)?;
            Ok::<_, TabsError>(())
        })?;
        self.staged.clear();
        Ok(())
    }

    fn wipe(&self) -> Result<(), EngineError> {
        let conn = self.conn.lock();
        conn.execute_batch("DELETE FROM remote_tabs; DELETE FROM local_tabs;")?;
        mark_changed(&conn)?;
        self.staged.clear();
        Ok(())
    }

    fn begin_sync(&self) -> Result<(), EngineError> {
        self.staged.clear();
        Ok(())
    }

    fn prepare_for_sync(&self, context: &SyncContext<'_>) -> Result<(), EngineError> {
        *self.server_limits.lock() = context.config.clone();
        if let Some(data) = context.client_data {
            self.remember_client_data(data)?;
        }
        Ok(())
    }

    fn incoming_request(
        &self,
        server_modified: ServerTimestamp,
    ) -> Result<Option<CollectionRequest>, EngineError> {
        Ok(engine_meta::changes_since_last_sync(
            &self.conn.lock(),
            COLLECTION,
            server_modified,
        )?)
    }

    fn stage_incoming(&self, records: Vec<IncomingRecord>) -> Result<(), EngineError> {
        self.staged.stage(records);
        Ok(())
    }

    fn apply(
        &self,
        _timestamp: ServerTimestamp,
        stats: &mut ApplyStats,
    ) -> Result<Vec<OutgoingRecord>, EngineError> {
        let mut conn = self.conn.lock();
        let outgoing = sync_sql::in_transaction(&mut conn, |tx| {
            self.apply_incoming(tx, stats)?;
            self.outgoing(tx)
        })?;
        Ok(outgoing.into_iter().collect())
    }

    fn apply_device_command(&self, command: &DeviceCommand) -> Result<bool, EngineError> {
        match command {
            DeviceCommand::CloseTabs { urls, .. } => Ok(self.close_local_tabs(urls)? > 0),
            DeviceCommand::OpenTab { .. } => Ok(false),
        }
    }

    fn set_uploaded(&self, _timestamp: ServerTimestamp, ids: Vec<Guid>) -> Result<(), EngineError> {
        let conn = self.conn.lock();
        let local_id = get_meta(&conn, "local_client_id")?.unwrap_or_default();
        if ids.iter().any(|id| id.as_str() == local_id) {
            set_meta(&conn, "last_upload", &now_ms().to_string())?;
            // Only what was read in `apply` is on the server: tabs set since
            // then keep the record pending.
            if let Some(version) = self.uploading_version.lock().take() {
                set_meta(&conn, "uploaded_version", &version.to_string())?;
            }
        }
        Ok(())
    }

    fn sync_finished(&self, last_sync: ServerTimestamp) -> Result<(), EngineError> {
        Ok(engine_meta::set_last_sync(&self.conn.lock(), last_sync)?)
    }
}
