//! # sync-manager
//!
//! **Not built yet** (issue 4). This crate will own the global state of a sync
//! account: `meta/global` (syncIDs, storage version, declined engines),
//! `crypto/keys`, `info/collections`, the token lifecycle and node reassignment,
//! the clients collection, persisted state and the per-sync result. Engines are
//! registered at run time as `sync15::SyncEngine` handles; apart from
//! `sync-clients`, which it owns, it never names an engine at compile time.
//!
//! It must never store engine data.
