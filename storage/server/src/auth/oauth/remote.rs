//! Asking FxA's OAuth server whether a token is good: `POST /v1/verify`.
//!
//! Followed: Mozilla's token server (syncstorage-rs `tokenserver-auth`,
//! `oauth/native.rs`), which sends `{"token": …}` and reads `user`, `scope`
//! (a list) and `generation` from the answer; FxA's auth server answers a
//! token it does not accept with a 400 (`errno` 108, "Invalid token").
//!
//! Where this goes further than Mozilla's: a timeout, a network error or a
//! 5xx from FxA is an [`OAuthError::Unavailable`] (the token server answers
//! 503 with `Retry-After`) rather than a 401 that would tell the client to
//! sign in again; and a verified token is remembered for
//! [`AuthConfig::fxa_verify_cache_secs`] so a burst of token requests costs
//! FxA one call. Only verified tokens are remembered, keyed by the token's
//! SHA-256, never the token itself.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Deserialize;

use super::{Identity, OAuthError, Scope};
use crate::config::AuthConfig;

/// At most this many verified tokens are remembered.
const MAX_CACHED: usize = 10_000;

#[derive(Deserialize)]
struct VerifyResponse {
    user: String,
    #[serde(default)]
    scope: Scope,
    #[serde(default)]
    generation: Option<i64>,
}

type TokenHash = [u8; 32];

/// A client for one FxA OAuth server, with a short cache.
pub struct RemoteVerifier {
    client: reqwest::Client,
    url: url::Url,
    ttl: Duration,
    cache: Mutex<HashMap<TokenHash, (Instant, Identity, Scope)>>,
}

impl RemoteVerifier {
    /// For the server and timeouts in `config`.
    pub fn new(config: &AuthConfig) -> Result<Self, OAuthError> {
        let mut base = url::Url::parse(&config.fxa_oauth_server_url)
            .map_err(|e| OAuthError::Config(format!("fxa_oauth_server_url: {e}")))?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let url = base
            .join("v1/verify")
            .map_err(|e| OAuthError::Config(format!("fxa_oauth_server_url: {e}")))?;
        let timeout = Duration::from_secs(config.fxa_verify_timeout_secs);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| OAuthError::Config(format!("HTTP client: {e}")))?;
        Ok(RemoteVerifier {
            client,
            url,
            ttl: Duration::from_secs(config.fxa_verify_cache_secs),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Who FxA says `token` is for, and its scope.
    pub async fn verify(&self, token: &str) -> Result<(Identity, Scope), OAuthError> {
        let hash = token_hash(token);
        if let Some((identity, scope)) = self.cached(&hash) {
            return Ok((identity, scope));
        }
        let response = self
            .client
            .post(self.url.clone())
            .json(&serde_json::json!({ "token": token }))
            .send()
            .await
            .map_err(|e| OAuthError::Unavailable(format!("FxA /v1/verify: {e}")))?;
        let status = response.status();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(OAuthError::Unavailable(format!(
                "FxA /v1/verify answered {status}"
            )));
        }
        if !status.is_success() {
            return Err(OAuthError::Invalid(format!("FxA /v1/verify answered {status}")));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| OAuthError::Unavailable(format!("FxA /v1/verify: {e}")))?;
        let verified: VerifyResponse = serde_json::from_slice(&body)
            .map_err(|e| OAuthError::Unavailable(format!("FxA /v1/verify: unreadable answer: {e}")))?;
        let identity = Identity {
            fxa_uid: verified.user,
            email: String::new(),
            generation: verified.generation.filter(|g| *g != 0),
        };
        self.remember(hash, &identity, &verified.scope);
        Ok((identity, verified.scope))
    }

    fn cached(&self, hash: &TokenHash) -> Option<(Identity, Scope)> {
        let cache = self.cache.lock();
        let (at, identity, scope) = cache.get(hash)?;
        (at.elapsed() < self.ttl).then(|| (identity.clone(), scope.clone()))
    }

    fn remember(&self, hash: TokenHash, identity: &Identity, scope: &Scope) {
        if self.ttl.is_zero() {
            return;
        }
        let mut cache = self.cache.lock();
        if cache.len() >= MAX_CACHED {
            let ttl = self.ttl;
            cache.retain(|_, (at, _, _)| at.elapsed() < ttl);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(hash, (Instant::now(), identity.clone(), scope.clone()));
    }
}

fn token_hash(token: &str) -> TokenHash {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref());
    out
}
