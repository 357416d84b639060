//! [`TabsStore`]: this device's open tabs as the app sets them, and the
//! other devices' tabs as last downloaded.

use std::path::Path;

use parking_lot::Mutex;
use rusqlite::Connection;
use sync_sql::meta::{get_meta, get_meta_i64, set_meta};
use sync15::{InfoConfiguration, ServerTimestamp, StagedRecords};

use crate::TabsError;
use crate::local::{LocalTab, TabsConfig, validate};
use crate::record::TabsRecord;
use crate::schema::SCHEMA;

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

/// The tabs store, and the `tabs` [`SyncEngine`](sync15::SyncEngine); see the crate docs.
pub struct TabsStore {
    pub(crate) conn: Mutex<Connection>,
    pub(crate) config: TabsConfig,
    /// Downloaded records, until `apply`.
    pub(crate) staged: StagedRecords,
    /// The server's limits, as of this sync.
    pub(crate) server_limits: Mutex<InfoConfiguration>,
    /// The `local_version` of the record `apply` handed out for upload.
    pub(crate) uploading_version: Mutex<Option<i64>>,
    recreated: Option<sync_sql::Recreated>,
}

impl std::fmt::Debug for TabsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TabsStore").finish_non_exhaustive()
    }
}

impl TabsStore {
    /// Opens (creating) the store at `path` with the default filters.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, TabsError> {
        Self::open_with_config(path, TabsConfig::default())
    }

    /// Opens (creating) the store at `path`, keeping the tabs `config`
    /// filters out of sync.
    pub fn open_with_config(path: impl AsRef<Path>, config: TabsConfig) -> Result<Self, TabsError> {
        let (conn, recreated) = sync_sql::open_store(path, &sync_sql::OpenOptions::default(), &SCHEMA)?;
        Ok(TabsStore {
            conn: Mutex::new(conn),
            config,
            staged: StagedRecords::new(),
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
        sync_sql::in_transaction(&mut conn, |tx| write_local_tabs(tx, &tabs))
    }

    /// Closes this device's tabs showing any of `urls` (their current
    /// page), as another device's Close Tabs asks; the tabs record goes up
    /// without them on the next sync. How many were closed. The app closes
    /// its own tabs for them too (the sync result lists the command).
    pub fn close_local_tabs(&self, urls: &[String]) -> Result<usize, TabsError> {
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            let (closed, kept): (Vec<LocalTab>, Vec<LocalTab>) = read_local_tabs(tx)?
                .into_iter()
                .partition(|tab| tab.url_history.first().is_some_and(|url| urls.contains(url)));
            if !closed.is_empty() {
                write_local_tabs(tx, &kept)?;
            }
            Ok(closed.len())
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
}

/// Our record must go up again: its content, or where it lives, changed.
pub(crate) fn mark_changed(conn: &Connection) -> Result<(), TabsError> {
    let version = get_meta_i64(conn, "local_version")?;
    set_meta(conn, "local_version", &(version + 1).to_string())?;
    Ok(())
}

/// Replaces the local tabs with `tabs` (checked already); the record goes up again.
fn write_local_tabs(conn: &Connection, tabs: &[LocalTab]) -> Result<(), TabsError> {
    conn.execute("DELETE FROM local_tabs", [])?;
    let mut insert = conn.prepare("INSERT INTO local_tabs (position, tab) VALUES (?, ?)")?;
    for (position, tab) in tabs.iter().enumerate() {
        insert.execute((position as i64, serde_json::to_string(tab)?))?;
    }
    mark_changed(conn)
}

pub(crate) fn read_local_tabs(conn: &Connection) -> Result<Vec<LocalTab>, TabsError> {
    let mut stmt = conn.prepare("SELECT tab FROM local_tabs ORDER BY position")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut tabs = Vec::new();
    for row in rows {
        tabs.push(serde_json::from_str(&row?)?);
    }
    Ok(tabs)
}

pub(crate) fn now_ms() -> i64 {
    ServerTimestamp::now().as_millis()
}
