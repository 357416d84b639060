//! The `clients` record format and commands.

use serde::{Deserialize, Serialize};
use sync15::{Guid, UnknownFields};

/// How long a clients record lives on the server without being refreshed.
pub const CLIENTS_TTL_SECS: u32 = 180 * 24 * 3600;

/// A device's record in the `clients` collection, exactly as Firefox writes
/// it. Fields this code does not know ride along in `unknown`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientRecord {
    /// The device's client id (also the record id).
    pub id: Guid,
    /// The device's name, as the user sees it.
    pub name: String,
    /// `desktop`, `mobile`, `tablet`, `tv`, `vr`.
    #[serde(rename = "type")]
    pub device_type: String,
    /// Commands waiting for this device.
    #[serde(default)]
    pub commands: Vec<CommandRecord>,
    /// The application version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Storage protocols the device speaks.
    #[serde(default)]
    pub protocols: Vec<String>,
    /// The operating system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// The application's package (mobile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_package: Option<String>,
    /// The application's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    /// `desktop`, `phone`, `tablet`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formfactor: Option<String>,
    /// The device model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The device's id in Firefox Accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fxa_device_id: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// A command as it travels in a clients record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRecord {
    /// `wipeEngine`, `resetEngine`, `resetAll`, `logout`, `displayURI`, or
    /// one this code does not know (kept and passed on).
    pub command: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// A telemetry id tying the send to the receipt.
    #[serde(default, rename = "flowID", skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<String>,
}

impl CommandRecord {
    /// Two commands are the same if name and arguments match; `flowID` differs per send.
    pub fn same_as(&self, other: &CommandRecord) -> bool {
        self.command == other.command && self.args == other.args
    }
}

/// A command one device asks another to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Delete the local data of an engine.
    WipeEngine(String),
    /// Forget an engine's sync state (it re-syncs from scratch).
    ResetEngine(String),
    /// Forget every engine's sync state.
    ResetAll,
    /// Sign out.
    Logout,
    /// Show a URI sent by another device.
    DisplayUri {
        /// The URI.
        uri: String,
        /// The sending device's client id.
        sender: String,
        /// The page's title.
        title: String,
    },
}

impl Command {
    /// The wire form.
    pub fn to_record(&self) -> CommandRecord {
        let (command, args) = match self {
            Command::WipeEngine(engine) => ("wipeEngine", vec![engine.clone()]),
            Command::ResetEngine(engine) => ("resetEngine", vec![engine.clone()]),
            Command::ResetAll => ("resetAll", vec![]),
            Command::Logout => ("logout", vec![]),
            Command::DisplayUri { uri, sender, title } => {
                ("displayURI", vec![uri.clone(), sender.clone(), title.clone()])
            }
        };
        CommandRecord {
            command: command.to_owned(),
            args,
            flow_id: Some(Guid::random().to_string()),
        }
    }

    /// Reads the wire form; `None` for commands this code does not know or
    /// whose arguments are wrong.
    pub fn from_record(record: &CommandRecord) -> Option<Command> {
        let arg = |i: usize| record.args.get(i).cloned();
        match (record.command.as_str(), record.args.len()) {
            ("wipeEngine", 1) => arg(0).map(Command::WipeEngine),
            ("resetEngine", 1) => arg(0).map(Command::ResetEngine),
            ("resetAll", 0) => Some(Command::ResetAll),
            ("logout", 0) => Some(Command::Logout),
            ("displayURI", 2 | 3) => Some(Command::DisplayUri {
                uri: arg(0)?,
                sender: arg(1)?,
                title: arg(2).unwrap_or_default(),
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_firefox_record_round_trips_with_unknown_fields() {
        let firefox = json!({
            "id": "abcdefghijkl",
            "name": "Nightly on laptop",
            "type": "desktop",
            "commands": [{"command": "displayURI", "args": ["https://example.com/", "zyxwvutsrqpo", "Example"], "flowID": "f1"}],
            "version": "132.0a1",
            "protocols": ["1.5"],
            "os": "Linux",
            "application": "Firefox",
            "fxaDeviceId": "0123abcd",
            "capabilities": {"someFutureThing": true}
        });
        let record: ClientRecord = serde_json::from_value(firefox.clone()).unwrap();
        assert_eq!(record.device_type, "desktop");
        assert_eq!(record.commands[0].flow_id.as_deref(), Some("f1"));
        assert_eq!(serde_json::to_value(&record).unwrap(), firefox);
    }

    #[test]
    fn commands_round_trip_and_unknown_ones_are_none() {
        for command in [
            Command::WipeEngine("history".into()),
            Command::ResetEngine("bookmarks".into()),
            Command::ResetAll,
            Command::Logout,
            Command::DisplayUri {
                uri: "https://example.com".into(),
                sender: "abc".into(),
                title: "t".into(),
            },
        ] {
            assert_eq!(Command::from_record(&command.to_record()), Some(command));
        }
        let unknown = CommandRecord {
            command: "repairRequest".into(),
            args: vec![],
            flow_id: None,
        };
        assert_eq!(Command::from_record(&unknown), None);
        let wrong_args = CommandRecord {
            command: "wipeEngine".into(),
            args: vec![],
            flow_id: None,
        };
        assert_eq!(Command::from_record(&wrong_args), None);
    }
}
