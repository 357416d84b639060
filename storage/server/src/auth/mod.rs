//! Authentication: bearer tokens at the token server, Hawk at storage.

pub mod hawk;
pub mod oauth;
pub mod tokens;

pub use self::hawk::{HawkError, HawkVerifier, SignedRequest};
pub use self::oauth::{Identity, OAuthError, OAuthVerifier, mint_dev_token, parse_key_id};
pub use self::tokens::{TokenClaims, TokenError, TokenSecrets};
