//! # sync-sql: SQLite plumbing for the engines and the server
//!
//! Every SQLite database in this project is opened, configured, migrated and
//! interrupted the same way, through this crate:
//!
//! - [`open`] / [`open_in_memory`] / [`configure`]: the pragmas every
//!   connection needs — WAL journal, `synchronous=NORMAL` (durable across an
//!   application crash; a committed transaction survives `kill -9`), foreign
//!   keys on, and a busy timeout so concurrent writers wait instead of failing.
//! - [`Migrations`]: versioned schema changes keyed by `PRAGMA user_version`,
//!   each applied in its own transaction, refusing databases written by a
//!   newer version of the program.
//! - [`open_store`]: open and migrate a store, moving a corrupt file aside
//!   and starting fresh (the policy is `docs/adr/0001-corrupt-databases.md`).
//! - [`in_transaction`]: run a closure in an `IMMEDIATE` transaction that
//!   commits only if the closure succeeds.
//! - [`SqlInterruptHandle`]: stop a long query from another thread.
//! - [`meta`]: a key–value table for a store's facts about itself.
//! - `engine_meta` (feature `engine`): the last-sync time and sync IDs every
//!   engine store keeps in that table, and what a reset does to them.
//!
//! ## Bound `LIMIT`s
//!
//! SQLite (3.47 and later) plans a `LIMIT ?` with the value bound to it and
//! marks the statement to be re-prepared whenever that parameter is bound
//! again — so a cached statement run in a loop is compiled on every run.
//! Write a constant limit as a literal, and a variable one as
//! `LIMIT CAST(? AS INTEGER)`, which the planner treats as opaque (see the
//! `bound_limits_*` tests).
//!
//! **It never knows a schema** (beyond the `meta` convention). Schemas belong to the crates that own the data.
//!
//! ```
//! use sync_sql::{Migration, Migrations};
//!
//! const SCHEMA: Migrations = Migrations::new(&[
//!     Migration::sql(1, "create items", "CREATE TABLE items (id TEXT PRIMARY KEY, body TEXT NOT NULL);"),
//!     Migration::sql(2, "add a time", "ALTER TABLE items ADD COLUMN modified INTEGER NOT NULL DEFAULT 0;"),
//! ]);
//!
//! # fn main() -> Result<(), sync_sql::SqlError> {
//! let dir = std::env::temp_dir().join(format!("sync-sql-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let mut conn = sync_sql::open(dir.join("items.db"), &Default::default())?;
//! assert_eq!(SCHEMA.apply(&mut conn)?, 2);
//! sync_sql::in_transaction(&mut conn, |tx| {
//!     tx.execute("INSERT INTO items (id, body) VALUES ('a', 'hello')", [])?;
//!     Ok::<_, sync_sql::SqlError>(())
//! })?;
//! # drop(conn);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok(())
//! # }
//! ```

mod corrupt;
#[cfg(feature = "engine")]
pub mod engine_meta;
mod interrupt;
pub mod meta;
mod migrate;

pub use corrupt::{Recreated, is_corruption, open_store};

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

pub use interrupt::SqlInterruptHandle;
pub use migrate::{Migration, MigrationStep, Migrations};
pub use rusqlite;

/// What can go wrong opening, migrating or using a database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// SQLite reported an error.
    #[error("SQLite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer version of the program; opening it
    /// with this one could lose data, so it is refused.
    #[error("the database has schema version {found}, newer than the {supported} this program knows")]
    SchemaTooNew {
        /// The database's `user_version`.
        found: u32,
        /// The newest version this program's migrations reach.
        supported: u32,
    },
    /// A migration step failed; the database stays at the version before it.
    #[error("migration to schema version {version} ({description}) failed: {source}")]
    Migration {
        /// The version being migrated to.
        version: u32,
        /// What the migration does.
        description: &'static str,
        /// Why it failed.
        source: rusqlite::Error,
    },
    /// The operation was stopped through a [`SqlInterruptHandle`].
    #[error("the database operation was interrupted")]
    Interrupted,
    /// A value in the `meta` table cannot be read.
    #[error("the stored {key:?} cannot be read: {reason}")]
    InvalidMeta {
        /// Its key.
        key: &'static str,
        /// Why.
        reason: String,
    },
    /// A corrupt database file could not be moved aside.
    #[error("cannot move the corrupt database {path} aside: {source}")]
    MoveAside {
        /// The database.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The database's directory could not be created.
    #[error("cannot create the directory for {path}: {source}")]
    CreateDir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// How to open a database.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// How long a statement waits for another connection's lock before
    /// failing with `SQLITE_BUSY`.
    pub busy_timeout: Duration,
    /// Open read-only (for reader connections of a pool).
    pub read_only: bool,
    /// Create the file (and its directory) if missing.
    pub create: bool,
    /// Pages of page cache; negative values are KiB, as in `PRAGMA cache_size`.
    pub cache_size: i64,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            busy_timeout: Duration::from_secs(5),
            read_only: false,
            create: true,
            cache_size: -16 * 1024,
        }
    }
}

/// Opens (creating if allowed) the database at `path` and configures it.
pub fn open(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Connection, SqlError> {
    let path = path.as_ref();
    if options.create && !options.read_only {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| SqlError::CreateDir {
                path: path.display().to_string(),
                source,
            })?;
        }
    }
    let mut flags = OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if options.read_only {
        flags |= OpenFlags::SQLITE_OPEN_READ_ONLY;
    } else {
        flags |= OpenFlags::SQLITE_OPEN_READ_WRITE;
        if options.create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
    }
    let conn = Connection::open_with_flags(path, flags)?;
    configure(&conn, options)?;
    Ok(conn)
}

/// A private in-memory database, configured like a file one (minus WAL).
pub fn open_in_memory() -> Result<Connection, SqlError> {
    let conn = Connection::open_in_memory()?;
    configure(&conn, &OpenOptions::default())?;
    Ok(conn)
}

/// Prepared statements kept per connection by `prepare_cached`.
pub const STATEMENT_CACHE_CAPACITY: usize = 128;

/// Applies the project's pragmas to a connection opened elsewhere (for
/// example by a connection pool).
pub fn configure(conn: &Connection, options: &OpenOptions) -> Result<(), SqlError> {
    conn.busy_timeout(options.busy_timeout)?;
    // rusqlite keeps 16 prepared statements by default; a store's hot path
    // (a sync's merge) uses more, and re-preparing costs more than running.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    if !options.read_only {
        // WAL lets readers run while one writer commits; in-memory databases
        // answer "memory", which is fine.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        log::trace!("journal_mode = {mode}");
    }
    conn.execute_batch(&format!(
        "PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = {};",
        options.cache_size
    ))?;
    Ok(())
}

/// Runs `f` in an `IMMEDIATE` transaction (the write lock is taken up front,
/// so two writers never deadlock upgrading read locks). Commits if `f`
/// returns `Ok`, rolls back otherwise — nothing is ever half-written.
pub fn in_transaction<T, E>(
    conn: &mut Connection,
    f: impl FnOnce(&Transaction<'_>) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<rusqlite::Error>,
{
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let value = f(&tx)?;
    tx.commit()?;
    Ok(value)
}

/// Whether `err` is SQLite saying it was interrupted.
pub fn is_interrupted(err: &rusqlite::Error) -> bool {
    matches!(err, rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::OperationInterrupted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pragmas_are_applied_to_file_databases() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(dir.path().join("nested/dir/a.db"), &OpenOptions::default()).unwrap();
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
        assert_eq!(fk, 1);
        let sync: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!(sync, 1, "NORMAL");
        let timeout: i64 = conn.query_row("PRAGMA busy_timeout", [], |r| r.get(0)).unwrap();
        assert_eq!(timeout, 5000);
    }

    #[test]
    fn read_only_connections_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ro.db");
        open(&path, &OpenOptions::default())
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let ro = open(
            &path,
            &OpenOptions {
                read_only: true,
                ..OpenOptions::default()
            },
        )
        .unwrap();
        assert!(ro.execute("INSERT INTO t VALUES (1)", []).is_err());
        let missing = open(
            dir.path().join("missing.db"),
            &OpenOptions {
                create: false,
                ..OpenOptions::default()
            },
        );
        assert!(matches!(missing, Err(SqlError::Sqlite(_))));
    }

    #[test]
    fn transactions_commit_on_ok_and_roll_back_on_err() {
        let mut conn = open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        in_transaction(&mut conn, |tx| {
            tx.execute("INSERT INTO t VALUES (1)", [])?;
            Ok::<_, SqlError>(())
        })
        .unwrap();
        let failed: Result<(), SqlError> = in_transaction(&mut conn, |tx| {
            tx.execute("INSERT INTO t VALUES (2)", [])?;
            Err(SqlError::Interrupted)
        });
        assert!(matches!(failed, Err(SqlError::Interrupted)));
        let count: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 1);
    }

    fn reprepares_over_ten_runs(sql: &str) -> i32 {
        let conn = open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (k INTEGER, v INTEGER, PRIMARY KEY (k, v)) WITHOUT ROWID")
            .unwrap();
        let mut stmt = conn.prepare(sql).unwrap();
        for k in 0..10 {
            stmt.query_map((k, 5), |r| r.get::<_, i64>(0))
                .unwrap()
                .for_each(drop);
        }
        stmt.get_status(rusqlite::StatementStatus::RePrepare)
    }

    #[test]
    fn bound_limits_reprepare_on_every_bind() {
        // The behaviour the crate docs warn about; if a future SQLite stops
        // doing this, the CAST workaround can go.
        assert_eq!(
            reprepares_over_ten_runs("SELECT v FROM t WHERE k = ? LIMIT ?"),
            10
        );
    }

    #[test]
    fn bound_limits_through_cast_are_compiled_once() {
        assert_eq!(
            reprepares_over_ten_runs("SELECT v FROM t WHERE k = ? LIMIT CAST(? AS INTEGER)"),
            0
        );
    }

    #[test]
    fn foreign_keys_are_enforced() {
        let conn = open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (p INTEGER NOT NULL REFERENCES parent(id));",
        )
        .unwrap();
        assert!(conn.execute("INSERT INTO child VALUES (42)", []).is_err());
    }
}
