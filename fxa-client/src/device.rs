//! The account's device list, and this device's part in it: its record,
//! the commands it takes, and the commands it sends and receives
//! ([`crate::commands`]).
//!
//! Routes and shapes are the auth server's (`fxa-auth-server`
//! `routes/devices-and-sessions`): `POST /account/device` (register or
//! update, with `availableCommands`), `GET /account/devices`,
//! `POST /account/devices/invoke_command`, `GET /account/device/commands`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::account::{FirefoxAccount, plain, str_field};
use crate::commands::keys::{PrivateCommandKeys, encrypt_for};
use crate::commands::{
    CLOSE_TABS, CLOSE_TABS_MAX_PAYLOAD, CLOSE_TABS_TTL_SECS, CommandSender, IncomingCommand, SEND_TAB,
    chunk_urls, flow_id, parse_incoming,
};
use crate::error::FxaError;
use crate::http::Auth;
use crate::state::{CommandKeys, DeviceRecord};

/// Messages asked for per `/account/device/commands` request (the server's
/// most).
const COMMANDS_PAGE: u64 = 100;
/// Pages read per poll at most: 10,000 commands.
const MAX_COMMAND_PAGES: usize = 100;

/// A Web Push subscription, for an app that can receive pushes: the
/// accounts service then pushes "command received" (and device changes)
/// to it instead of waiting for the device to poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSubscription {
    /// The push service's endpoint URL.
    pub endpoint: String,
    /// b64url of the subscription's P-256 public key.
    pub public_key: String,
    /// b64url of its 16-byte auth secret.
    pub auth_key: String,
}

/// A device of the account, as the device list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `desktop`, `mobile`, `tablet`, `vr` or `tv`.
    pub device_type: String,
    /// Whether it is the device asking.
    pub is_current: bool,
    /// When it was last used, in ms, if known.
    pub last_access_time: Option<u64>,
    /// The commands it takes, each with its sealed keys.
    pub available_commands: BTreeMap<String, String>,
    /// Its push endpoint, when it registered one.
    pub push_endpoint: Option<String>,
}

impl Device {
    /// Whether it takes a tab sent to it (Send Tab).
    pub fn can_receive_tabs(&self) -> bool {
        self.available_commands.contains_key(SEND_TAB)
    }

    /// Whether it closes tabs when asked (Close Tabs).
    pub fn can_close_tabs(&self) -> bool {
        self.available_commands.contains_key(CLOSE_TABS)
    }
}

impl FirefoxAccount {
    /// Gives the accounts service this device's push subscription
    /// (`pushCallback`, `pushPublicKey`, `pushAuthKey` of its record), as
    /// Firefox does once it has one. Optional: without it the device reads
    /// its commands when it polls ([`FirefoxAccount::poll_commands`]).
    pub fn set_push_subscription(&mut self, push: &PushSubscription) -> Result<(), FxaError> {
        let device = self
            .state
            .as_ref()
            .and_then(|s| s.device.clone())
            .ok_or(FxaError::DeviceNotRegistered)?;
        let body = json!({
            "id": device.id,
            "pushCallback": push.endpoint,
            "pushPublicKey": push.public_key,
            "pushAuthKey": push.auth_key,
        });
        let session = self.session()?;
        self.client
            .post("account/device", &body, Auth::Token(&session))
            .map_err(plain)?;
        Ok(())
    }
}

impl FirefoxAccount {
    /// Registers this device in the account's device list (what other
    /// Firefoxes show), or renames it if it is registered already. Once
    /// the sync keys are there, it also advertises the commands it takes
    /// (Send Tab, Close Tabs), making its command keys the first time and
    /// again after the sync keys change.
    pub fn register_device(&mut self, name: &str, device_type: &str) -> Result<(), FxaError> {
        let existing = self.state.as_ref().and_then(|s| s.device.clone());
        let commands = self.current_command_keys()?;
        let mut body = match &existing {
            Some(device) => json!({ "id": device.id, "name": name }),
            None => json!({ "name": name, "type": device_type }),
        };
        if let Some(keys) = &commands {
            body["availableCommands"] = json!(advertised(keys));
        }
        let session = self.session()?;
        let answer = match self.client.post("account/device", &body, Auth::Token(&session)) {
            Err(r) if existing.is_some() && matches!(r.error, FxaError::UnknownDevice) => {
                // Removed from the list elsewhere: register anew, as
                // Firefox's `_recoverFromUnknownDevice` does.
                log::warn!("this device is no longer in the device list; registering it again");
                if let Some(object) = body.as_object_mut() {
                    object.remove("id");
                    object.insert("type".into(), json!(device_type));
                }
                self.client
                    .post("account/device", &body, Auth::Token(&session))
                    .map_err(plain)?
            }
            other => other.map_err(plain)?,
        };
        let id = str_field(&answer, "id")?.to_owned();
        let state = self.state_mut()?;
        state.device = Some(DeviceRecord {
            id,
            name: name.to_owned(),
            device_type: existing.map_or_else(|| device_type.to_owned(), |d| d.device_type),
        });
        state.command_keys = commands;
        Ok(())
    }

    /// This device's command keys for the current sync keys: the stored
    /// ones, or new ones (the first time, or after the sync keys changed).
    /// `None` before the sync keys are known.
    fn current_command_keys(&self) -> Result<Option<CommandKeys>, FxaError> {
        let Some(key) = self.sync_root_key().ok() else {
            return Ok(None);
        };
        let kid = hex::encode(key.kxcs());
        if let Some(keys) = self.state.as_ref().and_then(|s| s.command_keys.clone()) {
            if keys.kid == kid {
                return Ok(Some(keys));
            }
            log::info!("the sync keys changed: new device-command keys");
        }
        let send_tab = PrivateCommandKeys::generate()?;
        let close_tabs = PrivateCommandKeys::generate()?;
        let advertised = BTreeMap::from([
            (SEND_TAB.to_owned(), send_tab.bundle(&key)?),
            (CLOSE_TABS.to_owned(), close_tabs.bundle(&key)?),
        ]);
        Ok(Some(CommandKeys {
            kid,
            send_tab,
            close_tabs,
            advertised,
        }))
    }

    /// Makes sure the account's record of this device advertises this
    /// device's current commands (it may have registered before it had the
    /// sync keys, the keys may have changed, or the server may have lost
    /// them), re-registering when not; as Firefox's
    /// `_checkRemoteCommandsUpdateNeeded`. Whether it had to.
    pub fn ensure_device_commands(&mut self) -> Result<bool, FxaError> {
        let device = self
            .state
            .as_ref()
            .and_then(|s| s.device.clone())
            .ok_or(FxaError::DeviceNotRegistered)?;
        let wanted = self.current_command_keys()?;
        let listed = self.devices()?.into_iter().find(|d| d.is_current);
        let up_to_date = match (&listed, &wanted) {
            (None, _) => false,
            (Some(ours), Some(keys)) => {
                ours.available_commands == advertised(keys)
                    && self.state.as_ref().and_then(|s| s.command_keys.as_ref()) == Some(keys)
            }
            (Some(_), None) => true,
        };
        if up_to_date {
            return Ok(false);
        }
        self.register_device(&device.name, &device.device_type)?;
        Ok(true)
    }

    /// The account's devices (`GET /account/devices`).
    pub fn devices(&self) -> Result<Vec<Device>, FxaError> {
        let session = self.session()?;
        let answer = self
            .client
            .get("account/devices", Auth::Token(&session))
            .map_err(plain)?;
        let list = answer
            .as_array()
            .ok_or_else(|| FxaError::Protocol("the device list is not a list".into()))?;
        list.iter().map(device_from_json).collect()
    }

    /// Sends a tab to `target` (Send Tab): it opens there once the device
    /// reads its commands. Refused with [`FxaError::UnsupportedCommand`]
    /// when the device does not take tabs.
    pub fn send_tab(&self, target: &Device, url: &str, title: &str) -> Result<(), FxaError> {
        let payload = json!({
            "flowID": flow_id(),
            "streamID": flow_id(),
            "entries": [{ "title": title, "url": url }],
        });
        self.invoke(target, SEND_TAB, &payload, None)
    }

    /// Asks `target` to close the tabs showing `urls` (Close Tabs). Firefox
    /// carries at most 16 KiB of URLs per command, so many URLs go as
    /// several commands; a URL too long for one is left out (logged). The
    /// number of commands sent.
    pub fn close_tabs(&self, target: &Device, urls: &[String]) -> Result<usize, FxaError> {
        let (chunks, skipped) = chunk_urls(urls, CLOSE_TABS_MAX_PAYLOAD);
        for url in &skipped {
            log::warn!(
                "a URL of {} bytes is too long to close remotely; left out",
                url.len()
            );
        }
        let flow = flow_id();
        for chunk in &chunks {
            let payload = json!({ "flowID": flow, "streamID": flow_id(), "urls": chunk });
            self.invoke(target, CLOSE_TABS, &payload, Some(CLOSE_TABS_TTL_SECS))?;
        }
        Ok(chunks.len())
    }

    fn invoke(
        &self,
        target: &Device,
        command: &str,
        payload: &Value,
        ttl: Option<u64>,
    ) -> Result<(), FxaError> {
        let unsupported = || FxaError::UnsupportedCommand {
            command: command.to_owned(),
        };
        let bundle = target.available_commands.get(command).ok_or_else(unsupported)?;
        let key = self.sync_root_key()?;
        let plaintext = serde_json::to_vec(payload).map_err(|e| FxaError::Protocol(e.to_string()))?;
        let encrypted = encrypt_for(bundle, &key, &plaintext)?;
        let mut body = json!({
            "command": command,
            "target": target.id,
            "payload": { "encrypted": encrypted },
        });
        if let Some(ttl) = ttl {
            body["ttl"] = json!(ttl);
        }
        let session = self.session()?;
        let answer = self
            .client
            .post("account/devices/invoke_command", &body, Auth::Token(&session))
            .map_err(|r| match r.error {
                FxaError::UnsupportedCommand { .. } => unsupported(),
                other => other,
            })?;
        if answer.get("enqueued").and_then(Value::as_bool) == Some(false) {
            return Err(FxaError::Protocol(
                "the accounts server did not queue the command".into(),
            ));
        }
        Ok(())
    }

    /// Reads the commands other devices sent to this one since the last
    /// poll (`GET /account/device/commands`, from the index after the last
    /// one read), decrypted. A command that cannot be read — undecryptable,
    /// oversized, malformed, unknown, or at an index already read — is
    /// skipped with a logged reason; the ones after it are still read. The
    /// index read up to is kept in the state: save it afterwards.
    pub fn poll_commands(&mut self) -> Result<Vec<IncomingCommand>, FxaError> {
        let state = self.state.as_ref().ok_or(FxaError::NotSignedIn)?;
        if state.device.is_none() {
            return Err(FxaError::DeviceNotRegistered);
        }
        let keys = state.command_keys.clone();
        let mut next = state.last_command_index.map_or(0, |i| i + 1);
        let session = self.session()?;
        let mut received: Vec<(Option<String>, IncomingCommand)> = Vec::new();
        let mut read_up_to = None;
        for _ in 0..MAX_COMMAND_PAGES {
            let path = format!("account/device/commands?index={next}&limit={COMMANDS_PAGE}");
            let answer = self.client.get(&path, Auth::Token(&session)).map_err(plain)?;
            let messages = answer
                .get("messages")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            for message in &messages {
                let Some(index) = message.get("index").and_then(Value::as_u64) else {
                    log::warn!("a device command without an index; skipped");
                    continue;
                };
                if index < next {
                    log::warn!("device command {index} was read already; skipped");
                    continue;
                }
                read_up_to = Some(read_up_to.map_or(index, |r: u64| r.max(index)));
                if let Some(command) = read_message(keys.as_ref(), index, &message["data"]) {
                    let sender = message["data"]
                        .get("sender")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    received.push((sender, command));
                }
            }
            match read_up_to {
                Some(last) if last >= next => next = last + 1,
                _ => break,
            }
            if answer.get("last").and_then(Value::as_bool).unwrap_or(true) {
                break;
            }
        }
        let names = if received.iter().any(|(sender, _)| sender.is_some()) {
            self.devices()
                .map_err(|e| log::warn!("the device list (for the senders' names): {e}"))
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        if let Some(last) = read_up_to {
            self.state_mut()?.last_command_index = Some(last);
        }
        Ok(received
            .into_iter()
            .map(|(sender, command)| with_sender(command, sender, &names))
            .collect())
    }
}

/// The map a device advertises as `availableCommands`.
fn advertised(keys: &CommandKeys) -> BTreeMap<String, String> {
    keys.advertised.clone()
}

/// One queued message, decrypted and read; `None` (logged) when it cannot be.
fn read_message(keys: Option<&CommandKeys>, index: u64, data: &Value) -> Option<IncomingCommand> {
    let command = data.get("command").and_then(Value::as_str).unwrap_or_default();
    let own = match (keys, command) {
        (Some(keys), SEND_TAB) => &keys.send_tab,
        (Some(keys), CLOSE_TABS) => &keys.close_tabs,
        (None, _) => {
            log::warn!("device command {index} arrived before this device had command keys; skipped");
            return None;
        }
        _ => {
            log::info!("device command {index} is {command:?}, which this device does not take; skipped");
            return None;
        }
    };
    let Some(encrypted) = data.pointer("/payload/encrypted").and_then(Value::as_str) else {
        log::warn!("device command {index} has no encrypted payload; skipped");
        return None;
    };
    let plaintext = match own.decrypt(encrypted) {
        Ok(p) => p,
        Err(e) => {
            log::warn!("device command {index} cannot be read: {e}; skipped");
            return None;
        }
    };
    parse_incoming(command, &plaintext, None)
}

fn with_sender(command: IncomingCommand, sender: Option<String>, devices: &[Device]) -> IncomingCommand {
    let sender = sender.map(|id| CommandSender {
        name: devices.iter().find(|d| d.id == id).map(|d| d.name.clone()),
        id,
    });
    match command {
        IncomingCommand::TabReceived { title, url, .. } => {
            IncomingCommand::TabReceived { sender, title, url }
        }
        IncomingCommand::TabsClosed { urls, .. } => IncomingCommand::TabsClosed { sender, urls },
    }
}

fn device_from_json(d: &Value) -> Result<Device, FxaError> {
    let text = |name: &str| d.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    let available_commands = d
        .get("availableCommands")
        .and_then(Value::as_object)
        .map(|commands| {
            commands
                .iter()
                .filter_map(|(name, bundle)| Some((name.clone(), bundle.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    Ok(Device {
        id: str_field(d, "id")?.to_owned(),
        name: text("name"),
        device_type: text("type"),
        is_current: d.get("isCurrentDevice").and_then(Value::as_bool).unwrap_or(false),
        last_access_time: d.get("lastAccessTime").and_then(Value::as_u64),
        available_commands,
        push_endpoint: d.get("pushCallback").and_then(Value::as_str).map(str::to_owned),
    })
}
