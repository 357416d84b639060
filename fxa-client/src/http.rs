//! Talking to the accounts service: JSON over HTTPS, requests authorized by
//! an FxA token — signed with its Hawk credentials, or as the prefixed
//! Bearer token the auth server also accepts (see [`TokenScheme`]) —
//! errors turned into [`FxaError`].
//!
//! As Mozilla's clients do (fxa-auth-client `hawkRequest`): POST bodies are
//! JSON with a Hawk payload hash; an errno 111 ("invalid timestamp") answer
//! carries the server's clock, which is learned and the request signed
//! again once. A request that got no answer at all is retried once only
//! when it is a GET (nothing on the server can have changed).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use url::Url;

use crate::crypto::TokenCredentials;
use crate::error::{ErrorBody, FxaError, from_body};

/// How requests present FxA tokens (session, key fetch). Mozilla's auth
/// server accepts both on the same routes ("Authentication Schemes",
/// Mozilla's ecosystem-platform reference, June 2026): Hawk is what Firefox
/// desktop, iOS and Android send; the prefixed Bearer (`Bearer fxs_<id>`)
/// is what Mozilla's own web clients and PyFxA send, and the scheme new
/// clients are asked to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenScheme {
    /// Hawk request signatures (as Firefox).
    #[default]
    Hawk,
    /// `Authorization: Bearer <prefix>_<tokenId>`; only over HTTPS or to loopback.
    Bearer,
}

/// How a request proves who it is for.
#[derive(Clone, Copy)]
pub(crate) enum Auth<'a> {
    /// Not at all (sign-in, refresh-token grants, …).
    None,
    /// Hawk, with an FxA token's derived credentials.
    Token(&'a TokenCredentials),
}

/// A refusal, with the server's error body when there was one (sign-in
/// needs its `email` for errno 120).
pub(crate) struct Refusal {
    pub error: FxaError,
    pub body: Option<ErrorBody>,
}

impl From<FxaError> for Refusal {
    fn from(error: FxaError) -> Self {
        Refusal { error, body: None }
    }
}

/// One accounts server.
pub(crate) struct AuthClient {
    http: reqwest::blocking::Client,
    scheme: TokenScheme,
    /// `<auth server>/v1/`.
    base: Url,
    /// Server clock minus ours, learned from errno 111.
    clock_offset_ms: AtomicI64,
}

impl std::fmt::Debug for AuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthClient")
            .field("base", &self.base.as_str())
            .finish()
    }
}

impl AuthClient {
    /// For the auth server at `auth_url` (with or without the `/v1`).
    pub fn new(auth_url: &str, timeout: Duration, scheme: TokenScheme) -> Result<Self, FxaError> {
        let mut base = Url::parse(auth_url)
            .map_err(|e| FxaError::Protocol(format!("auth server URL {auth_url:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(FxaError::Protocol(format!(
                "auth server URL {auth_url:?} is not http(s)"
            )));
        }
        let mut path = base.path().trim_end_matches('/').to_owned();
        if !path.ends_with("/v1") {
            path.push_str("/v1");
        }
        path.push('/');
        base.set_path(&path);
        let http = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("fxa-client-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FxaError::Network(e.to_string()))?;
        if scheme == TokenScheme::Bearer && base.scheme() == "http" && !is_loopback(&base) {
            // A Bearer token is a replayable credential: never in the clear.
            return Err(FxaError::Protocol(
                "Bearer tokens are only sent over https (or to loopback)".into(),
            ));
        }
        Ok(AuthClient {
            http,
            scheme,
            base,
            clock_offset_ms: AtomicI64::new(0),
        })
    }

    /// POST `path` (relative to `/v1/`) with a JSON body.
    pub fn post(&self, path: &str, body: &Value, auth: Auth<'_>) -> Result<Value, Refusal> {
        self.send(reqwest::Method::POST, path, Some(body), auth, false)
    }

    /// POST to an OAuth route (whose errnos are the OAuth server's).
    pub fn post_oauth(&self, path: &str, body: &Value, auth: Auth<'_>) -> Result<Value, Refusal> {
        self.send(reqwest::Method::POST, path, Some(body), auth, true)
    }

    /// GET `path`.
    pub fn get(&self, path: &str, auth: Auth<'_>) -> Result<Value, Refusal> {
        self.send(reqwest::Method::GET, path, None, auth, false)
    }

    fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        auth: Auth<'_>,
        oauth: bool,
    ) -> Result<Value, Refusal> {
        let url = self
            .base
            .join(path)
            .map_err(|e| FxaError::Protocol(format!("bad path {path:?}: {e}")))?;
        let bytes = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| FxaError::Protocol(e.to_string()))?),
            None => None,
        };
        let idempotent = method == reqwest::Method::GET;
        let mut resynced = false;
        let mut retried = false;
        loop {
            let request = self.request(&method, &url, bytes.as_deref(), auth)?;
            let response = match request.send() {
                Ok(r) => r,
                Err(e) if idempotent && !retried => {
                    log::debug!("{method} {path}: {e}; retrying once");
                    retried = true;
                    continue;
                }
                Err(e) => return Err(FxaError::Network(e.to_string()).into()),
            };
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let text = read_capped(response, MAX_ANSWER_BYTES).map_err(|e| match e {
                Capped::TooLarge => FxaError::Protocol(format!(
                    "{method} {path}: the answer is larger than {} MiB",
                    MAX_ANSWER_BYTES >> 20
                )),
                Capped::Io(e) => FxaError::Network(e.to_string()),
            })?;
            if (200..300).contains(&status) {
                return serde_json::from_slice(&text)
                    .map_err(|e| FxaError::Protocol(format!("{method} {path}: {e}")).into());
            }
            let Ok(error) = serde_json::from_slice::<ErrorBody>(&text) else {
                return Err(match status {
                    502..=504 => FxaError::ServerUnavailable { retry_after },
                    429 => FxaError::Throttled { retry_after },
                    _ => FxaError::Protocol(format!("{method} {path}: HTTP {status} without an errno")),
                }
                .into());
            };
            if error.errno == 111 && !resynced && !oauth {
                if let Some(server) = error.server_time {
                    let ours = now_ms();
                    self.clock_offset_ms
                        .store((server as i64).saturating_mul(1000) - ours, Ordering::Relaxed);
                    resynced = true;
                    continue;
                }
            }
            let mut mapped = from_body(status, error.clone(), oauth);
            if let FxaError::ServerUnavailable { retry_after: None } = mapped {
                mapped = FxaError::ServerUnavailable { retry_after };
            }
            log::debug!("{method} {path}: HTTP {status}, errno {}", error.errno);
            return Err(Refusal {
                error: mapped,
                body: Some(error),
            });
        }
    }

    fn request(
        &self,
        method: &reqwest::Method,
        url: &Url,
        body: Option<&[u8]>,
        auth: Auth<'_>,
    ) -> Result<reqwest::blocking::RequestBuilder, FxaError> {
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        match auth {
            Auth::None => {}
            Auth::Token(credentials) => {
                let header = match (self.scheme, credentials.bearer()) {
                    (TokenScheme::Bearer, Some(bearer)) => format!("Bearer {bearer}"),
                    _ => self.hawk_header(method.as_str(), url, body, credentials)?,
                };
                request = request.header(reqwest::header::AUTHORIZATION, header);
            }
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_vec());
        }
        Ok(request)
    }

    fn hawk_header(
        &self,
        method: &str,
        url: &Url,
        body: Option<&[u8]>,
        credentials: &TokenCredentials,
    ) -> Result<String, FxaError> {
        let key = hawk::Key::new(credentials.hmac_key, hawk::DigestAlgorithm::Sha256)
            .map_err(|e| FxaError::Protocol(format!("Hawk key: {e}")))?;
        let hawk_credentials = hawk::Credentials {
            id: credentials.id.clone(),
            key,
        };
        let hash = match body {
            Some(body) => Some(
                hawk::PayloadHasher::hash("application/json", hawk::DigestAlgorithm::Sha256, body)
                    .map_err(|e| FxaError::Protocol(format!("Hawk payload hash: {e}")))?,
            ),
            None => None,
        };
        let offset = self.clock_offset_ms.load(Ordering::Relaxed);
        let now = SystemTime::now();
        let ts = if offset >= 0 {
            now + Duration::from_millis(offset as u64)
        } else {
            now - Duration::from_millis(offset.unsigned_abs())
        };
        let header = hawk::RequestBuilder::from_url(method, url)
            .map_err(|e| FxaError::Protocol(format!("Hawk request: {e}")))?
            .hash(hash.as_deref())
            .request()
            .make_header_full(&hawk_credentials, ts, nonce())
            .map_err(|e| FxaError::Protocol(format!("Hawk header: {e}")))?;
        Ok(format!("Hawk {header}"))
    }
}

/// The largest answer read: a page of 100 device commands is well under
/// 4 MiB; anything larger is not the accounts service (a misconfigured
/// proxy, or a hostile server trying to exhaust memory).
const MAX_ANSWER_BYTES: u64 = 8 << 20;

enum Capped {
    TooLarge,
    Io(std::io::Error),
}

/// The body, read up to `max` bytes; refused as soon as it says or proves
/// it is larger, so a huge answer never fills memory.
fn read_capped(response: reqwest::blocking::Response, max: u64) -> Result<Vec<u8>, Capped> {
    use std::io::Read as _;
    if response.content_length().is_some_and(|len| len > max) {
        return Err(Capped::TooLarge);
    }
    let mut body = Vec::new();
    response
        .take(max + 1)
        .read_to_end(&mut body)
        .map_err(Capped::Io)?;
    if body.len() as u64 > max {
        return Err(Capped::TooLarge);
    }
    Ok(body)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A fresh Hawk nonce: 8 random bytes, hex.
fn nonce() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    // A failing system RNG leaves the nonce all zeros; the request then
    // fails as a replay at worst, it never weakens a key.
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that drops the first `drops` connections unanswered, then
    /// answers `{}`; returns its URL and a counter of requests seen.
    fn flaky_server(drops: usize) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let n = counter.fetch_add(1, Ordering::SeqCst);
                if n >= drops {
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                    );
                }
            }
        });
        (url, seen)
    }

    #[test]
    fn only_idempotent_requests_are_retried_after_no_answer() {
        let (url, seen) = flaky_server(1);
        let client = AuthClient::new(&url, Duration::from_secs(5), TokenScheme::Hawk).unwrap();
        assert!(client.get("account/devices", Auth::None).is_ok());
        assert_eq!(seen.load(Ordering::SeqCst), 2, "the GET was retried once");

        let (url, seen) = flaky_server(1);
        let client = AuthClient::new(&url, Duration::from_secs(5), TokenScheme::Hawk).unwrap();
        let result = client.post("account/login", &serde_json::json!({}), Auth::None);
        assert!(matches!(
            result,
            Err(Refusal {
                error: FxaError::Network(_),
                ..
            })
        ));
        assert_eq!(seen.load(Ordering::SeqCst), 1, "the POST was not repeated");
    }

    /// A server that answers every request with `head` then `body_len`
    /// bytes of JSON-ish filler, as fast as the client reads.
    fn huge_server(head: &'static str, body_len: usize) -> String {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(head.as_bytes());
                let chunk = vec![b' '; 64 * 1024];
                let mut sent = 0;
                while sent < body_len {
                    if stream.write_all(&chunk).is_err() {
                        break;
                    }
                    sent += chunk.len();
                }
            }
        });
        url
    }

    #[test]
    fn an_oversized_answer_is_refused_without_reading_it_all() {
        for (head, len) in [
            // Says how large it is.
            (
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2000000000\r\n\r\n",
                64 * 1024,
            ),
            // Says nothing, and keeps going.
            (
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
                64 << 20,
            ),
        ] {
            let url = huge_server(head, len);
            let client = AuthClient::new(&url, Duration::from_secs(20), TokenScheme::Hawk).unwrap();
            let result = client.post("account/login", &serde_json::json!({}), Auth::None);
            assert!(
                matches!(&result, Err(Refusal { error: FxaError::Protocol(m), .. }) if m.contains("larger than")),
                "{:?}",
                result.err().map(|r| r.error)
            );
        }
    }

    #[test]
    fn base_urls() {
        let base = |u: &str| {
            AuthClient::new(u, Duration::from_secs(1), TokenScheme::Hawk)
                .unwrap()
                .base
                .to_string()
        };
        assert_eq!(
            base("https://api.accounts.firefox.com"),
            "https://api.accounts.firefox.com/v1/"
        );
        assert_eq!(
            base("https://api.accounts.firefox.com/v1"),
            "https://api.accounts.firefox.com/v1/"
        );
        assert_eq!(
            base("http://127.0.0.1:9000/auth/"),
            "http://127.0.0.1:9000/auth/v1/"
        );
        assert!(AuthClient::new("ftp://x", Duration::from_secs(1), TokenScheme::Hawk).is_err());
        assert!(AuthClient::new("not a url", Duration::from_secs(1), TokenScheme::Hawk).is_err());
        assert!(AuthClient::new("http://auth.example", Duration::from_secs(1), TokenScheme::Bearer).is_err());
        assert!(AuthClient::new("http://127.0.0.1:1", Duration::from_secs(1), TokenScheme::Bearer).is_ok());
        assert!(
            AuthClient::new(
                "https://auth.example",
                Duration::from_secs(1),
                TokenScheme::Bearer
            )
            .is_ok()
        );
    }
}
