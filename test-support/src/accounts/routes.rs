//! The stand-in's HTTP routes, with the auth server's answers and errnos.
// Helpers return the refusal itself as their error, ready to send; the
// size of a `Response` does not matter in a test stand-in.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fxa_client::crypto::{TokenCredentials, bundle_keys};
use serde_json::{Value, json};
use sync_storage::config::OLDSYNC_SCOPE;

use super::requests::{fail, field, invalid_token, json_body, session_id, token, verified_session};
use super::{
    KeyFetch, Session, Shared, browser, devices, grants, now_ms, password, random, six_digits, totp,
};

type S = State<Arc<Shared>>;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/account/credentials/status", post(credentials_status))
        .route("/v1/account/login", post(login))
        .route("/v1/account/login/send_unblock_code", post(send_unblock_code))
        .route("/v1/account/keys", get(keys))
        .route("/v1/account/scoped-key-data", post(scoped_key_data))
        .route("/v1/session/verify_code", post(verify_code))
        .route("/v1/session/resend_code", post(resend_code))
        .route("/v1/session/verify/totp", post(verify_totp))
        .route("/v1/session/status", get(session_status))
        .route("/v1/session/destroy", post(session_destroy))
        .route("/v1/oauth/token", post(grants::oauth_token))
        .route("/v1/oauth/destroy", post(grants::oauth_destroy))
        .route("/v1/account/device", post(devices::device))
        .route("/v1/account/devices", get(devices::devices))
        .route(
            "/v1/account/devices/invoke_command",
            post(devices::invoke_command),
        )
        .route("/v1/account/devices/notify", post(devices::notify))
        .route("/v1/account/attached_clients", get(browser::attached_clients))
        .route("/v1/profile", get(browser::profile))
        .route("/v1/account/device/commands", get(devices::device_commands))
        .route("/v1/jwks", get(grants::jwks))
        .route("/v1/password/change/start", post(password::change_start))
        .route("/v1/password/change/finish", post(password::change_finish))
        .with_state(shared)
}

async fn credentials_status(State(shared): S, body: Bytes) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let email = match field(&body, "email") {
        Ok(e) => e.to_lowercase(),
        Err(r) => return r,
    };
    let store = shared.store.lock();
    let Some(account) = store.accounts.get(&email) else {
        return fail(400, 102, "Unknown account", json!({}));
    };
    match &account.stretch {
        fxa_client::crypto::Stretch::V1 => {
            axum::Json(json!({"currentVersion": "v1", "upgradeNeeded": account.upgrade_needed}))
        }
        fxa_client::crypto::Stretch::V2 { client_salt } => {
            axum::Json(json!({"currentVersion": "v2", "clientSalt": client_salt, "upgradeNeeded": false}))
        }
    }
    .into_response()
}

async fn login(State(shared): S, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (email, auth_pw) = match (field(&body, "email"), field(&body, "authPW")) {
        (Ok(e), Ok(a)) => (e.to_owned(), a.to_owned()),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let mut store = shared.store.lock();
    let Some(account) = store.accounts.get_mut(&email.to_lowercase()) else {
        return fail(400, 102, "Unknown account", json!({}));
    };
    if account.email != email {
        return fail(400, 120, "Incorrect email case", json!({"email": account.email}));
    }
    let now_secs = now_ms() / 1000;
    if let Some(until) = account.throttled_until.filter(|u| *u > now_secs) {
        return fail(
            429,
            114,
            "Client has sent too many requests",
            json!({"retryAfter": until - now_secs}),
        );
    }
    if account.blocked {
        match body.get("unblockCode").and_then(Value::as_str) {
            None => {
                return fail(
                    400,
                    125,
                    "The request was blocked for security reasons",
                    json!({"verificationMethod": "email-captcha", "verificationReason": "login"}),
                );
            }
            Some(code) if account.unblock_code.as_deref() == Some(&code.to_uppercase()) => {}
            Some(_) => return fail(400, 127, "Invalid unblock code", json!({})),
        }
    }
    let mut given = [0u8; 32];
    if hex::decode_to_slice(&auth_pw, &mut given).is_err() {
        return fail(400, 107, "Invalid parameter in request body: authPW", json!({}));
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, &given);
    if digest.as_ref() != account.verify_hash {
        return fail(400, 103, "Incorrect password", json!({}));
    }
    account.blocked = false;
    account.unblock_code = None;
    let totp = account.totp_secret.is_some();
    let needs_code = account.confirm_sign_ins && !totp;
    let code = needs_code.then(six_digits);
    if let Some(code) = &code {
        account.last_email_code = Some(code.clone());
    }
    let uid = account.uid.clone();
    let v2 = matches!(account.stretch, fxa_client::crypto::Stretch::V2 { .. });

    let session_token = random::<32>();
    let session = TokenCredentials::derive(&session_token, "sessionToken");
    let verified = !needs_code && !totp;
    store.sessions.insert(
        session.id.clone(),
        Session {
            uid: uid.clone(),
            hmac_key: session.hmac_key,
            verified,
            code,
            totp,
        },
    );
    let mut answer = json!({
        "uid": uid,
        "sessionToken": hex::encode(session_token),
        "verified": verified,
        "sessionVerified": verified,
        "emailVerified": true,
        "authAt": now_secs,
        "verificationReason": "login",
    });
    if !verified {
        answer["verificationMethod"] = json!(if totp { "totp-2fa" } else { "email-otp" });
    }
    if query.as_deref().is_some_and(|q| q.contains("keys=true")) {
        let key_fetch_token = random::<32>();
        let creds = TokenCredentials::derive(&key_fetch_token, "keyFetchToken");
        store.key_fetches.insert(
            creds.id.clone(),
            KeyFetch {
                uid,
                session_id: session.id,
                hmac_key: creds.hmac_key,
                key_request_key: creds.extra,
            },
        );
        // A V2 account's key fetch unwraps with the V2 unwrapBKey: the
        // real server names that token keyFetchTokenVersion2.
        let name = if v2 {
            "keyFetchTokenVersion2"
        } else {
            "keyFetchToken"
        };
        answer[name] = json!(hex::encode(key_fetch_token));
    }
    axum::Json(answer).into_response()
}

async fn send_unblock_code(State(shared): S, body: Bytes) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let email = match field(&body, "email") {
        Ok(e) => e.to_lowercase(),
        Err(r) => return r,
    };
    let mut store = shared.store.lock();
    let Some(account) = store.accounts.get_mut(&email) else {
        return fail(400, 102, "Unknown account", json!({}));
    };
    account.unblock_code = Some(hex::encode_upper(random::<4>()));
    axum::Json(json!({})).into_response()
}

async fn keys(State(shared): S, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let id = match token(&method, &uri, &headers, b"", "fxk", |id| {
        shared.store.lock().key_fetches.get(id).map(|k| k.hmac_key)
    }) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let mut store = shared.store.lock();
    let Some(fetch) = store.key_fetches.get(&id) else {
        return invalid_token();
    };
    if !store.sessions.get(&fetch.session_id).is_some_and(|s| s.verified) {
        return fail(400, 104, "Unconfirmed session", json!({}));
    }
    // Single use, as on the real server.
    let Some(fetch) = store.key_fetches.remove(&id) else {
        return invalid_token();
    };
    let Some(account) = store.account_by_uid(&fetch.uid) else {
        return invalid_token();
    };
    let mut bundle = bundle_keys(&fetch.key_request_key, &account.ka, &account.wrap_kb);
    if std::mem::take(&mut account.tamper_key_bundle) {
        bundle[40] ^= 0x01;
    }
    axum::Json(json!({"bundle": hex::encode(bundle)})).into_response()
}

async fn scoped_key_data(
    State(shared): S,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (_, uid) = match verified_session(&shared, &method, &uri, &headers, &body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut store = shared.store.lock();
    let Some(account) = store.account_by_uid(&uid) else {
        return invalid_token();
    };
    axum::Json(json!({
        OLDSYNC_SCOPE: {
            "identifier": OLDSYNC_SCOPE,
            "keyRotationSecret": "0".repeat(64),
            "keyRotationTimestamp": account.keys_changed_at,
        }
    }))
    .into_response()
}

async fn verify_code(
    State(shared): S,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = match session_id(&shared, &method, &uri, &headers, &body) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let Ok(request) = json_body(&body) else {
        return fail(400, 106, "Invalid JSON in request body", json!({}));
    };
    let code = request.get("code").and_then(Value::as_str).unwrap_or("");
    let mut store = shared.store.lock();
    let Some(session) = store.sessions.get_mut(&id) else {
        return invalid_token();
    };
    if session.code.as_deref() != Some(code) {
        return fail(400, 183, "Invalid or expired confirmation code", json!({}));
    }
    session.verified = true;
    session.code = None;
    axum::Json(json!({})).into_response()
}

async fn resend_code(
    State(shared): S,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = match session_id(&shared, &method, &uri, &headers, &body) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let mut store = shared.store.lock();
    let code = six_digits();
    let Some(session) = store.sessions.get_mut(&id) else {
        return invalid_token();
    };
    session.code = Some(code.clone());
    let uid = session.uid.clone();
    if let Some(account) = store.account_by_uid(&uid) {
        account.last_email_code = Some(code);
    }
    axum::Json(json!({})).into_response()
}

async fn verify_totp(
    State(shared): S,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = match session_id(&shared, &method, &uri, &headers, &body) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let Ok(request) = json_body(&body) else {
        return fail(400, 106, "Invalid JSON in request body", json!({}));
    };
    let code = request
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let mut store = shared.store.lock();
    let Some(uid) = store.sessions.get(&id).map(|s| s.uid.clone()) else {
        return invalid_token();
    };
    let secret = store.account_by_uid(&uid).and_then(|a| a.totp_secret.clone());
    let ok = secret.is_some_and(|s| totp::check(&s, &code, now_ms() / 1000));
    if ok {
        if let Some(session) = store.sessions.get_mut(&id) {
            session.verified = true;
            session.totp = false;
        }
    }
    axum::Json(json!({"success": ok})).into_response()
}

async fn session_status(State(shared): S, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let id = match session_id(&shared, &method, &uri, &headers, b"") {
        Ok(id) => id,
        Err(r) => return r,
    };
    let store = shared.store.lock();
    let Some(session) = store.sessions.get(&id) else {
        return invalid_token();
    };
    let state = if session.verified {
        "verified"
    } else {
        "unverified"
    };
    axum::Json(json!({"state": state, "uid": session.uid})).into_response()
}

async fn session_destroy(
    State(shared): S,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = match session_id(&shared, &method, &uri, &headers, &body) {
        Ok(id) => id,
        Err(r) => return r,
    };
    shared.store.lock().sessions.remove(&id);
    axum::Json(json!({})).into_response()
}
