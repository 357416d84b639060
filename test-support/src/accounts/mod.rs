//! A stand-in for Mozilla's accounts service (the auth server and its
//! OAuth routes), on 127.0.0.1:0, with the real cryptography, so a person's
//! sign-in can be tested end to end over loopback: `fxa-client` signs in
//! with email and password, gets kB and OAuth tokens here, and our token
//! server in `fxa` mode verifies those tokens (RS256 JWTs, `typ: at+jwt`,
//! signed with [`crate::fxa::test_keys`]'s first key).
//!
//! Accounts hold what the real server holds: a verifier of authPW (here
//! SHA-256 of it, where Mozilla's adds scrypt), kA, wrapKB (= kB ⊕
//! unwrapBKey), the key-rotation time, and for V2 accounts their
//! `clientSalt`. Tokens are random; requests are checked with the Hawk
//! credentials derived from them, exactly as the client derives them, or
//! accepted as the prefixed Bearer tokens (`Bearer fxs_<tokenId>`) the auth
//! server also takes.
//! Sign-ins can require an emailed code or TOTP, be blocked until an
//! unblock code is given, or be throttled. The "emails" are kept for the
//! test to read ([`StandInAccounts::email_code`]).
//!
//! Answers and errors have the auth server's shapes and errnos (see
//! `fxa-client`'s error table); only what sign-in, keys, OAuth and devices
//! use is implemented.

mod browser;
mod devices;
mod grants;
mod password;
mod requests;
mod routes;
use sync_accounts::totp;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use fxa_client::crypto::{Stretch, StretchedPassword, TokenCredentials, xor32};
use parking_lot::Mutex;
use sync_storage::config::RsaJwk;

use crate::background::Background;
use crate::fxa::{FxaKey, test_keys};

/// How a new account behaves.
#[derive(Debug, Clone, Default)]
pub struct AccountOptions {
    /// Its password uses V2 stretching (with a random `clientSalt`).
    pub v2: bool,
    /// Every sign-in must be confirmed with an emailed code.
    pub confirm_sign_ins: bool,
    /// Two-step authentication: every sign-in must be confirmed with TOTP.
    pub totp: bool,
    /// A V1 account the server wants upgraded to V2 stretching
    /// (`/account/credentials/status` says `upgradeNeeded`).
    pub upgrade_needed: bool,
}

pub(crate) struct Account {
    pub uid: String,
    pub email: String,
    pub stretch: Stretch,
    pub upgrade_needed: bool,
    pub verify_hash: [u8; 32],
    pub ka: [u8; 32],
    pub kb: [u8; 32],
    pub wrap_kb: [u8; 32],
    pub keys_changed_at: u64,
    pub generation: u64,
    pub totp_secret: Option<Vec<u8>>,
    pub confirm_sign_ins: bool,
    pub blocked: bool,
    pub unblock_code: Option<String>,
    pub throttled_until: Option<u64>,
    pub last_email_code: Option<String>,
    pub tamper_key_bundle: bool,
    pub devices: Vec<DeviceRecord>,
    /// Device commands waiting to be read, every device's.
    pub commands: Vec<QueuedCommand>,
    /// The last command index given, per device.
    pub command_indexes: HashMap<String, u64>,
    /// The next `/account/device/commands` answers from the queue's start,
    /// whatever index is asked for (a server replaying old messages).
    pub replay_commands: bool,
}

#[derive(Clone)]
pub(crate) struct DeviceRecord {
    pub id: String,
    pub name: String,
    pub device_type: String,
    pub session_id: String,
    /// Command name → the sealed keys it advertises.
    pub available_commands: std::collections::BTreeMap<String, String>,
    pub push_callback: Option<String>,
    pub push_public_key: Option<String>,
    pub push_auth_key: Option<String>,
}

/// A device command waiting for its device.
pub(crate) struct QueuedCommand {
    pub device: String,
    pub index: u64,
    /// `{command, payload, sender}`.
    pub data: serde_json::Value,
    /// When it is dropped unread (ms), if ever.
    pub expires_at: Option<u64>,
}

pub(crate) struct Session {
    pub uid: String,
    pub hmac_key: [u8; 32],
    pub verified: bool,
    pub code: Option<String>,
    pub totp: bool,
}

pub(crate) struct KeyFetch {
    pub uid: String,
    pub session_id: String,
    pub hmac_key: [u8; 32],
    pub key_request_key: [u8; 32],
}

pub(crate) struct Refresh {
    pub uid: String,
    pub scope: String,
}

#[derive(Default)]
pub(crate) struct Store {
    /// By lowercase email.
    pub accounts: HashMap<String, Account>,
    /// By tokenId (hex).
    pub sessions: HashMap<String, Session>,
    pub key_fetches: HashMap<String, KeyFetch>,
    pub refresh_tokens: HashMap<String, Refresh>,
    /// Password changes under way, by passwordChangeToken id.
    pub password_changes: HashMap<String, PasswordChange>,
    /// Every OAuth token revoked with `/oauth/destroy`, in order.
    pub destroyed_tokens: Vec<String>,
}

pub(crate) struct PasswordChange {
    pub uid: String,
    pub hmac_key: [u8; 32],
}

impl Store {
    pub fn account_by_uid(&mut self, uid: &str) -> Option<&mut Account> {
        self.accounts.values_mut().find(|a| a.uid == uid)
    }
}

pub(crate) struct Shared {
    pub store: Mutex<Store>,
    pub signing_key: FxaKey,
}

/// The running stand-in; stops when dropped.
pub struct StandInAccounts {
    server: Background,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for StandInAccounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandInAccounts")
            .field("addr", &self.server.addr())
            .finish()
    }
}

pub(crate) fn random<const N: usize>() -> [u8; N] {
    use ring::rand::SecureRandom;
    let mut out = [0u8; N];
    // Test support: a failing OS RNG is a broken machine.
    #[allow(clippy::expect_used)]
    ring::rand::SystemRandom::new()
        .fill(&mut out)
        .expect("the system RNG");
    out
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A 6-digit code, as FxA emails them.
pub(crate) fn six_digits() -> String {
    let n = u32::from_be_bytes(random::<4>()) % 1_000_000;
    format!("{n:06}")
}

pub(crate) fn verify_hash(auth_pw: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, auth_pw).as_ref());
    out
}

impl StandInAccounts {
    /// Starts on 127.0.0.1 with a free port.
    ///
    /// # Panics
    /// If it cannot bind; this is test support.
    pub fn start() -> Self {
        let [signing_key, _] = test_keys();
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::default()),
            signing_key,
        });
        StandInAccounts {
            server: Background::start("stand-in-accounts", routes::router(shared.clone())),
            shared,
        }
    }

    /// Its base URL (the auth server; routes are under `/v1`).
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The public key its access tokens are signed with: what the token
    /// server's `auth.fxa_primary_jwk` is set to.
    pub fn jwk(&self) -> RsaJwk {
        self.shared.signing_key.jwk.clone()
    }

    /// Creates an account with a random kB; returns its uid.
    ///
    /// # Panics
    /// If the email is taken; this is test support.
    #[allow(clippy::expect_used)]
    pub fn create_account(&self, email: &str, password: &str, options: AccountOptions) -> String {
        let stretch = if options.v2 {
            Stretch::V2 {
                client_salt: format!(
                    "{}quickStretchV2:{}",
                    fxa_client::crypto::NAMESPACE,
                    hex::encode(random::<16>())
                ),
            }
        } else {
            Stretch::V1
        };
        let stretched = StretchedPassword::new(email, password, &stretch).expect("a valid salt");
        let kb = random::<32>();
        let uid = hex::encode(random::<16>());
        let now = now_ms();
        let account = Account {
            uid: uid.clone(),
            email: email.to_owned(),
            upgrade_needed: options.upgrade_needed && matches!(stretch, Stretch::V1),
            stretch,
            verify_hash: verify_hash(&stretched.auth_pw()),
            ka: random(),
            kb,
            wrap_kb: xor32(&kb, &stretched.unwrap_b_key()),
            keys_changed_at: now,
            generation: now,
            totp_secret: options.totp.then(|| random::<20>().to_vec()),
            confirm_sign_ins: options.confirm_sign_ins,
            blocked: false,
            unblock_code: None,
            throttled_until: None,
            last_email_code: None,
            tamper_key_bundle: false,
            devices: Vec::new(),
            commands: Vec::new(),
            command_indexes: HashMap::new(),
            replay_commands: false,
        };
        let mut store = self.shared.store.lock();
        assert!(
            store.accounts.insert(email.to_lowercase(), account).is_none(),
            "{email} exists"
        );
        uid
    }

    fn with_account<T>(&self, email: &str, f: impl FnOnce(&mut Account) -> T) -> Option<T> {
        self.shared
            .store
            .lock()
            .accounts
            .get_mut(&email.to_lowercase())
            .map(f)
    }

    /// kB, to check what a client derived.
    pub fn kb(&self, email: &str) -> Option<[u8; 32]> {
        self.with_account(email, |a| a.kb)
    }

    /// The account's key-rotation time (ms).
    pub fn keys_changed_at(&self, email: &str) -> Option<u64> {
        self.with_account(email, |a| a.keys_changed_at)
    }

    /// The last code emailed to the account (sign-in confirmation).
    pub fn email_code(&self, email: &str) -> Option<String> {
        self.with_account(email, |a| a.last_email_code.clone()).flatten()
    }

    /// The last unblock code emailed to the account.
    pub fn unblock_code(&self, email: &str) -> Option<String> {
        self.with_account(email, |a| a.unblock_code.clone()).flatten()
    }

    /// The account's current TOTP code, as its authenticator app shows it.
    pub fn totp_code(&self, email: &str) -> Option<String> {
        self.with_account(email, |a| {
            a.totp_secret
                .as_ref()
                .map(|s| totp::code(s, totp::counter(now_ms() / 1000)))
        })
        .flatten()
    }

    /// Blocks the next sign-in until an emailed unblock code is given (errno 125).
    pub fn block_next_sign_in(&self, email: &str) {
        self.with_account(email, |a| a.blocked = true);
    }

    /// Flips a bit of the next `/account/keys` bundle, as a corrupting
    /// proxy or a forged server would.
    pub fn tamper_next_key_bundle(&self, email: &str) {
        self.with_account(email, |a| a.tamper_key_bundle = true);
    }

    /// Throttles sign-ins for `secs` (errno 114 with `retryAfter`).
    pub fn throttle(&self, email: &str, secs: u64) {
        self.with_account(email, |a| a.throttled_until = Some(now_ms() / 1000 + secs));
    }

    /// Changes the password (kB stays, re-wrapped), ending every session
    /// and refresh token of the account, as a password change elsewhere does.
    ///
    /// # Panics
    /// If the account does not exist; this is test support.
    #[allow(clippy::expect_used)]
    pub fn change_password(&self, email: &str, new_password: &str) {
        let mut store = self.shared.store.lock();
        let account = store
            .accounts
            .get_mut(&email.to_lowercase())
            .expect("the account");
        let stretched =
            StretchedPassword::new(&account.email, new_password, &account.stretch).expect("a valid salt");
        account.verify_hash = verify_hash(&stretched.auth_pw());
        account.wrap_kb = xor32(&account.kb, &stretched.unwrap_b_key());
        account.generation = now_ms();
        let uid = account.uid.clone();
        store.sessions.retain(|_, s| s.uid != uid);
        store.key_fetches.retain(|_, k| k.uid != uid);
        store.refresh_tokens.retain(|_, r| r.uid != uid);
    }

    /// A new verified session of the account, as a browser holds one after
    /// signing in through the accounts pages: its uid and session token
    /// (hex). For driving a real Firefox, which gets one this way.
    pub fn new_session(&self, email: &str) -> Option<(String, String)> {
        let mut store = self.shared.store.lock();
        let uid = store.accounts.get(&email.to_lowercase())?.uid.clone();
        let session_token = random::<32>();
        let session = TokenCredentials::derive(&session_token, "sessionToken");
        store.sessions.insert(
            session.id.clone(),
            Session {
                uid: uid.clone(),
                hmac_key: session.hmac_key,
                verified: true,
                code: None,
                totp: false,
            },
        );
        Some((uid, hex::encode(session_token)))
    }

    /// How many sessions the account has (signed-in devices, pending sign-ins).
    pub fn session_count(&self, email: &str) -> usize {
        let store = self.shared.store.lock();
        let Some(uid) = store.accounts.get(&email.to_lowercase()).map(|a| a.uid.clone()) else {
            return 0;
        };
        store.sessions.values().filter(|s| s.uid == uid).count()
    }
}
