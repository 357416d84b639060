//! Authentication: bearer tokens at the token server, Hawk at storage, and
//! the storage tokens (Mozilla's `tokenlib` v1) that link the two.

pub mod hawk;
pub mod nonces;
pub mod oauth;
pub mod tokens;

pub use self::hawk::{HawkError, HawkVerifier, HeadVerified, SignedRequest};
pub use self::oauth::{Identity, OAuthError, OAuthVerifier, mint_dev_token, parse_key_id};
pub use self::tokens::{TokenError, TokenPayload, TokenSecrets, VerifiedToken};

/// 32 random bytes, hex: a secret generated on first start (the master
/// secret, the dev-mode secret, the accounts service's). A failing OS
/// random source is an error: a weak secret would let anyone forge tokens.
pub fn random_secret() -> std::io::Result<String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| std::io::Error::other("the system random number generator failed"))?;
    Ok(hex::encode(bytes))
}
