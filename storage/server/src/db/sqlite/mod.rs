//! The SQLite backend: one writer connection, a pool of readers.
//!
//! WAL mode lets readers run while the writer commits. Every write request is
//! one savepoint in the writer's group transaction ([`writer`]), so it is
//! atomic (a batch commit stores all its BSOs or none) and durable once
//! acknowledged: with `synchronous=NORMAL` in WAL mode a committed
//! transaction survives the process being killed. One writer means writes
//! are serialized already: no [`Lock`] needs more.

mod checkpoint;
pub(crate) mod schema;
mod tx;
mod writer;

use std::path::Path;
use std::sync::Arc;

use r2d2_sqlite::SqliteConnectionManager;

use super::DbError;
use super::backend::{Backend, Lock, ReadTx, WriteTx};
use checkpoint::Checkpointer;
use tx::SqliteTx;

/// How many reader connections the pool keeps.
const READERS: u32 = 8;

/// Page cache of each reader, as `PRAGMA cache_size` (negative: KiB). Reads
/// stream payloads that are each read once per sync, so a big cache per
/// reader would mostly duplicate the OS page cache, eight times over; the
/// b-tree interior pages that do get reused fit easily.
const READER_CACHE_KIB: i64 = -2 * 1024;

/// A SQLite database file.
pub(crate) struct Sqlite {
    writer: Arc<writer::Writer>,
    readers: r2d2::Pool<SqliteConnectionManager>,
    /// Dropping this stops the checkpointer thread.
    _checkpointer: Checkpointer,
}

impl Sqlite {
    /// Opens (creating and migrating) the database at `path`.
    pub(crate) fn open(path: &Path) -> Result<Sqlite, DbError> {
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
        Ok(Sqlite {
            writer,
            readers,
            _checkpointer: checkpointer,
        })
    }
}

impl Backend for Sqlite {
    fn read(&self, f: &mut dyn FnMut(&mut dyn ReadTx) -> Result<(), DbError>) -> Result<(), DbError> {
        let mut conn = self.readers.get()?;
        let tx = conn.transaction()?;
        f(&mut SqliteTx(&tx))?;
        tx.finish()?;
        Ok(())
    }

    fn write(
        &self,
        _lock: Lock<'_>,
        f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        self.writer.write(|conn| f(&mut SqliteTx(conn)))
    }

    fn heartbeat(&self) -> Result<(), DbError> {
        let conn = self.readers.get()?;
        conn.query_row("SELECT count(*) FROM settings", [], |r| r.get::<_, i64>(0))?;
        self.writer.exclusive(|conn| {
            conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK")?;
            Ok(())
        })
    }

    fn pool_state(&self) -> (u32, u32) {
        let state = self.readers.state();
        (state.connections, state.idle_connections)
    }
}
