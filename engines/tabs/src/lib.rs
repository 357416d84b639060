//! # sync-tabs: this device's open tabs, and the other devices'
//!
//! The app tells [`TabsStore::set_local_tabs`] what is open; the engine
//! uploads them as one `tabs` record named after this device's client id,
//! downloads the records of the account's other devices, and answers
//! [`TabsStore::remote_tabs`] with each device's tabs under the name the
//! device list gives it.
//!
//! What is sent is what Firefox sends: the most recently used tabs first,
//! pages of internal or local schemes (`about:`, `file:`,
//! `moz-extension:`, … see [`TabsConfig`]) and over-long URLs left out,
//! titles cut to [`MAX_TITLE_CHARS`], and the oldest tabs dropped until the
//! encrypted record fits the server's `max_record_payload_bytes`. Records
//! live 180 days on the server; other devices' records are kept whole, so
//! fields this code does not know survive.
//!
//! The client id, device names and server limits arrive through
//! [`SyncEngine::prepare_for_sync`](sync15::SyncEngine::prepare_for_sync)
//! from the manager; this crate never asks the clients engine itself.
//! Without a manager (no client id known yet) it downloads but does not
//! upload.
//!
//! Incoming records are staged in memory until `apply`: a sync stopped
//! mid-download leaves the store as it was.
//!
//! **It never depends on another engine crate.**

mod engine;
mod local;
mod record;
mod schema;
mod store;

pub use engine::{COLLECTION, REUPLOAD_EVERY};
pub use local::{LocalTab, MAX_TITLE_CHARS, TabsConfig};
pub use record::{TABS_TTL_SECS, TabsRecord, TabsRecordTab};
pub use store::{ClientRemoteTabs, RemoteTab, TabsStore};

/// What can go wrong in the tabs engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TabsError {
    /// The local store failed.
    #[error("tabs store: {0}")]
    Store(#[from] sync_sql::SqlError),
    /// SQLite failed.
    #[error("tabs store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored record does not parse.
    #[error("tabs record: {0}")]
    Json(#[from] serde_json::Error),
    /// A record could not be built for upload.
    #[error("tabs record: {0}")]
    Record(#[from] sync15::Error),
    /// The app gave a tab that cannot be stored.
    #[error("invalid tab: {0}")]
    InvalidTab(String),
}
