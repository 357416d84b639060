//! The `[accounts]` table: the self-hosted Firefox Accounts service
//! ([`sync_accounts`]) in this process.
//!
//! ```toml
//! [accounts]
//! enabled = true
//! public_url = "https://sync.example.com"  # where browsers reach it; defaults to public_url
//! registration = "invitation"              # or "open" / "closed"
//! allowed_emails = ["*@family.example"]
//! confirm_sign_ins = true                  # every new device confirms with an emailed code
//! # secret = "…"                           # seals its secrets at rest; keep it outside the database
//! # database = "postgres://…"             # default: the server's own database
//!
//! [accounts.email]
//! mode = "smtp"                            # or "log": codes go to the log (and `sync-storage account code`)
//! from = "Sync <sync@example.com>"
//! smtp_url = "smtps://user:password@mail.example.com:465"
//! ```
//!
//! With it enabled the token server trusts the access tokens this
//! service signs (and only those): `auth` is set to `fxa` with its keys.

use super::{Config, ConfigError, Role};

impl Config {
    pub(super) fn validate_accounts(&self) -> Result<(), ConfigError> {
        let accounts = &self.accounts;
        if self.role == Role::StorageOnly {
            return Err(ConfigError::Invalid(
                "accounts.enabled needs the token server (role \"all\" or \"token-only\"): \
                 it checks the access tokens the accounts service signs"
                    .into(),
            ));
        }
        if self.auth.fxa_primary_jwk.is_some() || self.auth.fxa_secondary_jwk.is_some() {
            return Err(ConfigError::Invalid(
                "accounts.enabled: the token server trusts this server's own accounts; \
                 remove auth.fxa_primary_jwk and auth.fxa_secondary_jwk"
                    .into(),
            ));
        }
        for (name, url) in [
            ("accounts.public_url", &accounts.public_url),
            ("accounts.tokenserver_url", &accounts.tokenserver_url),
        ] {
            if let Some(url) = url {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(ConfigError::Invalid(format!("{name} `{url}` must be http(s)")));
                }
            }
        }
        if accounts.secret.as_deref().is_some_and(|s| s.len() < 16) {
            return Err(ConfigError::Invalid(
                "accounts.secret must be at least 16 characters".into(),
            ));
        }
        Ok(())
    }
}
