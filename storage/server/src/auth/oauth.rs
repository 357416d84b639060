//! Bearer tokens presented to the token server.
//!
//! - **fxa**: Firefox Accounts access tokens, RS256 JWTs, checked against
//!   FxA's published public keys from the configuration — no network call.
//! - **dev**: HS256 JWTs signed with a configured secret, minted by
//!   `sync-storage mint-token`, so tests and self-hosters can create
//!   accounts offline.
//!
//! Either way the token must be unexpired, name the account in `sub`, and
//! carry the oldsync scope.

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::{AuthConfig, AuthMode};

/// Who a valid bearer token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The FxA account id.
    pub fxa_uid: String,
    /// The account's email, when the token has one.
    pub email: String,
    /// The account generation, when the token has one.
    pub generation: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(default)]
    scope: Scope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(default, rename = "fxa-generation", skip_serializing_if = "Option::is_none")]
    generation: Option<i64>,
}

/// FxA writes scopes as one space-separated string; accept a list too.
#[derive(Debug, Serialize, Deserialize, Default)]
#[serde(untagged)]
enum Scope {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl Scope {
    fn contains(&self, wanted: &str) -> bool {
        match self {
            Scope::None => false,
            Scope::One(s) => s.split_whitespace().any(|s| s == wanted),
            Scope::Many(v) => v.iter().any(|s| s == wanted),
        }
    }
}

/// Why a bearer token was refused. All are `invalid-credentials` (401).
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// Signature, expiry or format.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// Valid, but without the oldsync scope.
    #[error("the token does not grant the sync scope")]
    MissingScope,
    /// Names a signing key we do not know.
    #[error("unknown signing key {0:?}")]
    UnknownKey(Option<String>),
}

/// Checks bearer tokens according to the configuration.
pub struct OAuthVerifier {
    mode: AuthMode,
    dev_key: Option<DecodingKey>,
    fxa_keys: Vec<(String, DecodingKey)>,
    scope: String,
}

impl std::fmt::Debug for OAuthVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthVerifier").field("mode", &self.mode).finish()
    }
}

impl OAuthVerifier {
    /// A verifier for `config`. Fails on keys that do not decode.
    pub fn new(config: &AuthConfig) -> Result<Self, OAuthError> {
        let mut fxa_keys = Vec::new();
        for jwk in &config.fxa_jwks {
            let key = DecodingKey::from_rsa_components(&jwk.n, &jwk.e)
                .map_err(|e| OAuthError::Invalid(format!("JWK {}: {e}", jwk.kid)))?;
            fxa_keys.push((jwk.kid.clone(), key));
        }
        Ok(OAuthVerifier {
            mode: config.mode,
            dev_key: config
                .dev_secret
                .as_deref()
                .map(|s| DecodingKey::from_secret(s.as_bytes())),
            fxa_keys,
            scope: config.required_scope.clone(),
        })
    }

    /// The identity in a valid token.
    pub fn verify(&self, token: &str) -> Result<Identity, OAuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| OAuthError::Invalid(e.to_string()))?;
        let (key, algorithm) = match self.mode {
            AuthMode::Dev => (
                self.dev_key
                    .as_ref()
                    .ok_or_else(|| OAuthError::Invalid("no dev_secret is configured".into()))?,
                Algorithm::HS256,
            ),
            AuthMode::Fxa => {
                let key = self
                    .fxa_keys
                    .iter()
                    .find(|(kid, _)| header.kid.as_deref().is_none_or(|k| k == kid))
                    .map(|(_, key)| key)
                    .ok_or_else(|| OAuthError::UnknownKey(header.kid.clone()))?;
                (key, Algorithm::RS256)
            }
        };
        let mut validation = Validation::new(algorithm);
        // FxA's audience varies by relier; the scope is what grants sync access.
        validation.validate_aud = false;
        validation.leeway = 60;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|e| OAuthError::Invalid(e.to_string()))?;
        let claims = data.claims;
        if !claims.scope.contains(&self.scope) {
            return Err(OAuthError::MissingScope);
        }
        if claims.sub.is_empty() || claims.sub.len() > 128 {
            return Err(OAuthError::Invalid("bad subject".into()));
        }
        Ok(Identity {
            fxa_uid: claims.sub,
            email: claims.email.unwrap_or_default(),
            generation: claims.generation,
        })
    }
}

/// A dev-mode bearer token for `email`, valid for `duration_secs`: what
/// `sync-storage mint-token` prints. The account id is derived from the email,
/// so minting again for the same email reaches the same account.
pub fn mint_dev_token(
    dev_secret: &str,
    email: &str,
    generation: i64,
    duration_secs: u64,
) -> Result<String, OAuthError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let digest = ring::digest::digest(&ring::digest::SHA256, email.trim().to_lowercase().as_bytes());
    let claims = Claims {
        sub: hex::encode(&digest.as_ref()[..16]),
        exp: now + duration_secs,
        iat: Some(now),
        scope: Scope::One(crate::config::OLDSYNC_SCOPE.to_owned()),
        email: Some(email.to_owned()),
        generation: Some(generation),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(dev_secret.as_bytes()),
    )
    .map_err(|e| OAuthError::Invalid(e.to_string()))
}

/// Parses `X-KeyID: <keysChangedAt>-<base64url(first 16 bytes of SHA-256(kB))>`
/// into the keys-changed time and the hex client state.
pub fn parse_key_id(key_id: &str) -> Option<(i64, String)> {
    let (changed_at, fingerprint) = key_id.trim().split_once('-')?;
    let changed_at: i64 = changed_at.parse().ok().filter(|t| *t >= 0)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(fingerprint.trim_end_matches('='))
        .ok()?;
    (bytes.len() == 16).then(|| (changed_at, hex::encode(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev_config(secret: &str) -> AuthConfig {
        AuthConfig {
            dev_secret: Some(secret.into()),
            ..AuthConfig::default()
        }
    }

    #[test]
    fn minted_dev_tokens_verify() {
        let verifier = OAuthVerifier::new(&dev_config("s")).unwrap();
        let token = mint_dev_token("s", "Someone@Example.com", 3, 600).unwrap();
        let who = verifier.verify(&token).unwrap();
        assert_eq!(who.email, "Someone@Example.com");
        assert_eq!(who.generation, Some(3));
        let again = verifier.verify(&mint_dev_token("s", "someone@example.com ", 3, 600).unwrap());
        assert_eq!(
            again.unwrap().fxa_uid,
            who.fxa_uid,
            "same account for the same email"
        );
    }

    #[test]
    fn wrong_secret_expired_and_garbage_are_refused() {
        let verifier = OAuthVerifier::new(&dev_config("s")).unwrap();
        let other = mint_dev_token("not-s", "a@b", 1, 600).unwrap();
        assert!(matches!(verifier.verify(&other), Err(OAuthError::Invalid(_))));
        for garbage in ["", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "not a jwt"] {
            assert!(verifier.verify(garbage).is_err(), "{garbage}");
        }
        let no_secret = OAuthVerifier::new(&AuthConfig::default()).unwrap();
        assert!(
            no_secret
                .verify(&mint_dev_token("s", "a@b", 1, 600).unwrap())
                .is_err()
        );
    }

    #[test]
    fn key_ids() {
        assert_eq!(
            parse_key_id("1234-AAECAwQFBgcICQoLDA0ODw"),
            Some((1234, "000102030405060708090a0b0c0d0e0f".into()))
        );
        for bad in [
            "",
            "1234",
            "x-AAECAwQFBgcICQoLDA0ODw",
            "-1-AAECAwQFBgcICQoLDA0ODw",
            "1-AAEC",
            "1-!!!",
        ] {
            assert_eq!(parse_key_id(bad), None, "{bad}");
        }
    }
}
