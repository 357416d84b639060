//! # sync-storage
//!
//! **Not built yet** (issue 3). The token server and the SyncStorage API 1.5
//! storage server, with an embedded SQLite store by default.
//!
//! It must never know an engine or a key: it stores only what clients send.
