//! The token server client: trades an OAuth token and the key id for a
//! short-lived storage credential and the URL of the user's storage node.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use url::Url;

use super::HawkCredentials;
use crate::client::HttpClient;
use crate::error::{Error, ServerKind};

/// The token server's path for Sync 1.5.
pub const TOKEN_PATH: &str = "1.0/sync/1.5";

/// A token is treated as expired this long before the server says, so a
/// sync never starts with one that dies halfway.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// What the token server hands out: Hawk credentials for one storage node.
#[derive(Clone, Serialize, Deserialize)]
pub struct Token {
    /// The Hawk id (opaque; the storage node decodes it).
    pub id: String,
    /// The Hawk key.
    pub key: String,
    /// The user's numeric id on the storage node.
    pub uid: u64,
    /// The storage endpoint, e.g. `https://sync-1.example/1.5/12345`.
    pub api_endpoint: String,
    /// Seconds the credentials are valid for.
    pub duration: u64,
    /// A hash of the account id, for telemetry.
    #[serde(default)]
    pub hashed_fxa_uid: String,
    /// When it was fetched; absent from the token server's answer (so
    /// "now"), kept when an app persists the token and loads it again.
    #[serde(default = "SystemTime::now", with = "epoch_seconds")]
    fetched_at: SystemTime,
}

mod epoch_seconds {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        Ok(UNIX_EPOCH + Duration::from_secs(u64::deserialize(d)?))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("uid", &self.uid)
            .field("api_endpoint", &self.api_endpoint)
            .field("expires_at", &self.expires_at())
            .finish_non_exhaustive()
    }
}

impl Token {
    /// A token assembled by hand (tests, or credentials obtained elsewhere),
    /// valid for `duration` seconds from now.
    pub fn new(id: &str, key: &str, uid: u64, api_endpoint: &str, duration: u64) -> Self {
        Token {
            id: id.to_owned(),
            key: key.to_owned(),
            uid,
            api_endpoint: api_endpoint.to_owned(),
            duration,
            hashed_fxa_uid: String::new(),
            fetched_at: SystemTime::now(),
        }
    }

    /// When the storage node stops accepting these credentials.
    pub fn expires_at(&self) -> SystemTime {
        self.fetched_at + Duration::from_secs(self.duration)
    }

    /// Whether the token is expired, or will be within a minute, at `now`.
    pub fn is_expired_at(&self, now: SystemTime) -> bool {
        now + EXPIRY_MARGIN >= self.expires_at()
    }

    /// Whether the token is expired or about to be.
    pub fn is_expired(&self) -> bool {
        self.is_expired_at(SystemTime::now())
    }

    /// The Hawk credentials to sign storage requests with.
    pub fn hawk_credentials(&self) -> Result<HawkCredentials, Error> {
        HawkCredentials::new(&self.id, &self.key)
    }
}

/// Fetches tokens from one token server.
#[derive(Debug, Clone)]
pub struct TokenClient {
    http: HttpClient,
    url: Url,
}

impl TokenClient {
    /// `server` is either the token server's base URL
    /// (`https://token.services.mozilla.com`) or the full token URL ending
    /// in `/1.0/sync/1.5`.
    pub fn new(http: HttpClient, server: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidUrl {
            url: server.to_owned(),
            reason: reason.to_owned(),
        };
        let mut url = Url::parse(server).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
            return Err(invalid("the token server URL must be http(s)"));
        }
        if !url.path().trim_end_matches('/').ends_with(TOKEN_PATH) {
            if !url.path().ends_with('/') {
                let path = format!("{}/", url.path());
                url.set_path(&path);
            }
            url = url.join(TOKEN_PATH).map_err(|e| invalid(&e.to_string()))?;
        }
        Ok(TokenClient { http, url })
    }

    /// The URL tokens are fetched from.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// `GET /1.0/sync/1.5` with `Authorization: Bearer <oauth_token>` and
    /// `X-KeyID: <key_id>` (see [`SyncRootKey::key_id`](crate::SyncRootKey::key_id)).
    ///
    /// 401/403 become [`Error::TokenRejected`] (the user must sign in again);
    /// 503 becomes [`Error::ServerUnavailable`] with the backoff.
    pub fn fetch_token(&self, oauth_token: &str, key_id: &str) -> Result<Token, Error> {
        let request = self
            .http
            .request(reqwest::Method::GET, self.url.clone())
            .bearer_auth(oauth_token)
            .header("X-KeyID", key_id)
            .header(reqwest::header::ACCEPT, "application/json");
        let response = self.http.execute(ServerKind::Token, request)?;
        let token: Token =
            serde_json::from_slice(&response.body).map_err(|source| Error::MalformedResponse {
                what: "token server response".into(),
                source,
            })?;
        let endpoint = Url::parse(&token.api_endpoint).map_err(|e| Error::InvalidUrl {
            url: token.api_endpoint.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(endpoint.scheme(), "http" | "https") {
            return Err(Error::InvalidUrl {
                url: token.api_endpoint.clone(),
                reason: "the storage endpoint must be http(s)".into(),
            });
        }
        log::debug!("got a token for uid {} at {}", token.uid, token.api_endpoint);
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_server_urls() {
        let http = HttpClient::new().unwrap();
        let full = |s: &str| TokenClient::new(http.clone(), s).unwrap().url().to_string();
        assert_eq!(
            full("https://token.example"),
            "https://token.example/1.0/sync/1.5"
        );
        assert_eq!(
            full("https://token.example/"),
            "https://token.example/1.0/sync/1.5"
        );
        assert_eq!(
            full("https://h.example/token"),
            "https://h.example/token/1.0/sync/1.5"
        );
        assert_eq!(
            full("https://h.example/token/1.0/sync/1.5"),
            "https://h.example/token/1.0/sync/1.5"
        );
        assert!(TokenClient::new(http.clone(), "not a url").is_err());
        assert!(TokenClient::new(http, "ftp://token.example").is_err());
    }

    #[test]
    fn token_expiry() {
        let t = Token::new("id", "key", 1, "http://127.0.0.1:1/1.5/1", 3600);
        assert!(!t.is_expired());
        assert!(t.is_expired_at(SystemTime::now() + Duration::from_secs(3550)));
        let short = Token::new("id", "key", 1, "http://127.0.0.1:1/1.5/1", 30);
        assert!(short.is_expired(), "inside the one-minute margin");
        assert!(!format!("{t:?}").contains("key"));
    }

    #[test]
    fn token_json() {
        let t: Token = serde_json::from_str(
            r#"{"id":"eyJ","key":"k","uid":42,"api_endpoint":"http://127.0.0.1:5000/1.5/42","duration":300,"hashed_fxa_uid":"abc","node_type":"spanner"}"#,
        )
        .unwrap();
        assert_eq!(t.uid, 42);
        assert_eq!(t.duration, 300);
        assert!(t.expires_at() > SystemTime::now());
        assert!(serde_json::from_str::<Token>(r#"{"id":"x"}"#).is_err());
        // Persisted and loaded again, a token keeps its age.
        let old = Token {
            fetched_at: SystemTime::now() - Duration::from_secs(250),
            ..t
        };
        let back: Token = serde_json::from_str(&serde_json::to_string(&old).unwrap()).unwrap();
        assert!(
            back.is_expired(),
            "fetched 250 s ago with 300 s to live and a 60 s margin"
        );
    }
}
