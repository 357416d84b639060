//! The service's database: its tables in the server's SQLite file (see
//! [`schema`]), reached through one connection. Accounts traffic is a few
//! requests per sign-in, so one connection, used off the async runtime's
//! threads, is plenty; the storage server's own pool never waits on it
//! longer than SQLite's busy timeout.
//!
//! Each submodule owns one concept's rows and the queries on them; every
//! function takes the connection (or a transaction) it runs on, so a route
//! that touches several tables does so in one transaction.

pub(crate) mod accounts;
pub(crate) mod devices;
pub(crate) mod limits;
pub(crate) mod oauth;
pub(crate) mod schema;
pub(crate) mod tokens;

use std::path::Path;

use parking_lot::Mutex;
use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::error::{AccountsError, ApiError};
use crate::secrets::Sealer;

/// The connection and the sealer for what it keeps secret.
pub(crate) struct Store {
    conn: Mutex<Connection>,
    pub sealer: Sealer,
}

impl Store {
    /// Opens (creating) the database at `path` and brings the accounts
    /// tables up to date.
    pub fn open(path: &Path, sealer: Sealer) -> Result<Self, AccountsError> {
        let mut conn = sync_sql::open(path, &sync_sql::OpenOptions::default())?;
        schema::SCHEMA.apply(&mut conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
            sealer,
        })
    }

    /// Runs `f` in an immediate transaction: committed if it returns `Ok`,
    /// rolled back otherwise, so a refused request leaves nothing behind.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, &Sealer) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut conn = self.conn.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(AccountsError::from)?;
        let out = f(&tx, &self.sealer)?;
        tx.commit().map_err(AccountsError::from)?;
        Ok(out)
    }

    /// Runs `f` on the connection, outside a transaction (for reads).
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Connection, &Sealer) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let conn = self.conn.lock();
        f(&conn, &self.sealer)
    }

    /// [`Store::write`] for callers outside a request (admin commands,
    /// start-up): failures are [`AccountsError`]s.
    pub fn admin<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, &Sealer) -> Result<T, ApiError>,
    ) -> Result<T, AccountsError> {
        self.write(f).map_err(|e| AccountsError::Refused(e.message))
    }
}

/// A 32-byte column.
pub(crate) fn bytes32(value: Vec<u8>, what: &str) -> rusqlite::Result<[u8; 32]> {
    value.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Blob,
            format!("{what} is not 32 bytes").into(),
        )
    })
}
