//! The store: what the storage API and the token server keep, and the
//! rules that keep it consistent.
//!
//! [`Db`] states the rules once (preconditions, strictly increasing
//! per-user timestamps, exact size accounting and quota, batches, the
//! token server's checks) over the statements of a [`backend::Backend`]:
//! SQLite ([`sqlite`], the default and the embedded choice). Every write is
//! one transaction holding its user's lock, so a check made inside it holds
//! until it commits.

mod backend;
mod batches;
mod bsos;
mod postgres;
mod sqlite;
mod types;
mod unpaged;
mod users;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use backend::{Backend, Lock, ReadTx, WriteTx};
use types::WriteStart;

pub use batches::{BatchAppend, BatchLimit, BatchResult};
pub use bsos::{PAGE_BYTES, Page, PostOutcome, WriteOutcome};
pub use types::{Bso, BsoInput, CollectionQuery, Node, SortOrder, User, UserRecord};
pub use unpaged::{CollectionSink, STREAM_AFTER_BYTES};
pub use users::{DEFAULT_NODE_CAPACITY, Refusal, TokenUser, UserLookup};

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
    /// PostgreSQL failed, or could not be reached.
    #[error("PostgreSQL: {}", postgres_text(.0))]
    Postgres(#[from] ::postgres::Error),
    /// The database was migrated by a newer release of this server.
    #[error("the database schema is version {found}; this server knows versions up to {known}")]
    SchemaTooNew {
        /// The database's version.
        found: i64,
        /// The newest this code knows.
        known: i64,
    },
    /// No reader connection was available.
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::Error),
    /// A pooled connection was used after it was closed.
    #[error("database connection already closed")]
    ConnectionGone,
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
    /// No storage node takes new users (all full, draining or down).
    #[error("no storage node has room for a new user")]
    NoNode,
    /// The uid was retired (new keys, or moved to another node): its
    /// client must fetch a new token.
    #[error("the user was retired")]
    Retired,
    /// The commit holding this write failed (with the other writes of its
    /// group); nothing of it was stored.
    #[error("commit failed: {0}")]
    CommitFailed(String),
}

/// The database.
pub struct Db {
    backend: Box<dyn Backend>,
    /// Whether this database holds the token server's accounts (role
    /// `all`): then a client's write checks, inside its transaction, that
    /// its uid has not been retired ([`Db::refusing_retired_users`]).
    guards_retired_users: bool,
    /// Users found current lately, so storage requests seldom need a query
    /// to check their token is still current ([`Db::user_is_current`]).
    current_users: parking_lot::RwLock<UserCache>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
}

/// How [`Db::open_with`] opens a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOptions {
    /// PostgreSQL: connections the pool keeps at most (at least one).
    pub postgres_pool_size: u32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            postgres_pool_size: postgres::DEFAULT_POOL_SIZE,
        }
    }
}

impl Db {
    /// Opens (creating and migrating) the database at `location`: a
    /// `postgres://` (or `postgresql://`) URL, or else a SQLite file.
    pub fn open(location: &Path) -> Result<Db, DbError> {
        Db::open_with(location, &OpenOptions::default())
    }

    /// [`Db::open`] with `options` (those of another engine are ignored).
    pub fn open_with(location: &Path, options: &OpenOptions) -> Result<Db, DbError> {
        match location.to_str().filter(|l| is_postgres_url(l)) {
            Some(url) => Ok(Db::on(Box::new(postgres::Postgres::open(
                url,
                options.postgres_pool_size,
            )?))),
            None => Ok(Db::on(Box::new(sqlite::Sqlite::open(location)?))),
        }
    }

    fn on(backend: Box<dyn Backend>) -> Db {
        Db {
            backend,
            guards_retired_users: false,
            current_users: Default::default(),
        }
    }

    /// Runs `f` in a read transaction: one snapshot for all its statements.
    fn read<T>(&self, f: impl FnOnce(&mut dyn ReadTx) -> Result<T, DbError>) -> Result<T, DbError> {
        let mut f = Some(f);
        let mut out = None;
        self.backend.read(&mut |tx| {
            if let Some(f) = f.take() {
                out = Some(f(tx)?);
            }
            Ok(())
        })?;
        out.ok_or_else(|| DbError::CommitFailed("the read did not run".into()))
    }

    /// [`Db::read`] for `f` that runs exactly one statement: its own
    /// snapshot is all it needs, so a backend may skip the transaction. `f`
    /// may run again on another connection if its statement never reached
    /// a live one.
    fn read_single<T>(&self, mut f: impl FnMut(&mut dyn ReadTx) -> Result<T, DbError>) -> Result<T, DbError> {
        let mut out = None;
        self.backend.read_single(&mut |tx| {
            out = Some(f(tx)?);
            Ok(())
        })?;
        out.ok_or_else(|| DbError::CommitFailed("the read did not run".into()))
    }

    /// Runs `f` as one atomic write holding `lock`; returns once it is
    /// committed. On `Err` nothing `f` did is kept. Backends run `f` once.
    fn write<T>(
        &self,
        lock: Lock<'_>,
        f: impl FnOnce(&mut dyn WriteTx) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut f = Some(f);
        let mut out = None;
        self.backend.write(lock, &mut |tx| {
            if let Some(f) = f.take() {
                out = Some(f(tx)?);
            }
            Ok(())
        })?;
        out.ok_or_else(|| DbError::CommitFailed("the write did not run".into()))
    }

    /// This database also holds the token server's accounts: refuse a
    /// client's write to a retired uid ([`DbError::Retired`]), checked in the
    /// write's own transaction. The check before it (`user_is_current`,
    /// cached for a minute) cannot see a retirement made by another process
    /// — `sync-storage user migrate`, another server on the same database —
    /// and a write that passed it could land in the uid after the
    /// retirement. A retirement holds the user's lock (see
    /// `WriteTx::retire_user`), so it and the user's writes are ordered: a
    /// write either committed before it, or sees it and is refused.
    pub fn refusing_retired_users(mut self) -> Db {
        self.guards_retired_users = true;
        self
    }

    /// A client's write as `uid`: [`Db::write`] holding the user's lock,
    /// refused if the uid was retired (where this database has accounts).
    /// `f` is handed what every such write reads first
    /// ([`ReadTx::write_start`]), `collection`'s time included when named.
    fn write_as_user<T>(
        &self,
        uid: u64,
        collection: Option<&str>,
        f: impl FnOnce(&mut dyn WriteTx, WriteStart) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let guard = self.guards_retired_users;
        self.write(Lock::User(uid), |tx| {
            let start = tx.write_start(uid, collection, guard)?;
            if !start.live {
                return Err(DbError::Retired);
            }
            f(tx, start)
        })
    }

    /// A setting stored in the database, creating it with `init` if absent.
    pub fn setting_or_init(&self, name: &str, init: impl FnOnce() -> String) -> Result<String, DbError> {
        self.write(Lock::None, |tx| match tx.setting(name)? {
            Some(value) => Ok(value),
            None => {
                let value = init();
                tx.insert_setting(name, &value)?;
                Ok(value)
            }
        })
    }

    /// Reader connections open and idle in the pool.
    pub fn reader_pool_state(&self) -> (u32, u32) {
        self.backend.pool_state()
    }

    /// How many requests can use the database at once, when a fixed
    /// number of connections bounds it (PostgreSQL: `postgres_pool_size`).
    pub fn connection_limit(&self) -> Option<u32> {
        self.backend.connection_limit()
    }

    /// Batch uploads started and neither committed nor purged.
    pub fn pending_batches(&self) -> Result<i64, DbError> {
        self.read(|tx| tx.pending_batches())
    }

    /// The engine's upkeep, run every few seconds while serving (see
    /// `postgres::vacuum`); returns how many things it did.
    pub fn tidy(&self) -> Result<usize, DbError> {
        self.backend.tidy()
    }

    /// Whether the database answers reads and writes, for `__heartbeat__`.
    pub fn heartbeat(&self) -> Result<(), DbError> {
        self.backend.heartbeat()
    }

    /// Deletes expired BSOs and batches. Returns how many rows went.
    ///
    /// One transaction per user, holding that user's lock: a write that
    /// found a BSO live and counts it as replaced must not see it purged
    /// under it. An open batch is locked by the write using it.
    pub fn purge_expired(&self) -> Result<usize, DbError> {
        let now = now_ms();
        let mut purged = 0;
        for uid in self.read(|tx| tx.users_with_expired(now))? {
            purged += self.write(Lock::User(uid), |tx| tx.purge_user(uid, now))?;
        }
        purged += self.write(Lock::None, |tx| tx.purge_batches(now))?;
        Ok(purged)
    }
}

/// See [`Db::user_is_current`]: uid → (node, when found current). `epoch`
/// counts invalidations, so a lookup that raced with one does not cache
/// what it read before it.
#[derive(Default)]
pub(crate) struct UserCache {
    pub(crate) epoch: u64,
    pub(crate) nodes: std::collections::HashMap<u64, (String, std::time::Instant)>,
}

impl UserCache {
    pub(crate) fn invalidate(&mut self) {
        self.epoch += 1;
        self.nodes.clear();
    }
}

/// `location` fit for logs and error messages: a PostgreSQL URL's password
/// is replaced by `***`.
pub fn redacted(location: &Path) -> String {
    let text = location.display().to_string();
    if !is_postgres_url(&text) {
        return text;
    }
    match url::Url::parse(&text) {
        Ok(mut url) if url.password().is_some() => {
            // Only fails for URLs that cannot have a password.
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        Ok(url) => url.to_string(),
        Err(_) => "a PostgreSQL URL that does not parse".to_owned(),
    }
}

/// What PostgreSQL said: its SQLSTATE and message when it answered, the
/// driver's error (and its cause) when it could not be reached.
fn postgres_text(e: &::postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// Whether `location` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// Now, in milliseconds, rounded down to the protocol's 10 ms resolution.
pub fn now_ms() -> i64 {
    clock_ms() / 10 * 10
}

/// The wall clock in milliseconds.
pub(crate) fn clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The timestamp for a write by a user whose last write was at `last`:
/// now, or just after `last` if the clock has not moved past it — strictly
/// increasing per user (the write holds the user's lock). A time ahead of
/// the clock is not answered before the clock reaches it
/// (`api::storage_headers`).
fn next_timestamp(last: i64) -> i64 {
    if last > 0 {
        now_ms().max(last + 10)
    } else {
        now_ms()
    }
}

/// When a BSO written at `ts` with `ttl` expires: [`bsos::NEVER`] unless a
/// TTL (seconds) is given.
fn ttl_expiry(ts: i64, ttl: Option<Option<u64>>) -> i64 {
    match ttl {
        Some(Some(ttl)) => ts.saturating_add((ttl.min(i64::MAX as u64) as i64).saturating_mul(1000)),
        _ => bsos::NEVER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(
            redacted(Path::new(
                "postgres://sync:s3cret@db.example:5432/sync?sslmode=disable"
            )),
            "postgres://sync:***@db.example:5432/sync?sslmode=disable"
        );
        assert_eq!(
            redacted(Path::new("postgres://sync@127.0.0.1/sync")),
            "postgres://sync@127.0.0.1/sync"
        );
        assert_eq!(redacted(Path::new("/var/lib/sync.db")), "/var/lib/sync.db");
        assert!(!redacted(Path::new("postgresql://a:b@[::1")).contains('b'));
    }
}
