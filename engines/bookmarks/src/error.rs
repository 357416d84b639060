//! What can go wrong.

use sync15::Guid;

/// What can go wrong in the bookmark store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BookmarksError {
    /// No item has this id.
    #[error("no bookmark item {0}")]
    NotFound(Guid),
    /// Roots cannot be moved, changed or deleted, and nothing goes directly
    /// under the Places root.
    #[error("{0} is a root: {1}")]
    Root(Guid, &'static str),
    /// The parent given is not a folder.
    #[error("{0} is not a folder")]
    NotAFolder(Guid),
    /// The move would put a folder inside itself.
    #[error("moving {item} into {parent} would put a folder inside itself")]
    Cycle {
        /// The folder being moved.
        item: Guid,
        /// Where it was to go.
        parent: Guid,
    },
    /// A bookmark's URL is not one (or a query's is not `place:`).
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The change does not apply to this kind of item (e.g. a URL for a
    /// folder), or a value is out of range.
    #[error("invalid change: {0}")]
    InvalidChange(String),
    /// The local store failed.
    #[error("bookmark store: {0}")]
    Store(#[from] sync_sql::SqlError),
    /// SQLite failed.
    #[error("bookmark store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored or incoming record does not parse.
    #[error("bookmark record: {0}")]
    Json(#[from] serde_json::Error),
    /// A record could not be built for upload.
    #[error("bookmark record: {0}")]
    Record(#[from] sync15::Error),
}
