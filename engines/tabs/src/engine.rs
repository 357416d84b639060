//! [`TabsEngine`]: the store of local tabs, the cache of remote tabs, and
//! the `tabs` collection's sync.

use std::path::Path;
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::Connection;
use sync_sql::meta::{LAST_SYNC, SYNC_ASSOCIATION, get_meta, get_meta_i64, set_meta, set_or_delete_meta};
use sync15::{
    ApplyStats, ClientData, CollectionRequest, EngineError, EngineSyncAssociation, Guid, IncomingRecord,
    InfoConfiguration, OutgoingRecord, ServerTimestamp, SyncContext, SyncEngine, UnknownFields,
};

use crate::TabsError;
use crate::local::{LocalTab, TabsConfig, own_record, validate};
use crate::record::TabsRecord;
use crate::store::SCHEMA;

/// The collection and engine name.
pub const COLLECTION: &str = "tabs";
/// Our record is re-uploaded at least this often even when nothing
/// changed, so other devices can tell we are still around.
pub const REUPLOAD_EVERY: Duration = Duration::from_secs(24 * 3600);

/// A tab on another device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteTab {
    /// The page title.
    pub title: String,
    /// Its URLs, current first.
    pub url_history: Vec<String>,
    /// The favicon URL.
    pub icon: Option<String>,
    /// When it was last used, in milliseconds since the epoch.
    pub last_used_ms: i64,
    /// Whether it is pinned.
    pub pinned: bool,
    /// Whether it is inactive.
    pub inactive: bool,
}

/// The open tabs of one other device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRemoteTabs {
    /// The device's client id.
    pub client_id: String,
    /// The device's name (from the device list when known, else from the record).
    pub device_name: String,
    /// `desktop`, `mobile`, … when the device list says.
    pub device_type: Option<String>,
    /// When the device last uploaded its tabs.
    pub last_modified: ServerTimestamp,
    /// Most recently used first.
    pub tabs: Vec<RemoteTab>,
}

/// The tabs engine; see the crate docs.
pub struct TabsEngine {
    conn: Mutex<Connection>,
    config: TabsConfig,
    staged: Mutex<Vec<IncomingRecord>>,
    server_limits: Mutex<InfoConfiguration>,
    uploading_version: Mutex<Option<i64>>,
    recreated: Option<sync_sql::Recreated>,
}

impl std::fmt::Debug for TabsEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TabsEngine").finish_non_exhaustive()
    }
}

impl TabsEngine {
    /// Opens (creating) the store at `path` with the default filters.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, TabsError> {
        Self::open_with_config(path, TabsConfig::default())
    }

    /// Opens (creating) the store at `path`, keeping the tabs `config`
    /// filters out of sync.
    pub fn open_with_config(path: impl AsRef<Path>, config: TabsConfig) -> Result<Self, TabsError> {
        let (conn, recreated) = sync_sql::open_store(path, &sync_sql::OpenOptions::default(), &SCHEMA)?;
        Ok(TabsEngine {
            conn: Mutex::new(conn),
            config,
            staged: Mutex::new(Vec::new()),
            server_limits: Mutex::new(InfoConfiguration::default()),
            uploading_version: Mutex::new(None),
            recreated,
        })
    }

    /// If the store's file was corrupt when opened: where it was moved, and
    /// why (a fresh store took its place; the next sync refills it). See
    /// [`sync_sql::open_store`].
    pub fn recreated_from_corruption(&self) -> Option<&sync_sql::Recreated> {
        self.recreated.as_ref()
    }

    /// Replaces this device's open tabs; they are uploaded on the next sync.
    pub fn set_local_tabs(&self, tabs: Vec<LocalTab>) -> Result<(), TabsError> {
        validate(&tabs)?;
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            tx.execute("DELETE FROM local_tabs", [])?;
            let mut insert = tx.prepare("INSERT INTO local_tabs (position, tab) VALUES (?, ?)")?;
            for (position, tab) in tabs.iter().enumerate() {
                insert.execute((position as i64, serde_json::to_string(tab)?))?;
            }
            mark_changed(tx)?;
            Ok::<_, TabsError>(())
        })
    }

    /// This device's open tabs, as last set.
    pub fn local_tabs(&self) -> Result<Vec<LocalTab>, TabsError> {
        read_local_tabs(&self.conn.lock())
    }

    /// The other devices' tabs, most recently synced device first. Once the
    /// manager has told us the device list, devices no longer on it (signed
    /// out, or stale) are left out.
    pub fn remote_tabs(&self) -> Result<Vec<ClientRemoteTabs>, TabsError> {
        let conn = self.conn.lock();
        let local_id = get_meta(&conn, "local_client_id")?.unwrap_or_default();
        let devices_known = get_meta(&conn, "devices_known")?.is_some();
        let mut stmt = conn.prepare(
            "SELECT r.client_id, r.record, r.modified, d.name, d.device_type
             FROM remote_tabs r LEFT JOIN devices d ON d.client_id = r.client_id
             ORDER BY r.modified DESC, r.client_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (client_id, json, modified, name, device_type) = row?;
            if client_id == local_id || (devices_known && name.is_none()) {
                continue;
            }
            let record: TabsRecord = match serde_json::from_str(&json) {
                Ok(record) => record,
                Err(e) => {
                    log::warn!("tabs of {client_id} are unreadable: {e}");
                    continue;
                }
            };
            let mut tabs: Vec<RemoteTab> = record
                .tabs
                .into_iter()
                .filter(|t| !t.url_history.is_empty())
                .map(|t| RemoteTab {
                    title: t.title,
                    url_history: t.url_history,
                    icon: t.icon,
                    last_used_ms: t.last_used.saturating_mul(1000),
                    pinned: t.pinned,
                    inactive: t.inactive,
                })
                .collect();
            tabs.sort_by_key(|t| std::cmp::Reverse(t.last_used_ms));
            out.push(ClientRemoteTabs {
                client_id,
                device_name: name.unwrap_or(record.client_name),
                device_type,
                last_modified: ServerTimestamp::from_millis(modified),
                tabs,
            });
        }
        Ok(out)
    }

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
        for record in std::mem::take(&mut *self.staged.lock()) {
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

/// Our record must go up again: its content, or where it lives, changed.
fn mark_changed(conn: &Connection) -> Result<(), TabsError> {
    let version = get_meta_i64(conn, "local_version")?;
    set_meta(conn, "local_version", &(version + 1).to_string())?;
    Ok(())
}

fn read_local_tabs(conn: &Connection) -> Result<Vec<LocalTab>, TabsError> {
    let mut stmt = conn.prepare("SELECT tab FROM local_tabs ORDER BY position")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut tabs = Vec::new();
    for row in rows {
        tabs.push(serde_json::from_str(&row?)?);
    }
    Ok(tabs)
}

fn now_ms() -> i64 {
    ServerTimestamp::now().as_millis()
}

impl SyncEngine for TabsEngine {
    fn name(&self) -> &str {
        COLLECTION
    }

    fn version(&self) -> u64 {
        1
    }

    fn sync_association(&self) -> Result<EngineSyncAssociation, EngineError> {
        let stored = get_meta(&self.conn.lock(), SYNC_ASSOCIATION)?;
        Ok(EngineSyncAssociation::from_stored(stored.as_deref())?)
    }

    fn reset(&self, assoc: &EngineSyncAssociation) -> Result<(), EngineError> {
        let conn = self.conn.lock();
        conn.execute("DELETE FROM remote_tabs", [])?;
        set_meta(&conn, LAST_SYNC, "0")?;
        mark_changed(&conn)?;
        set_or_delete_meta(&conn, SYNC_ASSOCIATION, assoc.to_stored()?.as_deref())?;
        self.staged.lock().clear();
        Ok(())
    }

    fn wipe(&self) -> Result<(), EngineError> {
        let conn = self.conn.lock();
        conn.execute_batch("DELETE FROM remote_tabs; DELETE FROM local_tabs;")?;
        mark_changed(&conn)?;
        self.staged.lock().clear();
        Ok(())
    }

    fn begin_sync(&self) -> Result<(), EngineError> {
        self.staged.lock().clear();
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
        let last = ServerTimestamp::from_millis(get_meta_i64(&self.conn.lock(), LAST_SYNC)?);
        Ok(CollectionRequest::changes_since(
            COLLECTION,
            last,
            server_modified,
        ))
    }

    fn stage_incoming(&self, records: Vec<IncomingRecord>) -> Result<(), EngineError> {
        self.staged.lock().extend(records);
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
        set_meta(&self.conn.lock(), LAST_SYNC, &last_sync.as_millis().to_string())?;
        Ok(())
    }
}
