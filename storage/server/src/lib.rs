//! # sync-storage: a Firefox Sync token server and SyncStorage 1.5 server
//!
//! One process, one SQLite file, no other service: point Firefox (or any
//! client of this workspace) at it and sync.
//!
//! - [`config`]: the TOML file and `SYNC_STORAGE_*` variables.
//! - [`db`]: the SQLite store — one writer, a pool of readers, every write
//!   request one transaction.
//! - [`auth`]: bearer-token checks at the token server (FxA JWTs and
//!   `/v1/verify`, or dev tokens), Hawk at storage, and the storage tokens in
//!   Mozilla's `tokenlib` format that link the two — so our token server can
//!   front Mozilla's storage nodes and Mozilla's token server ours.
//! - `api`: the HTTP routes (axum): `GET /1.0/sync/1.5`, `/1.5/{uid}/…`, and
//!   the Dockerflow `__heartbeat__`, `__lbheartbeat__`, `__version__`.
//! - [`metrics`]: Prometheus figures on a listener of their own.
//! - [`Server`]: binds, serves, and shuts down gracefully.
//! - `accounts`: with `[accounts]` enabled, the self-hosted Firefox
//!   Accounts service ([`sync_accounts`]) in the same process, whose access
//!   tokens the token server then trusts.
//!
//! **It never knows an engine or a key.** It stores the BSOs clients send,
//! validates only their envelope, and cannot read a payload.

pub mod auth;
pub mod config;
pub mod db;
pub mod listen;
pub mod metrics;

mod accounts;
mod api;
mod error;
mod server;

pub use accounts::open_for_admin as open_accounts;
pub use error::ServerError;
pub use server::{RunningServer, Server};
