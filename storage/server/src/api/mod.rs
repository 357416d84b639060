//! The HTTP API: routes, shared state, authentication and response helpers.

mod auth;
mod body;
mod error;
mod escape;
mod gate;
mod info;
mod listing;
mod ops;
mod params;
mod storage;
mod token;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use sync15::ServerTimestamp;

pub use error::ApiError;
pub(crate) use gate::DbGate;

use crate::auth::{HawkVerifier, OAuthVerifier, TokenPayload, TokenSecrets};
use crate::config::{Config, Role};
use crate::db::{Db, now_ms};
use crate::metrics::Metrics;

/// What every handler shares.
pub struct AppState {
    pub config: Config,
    pub db: Arc<Db>,
    pub secrets: TokenSecrets,
    pub hawk: HawkVerifier,
    pub oauth: OAuthVerifier,
    pub metrics: Arc<Metrics>,
    /// The port to assume when a request's Host header has none.
    pub default_port: u16,
    /// Where requests queue for the database when its connections are
    /// fixed in number (PostgreSQL); see [`AppState::with_db`].
    pub(crate) db_gate: Option<gate::DbGate>,
}

// Every route template, named once: the router is built from them and the
// metrics label requests with them (never with raw paths, which carry uids).
const HEARTBEAT: &str = "/__heartbeat__";
const LBHEARTBEAT: &str = "/__lbheartbeat__";
const VERSION: &str = "/__version__";
const TOKEN: &str = "/1.0/{application}/{version}";
const USER: &str = "/1.5/{uid}";
const USER_SLASH: &str = "/1.5/{uid}/";
const STORAGE: &str = "/1.5/{uid}/storage";
const INFO_COLLECTIONS: &str = "/1.5/{uid}/info/collections";
const INFO_CONFIGURATION: &str = "/1.5/{uid}/info/configuration";
const INFO_QUOTA: &str = "/1.5/{uid}/info/quota";
const INFO_USAGE: &str = "/1.5/{uid}/info/collection_usage";
const INFO_COUNTS: &str = "/1.5/{uid}/info/collection_counts";
const COLLECTION: &str = "/1.5/{uid}/storage/{collection}";
const BSO: &str = "/1.5/{uid}/storage/{collection}/{id}";
const ROUTES: [&str; 14] = [
    HEARTBEAT,
    LBHEARTBEAT,
    VERSION,
    TOKEN,
    USER,
    USER_SLASH,
    STORAGE,
    INFO_COLLECTIONS,
    INFO_CONFIGURATION,
    INFO_QUOTA,
    INFO_USAGE,
    INFO_COUNTS,
    COLLECTION,
    BSO,
];

/// A matched route's template, as a static label.
fn route_label(matched: &str) -> &'static str {
    ROUTES.iter().find(|r| **r == matched).copied().unwrap_or("other")
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The whole API, as far as the configured role serves it, with the
/// Dockerflow endpoints and `extra` routes (the accounts service's);
/// everything else is a JSON 404. Every route is logged and measured.
pub fn router(state: Arc<AppState>, extra: Option<Router>) -> Router {
    let role = state.config.role;
    let mut router = Router::new()
        .route(HEARTBEAT, get(ops::heartbeat))
        .route(LBHEARTBEAT, get(ops::lbheartbeat))
        .route(VERSION, get(ops::version));
    if role.serves_tokens() {
        router = router.merge(
            Router::new()
                .route(TOKEN, get(token::get_token))
                .layer(middleware::from_fn(token::token_headers)),
        );
    }
    if role.serves_storage() {
        router = router.merge(storage_routes(&state));
    }
    let mut router = router.with_state(state.clone());
    if let Some(extra) = extra {
        router = router.merge(extra);
    }
    let mut router = router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    if let Some(cors) = cors_layer(&state.config.cors) {
        router = router.layer(cors);
    }
    router.layer(middleware::from_fn_with_state(state, observe))
}

/// Answers every CORS preflight, on any path, and marks every answer for
/// the allowed origins — as Mozilla's server does (syncstorage-rs
/// `build_cors`: its methods, its request headers plus the conditional
/// ones a browser client sends, any origin, 20 days by default). The
/// protocol's response headers are exposed so a page can read them.
fn cors_layer(config: &crate::config::Cors) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins = match config.allowed_origins.as_slice() {
        [] => return None,
        // Any origin, named back to it (as actix-cors's `allow_any_origin`
        // answers for Mozilla's server; with `Vary: Origin`), not `*`.
        [any] if any == "*" => AllowOrigin::mirror_request(),
        listed => AllowOrigin::list(listed.iter().filter_map(|o| HeaderValue::from_str(o).ok())),
    };
    let names = |names: &[&'static str]| -> Vec<header::HeaderName> {
        names.iter().map(|n| header::HeaderName::from_static(n)).collect()
    };
    Some(
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([Method::DELETE, Method::GET, Method::POST, Method::PUT])
            .allow_headers(names(&[
                "authorization",
                "content-type",
                "user-agent",
                "x-last-modified",
                "x-weave-timestamp",
                "x-weave-next-offset",
                "x-weave-records",
                "x-weave-bytes",
                "x-weave-total-records",
                "x-weave-total-bytes",
                "x-verify-code",
                "x-if-modified-since",
                "x-if-unmodified-since",
                "x-keyid",
            ]))
            .expose_headers(names(&[
                "x-last-modified",
                "x-weave-timestamp",
                "x-weave-records",
                "x-weave-next-offset",
                "x-weave-backoff",
                "x-backoff",
                "retry-after",
                "x-weave-quota-remaining",
            ]))
            .max_age(std::time::Duration::from_secs(config.max_age_secs)),
    )
}

fn storage_routes(state: &Arc<AppState>) -> Router<Arc<AppState>> {
    let body_limit = usize::try_from(state.config.limits.max_request_bytes).unwrap_or(usize::MAX);
    Router::new()
        .route(USER, delete(storage::delete_everything))
        .route(USER_SLASH, delete(storage::delete_everything))
        .route(STORAGE, delete(storage::delete_everything))
        .route(INFO_COLLECTIONS, get(info::collections))
        .route(INFO_CONFIGURATION, get(info::configuration))
        .route(INFO_QUOTA, get(info::quota))
        .route(INFO_USAGE, get(info::collection_usage))
        .route(INFO_COUNTS, get(info::collection_counts))
        .route(
            COLLECTION,
            get(listing::get_collection)
                .post(storage::post_collection)
                .delete(storage::delete_collection),
        )
        .route(
            BSO,
            get(storage::get_bso)
                .put(storage::put_bso)
                .delete(storage::delete_bso),
        )
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate_then_read_body,
        ))
        .layer(middleware::from_fn(storage_headers))
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Logs each request and counts it in the metrics, by route template.
async fn observe(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| route_label(m.as_str()));
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let took = started.elapsed();
    state
        .metrics
        .request(route, method_label(&method), response.status().as_u16(), took);
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        micros = took.as_micros() as u64,
        "request"
    );
    response
}

/// On every storage answer: `X-Weave-Timestamp` (writes set their own,
/// equal to the write's time; otherwise now, but never earlier than the
/// answer's `X-Last-Modified`, as the 1.5 API requires and Mozilla's
/// `weave` middleware does), and a protocol code as the JSON body of any
/// 4xx produced outside the handlers (an over-long body, a bad extractor).
///
/// No answer goes out before the server's clock has reached the time it
/// carries. A user's writes get strictly increasing times, so two writes in
/// the same 10 ms get times up to a few tens of ms ahead of the clock; a
/// client that was handed such a time and then asked for anything else
/// would have seen `X-Weave-Timestamp` — the server's "now" — go back past
/// its own write. Holding the answer until the clock passes its time (at
/// most [`MAX_HOLD`]) keeps every `X-Weave-Timestamp` at or after every time
/// the server has handed out, across processes too. Mozilla's servers
/// instead refuse such a write with 409 (its MySQL backend) or give it the
/// request's start time (Spanner); here it is never refused.
async fn storage_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status.is_client_error() && status != StatusCode::NOT_MODIFIED && !is_json {
        let headers = std::mem::take(response.headers_mut());
        response = error::json_body(status, error::code_for_status(status).to_string());
        for (name, value) in headers.iter() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                response.headers_mut().insert(name.clone(), value.clone());
            }
        }
    }
    let carried = [X_LAST_MODIFIED, X_WEAVE_TIMESTAMP]
        .iter()
        .filter_map(|name| response.headers().get(*name))
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| ServerTimestamp::parse(v).ok())
        .map(|ts| ts.as_millis())
        .max()
        .unwrap_or(0);
    hold_until(carried).await;
    if !response.headers().contains_key(X_WEAVE_TIMESTAMP) {
        response
            .headers_mut()
            .insert(X_WEAVE_TIMESTAMP, ts_header(now_ms().max(carried)));
    }
    response
}

/// The longest an answer is held for its time to come (see
/// [`storage_headers`]). Times further ahead than this mean the clock
/// stepped back; waiting would not help, so the answer goes out.
pub(crate) const MAX_HOLD: std::time::Duration = std::time::Duration::from_secs(1);

/// Waits until [`now_ms`] has reached `ts` (ms), for at most [`MAX_HOLD`].
async fn hold_until(ts: i64) {
    let deadline = tokio::time::Instant::now() + MAX_HOLD;
    loop {
        let ahead = ts - crate::db::clock_ms();
        if ahead <= 0 || tokio::time::Instant::now() >= deadline {
            return;
        }
        if ahead > MAX_HOLD.as_millis() as i64 {
            tracing::warn!(
                ahead_ms = ahead,
                "an answer carries a time far ahead of the clock"
            );
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(ahead as u64)).await;
    }
}

pub(crate) const X_WEAVE_TIMESTAMP: &str = "x-weave-timestamp";
pub(crate) const X_LAST_MODIFIED: &str = "x-last-modified";

/// A timestamp header value: seconds with two decimals.
pub(crate) fn ts_header(ms: i64) -> HeaderValue {
    HeaderValue::from_str(&ServerTimestamp::from_millis(ms).to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("0.00"))
}

/// A timestamp in a JSON body: seconds with exactly two decimals
/// (`1796622745.20`), as Mozilla's server writes every one (syncstorage-rs
/// `serialize_ts`, a `serde_json::Number` from `{:.2}`); as an `f64` it
/// would come out as `1796622745.2`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonTimestamp(pub(crate) i64);

impl serde::Serialize for JsonTimestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = ServerTimestamp::from_millis(self.0).to_string();
        serde_json::value::RawValue::from_string(text)
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }
}

/// A JSON body with `X-Last-Modified`.
pub(crate) fn json_with_last_modified(body: &impl serde::Serialize, modified: i64) -> Response {
    let mut response = axum::Json(body).into_response();
    response
        .headers_mut()
        .insert(X_LAST_MODIFIED, ts_header(modified));
    response
}

/// The formats a GET can answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplyFormat {
    /// `application/json`.
    Json,
    /// `application/newlines`: one JSON value per line.
    Newlines,
}

/// Picks the reply format from `Accept`, highest quality first, as
/// Mozilla's server does (`get_accepted`): `*/*`, `application/*`,
/// `application/json` and (for old clients) `text/plain` mean JSON;
/// `application/newlines` only where `newlines_allowed`. No header, or
/// one that does not parse, means JSON; a header naming only other types
/// is a 406.
pub(crate) fn reply_format(headers: &HeaderMap, newlines_allowed: bool) -> Result<ReplyFormat, ApiError> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(ReplyFormat::Json);
    };
    let mut candidates: Vec<(f32, String)> = accept
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let media = parts.next()?.trim().to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (!media.is_empty()).then_some((quality, media))
        })
        .collect();
    if candidates.is_empty() {
        return Ok(ReplyFormat::Json);
    }
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (quality, media) in candidates {
        if quality <= 0.0 {
            continue;
        }
        match media.as_str() {
            "*/*" | "application/*" | "application/json" | "text/plain" => return Ok(ReplyFormat::Json),
            "application/newlines" if newlines_allowed => return Ok(ReplyFormat::Newlines),
            _ => {}
        }
    }
    Err(ApiError::NotAcceptable)
}

impl AppState {
    /// Runs database work off the async runtime. With the token server in
    /// the same process (role `all`), it first checks the token's uid is
    /// still the account's current one on its node (remembered for a
    /// minute; at once when this process retired it), and every write
    /// checks again inside its transaction (`Db::refusing_retired_users`),
    /// so no write lands in a retired uid; a `storage-only` node has no
    /// account table and trusts the signature, as Mozilla's nodes do.
    pub async fn with_db<T: Send + 'static>(
        self: &Arc<Self>,
        payload: TokenPayload,
        work: impl FnOnce(&Db, u64) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let db = self.db.clone();
        let check_current = self.config.role == Role::All;
        // Queued here, in order, rather than on a blocking thread (`gate`);
        // the turn is held until the database work is done, even if the
        // client goes away meanwhile.
        let turn = match &self.db_gate {
            Some(gate) => gate.turn().await,
            None => None,
        };
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            if check_current && !db.user_is_current(payload.uid, &payload.node)? {
                return Err(ApiError::Unauthorized);
            }
            work(&db, payload.uid)
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

/// `/metrics` for the separate metrics listener.
pub fn metrics_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(
                |axum::extract::State(state): axum::extract::State<Arc<AppState>>| async move {
                    // Gauges only: rendering never waits for the database.
                    state
                        .metrics
                        .set_db_waiting(state.db_gate.as_ref().map_or(0, DbGate::waiting));
                    let text = state.metrics.render(&state.db);
                    let mut response = Response::new(Body::from(text));
                    response.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static(
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        ),
                    );
                    response
                },
            ),
        )
        .with_state(state)
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

    #[test]
    fn accept_negotiation() {
        let with = |accept: &str, newlines: bool| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT, accept.parse().unwrap());
            reply_format(&h, newlines)
        };
        assert_eq!(reply_format(&HeaderMap::new(), true).unwrap(), ReplyFormat::Json);
        assert_eq!(with("application/newlines", true).unwrap(), ReplyFormat::Newlines);
        assert!(matches!(
            with("application/newlines", false),
            Err(ApiError::NotAcceptable)
        ));
        assert_eq!(
            with("application/json;q=0.9,*/*;q=0.2", true).unwrap(),
            ReplyFormat::Json
        );
        assert_eq!(
            with("application/json;q=0.5,application/newlines", true).unwrap(),
            ReplyFormat::Newlines
        );
        assert!(matches!(with("text/html", true), Err(ApiError::NotAcceptable)));
        assert!(matches!(
            with("application/json;q=0", true),
            Err(ApiError::NotAcceptable)
        ));
        assert_eq!(with("text/plain", true).unwrap(), ReplyFormat::Json);
    }
}
