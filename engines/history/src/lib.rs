//! # sync-history: browsing history, with or without Firefox Sync
//!
//! [`HistoryStore`] keeps pages (id, URL, title, frecency, hidden) and their
//! visits (date in µs, [`VisitTransition`] 1–9) in a SQLite file. The app
//! records visits and titles, queries pages by URL prefix or substring
//! (most [frecent](frecency) first, paged), reads a page's visits, and
//! deletes a page, a time range of visits, or everything. URLs are checked
//! and normalised with the `url` crate; bad input is a typed
//! [`HistoryError`].
//!
//! It is also the `history` [`SyncEngine`](sync15::SyncEngine), speaking
//! Firefox's record format ([`HistoryRecord`]):
//!
//! - **Outgoing**: pages changed since the last sync, visited within
//!   [`HistoryConfig::max_outgoing_age`], most frecent first, at most
//!   [`HistoryConfig::max_outgoing`] per sync (the rest go next time); each
//!   with its [`MAX_VISITS_PER_RECORD`] newest visits, `sortindex` =
//!   frecency, TTL 60 days. Deleted pages go up as tombstones.
//! - **Incoming**: visits merge as a set keyed by (date to the millisecond,
//!   type), as Firefox desktop and application-services dedupe them (a
//!   visit that comes back from Firefox Android with its date cut to
//!   milliseconds is the same visit); the newer
//!   title wins; invalid, local-only (`file:`, `about:`, …) and over-long
//!   URLs and unknown transition types are skipped and counted; dates in
//!   the future are clamped to now; visits deleted here stay deleted;
//!   tombstones remove the page. A page already known under another id
//!   takes the server's id.
//! - Fields this code does not know, on records and on visits, are kept
//!   and sent back.
//!
//! Incoming records are merged as each downloaded page arrives, 100
//! records per transaction, instead of being staged: the merge is idempotent
//! (a set of visits, newest title), so a sync stopped mid-download leaves
//! whole pages merged and the next sync merges the rest — and a first sync
//! of 100,000 pages never holds more than one page in memory.
//!
//! **It never depends on another engine crate.**

mod engine;
pub mod frecency;
mod page_stats;
mod record;
mod schema;
mod store;
mod types;

pub use engine::COLLECTION;
pub use record::{HISTORY_TTL_SECS, HistoryRecord, HistoryRecordVisit, MAX_VISITS_PER_RECORD};
pub use store::{HistoryConfig, HistoryStore, MAX_URL_LEN, is_syncable_url, normalize_url};
pub use types::{PageInfo, QueryMatch, VisitInfo, VisitTransition};

/// What can go wrong in the history store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// The URL is not one.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The visit cannot be stored.
    #[error("invalid visit: {0}")]
    InvalidVisit(String),
    /// No page has this URL.
    #[error("no page for {0}")]
    NotFound(String),
    /// The local store failed.
    #[error("history store: {0}")]
    Store(#[from] sync_sql::SqlError),
    /// SQLite failed.
    #[error("history store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored record does not parse.
    #[error("history record: {0}")]
    Json(#[from] serde_json::Error),
    /// A record could not be built for upload.
    #[error("history record: {0}")]
    Record(#[from] sync15::Error),
}
