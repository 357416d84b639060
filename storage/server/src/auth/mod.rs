//! Authentication: bearer tokens at the token server, Hawk at storage, and
//! the storage tokens (Mozilla's `tokenlib` v1) that link the two.

pub mod hawk;
pub mod nonces;
pub mod oauth;
pub mod tokens;

pub use self::hawk::{HawkError, HawkVerifier, HeadVerified, SignedRequest};
pub use self::oauth::{Identity, OAuthError, OAuthVerifier, mint_dev_token, parse_key_id};
pub use self::tokens::{TokenError, TokenPayload, TokenSecrets, VerifiedToken};
