//! [`ClientsStore`]: this device's description, the account's other
//! devices as last downloaded, and the commands on their way in and out.

use std::path::Path;
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use sync_sql::meta::{get_meta, set_meta};
use sync15::{Guid, InfoConfiguration, ServerTimestamp, StagedRecords};

use crate::ClientsError;
use crate::record::{ClientRecord, Command, CommandRecord};
use crate::schema::SCHEMA;

/// Devices whose record was not written for this long are hidden.
pub const STALE_AFTER: Duration = Duration::from_secs(21 * 24 * 3600);

/// What this device says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalDevice {
    /// The name the user gave it.
    pub name: String,
    /// `desktop`, `mobile`, `tablet`, …
    pub device_type: String,
    /// The operating system.
    pub os: Option<String>,
    /// The application's name.
    pub application: Option<String>,
    /// The application's version.
    pub version: Option<String>,
    /// The device's Firefox Accounts id.
    pub fxa_device_id: Option<String>,
}

/// Another device of the account.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteDevice {
    /// Its client id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `desktop`, `mobile`, …
    pub device_type: String,
    /// Its Firefox Accounts id, if it said.
    pub fxa_device_id: Option<String>,
    /// When its record was last written.
    pub last_modified: ServerTimestamp,
}

/// The clients store, and the `clients` [`SyncEngine`](sync15::SyncEngine); see the crate docs.
pub struct ClientsStore {
    pub(crate) conn: Mutex<Connection>,
    recreated: Option<sync_sql::Recreated>,
    /// Downloaded records, until `apply`.
    pub(crate) staged: StagedRecords,
    /// The server's `max_record_payload_bytes`, as of this sync.
    pub(crate) max_payload_bytes: Mutex<usize>,
}

impl std::fmt::Debug for ClientsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientsStore").finish_non_exhaustive()
    }
}

impl ClientsStore {
    /// Opens (creating) the store at `path` for a device described by `local`.
    pub fn open(path: impl AsRef<Path>, local: &LocalDevice) -> Result<Self, ClientsError> {
        let (conn, recreated) = sync_sql::open_store(path, &sync_sql::OpenOptions::default(), &SCHEMA)?;
        if get_meta(&conn, "client_id")?.is_none() {
            set_meta(&conn, "client_id", Guid::random().as_str())?;
        }
        let engine = ClientsStore {
            conn: Mutex::new(conn),
            recreated,
            staged: StagedRecords::new(),
            max_payload_bytes: Mutex::new(InfoConfiguration::default().max_record_payload_bytes),
        };
        engine.set_local_device(local)?;
        Ok(engine)
    }

    /// If the store's file was corrupt when opened: where it was moved, and
    /// why (a fresh store took its place; the next sync refills it). See
    /// [`sync_sql::open_store`].
    pub fn recreated_from_corruption(&self) -> Option<&sync_sql::Recreated> {
        self.recreated.as_ref()
    }

    /// This device's client id (stable across restarts).
    pub fn client_id(&self) -> Result<Guid, ClientsError> {
        let conn = self.conn.lock();
        Ok(Guid::new(&get_meta(&conn, "client_id")?.unwrap_or_default()))
    }

    /// What this device says about itself.
    pub fn local_device(&self) -> Result<LocalDevice, ClientsError> {
        let conn = self.conn.lock();
        Ok(serde_json::from_str(
            &get_meta(&conn, "local_device")?.unwrap_or_default(),
        )?)
    }

    /// Changes what this device says about itself; uploaded on the next sync.
    pub fn set_local_device(&self, local: &LocalDevice) -> Result<(), ClientsError> {
        if local.name.trim().is_empty() {
            return Err(ClientsError::InvalidDevice("the device name is empty".into()));
        }
        let conn = self.conn.lock();
        let json = serde_json::to_string(local)?;
        if get_meta(&conn, "local_device")?.as_deref() != Some(json.as_str()) {
            set_meta(&conn, "local_device", &json)?;
            set_meta(&conn, "own_dirty", "1")?;
        }
        Ok(())
    }

    /// The account's other devices, most recently active first, without
    /// those not heard from for [`STALE_AFTER`].
    pub fn devices(&self) -> Result<Vec<RemoteDevice>, ClientsError> {
        let conn = self.conn.lock();
        let cutoff = now_ms() - STALE_AFTER.as_millis() as i64;
        let mut stmt = conn.prepare(
            "SELECT record, modified FROM remote_clients WHERE modified > ? ORDER BY modified DESC",
        )?;
        let rows = stmt.query_map([cutoff], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        let mut devices = Vec::new();
        for row in rows {
            let (json, modified) = row?;
            if let Ok(record) = serde_json::from_str::<ClientRecord>(&json) {
                devices.push(RemoteDevice {
                    id: record.id.to_string(),
                    name: record.name,
                    device_type: record.device_type,
                    fxa_device_id: record.fxa_device_id,
                    last_modified: ServerTimestamp::from_millis(modified),
                });
            }
        }
        Ok(devices)
    }

    /// Queues `command` for another device; it travels on the next sync.
    pub fn send_command(&self, target: &str, command: &Command) -> Result<(), ClientsError> {
        let conn = self.conn.lock();
        let known: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM remote_clients WHERE id = ?)",
            [target],
            |r| r.get(0),
        )?;
        if !known {
            return Err(ClientsError::UnknownDevice(target.to_owned()));
        }
        let record = command.to_record();
        conn.execute(
            "INSERT OR IGNORE INTO outgoing_commands (target, command, args, queued)
             VALUES (?, ?, ?, (SELECT coalesce(max(queued), 0) + 1 FROM outgoing_commands))",
            (target, &record.command, serde_json::to_string(&record.args)?),
        )?;
        Ok(())
    }

    /// Queues `command` for every other known device.
    pub fn send_command_to_all(&self, command: &Command) -> Result<usize, ClientsError> {
        let ids: Vec<String> = self.devices()?.into_iter().map(|d| d.id).collect();
        for id in &ids {
            self.send_command(id, command)?;
        }
        Ok(ids.len())
    }

    /// Received commands addressed to engines (`wipeEngine`, `resetEngine`,
    /// `resetAll`); the manager takes and runs these.
    pub fn take_engine_commands(&self) -> Result<Vec<Command>, ClientsError> {
        self.take_commands(false)
    }

    /// Received commands for the app (`logout`, `displayURI`).
    pub fn take_app_commands(&self) -> Result<Vec<Command>, ClientsError> {
        self.take_commands(true)
    }

    fn take_commands(&self, for_app: bool) -> Result<Vec<Command>, ClientsError> {
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            let mut commands = Vec::new();
            {
                let mut stmt =
                    tx.prepare("SELECT command, args FROM received_commands WHERE for_app = ? ORDER BY seq")?;
                let rows = stmt.query_map([for_app], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })?;
                for row in rows {
                    let (command, args) = row?;
                    let record = CommandRecord {
                        command,
                        args: serde_json::from_str(&args)?,
                        flow_id: None,
                    };
                    commands.extend(Command::from_record(&record));
                }
            }
            tx.execute("DELETE FROM received_commands WHERE for_app = ?", [for_app])?;
            Ok(commands)
        })
    }
}

pub(crate) fn now_ms() -> i64 {
    ServerTimestamp::now().as_millis()
}
