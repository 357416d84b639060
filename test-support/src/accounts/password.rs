// Handlers answer refusals directly (see routes.rs).
#![allow(clippy::result_large_err)]
//! The stand-in's password change, as Mozilla's auth server runs it
//! (`routes/password`, and fxa-auth-client `passwordChange`): `start`
//! checks the old authPW on a verified session and hands out a key fetch
//! token and a passwordChangeToken; `finish`, signed with that token,
//! stores the new verifier and wrapped kB — with the V2 fields
//! (`authPWVersion2`, `wrapKbVersion2`, `clientSalt`) the account moves to
//! V2 stretching, which is how a V1 account is upgraded. kB never changes;
//! every other session of the account ends.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use fxa_client::crypto::{Stretch, TokenCredentials, is_v2_salt};
use serde_json::{Value, json};

use super::requests::{fail, field, invalid_token, json_body, token, verified_json};
use super::{KeyFetch, PasswordChange, Shared, now_ms, random, verify_hash};

type S = State<Arc<Shared>>;

fn hex32(value: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(value, &mut out).ok().map(|()| out)
}

/// `POST /v1/password/change/start`.
pub(super) async fn change_start(
    State(shared): S,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (session_id, uid, request) = match verified_json(&shared, &method, &uri, &headers, &body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(old_auth_pw) = field(&request, "oldAuthPW").ok().and_then(hex32) else {
        return fail(
            400,
            107,
            "Invalid parameter in request body: oldAuthPW",
            json!({}),
        );
    };
    let mut store = shared.store.lock();
    let Some(account) = store.account_by_uid(&uid) else {
        return invalid_token();
    };
    if verify_hash(&old_auth_pw) != account.verify_hash {
        return fail(400, 103, "Incorrect password", json!({}));
    }
    let key_fetch_token = random::<32>();
    let key_fetch = TokenCredentials::derive(&key_fetch_token, "keyFetchToken");
    store.key_fetches.insert(
        key_fetch.id.clone(),
        KeyFetch {
            uid: uid.clone(),
            session_id,
            hmac_key: key_fetch.hmac_key,
            key_request_key: key_fetch.extra,
        },
    );
    let change_token = random::<32>();
    let change = TokenCredentials::derive(&change_token, "passwordChangeToken");
    store.password_changes.insert(
        change.id,
        PasswordChange {
            uid,
            hmac_key: change.hmac_key,
        },
    );
    axum::Json(json!({
        "keyFetchToken": hex::encode(key_fetch_token),
        "passwordChangeToken": hex::encode(change_token),
        "verified": true,
    }))
    .into_response()
}

/// `POST /v1/password/change/finish`, signed with the passwordChangeToken.
pub(super) async fn change_finish(
    State(shared): S,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = match token(&method, &uri, &headers, &body, "fxp", |id| {
        shared.store.lock().password_changes.get(id).map(|c| c.hmac_key)
    }) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let request = match json_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let hex_field = |name: &str| request.get(name).and_then(Value::as_str).and_then(hex32);
    let (Some(auth_pw), Some(wrap_kb)) = (hex_field("authPW"), hex_field("wrapKb")) else {
        return fail(
            400,
            107,
            "Invalid parameter in request body: authPW, wrapKb",
            json!({}),
        );
    };
    let v2 = match (
        hex_field("authPWVersion2"),
        hex_field("wrapKbVersion2"),
        request.get("clientSalt").and_then(Value::as_str),
    ) {
        (Some(auth), Some(wrap), Some(salt)) if is_v2_salt(salt) => Some((auth, wrap, salt.to_owned())),
        (None, None, None) => None,
        _ => {
            return fail(
                400,
                107,
                "Invalid parameter in request body: V2 fields",
                json!({}),
            );
        }
    };
    let keep_session = request
        .get("sessionToken")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut store = shared.store.lock();
    let Some(change) = store.password_changes.remove(&id) else {
        return invalid_token();
    };
    let uid = change.uid;
    let Some(account) = store.account_by_uid(&uid) else {
        return invalid_token();
    };
    match v2 {
        Some((auth, wrap, client_salt)) => {
            account.stretch = Stretch::V2 { client_salt };
            account.verify_hash = verify_hash(&auth);
            account.wrap_kb = wrap;
        }
        None => {
            account.verify_hash = verify_hash(&auth_pw);
            account.wrap_kb = wrap_kb;
        }
    }
    account.upgrade_needed = false;
    account.generation = now_ms();
    store
        .sessions
        .retain(|session, s| s.uid != uid || Some(session) == keep_session.as_ref());
    axum::Json(json!({"uid": uid, "verified": true, "authAt": now_ms() / 1000})).into_response()
}

impl super::StandInAccounts {
    /// Which stretching the account's password uses now: `"v1"` or `"v2"`.
    pub fn stretch_version(&self, email: &str) -> Option<&'static str> {
        self.with_account(email, |a| match a.stretch {
            Stretch::V1 => "v1",
            Stretch::V2 { .. } => "v2",
        })
    }

    /// Every OAuth token revoked so far (`/oauth/destroy`), in order.
    pub fn destroyed_tokens(&self) -> Vec<String> {
        self.shared.store.lock().destroyed_tokens.clone()
    }
}
