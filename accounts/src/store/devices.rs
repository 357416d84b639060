//! Devices and the device-command relay. A device belongs to the session
//! that registered it (Firefox desktop) or to the refresh token it was
//! registered with (application-services clients authenticate device
//! routes with `Bearer <refresh token>`); ending either ends the device.
//! Commands queue per device under an index that only grows (Mozilla's
//! pushbox), until read past or expired.

use std::collections::BTreeMap;

use super::sql::Row;
use super::{Db, args};
use serde_json::Value;

use crate::error::ApiError;

/// Which credential a device hangs off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owner {
    /// A session token, by id hash.
    Session(String),
    /// A refresh token, by hash.
    Refresh(String),
}

impl Owner {
    fn columns(&self) -> (Option<&str>, Option<&str>) {
        match self {
            Owner::Session(h) => (Some(h), None),
            Owner::Refresh(h) => (None, Some(h)),
        }
    }

    fn is(&self, session: Option<&str>, refresh: Option<&str>) -> bool {
        match self {
            Owner::Session(h) => session == Some(h),
            Owner::Refresh(h) => refresh == Some(h),
        }
    }
}

/// A device row.
#[derive(Debug, Clone)]
pub(crate) struct Device {
    pub id: String,
    pub session_hash: Option<String>,
    pub refresh_hash: Option<String>,
    pub name: String,
    pub device_type: String,
    pub created_at: u64,
    pub last_access_at: u64,
    pub push_callback: Option<String>,
    pub push_public_key: Option<String>,
    pub push_auth_key: Option<String>,
    pub push_expired: bool,
    pub commands: BTreeMap<String, String>,
}

impl Device {
    pub fn owned_by(&self, owner: &Owner) -> bool {
        owner.is(self.session_hash.as_deref(), self.refresh_hash.as_deref())
    }
}

/// The changes a `POST /account/device` asks for.
#[derive(Debug, Default)]
pub(crate) struct DeviceUpdate {
    pub name: Option<String>,
    pub device_type: Option<String>,
    /// `Some((callback, public key, auth key))`.
    pub push: Option<(String, Option<String>, Option<String>)>,
    pub commands: Option<BTreeMap<String, String>>,
}

const COLUMNS: &str = "id, session_hash, refresh_hash, name, type, created_at, last_access_at,
    push_callback, push_public_key, push_auth_key, push_expired, commands";

fn from_row(row: &Row<'_>) -> Result<Device, ApiError> {
    let commands: String = row.get(11)?;
    Ok(Device {
        id: row.get(0)?,
        session_hash: row.get(1)?,
        refresh_hash: row.get(2)?,
        name: row.get(3)?,
        device_type: row.get(4)?,
        created_at: row.get(5)?,
        last_access_at: row.get(6)?,
        push_callback: row.get(7)?,
        push_public_key: row.get(8)?,
        push_auth_key: row.get(9)?,
        push_expired: row.get(10)?,
        commands: serde_json::from_str(&commands).unwrap_or_default(),
    })
}

/// The account's devices, oldest first.
pub(crate) fn list(db: &Db<'_>, uid: &str) -> Result<Vec<Device>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM fxa_devices WHERE uid = ?1 ORDER BY created_at, id");
    db.rows(&sql, args![uid], from_row)
}

/// The device of the account with this id.
pub(crate) fn by_id(db: &Db<'_>, uid: &str, id: &str) -> Result<Option<Device>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM fxa_devices WHERE uid = ?1 AND id = ?2");
    db.row(&sql, args![uid, id], from_row)
}

/// The device registered by this credential, if any.
pub(crate) fn of_owner(db: &Db<'_>, uid: &str, owner: &Owner) -> Result<Option<Device>, ApiError> {
    Ok(list(db, uid)?.into_iter().find(|d| d.owned_by(owner)))
}

/// Creates the device (`id: None`, or the credential's own device missing)
/// or updates it; returns the row as it now is. An `id` that is not one of
/// the account's devices is errno 123.
pub(crate) fn upsert(
    db: &Db<'_>,
    uid: &str,
    owner: &Owner,
    id: Option<&str>,
    update: DeviceUpdate,
    new_id: String,
    now: u64,
) -> Result<Device, ApiError> {
    let existing = match id {
        Some(id) => Some(by_id(db, uid, id)?.ok_or_else(ApiError::unknown_device)?),
        None => of_owner(db, uid, owner)?,
    };
    let id = match existing {
        Some(device) => device.id,
        None => {
            let (session, refresh) = owner.columns();
            db.exec(
                "INSERT INTO fxa_devices (id, uid, session_hash, refresh_hash, created_at, last_access_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                args![new_id, uid, session, refresh, now],
            )?;
            new_id
        }
    };
    if let Some(name) = update.name {
        db.exec("UPDATE fxa_devices SET name = ?2 WHERE id = ?1", args![id, name])?;
    }
    if let Some(device_type) = update.device_type {
        db.exec(
            "UPDATE fxa_devices SET type = ?2 WHERE id = ?1",
            args![id, device_type],
        )?;
    }
    if let Some((callback, public_key, auth_key)) = update.push {
        db.exec(
            "UPDATE fxa_devices SET push_callback = ?2, push_public_key = ?3, push_auth_key = ?4,
                 push_expired = FALSE WHERE id = ?1",
            args![id, callback, public_key, auth_key],
        )?;
    }
    if let Some(commands) = update.commands {
        let json = serde_json::to_string(&commands).map_err(|_| ApiError::unexpected())?;
        db.exec(
            "UPDATE fxa_devices SET commands = ?2 WHERE id = ?1",
            args![id, json],
        )?;
    }
    db.exec(
        "UPDATE fxa_devices SET last_access_at = ?2 WHERE id = ?1",
        args![id, now],
    )?;
    by_id(db, uid, &id)?.ok_or_else(ApiError::unknown_device)
}

/// Deletes one of the account's devices (and its queue).
pub(crate) fn delete(db: &Db<'_>, uid: &str, id: &str) -> Result<bool, ApiError> {
    Ok(db.exec(
        "DELETE FROM fxa_devices WHERE uid = ?1 AND id = ?2",
        args![uid, id],
    )? == 1)
}

/// Queues `data` (`{command, payload, sender}`) for a device; its index.
pub(crate) fn enqueue(db: &Db<'_>, device: &str, data: &Value, expires_at: u64) -> Result<u64, ApiError> {
    let index = db
        .row(
            "UPDATE fxa_devices SET command_index = command_index + 1 WHERE id = ?1 RETURNING command_index",
            args![device],
            |row| row.get::<u64>(0),
        )?
        .ok_or_else(ApiError::unknown_device)?;
    db.exec(
        "INSERT INTO fxa_commands (device_id, idx, data, expires_at) VALUES (?1, ?2, ?3, ?4)",
        args![device, index, &data.to_string(), expires_at],
    )?;
    Ok(index)
}

/// A page of a device's command queue.
pub(crate) struct CommandPage {
    /// `(index, {command, payload, sender})`, oldest first.
    pub messages: Vec<(u64, Value)>,
    /// Whether nothing waits beyond this page.
    pub last: bool,
    /// The highest index ever given to the device.
    pub highest: u64,
}

/// A page of a device's queue from `index` on.
pub(crate) fn pending(
    db: &Db<'_>,
    device: &str,
    index: u64,
    limit: usize,
    now: u64,
) -> Result<CommandPage, ApiError> {
    db.exec(
        "DELETE FROM fxa_commands WHERE device_id = ?1 AND expires_at <= ?2",
        args![device, now],
    )?;
    let rows = db.rows(
        "SELECT idx, data FROM fxa_commands WHERE device_id = ?1 AND idx >= ?2 ORDER BY idx LIMIT ?3",
        args![device, index, limit as u64 + 1],
        |row| Ok((row.get::<u64>(0)?, row.get::<String>(1)?)),
    )?;
    let mut messages: Vec<(u64, Value)> = rows
        .into_iter()
        .map(|(idx, data)| (idx, serde_json::from_str(&data).unwrap_or(Value::Null)))
        .collect();
    let last = messages.len() <= limit;
    messages.truncate(limit);
    let highest = db
        .row(
            "SELECT command_index FROM fxa_devices WHERE id = ?1",
            args![device],
            |row| row.get::<u64>(0),
        )?
        .unwrap_or(0);
    Ok(CommandPage {
        messages,
        last,
        highest,
    })
}
