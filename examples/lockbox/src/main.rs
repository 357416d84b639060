//! `lockbox`: a password manager that links only `sync-manager` and
//! `sync-logins` — the smallest real app of this project, and the proof that
//! an app pays only for the engines it uses.
//!
//! ```text
//! lockbox --profile DIR add --origin https://example.com --username me --password pw
//! lockbox --profile DIR list
//! lockbox --profile DIR delete GUID
//! lockbox --profile DIR sync --token-server URL --access-token TOKEN --kb HEX [--kb-changed-at MS]
//! ```
//!
//! The profile holds `logins.db`, `clients.db`, the sync state, and the
//! store's key in `key` (owner-only). A real app keeps that key in the OS
//! keychain instead.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use sync_logins::{LoginEntry, LoginStore, LoginsKey};
use sync_manager::sync_clients::{ClientsStore, LocalDevice};
use sync_manager::sync15::SyncRootKey;
use sync_manager::{EngineSelection, ServiceStatus, SyncAuth, SyncManager, SyncParams, SyncReason};

#[derive(Parser)]
#[command(about = "A passwords-only Firefox Sync client")]
struct Cli {
    /// Where the store, its key and the sync state live.
    #[arg(long, env = "LOCKBOX_PROFILE")]
    profile: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Store a login (a form login, or HTTP authentication with --realm).
    Add {
        #[arg(long)]
        origin: String,
        #[arg(long, default_value = "")]
        username: String,
        #[arg(long)]
        password: String,
        /// HTTP authentication realm (instead of a form login).
        #[arg(long)]
        realm: Option<String>,
    },
    /// Print every login as JSON lines (passwords included).
    List,
    /// Delete a login by id.
    Delete { guid: String },
    /// Sync passwords with a Firefox Sync account.
    Sync {
        /// The token server (e.g. http://127.0.0.1:8000).
        #[arg(long)]
        token_server: String,
        /// An OAuth access token with the sync scope.
        #[arg(long, env = "LOCKBOX_ACCESS_TOKEN")]
        access_token: String,
        /// The account's kB, hex.
        #[arg(long, env = "LOCKBOX_KB")]
        kb: String,
        /// When kB last changed (ms since the epoch), for the key id.
        #[arg(long, default_value_t = 0)]
        kb_changed_at: u64,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    std::fs::create_dir_all(&cli.profile).with_context(|| format!("creating {}", cli.profile.display()))?;
    let key = load_or_create_key(&cli.profile.join("key"))?;
    let store = Arc::new(LoginStore::open(cli.profile.join("logins.db"), &key)?);
    match cli.command {
        Cmd::Add {
            origin,
            username,
            password,
            realm,
        } => {
            let is_form = realm.is_none();
            let login = store.add(LoginEntry {
                form_action_origin: is_form.then(|| origin.clone()),
                http_realm: realm,
                username_field: if is_form { "username".into() } else { String::new() },
                password_field: if is_form { "password".into() } else { String::new() },
                origin,
                username,
                password,
            })?;
            println!("{}", login.guid);
        }
        Cmd::List => {
            for login in store.list()? {
                println!("{}", serde_json::to_string(&login)?);
            }
        }
        Cmd::Delete { guid } => {
            if !store.delete(&guid)? {
                bail!("no login {guid}");
            }
        }
        Cmd::Sync {
            token_server,
            access_token,
            kb,
            kb_changed_at,
        } => {
            let root_key = SyncRootKey::from_hex(&kb, kb_changed_at)?;
            sync(&cli.profile, store, &token_server, access_token, root_key)?
        }
    }
    Ok(())
}

fn sync(
    profile: &Path,
    store: Arc<LoginStore>,
    token_server: &str,
    access_token: String,
    root_key: SyncRootKey,
) -> Result<()> {
    let device = LocalDevice {
        name: "lockbox".into(),
        device_type: "mobile".into(),
        os: Some(std::env::consts::OS.into()),
        application: Some("lockbox".into()),
        version: Some(env!("CARGO_PKG_VERSION").into()),
        fxa_device_id: None,
    };
    let clients = Arc::new(ClientsStore::open(profile.join("clients.db"), &device)?);
    let manager = SyncManager::new()?;
    manager.set_clients_engine(clients);
    manager.register_engine(store);

    let state_path = profile.join("sync-state.json");
    let persisted_state = std::fs::read_to_string(&state_path).ok();
    let result = manager.sync(SyncParams {
        reason: SyncReason::User,
        engines: EngineSelection::All,
        enabled_changes: Default::default(),
        auth: SyncAuth::OAuth {
            token_server_url: token_server.to_owned(),
            access_token,
            root_key,
        },
        persisted_state,
        progress: None,
        // A password manager takes no tabs.
        device_commands: None,
    });
    std::fs::write(&state_path, &result.persisted_state).context("saving the sync state")?;
    println!("{}", result.telemetry_json());
    if result.status != ServiceStatus::Ok {
        bail!(
            "sync ended {:?}: {}",
            result.status,
            result.error.unwrap_or_default()
        );
    }
    Ok(())
}

fn load_or_create_key(path: &Path) -> Result<LoginsKey> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return Ok(LoginsKey::from_base64(&text)?);
    }
    let key = LoginsKey::generate()?;
    write_private(path, &key.to_base64()).with_context(|| format!("writing {}", path.display()))?;
    Ok(key)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?
        .write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}
