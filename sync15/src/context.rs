//! [`SyncContext`]: what an engine learns about the account before it syncs.
//!
//! Some engines need facts they cannot fetch themselves: the tabs engine
//! names its record after this device's client id, labels other devices'
//! tabs with their names, and must fit its record under the server's
//! payload limit. The manager knows these (it owns the clients engine and
//! the server's `info/configuration`) and hands them to every engine
//! through [`SyncEngine::prepare_for_sync`](crate::SyncEngine::prepare_for_sync),
//! so no engine needs to depend on another.

use serde::{Deserialize, Serialize};

use crate::guid::Guid;
use crate::records::InfoConfiguration;

/// Another device of the account, as the clients collection describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Its client id (the id of its `clients` and `tabs` records).
    pub client_id: Guid,
    /// The name the user gave it.
    pub name: String,
    /// `desktop`, `mobile`, `tablet`, …
    pub device_type: String,
}

/// This device's client id and the account's other current devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientData {
    /// This device's client id.
    pub local_client_id: Guid,
    /// This device's name.
    pub local_device_name: String,
    /// The other devices that are still active (stale ones left out).
    pub devices: Vec<DeviceInfo>,
}

/// What [`SyncEngine::prepare_for_sync`](crate::SyncEngine::prepare_for_sync) receives.
#[derive(Debug, Clone, Copy)]
pub struct SyncContext<'a> {
    /// The server's limits.
    pub config: &'a InfoConfiguration,
    /// The device list, when a clients engine is in use (`None` when an
    /// engine is synced on its own, without a manager).
    pub client_data: Option<&'a ClientData>,
}
