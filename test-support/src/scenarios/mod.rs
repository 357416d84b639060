//! Multi-device scenarios in the style of Firefox's TPS: a scenario is a
//! series of phases, each on one device (add, modify, delete, verify, sync,
//! wipe or reset), run against the real server through the real manager.
//!
//! `cargo xtask scenarios` runs them all against an embedded server, each
//! account signed up with email and password at the server's own accounts
//! service (`fxa-client` → `sync-accounts`, in process); with
//! `--split`, against an in-process storage-only node behind an in-process
//! token-only server that shares its secret; with `--server URL
//! --token-secret S` against any `sync-storage` in dev mode; and with
//! `--storage-node URL --shared-secret S` against any storage node —
//! Mozilla's syncstorage-rs included — whose token server would share that
//! secret, with our token server (in process) in front of it. Scenarios
//! that act as the server's operator are skipped on all but the embedded
//! server. Every sync prints its request count.

mod bookmarks;
mod history;
mod large;
mod logins;
mod manager;
mod shapes;
mod tabs;

use std::collections::BTreeMap;
use std::sync::Arc;

use sync_manager::{ServiceStatus, SyncResult};
use sync_storage::config::{Config, Role};
use sync15::SyncRootKey;

use crate::{Device, TestAccount, TestServer, ToyEngine};

/// Where scenarios run.
pub enum ScenarioServer {
    /// A fresh in-process server per scenario.
    Embedded,
    /// A fresh in-process storage-only node per scenario, behind an
    /// in-process token-only server sharing its master secret.
    Split,
    /// An external server in dev mode.
    External {
        /// Its base URL.
        url: String,
        /// Its dev-mode token secret.
        token_secret: String,
    },
    /// An external storage node (ours in the `storage-only` role, or
    /// Mozilla's), fronted by an in-process token-only server configured
    /// with the node's master secret: see [`ScenarioServer::storage_node`].
    StorageNode {
        /// The token server, one for the whole run, so every scenario's
        /// account gets a uid of its own, as a real token server's would.
        tokens: Box<TestServer>,
    },
}

impl ScenarioServer {
    /// Scenarios against the storage node at `url` (token `api_endpoint`s
    /// are `<url>/1.5/<uid>`), which verifies tokens with `shared_secret`.
    pub fn storage_node(url: &str, shared_secret: &str) -> Self {
        let node = url.trim_end_matches('/').to_owned();
        ScenarioServer::StorageNode {
            tokens: Box::new(token_server_for(node, shared_secret.to_owned())),
        }
    }
}

/// An in-process token-only server assigning users to `node_url`, with
/// the node's `secret`.
fn token_server_for(node_url: String, secret: String) -> TestServer {
    TestServer::start_with(move |c| {
        c.role = Role::TokenOnly;
        c.master_secret.0 = vec![secret];
        c.nodes = vec![node_url];
    })
}

/// One scenario.
pub struct Scenario {
    /// What it shows.
    pub name: &'static str,
    /// It acts as the server's operator (node reassignment) or needs
    /// special limits: embedded server only.
    pub embedded_only: bool,
    /// Server settings it needs (embedded only).
    pub configure: fn(&mut Config),
    /// The phases.
    pub run: fn(&mut Ctx<'_>) -> Result<(), String>,
}

/// How a scenario ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every check held.
    Passed,
    /// A check failed.
    Failed(String),
    /// Not applicable to this server.
    Skipped(&'static str),
}

/// What a scenario's phases work with.
pub struct Ctx<'a> {
    /// The embedded server, when there is one.
    pub server: Option<&'a TestServer>,
    /// The scenario's account.
    pub account: TestAccount,
    devices: BTreeMap<String, Device>,
    toys: BTreeMap<String, Arc<ToyEngine>>,
    progress: &'a mut dyn FnMut(&str),
    phase: usize,
}

impl Ctx<'_> {
    /// Adds a device with a `toys` engine (the stand-in for real engines).
    pub fn add_device(&mut self, name: &str) {
        let toys = Arc::new(ToyEngine::new("toys"));
        let device = Device::new(name, &self.account).with_engine(toys.clone());
        self.toys.insert(name.to_owned(), toys);
        self.devices.insert(name.to_owned(), device);
    }

    /// Adds a device built by the scenario itself.
    pub fn insert_device(&mut self, name: &str, device: Device, toys: Option<Arc<ToyEngine>>) {
        if let Some(toys) = toys {
            self.toys.insert(name.to_owned(), toys);
        }
        self.devices.insert(name.to_owned(), device);
    }

    /// A device added earlier.
    pub fn device(&mut self, name: &str) -> Result<&mut Device, String> {
        self.devices
            .get_mut(name)
            .ok_or_else(|| format!("no device {name}"))
    }

    /// A device's password store.
    pub fn logins(&mut self, name: &str) -> Result<Arc<sync_logins::LoginStore>, String> {
        Ok(self.device(name)?.logins.clone())
    }

    /// A device's history store.
    pub fn history(&mut self, name: &str) -> Result<Arc<sync_history::HistoryStore>, String> {
        Ok(self.device(name)?.history.clone())
    }

    /// A device's bookmark store.
    pub fn bookmarks(&mut self, name: &str) -> Result<Arc<sync_bookmarks::BookmarkStore>, String> {
        Ok(self.device(name)?.bookmarks.clone())
    }

    /// A device's tabs engine.
    pub fn tabs(&mut self, name: &str) -> Result<Arc<sync_tabs::TabsStore>, String> {
        Ok(self.device(name)?.tabs.clone())
    }

    /// A device's toys engine.
    pub fn toys(&self, name: &str) -> Result<Arc<ToyEngine>, String> {
        self.toys
            .get(name)
            .cloned()
            .ok_or_else(|| format!("no device {name}"))
    }

    /// A phase that is not a sync (add, modify, verify…): logged.
    pub fn step(&mut self, device: &str, what: &str) {
        self.phase += 1;
        (self.progress)(&format!("    phase {:>2} [{device}] {what}", self.phase));
    }

    /// Syncs a device; logs the outcome and request count; fails the
    /// scenario if the status is not `expected`.
    pub fn sync_expecting(&mut self, name: &str, expected: ServiceStatus) -> Result<SyncResult, String> {
        let result = self.device(name)?.sync();
        self.phase += 1;
        let engines: Vec<String> = result
            .engines
            .iter()
            .map(|(e, r)| format!("{e} ↓{} ↑{}", r.downloaded, r.uploaded))
            .collect();
        (self.progress)(&format!(
            "    phase {:>2} [{name}] sync: {:?}, {} requests ({})",
            self.phase,
            result.status,
            result.requests,
            engines.join(", ")
        ));
        if result.status != expected {
            return Err(format!(
                "{name}: sync ended {:?} ({:?}), expected {expected:?}",
                result.status, result.error
            ));
        }
        Ok(result)
    }

    /// Syncs a device, expecting success.
    pub fn sync(&mut self, name: &str) -> Result<SyncResult, String> {
        self.sync_expecting(name, ServiceStatus::Ok)
    }
}

/// Now, in µs since the epoch (history's unit).
pub(crate) fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Fails the scenario with `message` unless `condition` holds.
pub fn check(condition: bool, message: impl Into<String>) -> Result<(), String> {
    if condition { Ok(()) } else { Err(message.into()) }
}

/// Every scenario, in order.
pub fn all() -> Vec<Scenario> {
    let mut all = manager::scenarios();
    all.extend(logins::scenarios());
    all.extend(history::scenarios());
    all.extend(tabs::scenarios());
    all.extend(bookmarks::scenarios());
    all.extend(large::scenarios());
    all.extend(shapes::scenarios());
    all
}

/// A scenario for any server, with default settings.
pub(crate) fn scenario(name: &'static str, run: fn(&mut Ctx<'_>) -> Result<(), String>) -> Scenario {
    Scenario {
        name,
        embedded_only: false,
        configure: |_| {},
        run,
    }
}

/// An error as a scenario failure.
pub(crate) fn fail(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Runs `scenario`, reporting progress lines.
pub fn run(scenario: &Scenario, server: &ScenarioServer, progress: &mut dyn FnMut(&str)) -> Outcome {
    let embedded;
    // A split scenario's node and token server, alive while it runs.
    let split;
    let (server_ref, account) = match server {
        ScenarioServer::Embedded => {
            // A person's account at the server's own accounts service,
            // signed up and in with email and password, as a self-hoster
            // runs it.
            let server = TestServer::with_accounts(scenario.configure);
            let account = match signed_in(&server, &unique_email(scenario.name)) {
                Ok(a) => a,
                Err(e) => return Outcome::Failed(format!("signing in: {e}")),
            };
            embedded = server;
            (Some(&embedded), account)
        }
        ScenarioServer::Split | ScenarioServer::StorageNode { .. } if scenario.embedded_only => {
            return Outcome::Skipped("needs the embedded server");
        }
        ScenarioServer::Split => {
            let secret = format!("split-{}", sync15::Guid::random());
            let node_secret = secret.clone();
            let configure = scenario.configure;
            let node = TestServer::start_with(move |c| {
                configure(c);
                c.role = Role::StorageOnly;
                c.master_secret.0 = vec![node_secret];
            });
            let tokens = token_server_for(node.url().to_owned(), secret);
            split = (node, tokens);
            (None, split.1.new_account(&unique_email(scenario.name)))
        }
        ScenarioServer::StorageNode { tokens } => {
            let account = tokens.new_account(&unique_email(scenario.name));
            // The node may hold data from an earlier run under this uid
            // (the token server's uids start again each run): start clean.
            if let Err(e) = account.raw().client().delete_everything() {
                return Outcome::Failed(format!("clearing the node for this account: {e}"));
            }
            (None, account)
        }
        ScenarioServer::External { url, token_secret } => {
            if scenario.embedded_only {
                return Outcome::Skipped("needs the embedded server");
            }
            match external_account(url, token_secret, &unique_email(scenario.name)) {
                Ok(account) => (None, account),
                Err(e) => return Outcome::Failed(e),
            }
        }
    };
    let mut ctx = Ctx {
        server: server_ref,
        account,
        devices: BTreeMap::new(),
        toys: BTreeMap::new(),
        progress,
        phase: 0,
    };
    match (scenario.run)(&mut ctx) {
        Ok(()) => Outcome::Passed,
        Err(e) => Outcome::Failed(e),
    }
}

/// A new account at the server's accounts service, signed up with
/// `fxa-client` (confirmed with the emailed code).
fn signed_in(server: &TestServer, email: &str) -> Result<TestAccount, String> {
    let password = sync15::Guid::random().to_string();
    let mut fxa = server.sign_up(email, &password)?;
    TestAccount::signed_in(&mut fxa, server.url()).map_err(|e| e.to_string())
}

fn unique_email(scenario: &str) -> String {
    let slug: String = scenario
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let nonce = sync15::Guid::random();
    format!("{slug}-{nonce}@scenarios.test")
}

fn external_account(url: &str, secret: &str, email: &str) -> Result<TestAccount, String> {
    let oauth = sync_storage::auth::mint_dev_token(secret, email, 0, 3600).map_err(|e| e.to_string())?;
    let kb = ring::digest::digest(&ring::digest::SHA256, email.as_bytes());
    Ok(TestAccount {
        email: email.to_owned(),
        fxa_uid: crate::server::dev_fxa_uid(email),
        oauth_token: oauth,
        root_key: SyncRootKey::new(kb.as_ref(), 1_000).map_err(|e| e.to_string())?,
        token_server_url: url.to_owned(),
    })
}
