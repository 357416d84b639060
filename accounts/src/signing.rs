//! The keys OAuth access tokens are signed with, and the tokens.
//!
//! Access tokens are JWTs as Mozilla's OAuth server issues them
//! (`fxa-auth-server/lib/oauth/jwt_access_token.js`): RS256, header `typ:
//! at+jwt` and the key's `kid`; claims `sub` (the uid), `scope`,
//! `client_id`, `aud`, `iss`, `iat`, `exp`, `jti`, and `fxa-generation`
//! (the account's `verifierSetAt`, which the token server compares to spot
//! a password change). The token server verifies them with the public keys
//! alone — in this process through [`crate::Accounts::public_keys`], in a
//! split deployment from `/v1/jwks` — without calling back.
//!
//! Two keys are published: the primary signs, the secondary (the previous
//! primary) still verifies, so rotating never invalidates a live token.
//! The private keys are generated here on first start and kept sealed.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use parking_lot::RwLock;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use serde_json::Value;

use crate::error::{AccountsError, ApiError};
use crate::secrets::{Sealer, random};
use crate::store::{Store, oauth};

/// A public signing key, as a JWK's RSA members.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PublicJwk {
    /// The key id.
    pub kid: String,
    /// The modulus, base64url.
    pub n: String,
    /// The exponent, base64url.
    pub e: String,
}

struct LoadedKey {
    public: PublicJwk,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// The service's signing keys, newest (the primary) first.
pub(crate) struct SigningKeys {
    keys: RwLock<Vec<LoadedKey>>,
    /// When the stored keys were last compared with the loaded ones.
    checked: parking_lot::Mutex<std::time::Instant>,
}

/// How often the stored keys are compared with the loaded ones, so that a
/// rotation by the operator's command (another process) is picked up.
const CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

const SEAL_LABEL: &str = "signing key";
const RSA_BITS: usize = 2048;

impl SigningKeys {
    /// Loads the stored keys, making the first one if there is none.
    pub fn load_or_create(store: &Store, now: u64) -> Result<Self, AccountsError> {
        let keys = SigningKeys {
            keys: RwLock::new(Vec::new()),
            checked: parking_lot::Mutex::new(std::time::Instant::now()),
        };
        let stored = store.read(|conn, _| oauth::signing_keys(conn)).map_err(refused)?;
        if stored.is_empty() {
            keys.rotate(store, now, |_| {})?;
        } else {
            keys.reload(store, |_| {})?;
        }
        Ok(keys)
    }

    /// Makes a new primary key; the old primary stays as the secondary and
    /// any older key is retired.
    /// `announce` is told the new published keys before the new primary
    /// signs anything.
    pub fn rotate(
        &self,
        store: &Store,
        now: u64,
        announce: impl FnOnce(Vec<PublicJwk>),
    ) -> Result<(), AccountsError> {
        let mut key = generate(&store.sealer, now)?;
        store.admin(|tx, _| {
            // Newer than every key, even if the clock went back or two
            // rotations share a millisecond: the newest is the primary.
            let newest = oauth::signing_keys(tx)?.first().map_or(0, |k| k.created_at);
            key.created_at = key.created_at.max(newest + 1);
            oauth::insert_signing_key(tx, &key)?;
            oauth::retire_old_keys(tx)
        })?;
        self.reload(store, announce)
    }

    /// Compares the stored keys with the loaded ones (at most every
    /// [`CHECK_EVERY`]) and loads them if another process rotated them;
    /// `announce` is told first.
    pub fn refresh(&self, store: &Store, announce: impl FnOnce(Vec<PublicJwk>)) -> Result<(), AccountsError> {
        {
            let mut checked = self.checked.lock();
            if checked.elapsed() < CHECK_EVERY {
                return Ok(());
            }
            *checked = std::time::Instant::now();
        }
        let stored: Vec<String> = store
            .read(|conn, _| oauth::signing_keys(conn))
            .map_err(refused)?
            .into_iter()
            .take(2)
            .map(|k| k.kid)
            .collect();
        let loaded: Vec<String> = self.keys.read().iter().map(|k| k.public.kid.clone()).collect();
        if stored == loaded {
            return Ok(());
        }
        tracing::info!(primary = ?stored.first(), "accounts: the signing keys changed; loading them");
        self.reload(store, announce)
    }

    fn reload(&self, store: &Store, announce: impl FnOnce(Vec<PublicJwk>)) -> Result<(), AccountsError> {
        let stored = store.read(|conn, _| oauth::signing_keys(conn)).map_err(refused)?;
        let mut loaded = Vec::new();
        for key in stored.into_iter().take(2) {
            let der = store.sealer.open(SEAL_LABEL, &key.sealed_der)?;
            let decoding = DecodingKey::from_rsa_components(&key.n, &key.e)
                .map_err(|e| AccountsError::Corrupt(format!("signing key {}: {e}", key.kid)))?;
            loaded.push(LoadedKey {
                public: PublicJwk {
                    kid: key.kid,
                    n: key.n,
                    e: key.e,
                },
                encoding: EncodingKey::from_rsa_der(&der),
                decoding,
            });
        }
        announce(loaded.iter().map(|k| k.public.clone()).collect());
        *self.keys.write() = loaded;
        Ok(())
    }

    /// The published keys: primary, then secondary.
    pub fn public(&self) -> Vec<PublicJwk> {
        self.keys.read().iter().map(|k| k.public.clone()).collect()
    }

    /// Signs `claims` with the primary key.
    pub fn sign(&self, claims: &Value) -> Result<String, ApiError> {
        let keys = self.keys.read();
        let key = keys.first().ok_or_else(ApiError::unexpected)?;
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(key.public.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|e| {
            tracing::error!("accounts: signing an access token: {e}");
            ApiError::unexpected()
        })
    }

    /// The claims of an access token signed by one of the keys and not
    /// expired; `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<Value> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::RS256 {
            return None;
        }
        let keys = self.keys.read();
        let key = match &header.kid {
            Some(kid) => keys.iter().find(|k| &k.public.kid == kid)?,
            None => keys.first()?,
        };
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_aud = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<Value>(token, &key.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }
}

fn refused(e: ApiError) -> AccountsError {
    AccountsError::Refused(e.message)
}

/// A new RSA key, sealed for storage.
fn generate(sealer: &Sealer, now: u64) -> Result<oauth::StoredKey, AccountsError> {
    let mut rng = rand_core::OsRng;
    let private = rsa::RsaPrivateKey::new(&mut rng, RSA_BITS)
        .map_err(|e| AccountsError::Crypto(format!("generating a signing key: {e}")))?;
    let der = private
        .to_pkcs1_der()
        .map_err(|e| AccountsError::Crypto(format!("encoding a signing key: {e}")))?;
    // Round-trip once, so a key that could not be read back is never stored.
    rsa::RsaPrivateKey::from_pkcs1_der(der.as_bytes())
        .map_err(|e| AccountsError::Crypto(format!("re-reading a signing key: {e}")))?;
    let public = private.to_public_key();
    Ok(oauth::StoredKey {
        kid: format!("{}-{}", now / 1000, hex::encode(random::<4>()?)),
        created_at: now,
        sealed_der: sealer.seal(SEAL_LABEL, der.as_bytes())?,
        n: URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
        e: URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_in_another_process_is_picked_up_and_announced_first() {
        let dir = tempfile::tempdir().expect("a directory");
        let sealer = || Sealer::new(b"a test secret of enough length").expect("a sealer");
        let here = Store::open(&dir.path().join("a.db"), sealer()).expect("a store");
        let elsewhere = Store::open(&dir.path().join("a.db"), sealer()).expect("the same file");
        let keys = SigningKeys::load_or_create(&here, 1_000).expect("keys");
        let operator = SigningKeys::load_or_create(&elsewhere, 2_000).expect("the same keys");
        assert_eq!(keys.public(), operator.public());
        operator.rotate(&elsewhere, 3_000, |_| {}).expect("rotated");

        // Within the check interval nothing changes…
        keys.refresh(&here, |_| panic!("announced too early"))
            .expect("refresh");
        assert_ne!(keys.public(), operator.public());
        // …after it, the new keys are announced, then used.
        let long_ago = keys
            .checked
            .lock()
            .checked_sub(CHECK_EVERY * 2)
            .expect("a machine up a minute");
        *keys.checked.lock() = long_ago;
        let mut announced = Vec::new();
        keys.refresh(&here, |published| announced = published)
            .expect("refresh");
        assert_eq!(announced, operator.public());
        assert_eq!(keys.public(), operator.public());
    }
}
