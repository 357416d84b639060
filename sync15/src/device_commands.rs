//! Commands between the account's devices that travel through Firefox
//! Accounts rather than the clients collection: a tab sent to this device
//! (Send Tab) and tabs to close on it (Close Tabs).
//!
//! The protocol — device registration, encryption, the accounts server's
//! queue — belongs to an accounts client (this workspace's `fxa-client`);
//! the sync manager only needs the commands, so it reads them through
//! [`DeviceCommandSource`], which the app implements over its accounts
//! client. That keeps the manager free of the accounts crate, and an app
//! that signs in another way free of both.

use serde::Serialize;

use crate::error::EngineError;

/// The device a command came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceCommandSender {
    /// Its Firefox Accounts device id.
    pub id: String,
    /// Its name, if the device list still has it.
    pub name: Option<String>,
}

/// A command another device sent to this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "command", rename_all = "camelCase")]
pub enum DeviceCommand {
    /// Open this page (Send Tab): the app shows it.
    OpenTab {
        /// Who sent it.
        sender: Option<DeviceCommandSender>,
        /// The page's title (may be empty).
        title: String,
        /// The page.
        url: String,
    },
    /// Close the tabs showing these pages (Close Tabs): the tabs engine
    /// drops them from this device's tabs, and the app closes them.
    CloseTabs {
        /// Who sent it.
        sender: Option<DeviceCommandSender>,
        /// The pages.
        urls: Vec<String>,
    },
}

/// Where the manager reads the commands sent to this device since it last
/// looked (each command once).
pub trait DeviceCommandSource: Send + Sync {
    /// The commands waiting, oldest first.
    fn poll(&self) -> Result<Vec<DeviceCommand>, EngineError>;
}
