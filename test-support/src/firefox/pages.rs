//! A person at the accounts service's pages in a real Firefox: "Sign in to
//! sync" opens the page Firefox builds (`promiseConnectAccountURI`: its
//! OAuth parameters and keys_jwk), and an automated user types into it —
//! email, password, the emailed code, or a forgotten password's reset —
//! over Marionette in the content context. The page hands the session and
//! the Sync key to Firefox over its WebChannel; done when Firefox holds the
//! key and Sync is configured.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::world::Browser;
use crate::mail::Outbox;
use crate::marionette::{Marionette, MarionetteError};

const OLDSYNC: &str = "https://identity.mozilla.com/apps/oldsync";

/// How long the page may take to reach a state.
const PAGE_WAIT: Duration = Duration::from_secs(30);

impl Browser {
    /// Signs in to `email` through the pages, confirming with the code
    /// mailed to `outbox` when the service asks for one.
    pub fn sign_in_through_pages(
        &mut self,
        email: &str,
        password: &str,
        outbox: &Outbox,
    ) -> Result<(), String> {
        self.sign_in_with_second_factor(email, password, outbox, None)
    }

    /// [`Browser::sign_in_through_pages`] for an account with two-step
    /// authentication: the code of the authenticator app holding
    /// `totp_secret` is typed when the page asks for it.
    pub fn sign_in_with_second_factor(
        &mut self,
        email: &str,
        password: &str,
        outbox: &Outbox,
        totp_secret: Option<&[u8]>,
    ) -> Result<(), String> {
        let before = self.sync_key_id()?;
        self.on_sign_in_page("signing in", |m| {
            let seen = outbox.count();
            m.type_into("#email", email)?;
            m.click("#step-email button")?;
            wait_for(m, "shown('step-signin')")?;
            m.type_into("#signin-password", password)?;
            m.click("#step-signin button")?;
            wait_for(
                m,
                "shown('step-code') || shown('step-totp') || signedIn() || failed()",
            )?;
            if page_flag(m, "shown('step-code')")? {
                let code = code_from(outbox, email, seen)?;
                m.type_into("#code", &code)?;
                m.click("#step-code button")?;
            } else if page_flag(m, "shown('step-totp')")? {
                let secret = totp_secret.ok_or_else(|| {
                    MarionetteError::Protocol("the page asks for an authenticator code".into())
                })?;
                m.type_into("#totp", &totp_now(secret))?;
                m.click("#step-totp button")?;
            }
            Ok(())
        })?;
        self.wait_for_sync_key(before.as_deref())
    }

    /// "Forgot your password?" on the sign-in page: the 8-digit code mailed
    /// to `outbox`, a new password, and Firefox signed in again with the
    /// account's new keys.
    pub fn reset_password_through_pages(
        &mut self,
        email: &str,
        new_password: &str,
        outbox: &Outbox,
    ) -> Result<(), String> {
        let before = self.sync_key_id()?;
        self.on_sign_in_page("resetting the password", |m| {
            m.type_into("#email", email)?;
            m.click("#step-email button")?;
            wait_for(m, "shown('step-signin')")?;
            m.click("[data-action=forgot]")?;
            wait_for(m, "shown('step-forgot')")?;
            let seen = outbox.count();
            m.click("#step-forgot button")?;
            wait_for(m, "shown('step-forgot-code') || failed()")?;
            let code = code_from(outbox, email, seen)?;
            m.type_into("#forgot-code", &code)?;
            m.click("#step-forgot-code button")?;
            wait_for(m, "shown('step-reset') || failed()")?;
            m.type_into("#reset-password", new_password)?;
            m.type_into("#reset-repeat", new_password)?;
            m.click("#step-reset button")?;
            Ok(())
        })?;
        self.wait_for_sync_key(before.as_deref())
    }

    /// "Manage account": the account page Firefox opens
    /// (`promiseManageURI`), with the session Firefox gives it over the
    /// WebChannel; `steps` run on it once it has loaded.
    pub fn on_account_page(
        &mut self,
        what: &str,
        steps: impl FnOnce(&mut Marionette) -> Result<(), MarionetteError>,
    ) -> Result<(), String> {
        let url = self.js(
            r#"
            const { FxAccountsConfig } = ChromeUtils.importESModule("resource://gre/modules/FxAccountsConfig.sys.mjs");
            return await FxAccountsConfig.promiseManageURI("test");
            "#,
            json!([]),
        )?;
        let url = url.as_str().ok_or("Firefox gave no account page URL")?.to_owned();
        self.in_content(&url, "the account page", what, |m| {
            wait_for(m, "document.body.dataset.ready == 'true' || failed()")?;
            let error = page_text(m, "error")?;
            if !error.is_empty() {
                return Err(MarionetteError::Protocol(format!("the page says: {error}")));
            }
            steps(m)
        })
    }

    /// Changes the password in the account page: Firefox is told the new
    /// session (`change_password`) and keeps its keys.
    pub fn change_password_through_pages(&mut self, old: &str, new: &str) -> Result<(), String> {
        self.on_account_page("changing the password", |m| {
            m.type_into("#old-password", old)?;
            m.type_into("#new-password", new)?;
            m.click("#change-password button")?;
            wait_for(
                m,
                "document.getElementById('status').textContent.includes('changed') || failed()",
            )?;
            settled(m)
        })
    }

    /// Deletes the account in the account page; Firefox is told
    /// (`delete`) and signs out.
    pub fn delete_account_through_pages(&mut self, password: &str) -> Result<(), String> {
        self.on_account_page("deleting the account", |m| {
            m.type_into("#delete-password", password)?;
            m.click("#delete-account button")?;
            wait_for(
                m,
                "document.getElementById('status').textContent.includes('deleted') || failed()",
            )?;
            settled(m)
        })
    }

    /// Turns two-step authentication on in the account page, as a person
    /// with an authenticator app would; the secret the page showed.
    pub fn enable_totp_through_pages(&mut self) -> Result<Vec<u8>, String> {
        let mut secret = Vec::new();
        self.on_account_page("turning on two-step authentication", |m| {
            m.click("#totp-start button")?;
            wait_for(m, "!document.getElementById('totp-confirm').hidden || failed()")?;
            let shown = page_text(m, "totp-secret")?;
            secret = sync_accounts::totp::base32_decode(&shown)
                .ok_or_else(|| MarionetteError::Protocol(format!("the secret {shown:?} is not base32")))?;
            m.type_into("#totp-code", &totp_now(&secret))?;
            m.click("#totp-confirm button")?;
            wait_for(
                m,
                "document.getElementById('totp-state').textContent.startsWith('On') || failed()",
            )?;
            settled(m)
        })?;
        Ok(secret)
    }

    /// The devices the account page lists.
    pub fn devices_on_account_page(&mut self) -> Result<Vec<String>, String> {
        let mut names = Vec::new();
        self.on_account_page("listing devices", |m| {
            let listed = m.execute(
                "return [...document.querySelectorAll('#devices li span')].map(s => s.textContent);",
                json!([]),
            )?;
            names = listed
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect();
            Ok(())
        })?;
        Ok(names)
    }

    /// Opens Firefox's sign-in page, runs `steps` on it, and waits until
    /// the page says Firefox is connected (or shows an error).
    fn on_sign_in_page(
        &mut self,
        what: &str,
        steps: impl FnOnce(&mut Marionette) -> Result<(), MarionetteError>,
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
        self.in_content(&url, "the sign-in page", what, |m| {
            wait_for(m, "document.body.dataset.ready == 'true'")?;
            steps(m)?;
            wait_for(m, "signedIn() || failed()")?;
            let error = page_text(m, "error")?;
            if error.is_empty() {
                Ok(())
            } else {
                Err(MarionetteError::Protocol(format!("the page says: {error}")))
            }
        })
    }

    /// Opens `url` in the content context, runs `steps` on it, and goes back
    /// to the chrome context whatever they did; errors name `page` and
    /// `what` was being done.
    fn in_content(
        &mut self,
        url: &str,
        page: &str,
        what: &str,
        steps: impl FnOnce(&mut Marionette) -> Result<(), MarionetteError>,
    ) -> Result<(), String> {
        let name = self.name.clone();
        let m = &mut self.firefox.marionette;
        m.set_context("content")
            .map_err(|e| format!("{name}: {page}: {e}"))?;
        let outcome = m.navigate(url).and_then(|()| steps(m));
        m.set_context("chrome")
            .map_err(|e| format!("{name}: {page}: {e}"))?;
        outcome.map_err(|e| format!("{name}: {page}, {what}: {e}"))
    }

    /// The kid of the Sync key Firefox holds, if any.
    fn sync_key_id(&mut self) -> Result<Option<String>, String> {
        let kid = self.js(
            r#"
            const { getFxAccountsSingleton } = ChromeUtils.importESModule("resource://gre/modules/FxAccounts.sys.mjs");
            const fxa = getFxAccountsSingleton();
            const user = await fxa.getSignedInUser();
            if (!user || !(await fxa.keys.canGetKeyForScope(arguments[0]))) return null;
            return (await fxa.keys.getKeyForScope(arguments[0])).kid;
            "#,
            json!([OLDSYNC]),
        )?;
        Ok(kid.as_str().map(str::to_owned))
    }

    /// Waits until Firefox holds a Sync key other than `before` and Sync
    /// is configured: Firefox finishes on its own (the token exchange with
    /// the PKCE verifier, decrypting keys_jwe, Sync's configuration).
    fn wait_for_sync_key(&mut self, before: Option<&str>) -> Result<(), String> {
        self.js(
            r#"
            const [scope, before] = arguments;
            const { getFxAccountsSingleton } = ChromeUtils.importESModule("resource://gre/modules/FxAccounts.sys.mjs");
            const { setTimeout } = ChromeUtils.importESModule("resource://gre/modules/Timer.sys.mjs");
            const fxa = getFxAccountsSingleton();
            const deadline = Date.now() + 30000;
            for (;;) {
                const user = await fxa.getSignedInUser();
                if (user && user.verified && await fxa.keys.canGetKeyForScope(scope)) {
                    const { kid } = await fxa.keys.getKeyForScope(scope);
                    if (kid != before && Services.prefs.getStringPref("services.sync.username", "")) return null;
                }
                if (Date.now() > deadline) throw new Error(`Firefox has no new Sync key: ${JSON.stringify(user)}`);
                await new Promise(resolve => setTimeout(resolve, 100));
            }
            "#,
            json!([OLDSYNC, before]),
        )
        .map(|_| ())
    }
}

/// An authenticator app's code now.
fn totp_now(secret: &[u8]) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    sync_accounts::totp::code(secret, sync_accounts::totp::counter(now))
}

/// An error if the page shows one.
fn settled(m: &mut Marionette) -> Result<(), MarionetteError> {
    let error = page_text(m, "error")?;
    if error.is_empty() {
        Ok(())
    } else {
        Err(MarionetteError::Protocol(format!("the page says: {error}")))
    }
}

/// The code mailed to `email` after the first `seen` messages.
fn code_from(outbox: &Outbox, email: &str, seen: usize) -> Result<String, MarionetteError> {
    outbox
        .wait_for_code(email, seen, Duration::from_secs(10))
        .ok_or_else(|| MarionetteError::Protocol(format!("no code was mailed to {email}")))
}

/// The page's state, as expressions over its DOM.
const PAGE_HELPERS: &str = "const shown = id => !document.getElementById(id).hidden; \
     const signedIn = () => document.body.dataset.signedIn == 'true'; \
     const failed = () => document.getElementById('error').textContent != '';";

/// Polls the page until `condition` holds.
fn wait_for(m: &mut Marionette, condition: &str) -> Result<(), MarionetteError> {
    let deadline = Instant::now() + PAGE_WAIT;
    loop {
        if page_flag(m, condition)? {
            return Ok(());
        }
        if Instant::now() > deadline {
            let error = page_text(m, "error").unwrap_or_default();
            return Err(MarionetteError::Protocol(format!(
                "the page never reached `{condition}` (it says: {error:?})"
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn page_flag(m: &mut Marionette, condition: &str) -> Result<bool, MarionetteError> {
    let value = m.execute(&format!("{PAGE_HELPERS} return Boolean({condition});"), json!([]))?;
    Ok(value == Value::Bool(true))
}

fn page_text(m: &mut Marionette, id: &str) -> Result<String, MarionetteError> {
    Ok(m.execute(
        &format!("return document.getElementById('{id}').textContent;"),
        json!([]),
    )?
    .as_str()
    .unwrap_or_default()
    .to_owned())
}
