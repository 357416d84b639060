//! # test-support: the harness every engine's tests and scenarios use
//!
//! - [`TestServer`]: the real `sync-storage` server, in process, on an
//!   ephemeral 127.0.0.1 port with a temporary SQLite file.
//! - [`TestAccount`]: an account minted on it (dev-mode OAuth token + kB).
//! - [`Device`]: a simulated device — its own client state and engines,
//!   syncing through the real [`sync_manager::SyncManager`].
//! - [`RawServer`]: read and tamper with what the server stores, over real
//!   HTTP, to test corruption and recovery.
//! - [`ToyEngine`]: a tiny in-memory engine for manager tests.
//! - [`fxa::StandInFxa`]: a stand-in for Firefox Accounts' OAuth server
//!   (`/v1/verify`, `/v1/jwks`, JWT signing keys), for the token server's
//!   FxA mode; [`accounts::StandInAccounts`], a stand-in for the whole
//!   accounts service (sign-in, keys, OAuth, devices) with the real
//!   cryptography, so `fxa-client` signs in end to end over loopback.
//!
//! - [`TestServer::with_accounts`]: the server with its own Firefox
//!   Accounts service (`sync-accounts`) in process, mail caught in a
//!   [`mail::Outbox`].
//!
//! **It is never a dependency of non-test code.**

pub mod accounts;
mod background;
pub mod bookmark_workload;
mod device;
mod device_commands;
pub mod firefox;
pub mod fxa;
mod hooked;
pub mod mail;
pub mod marionette;
pub mod scenarios;
mod server;
mod toy;

pub use device::Device;
pub use device_commands::CommandInbox;
pub use hooked::{HookPoint, HookedEngine};
pub use server::{RawServer, TestAccount, TestServer};
pub use toy::ToyEngine;
