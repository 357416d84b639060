//! The service's settings (the `[accounts]` table of the server's
//! configuration).

use serde::{Deserialize, Serialize};

/// Firefox desktop's OAuth client id.
pub const FIREFOX_DESKTOP: &str = "5882386c6d801776";
/// Firefox for Android's.
pub const FIREFOX_ANDROID: &str = "a2270f727f45f648";
/// Firefox for iOS's.
pub const FIREFOX_IOS: &str = "1b1a3e44c54fbb58";

/// Everything the accounts service needs to know.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountsConfig {
    /// Whether this process runs the accounts service (its API at `/v1`,
    /// its pages, `/.well-known/fxa-client-configuration`).
    pub enabled: bool,
    /// The base URL browsers reach the service at (its pages and API),
    /// e.g. `https://accounts.example.com`; defaults to the server's
    /// `public_url`. Firefox's `identity.fxaccounts.autoconfig.uri` is set
    /// to it.
    pub public_url: Option<String>,
    /// Where accounts are kept — a SQLite file or a `postgres://` URL: by
    /// default the storage server's own database (in tables of their own,
    /// prefixed `fxa_`).
    pub database: Option<std::path::PathBuf>,
    /// The secret the service seals its secrets at rest with (token keys,
    /// kA, TOTP secrets, signing keys). Unset, one is generated on first
    /// start and kept in the storage server's settings — then a copy of
    /// the database file alone opens them; set it (and keep it elsewhere)
    /// so that it does not.
    pub secret: Option<String>,
    /// Where the token server is (Firefox appends `/1.0/sync/1.5`);
    /// defaults to `public_url`, the storage server's own token server.
    pub tokenserver_url: Option<String>,
    /// Who may create an account.
    pub registration: Registration,
    /// Email addresses allowed to register when `registration` is
    /// `invitation` (case-insensitive; `*@example.com` allows a domain).
    pub allowed_emails: Vec<String>,
    /// Every sign-in of an existing account is confirmed with a code
    /// emailed to it (as Mozilla's service does for Sync sign-ins); off, a
    /// correct password is enough. A new account's email is always
    /// confirmed.
    pub confirm_sign_ins: bool,
    /// How the codes and notices reach people.
    pub email: EmailConfig,
    /// scrypt's cost for password verifiers: Mozilla's auth server uses
    /// N = 2^16, r = 8, p = 1.
    pub scrypt_log_n: u8,
    /// How long an access token lives at most (Firefox asks for 6 hours
    /// for Sync's).
    pub max_access_token_ttl_secs: u64,
    /// Sign-in attempts allowed per account and per IP address within
    /// `rate_window_secs`; beyond, errno 114 with `retryAfter`.
    pub rate_limit: u32,
    /// The window `rate_limit` counts over.
    pub rate_window_secs: u64,
    /// Behind a reverse proxy: the client's address is the left-most of
    /// `X-Forwarded-For` (else every client would share the proxy's
    /// address, and its throttling).
    pub trust_forwarded_for: bool,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        AccountsConfig {
            enabled: false,
            public_url: None,
            database: None,
            secret: None,
            tokenserver_url: None,
            registration: Registration::Open,
            allowed_emails: Vec::new(),
            confirm_sign_ins: true,
            email: EmailConfig::default(),
            scrypt_log_n: 16,
            max_access_token_ttl_secs: 6 * 3600,
            rate_limit: 20,
            rate_window_secs: 15 * 60,
            trust_forwarded_for: false,
        }
    }
}

/// Who may create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    /// Anyone who can read the email sent to the address.
    #[default]
    Open,
    /// Only the addresses in `allowed_emails`.
    Invitation,
    /// Nobody new (the operator creates accounts with the admin command).
    Closed,
}

/// How mail goes out.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    /// `log`: written to the server's log (for a household without a
    /// mail server; `sync-storage account show` also shows a pending
    /// code); `smtp`: sent through `smtp_url`.
    pub mode: EmailMode,
    /// The sender.
    pub from: String,
    /// `smtps://user:password@host:465` (TLS) or
    /// `smtp://user:password@host:587` (STARTTLS), or `smtp://host:25`.
    pub smtp_url: Option<String>,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            mode: EmailMode::Log,
            from: "Firefox Accounts <accounts@localhost>".into(),
            smtp_url: None,
        }
    }
}

/// Where mail goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EmailMode {
    /// Into the log.
    #[default]
    Log,
    /// Through an SMTP server.
    Smtp,
}

impl AccountsConfig {
    /// Whether `email` may create an account.
    pub fn may_register(&self, email: &str) -> bool {
        match self.registration {
            Registration::Open => true,
            Registration::Closed => false,
            Registration::Invitation => {
                let email = email.to_lowercase();
                self.allowed_emails.iter().any(|allowed| {
                    let allowed = allowed.to_lowercase();
                    match allowed.strip_prefix('*') {
                        Some(domain) => email.ends_with(domain),
                        None => allowed == email,
                    }
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invitations_by_address_and_domain() {
        let config = AccountsConfig {
            registration: Registration::Invitation,
            allowed_emails: vec!["Ann@Example.com".into(), "*@family.example".into()],
            ..Default::default()
        };
        assert!(config.may_register("ann@example.com"));
        assert!(config.may_register("bob@family.example"));
        assert!(!config.may_register("eve@example.com"));
        assert!(!config.may_register("bob@otherfamily.example.net"));
        let closed = AccountsConfig {
            registration: Registration::Closed,
            ..Default::default()
        };
        assert!(!closed.may_register("ann@example.com"));
        assert!(AccountsConfig::default().may_register("anyone@example.com"));
    }
}
