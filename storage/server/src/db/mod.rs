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
mod writer;

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OptionalExtension, Transaction};

pub use batches::{BatchAppend, BatchResult};
pub use bsos::{Bso, BsoInput, CollectionQuery, PAGE_BYTES, Page, PostOutcome, SortOrder, WriteOutcome};
pub use users::{Refusal, TokenUser, User, UserLookup};

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
    /// `X-If-Unmodified-Since` is older than the target, whose
    /// last-modified time (ms) this carries for the 412's `X-Last-Modified`.
    #[error("modified since the given time")]
    PreconditionFailed(i64),
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
    /// The commit holding this write failed (with the other writes of its
    /// group); nothing of it was stored.
    #[error("commit failed: {0}")]
    CommitFailed(String),
}

/// The database.
pub struct Db {
    writer: Arc<writer::Writer>,
    /// uid → node of current users, so storage requests need no query to
    /// check their token is still current. Cleared whenever a user is
    /// retired or moved (this process is the only writer of `users`).
    current_users: parking_lot::RwLock<UserCache>,
    readers: r2d2::Pool<SqliteConnectionManager>,
    /// Dropping this stops the checkpointer thread.
    _checkpointer: Checkpointer,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
}

/// How many reader connections the pool keeps.
const READERS: u32 = 8;

/// Page cache of each reader, as `PRAGMA cache_size` (negative: KiB). Reads
/// stream payloads that are each read once per sync, so a big cache per
/// reader would mostly duplicate the OS page cache, eight times over; the
/// b-tree interior pages that do get reused fit easily.
const READER_CACHE_KIB: i64 = -2 * 1024;

impl Db {
    /// Opens (creating and migrating) the database at `path`.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        let mut writer = sync_sql::open(path, &sync_sql::OpenOptions::default())?;
        schema::SCHEMA.apply(&mut writer)?;
        // Checkpoints (copying the WAL into the database and fsyncing it) run
        // on a thread of their own, so no write request ever waits for one.
        writer.query_row("PRAGMA wal_autocheckpoint = 0", [], |r| r.get::<_, i64>(0))?;
        // After a checkpoint resets it, the WAL file shrinks back to at most 64 MiB.
        writer.query_row("PRAGMA journal_size_limit = 67108864", [], |r| r.get::<_, i64>(0))?;
        let writer = Arc::new(writer::Writer::new(writer));
        let checkpointer = Checkpointer::start(
            sync_sql::open(path, &sync_sql::OpenOptions::default())?,
            writer.clone(),
        );
        let manager = SqliteConnectionManager::file(path)
            .with_flags(
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | rusqlite::OpenFlags::SQLITE_OPEN_URI,
            )
            .with_init(|conn| {
                let options = sync_sql::OpenOptions {
                    read_only: true,
                    cache_size: READER_CACHE_KIB,
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
            writer,
            current_users: Default::default(),
            readers,
            _checkpointer: checkpointer,
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

    /// Runs `f` as one atomic write (a savepoint in the writer's group
    /// transaction, see [`writer`]); returns once it is committed. On `Err`
    /// nothing `f` did is kept.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T, DbError>) -> Result<T, DbError> {
        self.writer.write(f)
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

    /// Reader connections open and idle in the pool.
    pub fn reader_pool_state(&self) -> (u32, u32) {
        let state = self.readers.state();
        (state.connections, state.idle_connections)
    }

    /// Batch uploads started and neither committed nor purged.
    pub fn pending_batches(&self) -> Result<i64, DbError> {
        self.read(|c| Ok(c.query_row("SELECT count(*) FROM batches", [], |r| r.get(0))?))
    }

    /// Whether the database answers: a read on a pooled reader and a
    /// (rolled back) write transaction on the writer, for `__heartbeat__`.
    pub fn heartbeat(&self) -> Result<(), DbError> {
        self.read(|c| Ok(c.query_row("SELECT count(*) FROM settings", [], |r| r.get::<_, i64>(0))?))?;
        self.writer.exclusive(|conn| {
            conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK")?;
            Ok(())
        })
    }

    /// Deletes expired BSOs and batches. Returns how many rows went.
    pub fn purge_expired(&self) -> Result<usize, DbError> {
        let now = now_ms();
        self.write(|tx| {
            // Sizes per collection, so user_collections stays exact.
            let mut freed: std::collections::HashMap<(u64, String), (i64, i64)> = Default::default();
            {
                let mut stmt = tx.prepare(
                    "DELETE FROM bsos WHERE expiry <= ? AND expiry < 9223372036854775807
                     RETURNING uid, collection, octet_length(payload)",
                )?;
                let mut rows = stmt.query([now])?;
                while let Some(row) = rows.next()? {
                    let entry = freed.entry((row.get(0)?, row.get(1)?)).or_default();
                    entry.0 += row.get::<_, i64>(2)?;
                    entry.1 += 1;
                }
            }
            let bsos: i64 = freed.values().map(|(_, n)| n).sum();
            let mut update = tx.prepare(
                "UPDATE user_collections SET total_bytes = max(total_bytes - ?, 0), bso_count = max(bso_count - ?, 0)
                 WHERE uid = ? AND collection = ?",
            )?;
            for ((uid, collection), (bytes, count)) in &freed {
                update.execute((bytes, count, uid, collection))?;
            }
            let batches = tx.execute("DELETE FROM batches WHERE expiry <= ?", [now])?;
            Ok(bsos as usize + batches)
        })
    }
}

/// See [`Db::user_is_current`]. `epoch` counts invalidations, so a lookup
/// that raced with one does not cache what it read before it.
#[derive(Default)]
pub(crate) struct UserCache {
    pub(crate) epoch: u64,
    pub(crate) nodes: std::collections::HashMap<u64, String>,
}

impl UserCache {
    pub(crate) fn invalidate(&mut self) {
        self.epoch += 1;
        self.nodes.clear();
    }
}

/// Keeps the WAL small under constant load, on a thread of its own.
///
/// Every 200 ms a PASSIVE checkpoint copies what it can into the database
/// without blocking anyone. That alone never bounds the WAL under constant
/// reads and writes: SQLite only starts the WAL over when a writer finds
/// it fully copied and no reader still on its frames, a moment constant
/// load never leaves. So once the WAL holds more than [`RESTART_AFTER`],
/// the checkpointer takes the writer's lock (no write runs), copies the
/// few frames written since its last pass, and waits — at most
/// [`RESTART_WAIT`] — for the readers still on older snapshots (requests
/// take milliseconds); the next write then starts the WAL from the
/// beginning. Writes wait for that pass only, never for a truncation: the
/// WAL stays under `journal_size_limit`, so there is nothing to truncate.
struct Checkpointer {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// WAL frames (pages, 4 KiB each) after which the WAL is started over: 32 MiB.
const RESTART_AFTER: i64 = 8192;

/// The longest the checkpointer waits, holding the writer, for readers on
/// older snapshots before it gives up until its next pass.
const RESTART_WAIT: std::time::Duration = std::time::Duration::from_millis(10);

impl Checkpointer {
    fn start(conn: Connection, writer: Arc<writer::Writer>) -> Self {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        if let Err(e) = conn.busy_timeout(RESTART_WAIT) {
            tracing::warn!(error = %e, "setting the checkpointer's busy timeout");
        }
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                use std::sync::mpsc::RecvTimeoutError;
                let checkpoint = |mode: &str| -> Option<(i64, i64, i64)> {
                    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .map_err(|e| tracing::warn!(error = %e, mode, "WAL checkpoint failed"))
                    .ok()
                };
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY) {
                    // PASSIVE never blocks writers or readers; it copies what it can.
                    let Some((_, frames, _)) = checkpoint("PASSIVE") else {
                        continue;
                    };
                    if frames > RESTART_AFTER {
                        // No write runs while this does.
                        writer.exclusive(|_| {
                            let started = std::time::Instant::now();
                            if let Some((busy, frames, copied)) = checkpoint("RESTART") {
                                tracing::debug!(
                                    busy,
                                    frames,
                                    copied,
                                    micros = started.elapsed().as_micros() as u64,
                                    "WAL restart"
                                );
                            }
                        });
                    }
                }
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0))
                {
                    tracing::debug!(error = %e, "final WAL checkpoint incomplete");
                }
            })
            .ok();
        Checkpointer {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
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
fn next_timestamp(tx: &Connection, uid: u64) -> Result<i64, DbError> {
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

fn set_user_timestamp(tx: &Connection, uid: u64, ts: i64) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO user_timestamps (uid, modified) VALUES (?1, ?2)
         ON CONFLICT (uid) DO UPDATE SET modified = ?2",
        (uid, ts),
    )?;
    Ok(())
}
