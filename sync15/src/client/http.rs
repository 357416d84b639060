//! [`HttpClient`]: the transport shared by the token and storage clients.
//!
//! One `HttpClient` per account session: it pools connections, counts
//! requests, remembers the server's backoff instructions (`X-Weave-Backoff`,
//! `X-Backoff`, `Retry-After`) as a single "next sync allowed at" time, and
//! tracks the offset between the local clock and the server's so that Hawk
//! timestamps stay inside the server's skew window even when the device
//! clock is wrong.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use reqwest::header::HeaderMap;

use crate::error::{Error, ServerKind, body_excerpt};
use crate::timestamp::ServerTimestamp;

/// Settings for [`HttpClient`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Whole-request timeout.
    pub timeout: Duration,
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(30),
            user_agent: format!("sync15-rs/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// A pooled HTTP client with the bookkeeping every sync request needs.
/// Cheap to clone; clones share everything.
///
/// This is a *blocking* client: call it from a plain thread (or
/// `tokio::task::spawn_blocking`), never from inside an async task.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::blocking::Client,
    next_sync_allowed_at: Mutex<Option<SystemTime>>,
    /// Server clock minus local clock, in milliseconds.
    clock_skew_ms: AtomicI64,
    requests: AtomicU64,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("requests", &self.request_count())
            .field("next_sync_allowed_at", &self.next_sync_allowed_at())
            .finish_non_exhaustive()
    }
}

/// A response with a success status (2xx), fully read.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

pub(crate) const X_LAST_MODIFIED: &str = "x-last-modified";
pub(crate) const X_WEAVE_TIMESTAMP: &str = "x-weave-timestamp";
pub(crate) const X_WEAVE_NEXT_OFFSET: &str = "x-weave-next-offset";
pub(crate) const X_WEAVE_RECORDS: &str = "x-weave-records";
pub(crate) const X_WEAVE_QUOTA_REMAINING: &str = "x-weave-quota-remaining";
const X_WEAVE_BACKOFF: &str = "x-weave-backoff";
const X_BACKOFF: &str = "x-backoff";
const RETRY_AFTER: &str = "retry-after";
const X_WEAVE_ALERT: &str = "x-weave-alert";
const X_TIMESTAMP: &str = "x-timestamp";

impl HttpClient {
    /// A client with default options.
    pub fn new() -> Result<Self, Error> {
        Self::with_options(&ClientOptions::default())
    }

    /// A client with the given options.
    pub fn with_options(options: &ClientOptions) -> Result<Self, Error> {
        let http = reqwest::blocking::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            .user_agent(options.user_agent.clone())
            .build()?;
        Ok(HttpClient {
            inner: Arc::new(Inner {
                http,
                next_sync_allowed_at: Mutex::new(None),
                clock_skew_ms: AtomicI64::new(0),
                requests: AtomicU64::new(0),
            }),
        })
    }

    /// The latest time any server asked us to stay away until, if it is
    /// still in the future. Servers send it with failures (503 +
    /// `Retry-After`) and with successes (`X-Weave-Backoff` under load).
    pub fn next_sync_allowed_at(&self) -> Option<SystemTime> {
        let until = *self.inner.next_sync_allowed_at.lock();
        until.filter(|t| *t > SystemTime::now())
    }

    /// Forgets any backoff (e.g. after the user explicitly asks to sync).
    pub fn clear_backoff(&self) {
        *self.inner.next_sync_allowed_at.lock() = None;
    }

    /// How many HTTP requests got an answer so far (all servers, all statuses).
    pub fn request_count(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// The server's clock minus ours, as learned from response headers.
    pub fn clock_skew(&self) -> Duration {
        Duration::from_millis(self.inner.clock_skew_ms.load(Ordering::Relaxed).unsigned_abs())
    }

    /// Now, on the server's clock as best we know it: the time to sign with.
    pub(crate) fn server_now(&self) -> SystemTime {
        let skew = self.inner.clock_skew_ms.load(Ordering::Relaxed);
        let now = SystemTime::now();
        if skew >= 0 {
            now + Duration::from_millis(skew as u64)
        } else {
            now - Duration::from_millis(skew.unsigned_abs())
        }
    }

    pub(crate) fn request(
        &self,
        method: reqwest::Method,
        url: url::Url,
    ) -> reqwest::blocking::RequestBuilder {
        self.inner.http.request(method, url)
    }

    /// Sends, reads the whole body, records backoff and clock skew, and
    /// turns every non-2xx status into its typed [`Error`].
    pub(crate) fn execute(
        &self,
        server: ServerKind,
        request: reqwest::blocking::RequestBuilder,
    ) -> Result<RawResponse, Error> {
        let response = request.send()?;
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes()?.to_vec();
        self.observe_clock(server, &headers);
        let retry_after = self.observe_backoff(status, &headers);
        if let Some(alert) = header_str(&headers, X_WEAVE_ALERT) {
            log::warn!("{server:?} server alert: {alert}");
        }
        if (200..300).contains(&status) {
            Ok(RawResponse {
                status,
                headers,
                body,
            })
        } else {
            log::debug!("{server:?} server answered {status}: {}", body_excerpt(&body));
            Err(status_error(
                server,
                status,
                &body,
                retry_after,
                self.next_sync_allowed_at(),
            ))
        }
    }

    fn observe_clock(&self, server: ServerKind, headers: &HeaderMap) {
        let server_ms = match server {
            ServerKind::Storage => header_str(headers, X_WEAVE_TIMESTAMP)
                .and_then(|v| ServerTimestamp::parse(v).ok())
                .map(|t| t.as_millis()),
            ServerKind::Token => header_str(headers, X_TIMESTAMP)
                .and_then(|v| v.trim().parse::<i64>().ok())
                .map(|secs| secs.saturating_mul(1000)),
        };
        if let Some(server_ms) = server_ms {
            let local_ms = ServerTimestamp::now().as_millis();
            self.inner
                .clock_skew_ms
                .store(server_ms.saturating_sub(local_ms), Ordering::Relaxed);
        }
    }

    /// Records the longest backoff this response asks for; returns the
    /// delay it named, if any.
    fn observe_backoff(&self, status: u16, headers: &HeaderMap) -> Option<Duration> {
        let weave = header_str(headers, X_WEAVE_BACKOFF)
            .or_else(|| header_str(headers, X_BACKOFF))
            .and_then(parse_delay_seconds);
        // Retry-After on a 409 is about that one request, not the whole sync.
        let retry_after = if status == 503 || status == 429 {
            header_str(headers, RETRY_AFTER).and_then(parse_retry_after)
        } else {
            None
        };
        let delay = weave.max(retry_after);
        if let Some(delay) = delay {
            let until = SystemTime::now() + delay;
            let mut slot = self.inner.next_sync_allowed_at.lock();
            if slot.is_none_or(|t| t < until) {
                *slot = Some(until);
            }
            log::info!("server asked to back off for {}s", delay.as_secs());
        }
        if status == 409 {
            return header_str(headers, RETRY_AFTER).and_then(parse_retry_after);
        }
        delay
    }
}

/// A header's value as text, if present and ASCII.
pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A timestamp header, if present. A present but unparseable one is an error.
pub(crate) fn header_timestamp(
    headers: &HeaderMap,
    name: &'static str,
) -> Result<Option<ServerTimestamp>, Error> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| ServerTimestamp::parse(s).ok())
            .map(Some)
            .ok_or_else(|| Error::InvalidHeader {
                name,
                value: String::from_utf8_lossy(v.as_bytes()).chars().take(64).collect(),
            }),
    }
}

/// Seconds, integer or decimal, as servers send in backoff headers.
fn parse_delay_seconds(v: &str) -> Option<Duration> {
    let secs: f64 = v.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(7.0 * 86_400.0)))
}

/// `Retry-After`: delay seconds or an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    parse_delay_seconds(v).or_else(|| {
        httpdate::parse_http_date(v.trim())
            .ok()
            .map(|at| at.duration_since(SystemTime::now()).unwrap_or_default())
    })
}

/// The protocol's numeric error code in a 400 body (`14`, `"14"`, ` 14\n`).
pub(crate) fn error_code(body: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(body).ok()?.trim();
    text.trim_matches('"').parse().ok()
}

/// The reason in a token server error body:
/// `{"status": "invalid-credentials", "errors": [{"description": …}]}`.
fn token_server_reason(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Detail {
        #[serde(default)]
        description: String,
    }
    #[derive(serde::Deserialize)]
    struct TokenError {
        #[serde(default)]
        status: String,
        #[serde(default)]
        errors: Vec<Detail>,
    }
    match serde_json::from_slice::<TokenError>(body) {
        Ok(e) => match e.errors.first().map(|d| d.description.as_str()) {
            Some(d) if !d.is_empty() => format!("{} ({d})", e.status),
            _ => e.status,
        },
        Err(_) => body_excerpt(body),
    }
}

fn status_error(
    server: ServerKind,
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
    next_sync_allowed_at: Option<SystemTime>,
) -> Error {
    match (status, server) {
        (304, _) => Error::NotModified,
        (400 | 403, _) if error_code(body) == Some(14) => Error::OverQuota,
        (400, _) if error_code(body) == Some(17) => Error::ServerLimitExceeded,
        (400, _) => Error::BadRequest {
            code: error_code(body),
            body: body_excerpt(body),
        },
        (401 | 403, ServerKind::Token) => Error::TokenRejected {
            status,
            reason: token_server_reason(body),
        },
        (401, ServerKind::Storage) => Error::StorageUnauthorized,
        (404, _) => Error::NotFound,
        (409, _) => Error::Conflict { retry_after },
        (412, _) => Error::PreconditionFailed,
        (413, _) => Error::RequestTooLarge,
        (415, _) => Error::UnsupportedMediaType,
        (500..=599, _) => Error::ServerUnavailable {
            server,
            status,
            retry_after,
            next_sync_allowed_at,
        },
        _ => Error::UnexpectedStatus {
            server,
            status,
            body: body_excerpt(body),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_in_bodies() {
        assert_eq!(error_code(b"14"), Some(14));
        assert_eq!(error_code(b"\"17\"\n"), Some(17));
        assert_eq!(error_code(b"{\"err\":1}"), None);
        assert_eq!(error_code(&[0xff, 0xfe]), None);
    }

    #[test]
    fn statuses_map_to_typed_errors() {
        let e = |status, server, body: &[u8]| status_error(server, status, body, None, None);
        use ServerKind::*;
        assert!(matches!(e(304, Storage, b""), Error::NotModified));
        assert!(matches!(e(400, Storage, b"14"), Error::OverQuota));
        assert!(matches!(e(403, Storage, b"14"), Error::OverQuota));
        assert!(matches!(e(400, Storage, b"17"), Error::ServerLimitExceeded));
        assert!(matches!(
            e(400, Storage, b"8"),
            Error::BadRequest { code: Some(8), .. }
        ));
        assert!(matches!(
            e(400, Storage, b"junk"),
            Error::BadRequest { code: None, .. }
        ));
        assert!(matches!(e(401, Storage, b""), Error::StorageUnauthorized));
        assert!(matches!(
            e(401, Token, b""),
            Error::TokenRejected { status: 401, .. }
        ));
        assert!(matches!(e(404, Storage, b""), Error::NotFound));
        assert!(matches!(e(409, Storage, b""), Error::Conflict { .. }));
        assert!(matches!(e(412, Storage, b""), Error::PreconditionFailed));
        assert!(matches!(e(413, Storage, b""), Error::RequestTooLarge));
        assert!(matches!(e(415, Storage, b""), Error::UnsupportedMediaType));
        assert!(matches!(
            e(503, Token, b""),
            Error::ServerUnavailable {
                status: 503,
                server: Token,
                ..
            }
        ));
        assert!(matches!(
            e(500, Storage, b""),
            Error::ServerUnavailable { status: 500, .. }
        ));
        assert!(matches!(
            e(418, Storage, b"teapot"),
            Error::UnexpectedStatus { status: 418, .. }
        ));
        assert!(matches!(
            e(302, Storage, b""),
            Error::UnexpectedStatus { status: 302, .. }
        ));
    }

    #[test]
    fn token_server_reasons() {
        let body = br#"{"status":"invalid-generation","errors":[{"location":"body","name":"","description":"Unauthorized"}]}"#;
        assert_eq!(token_server_reason(body), "invalid-generation (Unauthorized)");
        assert_eq!(
            token_server_reason(br#"{"status":"invalid-credentials"}"#),
            "invalid-credentials"
        );
        assert_eq!(token_server_reason(b"plain text"), "plain text");
    }

    #[test]
    fn delays() {
        assert_eq!(parse_delay_seconds("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_delay_seconds(" 1.5 "), Some(Duration::from_millis(1500)));
        assert_eq!(parse_delay_seconds("-3"), None);
        assert_eq!(parse_delay_seconds("NaN"), None);
        assert_eq!(parse_delay_seconds("soon"), None);
        // Absurd values are capped at a week rather than overflowing.
        assert_eq!(
            parse_delay_seconds("1e300"),
            Some(Duration::from_secs(7 * 86_400))
        );
        let in_a_minute = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(90));
        let d = parse_retry_after(&in_a_minute).unwrap();
        assert!(
            d > Duration::from_secs(60) && d <= Duration::from_secs(90),
            "{d:?}"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
    }
}
