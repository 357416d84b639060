//! The service's database: its tables (see [`schema`]) in the storage
//! server's database — its SQLite file, or its PostgreSQL database — or in
//! one of their own, reached through one connection. Accounts traffic is
//! a few requests per sign-in, so one connection, used off the async
//! runtime's threads, is plenty.
//!
//! Each submodule owns one concept's rows and the queries on them, written
//! once for both backends ([`sql`]); every function takes the transaction
//! it runs on, so a route that touches several tables does so in one
//! transaction.

pub(crate) mod accounts;
pub(crate) mod devices;
pub(crate) mod limits;
pub(crate) mod oauth;
pub(crate) mod schema;
pub(crate) mod sql;
pub(crate) mod tokens;

use std::path::Path;

use parking_lot::Mutex;
use rusqlite::TransactionBehavior;

pub(crate) use sql::{Db, args};

use crate::error::{AccountsError, ApiError};
use crate::secrets::Sealer;

enum Backend {
    Sqlite(rusqlite::Connection),
    /// The client and its URL (to connect again after the server restarts).
    Postgres(Box<Option<postgres::Client>>, String),
}

/// The connection and the sealer for what it keeps secret.
pub(crate) struct Store {
    backend: Mutex<Backend>,
    pub sealer: Sealer,
}

/// Whether `location` names a PostgreSQL database rather than a file.
pub fn is_postgres(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

impl Store {
    /// Opens (creating) the database at `location` — a SQLite file or a
    /// `postgres://` URL — and brings the accounts tables up to date.
    pub fn open(location: &Path, sealer: Sealer) -> Result<Self, AccountsError> {
        let text = location.to_string_lossy();
        let backend = if is_postgres(&text) {
            let mut client = postgres::Client::connect(&text, postgres::NoTls)?;
            schema::apply_postgres(&mut client)?;
            Backend::Postgres(Box::new(Some(client)), text.into_owned())
        } else {
            let mut conn = sync_sql::open(location, &sync_sql::OpenOptions::default())?;
            schema::SQLITE.apply(&mut conn)?;
            Backend::Sqlite(conn)
        };
        Ok(Store {
            backend: Mutex::new(backend),
            sealer,
        })
    }

    /// Runs `f` in a transaction: committed if it returns `Ok`, rolled back
    /// otherwise, so a refused request leaves nothing behind. SQLite's is
    /// immediate (the write lock first); PostgreSQL's is read-committed,
    /// every invariant resting on single statements and unique keys.
    pub fn write<T>(&self, f: impl FnOnce(&Db<'_>, &Sealer) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let mut backend = self.backend.lock();
        match &mut *backend {
            Backend::Sqlite(conn) => {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(AccountsError::from)?;
                let out = f(&Db::sqlite(&tx), &self.sealer)?;
                tx.commit().map_err(AccountsError::from)?;
                Ok(out)
            }
            Backend::Postgres(client, url) => {
                let client = connected(client, url)?;
                let tx = client.transaction().map_err(AccountsError::from)?;
                let db = Db::postgres(tx);
                let out = f(&db, &self.sealer)?;
                db.commit()?;
                Ok(out)
            }
        }
    }

    /// Runs `f` for reads (on PostgreSQL in a transaction of its own, so a
    /// read sees one snapshot of each table).
    pub fn read<T>(&self, f: impl FnOnce(&Db<'_>, &Sealer) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let mut backend = self.backend.lock();
        match &mut *backend {
            Backend::Sqlite(conn) => f(&Db::sqlite(conn), &self.sealer),
            Backend::Postgres(..) => {
                drop(backend);
                self.write(f)
            }
        }
    }

    /// [`Store::write`] for callers outside a request (admin commands,
    /// start-up): failures are [`AccountsError`]s.
    pub fn admin<T>(
        &self,
        f: impl FnOnce(&Db<'_>, &Sealer) -> Result<T, ApiError>,
    ) -> Result<T, AccountsError> {
        self.write(f).map_err(|e| AccountsError::Refused(e.message))
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // The blocking PostgreSQL client runs a runtime of its own to close
        // its connection, which panics on an async runtime's thread (where
        // the service is often dropped, with the server's routes): close
        // it on a thread of its own.
        if let Backend::Postgres(client, _) = &mut *self.backend.lock() {
            if let Some(client) = client.take() {
                let _ = std::thread::Builder::new()
                    .name("accounts-db-close".into())
                    .spawn(move || drop(client));
            }
        }
    }
}

/// The PostgreSQL client, connecting again if the connection was lost
/// (the database restarted): the request that finds it lost fails, the
/// next one gets a fresh connection.
fn connected<'c>(
    client: &'c mut Option<postgres::Client>,
    url: &str,
) -> Result<&'c mut postgres::Client, ApiError> {
    if client.as_ref().is_none_or(postgres::Client::is_closed) {
        *client = None;
        let fresh = postgres::Client::connect(url, postgres::NoTls).map_err(AccountsError::from)?;
        *client = Some(fresh);
    }
    client.as_mut().ok_or_else(ApiError::unexpected)
}

/// A 32-byte column.
pub(crate) fn bytes32(value: Vec<u8>, what: &str) -> Result<[u8; 32], ApiError> {
    value
        .try_into()
        .map_err(|_| AccountsError::Corrupt(format!("{what} is not 32 bytes")).into())
}
