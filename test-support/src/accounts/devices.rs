// Handlers answer refusals directly (see routes.rs).
#![allow(clippy::result_large_err)]
//! The stand-in's device list and device-command relay, as Mozilla's auth
//! server keeps them (`fxa-auth-server` `routes/devices-and-sessions`, its
//! pushbox queue):
//!
//! - `POST /account/device` registers the session's device or updates it
//!   (name, type, push fields, `availableCommands`); an unknown `id` is
//!   errno 123.
//! - `POST /account/devices/invoke_command` queues a command for a device
//!   of the account: errno 123 for an unknown target, 157 for a command it
//!   does not advertise; `ttl` (seconds, Send Tab's default 30 days) drops
//!   it unread later. The sender is the calling session's device.
//! - `GET /account/device/commands?index=N&limit=L` answers the calling
//!   device's queue from index N (indexes start at 1 and only grow):
//!   `{index, last, messages: [{index, data: {command, payload, sender}}]}`,
//!   `index` being the last message's, or the highest ever given when
//!   there are none (what application-services keeps).
//! - `POST /account/devices/notify` is accepted: there is no push service
//!   to deliver it with, so a device reads its queue when it polls.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::requests::{fail, invalid_token, verified_json, verified_session};
use super::{Account, DeviceRecord, QueuedCommand, Shared, StandInAccounts, now_ms, random};

type S = State<Arc<Shared>>;

/// Send Tab's default lifetime (`DEFAULT_COMMAND_TTL`).
const SEND_TAB_TTL_SECS: u64 = 30 * 24 * 3600;
const SEND_TAB: &str = "https://identity.mozilla.com/cmd/open-uri";
/// The largest `ttl` the auth server accepts.
const MAX_TTL_SECS: u64 = 10_000_000;

fn invalid_parameter(what: &str) -> Response {
    fail(
        400,
        107,
        &format!("Invalid parameter in request body: {what}"),
        json!({}),
    )
}

fn device_json(d: &DeviceRecord, current_session: &str) -> Value {
    json!({
        "id": d.id,
        "name": d.name,
        "type": d.device_type,
        "isCurrentDevice": d.session_id == current_session,
        "lastAccessTime": now_ms(),
        "location": {},
        "pushCallback": d.push_callback,
        "pushPublicKey": d.push_public_key,
        "pushAuthKey": d.push_auth_key,
        "pushEndpointExpired": false,
        "availableCommands": d.available_commands,
    })
}

/// `POST /v1/account/device`.
pub(super) async fn device(
    State(shared): S,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (session, uid, request) = match verified_json(&shared, &method, &uri, &headers, &body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let available_commands = match request.get("availableCommands") {
        None => None,
        Some(Value::Object(map)) => {
            let mut commands = BTreeMap::new();
            for (name, bundle) in map {
                let Some(bundle) = bundle.as_str() else {
                    return invalid_parameter("availableCommands");
                };
                commands.insert(name.clone(), bundle.to_owned());
            }
            Some(commands)
        }
        Some(_) => return invalid_parameter("availableCommands"),
    };
    let text = |name: &str| request.get(name).and_then(Value::as_str).map(str::to_owned);
    let mut store = shared.store.lock();
    let Some(account) = store.account_by_uid(&uid) else {
        return invalid_token();
    };
    // An explicit id must be the account's; without one, the session's own
    // device (if it has one) is updated, as Mozilla keeps `deviceId`.
    let position = match text("id") {
        Some(id) => match account.devices.iter().position(|d| d.id == id) {
            Some(p) => Some(p),
            None => return fail(400, 123, "Unknown device", json!({})),
        },
        None => account.devices.iter().position(|d| d.session_id == session),
    };
    let index = match position {
        Some(p) => p,
        None => {
            account.devices.push(DeviceRecord {
                id: hex::encode(random::<16>()),
                name: String::new(),
                device_type: "desktop".into(),
                session_id: session.clone(),
                available_commands: BTreeMap::new(),
                push_callback: None,
                push_public_key: None,
                push_auth_key: None,
            });
            account.devices.len() - 1
        }
    };
    let record = &mut account.devices[index];
    if let Some(name) = text("name") {
        record.name = name;
    }
    if let Some(device_type) = text("type") {
        record.device_type = device_type;
    }
    if let Some(callback) = text("pushCallback") {
        record.push_callback = Some(callback);
        record.push_public_key = text("pushPublicKey");
        record.push_auth_key = text("pushAuthKey");
    }
    if let Some(commands) = available_commands {
        record.available_commands = commands;
    }
    let mut answer = device_json(record, &session);
    answer["createdAt"] = json!(now_ms());
    axum::Json(answer).into_response()
}

/// `GET /v1/account/devices`.
pub(super) async fn devices(State(shared): S, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let (session, uid) = match verified_session(&shared, &method, &uri, &headers, b"") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut store = shared.store.lock();
    let Some(account) = store.account_by_uid(&uid) else {
        return invalid_token();
    };
    let list: Vec<Value> = account.devices.iter().map(|d| device_json(d, &session)).collect();
    axum::Json(Value::Array(list)).into_response()
}

/// `POST /v1/account/devices/invoke_command`.
pub(super) async fn invoke_command(
    State(shared): S,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (session, uid, request) = match verified_json(&shared, &method, &uri, &headers, &body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (Some(target), Some(command)) = (
        request.get("target").and_then(Value::as_str),
        request.get("command").and_then(Value::as_str),
    ) else {
        return invalid_parameter("target and command");
    };
    let Some(payload) = request.get("payload").filter(|p| p.is_object()) else {
        return invalid_parameter("payload");
    };
    let ttl = match request.get("ttl") {
        None => (command == SEND_TAB).then_some(SEND_TAB_TTL_SECS),
        Some(v) => match v.as_u64().filter(|t| *t <= MAX_TTL_SECS) {
            Some(t) => Some(t),
            None => return invalid_parameter("ttl"),
        },
    };
    let mut store = shared.store.lock();
    let Some(account) = store.account_by_uid(&uid) else {
        return invalid_token();
    };
    let sender = account
        .devices
        .iter()
        .find(|d| d.session_id == session)
        .map(|d| d.id.clone());
    let Some(device) = account.devices.iter().find(|d| d.id == target) else {
        return fail(400, 123, "Unknown device", json!({}));
    };
    if !device.available_commands.contains_key(command) {
        return fail(400, 157, "Unavailable device command", json!({}));
    }
    let device_id = device.id.clone();
    enqueue(account, &device_id, command, payload.clone(), sender, ttl);
    axum::Json(json!({"enqueued": true, "notified": false, "notifyError": "no push callback"}))
        .into_response()
}

fn enqueue(
    account: &mut Account,
    device: &str,
    command: &str,
    payload: Value,
    sender: Option<String>,
    ttl: Option<u64>,
) {
    let next = account.command_indexes.entry(device.to_owned()).or_insert(0);
    *next += 1;
    let index = *next;
    account.commands.push(QueuedCommand {
        device: device.to_owned(),
        index,
        data: json!({ "command": command, "payload": payload, "sender": sender }),
        expires_at: ttl.map(|t| now_ms().saturating_add(t.saturating_mul(1000))),
    });
}

/// `GET /v1/account/device/commands?index=N&limit=L`.
pub(super) async fn device_commands(
    State(shared): S,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let (session, uid) = match verified_session(&shared, &method, &uri, &headers, b"") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let query: BTreeMap<&str, &str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .collect();
    let number = |name: &str| query.get(name).map(|v| v.parse::<u64>());
    let index = match number("index") {
        None => 0,
        Some(Ok(i)) => i,
        Some(Err(_)) => return fail(400, 107, "Invalid parameter in request query: index", json!({})),
    };
    let limit = match number("limit") {
        None => 100,
        Some(Ok(l)) if l <= 100 => l as usize,
        Some(_) => return fail(400, 107, "Invalid parameter in request query: limit", json!({})),
    };
    let mut store = shared.store.lock();
    let Some(account) = store.account_by_uid(&uid) else {
        return invalid_token();
    };
    let Some(device) = account
        .devices
        .iter()
        .find(|d| d.session_id == session)
        .map(|d| d.id.clone())
    else {
        return axum::Json(json!({"index": 0, "last": true, "messages": []})).into_response();
    };
    let now = now_ms();
    account
        .commands
        .retain(|c| c.expires_at.is_none_or(|at| at > now));
    let index = if std::mem::take(&mut account.replay_commands) {
        0
    } else {
        index
    };
    let waiting: Vec<&QueuedCommand> = account
        .commands
        .iter()
        .filter(|c| c.device == device && c.index >= index)
        .collect();
    let messages: Vec<Value> = waiting
        .iter()
        .take(limit)
        .map(|c| json!({"index": c.index, "data": c.data}))
        .collect();
    let highest = account.command_indexes.get(&device).copied().unwrap_or(0);
    let last_index = messages
        .last()
        .and_then(|m| m["index"].as_u64())
        .unwrap_or(highest);
    axum::Json(json!({
        "index": last_index,
        "last": waiting.len() <= limit,
        "messages": messages,
    }))
    .into_response()
}

/// `POST /v1/account/devices/notify`.
pub(super) async fn notify(
    State(shared): S,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match verified_session(&shared, &method, &uri, &headers, &body) {
        Ok(_) => axum::Json(json!({})).into_response(),
        Err(r) => r,
    }
}

/// Test knobs: devices and queued commands that no client of ours would
/// make, to see how clients take them.
impl StandInAccounts {
    /// Adds a device to the account's list as another client registered it
    /// (`available_commands` as it advertised them), on a session of its
    /// own; its id.
    pub fn add_device(
        &self,
        email: &str,
        name: &str,
        device_type: &str,
        available_commands: &[(&str, &str)],
    ) -> String {
        let id = hex::encode(random::<16>());
        let record = DeviceRecord {
            id: id.clone(),
            name: name.to_owned(),
            device_type: device_type.to_owned(),
            session_id: hex::encode(random::<32>()),
            available_commands: available_commands
                .iter()
                .map(|(c, b)| ((*c).to_owned(), (*b).to_owned()))
                .collect(),
            push_callback: None,
            push_public_key: None,
            push_auth_key: None,
        };
        self.with_account(email, |a| a.devices.push(record));
        id
    }

    /// Queues a command for `device` as `invoke_command` would, whatever
    /// it holds and whether or not the device takes it.
    pub fn queue_command(
        &self,
        email: &str,
        device: &str,
        command: &str,
        payload: Value,
        ttl_secs: Option<u64>,
    ) {
        self.with_account(email, |a| enqueue(a, device, command, payload, None, ttl_secs));
    }

    /// The next read of a device's commands starts from the queue's first,
    /// whatever index it asks for.
    pub fn replay_commands_once(&self, email: &str) {
        self.with_account(email, |a| a.replay_commands = true);
    }

    /// The account's devices: (id, name, the commands each advertises).
    pub fn device_list(&self, email: &str) -> Vec<(String, String, Vec<String>)> {
        let store = self.shared.store.lock();
        store
            .accounts
            .get(&email.to_lowercase())
            .map(|a| {
                a.devices
                    .iter()
                    .map(|d| {
                        (
                            d.id.clone(),
                            d.name.clone(),
                            d.available_commands.keys().cloned().collect(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Forgets the commands a device advertised, as a server that lost
    /// them (or an older registration) would show it.
    pub fn clear_available_commands(&self, email: &str, device: &str) {
        self.with_account(email, |a| {
            for d in a.devices.iter_mut().filter(|d| d.id == device) {
                d.available_commands.clear();
            }
        });
    }
}
