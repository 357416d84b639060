// Handlers answer refusals directly (see routes.rs).
#![allow(clippy::result_large_err)]
//! What a signed-in browser asks the accounts service for beyond keys and
//! tokens: the profile (with an OAuth token) and the attached clients —
//! enough that a real Firefox signed in here runs without errors. Shapes as
//! Mozilla's auth and profile servers answer (`fxa-auth-server`
//! `routes/attached-clients.ts`; the profile server's `/v1/profile`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use super::requests::{fail, invalid_token, verified_session};
use super::{Shared, now_ms};

type S = State<Arc<Shared>>;

/// `GET /v1/account/attached_clients`: the account's devices, each as the
/// session-backed client it is.
pub(super) async fn attached_clients(
    State(shared): S,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let (session, uid) = match verified_session(&shared, &method, &uri, &headers, b"") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut store = shared.store.lock();
    let Some(account) = store.account_by_uid(&uid) else {
        return invalid_token();
    };
    let list: Vec<Value> = account
        .devices
        .iter()
        .map(|d| {
            json!({"clientId": null, "deviceId": d.id, "sessionTokenId": d.session_id,
                   "refreshTokenId": null, "isCurrentSession": d.session_id == session,
                   "deviceType": d.device_type, "name": d.name, "scope": null,
                   "lastAccessTime": now_ms(), "location": {}, "userAgent": "", "os": null})
        })
        .collect();
    axum::Json(Value::Array(list)).into_response()
}

/// `GET /v1/profile` (the profile server's), with an OAuth access token
/// this service issued.
pub(super) async fn profile(State(shared): S, headers: HeaderMap) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let jwk = &shared.signing_key.jwk;
    let claims = bearer.and_then(|token| {
        let key = DecodingKey::from_rsa_components(&jwk.n, &jwk.e).ok()?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_aud = false;
        jsonwebtoken::decode::<Value>(token, &key, &validation).ok()
    });
    let Some(claims) = claims else {
        return fail(401, 110, "Unauthorized", json!({}));
    };
    let uid = claims.claims["sub"].as_str().unwrap_or_default().to_owned();
    let mut store = shared.store.lock();
    let Some(account) = store.account_by_uid(&uid) else {
        return invalid_token();
    };
    axum::Json(json!({"uid": uid, "email": account.email, "locale": "en-US",
                      "amrValues": ["pwd", "email"], "twoFactorAuthentication": false,
                      "avatar": null, "avatarDefault": true, "displayName": null}))
    .into_response()
}
