//! The SQLite store: one writer connection, a pool of readers.
//!
//! WAL mode lets readers run while the writer commits. Every write request is
//! one `IMMEDIATE` transaction on the writer, so it is atomic (a batch commit
//! stores all its BSOs or none) and durable once acknowledged: with
//! `synchronous=NORMAL` in WAL mode a committed transaction survives the
//! process being killed.

mod batches;
mod bsos;
mod schema;
mod users;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OptionalExtension, Transaction};

pub use batches::{BatchAppend, BatchResult};
pub use bsos::{Bso, BsoInput, CollectionQuery, Page, PostOutcome, SortOrder, WriteOutcome};
pub use users::{TokenUser, User, UserLookup};

/// What can go wrong in the store, including the protocol-level refusals
/// that are decided inside a transaction.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite failed.
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    /// Opening or migrating failed.
    #[error(transparent)]
    Open(#[from] sync_sql::SqlError),
    /// No reader connection was available.
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::Error),
    /// `X-If-Unmodified-Since` is older than the target.
    #[error("modified since the given time")]
    PreconditionFailed,
    /// No such BSO or collection.
    #[error("not found")]
    NotFound,
    /// The write would take the collection past its quota.
    #[error("over quota")]
    OverQuota,
    /// The batch id is unknown, expired, or belongs to another collection.
    #[error("no such batch")]
    BatchNotFound,
    /// A batch limit would be exceeded.
    #[error("{0}")]
    LimitExceeded(String),
}

/// The database.
pub struct Db {
    writer: Mutex<Connection>,
    readers: r2d2::Pool<SqliteConnectionManager>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
}

/// How many reader connections the pool keeps.
const READERS: u32 = 8;

impl Db {
    /// Opens (creating and migrating) the database at `path`.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        let mut writer = sync_sql::open(path, &sync_sql::OpenOptions::default())?;
        schema::SCHEMA.apply(&mut writer)?;
        let manager = SqliteConnectionManager::file(path)
            .with_flags(
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | rusqlite::OpenFlags::SQLITE_OPEN_URI,
            )
            .with_init(|conn| {
                let options = sync_sql::OpenOptions {
                    read_only: true,
                    ..sync_sql::OpenOptions::default()
                };
                sync_sql::configure(conn, &options).map_err(|e| match e {
                    sync_sql::SqlError::Sqlite(e) => e,
                    other => rusqlite::Error::InvalidParameterName(other.to_string()),
                })
            });
        let readers = r2d2::Pool::builder()
            .max_size(READERS)
            .min_idle(Some(2))
            .build(manager)?;
        Ok(Db {
            writer: Mutex::new(writer),
            readers,
        })
    }

    /// Runs `f` on a reader connection (a consistent snapshot per statement;
    /// use [`Db::read_tx`] for several statements).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, DbError>) -> Result<T, DbError> {
        let conn = self.readers.get()?;
        f(&conn)
    }

    /// Runs `f` in a read transaction: one snapshot for all its statements.
    pub(crate) fn read_tx<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut conn = self.readers.get()?;
        let tx = conn.transaction()?;
        let value = f(&tx)?;
        tx.finish()?;
        Ok(value)
    }

    /// Runs `f` in an `IMMEDIATE` write transaction; commits only on `Ok`.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut conn = self.writer.lock();
        sync_sql::in_transaction(&mut conn, f)
    }

    /// A setting stored in the database, creating it with `init` if absent.
    pub fn setting_or_init(&self, name: &str, init: impl FnOnce() -> String) -> Result<String, DbError> {
        self.write(|tx| {
            let existing: Option<String> = tx
                .query_row("SELECT value FROM settings WHERE name = ?", [name], |r| r.get(0))
                .optional()?;
            match existing {
                Some(value) => Ok(value),
                None => {
                    let value = init();
                    tx.execute("INSERT INTO settings (name, value) VALUES (?, ?)", (name, &value))?;
                    Ok(value)
                }
            }
        })
    }

    /// Deletes expired BSOs and batches. Returns how many rows went.
    pub fn purge_expired(&self) -> Result<usize, DbError> {
        let now = now_ms();
        self.write(|tx| {
            let bsos = tx.execute("DELETE FROM bsos WHERE expiry <= ?", [now])?;
            let batches = tx.execute("DELETE FROM batches WHERE expiry <= ?", [now])?;
            Ok(bsos + batches)
        })
    }
}

/// Now, in milliseconds, rounded down to the protocol's 10 ms resolution.
pub fn now_ms() -> i64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    ms / 10 * 10
}

/// The timestamp for a write by `uid`: now, or just after the user's last
/// write if the clock has not moved past it — strictly increasing per user.
fn next_timestamp(tx: &Transaction<'_>, uid: u64) -> Result<i64, DbError> {
    let last: Option<i64> = tx
        .query_row("SELECT modified FROM user_timestamps WHERE uid = ?", [uid], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(match last {
        Some(last) => now_ms().max(last + 10),
        None => now_ms(),
    })
}

fn set_user_timestamp(tx: &Transaction<'_>, uid: u64, ts: i64) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO user_timestamps (uid, modified) VALUES (?1, ?2)
         ON CONFLICT (uid) DO UPDATE SET modified = ?2",
        (uid, ts),
    )?;
    Ok(())
}
