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
//! - [`TestServer::with_accounts`]: the server with its own Firefox
//!   Accounts service (`sync-accounts`, the product) in process, mail
//!   caught in a [`mail::Outbox`]: what the scenarios, the demo, the
//!   real-Firefox scenarios and the CLI tests sign in against.
//! - [`smtp_sink::SmtpSink`]: an SMTP server on loopback keeping every
//!   message, for the accounts service's real mail path.
//! - [`fxa::StandInFxa`] and [`accounts::StandInAccounts`]: stand-ins kept
//!   only for fault injection in `fxa-client`'s own tests — tampered key
//!   bundles, forced throttling, V1-only accounts, queued garbage commands —
//!   that the real service never produces.
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
mod self_hosted;
mod server;
pub mod smtp_sink;
mod toy;

pub use device::Device;
pub use device_commands::CommandInbox;
pub use hooked::{HookPoint, HookedEngine};
pub use server::{RawServer, TestAccount, TestServer};
pub use toy::ToyEngine;
