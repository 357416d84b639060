//! # sync-bookmarks: the bookmark tree, with or without Firefox Sync
//!
//! [`BookmarkStore`] keeps the bookmark tree in a SQLite file: the Places
//! root with its four user roots (menu, toolbar, unfiled, mobile) holding
//! bookmarks, folders, separators and `place:` queries, in order. Tags
//! belong to URLs (as in Firefox); bookmarks have keywords. The app inserts,
//! updates, moves and deletes (whole subtrees), reads a subtree, searches by
//! title or URL and lists by tag, and imports whole subtrees at once
//! ([`BookmarkStore::insert_tree`]); every change is checked (no cycles, roots
//! stay put, URLs parse) with a typed [`BookmarksError`], and bumps the
//! item's change counter for sync.
//!
//! It is also the `bookmarks` [`SyncEngine`](sync15::SyncEngine) (engine
//! version 2), in Firefox's record format ([`record`]): downloaded records
//! are staged, then the whole tree is merged at once by [`merge`] — a pure
//! function of two [`tree::Tree`]s — and the result applied in one
//! transaction before upload.
//!
//! - [`tree`]: bookmark trees as the merger sees them, and the rules that
//!   turn a remote tree that disagrees with itself into a consistent one,
//!   counting every repair.
//! - [`merge`]: the merger, the operations it leaves, and a field-by-field
//!   merge for items both sides changed.
//!
//! It must never depend on another engine crate, and its merger must never
//! do I/O: it takes two trees and returns decisions.

mod apply;
mod engine;
mod insert_tree;
pub mod merge;
pub mod record;
mod schema;
mod store;
pub mod tree;
mod types;

#[cfg(test)]
mod merge_tests;
#[cfg(test)]
mod tree_tests;

pub use engine::COLLECTION;
pub use insert_tree::NewTree;
pub use merge::{MergeStats, Merged, MergedNode, MergedTree, Ops, Side, ValueState, merge};
pub use store::BookmarkStore;
pub use tree::{
    Content, Item, ItemRef, Kind, MENU_GUID, MOBILE_GUID, Node, Problems, ROOT_GUID, TAGS_GUID, TOOLBAR_GUID,
    Tree, TreeBuilder, UNFILED_GUID, USER_CONTENT_ROOTS, Validity,
};
pub use types::{BookmarkItem, BookmarkKind, BookmarkNode, ItemUpdate, MAX_URL_LEN, NewItem, validate_url};

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
