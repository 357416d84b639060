//! The server with its own Firefox Accounts service (`sync-accounts`, the
//! product, in process): accounts signed up and in as people do, with the
//! codes read from the mail it sends.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sync_storage::config::Config;

use crate::TestServer;

impl TestServer {
    /// Starts a server that runs its own Firefox Accounts service (the
    /// product, `[accounts]`), its mail caught in [`TestServer::outbox`].
    /// scrypt runs at 2^12 rather than Mozilla's 2^16: the cost does not
    /// change the protocol, only the tests' time.
    ///
    /// # Panics
    /// If the server cannot start; this is test support.
    #[allow(clippy::expect_used)]
    pub fn with_accounts(tweak: impl FnOnce(&mut Config)) -> Self {
        let mut server = Self::start_with(|config| {
            config.accounts.enabled = true;
            config.accounts.scrypt_log_n = 12;
            tweak(config);
        });
        let outbox = Arc::new(crate::mail::Outbox::default());
        server
            .server
            .accounts()
            .expect("the accounts service runs")
            .set_mail_transport(outbox.clone());
        server.outbox = Some(outbox);
        server
    }

    /// The accounts service, when started [`TestServer::with_accounts`].
    pub fn accounts(&self) -> Option<&sync_accounts::Accounts> {
        self.server.accounts()
    }

    /// The mail the accounts service sent, when started
    /// [`TestServer::with_accounts`].
    pub fn outbox(&self) -> Option<&Arc<crate::mail::Outbox>> {
        self.outbox.as_ref()
    }

    /// Creates an account on this server's accounts service (as a person
    /// signing up with our client would, confirming the emailed code) and
    /// returns the client, signed in.
    pub fn sign_up(&self, email: &str, password: &str) -> Result<fxa_client::FirefoxAccount, String> {
        let outbox = self.outbox.as_ref().ok_or("no accounts service")?;
        let mut fxa = fxa_client::FirefoxAccount::new(fxa_client::FxaConfig::new(self.url()))
            .map_err(|e| e.to_string())?;
        let seen = outbox.count();
        fxa.sign_up(email, password).map_err(|e| e.to_string())?;
        self.confirm(&mut fxa, email, seen)?;
        Ok(fxa)
    }

    /// Signs in to an account of this server's accounts service, confirming
    /// with the emailed code when the service asks for one.
    pub fn sign_in(&self, email: &str, password: &str) -> Result<fxa_client::FirefoxAccount, String> {
        let outbox = self.outbox.as_ref().ok_or("no accounts service")?;
        let mut fxa = fxa_client::FirefoxAccount::new(fxa_client::FxaConfig::new(self.url()))
            .map_err(|e| e.to_string())?;
        let seen = outbox.count();
        match fxa.sign_in(email, password).map_err(|e| e.to_string())? {
            fxa_client::SignInStatus::SignedIn => Ok(fxa),
            fxa_client::SignInStatus::NeedsEmailCode => {
                self.confirm(&mut fxa, email, seen)?;
                Ok(fxa)
            }
            other => Err(format!("the sign-in stopped at {other:?}")),
        }
    }

    fn confirm(&self, fxa: &mut fxa_client::FirefoxAccount, email: &str, seen: usize) -> Result<(), String> {
        let outbox = self.outbox.as_ref().ok_or("no accounts service")?;
        let code = outbox
            .wait_for_code(email, seen, Duration::from_secs(10))
            .ok_or_else(|| format!("no code was mailed to {email}"))?;
        match fxa.verify_email_code(&code).map_err(|e| e.to_string())? {
            fxa_client::SignInStatus::SignedIn => Ok(()),
            other => Err(format!("the code left the sign-in at {other:?}")),
        }
    }

    /// Registers a device in the account's device list on a session of its
    /// own, as an older client would: a name and a type, no device
    /// commands. Its id.
    pub fn register_bare_device(
        &self,
        email: &str,
        password: &str,
        name: &str,
        device_type: &str,
    ) -> Result<String, String> {
        let http = reqwest::blocking::Client::new();
        let url = self.url();
        let status: serde_json::Value = http
            .post(format!("{url}/v1/account/credentials/status"))
            .json(&json!({ "email": email }))
            .send()
            .and_then(reqwest::blocking::Response::json)
            .map_err(|e| e.to_string())?;
        let stretch = match status["clientSalt"].as_str() {
            Some(salt) => fxa_client::crypto::Stretch::V2 {
                client_salt: salt.to_owned(),
            },
            None => fxa_client::crypto::Stretch::V1,
        };
        let stretched = fxa_client::crypto::StretchedPassword::new(email, password, &stretch)
            .map_err(|e| e.to_string())?;
        let login: serde_json::Value = http
            .post(format!("{url}/v1/account/login"))
            .json(&json!({ "email": email, "authPW": hex::encode(stretched.auth_pw()) }))
            .send()
            .and_then(reqwest::blocking::Response::json)
            .map_err(|e| e.to_string())?;
        let token = login["sessionToken"]
            .as_str()
            .ok_or_else(|| format!("no session: {login}"))?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(token, &mut bytes).map_err(|e| e.to_string())?;
        let bearer = fxa_client::crypto::TokenCredentials::derive(&bytes, "sessionToken")
            .bearer()
            .ok_or("no bearer form")?;
        let device: serde_json::Value = http
            .post(format!("{url}/v1/account/device"))
            .bearer_auth(bearer)
            .json(&json!({ "name": name, "type": device_type }))
            .send()
            .and_then(reqwest::blocking::Response::json)
            .map_err(|e| e.to_string())?;
        device["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no device: {device}"))
    }
}
