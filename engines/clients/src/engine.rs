//! [`ClientsEngine`]: this device's record, the device list, and commands.

use std::path::Path;
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use sync15::{
    ApplyStats, CollectionRequest, EngineError, EngineSyncAssociation, Guid, IncomingRecord,
    InfoConfiguration, OutgoingRecord, ServerTimestamp, SyncContext, SyncEngine,
};

use crate::ClientsError;
use crate::record::{ClientRecord, Command, CommandRecord};
use crate::store;
use sync_sql::meta::{LAST_SYNC, SYNC_ASSOCIATION, get_meta, get_meta_i64, set_meta, set_or_delete_meta};

/// The collection and engine name.
pub const COLLECTION: &str = "clients";
/// Our own record is re-uploaded at least this often, so it never expires
/// and other devices see we are alive.
pub const REUPLOAD_EVERY: Duration = Duration::from_secs(7 * 24 * 3600);
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

/// The clients engine. See the crate docs.
pub struct ClientsEngine {
    conn: Mutex<Connection>,
    recreated: Option<sync_sql::Recreated>,
    /// The server's `max_record_payload_bytes`, as of this sync.
    max_payload_bytes: Mutex<usize>,
}

impl std::fmt::Debug for ClientsEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientsEngine").finish_non_exhaustive()
    }
}

impl ClientsEngine {
    /// Opens (creating) the store at `path` for a device described by `local`.
    pub fn open(path: impl AsRef<Path>, local: &LocalDevice) -> Result<Self, ClientsError> {
        let (conn, recreated) =
            sync_sql::open_store(path, &sync_sql::OpenOptions::default(), &store::SCHEMA)?;
        if get_meta(&conn, "client_id")?.is_none() {
            set_meta(&conn, "client_id", Guid::random().as_str())?;
        }
        let engine = ClientsEngine {
            conn: Mutex::new(conn),
            recreated,
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

    fn own_record(&self, conn: &Connection) -> Result<ClientRecord, ClientsError> {
        let local: LocalDevice = serde_json::from_str(&get_meta(conn, "local_device")?.unwrap_or_default())?;
        Ok(ClientRecord {
            id: Guid::new(&get_meta(conn, "client_id")?.unwrap_or_default()),
            name: local.name,
            device_type: local.device_type,
            commands: Vec::new(),
            version: local.version,
            protocols: vec!["1.5".into()],
            os: local.os,
            app_package: None,
            application: local.application,
            formfactor: None,
            device: None,
            fxa_device_id: local.fxa_device_id,
            unknown: Default::default(),
        })
    }
}

/// Receiving: our own record's commands are queued (deduplicated) and the
/// record is re-uploaded without them; other devices' records are cached.
fn apply_incoming(conn: &Connection, own_id: &str, stats: &mut ApplyStats) -> Result<(), ClientsError> {
    let staged: Vec<(String, String, i64)> = {
        let mut stmt = conn.prepare("SELECT id, record, modified FROM staged")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    conn.execute("DELETE FROM staged", [])?;
    for (id, json, modified) in staged {
        let value: serde_json::Value = serde_json::from_str(&json)?;
        if value.get("deleted") == Some(&serde_json::Value::Bool(true)) {
            conn.execute("DELETE FROM remote_clients WHERE id = ?", [&id])?;
            if id == own_id {
                set_meta(conn, "own_dirty", "1")?;
            }
            stats.applied += 1;
            continue;
        }
        let Ok(record) = serde_json::from_value::<ClientRecord>(value) else {
            stats.failed += 1;
            continue;
        };
        if id == own_id {
            let mut seen: Vec<&CommandRecord> = Vec::new();
            for command in &record.commands {
                if seen.iter().any(|s| s.same_as(command)) {
                    continue;
                }
                seen.push(command);
                match Command::from_record(command) {
                    Some(parsed) => {
                        let for_app = matches!(parsed, Command::Logout | Command::DisplayUri { .. });
                        conn.execute(
                            "INSERT INTO received_commands (for_app, command, args) VALUES (?, ?, ?)",
                            (for_app, &command.command, serde_json::to_string(&command.args)?),
                        )?;
                    }
                    None => log::info!("ignoring unknown command {:?}", command.command),
                }
            }
            if !record.commands.is_empty() {
                set_meta(conn, "own_dirty", "1")?;
            }
        } else {
            conn.execute(
                "INSERT INTO remote_clients (id, record, modified) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET record = ?2, modified = ?3",
                (&id, &json, modified),
            )?;
        }
        stats.applied += 1;
    }
    Ok(())
}

/// Sending: other devices' records with our queued commands appended.
fn outgoing_for_targets(
    conn: &Connection,
    max_payload_bytes: usize,
) -> Result<Vec<OutgoingRecord>, ClientsError> {
    let targets: Vec<String> = {
        let mut stmt = conn.prepare("SELECT DISTINCT target FROM outgoing_commands ORDER BY target")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut outgoing = Vec::new();
    for target in targets {
        let Some(json) = conn
            .query_row("SELECT record FROM remote_clients WHERE id = ?", [&target], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
        else {
            continue;
        };
        let mut record: ClientRecord = serde_json::from_str(&json)?;
        let mut stmt =
            conn.prepare("SELECT command, args FROM outgoing_commands WHERE target = ? ORDER BY queued")?;
        let queued = stmt.query_map([&target], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in queued {
            let (command, args) = row?;
            let command = CommandRecord {
                command,
                args: serde_json::from_str(&args)?,
                flow_id: Some(Guid::random().to_string()),
            };
            if !record.commands.iter().any(|c| c.same_as(&command)) {
                record.commands.push(command);
            }
        }
        outgoing.push(crate::fit::fitted(record, max_payload_bytes)?);
    }
    Ok(outgoing)
}

impl SyncEngine for ClientsEngine {
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
        set_meta(&conn, LAST_SYNC, "0")?;
        set_meta(&conn, "own_dirty", "1")?;
        conn.execute("DELETE FROM staged", [])?;
        set_or_delete_meta(&conn, SYNC_ASSOCIATION, assoc.to_stored()?.as_deref())?;
        Ok(())
    }

    fn wipe(&self) -> Result<(), EngineError> {
        let conn = self.conn.lock();
        conn.execute_batch(
            "DELETE FROM remote_clients; DELETE FROM staged; DELETE FROM outgoing_commands; DELETE FROM received_commands;",
        )?;
        Ok(())
    }

    fn prepare_for_sync(&self, context: &SyncContext<'_>) -> Result<(), EngineError> {
        *self.max_payload_bytes.lock() = context.config.max_record_payload_bytes;
        Ok(())
    }

    fn begin_sync(&self) -> Result<(), EngineError> {
        self.conn.lock().execute("DELETE FROM staged", [])?;
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
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            for record in records {
                let id = record.envelope.id.to_string();
                let modified = record.envelope.modified.as_millis();
                let json = serde_json::to_string(record.cleartext.as_map())?;
                tx.execute(
                    "INSERT OR REPLACE INTO staged (id, record, modified) VALUES (?, ?, ?)",
                    (id, json, modified),
                )?;
            }
            Ok::<_, ClientsError>(())
        })?;
        Ok(())
    }

    fn apply(
        &self,
        _timestamp: ServerTimestamp,
        stats: &mut ApplyStats,
    ) -> Result<Vec<OutgoingRecord>, EngineError> {
        let mut conn = self.conn.lock();
        let outgoing = sync_sql::in_transaction(&mut conn, |tx| {
            let own_id = get_meta(tx, "client_id")?.unwrap_or_default();
            apply_incoming(tx, &own_id, stats)?;
            let max_payload_bytes = *self.max_payload_bytes.lock();
            let mut outgoing = outgoing_for_targets(tx, max_payload_bytes)?;
            let last_upload = get_meta_i64(tx, "last_upload")?;
            let stale = now_ms() - last_upload > REUPLOAD_EVERY.as_millis() as i64;
            if stale || get_meta(tx, "own_dirty")?.as_deref() == Some("1") {
                let own = self.own_record(tx)?;
                outgoing.push(crate::fit::fitted(own, max_payload_bytes)?);
            }
            Ok::<_, ClientsError>(outgoing)
        })?;
        Ok(outgoing)
    }

    fn set_uploaded(&self, _timestamp: ServerTimestamp, ids: Vec<Guid>) -> Result<(), EngineError> {
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            let own_id = get_meta(tx, "client_id")?.unwrap_or_default();
            for id in ids {
                if id.as_str() == own_id {
                    set_meta(tx, "last_upload", &now_ms().to_string())?;
                    set_meta(tx, "own_dirty", "0")?;
                } else {
                    tx.execute("DELETE FROM outgoing_commands WHERE target = ?", [id.as_str()])?;
                }
            }
            Ok::<_, ClientsError>(())
        })?;
        Ok(())
    }

    fn sync_finished(&self, last_sync: ServerTimestamp) -> Result<(), EngineError> {
        set_meta(&self.conn.lock(), LAST_SYNC, &last_sync.as_millis().to_string())?;
        Ok(())
    }
}

fn now_ms() -> i64 {
    ServerTimestamp::now().as_millis()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::CLIENTS_TTL_SECS;
    use serde_json::json;
    use sync15::{Cleartext, IncomingEnvelope};

    fn local(name: &str) -> LocalDevice {
        LocalDevice {
            name: name.into(),
            device_type: "desktop".into(),
            os: None,
            application: None,
            version: None,
            fxa_device_id: None,
        }
    }

    fn incoming(id: &str, modified_ms: i64, content: serde_json::Value) -> IncomingRecord {
        IncomingRecord::new(
            IncomingEnvelope::new(Guid::new(id), ServerTimestamp::from_millis(modified_ms)),
            Cleartext::from_content(&content).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn stale_devices_are_hidden_and_ids_persist() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clients.db");
        let engine = ClientsEngine::open(&path, &local("Me")).unwrap();
        let id = engine.client_id().unwrap();
        let now = now_ms();
        let old = now - STALE_AFTER.as_millis() as i64 - 1000;
        engine
            .stage_incoming(vec![
                incoming(
                    "fresh0000001",
                    now,
                    json!({"id": "fresh0000001", "name": "Fresh", "type": "mobile"}),
                ),
                incoming(
                    "stale0000001",
                    old,
                    json!({"id": "stale0000001", "name": "Stale", "type": "desktop"}),
                ),
                incoming("broken000001", now, json!({"id": "broken000001", "name": 7})),
            ])
            .unwrap();
        let mut stats = ApplyStats::default();
        let outgoing = engine
            .apply(ServerTimestamp::from_millis(now), &mut stats)
            .unwrap();
        assert_eq!(stats.applied, 2);
        assert_eq!(stats.failed, 1);
        let names: Vec<String> = engine.devices().unwrap().into_iter().map(|d| d.name).collect();
        assert_eq!(names, ["Fresh"]);
        // Our own record goes up on first sync, with the clients TTL.
        assert_eq!(outgoing.len(), 1);
        assert_eq!(outgoing[0].envelope.id, id);
        assert_eq!(outgoing[0].envelope.ttl, Some(CLIENTS_TTL_SECS));
        drop(engine);
        // Reopened, it is the same device.
        assert_eq!(
            ClientsEngine::open(&path, &local("Me"))
                .unwrap()
                .client_id()
                .unwrap(),
            id
        );
    }

    #[test]
    fn bad_input_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let engine = ClientsEngine::open(dir.path().join("c.db"), &local("Me")).unwrap();
        assert!(matches!(
            engine.set_local_device(&local("  ")),
            Err(ClientsError::InvalidDevice(_))
        ));
        assert!(matches!(
            engine.send_command("nobody", &Command::ResetAll),
            Err(ClientsError::UnknownDevice(_))
        ));
        assert!(ClientsEngine::open(dir.path().join("d.db"), &local("")).is_err());
    }

    #[test]
    fn commands_are_appended_once_and_other_fields_kept() {
        let dir = tempfile::tempdir().unwrap();
        let engine = ClientsEngine::open(dir.path().join("c.db"), &local("Me")).unwrap();
        let now = now_ms();
        engine
            .stage_incoming(vec![incoming(
                "other0000001",
                now,
                json!({"id": "other0000001", "name": "Other", "type": "desktop",
                       "commands": [{"command": "resetAll", "args": []}], "futureField": {"x": 1}}),
            )])
            .unwrap();
        let mut stats = ApplyStats::default();
        engine
            .apply(ServerTimestamp::from_millis(now), &mut stats)
            .unwrap();
        engine
            .set_uploaded(
                ServerTimestamp::from_millis(now),
                vec![engine.client_id().unwrap()],
            )
            .unwrap();
        engine.send_command("other0000001", &Command::ResetAll).unwrap();
        engine
            .send_command("other0000001", &Command::WipeEngine("tabs".into()))
            .unwrap();
        let outgoing = engine
            .apply(ServerTimestamp::from_millis(now), &mut stats)
            .unwrap();
        assert_eq!(outgoing.len(), 1);
        let record = outgoing[0].cleartext.as_map();
        let commands: Vec<&str> = record["commands"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["command"].as_str().unwrap())
            .collect();
        assert_eq!(
            commands,
            ["resetAll", "wipeEngine"],
            "the existing resetAll is not doubled"
        );
        assert_eq!(record["futureField"], json!({"x": 1}));
        engine
            .set_uploaded(ServerTimestamp::from_millis(now), vec![Guid::new("other0000001")])
            .unwrap();
        assert!(
            engine
                .apply(ServerTimestamp::from_millis(now), &mut stats)
                .unwrap()
                .is_empty()
        );
    }
}
