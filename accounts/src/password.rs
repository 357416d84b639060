//! What the server keeps of a password, as Mozilla's auth server keeps it
//! (`lib/crypto/password.js`, verifier version 1): the client's authPW is
//! stretched again with scrypt under a random per-account `authSalt`
//! (N = 2^16, r = 8, p = 1, 32 bytes); the account stores
//! `verifyHash = HKDF(stretched, "verifyHash")` and the client's wrapKb
//! wrapped once more with `HKDF(stretched, "wrapwrapKey")`. authPW itself
//! is never stored, and wrapKb can only be unwrapped by someone who
//! presents the right authPW — so the database alone yields no key.

use ring::hkdf;

use crate::error::AccountsError;

/// The onepw HKDF namespace (`identity.mozilla.com/picl/v1/`).
const NAMESPACE: &str = "identity.mozilla.com/picl/v1/";

struct Len32;

impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

/// HKDF-SHA256(`secret`, no salt, info = namespace ‖ `name`), 32 bytes.
pub(crate) fn derive(secret: &[u8], name: &str) -> [u8; 32] {
    let info = format!("{NAMESPACE}{name}");
    let mut out = [0u8; 32];
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(secret);
    // 32 bytes is always within HKDF's limits.
    if let Ok(okm) = prk.expand(&[info.as_bytes()], Len32) {
        let _ = okm.fill(&mut out);
    }
    out
}

/// authPW stretched with scrypt under the account's salt.
pub(crate) struct ServerStretched([u8; 32]);

impl ServerStretched {
    /// scrypt(authPW, authSalt, N = 2^`log_n`, r = 8, p = 1).
    pub fn new(auth_pw: &[u8; 32], auth_salt: &[u8; 32], log_n: u8) -> Result<Self, AccountsError> {
        let params = scrypt::Params::new(log_n, 8, 1, 32)
            .map_err(|e| AccountsError::Config(format!("scrypt parameters: {e}")))?;
        let mut out = [0u8; 32];
        scrypt::scrypt(auth_pw, auth_salt, &params, &mut out)
            .map_err(|e| AccountsError::Crypto(format!("scrypt: {e}")))?;
        Ok(ServerStretched(out))
    }

    /// What the account stores to recognise the password.
    pub fn verify_hash(&self) -> [u8; 32] {
        derive(&self.0, "verifyHash")
    }

    /// Wraps (or unwraps: it is an XOR) the client's wrapKb.
    pub fn wrap(&self, wrap_kb: &[u8; 32]) -> [u8; 32] {
        let wrapper = derive(&self.0, "wrapwrapKey");
        let mut out = [0u8; 32];
        for (o, (a, b)) in out.iter_mut().zip(wrapper.iter().zip(wrap_kb)) {
            *o = a ^ b;
        }
        out
    }
}

/// Equality of two secrets in time that depends only on their length
/// (verifiers, code hashes, PKCE challenges).
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verifier_recognises_the_password_and_the_wrap_round_trips() {
        // A small N keeps the test fast; the service's default is 16.
        let salt = [3u8; 32];
        let right = ServerStretched::new(&[1; 32], &salt, 10).unwrap();
        let again = ServerStretched::new(&[1; 32], &salt, 10).unwrap();
        let wrong = ServerStretched::new(&[2; 32], &salt, 10).unwrap();
        assert!(same(&right.verify_hash(), &again.verify_hash()));
        assert!(!same(&right.verify_hash(), &wrong.verify_hash()));
        let wrap_kb = [9u8; 32];
        let stored = right.wrap(&wrap_kb);
        assert_ne!(stored, wrap_kb);
        assert_eq!(again.wrap(&stored), wrap_kb);
        assert_ne!(wrong.wrap(&stored), wrap_kb);
        assert_ne!(
            right.verify_hash(),
            stored,
            "verifier and wrapper are different keys"
        );
    }

    #[test]
    fn scrypt_matches_the_rfc_7914_vector() {
        // RFC 7914 §12: scrypt("password", "NaCl", N=1024, r=8, p=16, 64).
        let params = scrypt::Params::new(10, 8, 16, 64).unwrap();
        let mut out = [0u8; 64];
        scrypt::scrypt(b"password", b"NaCl", &params, &mut out).unwrap();
        assert_eq!(
            hex::encode(out),
            "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"
        );
    }
}
