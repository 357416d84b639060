//! # sync-logins: a password store, with or without Firefox Sync
//!
//! [`LoginStore`] keeps logins in a SQLite file: add, update, delete, get,
//! list, find by origin, touch (count a use), and import many at once.
//! Every login is validated and normalised before it is written (origins
//! reduced to `scheme://host[:port]`; exactly one of a form action origin or
//! an HTTP realm; a password), and a second login with the same origin,
//! form action or realm, and username is refused as a duplicate. Bad input
//! is a typed [`LoginsError`]; nothing is half-written.
//!
//! **Usernames and passwords are encrypted at rest** with AES-256-GCM under
//! a [`LoginsKey`] the app supplies (and keeps, e.g. in the OS keychain).
//! Opening a store with another key fails with [`LoginsError::KeyMismatch`];
//! [`LoginStore::open_with_key_source`] takes the key from the app's
//! [`KeySource`] (a 0600 file by default, [`FileKeySource`]) and recovers
//! from a lost key: what the server has is downloaded again, and what only
//! this device had is reported lost ([`KeyRecovery`]), never dropped silently.
//!
//! The store is also the `passwords` [`SyncEngine`](sync15::SyncEngine):
//! records in Firefox's format ([`PasswordRecord`], unknown fields kept),
//! and a **mirror** of the server's last-synced version of every login, so
//! that a login changed on two devices merges three ways — edits to
//! different fields both survive, and the newer edit wins a field both
//! changed. A login added on two devices before their first sync becomes
//! one record: the local copy adopts the server's id. An edit wins over a
//! deletion from the other side. Times are milliseconds since the epoch.
//!
//! ```
//! use sync_logins::{LoginEntry, LoginStore, LoginsKey};
//! # fn main() -> Result<(), sync_logins::LoginsError> {
//! # let dir = tempfile::tempdir().unwrap();
//! let key = LoginsKey::generate()?; // store key.to_base64() somewhere safe
//! let store = LoginStore::open(dir.path().join("logins.db"), &key)?;
//! let login = store.add(LoginEntry {
//!     origin: "https://example.com/login".into(),
//!     form_action_origin: Some("https://example.com".into()),
//!     username_field: "user".into(),
//!     password_field: "pass".into(),
//!     username: "alice".into(),
//!     password: "hunter2".into(),
//!     ..Default::default()
//! })?;
//! assert_eq!(login.entry.origin, "https://example.com");
//! assert_eq!(store.find_by_origin("https://example.com/other")?.len(), 1);
//! # Ok(())
//! # }
//! ```
//!
//! **It never depends on another engine crate**: an app that wants only
//! passwords links `sync-manager` and this crate (see the `lockbox` example).

mod db;
mod engine;
mod key;
mod login;
mod merge;
mod record;
mod recovery;
mod schema;
mod store;

pub use engine::COLLECTION;
pub use key::LoginsKey;
pub use login::{InvalidLogin, Login, LoginEntry, normalize_origin};
pub use record::PasswordRecord;
pub use recovery::{FileKeySource, KeyRecovery, KeySource, Loss, LostLogin};
pub use store::{ImportReport, LoginStore};

/// What can go wrong in the password store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginsError {
    /// The login breaks a rule; nothing was written.
    #[error("invalid login: {0}")]
    Invalid(#[from] InvalidLogin),
    /// The same login (origin, form action or realm, username) exists.
    #[error("a login with this origin, target and username exists already: {0}")]
    Duplicate(sync15::Guid),
    /// No login has this id.
    #[error("no login with id {0:?}")]
    NotFound(String),
    /// The store was created with a different key.
    #[error("the store was encrypted with a different key")]
    KeyMismatch,
    /// The key given is not a key.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// The key source could not be read or written.
    #[error("key source: {0}")]
    KeySource(String),
    /// Stored secret fields could not be decrypted (altered on disk).
    #[error("stored secret fields could not be decrypted")]
    Decrypt,
    /// Encryption itself failed.
    #[error("encryption failed: {0}")]
    Crypto(String),
    /// The local store failed.
    #[error("logins store: {0}")]
    Store(#[from] sync_sql::SqlError),
    /// SQLite failed.
    #[error("logins store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored record does not parse.
    #[error("logins record: {0}")]
    Json(#[from] serde_json::Error),
    /// A record could not be built for upload.
    #[error("logins record: {0}")]
    Record(#[from] sync15::Error),
}
