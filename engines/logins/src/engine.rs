//! The `passwords` engine: [`SyncEngine`] for [`LoginStore`].
//!
//! Downloads are staged in memory; `apply` merges them in one transaction
//! (three-way, against the `mirror`'s copy of what the server last had)
//! and hands out every login changed here and every tombstone;
//! `set_uploaded` marks them synced unless they changed again meanwhile.

use rusqlite::Connection;
use sync_sql::engine_meta;
use sync15::{
    ApplyOutcome, ApplyStats, CollectionRequest, EngineError, EngineSyncAssociation, Guid, IncomingKind,
    IncomingRecord, OutgoingEnvelope, OutgoingRecord, ServerTimestamp, SyncEngine,
};

use crate::LoginsError;
use crate::db::{self, LocalLogin, SyncStatus};
use crate::login::Login;
use crate::merge::merge;
use crate::record::PasswordRecord;
use crate::store::{LoginStore, now_ms};

/// The collection and engine name.
pub const COLLECTION: &str = "passwords";

impl LoginStore {
    fn apply_incoming(&self, tx: &Connection, stats: &mut ApplyStats) -> Result<(), LoginsError> {
        for record in self.staged.take() {
            let id = record.envelope.id.to_string();
            let content = record.into_content::<PasswordRecord>();
            let modified = content.envelope.modified.as_millis();
            let outcome = match content.kind {
                IncomingKind::Tombstone => self.apply_tombstone(tx, &id)?,
                IncomingKind::Content(remote) => self.apply_record(tx, remote, modified)?,
                IncomingKind::Malformed(e) => {
                    log::warn!("passwords: skipping malformed record {id}: {e}");
                    ApplyOutcome::Failed
                }
            };
            stats.count(outcome);
        }
        Ok(())
    }

    fn apply_tombstone(&self, tx: &Connection, guid: &str) -> Result<ApplyOutcome, LoginsError> {
        db::delete_mirror(tx, guid)?;
        db::take_tombstone(tx, guid)?;
        match db::get_login(tx, &self.sealer, guid)? {
            Some(row) if row.status != SyncStatus::Synced => {
                // Edited here, deleted there: the edit wins and goes back up.
                let row = LocalLogin {
                    status: SyncStatus::New,
                    ..row
                };
                db::put_login(tx, &self.sealer, &row)?;
                Ok(ApplyOutcome::Reconciled)
            }
            Some(_) => {
                db::delete_login(tx, guid)?;
                Ok(ApplyOutcome::Applied)
            }
            None => Ok(ApplyOutcome::Applied),
        }
    }

    fn apply_record(
        &self,
        tx: &Connection,
        remote: PasswordRecord,
        modified: i64,
    ) -> Result<ApplyOutcome, LoginsError> {
        let guid = remote.id.to_string();
        let mut remote_login = remote.to_login();
        match remote_login.entry.normalized() {
            Ok(entry) => remote_login.entry = entry,
            Err(e) => {
                log::warn!("passwords: skipping invalid record {guid}: {e}");
                return Ok(ApplyOutcome::Failed);
            }
        }
        let base = db::get_mirror(tx, &self.sealer, &guid)?.map(|r| r.to_login());
        db::put_mirror(tx, &self.sealer, &remote, modified)?;
        let unknown = remote.unknown;
        let synced = |login: Login| LocalLogin {
            login,
            local_modified: modified,
            status: SyncStatus::Synced,
            unknown: unknown.clone(),
        };

        if db::take_tombstone(tx, &guid)? {
            // Deleted here, edited there: the edit wins.
            db::put_login(tx, &self.sealer, &synced(remote_login))?;
            return Ok(ApplyOutcome::Reconciled);
        }
        if let Some(local) = db::get_login(tx, &self.sealer, &guid)? {
            if local.status == SyncStatus::Synced {
                db::put_login(tx, &self.sealer, &synced(remote_login))?;
                return Ok(ApplyOutcome::Applied);
            }
            self.put_merged(tx, base.as_ref(), &local, &remote_login, modified, &unknown)?;
            return Ok(ApplyOutcome::Reconciled);
        }
        // New to us. If a login added here and never uploaded is the same
        // login, it takes the server's id instead of becoming a twin.
        let dupe = db::query_logins(
            tx,
            &self.sealer,
            "WHERE origin = ? AND sync_status = 2",
            [&remote_login.entry.origin],
        )?
        .into_iter()
        .find(|local| local.login.entry.is_dupe_of(&remote_login.entry));
        if let Some(local) = dupe {
            log::debug!(
                "passwords: local {} is server {guid}; adopting the server's id",
                local.login.guid
            );
            db::delete_login(tx, local.login.guid.as_str())?;
            self.put_merged(tx, None, &local, &remote_login, modified, &unknown)?;
            return Ok(ApplyOutcome::Reconciled);
        }
        db::put_login(tx, &self.sealer, &synced(remote_login))?;
        Ok(ApplyOutcome::Applied)
    }

    /// Writes the three-way merge of `local` and `remote`: unchanged from
    /// the server's version it is synced, otherwise queued for upload.
    fn put_merged(
        &self,
        tx: &Connection,
        base: Option<&Login>,
        local: &LocalLogin,
        remote: &Login,
        remote_modified: i64,
        unknown: &sync15::UnknownFields,
    ) -> Result<(), LoginsError> {
        let mut merged = merge(base, &local.login, local.local_modified, remote, remote_modified);
        if merged.entry.normalized().is_err() {
            // Field choices from both sides made an invalid login; the
            // newer side wins whole.
            merged = if local.local_modified > remote_modified {
                Login {
                    guid: remote.guid.clone(),
                    ..local.login.clone()
                }
            } else {
                remote.clone()
            };
        }
        let status = if merged == *remote {
            SyncStatus::Synced
        } else {
            SyncStatus::Changed
        };
        let row = LocalLogin {
            login: merged,
            local_modified: local.local_modified.max(now_ms()),
            status,
            unknown: unknown.clone(),
        };
        db::put_login(tx, &self.sealer, &row)
    }

    fn outgoing(&self, tx: &Connection) -> Result<Vec<OutgoingRecord>, LoginsError> {
        let mut uploading = self.uploading.lock();
        uploading.clear();
        let mut outgoing = Vec::new();
        for row in db::query_logins(tx, &self.sealer, "WHERE sync_status != 0", [])? {
            let record = PasswordRecord::from_login(&row.login, row.unknown);
            outgoing.push(OutgoingRecord::from_content(
                OutgoingEnvelope::new(row.login.guid.clone()),
                &record,
            )?);
            uploading.insert(row.login.guid.to_string(), Some(row.local_modified));
        }
        let mut stmt = tx.prepare("SELECT guid FROM tombstones")?;
        for guid in stmt.query_map([], |r| r.get::<_, String>(0))? {
            let guid = guid?;
            outgoing.push(OutgoingRecord::tombstone(Guid::new(&guid)));
            uploading.insert(guid, None);
        }
        Ok(outgoing)
    }

    fn mark_uploaded(&self, tx: &Connection, timestamp: i64, ids: &[Guid]) -> Result<(), LoginsError> {
        let mut uploading = self.uploading.lock();
        for id in ids {
            let Some(sent) = uploading.remove(id.as_str()) else {
                continue;
            };
            let Some(sent_modified) = sent else {
                db::take_tombstone(tx, id.as_str())?;
                db::delete_mirror(tx, id.as_str())?;
                continue;
            };
            let Some(mut row) = db::get_login(tx, &self.sealer, id.as_str())? else {
                continue;
            };
            if row.local_modified == sent_modified {
                row.status = SyncStatus::Synced;
                db::put_login(tx, &self.sealer, &row)?;
                let record = PasswordRecord::from_login(&row.login, row.unknown.clone());
                db::put_mirror(tx, &self.sealer, &record, timestamp)?;
            } else {
                // Changed again while uploading: the mirror becomes what
                // the server now has, but the login stays queued.
                log::debug!("passwords: {id} changed during upload; will upload again");
            }
        }
        Ok(())
    }
}

impl SyncEngine for LoginStore {
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
            // No common ancestors any more, and every login goes up again.
            tx.execute_batch("DELETE FROM mirror; UPDATE logins SET sync_status = 2;")?;
            engine_meta::reset_sync_meta(tx, assoc)?;
            Ok::<_, LoginsError>(())
        })?;
        self.staged.clear();
        Ok(())
    }

    fn wipe(&self) -> Result<(), EngineError> {
        Ok(self.wipe_local()?)
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
            self.apply_incoming(tx, stats)?;
            self.outgoing(tx)
        })?;
        Ok(outgoing)
    }

    fn set_uploaded(&self, timestamp: ServerTimestamp, ids: Vec<Guid>) -> Result<(), EngineError> {
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            self.mark_uploaded(tx, timestamp.as_millis(), &ids)
        })?;
        Ok(())
    }

    fn sync_finished(&self, last_sync: ServerTimestamp) -> Result<(), EngineError> {
        Ok(engine_meta::set_last_sync(&self.conn.lock(), last_sync)?)
    }
}
