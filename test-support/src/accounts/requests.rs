//! What every route of the stand-in does with a request: read its JSON
//! body, check its token (Hawk or Bearer), and refuse with the auth
//! server's error shape (`{code, errno, error, message}`).
// Helpers return the refusal itself as their error, ready to send; the
// size of a `Response` does not matter in a test stand-in.
#![allow(clippy::result_large_err)]

use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Shared;

/// An auth-server error: `{code, errno, error, message}` plus `extra` fields.
pub(super) fn fail(status: u16, errno: u32, message: &str, extra: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut body = json!({
        "code": status.as_u16(),
        "errno": errno,
        "error": status.canonical_reason().unwrap_or(""),
        "message": message,
    });
    if let (Some(b), Value::Object(extra)) = (body.as_object_mut(), extra) {
        b.extend(extra);
    }
    (status, axum::Json(body)).into_response()
}

pub(super) fn invalid_token() -> Response {
    fail(401, 110, "The authentication token could not be found", json!({}))
}

pub(super) fn json_body(body: &[u8]) -> Result<Value, Response> {
    serde_json::from_slice(body).map_err(|_| fail(400, 106, "Invalid JSON in request body", json!({})))
}

pub(super) fn field<'a>(body: &'a Value, name: &str) -> Result<&'a str, Response> {
    body.get(name).and_then(Value::as_str).ok_or_else(|| {
        fail(
            400,
            108,
            &format!("Missing parameter in request body: {name}"),
            json!({}),
        )
    })
}

/// Checks a request's token, in either scheme the auth server accepts: a
/// Hawk header made with the token's credentials, or `Bearer
/// <prefix>_<tokenId>` (`prefix` names the token kind). `key_of` finds the
/// reqHMACkey of a tokenId. Returns the tokenId.
pub(super) fn token(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    prefix: &str,
    key_of: impl FnOnce(&str) -> Option<[u8; 32]>,
) -> Result<String, Response> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(invalid_token)?;
    if let Some(bearer) = authorization.strip_prefix("Bearer ") {
        let id = bearer
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('_'))
            .ok_or_else(invalid_token)?;
        key_of(id).ok_or_else(invalid_token)?;
        return Ok(id.to_owned());
    }
    let header = authorization
        .strip_prefix("Hawk ")
        .and_then(|v| v.parse::<hawk::Header>().ok())
        .ok_or_else(invalid_token)?;
    let id = header.id.clone().ok_or_else(invalid_token)?;
    let key = key_of(&id).ok_or_else(invalid_token)?;
    let key = hawk::Key::new(key, hawk::DigestAlgorithm::Sha256).map_err(|_| invalid_token())?;
    if let Some(claimed) = header.hash.as_deref() {
        let actual = hawk::PayloadHasher::hash("application/json", hawk::DigestAlgorithm::Sha256, body)
            .map_err(|_| invalid_token())?;
        if actual != claimed {
            return Err(fail(401, 109, "Invalid request signature", json!({})));
        }
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (host, port) = host.rsplit_once(':').unwrap_or((host, "80"));
    let port: u16 = port.parse().unwrap_or(80);
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let valid = hawk::RequestBuilder::new(method.as_str(), host, port, path)
        .hash(header.hash.as_deref())
        .request()
        .validate_header(&header, &key, Duration::from_secs(60));
    if !valid {
        return Err(fail(401, 109, "Invalid request signature", json!({})));
    }
    Ok(id)
}

/// The session a request is signed with.
pub(super) fn session_id(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, Response> {
    token(method, uri, headers, body, "fxs", |id| {
        shared.store.lock().sessions.get(id).map(|s| s.hmac_key)
    })
}

/// The verified session's uid, or the refusal.
pub(super) fn verified_session(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(String, String), Response> {
    let id = session_id(shared, method, uri, headers, body)?;
    let store = shared.store.lock();
    let session = store.sessions.get(&id).ok_or_else(invalid_token)?;
    if !session.verified {
        return Err(fail(400, 138, "Unconfirmed session", json!({})));
    }
    Ok((id, session.uid.clone()))
}

/// A verified session's request with a JSON body: (session id, uid, body).
pub(super) fn verified_json(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(String, String, Value), Response> {
    let (session, uid) = verified_session(shared, method, uri, headers, body)?;
    Ok((session, uid, json_body(body)?))
}
