//! What an app passes to [`SyncManager::sync`](crate::SyncManager::sync) and
//! what it gets back.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sync15::{SyncRootKey, Token};

/// Why the app is syncing. Scheduled syncs respect the server's backoff;
/// a sync the user asked for does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncReason {
    /// A timer fired.
    Scheduled,
    /// The user pressed "sync now".
    User,
    /// The app started.
    Startup,
    /// The user enabled or disabled an engine.
    EnabledChange,
    /// The app is going to the background.
    Backgrounded,
}

/// Which engines to sync.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EngineSelection {
    /// Every registered engine.
    #[default]
    All,
    /// Only these (by name); `clients` always syncs.
    Some(Vec<String>),
}

impl EngineSelection {
    pub(crate) fn includes(&self, name: &str) -> bool {
        match self {
            EngineSelection::All => true,
            EngineSelection::Some(names) => name == crate::CLIENTS_ENGINE || names.iter().any(|n| n == name),
        }
    }
}

/// How to reach the user's storage.
#[derive(Clone)]
pub enum SyncAuth {
    /// Firefox Accounts: an OAuth access token for the token server, and kB.
    OAuth {
        /// The token server's URL (base, or the full `…/1.0/sync/1.5`).
        token_server_url: String,
        /// The OAuth access token with the oldsync scope.
        access_token: String,
        /// kB and when it last changed.
        root_key: SyncRootKey,
    },
    /// A storage token obtained elsewhere (tests, or an app that runs the
    /// token exchange itself), and kB.
    Token {
        /// The storage token.
        token: Token,
        /// kB and when it last changed.
        root_key: SyncRootKey,
    },
}

impl std::fmt::Debug for SyncAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyncAuth::OAuth { token_server_url, .. } => f
                .debug_struct("OAuth")
                .field("token_server_url", token_server_url)
                .finish_non_exhaustive(),
            SyncAuth::Token { token, .. } => f
                .debug_struct("Token")
                .field("uid", &token.uid)
                .finish_non_exhaustive(),
        }
    }
}

impl SyncAuth {
    pub(crate) fn root_key(&self) -> &SyncRootKey {
        match self {
            SyncAuth::OAuth { root_key, .. } | SyncAuth::Token { root_key, .. } => root_key,
        }
    }
}

/// Everything one sync needs.
#[derive(Clone)]
pub struct SyncParams {
    /// Why.
    pub reason: SyncReason,
    /// Which engines.
    pub engines: EngineSelection,
    /// Engines the user just enabled (`true`) or disabled (`false`) on this
    /// device; they become the account's declined list.
    pub enabled_changes: BTreeMap<String, bool>,
    /// How to reach storage.
    pub auth: SyncAuth,
    /// The [`SyncResult::persisted_state`] of the last sync, if any.
    pub persisted_state: Option<String>,
    /// Hears each engine's progress (records down and up), for a display.
    pub progress: Option<std::sync::Arc<dyn sync15::SyncProgress>>,
    /// Where this device's Firefox Accounts device commands (Send Tab,
    /// Close Tabs) are read, when it has an account; read at the start of
    /// every sync, so closed tabs are gone from the tabs this sync uploads.
    pub device_commands: Option<std::sync::Arc<dyn sync15::DeviceCommandSource>>,
}

impl std::fmt::Debug for SyncParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncParams")
            .field("reason", &self.reason)
            .field("engines", &self.engines)
            .field("enabled_changes", &self.enabled_changes)
            .field("auth", &self.auth)
            .field("progress", &self.progress.is_some())
            .field("device_commands", &self.device_commands.is_some())
            .finish_non_exhaustive()
    }
}

impl SyncParams {
    /// A sync of every engine, with no local changes.
    pub fn new(reason: SyncReason, auth: SyncAuth, persisted_state: Option<String>) -> Self {
        SyncParams {
            reason,
            engines: EngineSelection::All,
            enabled_changes: BTreeMap::new(),
            auth,
            persisted_state,
            progress: None,
            device_commands: None,
        }
    }
}

/// How the sync as a whole went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceStatus {
    /// It ran (individual engines may still have failed; see their results).
    Ok,
    /// The network failed.
    NetworkError,
    /// The server failed or is unavailable.
    ServiceError,
    /// The credentials were refused: the user must sign in again.
    AuthError,
    /// The server asked us to wait; nothing was sent.
    BackedOff,
    /// Stopped on request.
    Interrupted,
    /// Another sync was running; this one did nothing.
    AlreadySyncing,
    /// The account's data is in a format this code does not understand.
    StorageVersionTooNew,
    /// Anything else.
    OtherError,
}

/// Why an engine did not sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum SkipReason {
    /// The user declined it (on this device or another).
    Declined,
    /// Not in [`SyncParams::engines`].
    NotSelected,
    /// The account holds its data in a newer format.
    VersionTooNew {
        /// The version on the server.
        server: u64,
        /// The version this engine speaks.
        ours: u64,
    },
}

/// One engine's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum EngineStatus {
    /// Synced.
    Ok,
    /// Did not sync, on purpose.
    Skipped(SkipReason),
    /// Failed; the next sync retries.
    Failed {
        /// Why.
        error: String,
    },
}

/// What one engine did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineResult {
    /// How it went.
    #[serde(flatten)]
    pub status: EngineStatus,
    /// Records downloaded.
    pub downloaded: usize,
    /// Records applied locally.
    pub applied: usize,
    /// Incoming records that failed (bad HMAC, invalid, …).
    pub incoming_failed: usize,
    /// Records uploaded.
    pub uploaded: usize,
    /// Outgoing records the server refused.
    pub outgoing_failed: usize,
    /// HTTP requests this engine's sync made.
    pub requests: u64,
}

impl EngineResult {
    pub(crate) fn with_status(status: EngineStatus) -> Self {
        EngineResult {
            status,
            downloaded: 0,
            applied: 0,
            incoming_failed: 0,
            uploaded: 0,
            outgoing_failed: 0,
            requests: 0,
        }
    }
}

/// What a sync did; serialisable as a telemetry ping.
#[derive(Debug, Clone, Serialize)]
pub struct SyncResult {
    /// How the sync as a whole went.
    pub status: ServiceStatus,
    /// The error behind a non-`Ok` status.
    pub error: Option<String>,
    /// Per engine, in the order they ran.
    pub engines: BTreeMap<String, EngineResult>,
    /// The account's declined engines as now known (None if never learned).
    pub declined: Option<Vec<String>>,
    /// Do not sync again (except when the user asks) before this time.
    #[serde(serialize_with = "serialize_time")]
    pub next_sync_allowed_at: Option<SystemTime>,
    /// Pass this to the next sync.
    #[serde(skip)]
    pub persisted_state: String,
    /// Every HTTP request this sync made (token server and storage).
    pub requests: u64,
    /// How long the sync took, in milliseconds.
    pub took_ms: u64,
    /// Why it ran.
    pub reason: SyncReason,
    /// The device commands other devices sent this one, read at the start
    /// of this sync: the app opens the tabs sent (and closes the tabs
    /// closed: the tabs engine already dropped them from its own).
    pub device_commands: Vec<sync15::DeviceCommand>,
    /// Why reading them failed, if it did (the sync went on without them;
    /// they are read next time).
    pub device_commands_error: Option<String>,
}

impl SyncResult {
    /// The result as a JSON telemetry document.
    pub fn telemetry_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn serialize_time<S: serde::Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t.and_then(|t| t.duration_since(UNIX_EPOCH).ok()) {
        Some(d) => s.serialize_some(&(d.as_millis() as u64)),
        None => s.serialize_none(),
    }
}
