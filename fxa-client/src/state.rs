//! The account's state: the one value an app persists between runs.
//!
//! **It is secret.** It holds the session token (full access to the
//! account), the refresh token, and the oldsync scoped key (which decrypts
//! the person's synced data), and the private keys of this device's
//! device commands. Treat it as a password: this crate writes it
//! only where the caller says ([`AccountState::save`]), creating the file
//! with mode 0600 and replacing it atomically; every `Debug` of it redacts
//! the secrets. It never holds the password, kB, or anything derived from
//! the password: like Firefox, only the scoped key (kSync, kXCS) is kept.

use std::io::Write as _;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sync15::SyncRootKey;

use crate::commands::keys::PrivateCommandKeys;
use crate::error::FxaError;

/// The version of this file format.
pub const STATE_VERSION: u32 = 1;

/// Everything the account needs to resume: see the module docs.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccountState {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// The auth server it belongs to.
    pub auth_url: String,
    /// The OAuth client id tokens were issued to.
    pub client_id: String,
    /// The account's email, as the server has it.
    pub email: String,
    /// The account id.
    pub uid: String,
    /// The session token, hex. Secret.
    pub(crate) session_token: Option<String>,
    /// The OAuth refresh token. Secret.
    pub(crate) refresh_token: Option<String>,
    /// The current OAuth access token. Secret.
    pub(crate) access_token: Option<StoredAccessToken>,
    /// The oldsync scoped key. Secret.
    pub(crate) sync_key: Option<StoredSyncKey>,
    /// This device's record in the account's device list.
    pub device: Option<DeviceRecord>,
    /// This device's device-command keys. Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) command_keys: Option<CommandKeys>,
    /// The index of the last device command read from the account's queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_command_index: Option<u64>,
}

/// The keys of the commands this device takes, and the oldsync key id
/// (hex of kXCS) their bundles were sealed with: a new sync key (after a
/// password reset) means new keys.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct CommandKeys {
    pub kid: String,
    pub send_tab: PrivateCommandKeys,
    pub close_tabs: PrivateCommandKeys,
    /// The `availableCommands` last sent (the public halves, sealed).
    pub advertised: std::collections::BTreeMap<String, String>,
}

impl std::fmt::Debug for AccountState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let present = |b: bool| if b { "[redacted]" } else { "none" };
        f.debug_struct("AccountState")
            .field("auth_url", &self.auth_url)
            .field("email", &self.email)
            .field("uid", &self.uid)
            .field("session_token", &present(self.session_token.is_some()))
            .field("refresh_token", &present(self.refresh_token.is_some()))
            .field("access_token", &present(self.access_token.is_some()))
            .field("sync_key", &present(self.sync_key.is_some()))
            .field("device", &self.device)
            .field("command_keys", &present(self.command_keys.is_some()))
            .field("last_command_index", &self.last_command_index)
            .finish()
    }
}

/// An access token and when it stops working.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct StoredAccessToken {
    pub token: String,
    /// Seconds since the epoch.
    pub expires_at: u64,
}

/// kSync and kXCS (hex) and the key-rotation timestamp.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct StoredSyncKey {
    pub ksync: String,
    pub kxcs: String,
    pub keys_changed_at: u64,
}

impl StoredSyncKey {
    pub fn from_key(key: &SyncRootKey) -> Self {
        StoredSyncKey {
            ksync: hex::encode(key.ksync()),
            kxcs: hex::encode(key.kxcs()),
            keys_changed_at: key.key_rotation_timestamp(),
        }
    }

    pub fn to_key(&self) -> Result<SyncRootKey, FxaError> {
        let bad = |what: &str| FxaError::State(format!("the stored {what} is not hex"));
        let ksync = hex::decode(&self.ksync).map_err(|_| bad("kSync"))?;
        let kxcs = hex::decode(&self.kxcs).map_err(|_| bad("kXCS"))?;
        SyncRootKey::from_scoped_key(&ksync, &kxcs, self.keys_changed_at)
            .map_err(|e| FxaError::State(format!("the stored sync key: {e}")))
    }
}

/// A device in the account's device list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceRecord {
    /// The device id FxA assigned.
    pub id: String,
    /// Its name, as other devices show it.
    pub name: String,
    /// `desktop`, `mobile`, `tablet`, `vr` or `tv`.
    #[serde(rename = "type")]
    pub device_type: String,
}

impl AccountState {
    pub(crate) fn new(auth_url: &str, client_id: &str, email: &str, uid: &str) -> Self {
        AccountState {
            version: STATE_VERSION,
            auth_url: auth_url.to_owned(),
            client_id: client_id.to_owned(),
            email: email.to_owned(),
            uid: uid.to_owned(),
            session_token: None,
            refresh_token: None,
            access_token: None,
            sync_key: None,
            device: None,
            command_keys: None,
            last_command_index: None,
        }
    }

    /// Whether sign-in finished: there are sync keys and a refresh token.
    pub fn is_signed_in(&self) -> bool {
        self.sync_key.is_some() && self.refresh_token.is_some()
    }

    /// The state as JSON (secret: see the module docs).
    pub fn to_json(&self) -> Result<String, FxaError> {
        serde_json::to_string(self).map_err(|e| FxaError::State(e.to_string()))
    }

    /// A state from [`AccountState::to_json`].
    pub fn from_json(json: &str) -> Result<Self, FxaError> {
        let state: AccountState =
            serde_json::from_str(json).map_err(|e| FxaError::State(format!("not an account state: {e}")))?;
        if state.version != STATE_VERSION {
            return Err(FxaError::State(format!(
                "state version {} is not {STATE_VERSION}",
                state.version
            )));
        }
        Ok(state)
    }

    /// Writes the state to `path`: a new file is created with mode 0600
    /// next to it, synced, then renamed over `path`, so a crash leaves
    /// either the old state or the new one, and nobody else can read either.
    pub fn save(&self, path: &Path) -> Result<(), FxaError> {
        let io = |what: &str, e: std::io::Error| FxaError::State(format!("{what} {}: {e}", path.display()));
        let json = self.to_json()?;
        let tmp = path.with_extension("tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp).map_err(|e| io("creating", e))?;
        // A file left by an older version may have other permissions.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| io("protecting", e))?;
        }
        file.write_all(json.as_bytes()).map_err(|e| io("writing", e))?;
        file.sync_all().map_err(|e| io("syncing", e))?;
        std::fs::rename(&tmp, path).map_err(|e| io("replacing", e))
    }

    /// Reads a state [`AccountState::save`] wrote.
    pub fn load(path: &Path) -> Result<Self, FxaError> {
        let json = std::fs::read_to_string(path)
            .map_err(|e| FxaError::State(format!("reading {}: {e}", path.display())))?;
        Self::from_json(&json)
    }
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> AccountState {
        let mut s = AccountState::new("https://auth.example", "c", "a@b", "u");
        s.session_token = Some("aa".repeat(32));
        s.refresh_token = Some("refresh-secret".into());
        s.access_token = Some(StoredAccessToken {
            token: "access-secret".into(),
            expires_at: 1,
        });
        s.sync_key = Some(StoredSyncKey::from_key(&SyncRootKey::new(&[9; 32], 5).unwrap()));
        s
    }

    #[test]
    fn debug_redacts_every_secret() {
        let s = state();
        let debug = format!("{s:?}");
        for secret in [
            "aaaa",
            "refresh-secret",
            "access-secret",
            &s.sync_key.as_ref().unwrap().ksync,
        ] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert!(debug.contains("a@b"));
    }

    #[test]
    fn saved_with_owner_only_permissions_and_loaded_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("account.json");
        let s = state();
        s.save(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(AccountState::load(&path).unwrap(), s);
        let key = AccountState::load(&path)
            .unwrap()
            .sync_key
            .unwrap()
            .to_key()
            .unwrap();
        assert_eq!(key, SyncRootKey::new(&[9; 32], 5).unwrap());
        std::fs::write(&path, r#"{"version": 99}"#).unwrap();
        assert!(AccountState::load(&path).is_err());
        assert!(AccountState::load(&dir.path().join("missing")).is_err());
    }
}
