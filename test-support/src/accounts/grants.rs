// Handlers answer refusals directly (see routes.rs).
#![allow(clippy::result_large_err)]
//! The stand-in's OAuth and device routes: tokens for the token server
//! (RS256 JWTs), refresh and revocation, and the signing keys.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::requests::{fail, invalid_token, json_body, verified_session};
use super::{Refresh, Shared, now_ms, random};

type S = State<Arc<Shared>>;

/// An access token: an RS256 JWT as FxA issues them (`typ: at+jwt`).
fn access_token(shared: &Shared, uid: &str, scope: &str, generation: u64, client_id: &str) -> Value {
    let now = now_ms() / 1000;
    let claims = json!({
        "sub": uid,
        "scope": scope,
        "client_id": client_id,
        "iat": now,
        "exp": now + 3600,
        "fxa-generation": generation,
        "aud": "https://token.services.mozilla.com",
    });
    json!({
        "access_token": shared.signing_key.sign(&claims),
        "token_type": "bearer",
        "scope": scope,
        "expires_in": 3600,
        "auth_at": now,
    })
}

pub(super) async fn oauth_token(
    State(shared): S,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(request) = json_body(&body) else {
        return fail(400, 109, "Invalid request parameter", json!({}));
    };
    let client_id = request
        .get("client_id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let scope = request
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    match request.get("grant_type").and_then(Value::as_str) {
        Some("fxa-credentials") => {
            let (_, uid) = match verified_session(&shared, &method, &uri, &headers, &body) {
                Ok(v) => v,
                Err(r) => return r,
            };
            let mut store = shared.store.lock();
            let Some(generation) = store.account_by_uid(&uid).map(|a| a.generation) else {
                return invalid_token();
            };
            let mut answer = access_token(&shared, &uid, &scope, generation, &client_id);
            if request.get("access_type").and_then(Value::as_str) == Some("offline") {
                let refresh = hex::encode(random::<32>());
                store.refresh_tokens.insert(
                    refresh.clone(),
                    Refresh {
                        uid: uid.clone(),
                        scope: scope.clone(),
                    },
                );
                answer["refresh_token"] = json!(refresh);
            }
            axum::Json(answer).into_response()
        }
        Some("refresh_token") => {
            let token = request.get("refresh_token").and_then(Value::as_str).unwrap_or("");
            let mut store = shared.store.lock();
            let Some(refresh) = store
                .refresh_tokens
                .get(token)
                .map(|r| (r.uid.clone(), r.scope.clone()))
            else {
                return fail(400, 108, "Invalid token", json!({}));
            };
            let Some(generation) = store.account_by_uid(&refresh.0).map(|a| a.generation) else {
                return fail(400, 108, "Invalid token", json!({}));
            };
            axum::Json(access_token(
                &shared, &refresh.0, &refresh.1, generation, &client_id,
            ))
            .into_response()
        }
        _ => fail(400, 121, "Invalid grant_type", json!({})),
    }
}

pub(super) async fn oauth_destroy(State(shared): S, body: Bytes) -> Response {
    let Ok(request) = json_body(&body) else {
        return fail(400, 109, "Invalid request parameter", json!({}));
    };
    let token = request.get("token").and_then(Value::as_str).unwrap_or("");
    let mut store = shared.store.lock();
    store.refresh_tokens.remove(token);
    store.destroyed_tokens.push(token.to_owned());
    axum::Json(json!({})).into_response()
}

pub(super) async fn jwks(State(shared): S) -> Response {
    let k = &shared.signing_key.jwk;
    axum::Json(
        json!({"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": k.kid, "n": k.n, "e": k.e}]}),
    )
    .into_response()
}
