//! Bearer tokens presented to the token server.
//!
//! - **fxa**: Firefox Accounts access tokens, verified as Mozilla's token
//!   server (syncstorage-rs `tokenserver-auth`, `oauth/native.rs`) does: a
//!   JWT is checked locally against FxA's primary and secondary public keys
//!   ([`jwt`]); a token that is not a JWT, or when no key is configured, is
//!   sent to FxA's OAuth server `POST /v1/verify` ([`remote`]). A token FxA
//!   cannot vouch for — expired, revoked, wrong scope, or FxA unreachable —
//!   is never let through: the last is a 503, the others a 401.
//! - **dev**: HS256 JWTs signed with a configured secret, minted by
//!   `sync-storage mint-token`, so tests and self-hosters can create
//!   accounts offline.
//!
//! Either way the token must be unexpired, name the account, and carry the
//! oldsync scope.

pub mod jwt;
pub mod remote;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::{AuthConfig, AuthMode, RsaJwk};

/// How far past `exp` (or before `nbf`) a JWT is still accepted. FxA's
/// tokens carry their own lifetime; this only absorbs the clock skew
/// between FxA and this server, both NTP-synchronised — a few seconds.
/// (jsonwebtoken's default, and so Mozilla's Rust token server's, is 60 s:
/// a minute's use of a token after it expired, which nothing needs.)
pub const JWT_LEEWAY_SECS: u64 = 5;

/// Who a valid bearer token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The FxA account id.
    pub fxa_uid: String,
    /// The account's email, when the token has one.
    pub email: String,
    /// The account generation (`fxa-generation`), when the token has one.
    /// Zero is read as absent, as Mozilla's token server does.
    pub generation: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct DevClaims {
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

/// A `scope` claim. FxA writes one space-separated string (RFC 9068);
/// Mozilla's token server splits it on commas; `/v1/verify` answers a list.
/// All three are accepted.
#[derive(Debug, Serialize, Deserialize, Default, Clone)]
#[serde(untagged)]
pub enum Scope {
    /// No scope at all.
    #[default]
    None,
    /// A delimited string.
    One(String),
    /// A list.
    Many(Vec<String>),
}

impl Scope {
    /// Whether `wanted` is one of the scopes.
    pub fn contains(&self, wanted: &str) -> bool {
        match self {
            Scope::None => false,
            Scope::One(s) => s
                .split(|c: char| c == ',' || c.is_whitespace())
                .any(|s| s == wanted),
            Scope::Many(v) => v.iter().any(|s| s == wanted),
        }
    }
}

/// Why a bearer token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// Signature, expiry, format, or FxA said no: `invalid-credentials` (401).
    #[error("invalid token: {0}")]
    Invalid(String),
    /// Valid, but without the oldsync scope (401).
    #[error("the token does not grant the sync scope")]
    MissingScope,
    /// FxA could not be asked, or did not answer in time: 503, and the
    /// token is not accepted.
    #[error("cannot verify the token now: {0}")]
    Unavailable(String),
    /// The configuration cannot be used (a key that does not decode).
    #[error("auth configuration: {0}")]
    Config(String),
}

/// Checks bearer tokens according to the configuration.
pub struct OAuthVerifier {
    mode: AuthMode,
    dev_key: Option<DecodingKey>,
    /// Swapped whole when the keys change (an in-process accounts service
    /// rotating its signing key).
    jwt: parking_lot::RwLock<std::sync::Arc<jwt::JwtVerifier>>,
    remote: Option<remote::RemoteVerifier>,
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
        let keys = [&config.fxa_primary_jwk, &config.fxa_secondary_jwk];
        let remote = match config.mode {
            AuthMode::Fxa => Some(remote::RemoteVerifier::new(config)?),
            AuthMode::Dev => None,
        };
        Ok(OAuthVerifier {
            mode: config.mode,
            dev_key: config
                .dev_secret
                .as_deref()
                .map(|s| DecodingKey::from_secret(s.as_bytes())),
            jwt: parking_lot::RwLock::new(std::sync::Arc::new(jwt::JwtVerifier::new(
                keys.into_iter().flatten(),
            )?)),
            remote,
            scope: config.required_scope.clone(),
        })
    }

    /// Verifies JWTs with `keys` from now on (the primary first): an
    /// in-process accounts service rotated its signing key.
    pub fn replace_keys<'a>(&self, keys: impl IntoIterator<Item = &'a RsaJwk>) -> Result<(), OAuthError> {
        let verifier = jwt::JwtVerifier::new(keys)?;
        *self.jwt.write() = std::sync::Arc::new(verifier);
        Ok(())
    }

    /// The current JWT verifier (no lock held while it works, nor across
    /// an await).
    fn jwt_verifier(&self) -> std::sync::Arc<jwt::JwtVerifier> {
        self.jwt.read().clone()
    }

    /// The identity in a valid token.
    pub async fn verify(&self, token: &str) -> Result<Identity, OAuthError> {
        let (identity, scope) = match self.mode {
            AuthMode::Dev => self.verify_dev(token)?,
            AuthMode::Fxa => match self.jwt_verifier().verify(token) {
                jwt::Outcome::Valid(identity, scope) => (identity, scope),
                jwt::Outcome::Refused(why) => return Err(OAuthError::Invalid(why)),
                // Not a JWT we can judge: FxA decides, as Mozilla's token server does.
                jwt::Outcome::AskFxa => match &self.remote {
                    Some(remote) => remote.verify(token).await?,
                    None => return Err(OAuthError::Invalid("no way to verify the token".into())),
                },
            },
        };
        if !scope.contains(&self.scope) {
            return Err(OAuthError::MissingScope);
        }
        if identity.fxa_uid.is_empty() || identity.fxa_uid.len() > 128 {
            return Err(OAuthError::Invalid("bad subject".into()));
        }
        Ok(identity)
    }

    fn verify_dev(&self, token: &str) -> Result<(Identity, Scope), OAuthError> {
        let key = self
            .dev_key
            .as_ref()
            .ok_or_else(|| OAuthError::Invalid("no dev_secret is configured".into()))?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_aud = false;
        validation.leeway = JWT_LEEWAY_SECS;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let claims = jsonwebtoken::decode::<DevClaims>(token, key, &validation)
            .map_err(|e| OAuthError::Invalid(e.to_string()))?
            .claims;
        Ok((
            Identity {
                fxa_uid: claims.sub,
                email: claims.email.unwrap_or_default(),
                generation: claims.generation.filter(|g| *g != 0),
            },
            claims.scope,
        ))
    }
}

/// A dev-mode bearer token for `email`, valid for `duration_secs`: what
/// `sync-storage mint-token` prints. The account id is derived from the email,
/// so minting again for the same email reaches the same account. A
/// `generation` of 0 leaves `fxa-generation` out, as FxA does for tokens
/// that carry none.
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
    let claims = DevClaims {
        sub: hex::encode(&digest.as_ref()[..16]),
        exp: now + duration_secs,
        iat: Some(now),
        scope: Scope::One(crate::config::OLDSYNC_SCOPE.to_owned()),
        email: Some(email.to_owned()),
        generation: (generation != 0).then_some(generation),
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

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn minted_dev_tokens_verify() {
        let verifier = OAuthVerifier::new(&dev_config("s")).unwrap();
        let token = mint_dev_token("s", "Someone@Example.com", 3, 600).unwrap();
        let who = block_on(verifier.verify(&token)).unwrap();
        assert_eq!(who.email, "Someone@Example.com");
        assert_eq!(who.generation, Some(3));
        let again = block_on(verifier.verify(&mint_dev_token("s", "someone@example.com ", 3, 600).unwrap()));
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
        assert!(matches!(
            block_on(verifier.verify(&other)),
            Err(OAuthError::Invalid(_))
        ));
        for garbage in ["", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "not a jwt"] {
            assert!(block_on(verifier.verify(garbage)).is_err(), "{garbage}");
        }
        let no_generation = mint_dev_token("s", "a@b", 0, 600).unwrap();
        assert_eq!(
            block_on(verifier.verify(&no_generation)).unwrap().generation,
            None
        );
        let no_secret = OAuthVerifier::new(&AuthConfig::default()).unwrap();
        assert!(block_on(no_secret.verify(&mint_dev_token("s", "a@b", 1, 600).unwrap())).is_err());
    }

    #[test]
    fn scopes_in_every_spelling() {
        let sync = crate::config::OLDSYNC_SCOPE;
        assert!(Scope::One(format!("profile {sync}")).contains(sync));
        assert!(Scope::One(format!("profile,{sync}")).contains(sync));
        assert!(Scope::Many(vec!["profile".into(), sync.into()]).contains(sync));
        assert!(!Scope::One(format!("{sync}/extra")).contains(sync));
        assert!(!Scope::None.contains(sync));
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
