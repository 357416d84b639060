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
mod error;
mod insert_tree;
pub mod merge;
pub mod record;
mod schema;
mod store;
mod sync;
pub mod tree;
mod types;

#[cfg(test)]
mod merge_tests;
#[cfg(test)]
mod tree_tests;

pub use error::BookmarksError;
pub use insert_tree::NewTree;
pub use merge::{MergeStats, Merged, MergedNode, MergedTree, Ops, Side, ValueState, merge};
pub use store::{BookmarkStore, MAX_URL_LEN, validate_url};
pub use sync::COLLECTION;
pub use tree::{
    Content, Item, ItemRef, Kind, MENU_GUID, MOBILE_GUID, Node, Problems, ROOT_GUID, TAGS_GUID, TOOLBAR_GUID,
    Tree, TreeBuilder, UNFILED_GUID, USER_CONTENT_ROOTS, Validity,
};
pub use types::{BookmarkItem, BookmarkKind, BookmarkNode, ItemUpdate, NewItem};
