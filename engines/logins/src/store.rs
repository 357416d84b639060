//! [`LoginStore`]: the app-facing password store.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension};
use sync_sql::engine_meta::SYNC_ASSOCIATION;
use sync_sql::meta::{get_meta, set_meta};
use sync15::{Guid, ServerTimestamp, StagedRecords, UnknownFields};

use crate::LoginsError;
use crate::db::{self, LocalLogin, SyncStatus};
use crate::key::{LoginsKey, Sealer};
use crate::login::{Login, LoginEntry, normalize_origin};
use crate::schema::SCHEMA;

/// Sealed with the store's key when it is created; a key that cannot open
/// it is the wrong key.
pub(crate) const CANARY: &[u8] = b"sync-logins key check";

/// Where the canary is kept, in `meta`.
pub(crate) const CANARY_KEY: &str = "key_canary";

/// What an [`LoginStore::import`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// The ids of the logins imported, in input order.
    pub imported: Vec<Guid>,
    /// Entries not imported: their index in the input and why.
    pub skipped: Vec<(usize, String)>,
}

/// A password store; see the crate docs. It is also the `passwords`
/// [`SyncEngine`](sync15::SyncEngine).
pub struct LoginStore {
    pub(crate) conn: Mutex<Connection>,
    pub(crate) sealer: Sealer,
    /// Downloaded, not yet applied (kept in memory: a stopped sync leaves
    /// the database untouched, and no secret is written unsealed).
    pub(crate) staged: StagedRecords,
    /// What `apply` handed out for upload: guid → the login's
    /// `local_modified` then (`None` for a deletion).
    pub(crate) uploading: Mutex<HashMap<String, Option<i64>>>,
    recreated: Option<sync_sql::Recreated>,
}

impl std::fmt::Debug for LoginStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginStore").finish_non_exhaustive()
    }
}

pub(crate) fn now_ms() -> i64 {
    ServerTimestamp::now().as_millis()
}

impl LoginStore {
    /// Opens (creating) the store at `path`, whose secrets are sealed with
    /// `key`. A store created with another key is refused with
    /// [`LoginsError::KeyMismatch`] before anything is read or written.
    pub fn open(path: impl AsRef<Path>, key: &LoginsKey) -> Result<Self, LoginsError> {
        let (conn, recreated) = sync_sql::open_store(path, &sync_sql::OpenOptions::default(), &SCHEMA)?;
        let sealer = key.sealer()?;
        match get_meta(&conn, CANARY_KEY)? {
            Some(canary) => match sealer.open(&canary) {
                Ok(text) if text == CANARY => {}
                _ => return Err(LoginsError::KeyMismatch),
            },
            None => set_meta(&conn, CANARY_KEY, &sealer.seal(CANARY)?)?,
        }
        Ok(LoginStore {
            conn: Mutex::new(conn),
            sealer,
            staged: StagedRecords::new(),
            uploading: Mutex::new(HashMap::new()),
            recreated,
        })
    }

    /// If the store's file was corrupt when opened: where it was moved, and
    /// why (a fresh store took its place; the next sync refills it). See
    /// [`sync_sql::open_store`].
    pub fn recreated_from_corruption(&self) -> Option<&sync_sql::Recreated> {
        self.recreated.as_ref()
    }

    /// Adds a login. Refused if invalid, or with
    /// [`LoginsError::Duplicate`] if the same origin, form action or realm,
    /// and username is already stored.
    pub fn add(&self, entry: LoginEntry) -> Result<Login, LoginsError> {
        let entry = entry.normalized()?;
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            if let Some(dupe) = self.find_dupe(tx, &entry, None)? {
                return Err(LoginsError::Duplicate(dupe));
            }
            let login = self.insert_new(tx, entry, now_ms())?;
            Ok(login)
        })
    }

    /// Replaces the login `guid` with `entry`, keeping its history. The
    /// password-changed time moves only if the password did.
    pub fn update(&self, guid: &str, entry: LoginEntry) -> Result<Login, LoginsError> {
        let entry = entry.normalized()?;
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            let mut row =
                db::get_login(tx, &self.sealer, guid)?.ok_or_else(|| LoginsError::NotFound(guid.into()))?;
            if let Some(dupe) = self.find_dupe(tx, &entry, Some(guid))? {
                return Err(LoginsError::Duplicate(dupe));
            }
            if row.login.entry == entry {
                return Ok(row.login);
            }
            let now = now_ms();
            if row.login.entry.password != entry.password {
                row.login.time_password_changed = now;
            }
            row.login.entry = entry;
            self.mark_changed(&mut row, now);
            db::put_login(tx, &self.sealer, &row)?;
            Ok(row.login)
        })
    }

    /// Deletes the login `guid`; whether it existed. Other devices delete
    /// it on their next sync.
    pub fn delete(&self, guid: &str) -> Result<bool, LoginsError> {
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            let status: Option<i64> = tx
                .query_row("SELECT sync_status FROM logins WHERE guid = ?", [guid], |r| {
                    r.get(0)
                })
                .optional()?;
            let Some(status) = status else {
                return Ok(false);
            };
            db::delete_login(tx, guid)?;
            // A login the server cannot have had needs no tombstone. After a
            // reset every login is "new" again, so once this store has synced
            // at all, deletions are always sent.
            if status != SyncStatus::New as i64 || get_meta(tx, SYNC_ASSOCIATION)?.is_some() {
                db::add_tombstone(tx, guid, now_ms())?;
            }
            Ok(true)
        })
    }

    /// The login `guid`.
    pub fn get(&self, guid: &str) -> Result<Option<Login>, LoginsError> {
        Ok(db::get_login(&self.conn.lock(), &self.sealer, guid)?.map(|row| row.login))
    }

    /// Every login, ordered by origin then username.
    pub fn list(&self) -> Result<Vec<Login>, LoginsError> {
        let rows = db::query_logins(&self.conn.lock(), &self.sealer, "", [])?;
        Ok(sorted(rows))
    }

    /// How many logins are stored.
    pub fn count(&self) -> Result<usize, LoginsError> {
        let n: i64 = self
            .conn
            .lock()
            .query_row("SELECT COUNT(*) FROM logins", [], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// The logins for a site; `origin` may be any URL of it.
    pub fn find_by_origin(&self, origin: &str) -> Result<Vec<Login>, LoginsError> {
        let origin =
            normalize_origin(origin).ok_or_else(|| crate::InvalidLogin::BadOrigin(origin.to_owned()))?;
        let rows = db::query_logins(&self.conn.lock(), &self.sealer, "WHERE origin = ?", [origin])?;
        Ok(sorted(rows))
    }

    /// Records a use of the login: one more use, last used now.
    pub fn touch(&self, guid: &str) -> Result<Login, LoginsError> {
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            let mut row =
                db::get_login(tx, &self.sealer, guid)?.ok_or_else(|| LoginsError::NotFound(guid.into()))?;
            let now = now_ms();
            row.login.times_used += 1;
            row.login.time_last_used = now;
            self.mark_changed(&mut row, now);
            db::put_login(tx, &self.sealer, &row)?;
            Ok(row.login)
        })
    }

    /// Adds many logins in one transaction. Invalid entries and duplicates
    /// (of stored logins or of earlier entries) are skipped and reported;
    /// the rest are all added, or — if the store fails — none.
    pub fn import(&self, entries: Vec<LoginEntry>) -> Result<ImportReport, LoginsError> {
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            let mut report = ImportReport::default();
            let now = now_ms();
            let mut seen = HashSet::new();
            for (index, entry) in entries.into_iter().enumerate() {
                let entry = match entry.normalized() {
                    Ok(entry) => entry,
                    Err(e) => {
                        report.skipped.push((index, e.to_string()));
                        continue;
                    }
                };
                let key = (
                    entry.origin.clone(),
                    entry.form_action_origin.clone(),
                    entry.http_realm.clone(),
                    entry.username.clone(),
                );
                if !seen.insert(key) {
                    report
                        .skipped
                        .push((index, "a duplicate of an earlier entry".into()));
                    continue;
                }
                if let Some(dupe) = self.find_dupe(tx, &entry, None)? {
                    report
                        .skipped
                        .push((index, format!("a duplicate of stored login {dupe}")));
                    continue;
                }
                report.imported.push(self.insert_new(tx, entry, now)?.guid);
            }
            Ok::<_, LoginsError>(report)
        })
    }

    /// Deletes every login on this device only: no tombstones, so other
    /// devices keep theirs (what a `wipeEngine` command asks).
    pub fn wipe_local(&self) -> Result<(), LoginsError> {
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            tx.execute_batch("DELETE FROM logins; DELETE FROM tombstones; DELETE FROM mirror;")?;
            Ok::<_, LoginsError>(())
        })?;
        self.staged.clear();
        Ok(())
    }

    fn insert_new(&self, tx: &Connection, entry: LoginEntry, now: i64) -> Result<Login, LoginsError> {
        let row = LocalLogin {
            login: Login {
                guid: Guid::random(),
                entry,
                time_created: now,
                time_password_changed: now,
                time_last_used: now,
                times_used: 1,
            },
            local_modified: now,
            status: SyncStatus::New,
            unknown: UnknownFields::new(),
        };
        db::put_login(tx, &self.sealer, &row)?;
        Ok(row.login)
    }

    pub(crate) fn mark_changed(&self, row: &mut LocalLogin, now: i64) {
        row.local_modified = now.max(row.local_modified + 1);
        if row.status == SyncStatus::Synced {
            row.status = SyncStatus::Changed;
        }
    }

    /// The stored login `entry` would duplicate (other than `except`).
    pub(crate) fn find_dupe(
        &self,
        tx: &Connection,
        entry: &LoginEntry,
        except: Option<&str>,
    ) -> Result<Option<Guid>, LoginsError> {
        let candidates = db::query_logins(tx, &self.sealer, "WHERE origin = ?", [&entry.origin])?;
        Ok(candidates
            .into_iter()
            .find(|c| Some(c.login.guid.as_str()) != except && c.login.entry.is_dupe_of(entry))
            .map(|c| c.login.guid))
    }
}

fn sorted(rows: Vec<LocalLogin>) -> Vec<Login> {
    let mut logins: Vec<Login> = rows.into_iter().map(|r| r.login).collect();
    logins.sort_by(|a, b| {
        (&a.entry.origin, &a.entry.username, a.guid.as_str()).cmp(&(
            &b.entry.origin,
            &b.entry.username,
            b.guid.as_str(),
        ))
    });
    logins
}
