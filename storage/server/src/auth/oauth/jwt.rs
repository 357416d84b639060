//! FxA access tokens as JWTs, verified locally against FxA's public keys.
//!
//! Followed: Mozilla's token server (syncstorage-rs `tokenserver-auth`,
//! `crypto.rs` and `oauth/native.rs`): RS256; `aud` not checked (FxA's
//! audience varies by relier; the scope grants access); the header's `typ`
//! must be `at+jwt` (so an ID token signed with the same key is not an
//! access token); every configured key is tried, and a bad signature under
//! one key is not a refusal while another key remains. A token that is not
//! a JWT, or whose JWT this code cannot judge, goes to FxA's `/v1/verify`.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::{Identity, OAuthError, Scope};
use crate::config::RsaJwk;

/// What local verification concluded.
#[derive(Debug)]
pub enum Outcome {
    /// Signed by FxA, unexpired: who it is for and its scope.
    Valid(Identity, Scope),
    /// A JWT that must not be accepted (bad signature under every key,
    /// expired, not an access token).
    Refused(String),
    /// Not something to judge locally: ask FxA.
    AskFxa,
}

#[derive(Deserialize)]
struct AccessTokenClaims {
    sub: String,
    #[serde(default)]
    scope: Scope,
    #[serde(default, rename = "fxa-generation")]
    generation: Option<i64>,
}

/// FxA's primary and secondary keys.
pub struct JwtVerifier {
    keys: Vec<DecodingKey>,
    validation: Validation,
}

impl JwtVerifier {
    /// From the configured JWKs (none is fine: every token then goes to FxA).
    pub fn new<'a>(jwks: impl IntoIterator<Item = &'a RsaJwk>) -> Result<Self, OAuthError> {
        let keys = jwks
            .into_iter()
            .map(|jwk| {
                DecodingKey::from_rsa_components(&jwk.n, &jwk.e)
                    .map_err(|e| OAuthError::Config(format!("JWK {}: {e}", jwk.kid)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_aud = false;
        validation.leeway = super::JWT_LEEWAY_SECS;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(JwtVerifier { keys, validation })
    }

    /// Verifies `token` against each key in turn.
    pub fn verify(&self, token: &str) -> Outcome {
        if self.keys.is_empty() {
            return Outcome::AskFxa;
        }
        for key in &self.keys {
            match jsonwebtoken::decode::<AccessTokenClaims>(token, key, &self.validation) {
                Ok(data) => {
                    if !is_access_token(data.header.typ.as_deref()) {
                        return Outcome::Refused(format!("JWT typ {:?} is not at+jwt", data.header.typ));
                    }
                    let claims = data.claims;
                    return Outcome::Valid(
                        Identity {
                            fxa_uid: claims.sub,
                            email: String::new(),
                            generation: claims.generation.filter(|g| *g != 0),
                        },
                        claims.scope,
                    );
                }
                Err(e) => match e.kind() {
                    ErrorKind::InvalidSignature => continue,
                    ErrorKind::ExpiredSignature => return Outcome::Refused("expired".into()),
                    // Not a JWT, another algorithm, claims of another shape:
                    // Mozilla's token server lets FxA decide these.
                    _ => return Outcome::AskFxa,
                },
            }
        }
        Outcome::Refused("signed by none of FxA's keys".into())
    }
}

/// RFC 7515 §4.1.9: `typ` is case-insensitive and may omit `application/`.
fn is_access_token(typ: Option<&str>) -> bool {
    let Some(typ) = typ else { return false };
    let typ = typ.to_ascii_lowercase();
    typ == "at+jwt" || typ == "application/at+jwt"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_token_types() {
        for ok in ["at+jwt", "AT+JWT", "application/at+jwt", "at+JWT"] {
            assert!(is_access_token(Some(ok)), "{ok}");
        }
        for bad in [None, Some("JWT"), Some("application/jwt"), Some("")] {
            assert!(!is_access_token(bad), "{bad:?}");
        }
    }

    #[test]
    fn without_keys_everything_goes_to_fxa() {
        let none: [&RsaJwk; 0] = [];
        let verifier = JwtVerifier::new(none).unwrap();
        assert!(matches!(verifier.verify("opaque"), Outcome::AskFxa));
    }
}
