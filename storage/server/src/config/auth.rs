//! `[auth]`: how the token server checks the bearer tokens clients bring.

use serde::{Deserialize, Serialize};

/// How the token server checks the bearer token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// `dev`: tokens are HS256 JWTs signed with `dev_secret` (see
    /// `sync-storage mint-token`). `fxa`: Firefox Accounts access tokens.
    pub mode: AuthMode,
    /// The dev-mode signing secret. Required in dev mode.
    pub dev_secret: Option<String>,
    /// FxA's current public signing key: JWT access tokens are verified
    /// locally against it and [`AuthConfig::fxa_secondary_jwk`].
    pub fxa_primary_jwk: Option<RsaJwk>,
    /// FxA's next (or previous) key, during a key rotation.
    pub fxa_secondary_jwk: Option<RsaJwk>,
    /// FxA's OAuth server: tokens that are not JWTs (or when no key is
    /// configured) are checked with its `POST /v1/verify`.
    pub fxa_oauth_server_url: String,
    /// How long a `/v1/verify` call may take before the token server answers 503.
    pub fxa_verify_timeout_secs: u64,
    /// How long a token FxA verified is trusted without asking again
    /// (0: ask every time). A revoked token keeps working at most this long.
    pub fxa_verify_cache_secs: u64,
    /// The scope a token must carry.
    pub required_scope: String,
}

/// Which kind of bearer token the token server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Locally minted HS256 tokens (development and self-hosting without FxA).
    #[default]
    Dev,
    /// Firefox Accounts access tokens.
    Fxa,
}

/// An RSA public key in JWK form, as FxA publishes it at `/v1/jwks`
/// (other members, such as `kty`, `alg` or `fxa-createdAt`, are ignored).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RsaJwk {
    /// The key id tokens name in their header.
    pub kid: String,
    /// The modulus, base64url.
    pub n: String,
    /// The exponent, base64url.
    pub e: String,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            mode: AuthMode::Dev,
            dev_secret: None,
            fxa_primary_jwk: None,
            fxa_secondary_jwk: None,
            fxa_oauth_server_url: FXA_OAUTH_SERVER_URL.to_owned(),
            fxa_verify_timeout_secs: 5,
            fxa_verify_cache_secs: 60,
            required_scope: OLDSYNC_SCOPE.to_owned(),
        }
    }
}

/// Mozilla's production OAuth server.
pub const FXA_OAUTH_SERVER_URL: &str = "https://oauth.accounts.firefox.com";

/// The OAuth scope that grants Sync access.
pub const OLDSYNC_SCOPE: &str = "https://identity.mozilla.com/apps/oldsync";
