//! One account at the stand-in accounts service, our server trusting it,
//! and the real Firefoxes and simulated devices that sync with it.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Value, json};
use sync_manager::ServiceStatus;
use sync_storage::config::AuthMode;

use super::process::Firefox;
use crate::accounts::{AccountOptions, StandInAccounts};
use crate::{CommandInbox, Device, TestAccount, TestServer};

/// The OAuth scope of Sync's keys.
const OLDSYNC: &str = "https://identity.mozilla.com/apps/oldsync";

/// A scenario's world: the accounts service, the server (FxA mode, trusting
/// that service's keys) and one account.
pub struct FirefoxWorld {
    /// The stand-in accounts service.
    pub accounts: StandInAccounts,
    /// Our server.
    pub server: TestServer,
    /// The account's email.
    pub email: String,
    password: String,
}

impl FirefoxWorld {
    /// A new world with an account named after `scenario`.
    pub fn new(scenario: &str) -> Self {
        let accounts = StandInAccounts::start();
        let jwk = accounts.jwk();
        let server = TestServer::start_with(move |c| {
            c.auth.mode = AuthMode::Fxa;
            c.auth.fxa_primary_jwk = Some(jwk);
            c.metrics_bind = Some(([127, 0, 0, 1], 0).into());
        });
        let slug: String = scenario
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(40)
            .collect();
        let email = format!("{slug}-{}@firefox.test", sync15::Guid::random());
        let password = sync15::Guid::random().to_string();
        accounts.create_account(&email, &password, AccountOptions::default());
        FirefoxWorld {
            accounts,
            server,
            email,
            password,
        }
    }

    /// The account's password (for signing in the `firefox-sync` binary).
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Signs in to the account with `fxa-client`, as our devices do.
    fn sign_in(&self) -> Result<fxa_client::FirefoxAccount, String> {
        let mut fxa = fxa_client::FirefoxAccount::new(fxa_client::FxaConfig::new(&self.accounts.url()))
            .map_err(|e| e.to_string())?;
        match fxa
            .sign_in(&self.email, &self.password)
            .map_err(|e| e.to_string())?
        {
            fxa_client::SignInStatus::SignedIn => Ok(fxa),
            other => Err(format!("sign-in stopped at {other:?}")),
        }
    }

    /// The account as our devices sign in to it (email and password).
    pub fn account(&self) -> Result<TestAccount, String> {
        TestAccount::signed_in(&mut self.sign_in()?, self.server.url()).map_err(|e| e.to_string())
    }

    /// One of our devices on the account, registered in the account's
    /// device list as `name` with the device commands it takes (its
    /// clients record names that FxA device), reading its commands at the
    /// start of every sync from the account it returns with.
    pub fn device(&self, name: &str) -> Result<(Device, Arc<CommandInbox>), String> {
        let mut fxa = self.sign_in()?;
        fxa.register_device(name, "desktop").map_err(|e| e.to_string())?;
        let fxa_device_id = fxa
            .state()
            .and_then(|s| s.device.as_ref())
            .map(|d| d.id.clone())
            .ok_or("the device was not registered")?;
        let account = TestAccount::signed_in(&mut fxa, self.server.url()).map_err(|e| e.to_string())?;
        let mut device = Device::with_fxa_device_id(name, &account, &fxa_device_id);
        let inbox = Arc::new(CommandInbox::new(fxa));
        device.read_device_commands_from(inbox.clone());
        Ok((device, inbox))
    }

    /// A real Firefox signed in to the account and set up to sync (not yet
    /// synced): its preferences point every accounts URL at the stand-in
    /// and the token server at ours; it signs in as Firefox's own web
    /// channel does (`setSignedInUser` with a session and the oldsync
    /// scoped key, then `Weave.Service.configure`).
    pub fn firefox(&self, name: &str) -> Result<Browser, String> {
        let accounts = self.accounts.url();
        let prefs = [
            ("identity.fxaccounts.auth.uri", json!(format!("{accounts}/v1"))),
            (
                "identity.fxaccounts.remote.oauth.uri",
                json!(format!("{accounts}/v1")),
            ),
            (
                "identity.fxaccounts.remote.profile.uri",
                json!(format!("{accounts}/v1")),
            ),
            ("identity.fxaccounts.remote.root", json!(format!("{accounts}/"))),
            (
                "identity.sync.tokenserver.uri",
                json!(format!("{}/1.0/sync/1.5", self.server.url())),
            ),
        ];
        let firefox = Firefox::start(&prefs).map_err(|e| format!("{name}: {e}"))?;
        let mut browser = Browser {
            name: name.to_owned(),
            firefox,
        };
        let kb = self.accounts.kb(&self.email).ok_or("no such account")?;
        let keys_changed_at = self
            .accounts
            .keys_changed_at(&self.email)
            .ok_or("no such account")?;
        let root = sync15::SyncRootKey::new(&kb, keys_changed_at).map_err(|e| e.to_string())?;
        let (uid, session) = self.accounts.new_session(&self.email).ok_or("no such account")?;
        // A new profile's default bookmarks ("Mozilla Firefox", "Get Help")
        // are not the scenario's.
        browser.js(
            r#"
            const { PlacesUtils } = ChromeUtils.importESModule("resource://gre/modules/PlacesUtils.sys.mjs");
            await PlacesUtils.bookmarks.eraseEverything();
            return null;
            "#,
            json!([]),
        )?;
        let k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(root.ksync());
        browser.js(
            r#"
            const [email, uid, sessionToken, kid, k, scope, name] = arguments;
            const { getFxAccountsSingleton } = ChromeUtils.importESModule("resource://gre/modules/FxAccounts.sys.mjs");
            const fxAccounts = getFxAccountsSingleton();
            await fxAccounts._internal.setSignedInUser({
                email, uid, sessionToken, verified: true,
                scopedKeys: {[scope]: {kid, k, kty: "oct", scope}},
            });
            fxAccounts.device.setLocalName(name);
            const xps = Cc["@mozilla.org/weave/service;1"].getService(Ci.nsISupports).wrappedJSObject;
            await xps.whenLoaded();
            const { Weave } = ChromeUtils.importESModule("resource://services-sync/main.sys.mjs");
            await Weave.Service.configure();
            return null;
            "#,
            json!([self.email, uid, session, root.key_id(), k, OLDSYNC, name]),
        )?;
        Ok(browser)
    }

    /// Every request the server has answered so far.
    pub fn requests_served(&self) -> Result<u64, String> {
        self.requests_where(|_| true)
    }

    /// The requests the server has answered so far that wrote (POST, PUT,
    /// DELETE).
    pub fn writes_served(&self) -> Result<u64, String> {
        self.requests_where(|labels| {
            ["method=\"POST\"", "method=\"PUT\"", "method=\"DELETE\""]
                .iter()
                .any(|m| labels.contains(m))
        })
    }

    /// The sum of `sync_storage_requests_total` over the label sets `keep`
    /// accepts.
    fn requests_where(&self, keep: impl Fn(&str) -> bool) -> Result<u64, String> {
        let addr = self.server.metrics_addr().ok_or("no metrics listener")?;
        let text = reqwest_get(&format!("http://{addr}/metrics"))?;
        Ok(text
            .lines()
            .filter_map(|l| l.strip_prefix("sync_storage_requests_total{"))
            .filter(|l| keep(l))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum())
    }
}

fn reqwest_get(url: &str) -> Result<String, String> {
    reqwest::blocking::get(url)
        .and_then(|r| r.text())
        .map_err(|e| format!("{url}: {e}"))
}

/// What one Firefox sync did.
#[derive(Debug, Clone)]
pub struct FirefoxSync {
    /// Problems Firefox's own validation found in the server's bookmark
    /// tree (`weave:engine:validate:finish`), as `name: count`.
    pub problems: Vec<String>,
}

/// A real Firefox in a scenario.
pub struct Browser {
    /// Its name (also its Sync device name).
    pub name: String,
    /// The process.
    pub firefox: Firefox,
}

impl Browser {
    /// Runs `script` in Firefox's chrome context (see
    /// [`crate::marionette::Marionette::execute`]).
    pub fn js(&mut self, script: &str, args: Value) -> Result<Value, String> {
        self.firefox
            .marionette
            .execute(script, args)
            .map_err(|e| format!("{}: {e}", self.name))
    }

    /// Syncs now and waits for it; an error unless Sync and every engine
    /// succeeded. Collects what Firefox's bookmark validation reported.
    pub fn sync(&mut self) -> Result<FirefoxSync, String> {
        let outcome = self.js(
            r#"
            const { Weave } = ChromeUtils.importESModule("resource://services-sync/main.sys.mjs");
            const { Observers } = ChromeUtils.importESModule("resource://services-common/observers.sys.mjs");
            const { setTimeout } = ChromeUtils.importESModule("resource://gre/modules/Timer.sys.mjs");
            const pause = ms => new Promise(resolve => setTimeout(resolve, ms));
            const problems = [];
            let ended = null;
            const observe = (subject, data) => {
                for (const p of (subject && subject.problems) || []) {
                    if (p.count) problems.push(`${data} ${p.name}: ${p.count}`);
                }
            };
            const finished = () => { ended = "finish"; };
            const failed = () => { ended = "error"; };
            Observers.add("weave:engine:validate:finish", observe);
            Observers.add("weave:service:sync:finish", finished);
            Observers.add("weave:service:sync:error", failed);
            try {
                // A sync Firefox started on its own (after sign-in) holds the
                // lock: wait for it, then run ours until one really ran.
                const deadline = Date.now() + 90000;
                while (!ended) {
                    while (Weave.Service.locked) {
                        if (Date.now() > deadline) throw new Error("Sync stayed locked");
                        await pause(100);
                    }
                    await Weave.Service.sync({why: "test"});
                    if (!ended) {
                        if (Date.now() > deadline) throw new Error("no sync ran");
                        await pause(200);
                    }
                }
            } finally {
                Observers.remove("weave:engine:validate:finish", observe);
                Observers.remove("weave:service:sync:finish", finished);
                Observers.remove("weave:service:sync:error", failed);
            }
            return {ended, sync: Weave.Status.sync, service: Weave.Status.service, login: Weave.Status.login,
                    engines: Weave.Status.engines, problems};
            "#,
            json!([]),
        )?;
        let ok = outcome["ended"] == "finish"
            && outcome["sync"] == "success.sync"
            && outcome["service"] == "success.status_ok"
            && outcome["engines"].as_object().is_none_or(|e| e.is_empty());
        if !ok {
            return Err(format!("{}: the sync failed: {outcome}", self.name));
        }
        Ok(FirefoxSync {
            problems: outcome["problems"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect(),
        })
    }

    /// What Firefox does when Firefox Accounts pushes it "a device
    /// connected" (`fxaccounts:device_connected`): fetch the device list
    /// again. The stand-in pushes nothing (push is off), so scenarios
    /// deliver it; without it Firefox hides a device it has not seen in the
    /// list as stale, for hours.
    pub fn device_connected(&mut self) -> Result<(), String> {
        self.js(
            r#"
            const { getFxAccountsSingleton } = ChromeUtils.importESModule("resource://gre/modules/FxAccounts.sys.mjs");
            await getFxAccountsSingleton().device.refreshDeviceList({ignoreCached: true});
            return null;
            "#,
            json!([]),
        )
        .map(|_| ())
    }

    /// Firefox's Sync logs, for a failure report.
    pub fn logs(&self) -> String {
        self.firefox.sync_logs()
    }
}

/// Syncs one of our devices, expecting success.
pub fn sync_device(device: &mut Device) -> Result<sync_manager::SyncResult, String> {
    let result = device.sync();
    if result.status != ServiceStatus::Ok {
        return Err(format!(
            "{}: the sync ended {:?}: {:?}",
            device.name, result.status, result.error
        ));
    }
    if let Some((engine, r)) = result
        .engines
        .iter()
        .find(|(_, r)| matches!(r.status, sync_manager::EngineStatus::Failed { .. }))
    {
        return Err(format!("{}: the {engine} engine failed: {r:?}", device.name));
    }
    Ok(result)
}
