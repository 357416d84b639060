//! # sync-manager: one `sync` call for an app
//!
//! The manager owns what is global to a Firefox Sync account — the token,
//! `meta/global` (storage version, sync IDs, declined engines),
//! `crypto/keys`, `info/collections` — and runs each registered engine
//! through [`sync15::SyncDriver`]:
//!
//! 1. token (cached while valid), then `info/collections`; a 401 means the
//!    account moved node: one fresh token and one restart;
//! 2. `meta/global` and `crypto/keys`, read only when `info/collections`
//!    says they changed (so an unchanged account costs one request); a
//!    fresh server is initialised, a too-new storage version stops the sync,
//!    changed sync IDs reset engines, undecryptable keys are replaced;
//! 3. the `clients` engine first, then every other registered engine that
//!    is selected and not declined.
//!
//! Engines are registered at run time by name; engines this app does not
//! have keep their `meta/global` entries untouched. The result reports each
//! engine's outcome, the declined list, backoff, a telemetry summary and the
//! state blob to pass to the next sync.
//!
//! **It never stores engine data**, and engines only ever see their own
//! collection's key bundle and `info/collections` entry.

mod global;
mod manager;
mod state;
mod types;

pub use manager::{CLIENTS_ENGINE, SyncManager};
pub use state::PersistedState;
pub use types::{
    EngineResult, EngineSelection, EngineStatus, ServiceStatus, SkipReason, SyncAuth, SyncParams, SyncReason,
    SyncResult,
};
/// The protocol layer and the clients engine, re-exported so an app can
/// depend on the manager and its engines alone.
pub use {sync_clients, sync15};
