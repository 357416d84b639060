//! What other devices send this one through the account: the manager reads
//! it at the start of every sync ([`AccountInbox`], over `fxa-client`),
//! and the tabs sent are kept in `received.json` until the person looks
//! (`tabs received`).

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use fxa_client::{AccountState, FirefoxAccount, FxaConfig, FxaError};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sync15::{DeviceCommand, DeviceCommandSender, DeviceCommandSource, EngineError};

use crate::profile::{Profile, write_private};

/// The account's commands for this device, read for the sync manager.
pub struct AccountInbox {
    fxa: Mutex<FirefoxAccount>,
    device_name: String,
}

impl AccountInbox {
    /// For the account in `state` (taken after any token refresh, so that
    /// [`AccountInbox::into_state`] gives back everything current).
    pub fn new(state: AccountState, device_name: &str) -> Result<Self, FxaError> {
        let fxa = FirefoxAccount::from_state(FxaConfig::new(&state.auth_url), state)?;
        Ok(AccountInbox {
            fxa: Mutex::new(fxa),
            device_name: device_name.to_owned(),
        })
    }

    /// The account state after reading (the index read up to; new command
    /// keys if they had to be made).
    pub fn into_state(self) -> Option<AccountState> {
        self.fxa.into_inner().state().cloned()
    }
}

impl DeviceCommandSource for AccountInbox {
    fn poll(&self) -> Result<Vec<DeviceCommand>, EngineError> {
        let mut fxa = self.fxa.lock();
        // A device that signed in before it had command keys, or whose
        // record lost them, advertises them first: Firefox only sends to
        // devices that do.
        match fxa.ensure_device_commands() {
            Err(FxaError::DeviceNotRegistered) => fxa.register_device(&self.device_name, "desktop")?,
            other => {
                other?;
            }
        }
        Ok(fxa.poll_commands()?.into_iter().map(Into::into).collect())
    }
}

/// A command received, as `received.json` keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Received {
    /// A tab sent here.
    Tab {
        /// When it arrived (ms).
        received_at: i64,
        /// The sending device's name (or id), if known.
        from: Option<String>,
        /// Its title.
        title: String,
        /// The page.
        url: String,
    },
    /// Tabs another device asked this one to close.
    CloseTabs {
        /// When it arrived (ms).
        received_at: i64,
        /// The sending device's name (or id), if known.
        from: Option<String>,
        /// The pages.
        urls: Vec<String>,
    },
}

fn from(sender: &Option<DeviceCommandSender>) -> Option<String> {
    sender
        .as_ref()
        .map(|s| s.name.clone().unwrap_or_else(|| s.id.clone()))
}

/// Adds `commands` to what the profile received; the new entries.
pub fn keep(profile: &Profile, commands: &[DeviceCommand]) -> Result<Vec<Received>> {
    if commands.is_empty() {
        return Ok(Vec::new());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let new: Vec<Received> = commands
        .iter()
        .map(|c| match c {
            DeviceCommand::OpenTab { sender, title, url } => Received::Tab {
                received_at: now,
                from: from(sender),
                title: title.clone(),
                url: url.clone(),
            },
            DeviceCommand::CloseTabs { sender, urls } => Received::CloseTabs {
                received_at: now,
                from: from(sender),
                urls: urls.clone(),
            },
        })
        .collect();
    let mut all = load(profile)?;
    all.extend(new.iter().cloned());
    write_private(&path(profile), serde_json::to_string_pretty(&all)?.as_bytes())?;
    Ok(new)
}

/// Everything received, oldest first.
pub fn load(profile: &Profile) -> Result<Vec<Received>> {
    let path = path(profile);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).with_context(|| format!("{} is damaged", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Forgets everything received.
pub fn clear(profile: &Profile) -> Result<()> {
    match std::fs::remove_file(path(profile)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

fn path(profile: &Profile) -> std::path::PathBuf {
    profile.path("received.json")
}

/// What a sync brought in, for its summary (standard output).
pub fn print_new(commands: &[DeviceCommand]) -> Result<()> {
    for command in commands {
        let line = match command {
            DeviceCommand::OpenTab { sender, title, url } => format!(
                "Tab received{}: {title} {url}",
                from(sender).map(|f| format!(" from {f}")).unwrap_or_default()
            ),
            DeviceCommand::CloseTabs { sender, urls } => format!(
                "{} asked to close {} tab(s) here",
                from(sender).unwrap_or_else(|| "another device".into()),
                urls.len()
            ),
        };
        crate::output::line(&line)?;
    }
    if !commands.is_empty() {
        crate::output::line("(see `firefox-sync tabs received`)")?;
    }
    Ok(())
}
