//! # sync-bookmarks
//!
//! **Not built yet** (issue 7). The bookmark tree, tags and keywords, and a
//! tree merger that validates and repairs the Firefox `bookmarks` collection.
//!
//! It must never depend on another engine crate.
