//! `GET /1.0/sync/1.5`: the token server.
//!
//! Its answers are Mozilla's token server's (syncstorage-rs
//! `tokenserver/handlers.rs` and `tokenserver-common/src/error.rs`): the
//! response fields `id`, `key`, `uid`, `api_endpoint`, `duration`,
//! `hashed_fxa_uid`, `hashalg`, `node_type`; errors as
//! `{"status": …, "errors": [{"location", "name", "description"}]}`; an
//! unusable `?duration=` silently means the default. Beyond it, every answer
//! (401s and 503s too, as Python's token server did) carries `X-Timestamp`,
//! so a client can correct its clock, and `X-Content-Type-Options: nosniff`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::error::json_body;
use crate::auth::tokens::{fxa_kid, random_salt};
use crate::auth::{OAuthError, TokenPayload, parse_key_id};
use crate::db::{DbError, Refusal, TokenUser, UserLookup};

/// A token-server refusal, in Mozilla's shape.
#[derive(Debug)]
pub struct TokenError {
    http: StatusCode,
    status: &'static str,
    location: &'static str,
    name: &'static str,
    description: &'static str,
}

impl TokenError {
    fn new(
        http: StatusCode,
        status: &'static str,
        location: &'static str,
        description: &'static str,
    ) -> Self {
        TokenError {
            http,
            status,
            location,
            name: "",
            description,
        }
    }

    /// 401 `invalid-credentials`: the bearer token or the key id is no good.
    fn invalid_credentials() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid-credentials",
            "body",
            "Unauthorized",
        )
    }

    /// 503: FxA could not vouch for the token right now.
    fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "error",
            "body",
            "Resource is not available",
        )
    }

    fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-error",
            "internal",
            "Server error",
        )
    }
}

/// Seconds clients should wait after a 503 before asking again.
const RETRY_AFTER_SECS: &str = "10";

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let body = json!({
            "status": self.status,
            "errors": [{"location": self.location, "name": self.name, "description": self.description}],
        });
        let mut response = json_body(self.http, body.to_string());
        match self.http {
            StatusCode::SERVICE_UNAVAILABLE => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
            }
            // One challenge per scheme the token server takes, as its API
            // text requires: OAuth bearer tokens only.
            StatusCode::UNAUTHORIZED => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `X-Timestamp` (seconds) and `nosniff` on every token-server answer.
pub async fn token_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert("x-timestamp", HeaderValue::from(now_secs()));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}

/// `GET /1.0/<application>/<version>`: only `sync/1.5` exists.
pub async fn get_token(
    State(state): State<Arc<AppState>>,
    Path((application, version)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, TokenError> {
    if application != "sync" {
        return Err(TokenError {
            name: "application",
            ..TokenError::new(StatusCode::NOT_FOUND, "error", "url", "Unsupported application")
        });
    }
    if version != "1.5" {
        return Err(TokenError {
            name: "version",
            ..TokenError::new(
                StatusCode::NOT_FOUND,
                "error",
                "url",
                "Unsupported application version",
            )
        });
    }
    let bearer = bearer_token(&headers)?;
    let identity = state.oauth.verify(bearer).await.map_err(|e| {
        tracing::info!(error = %e, "token request refused");
        state.metrics.fxa_verification(&e);
        match e {
            OAuthError::Unavailable(_) => TokenError::unavailable(),
            OAuthError::Config(_) => TokenError::internal(),
            OAuthError::Invalid(_) | OAuthError::MissingScope => TokenError::invalid_credentials(),
        }
    })?;
    let (keys_changed_at, client_state) = key_id(&headers)?;

    let lookup = UserLookup {
        fxa_uid: identity.fxa_uid.clone(),
        email: identity.email,
        generation: identity.generation,
        keys_changed_at: (keys_changed_at != 0).then_some(keys_changed_at),
        client_state: client_state.clone(),
    };
    let db = state.db.clone();
    let allocated = tokio::task::spawn_blocking(move || db.allocate_user(&lookup))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "token task failed");
            TokenError::internal()
        })?
        .map_err(|e| match e {
            // Full, draining or down everywhere: come back later, as
            // Mozilla's token server answers when it cannot allocate a node.
            DbError::NoNode => {
                tracing::warn!("no storage node takes new users");
                TokenError::unavailable()
            }
            // PostgreSQL down or restarting: come back later, as storage says.
            e if super::error::is_unavailable(&e) => {
                tracing::warn!(error = %e, "the database cannot answer");
                TokenError::unavailable()
            }
            e => {
                tracing::error!(error = %e, "allocating a user failed");
                TokenError::internal()
            }
        })?;
    let user = match allocated {
        TokenUser::Granted(user) => user,
        TokenUser::Refused(refusal) => {
            tracing::info!(fxa_uid = %identity.fxa_uid, ?refusal, "token refused");
            return Err(match refusal {
                Refusal::Generation => TokenError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid-generation",
                    "body",
                    "Unauthorized",
                ),
                Refusal::KeysChangedAt => TokenError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid-keysChangedAt",
                    "body",
                    "Unauthorized",
                ),
                Refusal::ClientState(description) => TokenError {
                    name: "X-Client-State",
                    ..TokenError::new(
                        StatusCode::UNAUTHORIZED,
                        "invalid-client-state",
                        "header",
                        description,
                    )
                },
            });
        }
    };

    let duration = requested_duration(query.as_deref(), state.config.token_duration_secs);
    let hashed_fxa_uid = state.secrets.hashed_fxa_uid(&user.fxa_uid);
    let payload = TokenPayload {
        uid: user.uid,
        node: user.node.clone(),
        expires: (now_secs() + duration) as f64,
        fxa_uid: user.fxa_uid.clone(),
        // Mozilla falls back to the generation when keys_changed_at is unknown.
        fxa_kid: fxa_kid(
            if user.keys_changed_at != 0 {
                user.keys_changed_at
            } else {
                user.generation
            },
            &user.client_state,
        ),
        hashed_device_id: state.secrets.hashed_device_id(&hashed_fxa_uid),
        hashed_fxa_uid: hashed_fxa_uid.clone(),
        salt: random_salt().map_err(|_| TokenError::internal())?,
    };
    let (id, key) = state.secrets.issue(&payload);
    state.metrics.token_issued();
    Ok(Json(json!({
        "id": id,
        "key": key,
        "uid": user.uid,
        "api_endpoint": format!("{}/1.5/{}", user.node, user.uid),
        "duration": duration,
        "hashed_fxa_uid": hashed_fxa_uid,
        "hashalg": "sha256",
        "node_type": state.config.node_type(),
    }))
    .into_response())
}

/// `Authorization: Bearer <token>`. Mozilla answers a missing header with
/// status `error` / "Unauthorized" and another scheme with "Unsupported".
fn bearer_token(headers: &HeaderMap) -> Result<&str, TokenError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| TokenError::new(StatusCode::UNAUTHORIZED, "error", "body", "Unauthorized"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| TokenError::new(StatusCode::UNAUTHORIZED, "error", "body", "Unauthorized"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(TokenError::new(
            StatusCode::UNAUTHORIZED,
            "error",
            "body",
            "Unsupported",
        ));
    }
    Ok(token.trim())
}

/// `X-KeyID` (and, if a client also sends it, a matching `X-Client-State`).
fn key_id(headers: &HeaderMap) -> Result<(i64, String), TokenError> {
    let raw = headers.get("x-keyid").ok_or_else(|| {
        TokenError::new(
            StatusCode::UNAUTHORIZED,
            "invalid-key-id",
            "header",
            "Missing X-KeyID header",
        )
    })?;
    let (keys_changed_at, client_state) = raw
        .to_str()
        .ok()
        .and_then(parse_key_id)
        .ok_or_else(TokenError::invalid_credentials)?;
    if let Some(declared) = headers.get("x-client-state") {
        if declared.to_str().ok() != Some(client_state.as_str()) {
            return Err(TokenError {
                name: "X-Client-State",
                ..TokenError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid-client-state",
                    "body",
                    "Client state mismatch in X-Client-State header",
                )
            });
        }
    }
    Ok((keys_changed_at, client_state))
}

/// `?duration=N`, honoured up to the configured duration; anything else
/// means the configured duration (Mozilla: "an error in the duration query
/// parameter should never cause a request to fail").
fn requested_duration(query: Option<&str>, max: u64) -> u64 {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "duration")
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .filter(|d| *d > 0 && *d <= max)
        .unwrap_or(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(requested_duration(None, 3600), 3600);
        assert_eq!(requested_duration(Some("duration=60"), 3600), 60);
        assert_eq!(requested_duration(Some("duration=7200"), 3600), 3600);
        assert_eq!(requested_duration(Some("duration=soon"), 3600), 3600);
        assert_eq!(requested_duration(Some("duration=0"), 3600), 3600);
        assert_eq!(requested_duration(Some("other=1&duration=5"), 3600), 5);
    }

    #[test]
    fn bearer_tokens() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_token(&h).unwrap_err().description, "Unauthorized");
        h.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer_token(&h).unwrap(), "abc");
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer_token(&h).unwrap_err().description, "Unsupported");
    }
}
