//! The device list and the device-command relay, as Mozilla's auth server
//! keeps them (`fxa-auth-server/lib/routes/devices-and-sessions.js`,
//! `attached-clients.js`, and the pushbox queue behind
//! `invoke_command`):
//!
//! - `POST /account/device` registers the caller's device or updates it
//!   (name, type, push fields, `availableCommands`); an unknown `id` is
//!   errno 123.
//! - `POST /account/device/destroy` signs that device out: the device and
//!   the session or refresh token it was registered with both end.
//! - `POST /account/devices/invoke_command` queues a command for one of
//!   the account's devices: errno 123 for an unknown target, 157 for a
//!   command it does not advertise; `ttl` in seconds (Send Tab's default:
//!   30 days). The sender is the caller's device.
//! - `GET /account/device/commands?index=N&limit=L` answers the caller's
//!   queue from index N: `{index, last, messages: [{index, data}]}`,
//!   `index` being the last message's, or the highest ever given when
//!   there is none (what application-services keeps for the next poll).
//! - `POST /account/devices/notify` is accepted and checked; this service
//!   has no push service to deliver through, so devices learn of commands
//!   when they poll (Firefox polls on every sync).

use std::collections::BTreeMap;

use axum::extract::State;
use serde_json::{Value, json};

use super::{Answer, Call, S, auth, optional_text, run, text};
use crate::error::ApiError;
use crate::secrets::random;
use crate::store::devices::{self, Device, DeviceUpdate, Owner};
use crate::store::oauth;
use crate::store::tokens;

/// Send Tab's default lifetime (`DEFAULT_COMMAND_TTL` in Firefox's
/// `FxAccountsCommands.sys.mjs` and the auth server's config).
const SEND_TAB_TTL_SECS: u64 = 30 * 24 * 3600;
const SEND_TAB: &str = "https://identity.mozilla.com/cmd/open-uri";
/// The auth server's largest `ttl`.
const MAX_TTL_SECS: u64 = 10_000_000;
/// The auth server's page size for `device/commands` (default and most).
const MAX_COMMANDS_PAGE: usize = 100;
/// The device types the auth server's validator accepts.
const DEVICE_TYPES: [&str; 5] = ["desktop", "mobile", "tablet", "vr", "tv"];

fn device_json(device: &Device, caller: &Owner) -> Value {
    json!({
        "id": device.id,
        "name": device.name,
        "type": device.device_type,
        "isCurrentDevice": device.owned_by(caller),
        "lastAccessTime": device.last_access_at,
        "location": {},
        "pushCallback": device.push_callback,
        "pushPublicKey": device.push_public_key,
        "pushAuthKey": device.push_auth_key,
        "pushEndpointExpired": device.push_expired,
        "availableCommands": device.commands,
    })
}

fn update_from(body: &Value) -> Result<DeviceUpdate, ApiError> {
    let name = optional_text(body, "name")?
        .map(|name| {
            if name.chars().count() > 255 || name.chars().any(char::is_control) {
                Err(ApiError::invalid_parameter("name"))
            } else {
                Ok(name.to_owned())
            }
        })
        .transpose()?;
    let device_type = optional_text(body, "type")?
        .map(|t| {
            if DEVICE_TYPES.contains(&t) {
                Ok(t.to_owned())
            } else {
                Err(ApiError::invalid_parameter("type"))
            }
        })
        .transpose()?;
    let push = match optional_text(body, "pushCallback")? {
        None => None,
        Some(callback) => {
            if !callback.is_empty() && !callback.starts_with("https://") {
                return Err(ApiError::invalid_parameter("pushCallback"));
            }
            Some((
                callback.to_owned(),
                optional_text(body, "pushPublicKey")?.map(str::to_owned),
                optional_text(body, "pushAuthKey")?.map(str::to_owned),
            ))
        }
    };
    let commands = match body.get("availableCommands") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => {
            let mut commands = BTreeMap::new();
            for (name, value) in map {
                match value.as_str() {
                    Some(value) if value.len() <= 2048 && name.len() <= 255 => {
                        commands.insert(name.clone(), value.to_owned());
                    }
                    _ => return Err(ApiError::invalid_parameter("availableCommands")),
                }
            }
            Some(commands)
        }
        Some(_) => return Err(ApiError::invalid_parameter("availableCommands")),
    };
    Ok(DeviceUpdate {
        name,
        device_type,
        push,
        commands,
    })
}

/// `POST /v1/account/device`.
pub(super) async fn update(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let (owner, account) = auth::device_owner(service, call)?;
        let body = call.json()?;
        let id = optional_text(&body, "id")?.map(str::to_owned);
        let update = update_from(&body)?;
        let new_id = hex::encode(random::<16>()?);
        let now = crate::now_ms();
        let device = service
            .store
            .write(|tx, _| devices::upsert(tx, &account.uid, &owner, id.as_deref(), update, new_id, now))?;
        let mut answer = device_json(&device, &owner);
        answer["createdAt"] = json!(device.created_at);
        Ok(answer)
    })
    .await
}

/// `GET /v1/account/devices`.
pub(super) async fn list(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let (owner, account) = auth::device_owner(service, call)?;
        let list = service.store.read(|conn, _| devices::list(conn, &account.uid))?;
        Ok(Value::Array(
            list.iter().map(|d| device_json(d, &owner)).collect(),
        ))
    })
    .await
}

/// Ends a device with the credential it was registered with.
fn sign_out_device(tx: &crate::store::Db<'_>, uid: &str, device: &Device) -> Result<(), ApiError> {
    devices::delete(tx, uid, &device.id)?;
    if let Some(session) = &device.session_hash {
        tokens::end_session(tx, session)?;
    }
    if let Some(refresh) = &device.refresh_hash {
        oauth::delete_refresh(tx, refresh)?;
    }
    Ok(())
}

/// `POST /v1/account/device/destroy` `{id}`.
pub(super) async fn destroy(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let (_, account) = auth::device_owner(service, call)?;
        let body = call.json()?;
        let id = text(&body, "id")?.to_owned();
        service.store.write(|tx, _| {
            let device = devices::by_id(tx, &account.uid, &id)?.ok_or_else(ApiError::unknown_device)?;
            sign_out_device(tx, &account.uid, &device)
        })?;
        Ok(json!({}))
    })
    .await
}

/// `POST /v1/account/devices/invoke_command`
/// `{target, command, payload, ttl?}`.
pub(super) async fn invoke_command(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let (owner, account) = auth::device_owner(service, call)?;
        let body = call.json()?;
        let target = text(&body, "target")?.to_owned();
        let command = text(&body, "command")?.to_owned();
        let payload = body
            .get("payload")
            .filter(|p| p.is_object())
            .cloned()
            .ok_or_else(|| ApiError::invalid_parameter("payload"))?;
        let ttl = match body.get("ttl") {
            None | Some(Value::Null) => (command == SEND_TAB).then_some(SEND_TAB_TTL_SECS),
            Some(v) => Some(
                v.as_u64()
                    .filter(|t| *t <= MAX_TTL_SECS)
                    .ok_or_else(|| ApiError::invalid_parameter("ttl"))?,
            ),
        };
        // Without a ttl a command waits as long as the longest the auth
        // server allows.
        let expires_at = crate::now_ms().saturating_add(ttl.unwrap_or(MAX_TTL_SECS).saturating_mul(1000));
        service.store.write(|tx, _| {
            let device = devices::by_id(tx, &account.uid, &target)?.ok_or_else(ApiError::unknown_device)?;
            if !device.commands.contains_key(&command) {
                return Err(ApiError::unavailable_device_command());
            }
            let sender = devices::of_owner(tx, &account.uid, &owner)?.map(|d| d.id);
            let data = json!({ "command": command, "payload": payload, "sender": sender });
            devices::enqueue(tx, &device.id, &data, expires_at)
        })?;
        Ok(json!({ "enqueued": true, "notified": false, "notifyError": "no push service" }))
    })
    .await
}

fn query_number(call: &Call, name: &str) -> Result<Option<u64>, ApiError> {
    call.query(name)
        .map(|v| v.parse::<u64>().map_err(|_| ApiError::invalid_parameter(name)))
        .transpose()
}

/// `GET /v1/account/device/commands?index=N&limit=L`.
pub(super) async fn commands(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let (owner, account) = auth::device_owner(service, call)?;
        let index = query_number(call, "index")?.unwrap_or(0);
        let limit = match query_number(call, "limit")? {
            None => MAX_COMMANDS_PAGE,
            Some(l) if (1..=MAX_COMMANDS_PAGE as u64).contains(&l) => l as usize,
            Some(_) => return Err(ApiError::invalid_parameter("limit")),
        };
        let now = crate::now_ms();
        let page = service
            .store
            .write(|tx, _| match devices::of_owner(tx, &account.uid, &owner)? {
                None => Ok(None),
                Some(device) => devices::pending(tx, &device.id, index, limit, now).map(Some),
            })?;
        let page = page.ok_or_else(ApiError::unknown_device)?;
        let last = page.last;
        let last_index = page.messages.last().map_or(page.highest, |(i, _)| *i);
        let messages: Vec<Value> = page
            .messages
            .into_iter()
            .map(|(index, data)| json!({ "index": index, "data": data }))
            .collect();
        Ok(json!({ "index": last_index, "last": last, "messages": messages }))
    })
    .await
}

/// `POST /v1/account/devices/notify` `{to: "all" | [ids], payload, …}`.
pub(super) async fn notify(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let (_, _) = auth::device_owner(service, call)?;
        let body = call.json()?;
        match body.get("to") {
            Some(Value::String(all)) if all == "all" => {}
            Some(Value::Array(ids)) if ids.iter().all(Value::is_string) => {}
            _ => return Err(ApiError::invalid_parameter("to")),
        }
        if !body.get("payload").is_some_and(Value::is_object) {
            return Err(ApiError::invalid_parameter("payload"));
        }
        Ok(json!({}))
    })
    .await
}

/// `GET /v1/account/attached_clients`: every session and refresh token of
/// the account, merged with the device each registered.
pub(super) async fn attached_clients(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let (owner, account) = auth::device_owner(service, call)?;
        let (sessions, refresh_tokens, devices) = service.store.read(|conn, _| {
            Ok((
                tokens::sessions(conn, &account.uid)?,
                oauth::refresh_tokens(conn, &account.uid)?,
                devices::list(conn, &account.uid)?,
            ))
        })?;
        Ok(Value::Array(attached(&owner, sessions, refresh_tokens, &devices)))
    })
    .await
}

fn attached(
    caller: &Owner,
    sessions: Vec<tokens::SessionRow>,
    refresh_tokens: Vec<oauth::RefreshToken>,
    devices: &[Device],
) -> Vec<Value> {
    let mut out = Vec::new();
    for tokens::SessionRow {
        id_hash: hash,
        created_at: created,
        last_used_at: last_used,
        user_agent,
    } in sessions
    {
        let device = devices.iter().find(|d| d.session_hash.as_deref() == Some(&hash));
        let current = *caller == Owner::Session(hash.clone());
        out.push(json!({
            "clientId": Value::Null,
            "deviceId": device.map(|d| &d.id),
            "sessionTokenId": hash,
            "refreshTokenId": Value::Null,
            "isCurrentSession": current,
            "deviceType": device.map(|d| &d.device_type),
            "name": device.map_or(super::issue::device_name(&user_agent).to_owned(), |d| d.name.clone()),
            "scope": Value::Null,
            "location": {},
            "userAgent": user_agent,
            "os": Value::Null,
            "createdTime": created,
            "lastAccessTime": device.map_or(last_used, |d| d.last_access_at.max(last_used)),
        }));
    }
    for refresh in refresh_tokens {
        let device = devices
            .iter()
            .find(|d| d.refresh_hash.as_deref() == Some(&refresh.hash));
        let current = *caller == Owner::Refresh(refresh.hash.clone());
        out.push(json!({
            "clientId": refresh.client_id,
            "deviceId": device.map(|d| &d.id),
            "sessionTokenId": Value::Null,
            "refreshTokenId": refresh.hash,
            "isCurrentSession": current,
            "deviceType": device.map(|d| &d.device_type),
            "name": device.map_or_else(
                || crate::clients::name(&refresh.client_id).unwrap_or("OAuth client").to_owned(),
                |d| d.name.clone(),
            ),
            "scope": refresh.scope.split_whitespace().collect::<Vec<_>>(),
            "location": {},
            "userAgent": "",
            "os": Value::Null,
            "createdTime": refresh.created_at,
            "lastAccessTime": refresh.last_used_at,
        }));
    }
    out
}

/// `POST /v1/account/attached_client/destroy`
/// `{clientId?, deviceId?, sessionTokenId?, refreshTokenId?}`: signs that
/// client out.
pub(super) async fn destroy_attached_client(State(service): S, call: Call) -> Answer {
    run(service, call, |service, call| {
        let (_, account) = auth::verified_session(service, call)?;
        let body = call.json()?;
        let device_id = optional_text(&body, "deviceId")?.map(str::to_owned);
        let session = optional_text(&body, "sessionTokenId")?.map(str::to_owned);
        let refresh = optional_text(&body, "refreshTokenId")?.map(str::to_owned);
        if device_id.is_none() && session.is_none() && refresh.is_none() {
            return Err(ApiError::missing_parameter("deviceId"));
        }
        service.store.write(|tx, _| {
            if let Some(id) = &device_id {
                let device = devices::by_id(tx, &account.uid, id)?.ok_or_else(ApiError::unknown_device)?;
                sign_out_device(tx, &account.uid, &device)?;
            }
            if let Some(hash) = &session {
                if tokens::sessions(tx, &account.uid)?
                    .iter()
                    .any(|s| &s.id_hash == hash)
                {
                    tokens::end_session(tx, hash)?;
                }
            }
            if let Some(hash) = &refresh {
                if oauth::refresh_tokens(tx, &account.uid)?
                    .iter()
                    .any(|r| &r.hash == hash)
                {
                    oauth::delete_refresh(tx, hash)?;
                }
            }
            Ok(())
        })?;
        Ok(json!({}))
    })
    .await
}
