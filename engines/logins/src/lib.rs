//! # sync-logins
//!
//! **Not built yet** (issue 5). A password store usable with or without sync:
//! CRUD, validation, dedupe, secret fields encrypted at rest, and a mirror-based
//! three-way merge with the Firefox `passwords` collection.
//!
//! It must never depend on another engine crate.
