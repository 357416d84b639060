//! # sync-clients: the device list and commands between devices
//!
//! The `clients` collection holds one record per device of the account.
//! [`ClientsStore`] keeps this device's record fresh (re-uploaded whenever
//! it changes and at least weekly), keeps a cache of the other devices for
//! the app ([`ClientsStore::devices`], stale ones hidden), and carries
//! commands between devices: to send one, the target's record is uploaded
//! again with the command appended; a device runs the commands in its own
//! record (deduplicated by command and arguments) and uploads its record
//! without them. Engine commands (`wipeEngine`, `resetEngine`, `resetAll`)
//! go to the sync manager; `logout` and `displayURI` go to the app.
//!
//! Records from other clients keep every field this code does not know.
//!
//! **It never depends on another engine crate.**

mod engine;
mod fit;
mod record;
mod schema;
mod store;

pub use engine::{COLLECTION, REUPLOAD_EVERY};
pub use record::{CLIENTS_TTL_SECS, ClientRecord, Command, CommandRecord};
pub use store::{ClientsStore, LocalDevice, RemoteDevice, STALE_AFTER};

/// What can go wrong in the clients engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientsError {
    /// The local store failed.
    #[error("clients store: {0}")]
    Store(#[from] sync_sql::SqlError),
    /// SQLite failed.
    #[error("clients store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored or received record does not parse.
    #[error("clients record: {0}")]
    Json(#[from] serde_json::Error),
    /// A record could not be built for upload.
    #[error("clients record: {0}")]
    Record(#[from] sync15::Error),
    /// A command was addressed to a device this one does not know.
    #[error("no known device with client id {0:?}")]
    UnknownDevice(String),
    /// The local device description is unusable.
    #[error("invalid device description: {0}")]
    InvalidDevice(String),
}
