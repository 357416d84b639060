//! A self-hosted Firefox Accounts service: the accounts API, OAuth and
//! profile routes that Firefox desktop, Firefox for Android and iOS
//! (application-services) and our own `fxa-client` speak, checked route by
//! route against Mozilla's auth server (`mozilla/fxa`,
//! `packages/fxa-auth-server`).
//!
//! What it is for: a household or an organisation running its own Sync
//! without accounts.firefox.com. It signs people up and in (onepw, V1 and
//! V2 password stretching), confirms sign-ins by emailed code or TOTP,
//! hands out kA/wrapKb and scoped-key data, issues RS256 OAuth access
//! tokens that the token server verifies with the public keys alone, keeps
//! the device list and relays device commands (Send Tab, Close Tabs).
//!
//! What it must never do:
//! - hold a password or anything that yields kB: the client sends authPW
//!   (already stretched), which is stretched again with scrypt and kept
//!   only as a verifier, and kB exists only on clients (the sign-in page
//!   derives it in the browser);
//! - keep a usable secret in clear: token keys, kA, TOTP secrets and its
//!   own signing keys are sealed under the server's secret, and codes and
//!   refresh tokens are kept as hashes (`secrets`);
//! - answer a bad request with anything but the auth server's errno, or
//!   leave a half-done change behind (every route's writes are one
//!   transaction).
//!
//! The service lives in the storage server's process and database file by
//! default (`sync-storage` mounts [`Accounts::router`]), but nothing here
//! knows the storage server: a split deployment verifies tokens from
//! `/v1/jwks`.

pub mod config;
pub mod error;
pub mod mail;
mod mail_transport;

mod admin;
pub(crate) mod api;
mod clients;
mod pages;
mod password;
mod secrets;
mod signing;
mod store;
pub mod totp;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::{Condvar, Mutex, RwLock};

pub use admin::AccountSummary;
pub use config::AccountsConfig;
pub use error::{AccountsError, ApiError};
pub use mail::{Mail, MailTransport};
pub use signing::PublicJwk;

/// The Sync scope, whose key the sign-in page derives from kB.
pub const OLDSYNC_SCOPE: &str = "https://identity.mozilla.com/apps/oldsync";

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The running service: cheap to clone, shared by every route.
#[derive(Clone)]
pub struct Accounts {
    service: Arc<Service>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts")
            .field("public_url", &self.service.public_url)
            .finish_non_exhaustive()
    }
}

/// Everything a route reaches.
pub(crate) struct Service {
    pub config: AccountsConfig,
    /// The base URL browsers use, without a trailing slash.
    pub public_url: String,
    /// What clients sign Hawk requests with: the public URL's host and port.
    pub hawk_host: String,
    pub hawk_port: u16,
    pub store: store::Store,
    pub keys: signing::SigningKeys,
    pub mail: RwLock<Arc<dyn MailTransport>>,
    /// scrypt runs at a time (each takes 64 MiB): Mozilla's auth server
    /// caps its pending scrypt work the same way.
    scrypt_slots: Gate,
    last_purge: Mutex<u64>,
    event_hooks: RwLock<Vec<EventHook>>,
}

/// Told of each [`AccountEvent`].
type EventHook = Arc<dyn Fn(&AccountEvent) + Send + Sync>;

/// What the service tells the storage server about accounts: the events
/// Mozilla's auth server publishes and its token server acts on
/// (tokenserver `process_account_events`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccountEvent {
    /// The account is gone (deleted by its owner or an administrator): its
    /// synced data goes too.
    Deleted {
        /// The account id.
        uid: String,
    },
    /// The password changed or was reset: access tokens of an older
    /// generation must be refused from now on, though they have not
    /// expired (Mozilla's token server sets the user's generation to
    /// `generation - 1`).
    PasswordChanged {
        /// The account id.
        uid: String,
        /// The new generation (`fxa-generation` of new tokens, ms).
        generation: u64,
    },
    /// The signing keys changed (a rotation, here or by the operator's
    /// command in another process): tokens are verified with these from
    /// now on, primary first. Announced before the new primary signs.
    KeysRotated {
        /// The published keys.
        keys: Vec<PublicJwk>,
    },
}

impl Accounts {
    /// Opens the service on the database at `db_path` (created if
    /// missing; the storage server's file by default), sealing its secrets
    /// under `secret`. `public_url` is where browsers reach it.
    pub fn open(
        config: AccountsConfig,
        public_url: &str,
        db_path: &Path,
        secret: &[u8],
    ) -> Result<Accounts, AccountsError> {
        let public_url = public_url.trim_end_matches('/').to_owned();
        let parsed = url::Url::parse(&public_url)
            .map_err(|e| AccountsError::Config(format!("public URL {public_url:?}: {e}")))?;
        let hawk_host = parsed
            .host_str()
            .ok_or_else(|| AccountsError::Config(format!("public URL {public_url:?} has no host")))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() {
            // Firefox's WebChannel answers pages on exactly this origin, and
            // the pages and API live at its root.
            return Err(AccountsError::Config(format!(
                "public URL {public_url:?} must be an origin (scheme, host, port), without a path"
            )));
        }
        let hawk_port = parsed
            .port_or_known_default()
            .ok_or_else(|| AccountsError::Config(format!("public URL {public_url:?} has no port")))?;
        if !(10..=20).contains(&config.scrypt_log_n) {
            return Err(AccountsError::Config(format!(
                "scrypt_log_n {} is outside 10..=20 (Mozilla's is 16)",
                config.scrypt_log_n
            )));
        }
        let store = store::Store::open(db_path, secrets::Sealer::new(secret)?)?;
        let keys = signing::SigningKeys::load_or_create(&store, now_ms())?;
        let mail: Arc<dyn MailTransport> = mail_transport::from_config(&config.email)?;
        Ok(Accounts {
            service: Arc::new(Service {
                config,
                public_url,
                hawk_host,
                hawk_port,
                store,
                keys,
                mail: RwLock::new(mail),
                scrypt_slots: Gate::new(4),
                last_purge: Mutex::new(0),
                event_hooks: RwLock::new(Vec::new()),
            }),
        })
    }

    /// The routes: the API under `/v1`, the profile server's under
    /// `/profile/v1`, the sign-in and account pages, and the `.well-known`
    /// documents.
    pub fn router(&self) -> axum::Router {
        api::router(self.service.clone())
    }

    /// Where browsers reach the service.
    pub fn public_url(&self) -> &str {
        &self.service.public_url
    }

    /// The public keys access tokens are signed with (primary first): what
    /// a token server verifies them with.
    pub fn public_keys(&self) -> Vec<PublicJwk> {
        self.service.keys.public()
    }

    /// Makes a new primary signing key; the old one stays published (and
    /// verified) as the secondary.
    pub fn rotate_signing_key(&self) -> Result<(), AccountsError> {
        self.service.keys.rotate(&self.service.store, now_ms(), |keys| {
            self.service.announce(AccountEvent::KeysRotated { keys });
        })
    }

    /// Calls `hook` with every [`AccountEvent`] from now on: the storage
    /// server deletes a deleted account's synced data and refuses access
    /// tokens from before a password change, as Mozilla's services do on
    /// the auth server's events.
    pub fn on_account_event(&self, hook: impl Fn(&AccountEvent) + Send + Sync + 'static) {
        self.service.event_hooks.write().push(Arc::new(hook));
    }

    /// Sends mail through `transport` from now on (an application that
    /// delivers mail itself, or a test reading it).
    pub fn set_mail_transport(&self, transport: Arc<dyn MailTransport>) {
        *self.service.mail.write() = transport;
    }
}

impl Service {
    /// Runs `f` on a blocking thread (database work, scrypt).
    pub(crate) async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Service) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let service = self.clone();
        tokio::task::spawn_blocking(move || f(&service))
            .await
            .map_err(|_| ApiError::unexpected())?
    }

    /// Runs scrypt-bound work once a slot is free; errno 201 (503) if the
    /// server stays this busy for five seconds.
    pub(crate) fn with_scrypt<T>(&self, f: impl FnOnce() -> Result<T, ApiError>) -> Result<T, ApiError> {
        let _slot = self
            .scrypt_slots
            .enter(Duration::from_secs(5))
            .ok_or_else(ApiError::server_busy)?;
        f()
    }

    /// Drops expired rows now and then (at most once a minute).
    pub(crate) fn purge_now_and_then(&self) {
        let now = now_ms();
        {
            let mut last = self.last_purge.lock();
            if now < *last + 60_000 {
                return;
            }
            *last = now;
        }
        let window_ms = self.config.rate_window_secs * 1000;
        let purged = self.store.write(|tx, _| {
            store::tokens::purge_expired(tx, now)?;
            store::oauth::purge_expired(tx, now)?;
            store::limits::purge_expired(tx, window_ms, now)
        });
        if let Err(e) = purged {
            tracing::warn!("accounts: purging expired rows: {}", e.message);
        }
    }

    /// Tells the hooks of `event` (after the change is committed).
    pub(crate) fn announce(&self, event: AccountEvent) {
        let hooks = self.event_hooks.read().clone();
        for hook in hooks {
            hook(&event);
        }
    }

    /// Sends `mail`, logging (not failing on) a delivery error: the
    /// person can always ask for the code again.
    pub(crate) fn send_mail(&self, mail: &Mail) {
        let transport = self.mail.read().clone();
        if let Err(e) = transport.send(mail) {
            tracing::error!(to = %mail.to, "accounts: sending mail: {e}");
        }
    }
}

/// A counting gate for a limited resource.
struct Gate {
    free: Mutex<usize>,
    freed: Condvar,
}

struct Slot<'a>(&'a Gate);

impl Gate {
    fn new(slots: usize) -> Self {
        Gate {
            free: Mutex::new(slots),
            freed: Condvar::new(),
        }
    }

    fn enter(&self, wait: Duration) -> Option<Slot<'_>> {
        let mut free = self.free.lock();
        while *free == 0 {
            if self.freed.wait_for(&mut free, wait).timed_out() && *free == 0 {
                return None;
            }
        }
        *free -= 1;
        Some(Slot(self))
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock() += 1;
        self.0.freed.notify_one();
    }
}
