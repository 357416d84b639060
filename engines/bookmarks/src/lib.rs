//! # sync-bookmarks
//!
//! The bookmark tree and its sync, compatible with Firefox's `bookmarks`
//! collection (engine version 2). Being built in stages (issue 7); in place:
//!
//! - [`tree`]: bookmark trees as the merger sees them, and the rules that
//!   turn a remote tree that disagrees with itself into a consistent one,
//!   counting every repair.
//! - [`merge`]: the pure merger of a local and a remote tree, with the
//!   operations it leaves and a field-by-field merge for items both sides
//!   changed.
//!
//! It must never depend on another engine crate, and its merger must never
//! do I/O: it takes two trees and returns decisions.

pub mod merge;
pub mod tree;

#[cfg(test)]
mod merge_tests;
#[cfg(test)]
mod tree_tests;

pub use merge::{MergeStats, Merged, MergedNode, MergedTree, Ops, Side, ValueState, merge};
pub use tree::{
    Content, Item, ItemRef, Kind, MENU_GUID, MOBILE_GUID, Node, Problems, ROOT_GUID, TAGS_GUID, TOOLBAR_GUID,
    Tree, TreeBuilder, UNFILED_GUID, USER_CONTENT_ROOTS, Validity,
};
