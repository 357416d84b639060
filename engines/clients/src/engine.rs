//! The `clients` engine: [`SyncEngine`] for [`ClientsStore`].
//!
//! Downloads are staged in memory; `apply` caches the other devices'
//! records, takes the commands found in our own, and hands out our record
//! (when it changed, held commands, or is a week old) and every record we
//! add commands to; `set_uploaded` clears what the server now holds.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};
use sync_sql::engine_meta;
use sync_sql::meta::{get_meta, get_meta_i64, set_meta};
use sync15::{
    ApplyStats, CollectionRequest, EngineError, EngineSyncAssociation, Guid, IncomingRecord, OutgoingRecord,
    ServerTimestamp, SyncContext, SyncEngine,
};

use crate::ClientsError;
use crate::record::{ClientRecord, Command, CommandRecord};
use crate::store::{ClientsStore, LocalDevice, now_ms};

/// The collection and engine name.
pub const COLLECTION: &str = "clients";
/// Our own record is re-uploaded at least this often, so it never expires
/// and other devices see we are alive.
pub const REUPLOAD_EVERY: Duration = Duration::from_secs(7 * 24 * 3600);

/// This device's record, as the app last described it.
fn own_record(conn: &Connection) -> Result<ClientRecord, ClientsError> {
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

/// Receiving: our own record's commands are queued (deduplicated) and the
/// record is re-uploaded without them; other devices' records are cached.
fn apply_incoming(
    conn: &Connection,
    own_id: &str,
    staged: Vec<IncomingRecord>,
    stats: &mut ApplyStats,
) -> Result<(), ClientsError> {
    for record in staged {
        let id = record.envelope.id.to_string();
        let modified = record.envelope.modified.as_millis();
        let value = serde_json::Value::Object(record.cleartext.as_map().clone());
        // Cached whole, so fields we do not know go back up with a command.
        let json = value.to_string();
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

impl SyncEngine for ClientsStore {
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
            // Our record goes up again; the other devices' come again.
            set_meta(tx, "own_dirty", "1")?;
            engine_meta::reset_sync_meta(tx, assoc)?;
            Ok::<_, ClientsError>(())
        })?;
        self.staged.clear();
        Ok(())
    }

    fn wipe(&self) -> Result<(), EngineError> {
        let conn = self.conn.lock();
        conn.execute_batch(
            "DELETE FROM remote_clients; DELETE FROM outgoing_commands; DELETE FROM received_commands;",
        )?;
        self.staged.clear();
        Ok(())
    }

    fn prepare_for_sync(&self, context: &SyncContext<'_>) -> Result<(), EngineError> {
        *self.max_payload_bytes.lock() = context.config.max_record_payload_bytes;
        Ok(())
    }

    fn begin_sync(&self) -> Result<(), EngineError> {
        self.staged.clear();
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
            let own_id = get_meta(tx, "client_id")?.unwrap_or_default();
            apply_incoming(tx, &own_id, self.staged.take(), stats)?;
            let max_payload_bytes = *self.max_payload_bytes.lock();
            let mut outgoing = outgoing_for_targets(tx, max_payload_bytes)?;
            let last_upload = get_meta_i64(tx, "last_upload")?;
            let stale = now_ms() - last_upload > REUPLOAD_EVERY.as_millis() as i64;
            if stale || get_meta(tx, "own_dirty")?.as_deref() == Some("1") {
                let own = own_record(tx)?;
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
        Ok(engine_meta::set_last_sync(&self.conn.lock(), last_sync)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::CLIENTS_TTL_SECS;
    use crate::store::STALE_AFTER;
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
        let engine = ClientsStore::open(&path, &local("Me")).unwrap();
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
            ClientsStore::open(&path, &local("Me"))
                .unwrap()
                .client_id()
                .unwrap(),
            id
        );
    }

    #[test]
    fn bad_input_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let engine = ClientsStore::open(dir.path().join("c.db"), &local("Me")).unwrap();
        assert!(matches!(
            engine.set_local_device(&local("  ")),
            Err(ClientsError::InvalidDevice(_))
        ));
        assert!(matches!(
            engine.send_command("nobody", &Command::ResetAll),
            Err(ClientsError::UnknownDevice(_))
        ));
        assert!(ClientsStore::open(dir.path().join("d.db"), &local("")).is_err());
    }

    #[test]
    fn commands_are_appended_once_and_other_fields_kept() {
        let dir = tempfile::tempdir().unwrap();
        let engine = ClientsStore::open(dir.path().join("c.db"), &local("Me")).unwrap();
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
