//! Devices and the device-command relay. A device belongs to the session
//! that registered it (Firefox desktop) or to the refresh token it was
//! registered with (application-services clients authenticate device
//! routes with `Bearer <refresh token>`); ending either ends the device.
//! Commands queue per device under an index that only grows (Mozilla's
//! pushbox), until read past or expired.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, Row, params};
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

fn from_row(row: &Row<'_>) -> rusqlite::Result<Device> {
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
pub(crate) fn list(conn: &Connection, uid: &str) -> Result<Vec<Device>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM fxa_devices WHERE uid = ?1 ORDER BY created_at, id");
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map([uid], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The device of the account with this id.
pub(crate) fn by_id(conn: &Connection, uid: &str, id: &str) -> Result<Option<Device>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM fxa_devices WHERE uid = ?1 AND id = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![uid, id], from_row)
        .optional()?)
}

/// The device registered by this credential, if any.
pub(crate) fn of_owner(conn: &Connection, uid: &str, owner: &Owner) -> Result<Option<Device>, ApiError> {
    Ok(list(conn, uid)?.into_iter().find(|d| d.owned_by(owner)))
}

/// Creates the device (`id: None`, or the credential's own device missing)
/// or updates it; returns the row as it now is. An `id` that is not one of
/// the account's devices is errno 123.
pub(crate) fn upsert(
    conn: &Connection,
    uid: &str,
    owner: &Owner,
    id: Option<&str>,
    update: DeviceUpdate,
    new_id: String,
    now: u64,
) -> Result<Device, ApiError> {
    let existing = match id {
        Some(id) => Some(by_id(conn, uid, id)?.ok_or_else(ApiError::unknown_device)?),
        None => of_owner(conn, uid, owner)?,
    };
    let id = match existing {
        Some(device) => device.id,
        None => {
            let (session, refresh) = owner.columns();
            conn.execute(
                "INSERT INTO fxa_devices (id, uid, session_hash, refresh_hash, created_at, last_access_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![new_id, uid, session, refresh, now],
            )?;
            new_id
        }
    };
    if let Some(name) = update.name {
        conn.execute(
            "UPDATE fxa_devices SET name = ?2 WHERE id = ?1",
            params![id, name],
        )?;
    }
    if let Some(device_type) = update.device_type {
        conn.execute(
            "UPDATE fxa_devices SET type = ?2 WHERE id = ?1",
            params![id, device_type],
        )?;
    }
    if let Some((callback, public_key, auth_key)) = update.push {
        conn.execute(
            "UPDATE fxa_devices SET push_callback = ?2, push_public_key = ?3, push_auth_key = ?4,
                 push_expired = 0 WHERE id = ?1",
            params![id, callback, public_key, auth_key],
        )?;
    }
    if let Some(commands) = update.commands {
        let json = serde_json::to_string(&commands).map_err(|_| ApiError::unexpected())?;
        conn.execute(
            "UPDATE fxa_devices SET commands = ?2 WHERE id = ?1",
            params![id, json],
        )?;
    }
    conn.execute(
        "UPDATE fxa_devices SET last_access_at = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    by_id(conn, uid, &id)?.ok_or_else(ApiError::unknown_device)
}

/// Deletes one of the account's devices (and its queue).
pub(crate) fn delete(conn: &Connection, uid: &str, id: &str) -> Result<bool, ApiError> {
    Ok(conn.execute(
        "DELETE FROM fxa_devices WHERE uid = ?1 AND id = ?2",
        params![uid, id],
    )? == 1)
}

/// Queues `data` (`{command, payload, sender}`) for a device; its index.
pub(crate) fn enqueue(
    conn: &Connection,
    device: &str,
    data: &Value,
    expires_at: u64,
) -> Result<u64, ApiError> {
    let index: u64 = conn.query_row(
        "UPDATE fxa_devices SET command_index = command_index + 1 WHERE id = ?1 RETURNING command_index",
        [device],
        |row| row.get(0),
    )?;
    conn.execute(
        "INSERT INTO fxa_commands (device_id, idx, data, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![device, index, data.to_string(), expires_at],
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
    conn: &Connection,
    device: &str,
    index: u64,
    limit: usize,
    now: u64,
) -> Result<CommandPage, ApiError> {
    conn.execute(
        "DELETE FROM fxa_commands WHERE device_id = ?1 AND expires_at <= ?2",
        params![device, now],
    )?;
    let mut statement = conn.prepare_cached(
        "SELECT idx, data FROM fxa_commands WHERE device_id = ?1 AND idx >= ?2 ORDER BY idx LIMIT ?3",
    )?;
    let rows = statement.query_map(params![device, index, limit as i64 + 1], |row| {
        Ok((row.get::<_, u64>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut messages = Vec::new();
    for row in rows {
        let (idx, data) = row?;
        messages.push((idx, serde_json::from_str(&data).unwrap_or(Value::Null)));
    }
    let last = messages.len() <= limit;
    messages.truncate(limit);
    let highest = conn.query_row(
        "SELECT command_index FROM fxa_devices WHERE id = ?1",
        [device],
        |row| row.get(0),
    )?;
    Ok(CommandPage {
        messages,
        last,
        highest,
    })
}
