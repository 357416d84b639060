//! The HTTP API: routes, shared state, authentication and response helpers.

mod error;
mod info;
mod params;
mod storage;
mod token;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get};
use sync15::ServerTimestamp;

pub use error::ApiError;

use crate::auth::{HawkVerifier, OAuthVerifier, SignedRequest, TokenClaims, TokenSecrets};
use crate::config::Config;
use crate::db::{Db, now_ms};

/// What every handler shares.
pub struct AppState {
    pub config: Config,
    pub db: Arc<Db>,
    pub secrets: TokenSecrets,
    pub hawk: HawkVerifier,
    pub oauth: OAuthVerifier,
    /// The nodes users are assigned to.
    pub nodes: Vec<String>,
    /// The port to assume when a request's Host header has none.
    pub default_port: u16,
}

/// The whole API.
pub fn router(state: Arc<AppState>) -> Router {
    let body_limit = usize::try_from(state.config.limits.max_request_bytes).unwrap_or(usize::MAX);
    Router::new()
        .route("/1.0/sync/1.5", get(token::get_token))
        .route("/1.5/{uid}", delete(storage::delete_everything))
        .route("/1.5/{uid}/", delete(storage::delete_everything))
        .route("/1.5/{uid}/storage", delete(storage::delete_everything))
        .route("/1.5/{uid}/info/collections", get(info::collections))
        .route("/1.5/{uid}/info/configuration", get(info::configuration))
        .route("/1.5/{uid}/info/quota", get(info::quota))
        .route("/1.5/{uid}/info/collection_usage", get(info::collection_usage))
        .route("/1.5/{uid}/info/collection_counts", get(info::collection_counts))
        .route(
            "/1.5/{uid}/storage/{collection}",
            get(storage::get_collection)
                .post(storage::post_collection)
                .delete(storage::delete_collection),
        )
        .route(
            "/1.5/{uid}/storage/{collection}/{id}",
            get(storage::get_bso)
                .put(storage::put_bso)
                .delete(storage::delete_bso),
        )
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(stamp_and_log))
        .with_state(state)
}

/// Adds `X-Weave-Timestamp` to every response that lacks one (writes set
/// their own, equal to the write's time) and logs the request.
async fn stamp_and_log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    if !response.headers().contains_key(X_WEAVE_TIMESTAMP) {
        response
            .headers_mut()
            .insert(X_WEAVE_TIMESTAMP, ts_header(now_ms()));
    }
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}

pub(crate) const X_WEAVE_TIMESTAMP: &str = "x-weave-timestamp";
pub(crate) const X_LAST_MODIFIED: &str = "x-last-modified";

/// A timestamp header value: seconds with two decimals.
pub(crate) fn ts_header(ms: i64) -> HeaderValue {
    HeaderValue::from_str(&ServerTimestamp::from_millis(ms).to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("0.00"))
}

/// A timestamp as the JSON number the protocol uses.
pub(crate) fn ts_json(ms: i64) -> serde_json::Value {
    serde_json::to_value(ServerTimestamp::from_millis(ms)).unwrap_or(serde_json::Value::Null)
}

impl AppState {
    /// Checks the Hawk header, that the token is for the uid in the URL,
    /// and returns the token's claims. The caller must also check
    /// [`Db::user_is_current`] in its database work.
    pub fn authenticate(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        path_uid: &str,
    ) -> Result<TokenClaims, ApiError> {
        let host_header = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let (host, port) = split_host(host_header, self.default_port);
        let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let request = SignedRequest {
            method: method.as_str(),
            host,
            port,
            path_and_query,
            authorization: headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()),
            content_type: headers.get(header::CONTENT_TYPE).and_then(|h| h.to_str().ok()),
            body,
        };
        let claims = self.hawk.verify(&self.secrets, &request).map_err(|e| {
            tracing::debug!(error = %e, "hawk refused");
            ApiError::Unauthorized
        })?;
        // A token for one user can never touch another's URL.
        if path_uid.parse::<u64>().ok() != Some(claims.uid) {
            tracing::warn!(token_uid = claims.uid, path_uid, "uid mismatch");
            return Err(ApiError::Unauthorized);
        }
        Ok(claims)
    }

    /// Runs database work off the async runtime, after checking the token's
    /// user is still current on its node.
    pub async fn with_db<T: Send + 'static>(
        self: &Arc<Self>,
        claims: TokenClaims,
        work: impl FnOnce(&Db, u64) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            if !db.user_is_current(claims.uid, &claims.node)? {
                return Err(ApiError::Unauthorized);
            }
            work(&db, claims.uid)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("database task failed: {e}")))?
    }
}

/// `host[:port]`, including bracketed IPv6 literals.
pub(crate) fn split_host(host_header: &str, default_port: u16) -> (&str, u16) {
    if let Some(rest) = host_header.strip_prefix('[') {
        if let Some((host, after)) = rest.split_once(']') {
            let port = after
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .unwrap_or(default_port);
            return (host, port);
        }
    }
    match host_header.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, port.parse().unwrap_or(default_port)),
        _ => (host_header, default_port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ports() {
        assert_eq!(split_host("127.0.0.1:8000", 80), ("127.0.0.1", 8000));
        assert_eq!(split_host("sync.example", 443), ("sync.example", 443));
        assert_eq!(split_host("[::1]:9000", 80), ("::1", 9000));
        assert_eq!(split_host("[::1]", 80), ("::1", 80));
    }
}
