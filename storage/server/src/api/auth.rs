//! Who is asking: every storage request is authenticated from its head
//! before its body is read, then its body checked against the payload hash
//! the head signed; handlers take the result as [`Authenticated`].
//!
//! A body read before authentication is memory anyone can make the server
//! hold: 45 connections with no valid Hawk header once held 91 MB, and the
//! default connection cap would have allowed about 1 GB. Now a request
//! nobody signed is a 401 with its body unread, and one that announces a
//! body over `max_request_bytes` is a 413 at once.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::middleware::Next;
use axum::response::Response;

use super::{ApiError, AppState, INFO_COLLECTIONS, split_host};
use crate::auth::{HeadVerified, SignedRequest, TokenPayload};

/// The token of an authenticated storage request, whose uid is the one in
/// its URL. The caller must still check the uid is current
/// ([`AppState::with_db`]).
#[derive(Debug, Clone)]
pub struct Authenticated(pub TokenPayload);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        // Put there by `authenticate_then_read_body`, on every storage route.
        parts
            .extensions
            .get::<Authenticated>()
            .cloned()
            .ok_or(ApiError::Unauthorized)
    }
}

/// Authenticates a storage request from its head, then reads its whole body
/// within `connections.body_read_timeout_secs` and `limits.max_request_bytes`
/// (a client that stalls mid-body gets a 408 and the connection closes,
/// instead of holding a handler open) and checks it against the signed
/// payload hash.
pub(super) async fn authenticate_then_read_body(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let limit = usize::try_from(state.config.limits.max_request_bytes).unwrap_or(usize::MAX);
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::TooLarge);
    }
    let (mut parts, body) = request.into_parts();
    // Mozilla's nodes accept an expired token for `GET info/collections`
    // (syncstorage-rs `web/auth.rs`): the answer reveals only collection
    // times, and clients poll it to decide whether to sync at all.
    let allow_expired = parts.method == Method::GET
        && parts
            .extensions
            .get::<MatchedPath>()
            .is_some_and(|m| m.as_str() == INFO_COLLECTIONS);
    let verified = state.verify_head(&parts.method, &parts.uri, &parts.headers, allow_expired)?;

    let read = http_body_util::Limited::new(body, limit);
    let collected = tokio::time::timeout(
        state.config.connections.body_read_timeout(),
        http_body_util::BodyExt::collect(read),
    )
    .await
    .map_err(|_| ApiError::RequestTimeout)?;
    let bytes = match collected {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(ApiError::TooLarge),
        // The connection's idle timeout ended a stalled upload.
        Err(e) if timed_out(e.as_ref()) => return Err(ApiError::RequestTimeout),
        Err(e) => return Err(ApiError::BadParam(format!("reading the body: {e}"))),
    };
    let payload = verified.check_body(&bytes).map_err(|e| {
        tracing::debug!(error = %e, "hawk refused the body");
        ApiError::Unauthorized
    })?;
    parts.extensions.insert(Authenticated(payload));
    Ok(next.run(Request::from_parts(parts, Body::from(bytes))).await)
}

impl AppState {
    /// Checks the Hawk header (all but the body) and that the token is for
    /// the uid in the URL.
    fn verify_head(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        allow_expired: bool,
    ) -> Result<HeadVerified, ApiError> {
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
            body: b"",
        };
        let verified = self
            .hawk
            .verify_head(&self.secrets, &request, allow_expired)
            .map_err(|e| {
                tracing::debug!(error = %e, "hawk refused");
                ApiError::Unauthorized
            })?;
        // A token for one user can never touch another's URL: `/1.5/{uid}/…`.
        let path_uid = uri.path().split('/').nth(2).unwrap_or_default();
        let uid = verified.payload().uid;
        if path_uid.parse::<u64>().ok() != Some(uid) {
            tracing::warn!(token_uid = uid, path_uid, "uid mismatch");
            return Err(ApiError::Unauthorized);
        }
        Ok(verified)
    }
}

/// Whether an I/O timeout is behind `error`.
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        cause = e.source();
    }
    false
}
