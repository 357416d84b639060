//! [`Device`]: one simulated device signed in to an account.

use std::collections::BTreeMap;
use std::sync::Arc;

use sync_bookmarks::BookmarkStore;
use sync_clients::{ClientsStore, LocalDevice};
use sync_history::HistoryStore;
use sync_logins::{LoginStore, LoginsKey};
use sync_manager::{EngineSelection, SyncManager, SyncParams, SyncReason, SyncResult};
use sync_tabs::TabsStore;
use sync15::SyncEngine;

use crate::server::TestAccount;

/// A device: its own profile directory with every engine's store, its own
/// client id, a manager with those engines registered, and persisted sync
/// state.
pub struct Device {
    /// A name for logs and assertions (also its device name).
    pub name: String,
    /// The device's clients engine.
    pub clients: Arc<ClientsStore>,
    /// Its tabs engine (`tabs.db`).
    pub tabs: Arc<TabsStore>,
    /// Its password store (`logins.db`, sealed with its own key).
    pub logins: Arc<LoginStore>,
    /// Its history (`history.db`).
    pub history: Arc<HistoryStore>,
    /// Its bookmarks (`bookmarks.db`).
    pub bookmarks: Arc<BookmarkStore>,
    profile: tempfile::TempDir,
    account: TestAccount,
    manager: SyncManager,
    persisted: Option<String>,
    changes: BTreeMap<String, bool>,
    progress: Option<Arc<dyn sync15::SyncProgress>>,
    device_commands: Option<Arc<dyn sync15::DeviceCommandSource>>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Device {
    /// A device signed in to `account`, with no engines yet.
    ///
    /// # Panics
    /// If no HTTP client can be built.
    #[allow(clippy::expect_used)]
    pub fn new(name: &str, account: &TestAccount) -> Self {
        Self::with_page_size(name, account, sync15::DEFAULT_DOWNLOAD_PAGE_SIZE)
    }

    /// A device whose downloads come in pages of `page_size` records.
    ///
    /// # Panics
    /// If no HTTP client or profile directory can be made.
    #[allow(clippy::expect_used)]
    pub fn with_page_size(name: &str, account: &TestAccount, page_size: usize) -> Self {
        Self::build(name, account, page_size, None)
    }

    /// A device that is also a device of the account at Firefox Accounts,
    /// under `fxa_device_id` (its clients record says so, as Firefox's
    /// does, which is how Firefox matches its tabs to the device list).
    pub fn with_fxa_device_id(name: &str, account: &TestAccount, fxa_device_id: &str) -> Self {
        Self::build(
            name,
            account,
            sync15::DEFAULT_DOWNLOAD_PAGE_SIZE,
            Some(fxa_device_id.to_owned()),
        )
    }

    #[allow(clippy::expect_used)]
    fn build(name: &str, account: &TestAccount, page_size: usize, fxa_device_id: Option<String>) -> Self {
        let profile = tempfile::tempdir().expect("a profile directory");
        let local = LocalDevice {
            name: name.to_owned(),
            device_type: "desktop".into(),
            os: Some("Linux".into()),
            application: Some("test-support".into()),
            version: Some(env!("CARGO_PKG_VERSION").into()),
            fxa_device_id,
        };
        let clients =
            Arc::new(ClientsStore::open(profile.path().join("clients.db"), &local).expect("a clients store"));
        let tabs = Arc::new(TabsStore::open(profile.path().join("tabs.db")).expect("a tabs store"));
        let logins_key = LoginsKey::generate().expect("a logins key");
        let logins = Arc::new(
            LoginStore::open(profile.path().join("logins.db"), &logins_key).expect("a logins store"),
        );
        let history =
            Arc::new(HistoryStore::open(profile.path().join("history.db")).expect("a history store"));
        let bookmarks =
            Arc::new(BookmarkStore::open(profile.path().join("bookmarks.db")).expect("a bookmark store"));
        let manager = SyncManager::new()
            .expect("an HTTP client")
            .with_page_size(page_size);
        manager.set_clients_engine(clients.clone());
        manager.register_engine(tabs.clone());
        manager.register_engine(logins.clone());
        manager.register_engine(history.clone());
        manager.register_engine(bookmarks.clone());
        Device {
            name: name.to_owned(),
            clients,
            tabs,
            logins,
            history,
            bookmarks,
            profile,
            account: account.clone(),
            manager,
            persisted: None,
            changes: BTreeMap::new(),
            progress: None,
            device_commands: None,
        }
    }

    /// Reopens this device's history store with other upload limits.
    ///
    /// # Panics
    /// If the store cannot be opened.
    #[allow(clippy::expect_used)]
    pub fn with_history_config(mut self, config: sync_history::HistoryConfig) -> Self {
        let history = Arc::new(
            HistoryStore::open_with_config(self.profile.path().join("history.db"), config)
                .expect("a history store"),
        );
        self.manager.unregister_engine("history");
        self.manager.register_engine(history.clone());
        self.history = history;
        self
    }

    /// The device's profile directory, where engines keep their stores.
    pub fn profile_dir(&self) -> &std::path::Path {
        self.profile.path()
    }

    /// Registers an engine with this device's manager.
    pub fn with_engine(self, engine: Arc<dyn SyncEngine>) -> Self {
        self.manager.register_engine(engine);
        self
    }

    /// The manager (for interrupt handles, declined lists, …).
    pub fn manager(&self) -> &SyncManager {
        &self.manager
    }

    /// Enables or disables an engine on this device from the next sync on.
    pub fn set_enabled(&mut self, engine: &str, enabled: bool) {
        self.changes.insert(engine.to_owned(), enabled);
    }

    /// Reports the progress of every sync to `progress`.
    pub fn report_progress_to(&mut self, progress: Arc<dyn sync15::SyncProgress>) {
        self.progress = Some(progress);
    }

    /// Reads this device's Firefox Accounts device commands from `source`
    /// at the start of every sync.
    pub fn read_device_commands_from(&mut self, source: Arc<dyn sync15::DeviceCommandSource>) {
        self.device_commands = Some(source);
    }

    /// Syncs everything, keeping the persisted state for next time.
    pub fn sync(&mut self) -> SyncResult {
        self.sync_with(SyncReason::User, EngineSelection::All)
    }

    /// Syncs with a reason and selection.
    pub fn sync_with(&mut self, reason: SyncReason, engines: EngineSelection) -> SyncResult {
        let params = SyncParams {
            reason,
            engines,
            enabled_changes: std::mem::take(&mut self.changes),
            auth: self.account.auth(),
            persisted_state: self.persisted.clone(),
            progress: self.progress.clone(),
            device_commands: self.device_commands.clone(),
        };
        let result = self.manager.sync(params);
        self.persisted = Some(result.persisted_state.clone());
        result
    }

    /// Signs this device in again (after a password reset ended its
    /// session): the same stores and sync state, new credentials and keys.
    pub fn sign_in_again(&mut self, account: &TestAccount) {
        self.account = account.clone();
    }

    /// Forgets all persisted sync state (as after reinstalling the app).
    pub fn forget_state(&mut self) {
        self.persisted = None;
    }
}
