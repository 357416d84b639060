//! `GET /1.0/sync/1.5`: the token server.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{ApiError, AppState};
use crate::auth::{TokenClaims, parse_key_id};
use crate::db::{TokenUser, UserLookup};

/// Trades an OAuth bearer token and `X-KeyID` for storage credentials.
pub async fn get_token(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(ApiError::TokenRefused("invalid-credentials"))?;
    let (keys_changed_at, client_state) = headers
        .get("x-keyid")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_key_id)
        .ok_or(ApiError::TokenRefused("invalid-credentials"))?;
    let identity = state.oauth.verify(bearer).map_err(|e| {
        tracing::info!(error = %e, "token request refused");
        ApiError::TokenRefused("invalid-credentials")
    })?;

    let lookup = UserLookup {
        fxa_uid: identity.fxa_uid.clone(),
        email: identity.email,
        generation: identity.generation,
        keys_changed_at,
        client_state,
    };
    let db = state.db.clone();
    let nodes = state.nodes.clone();
    let allocated = tokio::task::spawn_blocking(move || db.allocate_user(&lookup, &nodes))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let user = match allocated {
        TokenUser::Granted(user) => user,
        TokenUser::Refused(status) => {
            tracing::info!(fxa_uid = %identity.fxa_uid, status, "token refused");
            return Err(ApiError::TokenRefused(status));
        }
    };

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let duration = state.config.token_duration_secs;
    let claims = TokenClaims {
        uid: user.uid,
        node: user.node.clone(),
        expires: now + duration,
        fxa_uid: user.fxa_uid.clone(),
    };
    let (id, key) = state.secrets.issue(&claims);
    let body = json!({
        "id": id,
        "key": key,
        "uid": user.uid,
        "api_endpoint": format!("{}/1.5/{}", user.node, user.uid),
        "duration": duration,
        "hashed_fxa_uid": state.secrets.hashed_fxa_uid(&user.fxa_uid),
        "node_type": "sqlite",
    });
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert("x-timestamp", HeaderValue::from(now));
    Ok(response)
}
