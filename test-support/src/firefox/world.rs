//! One account at our server's own accounts service, and the real
//! Firefoxes and simulated devices that sync with it. Firefox signs in as a
//! person does: it is pointed at the server with
//! `identity.fxaccounts.autoconfig.uri` alone, opens the sign-in page, and
//! an automated user types the email, the password and the emailed code.

use std::sync::Arc;
use std::time::{Duration, Instant};

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
        browser.sign_in_through_pages(&self.email, &self.password, self.outbox()?)?;
        // Signing in resets the device name; the scenarios know Firefox by
        // its own (as a person renaming it in the preferences would).
        browser.js(
            r#"
            const { getFxAccountsSingleton } = ChromeUtils.importESModule("resource://gre/modules/FxAccounts.sys.mjs");
            const fxa = getFxAccountsSingleton();
            fxa.device.setLocalName(arguments[0]);
            await fxa.device.updateDeviceRegistration();
            return null;
            "#,
            json!([name]),
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

    /// Signs in as a person does: "Sign in to sync" opens the accounts
    /// service's page (`promiseConnectAccountURI`, with Firefox's OAuth
    /// parameters and keys_jwk); the email, the password and the emailed
    /// code are typed into it; the page hands the session and the Sync
    /// key to Firefox over its WebChannel. Done when Firefox has the key
    /// and Sync is configured.
    pub fn sign_in_through_pages(
        &mut self,
        email: &str,
        password: &str,
        outbox: &Outbox,
    ) -> Result<(), String> {
        let url = self.js(
            r#"
            const { FxAccountsConfig } = ChromeUtils.importESModule("resource://gre/modules/FxAccountsConfig.sys.mjs");
            // What opening Sync's preferences does first (preferences/sync.js):
            // read the autoconfig document, so every accounts URL is ours
            // before the sign-in flow creates its accounts client.
            await FxAccountsConfig.ensureConfigured();
            return await FxAccountsConfig.promiseConnectAccountURI("test");
            "#,
            json!([]),
        )?;
        let url = url.as_str().ok_or("Firefox gave no sign-in URL")?.to_owned();
        let name = self.name.clone();
        let seen = outbox.count();
        let m = &mut self.firefox.marionette;
        let fail = |step: &str, e: crate::marionette::MarionetteError| {
            format!("{name}: the sign-in page, {step}: {e}")
        };
        m.set_context("content").map_err(|e| fail("content", e))?;
        let typed = (|| {
            m.navigate(&url)?;
            wait_for_page(m, "document.body.dataset.ready == 'true'")?;
            m.type_into("#email", email)?;
            m.click("#step-email button")?;
            wait_for_page(m, "!document.getElementById('step-signin').hidden")?;
            m.type_into("#signin-password", password)?;
            m.click("#step-signin button")?;
            wait_for_page(
                m,
                "!document.getElementById('step-code').hidden || document.body.dataset.signedIn == 'true'                  || document.getElementById('error').textContent != ''",
            )?;
            Ok(())
        })();
        let outcome = typed.and_then(|()| {
            let error = page_text(m, "error")?;
            if !error.is_empty() {
                return Err(crate::marionette::MarionetteError::Protocol(format!("the page says: {error}")));
            }
            if page_flag(m, "document.body.dataset.signedIn == 'true'")? {
                return Ok(());
            }
            let code = outbox
                .wait_for_code(email, seen, Duration::from_secs(10))
                .ok_or_else(|| crate::marionette::MarionetteError::Protocol("no code was emailed".into()))?;
            m.type_into("#code", &code)?;
            m.click("#step-code button")?;
            wait_for_page(
                m,
                "document.body.dataset.signedIn == 'true' || document.getElementById('error').textContent != ''",
            )?;
            let error = page_text(m, "error")?;
            if error.is_empty() {
                Ok(())
            } else {
                Err(crate::marionette::MarionetteError::Protocol(format!("the page says: {error}")))
            }
        });
        m.set_context("chrome").map_err(|e| fail("chrome", e))?;
        outcome.map_err(|e| fail("signing in", e))?;
        // Firefox finishes on its own: the token exchange, the key, Sync's
        // configuration.
        self.js(
            r#"
            const { getFxAccountsSingleton } = ChromeUtils.importESModule("resource://gre/modules/FxAccounts.sys.mjs");
            const { setTimeout } = ChromeUtils.importESModule("resource://gre/modules/Timer.sys.mjs");
            const fxa = getFxAccountsSingleton();
            const deadline = Date.now() + 30000;
            for (;;) {
                const user = await fxa.getSignedInUser();
                const keys = user && user.verified && await fxa.keys.canGetKeyForScope("https://identity.mozilla.com/apps/oldsync");
                if (keys && Services.prefs.getStringPref("services.sync.username", "")) return null;
                if (Date.now() > deadline) throw new Error(`Firefox is not signed in: ${JSON.stringify(user)}`);
                await new Promise(resolve => setTimeout(resolve, 100));
            }
            "#,
            json!([]),
        )?;
        Ok(())
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

/// Polls the page (content context) until `condition` holds (20 s at most).
fn wait_for_page(
    m: &mut crate::marionette::Marionette,
    condition: &str,
) -> Result<(), crate::marionette::MarionetteError> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if page_flag(m, condition)? {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(crate::marionette::MarionetteError::Protocol(format!(
                "the page never reached `{condition}`"
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn page_flag(
    m: &mut crate::marionette::Marionette,
    condition: &str,
) -> Result<bool, crate::marionette::MarionetteError> {
    Ok(m.execute(&format!("return Boolean({condition});"), json!([]))? == json!(true))
}

fn page_text(
    m: &mut crate::marionette::Marionette,
    id: &str,
) -> Result<String, crate::marionette::MarionetteError> {
    Ok(m.execute(
        &format!("return document.getElementById('{id}').textContent;"),
        json!([]),
    )?
    .as_str()
    .unwrap_or_default()
    .to_owned())
}
