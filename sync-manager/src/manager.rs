//! [`SyncManager`]: registered engines, one `sync` call, the state machine.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use sync15::{
    ClientData, CollSyncIds, DeviceInfo, EngineSyncAssociation, Error, Guid, HttpClient, InterruptHandle,
    InterruptScope, Interruptee, Precondition, StorageClient, SyncDriver, SyncEngine, TokenClient,
};

use sync_clients::{ClientsStore, Command};

use crate::global::{self, EngineInfo, GlobalState};
use crate::state::PersistedState;
use crate::types::{
    EngineResult, EngineStatus, ServiceStatus, SkipReason, SyncAuth, SyncParams, SyncReason, SyncResult,
};

/// The name of the engine that always syncs first.
pub const CLIENTS_ENGINE: &str = "clients";

/// Owns an account's global sync state and drives every registered engine.
/// See the crate docs.
pub struct SyncManager {
    engines: Mutex<BTreeMap<String, Arc<dyn SyncEngine>>>,
    clients: Mutex<Option<Arc<ClientsStore>>>,
    http: HttpClient,
    interrupt: InterruptHandle,
    declined: Mutex<Option<Vec<String>>>,
    pending_changes: Mutex<BTreeMap<String, bool>>,
    page_size: usize,
    /// The storage token, in memory only: it grants access to the
    /// account's data, so it is never part of the persisted state. Keyed
    /// by the token server and the key id it was fetched for.
    token: Mutex<Option<(String, sync15::Token)>>,
    /// Held for the length of a sync: a second one is refused at once.
    syncing: Mutex<()>,
    /// The running sync's interrupt scope (taken when `sync` was called).
    scope: Mutex<Option<InterruptScope>>,
}

impl std::fmt::Debug for SyncManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncManager")
            .field("engines", &self.engines.lock().keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl SyncManager {
    /// A manager with its own HTTP client.
    pub fn new() -> Result<Self, Error> {
        Ok(Self::with_http(HttpClient::new()?))
    }

    /// A manager using `http` (whose request count and backoff it reports).
    pub fn with_http(http: HttpClient) -> Self {
        SyncManager {
            engines: Mutex::new(BTreeMap::new()),
            clients: Mutex::new(None),
            http,
            interrupt: InterruptHandle::new(),
            declined: Mutex::new(None),
            pending_changes: Mutex::new(BTreeMap::new()),
            page_size: sync15::DEFAULT_DOWNLOAD_PAGE_SIZE,
            token: Mutex::new(None),
            syncing: Mutex::new(()),
            scope: Mutex::new(None),
        }
    }

    /// Records per download page (tests use small pages to exercise paging).
    pub fn with_page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size.max(1);
        self
    }

    /// Adds (or replaces) an engine, by its name.
    pub fn register_engine(&self, engine: Arc<dyn SyncEngine>) {
        self.engines.lock().insert(engine.name().to_owned(), engine);
    }

    /// Sets this device's clients engine: it syncs first in every sync, and
    /// the engine commands other devices send (`wipeEngine`, `resetEngine`,
    /// `resetAll`) are run on the registered engines right after it.
    pub fn set_clients_engine(&self, clients: Arc<ClientsStore>) {
        self.register_engine(clients.clone());
        *self.clients.lock() = Some(clients);
    }

    /// Removes an engine; its `meta/global` entry stays on the server.
    pub fn unregister_engine(&self, name: &str) {
        self.engines.lock().remove(name);
    }

    /// The registered engines' names.
    pub fn engine_names(&self) -> Vec<String> {
        self.engines.lock().keys().cloned().collect()
    }

    /// The account's declined engines as of the last sync; `None` before
    /// the first one. Local changes not yet synced are applied.
    pub fn get_declined(&self) -> Option<Vec<String>> {
        let declined = self.declined.lock().clone()?;
        let mut set: std::collections::BTreeSet<String> = declined.into_iter().collect();
        for (engine, enabled) in self.pending_changes.lock().iter() {
            if *enabled {
                set.remove(engine);
            } else {
                set.insert(engine.clone());
            }
        }
        Some(set.into_iter().collect())
    }

    /// Enables or disables an engine for the whole account from the next sync on.
    pub fn set_engine_enabled(&self, name: &str, enabled: bool) {
        self.pending_changes.lock().insert(name.to_owned(), enabled);
    }

    /// A handle that stops a running sync at its next safe point.
    pub fn interrupt_handle(&self) -> InterruptHandle {
        self.interrupt.clone()
    }

    /// Stops a running sync at its next safe point.
    pub fn stop(&self) {
        self.interrupt.interrupt();
    }

    /// Syncs. Never panics and never returns an error: everything that
    /// happened is in the [`SyncResult`].
    ///
    /// One sync runs at a time: a call while another runs returns at once
    /// with [`ServiceStatus::AlreadySyncing`] (and its persisted state
    /// unchanged). A [`SyncManager::stop`] sent once this was called stops
    /// it, even if it came before the sync got going; one sent before does
    /// not.
    pub fn sync(&self, params: SyncParams) -> SyncResult {
        // First of all: from here on, a stop is for this sync.
        let scope = self.interrupt.scope();
        let started = Instant::now();
        let Some(_running) = self.syncing.try_lock() else {
            return SyncResult {
                status: ServiceStatus::AlreadySyncing,
                error: Some("a sync is already running".into()),
                engines: BTreeMap::new(),
                declined: self.get_declined(),
                next_sync_allowed_at: self.http.next_sync_allowed_at(),
                persisted_state: params.persisted_state.clone().unwrap_or_default(),
                requests: 0,
                took_ms: 0,
                reason: params.reason,
                device_commands: Vec::new(),
                device_commands_error: None,
            };
        };
        *self.scope.lock() = Some(scope);
        let requests_before = self.http.request_count();
        let root_key = params.auth.root_key().clone();
        let mut state = PersistedState::load(params.persisted_state.as_deref(), &root_key.key_id());
        let mut changes = self.pending_changes.lock().clone();
        changes.extend(params.enabled_changes.clone());
        let mut engines = BTreeMap::new();
        let (device_commands, device_commands_error) = self.receive_device_commands(&params);

        let now_ms = now_ms();
        let backed_off = state.next_sync_allowed_at_ms.filter(|at| *at > now_ms);
        let outcome = if backed_off.is_some() && params.reason != SyncReason::User {
            Err(Error::ServerUnavailable {
                server: sync15::ServerKind::Storage,
                status: 503,
                retry_after: None,
                next_sync_allowed_at: backed_off.map(|ms| UNIX_EPOCH + Duration::from_millis(ms)),
            })
            .map_err(|e| (ServiceStatus::BackedOff, e))
        } else {
            self.run(&params, &mut state, &changes, &mut engines)
                .map_err(|e| (status_of(&e), e))
        };

        let (status, error) = match outcome {
            Ok(()) => {
                // The changes are in meta/global now.
                let mut pending = self.pending_changes.lock();
                for name in changes.keys() {
                    pending.remove(name);
                }
                (ServiceStatus::Ok, None)
            }
            Err((status, e)) => {
                log::warn!("sync failed: {e}");
                (status, Some(e.to_string()))
            }
        };
        let next_sync_allowed_at = self
            .http
            .next_sync_allowed_at()
            .or(backed_off.map(|ms| UNIX_EPOCH + Duration::from_millis(ms)));
        state.next_sync_allowed_at_ms = next_sync_allowed_at
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as u64);
        if state.declined.is_some() {
            *self.declined.lock() = state.declined.clone();
        }
        SyncResult {
            status,
            error,
            engines,
            declined: self.get_declined(),
            next_sync_allowed_at,
            persisted_state: state.to_json(),
            requests: self.http.request_count() - requests_before,
            took_ms: started.elapsed().as_millis() as u64,
            reason: params.reason,
            device_commands,
            device_commands_error,
        }
    }

    /// Reads the device commands sent to this device and offers each to
    /// every engine (the tabs engine closes tabs). A failure to read is
    /// reported, not fatal: the accounts server keeps them for next time.
    fn receive_device_commands(&self, params: &SyncParams) -> (Vec<sync15::DeviceCommand>, Option<String>) {
        let Some(source) = &params.device_commands else {
            return (Vec::new(), None);
        };
        let commands = match source.poll() {
            Ok(commands) => commands,
            Err(e) => {
                log::warn!("reading this device's commands: {e}");
                return (Vec::new(), Some(e.to_string()));
            }
        };
        let engines = self.ordered_engines();
        for command in &commands {
            for engine in &engines {
                if let Err(e) = engine.apply_device_command(command) {
                    log::warn!("{}: a device command failed: {e}", engine.name());
                }
            }
        }
        (commands, None)
    }

    /// One sync, restarted once if the node was reassigned (401) or
    /// another device changed `meta/global` under us (412).
    fn run(
        &self,
        params: &SyncParams,
        state: &mut PersistedState,
        changes: &BTreeMap<String, bool>,
        results: &mut BTreeMap<String, EngineResult>,
    ) -> Result<(), Error> {
        match self.sync_once(params, state, changes, results) {
            Err(Error::StorageUnauthorized) => {
                log::info!(
                    "storage refused our token (node reassignment?); fetching a new one and starting over"
                );
                state.forget_node();
                *self.token.lock() = None;
                results.clear();
                self.sync_once(params, state, changes, results)
            }
            Err(Error::PreconditionFailed) => {
                log::info!("meta/global changed while we updated it; starting over");
                state.meta_global = None;
                results.clear();
                self.sync_once(params, state, changes, results)
            }
            other => other,
        }
    }

    fn sync_once(
        &self,
        params: &SyncParams,
        state: &mut PersistedState,
        changes: &BTreeMap<String, bool>,
        results: &mut BTreeMap<String, EngineResult>,
    ) -> Result<(), Error> {
        let scope = self.current_scope();
        let client = self.storage_client(&params.auth, state)?;
        scope.err_if_interrupted()?;
        let mut info = client.info_collections(Precondition::None)?.value;
        let config = match &state.config {
            Some(config) => config.clone(),
            None => {
                let config = client.info_configuration()?;
                state.config = Some(config.clone());
                config
            }
        };
        let engines = self.ordered_engines();
        let infos: Vec<EngineInfo> = engines
            .iter()
            .map(|e| EngineInfo {
                name: e.name().to_owned(),
                version: e.version(),
            })
            .collect();
        let sync_key = params.auth.root_key().sync_key_bundle();
        let global = global::setup(&client, state, &info, &sync_key, &infos, changes)?;
        if global.wrote {
            info = client.info_collections(Precondition::None)?.value;
        }

        let mut client_data = None;
        for engine in &engines {
            scope.err_if_interrupted()?;
            let name = engine.name().to_owned();
            if name != CLIENTS_ENGINE && client_data.is_none() {
                client_data = self.client_data();
            }
            let driver = SyncDriver::new(&client, &config, &scope)
                .with_page_size(self.page_size)
                .with_client_data(client_data.as_ref())
                .with_progress(params.progress.as_deref());
            let result = match self.engine_plan(engine.as_ref(), params, &global) {
                Err(skip) => EngineResult::with_status(EngineStatus::Skipped(skip)),
                Ok(ids) => self.sync_engine(&driver, engine.as_ref(), &global, ids, &info)?,
            };
            if name == CLIENTS_ENGINE && result.status == EngineStatus::Ok {
                self.run_engine_commands(&engines);
            }
            results.insert(name, result);
        }
        Ok(())
    }

    /// This device's client id and the other devices, for engines that
    /// label records by device (tabs). `None` without a clients engine.
    /// The running sync's interrupt scope.
    fn current_scope(&self) -> InterruptScope {
        self.scope
            .lock()
            .clone()
            .unwrap_or_else(|| self.interrupt.scope())
    }

    fn client_data(&self) -> Option<ClientData> {
        let clients = self.clients.lock().clone()?;
        let read = || -> Result<ClientData, sync_clients::ClientsError> {
            Ok(ClientData {
                local_client_id: clients.client_id()?,
                local_device_name: clients.local_device()?.name,
                devices: clients
                    .devices()?
                    .into_iter()
                    .map(|d| DeviceInfo {
                        client_id: Guid::new(&d.id),
                        name: d.name,
                        device_type: d.device_type,
                    })
                    .collect(),
            })
        };
        match read() {
            Ok(data) => Some(data),
            Err(e) => {
                log::warn!("reading the device list: {e}");
                None
            }
        }
    }

    /// Runs the engine commands the clients engine received. A wiped or reset
    /// engine then downloads everything again later in this same sync.
    fn run_engine_commands(&self, engines: &[Arc<dyn SyncEngine>]) {
        let Some(clients) = self.clients.lock().clone() else {
            return;
        };
        let commands = match clients.take_engine_commands() {
            Ok(commands) => commands,
            Err(e) => {
                log::warn!("reading received commands: {e}");
                return;
            }
        };
        for command in commands {
            let targets: Vec<&Arc<dyn SyncEngine>> = match &command {
                Command::WipeEngine(name) | Command::ResetEngine(name) => {
                    engines.iter().filter(|e| e.name() == name).collect()
                }
                Command::ResetAll => engines.iter().filter(|e| e.name() != CLIENTS_ENGINE).collect(),
                Command::Logout | Command::DisplayUri { .. } => Vec::new(),
            };
            for engine in targets {
                log::info!("{}: running {command:?} from another device", engine.name());
                let outcome = engine.sync_association().and_then(|assoc| {
                    if matches!(command, Command::WipeEngine(_)) {
                        engine.wipe()?;
                    }
                    engine.reset(&assoc)
                });
                if let Err(e) = outcome {
                    log::warn!("{}: {command:?} failed: {e}", engine.name());
                }
            }
        }
    }

    /// Clients first, then the rest by name.
    fn ordered_engines(&self) -> Vec<Arc<dyn SyncEngine>> {
        let engines = self.engines.lock();
        let mut ordered: Vec<Arc<dyn SyncEngine>> =
            engines.get(CLIENTS_ENGINE).cloned().into_iter().collect();
        ordered.extend(
            engines
                .iter()
                .filter(|(name, _)| name.as_str() != CLIENTS_ENGINE)
                .map(|(_, e)| e.clone()),
        );
        ordered
    }

    /// Whether the engine syncs, and under which sync IDs.
    fn engine_plan(
        &self,
        engine: &dyn SyncEngine,
        params: &SyncParams,
        global: &GlobalState,
    ) -> Result<CollSyncIds, SkipReason> {
        let name = engine.name();
        if !params.engines.includes(name) {
            return Err(SkipReason::NotSelected);
        }
        if global.meta.is_declined(name) {
            return Err(SkipReason::Declined);
        }
        let entry = global.meta.engines.get(name).ok_or(SkipReason::Declined)?;
        if entry.version > engine.version() {
            return Err(SkipReason::VersionTooNew {
                server: entry.version,
                ours: engine.version(),
            });
        }
        Ok(CollSyncIds {
            global: global.meta.sync_id.clone(),
            coll: entry.sync_id.clone(),
        })
    }

    /// Syncs one engine. Errors that end the whole sync are returned; the
    /// engine's own failures become its result.
    fn sync_engine(
        &self,
        driver: &SyncDriver<'_>,
        engine: &dyn SyncEngine,
        global: &GlobalState,
        ids: CollSyncIds,
        info: &sync15::InfoCollections,
    ) -> Result<EngineResult, Error> {
        let wanted = EngineSyncAssociation::Connected(ids);
        let reset_needed = global.reset_all
            || match engine.sync_association() {
                Ok(current) => current != wanted,
                Err(e) => return Ok(failed(format!("reading its sync IDs: {e}"))),
            };
        if reset_needed {
            log::info!("{}: sync IDs changed; resetting", engine.name());
            if let Err(e) = engine.reset(&wanted) {
                return Ok(failed(format!("resetting: {e}")));
            }
        }
        let collection = engine.collection_name();
        let keys = global.keys.key_for_collection(collection);
        match driver.sync(engine, keys, info.get(collection)) {
            Ok(outcome) => Ok(EngineResult {
                status: EngineStatus::Ok,
                downloaded: outcome.downloaded,
                applied: outcome.applied.applied + outcome.applied.reconciled,
                incoming_failed: outcome.incoming_failed.len() + outcome.applied.failed,
                uploaded: outcome.uploaded,
                outgoing_failed: outcome.upload_failed.len(),
                requests: outcome.requests,
            }),
            Err(e) if ends_the_sync(&e) => Err(e),
            Err(e) => {
                log::warn!("{}: {e}", engine.name());
                Ok(failed(e.to_string()))
            }
        }
    }

    /// A storage client, from the cached token while it is valid.
    fn storage_client(&self, auth: &SyncAuth, state: &mut PersistedState) -> Result<StorageClient, Error> {
        let token = match auth {
            SyncAuth::Token { token, .. } => token.clone(),
            SyncAuth::OAuth {
                token_server_url,
                access_token,
                root_key,
            } => {
                let key = format!("{token_server_url} {}", root_key.key_id());
                let cached = self
                    .token
                    .lock()
                    .clone()
                    .filter(|(k, t)| *k == key && !t.is_expired())
                    .map(|(_, t)| t);
                match cached {
                    Some(token) => token,
                    None => {
                        let token = TokenClient::new(self.http.clone(), token_server_url)?
                            .fetch_token(access_token, &root_key.key_id())?;
                        if state
                            .node
                            .as_deref()
                            .is_some_and(|node| node != token.api_endpoint)
                        {
                            // Another node: nothing cached about the old one applies.
                            state.forget_node();
                        }
                        state.node = Some(token.api_endpoint.clone());
                        *self.token.lock() = Some((key, token.clone()));
                        token
                    }
                }
            }
        };
        StorageClient::new(self.http.clone(), &token)
    }
}

fn failed(error: String) -> EngineResult {
    EngineResult::with_status(EngineStatus::Failed { error })
}

/// Errors after which no other engine should be tried in this sync.
fn ends_the_sync(e: &Error) -> bool {
    matches!(
        e,
        Error::Interrupted(_)
            | Error::StorageUnauthorized
            | Error::ServerUnavailable { .. }
            | Error::Network(_)
            | Error::TokenRejected { .. }
    )
}

fn status_of(e: &Error) -> ServiceStatus {
    match e {
        Error::Interrupted(_) => ServiceStatus::Interrupted,
        Error::Network(_) => ServiceStatus::NetworkError,
        Error::TokenRejected { .. } | Error::StorageUnauthorized => ServiceStatus::AuthError,
        Error::ServerUnavailable { .. }
        | Error::UnexpectedStatus { .. }
        | Error::MalformedResponse { .. } => ServiceStatus::ServiceError,
        Error::StorageVersionTooNew { .. } => ServiceStatus::StorageVersionTooNew,
        _ => ServiceStatus::OtherError,
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
