//! The onepw protocol's client-side cryptography: password stretching,
//! the values derived from it, the Hawk credentials of FxA's tokens, and
//! the `/account/keys` bundle.
//!
//! Followed: the onepw protocol document (mozilla/fxa-auth-server wiki,
//! "onepw protocol", whose test vectors `tests/vectors.rs` checks) and, for
//! V2 stretching, Mozilla's auth clients (fxa-auth-client `getCredentialsV2`,
//! PyFxA `stretch_password`).
//!
//! - V1 ("quickStretch"): PBKDF2-SHA256(password, salt =
//!   `identity.mozilla.com/picl/v1/quickStretch:` ‖ email, 1,000 rounds, 32 bytes).
//! - V2: PBKDF2-SHA256(password, salt = the account's `clientSalt`
//!   (`identity.mozilla.com/picl/v1/quickStretchV2:` ‖ 32 hex digits), 650,000 rounds, 32 bytes).
//! - authPW = HKDF(stretched, info = `…/authPW`, 32); unwrapBKey = HKDF(stretched, info = `…/unwrapBkey`, 32).
//! - A token's credentials: HKDF(token, info = `…/<tokenName>`, 96) = tokenId ‖ reqHMACkey ‖ extra.
//! - `/account/keys`: keyRequestKey (the keyFetchToken's extra) → HKDF(info = `…/account/keys`, 96)
//!   = respHMACkey ‖ respXORkey; the bundle is ciphertext(64) ‖ HMAC(respHMACkey, ciphertext),
//!   checked before anything is used; kA ‖ wrapKB = ciphertext ⊕ respXORkey; kB = wrapKB ⊕ unwrapBKey.

use std::num::NonZeroU32;

use ring::{hkdf, hmac, pbkdf2};

use crate::error::FxaError;

/// Every HKDF `info` and stretch salt starts with this.
pub const NAMESPACE: &str = "identity.mozilla.com/picl/v1/";

/// PBKDF2 rounds of V1 stretching.
pub const V1_ROUNDS: u32 = 1_000;
/// PBKDF2 rounds of V2 stretching.
pub const V2_ROUNDS: u32 = 650_000;

/// Which stretching an account's password uses (the server says, in
/// `/account/credentials/status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stretch {
    /// V1: salted with the email.
    V1,
    /// V2: salted with the account's `clientSalt`.
    V2 {
        /// `identity.mozilla.com/picl/v1/quickStretchV2:<32 hex digits>`.
        client_salt: String,
    },
}

/// A stretched password and what the protocol derives from it.
#[derive(Clone)]
pub struct StretchedPassword {
    stretched: [u8; 32],
}

impl std::fmt::Debug for StretchedPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StretchedPassword(..)")
    }
}

impl StretchedPassword {
    /// Stretches `password` for the account `email` as `stretch` says.
    /// The password is used as its UTF-8 bytes, unnormalized, as Firefox does.
    pub fn new(email: &str, password: &str, stretch: &Stretch) -> Result<Self, FxaError> {
        let (salt, rounds) = match stretch {
            Stretch::V1 => (format!("{NAMESPACE}quickStretch:{email}"), V1_ROUNDS),
            Stretch::V2 { client_salt } => {
                if !is_v2_salt(client_salt) {
                    return Err(FxaError::Protocol(format!(
                        "the server's clientSalt {client_salt:?} is not a V2 salt"
                    )));
                }
                (client_salt.clone(), V2_ROUNDS)
            }
        };
        let mut stretched = [0u8; 32];
        let rounds = NonZeroU32::new(rounds).unwrap_or(NonZeroU32::MIN);
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            rounds,
            salt.as_bytes(),
            password.as_bytes(),
            &mut stretched,
        );
        Ok(StretchedPassword { stretched })
    }

    /// The stretched password itself (quickStretchedPW for V1).
    pub fn bytes(&self) -> &[u8; 32] {
        &self.stretched
    }

    /// authPW: what the server checks, hex in `/account/login`.
    pub fn auth_pw(&self) -> [u8; 32] {
        derive32(&self.stretched, "authPW")
    }

    /// unwrapBKey: unwraps the server's wrapKB into kB.
    pub fn unwrap_b_key(&self) -> [u8; 32] {
        derive32(&self.stretched, "unwrapBkey")
    }
}

/// A new V2 client salt: 16 random bytes (fxa-auth-client `createSaltV2`).
pub fn new_client_salt() -> Result<String, FxaError> {
    let mut salt = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt)
        .map_err(|_| FxaError::Protocol("no randomness for the client salt".into()))?;
    Ok(format!("{NAMESPACE}quickStretchV2:{}", hex::encode(salt)))
}

/// Whether `salt` is a V2 client salt: the namespace, `quickStretchV2:`, 32 hex digits.
pub fn is_v2_salt(salt: &str) -> bool {
    salt.strip_prefix(NAMESPACE)
        .and_then(|rest| rest.strip_prefix("quickStretchV2:"))
        .is_some_and(|core| core.len() == 32 && core.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The credentials an FxA token (sessionToken, keyFetchToken, …) signs
/// requests with: the public id, the Hawk key, and the third 32 bytes
/// (the keyFetchToken's keyRequestKey).
#[derive(Clone)]
pub struct TokenCredentials {
    /// The token's kind, e.g. `sessionToken`.
    pub kind: String,
    /// tokenId: Hawk's `id`, as hex.
    pub id: String,
    /// reqHMACkey: Hawk's key (the raw bytes).
    pub hmac_key: [u8; 32],
    /// The extra 32 bytes.
    pub extra: [u8; 32],
}

impl std::fmt::Debug for TokenCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCredentials")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl TokenCredentials {
    /// Derives the credentials of `token` (32 bytes), a token of kind
    /// `name` (`sessionToken`, `keyFetchToken`, …).
    pub fn derive(token: &[u8; 32], name: &str) -> Self {
        let out: [u8; 96] = derive(token, name);
        let mut id = [0u8; 32];
        let mut hmac_key = [0u8; 32];
        let mut extra = [0u8; 32];
        id.copy_from_slice(&out[..32]);
        hmac_key.copy_from_slice(&out[32..64]);
        extra.copy_from_slice(&out[64..]);
        TokenCredentials {
            kind: name.to_owned(),
            id: hex::encode(id),
            hmac_key,
            extra,
        }
    }

    /// The token as the auth server's prefixed-Bearer scheme sends it
    /// (`<prefix>_<tokenId>`, ADR-0022: `fxs` for sessionToken, `fxk` for
    /// keyFetchToken), or `None` for a kind that scheme does not name.
    pub fn bearer(&self) -> Option<String> {
        let prefix = match self.kind.as_str() {
            "sessionToken" => "fxs",
            "keyFetchToken" => "fxk",
            "accountResetToken" => "fxar",
            "passwordForgotToken" => "fxpf",
            "passwordChangeToken" => "fxpc",
            _ => return None,
        };
        Some(format!("{prefix}_{}", self.id))
    }
}

/// kA and wrapKB, out of an `/account/keys` bundle (96 bytes) whose MAC
/// checked out under `key_request_key`. Nothing is returned, and nothing
/// can be used, if the MAC does not match.
pub fn unbundle_keys(key_request_key: &[u8; 32], bundle: &[u8]) -> Result<([u8; 32], [u8; 32]), FxaError> {
    if bundle.len() != 96 {
        return Err(FxaError::BadKeyBundle(format!(
            "the key bundle has {} bytes, not 96",
            bundle.len()
        )));
    }
    let keys: [u8; 96] = derive(key_request_key, "account/keys");
    let (resp_hmac_key, resp_xor_key) = keys.split_at(32);
    let (ciphertext, mac) = bundle.split_at(64);
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, resp_hmac_key), ciphertext, mac)
        .map_err(|_| FxaError::BadKeyBundle("the key bundle's MAC does not match".into()))?;
    let mut ka = [0u8; 32];
    let mut wrap_kb = [0u8; 32];
    for i in 0..32 {
        ka[i] = ciphertext[i] ^ resp_xor_key[i];
        wrap_kb[i] = ciphertext[32 + i] ^ resp_xor_key[32 + i];
    }
    Ok((ka, wrap_kb))
}

/// The server side of [`unbundle_keys`]: kA ‖ wrapKB encrypted and MACed
/// under `key_request_key`. For servers and stand-ins.
pub fn bundle_keys(key_request_key: &[u8; 32], ka: &[u8; 32], wrap_kb: &[u8; 32]) -> [u8; 96] {
    let keys: [u8; 96] = derive(key_request_key, "account/keys");
    let (resp_hmac_key, resp_xor_key) = keys.split_at(32);
    let mut out = [0u8; 96];
    for i in 0..32 {
        out[i] = ka[i] ^ resp_xor_key[i];
        out[32 + i] = wrap_kb[i] ^ resp_xor_key[32 + i];
    }
    let mac = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, resp_hmac_key), &out[..64]);
    out[64..].copy_from_slice(mac.as_ref());
    out
}

/// XOR of two 32-byte strings (kB = wrapKB ⊕ unwrapBKey, and back).
pub fn xor32(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for i in 0..32 {
        out[i] = a[i] ^ b[i];
    }
    out
}

fn derive32(secret: &[u8], name: &str) -> [u8; 32] {
    derive(secret, name)
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-SHA256(secret, salt = empty, info = namespace ‖ `name`) to N bytes.
fn derive<const N: usize>(secret: &[u8], name: &str) -> [u8; N] {
    let mut out = [0u8; N];
    let info = [NAMESPACE.as_bytes(), name.as_bytes()];
    let filled = hkdf::Salt::new(hkdf::HKDF_SHA256, &[])
        .extract(secret)
        .expand(&info, Len(N))
        .and_then(|okm| okm.fill(&mut out));
    // N is at most 96 here, far below HKDF-SHA256's limit: this cannot fail.
    debug_assert!(filled.is_ok());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_salts() {
        assert!(is_v2_salt(&format!(
            "{NAMESPACE}quickStretchV2:{}",
            "0a".repeat(16)
        )));
        assert!(!is_v2_salt(&format!(
            "{NAMESPACE}quickStretch:{}",
            "0a".repeat(16)
        )));
        assert!(!is_v2_salt(&format!(
            "{NAMESPACE}quickStretchV2:{}",
            "0a".repeat(15)
        )));
        assert!(!is_v2_salt(&format!(
            "{NAMESPACE}quickStretchV2:{}",
            "zz".repeat(16)
        )));
        let bad = Stretch::V2 {
            client_salt: "nope".into(),
        };
        assert!(StretchedPassword::new("a@b", "pw", &bad).is_err());
    }

    #[test]
    fn bundles_round_trip_and_a_tampered_one_is_refused() {
        let krk = [7u8; 32];
        let mut bundle = bundle_keys(&krk, &[1; 32], &[2; 32]);
        assert_eq!(unbundle_keys(&krk, &bundle).unwrap(), ([1; 32], [2; 32]));
        bundle[3] ^= 1;
        assert!(matches!(
            unbundle_keys(&krk, &bundle),
            Err(FxaError::BadKeyBundle(_))
        ));
        assert!(unbundle_keys(&[8u8; 32], &bundle_keys(&krk, &[1; 32], &[2; 32])).is_err());
        assert!(unbundle_keys(&krk, &[0; 95]).is_err());
    }
}
