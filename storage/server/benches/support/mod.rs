//! What the server benchmarks share: a user signed in through the token
//! server, Hawk-signed requests, and record payloads shaped like real ones.

use std::time::SystemTime;

use sync15::{HawkCredentials, HttpClient, SyncRootKey, Token, TokenClient};

/// A user with a storage token.
pub struct User {
    pub token: Token,
    credentials: HawkCredentials,
}

impl User {
    /// Fetches a storage token for `oauth` from the token server at
    /// `token_server` (the `n`th user: its kB is `[n; 32]`).
    pub fn sign_in(token_server: &str, oauth: &str, n: usize) -> User {
        let key_id = SyncRootKey::new(&[n as u8; 32], 1).unwrap().key_id();
        let token = TokenClient::new(HttpClient::new().unwrap(), token_server)
            .unwrap()
            .fetch_token(oauth, &key_id)
            .unwrap();
        User {
            credentials: token.hawk_credentials().unwrap(),
            token,
        }
    }

    /// A Hawk-signed request to `<api_endpoint><rest>`.
    pub fn request(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        rest: &str,
    ) -> reqwest::RequestBuilder {
        let url = url::Url::parse(&format!("{}{rest}", self.token.api_endpoint)).unwrap();
        let auth = self
            .credentials
            .authorization(method.as_str(), &url, SystemTime::now())
            .unwrap();
        client.request(method, url).header("Authorization", auth)
    }
}

/// An encrypted record's payload as a JSON string literal: base64
/// ciphertext, IV, hex HMAC — about 600 bytes, as a typical history or
/// bookmark record.
pub fn payload_json() -> String {
    let ciphertext = "Q".repeat(512);
    let payload = format!(
        r#"{{"ciphertext":"{ciphertext}","IV":"AAAAAAAAAAAAAAAAAAAAAA==","hmac":"{}"}}"#,
        "0".repeat(64)
    );
    serde_json::to_string(&payload).unwrap()
}
