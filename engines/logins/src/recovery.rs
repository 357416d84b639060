//! Where the store's key lives ([`KeySource`]), and what happens when the
//! key that sealed the store is gone.
//!
//! A key can be lost: the OS keychain was reset, the profile was copied to
//! another machine without it, the key file was deleted. Then no secret in
//! the store can be opened. [`LoginStore::open_with_key_source`] notices
//! (the store's canary does not open), and instead of leaving the store
//! unopenable it recovers, in one transaction: logins whose secrets cannot
//! be opened are removed, and the next sync downloads every login again —
//! so everything the server has comes back. What existed only here (logins
//! never uploaded, changes made since the last upload) cannot come back;
//! the [`KeyRecovery`] report names each one, and the recovery is logged.
//! [`LoginStore::open`] keeps refusing a wrong key
//! ([`LoginsError::KeyMismatch`]) for apps that want to handle it
//! themselves.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use sync_sql::engine_meta::{self, LAST_SYNC};
use sync_sql::meta::{get_meta, set_meta};
use sync15::{Guid, ServerTimestamp};

use crate::LoginsError;
use crate::db::SyncStatus;
use crate::key::{LoginsKey, Sealer};
use crate::store::{CANARY, CANARY_KEY, LoginStore};

/// Where the app keeps the store's key: its keystore, the OS keychain, or
/// a file ([`FileKeySource`]).
pub trait KeySource: Send + Sync {
    /// The stored key, or `None` if there is none (yet, or any more).
    fn load(&self) -> Result<Option<LoginsKey>, LoginsError>;
    /// Stores `key`, replacing any other.
    fn save(&self, key: &LoginsKey) -> Result<(), LoginsError>;
}

/// The key as base64 text in a file readable by its owner only (0600),
/// replaced atomically.
#[derive(Debug, Clone)]
pub struct FileKeySource {
    path: PathBuf,
}

impl FileKeySource {
    /// The key file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileKeySource { path: path.into() }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl KeySource for FileKeySource {
    fn load(&self) -> Result<Option<LoginsKey>, LoginsError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => LoginsKey::from_base64(&text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LoginsError::KeySource(format!(
                "reading {}: {e}",
                self.path.display()
            ))),
        }
    }

    fn save(&self, key: &LoginsKey) -> Result<(), LoginsError> {
        let failed =
            |e: std::io::Error| LoginsError::KeySource(format!("writing {}: {e}", self.path.display()));
        let tmp = self.path.with_extension("tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp).map_err(failed)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(failed)?;
        }
        file.write_all(key.to_base64().as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(failed)?;
        std::fs::rename(&tmp, &self.path).map_err(failed)
    }
}

/// Why a login could not be recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// It was never uploaded: only this device had it.
    NeverUploaded,
    /// It was changed here after its last upload: the server's older
    /// version comes back, this device's change does not.
    ChangedSinceUpload,
}

/// A login whose secrets were lost with the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostLogin {
    /// Its id.
    pub guid: Guid,
    /// Its site (not secret, so still known).
    pub origin: String,
    /// What exactly is lost.
    pub loss: Loss,
}

/// What recovering from a lost key did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRecovery {
    /// Logins (or changes) that existed only here and are gone.
    pub lost: Vec<LostLogin>,
    /// Logins removed here that the next sync downloads again.
    pub to_download: usize,
}

impl LoginStore {
    /// Opens the store with the key from `source`, making and saving a
    /// key for a new store. If the store was sealed with a key that is not
    /// the source's (or the source has none), recovers as the module docs
    /// say, seals the store with the source's key (a new one if it had
    /// none), and returns what was lost.
    pub fn open_with_key_source(
        path: impl AsRef<Path>,
        source: &dyn KeySource,
    ) -> Result<(LoginStore, Option<KeyRecovery>), LoginsError> {
        let key = match source.load()? {
            Some(key) => key,
            None => {
                let key = LoginsKey::generate()?;
                source.save(&key)?;
                key
            }
        };
        LoginStore::open_recovering(path, &key)
    }

    /// [`LoginStore::open`], but a store sealed with another key is
    /// recovered (see the module docs) instead of refused.
    pub fn open_recovering(
        path: impl AsRef<Path>,
        key: &LoginsKey,
    ) -> Result<(LoginStore, Option<KeyRecovery>), LoginsError> {
        match LoginStore::open(path.as_ref(), key) {
            Err(LoginsError::KeyMismatch) => {}
            other => return other.map(|store| (store, None)),
        }
        let mut conn = sync_sql::open(path.as_ref(), &sync_sql::OpenOptions::default())?;
        let sealer = key.sealer()?;
        let report = sync_sql::in_transaction(&mut conn, |tx| recover(tx, &sealer))?;
        log::warn!(
            "logins: the store's key was lost; {} logins will be downloaded again, {} lost",
            report.to_download,
            report.lost.len()
        );
        for lost in &report.lost {
            log::warn!("logins: lost {:?} of {} ({})", lost.loss, lost.origin, lost.guid);
        }
        drop(conn);
        Ok((LoginStore::open(path, key)?, Some(report)))
    }
}

/// Removes every login and mirror entry whose secrets do not open, resets
/// the last sync so everything is downloaded again, and seals a new canary.
fn recover(tx: &Connection, sealer: &Sealer) -> Result<KeyRecovery, LoginsError> {
    let mut report = KeyRecovery::default();
    let rows: Vec<(String, String, String, i64)> = tx
        .prepare("SELECT guid, origin, sec_fields, sync_status FROM logins")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    for (guid, origin, sealed, status) in rows {
        if sealer.open(&sealed).is_ok() {
            continue;
        }
        tx.execute("DELETE FROM logins WHERE guid = ?", [&guid])?;
        let loss = match status {
            s if s == SyncStatus::Synced as i64 => None,
            s if s == SyncStatus::Changed as i64 => Some(Loss::ChangedSinceUpload),
            _ => Some(Loss::NeverUploaded),
        };
        match loss {
            Some(loss) => report.lost.push(LostLogin {
                guid: Guid::new(&guid),
                origin,
                loss,
            }),
            None => report.to_download += 1,
        }
        if loss == Some(Loss::ChangedSinceUpload) {
            report.to_download += 1;
        }
    }
    let mirror: Vec<(String, String)> = tx
        .prepare("SELECT guid, sec_fields FROM mirror")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (guid, sealed) in mirror {
        if sealer.open(&sealed).is_err() {
            tx.execute("DELETE FROM mirror WHERE guid = ?", [&guid])?;
        }
    }
    if get_meta(tx, LAST_SYNC)?.is_some() {
        // Download everything again: the lost logins may be on the server.
        engine_meta::set_last_sync(tx, ServerTimestamp::ZERO)?;
    }
    set_meta(tx, CANARY_KEY, &sealer.seal(CANARY)?)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::LoginEntry;

    fn entry(origin: &str, username: &str) -> LoginEntry {
        LoginEntry {
            origin: origin.into(),
            form_action_origin: Some(origin.into()),
            http_realm: None,
            username_field: String::new(),
            password_field: String::new(),
            username: username.into(),
            password: "pw".into(),
        }
    }

    #[test]
    fn a_key_file_is_private_and_a_lost_key_is_recovered_from() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("logins.db");
        let source = FileKeySource::new(dir.path().join("logins.key"));
        let (store, recovery) = LoginStore::open_with_key_source(&db, &source).unwrap();
        assert!(recovery.is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(source.path()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let local_only = store.add(entry("https://only-here.example", "me")).unwrap();
        drop(store);
        // Reopening with the same key file changes nothing.
        let (store, recovery) = LoginStore::open_with_key_source(&db, &source).unwrap();
        assert!(recovery.is_none());
        assert_eq!(store.count().unwrap(), 1);
        drop(store);

        // The key file is lost: a new key, and the store is recovered.
        std::fs::remove_file(source.path()).unwrap();
        let (store, recovery) = LoginStore::open_with_key_source(&db, &source).unwrap();
        let recovery = recovery.unwrap();
        assert_eq!(
            recovery.lost,
            [LostLogin {
                guid: local_only.guid,
                origin: "https://only-here.example".into(),
                loss: Loss::NeverUploaded,
            }]
        );
        assert_eq!(store.count().unwrap(), 0);
        // The store works with the new key, and the new key is the source's.
        store.add(entry("https://new.example", "me")).unwrap();
        drop(store);
        let (store, recovery) = LoginStore::open_with_key_source(&db, &source).unwrap();
        assert!(recovery.is_none());
        assert_eq!(store.count().unwrap(), 1);

        // The strict open still refuses another key.
        drop(store);
        let other = LoginsKey::generate().unwrap();
        assert!(matches!(
            LoginStore::open(&db, &other),
            Err(LoginsError::KeyMismatch)
        ));
    }

    #[test]
    fn a_damaged_key_file_is_an_error_not_a_recovery() {
        let dir = tempfile::tempdir().unwrap();
        let source = FileKeySource::new(dir.path().join("logins.key"));
        std::fs::write(source.path(), "not a key").unwrap();
        let opened = LoginStore::open_with_key_source(dir.path().join("logins.db"), &source);
        assert!(matches!(opened, Err(LoginsError::InvalidKey(_))), "{opened:?}");
    }
}
