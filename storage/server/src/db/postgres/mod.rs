//! The PostgreSQL backend: a pool of connections, each with its prepared
//! statements.
//!
//! Writes run at READ COMMITTED and first take their [`Lock`] as a
//! transaction-scoped advisory lock: a user's writes (and the purge of
//! their expired BSOs) run one at a time, so a precondition checked inside
//! a write holds until its commit, timestamps strictly increase and size
//! accounting stays exact — without serialization failures to retry. Every
//! statement after the lock sees what the previous holder committed; the
//! lock travels with `BEGIN` in one round trip. A read of one statement
//! (a page with its collection's time, `info/collections`) runs without a
//! transaction, its snapshot its own; longer reads run in a REPEATABLE
//! READ, READ ONLY transaction: one snapshot.
//!
//! Each round trip costs both processes a wakeup and a loopback exchange,
//! so a request makes few: a POST four (`BEGIN` with the lock,
//! `write_start`, one statement for the whole write, `COMMIT`), a read one. The `vacuum`
//! module keeps the tables rewrites leave dead rows in from growing.
//!
//! The driver is `postgres` (the blocking face of `tokio-postgres`): the
//! store is called from blocking threads, as SQLite is, so one interface
//! serves both.

pub(crate) mod schema;
mod tx;
mod vacuum;

use std::collections::HashMap;

use postgres::{Client, IsolationLevel, NoTls, Statement};

use super::DbError;
use super::backend::{Backend, Lock, ReadTx, WriteTx};
use tx::{Conn, PgTx};

/// Connections the pool keeps at most unless configured
/// (`postgres_pool_size`). Fewer cost less on a small database host: on the
/// 2-core bench box (server, PostgreSQL and load generator together), 6
/// spent about a tenth less CPU per request than 16 in interleaved runs; a
/// pool too small is emptied by a few slow clients draining large streamed
/// reads, each holding a connection.
pub(crate) const DEFAULT_POOL_SIZE: u32 = 16;

/// How long a request waits for a pooled connection before it is told to
/// come back later (503).
const POOL_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The longest any statement may run.
const STATEMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The longest a statement waits for a lock (another transaction's rows).
const LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The longest the heartbeat waits for a lock, as SQLite's busy timeout.
const HEARTBEAT_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A connection and the statements prepared on it.
pub(super) struct PgConnection {
    client: Client,
    statements: HashMap<String, Statement>,
    /// A transaction was begun and not yet ended: set until `COMMIT` or
    /// `ROLLBACK` is answered, so a connection whose user unwound mid-way
    /// is never handed out again (see `has_broken`).
    in_transaction: bool,
    /// The connection failed: the pool discards it.
    broken: bool,
}

/// A pooled connection. `postgres::Client` says goodbye to the server when
/// dropped by blocking on a runtime of its own, which panics (and, inside a
/// destructor, aborts the process) on a thread that runs a tokio runtime —
/// where a server's last handle on its store is dropped at shutdown. So a
/// connection is always dropped on a plain thread of its own.
pub(super) struct Session(Option<PgConnection>);

impl Session {
    /// A fresh connection, nothing prepared on it yet.
    fn of(client: Client) -> Session {
        Session(Some(PgConnection {
            client,
            statements: HashMap::new(),
            in_transaction: false,
            broken: false,
        }))
    }

    fn get(&mut self) -> Result<&mut PgConnection, DbError> {
        self.0.as_mut().ok_or(DbError::ConnectionGone)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            match std::thread::Builder::new()
                .name("postgres-close".into())
                .spawn(move || drop(conn))
            {
                Ok(closing) => {
                    let _ = closing.join();
                }
                Err(e) => tracing::warn!(error = %e, "no thread to close a PostgreSQL connection on"),
            }
        }
    }
}

/// Opens connections for the pool.
struct Connector {
    config: postgres::Config,
}

impl r2d2::ManageConnection for Connector {
    type Connection = Session;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Session, postgres::Error> {
        let mut client = self.config.connect(NoTls)?;
        // A request never waits on PostgreSQL without bound: a lock held
        // elsewhere or a statement gone slow ends in an error (a 503).
        //
        // Every statement is prepared once per connection and planned once:
        // left to choose, PostgreSQL re-planned the listings on every call
        // (their custom plans looked cheaper than a generic one), which
        // was a fifth of its CPU on the read-heavy mix. Every statement
        // here is led by (uid, collection[, id]) and has one right index,
        // which the generic plans use: checked with `EXPLAIN EXECUTE` on a
        // database of 590,000 BSOs (listings by every order and filter,
        // counts, lookups by id, writes), and for lookups and listings by
        // `tests/it/postgres.rs` on every run.
        client.batch_execute(&format!(
            "SET statement_timeout = {}; SET lock_timeout = {}; SET plan_cache_mode = force_generic_plan",
            STATEMENT_TIMEOUT.as_millis(),
            LOCK_TIMEOUT.as_millis()
        ))?;
        Ok(Session::of(client))
    }

    fn is_valid(&self, conn: &mut Session) -> Result<(), postgres::Error> {
        match &mut conn.0 {
            Some(conn) => conn.client.simple_query("").map(|_| ()),
            // Never the case: a session is emptied only as it is dropped.
            None => Ok(()),
        }
    }

    fn has_broken(&self, conn: &mut Session) -> bool {
        conn.0
            .as_ref()
            .is_none_or(|conn| conn.broken || conn.in_transaction || conn.client.is_closed())
    }
}

/// A PostgreSQL database.
pub(crate) struct Postgres {
    pool: r2d2::Pool<Connector>,
    /// Where to connect, for a connection outside the pool.
    config: postgres::Config,
}

impl Postgres {
    /// Connects to the database at `url` (`postgres://user:password@host/db`)
    /// and brings its schema up to date; the pool keeps at most `pool_size`
    /// connections (at least one).
    pub(crate) fn open(url: &str, pool_size: u32) -> Result<Postgres, DbError> {
        let config: postgres::Config = url.parse()?;
        let mut client = config.connect(NoTls)?;
        schema::migrate(&mut client, schema::STEPS)?;
        drop(client);
        // No ping at checkout (`test_on_check_out`): it cost every request a
        // round trip. A connection PostgreSQL dropped while it sat in the
        // pool is found by its first use instead, and the work retried on
        // another (`Postgres::on_connection`).
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            .min_idle(Some(2))
            .connection_timeout(POOL_WAIT)
            .test_on_check_out(false)
            .build(Connector {
                config: config.clone(),
            })?;
        Ok(Postgres { pool, config })
    }
}

impl Postgres {
    /// Runs `work` on a pooled connection. A connection PostgreSQL closed
    /// while it sat in the pool (a restart, `pg_terminate_backend`) shows
    /// only when used: if it fails before PostgreSQL answered any of
    /// `work`'s round trips, nothing was done on it, and `work` runs again
    /// on another connection. Each retry discards one dead connection, so a
    /// pool emptied by a restart is refilled within one request.
    fn on_connection<T>(
        &self,
        mut work: impl FnMut(&mut PgConnection, &mut u32) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut retries = 0;
        loop {
            let mut session = self.pool.get()?;
            let conn = session.get()?;
            let mut answered = 0;
            match work(conn, &mut answered) {
                Ok(out) => return Ok(out),
                Err(e) => {
                    if connection_lost(&e) || conn.client.is_closed() {
                        conn.broken = true;
                    }
                    if conn.broken && answered == 0 && retries < self.pool.max_size() {
                        retries += 1;
                        tracing::debug!(error = %e, "a pooled PostgreSQL connection was gone; retrying on another");
                        continue;
                    }
                    return Err(e);
                }
            }
        }
    }
}

/// Whether `e` says the connection itself is gone (rather than a statement
/// failing on a live one).
fn connection_lost(e: &DbError) -> bool {
    use postgres::error::SqlState;
    match e {
        DbError::ConnectionGone => true,
        DbError::Postgres(e) => {
            e.is_closed()
                || e.code()
                    .is_some_and(|c| [SqlState::ADMIN_SHUTDOWN, SqlState::CRASH_SHUTDOWN].contains(c))
                || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
        }
        _ => false,
    }
}

/// Ends the transaction `BEGIN` opened on `conn` by hand: `COMMIT` when
/// `outcome` is `Ok`, else `ROLLBACK` (also after a failed statement, which
/// leaves the transaction aborted). A connection whose transaction could
/// not be ended is discarded.
fn end_transaction(conn: &mut PgConnection, outcome: Result<(), DbError>) -> Result<(), DbError> {
    let end = if outcome.is_ok() { "COMMIT" } else { "ROLLBACK" };
    match conn.client.batch_execute(end) {
        Ok(()) => conn.in_transaction = false,
        Err(e) => {
            conn.broken = true;
            outcome?;
            return Err(e.into());
        }
    }
    outcome
}

impl Backend for Postgres {
    fn read(&self, f: &mut dyn FnMut(&mut dyn ReadTx) -> Result<(), DbError>) -> Result<(), DbError> {
        self.on_connection(|conn, answered| {
            let tx = conn
                .client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            *answered += 1;
            let mut tx = PgTx {
                tx: Conn::Tx(tx),
                statements: &mut conn.statements,
                answered,
            };
            f(&mut tx)?;
            if let Conn::Tx(tx) = tx.tx {
                tx.commit()?;
            }
            Ok(())
        })
    }

    fn read_single(&self, f: &mut dyn FnMut(&mut dyn ReadTx) -> Result<(), DbError>) -> Result<(), DbError> {
        self.on_connection(|conn, answered| {
            let mut tx = PgTx {
                tx: Conn::Auto(&mut conn.client),
                statements: &mut conn.statements,
                answered,
            };
            f(&mut tx)
        })
    }

    fn write(
        &self,
        lock: Lock<'_>,
        f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        // `BEGIN` and a user's lock in one round trip (the simple-query
        // protocol runs both; the uid is an integer, never text).
        let begin = match lock {
            Lock::User(uid) => format!("BEGIN; SELECT pg_advisory_xact_lock({})", uid as i64),
            Lock::None | Lock::Account(_) => "BEGIN".to_owned(),
        };
        self.on_connection(|conn, answered| {
            conn.in_transaction = true;
            if let Err(e) = conn.client.batch_execute(&begin) {
                return end_transaction(conn, Err(e.into()));
            }
            *answered += 1;
            let mut tx = PgTx {
                tx: Conn::Auto(&mut conn.client),
                statements: &mut conn.statements,
                answered,
            };
            let outcome = match lock {
                // The two-key form: a key space of its own, apart from uids.
                Lock::Account(fxa_uid) => tx
                    .execute(
                        "SELECT pg_advisory_xact_lock(hashtext('fxa account'), hashtext($1))",
                        &[&fxa_uid],
                    )
                    .and_then(|_| f(&mut tx)),
                Lock::None | Lock::User(_) => f(&mut tx),
            };
            drop(tx);
            end_transaction(conn, outcome)
        })
    }

    fn heartbeat(&self) -> Result<(), DbError> {
        let mut session = self.pool.get()?;
        let mut tx = session.get()?.client.transaction()?;
        tx.batch_execute(&format!(
            "SET LOCAL lock_timeout = {}",
            HEARTBEAT_LOCK_TIMEOUT.as_millis()
        ))?;
        tx.query_one("SELECT count(*) FROM settings", &[])?;
        // A write needs a primary that accepts writes.
        tx.execute("SELECT txid_current()", &[])?;
        tx.rollback()?;
        Ok(())
    }

    fn tidy(&self) -> Result<usize, DbError> {
        self.vacuum_dead_rows()
    }

    fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    fn connection_limit(&self) -> Option<u32> {
        Some(self.pool.max_size())
    }
}
