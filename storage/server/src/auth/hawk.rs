//! Hawk verification of storage requests: MAC, payload hash when the client
//! sent one, timestamp window, nonce replay, and token expiry.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use super::nonces::{MAX_NONCE_LEN, NonceCache};
use super::tokens::{TokenError, TokenPayload, TokenSecrets};

/// The parts of a request Hawk signs.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The host the client connected to (from `Host`).
    pub host: &'a str,
    /// The port the client connected to.
    pub port: u16,
    /// Path and query, exactly as received.
    pub path_and_query: &'a str,
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// The body.
    pub body: &'a [u8],
}

/// Why a request was not authenticated. All become 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HawkError {
    /// No `Authorization: Hawk …` header.
    #[error("missing Hawk authorization")]
    Missing,
    /// The header does not parse.
    #[error("malformed Hawk header")]
    Malformed,
    /// The token id is malformed, forged, or signed by a secret we do not share.
    #[error("invalid token: {0}")]
    InvalidToken(TokenError),
    /// The token expired.
    #[error("token expired")]
    Expired,
    /// The MAC, payload hash or timestamp does not check out.
    #[error("invalid Hawk signature or timestamp")]
    BadSignature,
    /// This nonce was already used.
    #[error("replayed nonce")]
    Replay,
}

/// Verifies Hawk headers; remembers nonces while a replay could pass the
/// timestamp check, within a byte budget (see [`NonceCache`]).
pub struct HawkVerifier {
    skew: Duration,
    nonces: Mutex<NonceCache>,
}

impl std::fmt::Debug for HawkVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HawkVerifier").field("skew", &self.skew).finish()
    }
}

/// The default nonce budget: 64 MiB, about 420,000 nonces — 3,400
/// requests a second for the default 60-second skew before any is dropped
/// early.
pub const DEFAULT_NONCE_CACHE_BYTES: usize = 64 << 20;

impl HawkVerifier {
    /// Accepts timestamps within `skew` of the server's clock; remembers
    /// nonces in at most about `nonce_cache_bytes`.
    pub fn new(skew: Duration, nonce_cache_bytes: usize) -> Self {
        HawkVerifier {
            skew,
            nonces: Mutex::new(NonceCache::new(nonce_cache_bytes)),
        }
    }

    /// How many nonces are remembered, and an upper bound of their bytes.
    pub fn nonce_cache_size(&self) -> (usize, usize) {
        let cache = self.nonces.lock();
        (cache.len(), cache.heap_bytes())
    }

    /// Verifies `request`, its body included; returns the token's payload.
    /// With `allow_expired`, a token past its expiry is still accepted
    /// (Mozilla's storage nodes do that for `GET info/collections` only).
    pub fn verify(
        &self,
        secrets: &TokenSecrets,
        request: &SignedRequest<'_>,
        allow_expired: bool,
    ) -> Result<TokenPayload, HawkError> {
        self.verify_head(secrets, request, allow_expired)?
            .check_body(request.body)
    }

    /// Verifies what the request's head says — the token, the MAC over the
    /// method, path, host, port and the payload hash it claims, the
    /// timestamp, the nonce — without its body, so that a request nobody
    /// signed is refused before the server reads (and holds) its body.
    /// [`HeadVerified::check_body`] then checks the body against the claimed
    /// hash. `request.body` is not read here.
    pub fn verify_head(
        &self,
        secrets: &TokenSecrets,
        request: &SignedRequest<'_>,
        allow_expired: bool,
    ) -> Result<HeadVerified, HawkError> {
        let header = request
            .authorization
            .and_then(|h| h.strip_prefix("Hawk "))
            .ok_or(HawkError::Missing)?;
        let header: hawk::Header = header.parse().map_err(|_| HawkError::Malformed)?;
        let id = header.id.as_deref().ok_or(HawkError::Malformed)?;
        let nonce = header.nonce.as_deref().ok_or(HawkError::Malformed)?;
        if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN {
            return Err(HawkError::Malformed);
        }
        if header.ts.is_none() {
            return Err(HawkError::Malformed);
        }
        let now = SystemTime::now();
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let now_secs = now.as_secs();
        let token = secrets
            .verify(id, (!allow_expired).then_some(now.as_secs_f64()))
            .map_err(|e| match e {
                TokenError::Expired => HawkError::Expired,
                other => HawkError::InvalidToken(other),
            })?;
        let key = hawk::Key::new(token.hawk_key.as_bytes(), hawk::DigestAlgorithm::Sha256)
            .map_err(|_| HawkError::BadSignature)?;
        let valid =
            hawk::RequestBuilder::new(request.method, request.host, request.port, request.path_and_query)
                .hash(header.hash.as_deref())
                .ext(header.ext.as_deref())
                .request()
                .validate_header(&header, &key, self.skew);
        if !valid {
            return Err(HawkError::BadSignature);
        }

        let forget_at = now_secs + 2 * self.skew.as_secs() + 1;
        if !self.nonces.lock().record(id, nonce, now_secs, forget_at) {
            return Err(HawkError::Replay);
        }
        let content_type = request
            .content_type
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        Ok(HeadVerified {
            payload: token.payload,
            claimed_hash: header.hash.clone(),
            content_type,
        })
    }
}

/// A request whose Hawk header checked out; its body is still to be
/// checked against the payload hash the header claims (signed by the MAC).
#[derive(Debug)]
pub struct HeadVerified {
    payload: TokenPayload,
    claimed_hash: Option<Vec<u8>>,
    content_type: String,
}

impl HeadVerified {
    /// The token's payload.
    pub fn payload(&self) -> &TokenPayload {
        &self.payload
    }

    /// Checks `body` against the claimed payload hash (optional in Hawk:
    /// none claimed, nothing to check); returns the token's payload.
    pub fn check_body(self, body: &[u8]) -> Result<TokenPayload, HawkError> {
        if let Some(claimed) = &self.claimed_hash {
            let actual =
                hawk::PayloadHasher::hash(self.content_type.as_bytes(), hawk::DigestAlgorithm::Sha256, body)
                    .map_err(|_| HawkError::BadSignature)?;
            if !constant_time_eq(&actual, claimed) {
                return Err(HawkError::BadSignature);
            }
        }
        Ok(self.payload)
    }
}

/// Compares without an early exit, so timing does not reveal where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(
        secrets: &TokenSecrets,
        payload: &TokenPayload,
        ts: SystemTime,
        nonce: &str,
        path: &str,
    ) -> String {
        let (id, key) = secrets.issue(payload);
        let credentials = hawk::Credentials {
            id,
            key: hawk::Key::new(key.as_bytes(), hawk::DigestAlgorithm::Sha256).unwrap(),
        };
        let header = hawk::RequestBuilder::new("GET", "127.0.0.1", 8000, path)
            .request()
            .make_header_full(&credentials, ts, nonce)
            .unwrap();
        format!("Hawk {header}")
    }

    fn payload(expires_in: f64) -> TokenPayload {
        TokenPayload {
            uid: 7,
            node: "n".into(),
            expires: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs_f64()
                + expires_in,
            fxa_uid: "f".into(),
            fxa_kid: String::new(),
            hashed_fxa_uid: String::new(),
            hashed_device_id: String::new(),
            salt: "abcdef".into(),
        }
    }

    fn secrets(master: &str) -> TokenSecrets {
        TokenSecrets::new(&[master], None).unwrap()
    }

    fn request<'a>(authorization: &'a str, path: &'a str) -> SignedRequest<'a> {
        SignedRequest {
            method: "GET",
            host: "127.0.0.1",
            port: 8000,
            path_and_query: path,
            authorization: Some(authorization),
            content_type: None,
            body: b"",
        }
    }

    #[test]
    fn accepts_once_and_refuses_replays() {
        let secrets = secrets("m");
        let verifier = HawkVerifier::new(Duration::from_secs(60), DEFAULT_NONCE_CACHE_BYTES);
        let auth = sign(
            &secrets,
            &payload(600.0),
            SystemTime::now(),
            "n1",
            "/1.5/7/info/collections",
        );
        let req = request(&auth, "/1.5/7/info/collections");
        assert_eq!(verifier.verify(&secrets, &req, false).unwrap().uid, 7);
        assert_eq!(verifier.verify(&secrets, &req, false), Err(HawkError::Replay));
    }

    #[test]
    fn refuses_what_does_not_check_out() {
        let secrets = secrets("m");
        let verifier = HawkVerifier::new(Duration::from_secs(60), DEFAULT_NONCE_CACHE_BYTES);
        let path = "/1.5/7/info/collections";
        // Another path than the one signed.
        let auth = sign(&secrets, &payload(600.0), SystemTime::now(), "a", path);
        assert_eq!(
            verifier.verify(&secrets, &request(&auth, "/1.5/8/info/collections"), false),
            Err(HawkError::BadSignature)
        );
        // Signed five minutes ago.
        let old = sign(
            &secrets,
            &payload(600.0),
            SystemTime::now() - Duration::from_secs(300),
            "b",
            path,
        );
        assert_eq!(
            verifier.verify(&secrets, &request(&old, path), false),
            Err(HawkError::BadSignature)
        );
        // An expired token: refused, unless the route allows expired tokens.
        let auth = sign(&secrets, &payload(-1.0), SystemTime::now(), "c", path);
        assert_eq!(
            verifier.verify(&secrets, &request(&auth, path), false),
            Err(HawkError::Expired)
        );
        assert_eq!(
            verifier
                .verify(&secrets, &request(&auth, path), true)
                .unwrap()
                .uid,
            7
        );
        // Another server's token.
        let auth = sign(
            &self::secrets("other"),
            &payload(600.0),
            SystemTime::now(),
            "d",
            path,
        );
        assert_eq!(
            verifier.verify(&secrets, &request(&auth, path), false),
            Err(HawkError::InvalidToken(TokenError::BadSignature))
        );
        // The right token with a key derived from another salt.
        let good = payload(600.0);
        let (id, _) = secrets.issue(&good);
        let wrong_salt = TokenPayload {
            salt: "000000".into(),
            ..good
        };
        let (_, wrong_key) = secrets.issue(&wrong_salt);
        let credentials = hawk::Credentials {
            id,
            key: hawk::Key::new(wrong_key.as_bytes(), hawk::DigestAlgorithm::Sha256).unwrap(),
        };
        let header = hawk::RequestBuilder::new("GET", "127.0.0.1", 8000, path)
            .request()
            .make_header_full(&credentials, SystemTime::now(), "e")
            .unwrap();
        assert_eq!(
            verifier.verify(&secrets, &request(&format!("Hawk {header}"), path), false),
            Err(HawkError::BadSignature)
        );
        assert_eq!(
            verifier.verify(&secrets, &request("Bearer x", path), false),
            Err(HawkError::Missing)
        );
        assert_eq!(
            verifier.verify(&secrets, &request("Hawk nonsense", path), false),
            Err(HawkError::Malformed)
        );
        // A nonce no Hawk client would send.
        let long = sign(
            &secrets,
            &payload(600.0),
            SystemTime::now(),
            &"n".repeat(129),
            path,
        );
        assert_eq!(
            verifier.verify(&secrets, &request(&long, path), false),
            Err(HawkError::Malformed)
        );
        let longest = sign(
            &secrets,
            &payload(600.0),
            SystemTime::now(),
            &"n".repeat(128),
            path,
        );
        assert!(verifier.verify(&secrets, &request(&longest, path), false).is_ok());
    }
}
