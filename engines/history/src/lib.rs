//! # sync-history
//!
//! **Not built yet** (issue 6). Pages and visits, frecency, and the merge of the
//! Firefox `history` collection.
//!
//! It must never depend on another engine crate.
