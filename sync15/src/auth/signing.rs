//! Hawk request signing for storage requests.
//!
//! Each request carries `Authorization: Hawk id="…", ts="…", nonce="…",
//! mac="…"`, where the mac is base64 HMAC-SHA256 (token key) over the
//! normalized string `hawk.1.header\n{ts}\n{nonce}\n{METHOD}\n{path?query}\n
//! {host}\n{port}\n{hash}\n{ext}\n`. The `hawk` crate (ring-backed) computes
//! it; this module binds it to sync's credentials and clock-skew handling.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use url::Url;

use crate::error::Error;

/// The Hawk id and key the token server issued for one storage node.
#[derive(Clone)]
pub struct HawkCredentials {
    credentials: Arc<hawk::Credentials>,
}

impl fmt::Debug for HawkCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HawkCredentials").finish_non_exhaustive()
    }
}

/// The payload hash to include in a signature: `content_type` and the body.
#[derive(Debug, Clone, Copy)]
pub struct PayloadToHash<'a> {
    /// The request's content type; parameters after `;` are ignored, as Hawk says.
    pub content_type: &'a str,
    /// The body bytes.
    pub body: &'a [u8],
}

impl HawkCredentials {
    /// From the token's `id` and `key` (the key string's bytes are the HMAC key).
    pub fn new(id: &str, key: &str) -> Result<Self, Error> {
        let key = hawk::Key::new(key.as_bytes(), hawk::DigestAlgorithm::Sha256).map_err(|e| {
            Error::InvalidCredentials {
                reason: format!("Hawk key: {e}"),
            }
        })?;
        Ok(HawkCredentials {
            credentials: Arc::new(hawk::Credentials {
                id: id.to_owned(),
                key,
            }),
        })
    }

    /// The `Authorization` header value for `method url`, stamped `ts` with a
    /// fresh random nonce.
    pub fn authorization(&self, method: &str, url: &Url, ts: SystemTime) -> Result<String, Error> {
        let nonce = crate::Guid::random().to_string();
        self.authorization_full(method, url, ts, &nonce, None, None)
    }

    /// As [`HawkCredentials::authorization`], with every input fixed (for
    /// known-answer tests) and optionally a payload hash and `ext` data.
    pub fn authorization_full(
        &self,
        method: &str,
        url: &Url,
        ts: SystemTime,
        nonce: &str,
        payload: Option<PayloadToHash<'_>>,
        ext: Option<&str>,
    ) -> Result<String, Error> {
        let bad_url = |e: hawk::Error| Error::InvalidUrl {
            url: url.to_string(),
            reason: e.to_string(),
        };
        let hash = payload
            .map(|p| {
                let content_type = p
                    .content_type
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                hawk::PayloadHasher::hash(content_type.as_bytes(), hawk::DigestAlgorithm::Sha256, p.body)
            })
            .transpose()
            .map_err(bad_url)?;
        let request = hawk::RequestBuilder::from_url(method, url)
            .map_err(bad_url)?
            .hash(hash.as_deref())
            .ext(ext)
            .request();
        let header = request
            .make_header_full(&self.credentials, ts, nonce)
            .map_err(bad_url)?;
        Ok(format!("Hawk {header}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    // The examples published with the Hawk specification.
    const ID: &str = "dh37fgj492je";
    const KEY: &str = "werxhqb98rpaxn39848xrunpaw3489ruxnpa98w4rxn";
    const TS: u64 = 1_353_832_234;

    fn field<'a>(header: &'a str, name: &str) -> Option<&'a str> {
        let start = header.find(&format!("{name}=\""))? + name.len() + 2;
        let len = header[start..].find('"')?;
        Some(&header[start..start + len])
    }

    #[test]
    fn published_get_example() {
        let creds = HawkCredentials::new(ID, KEY).unwrap();
        let url = Url::parse("http://example.com:8000/resource/1?b=1&a=2").unwrap();
        let ts = UNIX_EPOCH + Duration::from_secs(TS);
        let header = creds
            .authorization_full("GET", &url, ts, "j4h3g2", None, Some("some-app-ext-data"))
            .unwrap();
        assert!(header.starts_with("Hawk "));
        assert_eq!(field(&header, "id"), Some(ID));
        assert_eq!(field(&header, "ts"), Some("1353832234"));
        assert_eq!(field(&header, "nonce"), Some("j4h3g2"));
        assert_eq!(field(&header, "ext"), Some("some-app-ext-data"));
        assert_eq!(
            field(&header, "mac"),
            Some("6R4rV5iE+NPoym+WwjeHzjAGXUtLNIxmo1vpMofpLAE=")
        );
        assert_eq!(field(&header, "hash"), None);
    }

    #[test]
    fn published_post_example_with_payload_hash() {
        let creds = HawkCredentials::new(ID, KEY).unwrap();
        let url = Url::parse("http://example.com:8000/resource/1?b=1&a=2").unwrap();
        let ts = UNIX_EPOCH + Duration::from_secs(TS);
        let payload = PayloadToHash {
            content_type: "text/plain; charset=utf-8",
            body: b"Thank you for flying Hawk",
        };
        let header = creds
            .authorization_full(
                "POST",
                &url,
                ts,
                "j4h3g2",
                Some(payload),
                Some("some-app-ext-data"),
            )
            .unwrap();
        assert_eq!(
            field(&header, "hash"),
            Some("Yi9LfIIFRtBEPt74PVmbTF/xVAwPn7ub15ePICfgnuY=")
        );
        assert_eq!(
            field(&header, "mac"),
            Some("aSe1DERmZuRl3pI36/9BdZmnErTw3sNzOOAUlfeKjVw=")
        );
    }

    #[test]
    fn every_input_changes_the_mac() {
        let creds = HawkCredentials::new(ID, KEY).unwrap();
        let ts = UNIX_EPOCH + Duration::from_secs(TS);
        let mac = |method: &str, url: &str, ts: SystemTime, nonce: &str| {
            let url = Url::parse(url).unwrap();
            let h = creds
                .authorization_full(method, &url, ts, nonce, None, None)
                .unwrap();
            field(&h, "mac").unwrap().to_owned()
        };
        let base = mac("GET", "http://example.com:8000/a?x=1", ts, "n");
        assert_ne!(base, mac("PUT", "http://example.com:8000/a?x=1", ts, "n"));
        assert_ne!(base, mac("GET", "http://example.com:8001/a?x=1", ts, "n"));
        assert_ne!(base, mac("GET", "http://example.org:8000/a?x=1", ts, "n"));
        assert_ne!(base, mac("GET", "http://example.com:8000/a?x=2", ts, "n"));
        assert_ne!(
            base,
            mac(
                "GET",
                "http://example.com:8000/a?x=1",
                ts + Duration::from_secs(1),
                "n"
            )
        );
        assert_ne!(base, mac("GET", "http://example.com:8000/a?x=1", ts, "m"));
        // The default port of the scheme is what gets signed when none is given.
        assert_eq!(
            mac("GET", "http://example.com/a", ts, "n"),
            mac("GET", "http://example.com:80/a", ts, "n")
        );
    }

    #[test]
    fn fresh_nonces() {
        let creds = HawkCredentials::new(ID, KEY).unwrap();
        let url = Url::parse("http://127.0.0.1:9/x").unwrap();
        let a = creds.authorization("GET", &url, SystemTime::now()).unwrap();
        let b = creds.authorization("GET", &url, SystemTime::now()).unwrap();
        assert_ne!(field(&a, "nonce"), field(&b, "nonce"));
        assert!(!format!("{creds:?}").contains(KEY));
    }
}
