//! [`CommandInbox`]: a simulated device's Firefox Account, for sending
//! device commands and for the sync manager to read the ones it receives.

use fxa_client::FirefoxAccount;
use parking_lot::Mutex;
use sync15::{DeviceCommand, DeviceCommandSource, EngineError};

/// One device's Firefox Account (signed in, device registered): the
/// manager polls it at the start of each sync
/// ([`crate::Device::read_device_commands_from`]), and a test sends with it
/// ([`CommandInbox::account`]).
pub struct CommandInbox {
    fxa: Mutex<FirefoxAccount>,
}

impl std::fmt::Debug for CommandInbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandInbox").finish_non_exhaustive()
    }
}

impl CommandInbox {
    /// For a signed-in account whose device is registered.
    pub fn new(fxa: FirefoxAccount) -> Self {
        CommandInbox { fxa: Mutex::new(fxa) }
    }

    /// Runs `f` with the account (to send a tab, list devices, …).
    pub fn account<T>(&self, f: impl FnOnce(&mut FirefoxAccount) -> T) -> T {
        f(&mut self.fxa.lock())
    }
}

impl DeviceCommandSource for CommandInbox {
    fn poll(&self) -> Result<Vec<DeviceCommand>, EngineError> {
        Ok(self
            .fxa
            .lock()
            .poll_commands()?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}
