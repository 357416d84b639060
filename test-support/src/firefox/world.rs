//! One account at our server's own accounts service, and the real
//! Firefoxes and simulated devices that sync with it. Firefox signs in as a
//! person does: it is pointed at the server with
//! `identity.fxaccounts.autoconfig.uri` alone, opens the sign-in page, and
//! an automated user types the email, the password and the emailed code.

use std::sync::Arc;

use serde_json::{Value, json};
use sync_manager::ServiceStatus;

use super::process::Firefox;
use crate::mail::Outbox;
use crate::{CommandInbox, Device, TestAccount, TestServer};

/// A scenario's world: the server (token server, storage and accounts in
/// one process, as a self-hoster runs it) and one account.
pub struct FirefoxWorld {
    /// Our server, with its accounts service.
    pub server: TestServer,
    /// The account's email.
    pub email: String,
    password: String,
}

impl FirefoxWorld {
    /// The password changed (a reset in the pages): our devices sign in
    /// with this one from now on.
    pub fn set_password(&mut self, password: &str) {
        password.clone_into(&mut self.password);
    }

    /// A new world with an account named after `scenario`, created as a
    /// person signing up with our client does.
    pub fn new(scenario: &str) -> Result<Self, String> {
        let server = TestServer::with_accounts(|c| {
            c.metrics_bind = Some(([127, 0, 0, 1], 0).into());
        });
        let slug: String = scenario
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(40)
            .collect();
        let email = format!("{slug}-{}@firefox.test", sync15::Guid::random());
        let password = sync15::Guid::random().to_string();
        server.sign_up(&email, &password)?;
        Ok(FirefoxWorld {
            server,
            email,
            password,
        })
    }

    /// The account's password (for signing in the `firefox-sync` binary).
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Where the accounts service is (the server itself).
    pub fn accounts_url(&self) -> String {
        self.server.url().to_owned()
    }

    /// The mail the accounts service sent.
    pub fn outbox(&self) -> Result<&Arc<Outbox>, String> {
        self.server
            .outbox()
            .ok_or_else(|| "no accounts service".to_owned())
    }

    /// Signs in to the account with `fxa-client`, as our devices do.
    fn sign_in(&self) -> Result<fxa_client::FirefoxAccount, String> {
        self.server.sign_in(&self.email, &self.password)
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
    /// synced). Its only accounts preference is
    /// `identity.fxaccounts.autoconfig.uri` (and `allowHttp`, loopback being
    /// plain http); it signs in through the service's own pages.
    pub fn firefox(&self, name: &str) -> Result<Browser, String> {
        let mut browser = self.firefox_signed_out(name)?;
        browser.sign_in_through_pages(&self.email, &self.password, self.outbox()?)?;
        browser.named(name)?;
        Ok(browser)
    }

    /// A real Firefox pointed at the server but not signed in.
    pub fn firefox_signed_out(&self, name: &str) -> Result<Browser, String> {
        let prefs = [
            ("identity.fxaccounts.autoconfig.uri", json!(self.server.url())),
            ("services.sync.log.appender.dump", json!("Debug")),
            ("identity.fxaccounts.loglevel", json!("Debug")),
        ];
        let firefox = Firefox::start(&prefs).map_err(|e| format!("{name}: {e}"))?;
        let mut browser = Browser {
            name: name.to_owned(),
            firefox,
        };
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

    /// Names the device: signing in resets the name, and the scenarios
    /// know Firefox by its own (as a person renaming it in the preferences
    /// would).
    pub fn named(&mut self, name: &str) -> Result<(), String> {
        self.js(
            r#"
            const { getFxAccountsSingleton } = ChromeUtils.importESModule("resource://gre/modules/FxAccounts.sys.mjs");
            const fxa = getFxAccountsSingleton();
            fxa.device.setLocalName(arguments[0]);
            await fxa.device.updateDeviceRegistration();
            return null;
            "#,
            json!([name]),
        )
        .map(|_| ())
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
