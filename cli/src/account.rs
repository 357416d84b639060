//! `login`, `logout`, `status`, and the credentials every sync uses.

use anyhow::{Context, Result};
use clap::Args;
use fxa_client::{AccountState, FirefoxAccount, FxaConfig, FxaError, SignInStatus};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sync_manager::SyncAuth;
use sync15::SyncRootKey;

use crate::dates::when;
use crate::output::{Out, print_table};
use crate::profile::{Profile, write_private};
use crate::sync_status::SyncStatus;
use crate::{LOGIN_HINT, exit, fail, prompt};

/// `login`.
#[derive(Args)]
pub struct LoginArgs {
    /// The account's email (asked for when not given).
    email: Option<String>,
    /// Your own token server, e.g. https://sync.example.com (default: Mozilla's).
    #[arg(long)]
    server: Option<String>,
    /// Your own accounts server (default: Mozilla's accounts service).
    #[arg(long)]
    accounts_server: Option<String>,
    /// Sign in with a token from `sync-storage mint-token` instead of a
    /// Firefox Account (works offline with your own server).
    #[arg(long, requires = "kb")]
    token: Option<String>,
    /// The account's kB (hex), with --token.
    #[arg(long, requires = "token")]
    kb: Option<String>,
    /// When kB last changed (ms since the epoch), with --token.
    #[arg(long, default_value_t = 0)]
    keys_changed_at: u64,
    /// The name other devices show for this one.
    #[arg(long)]
    device_name: Option<String>,
}

/// The signed-in account, as `account.json` keeps it (secret: 0600).
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StoredAccount {
    /// A Firefox Account.
    Fxa {
        token_server: String,
        device_name: String,
        state: Box<AccountState>,
    },
    /// A development account minted by `sync-storage mint-token`.
    Token {
        token_server: String,
        device_name: String,
        email: String,
        access_token: String,
        kb: String,
        keys_changed_at: u64,
    },
}

impl StoredAccount {
    /// The account's email.
    pub fn email(&self) -> &str {
        match self {
            StoredAccount::Fxa { state, .. } => &state.email,
            StoredAccount::Token { email, .. } => email,
        }
    }

    /// The token server.
    pub fn token_server(&self) -> &str {
        match self {
            StoredAccount::Fxa { token_server, .. } | StoredAccount::Token { token_server, .. } => {
                token_server
            }
        }
    }

    /// This device's name.
    pub fn device_name(&self) -> &str {
        match self {
            StoredAccount::Fxa { device_name, .. } | StoredAccount::Token { device_name, .. } => device_name,
        }
    }

    /// The signed-in account of `profile`.
    pub fn load(profile: &Profile) -> Result<Self> {
        let path = profile.path("account.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(fail(exit::AUTH, "not signed in", Some(LOGIN_HINT)));
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        serde_json::from_str(&text).with_context(|| format!("{} is damaged", path.display()))
    }

    /// Saves it, readable by the owner only.
    pub fn save(&self, profile: &Profile) -> Result<()> {
        write_private(
            &profile.path("account.json"),
            serde_json::to_string_pretty(self)?.as_bytes(),
        )
    }

    /// What `sync-manager` needs: an access token (refreshed when it
    /// expires, or when `fresh`) and the sync key. Keeps any new token.
    pub fn sync_auth(&mut self, profile: &Profile, fresh: bool) -> Result<SyncAuth> {
        let auth = match self {
            StoredAccount::Token {
                token_server,
                access_token,
                kb,
                keys_changed_at,
                ..
            } => SyncAuth::OAuth {
                token_server_url: token_server.clone(),
                access_token: access_token.clone(),
                root_key: SyncRootKey::from_hex(kb, *keys_changed_at).context("the stored kB is damaged")?,
            },
            StoredAccount::Fxa {
                token_server, state, ..
            } => {
                let mut fxa = FirefoxAccount::from_state(FxaConfig::new(&state.auth_url), (**state).clone())
                    .map_err(fxa_failure)?;
                if fresh {
                    fxa.clear_access_token();
                }
                let access_token = fxa.access_token().map_err(fxa_failure)?;
                let root_key = fxa.sync_root_key().map_err(fxa_failure)?;
                if let Some(updated) = fxa.state() {
                    **state = updated.clone();
                }
                SyncAuth::OAuth {
                    token_server_url: token_server.clone(),
                    access_token,
                    root_key,
                }
            }
        };
        self.save(profile)?;
        Ok(auth)
    }
}

/// An accounts-service error as a one-line failure with its exit code.
pub fn fxa_failure(e: FxaError) -> anyhow::Error {
    let (code, hint) = match &e {
        FxaError::InvalidToken | FxaError::NotSignedIn => (exit::AUTH, Some(LOGIN_HINT)),
        FxaError::IncorrectPassword | FxaError::UnknownAccount => {
            (exit::AUTH, Some("check the email and password"))
        }
        FxaError::Network(_) | FxaError::ServerUnavailable { .. } => (exit::NETWORK, Some("try again later")),
        _ => (exit::ERROR, None),
    };
    fail(code, e.to_string(), hint)
}

const MOZILLA_ACCOUNTS: &str = fxa_client::PRODUCTION_AUTH_URL;
const MOZILLA_TOKEN_SERVER: &str = fxa_client::PRODUCTION_TOKEN_SERVER_URL;

fn default_device_name() -> String {
    format!("firefox-sync on {}", std::env::consts::OS)
}

/// `login`.
pub fn login(profile: &Profile, out: &Out, args: LoginArgs) -> Result<()> {
    let token_server = args
        .server
        .clone()
        .unwrap_or_else(|| MOZILLA_TOKEN_SERVER.to_owned());
    let device_name = args.device_name.clone().unwrap_or_else(default_device_name);
    let account = match (args.token, args.kb) {
        (Some(access_token), Some(kb)) => {
            SyncRootKey::from_hex(&kb, args.keys_changed_at).map_err(|e| {
                fail(
                    exit::ERROR,
                    format!("--kb: {e}"),
                    Some("pass kB as 64 hex digits"),
                )
            })?;
            let email = args
                .email
                .or_else(|| email_in_token(&access_token))
                .unwrap_or_default();
            StoredAccount::Token {
                token_server,
                device_name,
                email,
                access_token,
                kb,
                keys_changed_at: args.keys_changed_at,
            }
        }
        _ => {
            let email = match args.email {
                Some(e) => e,
                None => prompt::line("Email: ")?,
            };
            let auth_url = args
                .accounts_server
                .unwrap_or_else(|| MOZILLA_ACCOUNTS.to_owned());
            let state = sign_in(&auth_url, &email, &device_name)?;
            StoredAccount::Fxa {
                token_server,
                device_name,
                state: Box::new(state),
            }
        }
    };
    account.save(profile)?;
    let who = match account.email() {
        "" => "with the token (it names no email)".to_owned(),
        email => format!("as {email}"),
    };
    out.done(
        &format!("Signed in {who}. Run `firefox-sync sync` to fetch your data."),
        &json!({"email": account.email(), "token_server": account.token_server(), "device_name": account.device_name()}),
    )
}

/// The `email` claim of an access token that is a JWT (`sync-storage
/// mint-token` makes those), read for display only: the token server is
/// what checks the token.
fn email_in_token(token: &str) -> Option<String> {
    use base64::Engine as _;
    let claims = token.split('.').nth(1)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&json).ok()?;
    claims["email"]
        .as_str()
        .filter(|e| !e.trim().is_empty())
        .map(str::to_owned)
}

/// The whole sign-in conversation, then this device in the account's list.
/// A sign-in that fails or is given up part way ends the session it made.
fn sign_in(auth_url: &str, email: &str, device_name: &str) -> Result<AccountState> {
    let mut fxa = FirefoxAccount::new(FxaConfig::new(auth_url)).map_err(fxa_failure)?;
    let password = prompt::secret("Password: ")?;
    if let Err(e) = converse(&mut fxa, email, &password) {
        fxa.abandon_sign_in();
        return Err(e);
    }
    if let Err(e) = fxa.register_device(device_name, "desktop") {
        crate::output::warn(&format!(
            "could not add this device to the account's device list: {e}"
        ));
    }
    fxa.state()
        .cloned()
        .ok_or_else(|| fail(exit::ERROR, "the sign-in left no account", None))
}

/// Password, then whatever the server asks for: an emailed code, a TOTP
/// code, an unblock code (each asked again when wrong).
fn converse(fxa: &mut FirefoxAccount, email: &str, password: &str) -> Result<()> {
    let mut status = fxa.sign_in(email, password).map_err(fxa_failure)?;
    loop {
        status = match status {
            SignInStatus::SignedIn => return Ok(()),
            SignInStatus::NeedsEmailCode => {
                let code = prompt::line("Enter the code emailed to you: ")?;
                match fxa.verify_email_code(&code) {
                    Err(FxaError::InvalidVerificationCode) => {
                        crate::output::warn("that code is wrong or has expired; try again");
                        SignInStatus::NeedsEmailCode
                    }
                    other => other.map_err(fxa_failure)?,
                }
            }
            SignInStatus::NeedsTotp => {
                let code = prompt::line("Enter the code from your authenticator app: ")?;
                match fxa.verify_totp(&code) {
                    Err(FxaError::InvalidVerificationCode) => {
                        crate::output::warn("that code is wrong; try again");
                        SignInStatus::NeedsTotp
                    }
                    other => other.map_err(fxa_failure)?,
                }
            }
            SignInStatus::NeedsUnblockCode => {
                fxa.send_unblock_code().map_err(fxa_failure)?;
                loop {
                    let code =
                        prompt::line("The sign-in was blocked; enter the unblock code emailed to you: ")?;
                    match fxa.sign_in_with_unblock_code(&code) {
                        Err(FxaError::InvalidUnblockCode) => {
                            crate::output::warn("that unblock code is wrong or has expired; try again");
                        }
                        other => break other.map_err(fxa_failure)?,
                    }
                }
            }
        };
    }
}

/// `logout`.
pub fn logout(profile: &Profile, out: &Out) -> Result<()> {
    let email = match StoredAccount::load(profile) {
        Ok(StoredAccount::Fxa { state, .. }) => {
            let email = state.email.clone();
            let mut fxa =
                FirefoxAccount::from_state(FxaConfig::new(&state.auth_url), *state).map_err(fxa_failure)?;
            if let Err(e) = fxa.sign_out() {
                crate::output::warn(&format!("the accounts service did not confirm the sign-out: {e}"));
            }
            email
        }
        Ok(StoredAccount::Token { email, .. }) => email,
        Err(_) => String::new(),
    };
    profile.wipe()?;
    out.done(
        &format!(
            "Signed out{}; local data removed.",
            if email.is_empty() {
                String::new()
            } else {
                format!(" of {email}")
            }
        ),
        &json!({"signed_out": email}),
    )
}

/// `status`. A Firefox Account's session is checked with the accounts
/// service: one that ended (password changed, signed out elsewhere) is an
/// authentication error (exit 3); one that cannot be checked now is a
/// warning.
pub fn status(profile: &Profile, out: &Out) -> Result<()> {
    let account = StoredAccount::load(profile)?;
    let session = match &account {
        StoredAccount::Fxa { state, .. } => {
            let fxa = FirefoxAccount::from_state(FxaConfig::new(&state.auth_url), (**state).clone())
                .map_err(fxa_failure)?;
            match fxa.check_session() {
                Ok(()) => "active",
                Err(FxaError::InvalidToken) => {
                    return Err(fail(
                        exit::AUTH,
                        "the session has ended (the password was changed, or this device was signed out elsewhere)",
                        Some(LOGIN_HINT),
                    ));
                }
                Err(e) => {
                    crate::output::warn(&format!(
                        "could not check the session with the accounts service: {e}"
                    ));
                    "unknown"
                }
            }
        }
        StoredAccount::Token { .. } => "-",
    };
    let status = SyncStatus::load(profile);
    let kind = match account {
        StoredAccount::Fxa { .. } => "firefox-account",
        StoredAccount::Token { .. } => "token",
    };
    if out.is_json() {
        return out.print_json(&json!({
            "email": account.email(),
            "kind": kind,
            "device_name": account.device_name(),
            "session": session,
            "token_server": account.token_server(),
            "profile": profile.dir(),
            "last_sync": status.last_sync,
            "engines": status.engines,
        }));
    }
    print_table(
        &["", ""],
        &[
            vec!["account".into(), format!("{} ({kind})", account.email())],
            vec!["device".into(), account.device_name().to_owned()],
            vec!["session".into(), session.to_owned()],
            vec!["server".into(), account.token_server().to_owned()],
            vec!["profile".into(), profile.dir().display().to_string()],
            vec!["last sync".into(), when(status.last_sync)],
        ],
    )?;
    if !status.engines.is_empty() {
        crate::output::blank_line()?;
        let rows: Vec<Vec<String>> = status
            .engines
            .iter()
            .map(|(name, e)| vec![name.clone(), when(e.last_sync), e.outcome.clone()])
            .collect();
        print_table(&["engine", "last synced", "outcome"], &rows)?;
    }
    Ok(())
}
