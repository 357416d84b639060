//! # sync-sql
//!
//! **Not built yet** (issue 3). Opening SQLite databases with the right pragmas
//! (WAL, foreign keys, busy timeout), versioned migrations by `user_version`,
//! transactions and interrupt handles, shared by every engine and the server.
//!
//! It must never know a schema: the schemas belong to the crates that use it.
