//! A device's command keys, and the bundle that advertises them.
//!
//! Each command a device takes has its own keys (Firefox's `sendTabKeys`,
//! `closeTabKeys`): a P-256 key pair and a 16-byte auth secret. The device
//! keeps the private half; its device record carries the public half
//! encrypted with the account's oldsync key (kSync), as a sync record
//! payload, so only the account's devices can read it:
//!
//! ```text
//! availableCommands[command] = JSON string {"kid": hex(kXCS), "IV", "hmac", "ciphertext"}
//!                 ciphertext = kSync-encrypted {"publicKey": b64url(point), "authSecret": b64url(16 bytes)}
//! ```
//!
//! Byte for byte as Firefox's `FxAccountsCommands.sys.mjs`
//! (`_generateAndPersistEncryptedCommandKey`, `_encrypt`) and
//! application-services' `commands/keys.rs` write and read it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sync15::{EncryptedPayload, SyncRootKey};

use super::ece::{self, AUTH_SECRET_LEN, EcKeyPair, PUBLIC_KEY_LEN};
use crate::error::FxaError;

/// One command's keys, as stored in the account state (secret).
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct PrivateCommandKeys {
    /// b64url of the P-256 private scalar.
    private_key: String,
    /// b64url of the uncompressed public point.
    public_key: String,
    /// b64url of the 16-byte auth secret.
    auth_secret: String,
}

impl std::fmt::Debug for PrivateCommandKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateCommandKeys")
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

impl PrivateCommandKeys {
    /// New random keys.
    pub fn generate() -> Result<Self, FxaError> {
        let pair = EcKeyPair::generate()?;
        Ok(PrivateCommandKeys {
            private_key: URL_SAFE_NO_PAD.encode(pair.private_bytes()),
            public_key: URL_SAFE_NO_PAD.encode(pair.public_bytes()),
            auth_secret: URL_SAFE_NO_PAD.encode(ece::random::<AUTH_SECRET_LEN>()?),
        })
    }

    /// The bundle to advertise in `availableCommands`, sealed with `key`.
    pub fn bundle(&self, key: &SyncRootKey) -> Result<String, FxaError> {
        let public = PublicCommandKeys {
            public_key: self.public_key.clone(),
            auth_secret: self.auth_secret.clone(),
        };
        let cleartext = serde_json::to_vec(&public).map_err(|e| FxaError::CommandCrypto(e.to_string()))?;
        let sealed = key
            .sync_key_bundle()
            .encrypt_bytes(&cleartext)
            .map_err(|e| FxaError::CommandCrypto(e.to_string()))?;
        let bundle = CommandBundle {
            kid: hex::encode(key.kxcs()),
            iv: sealed.iv,
            hmac: sealed.hmac,
            ciphertext: sealed.ciphertext,
        };
        serde_json::to_string(&bundle).map_err(|e| FxaError::CommandCrypto(e.to_string()))
    }

    /// Decrypts a command payload's `encrypted` field sent to these keys.
    pub fn decrypt(&self, encrypted_b64: &str) -> Result<Vec<u8>, FxaError> {
        let bad = |what: &str| FxaError::CommandCrypto(format!("the stored command keys: {what}"));
        let private = URL_SAFE_NO_PAD
            .decode(&self.private_key)
            .map_err(|_| bad("private key"))?;
        let auth = URL_SAFE_NO_PAD
            .decode(&self.auth_secret)
            .map_err(|_| bad("auth secret"))?;
        let pair = EcKeyPair::from_private_bytes(&private)?;
        let body = URL_SAFE_NO_PAD
            .decode(encrypted_b64.trim_end_matches('='))
            .map_err(|_| FxaError::CommandCrypto("the command is not base64url".into()))?;
        ece::decrypt(&pair, &auth, &body)
    }
}

/// The public half, as it travels inside the bundle.
#[derive(Serialize, Deserialize)]
struct PublicCommandKeys {
    #[serde(rename = "publicKey")]
    public_key: String,
    #[serde(rename = "authSecret")]
    auth_secret: String,
}

/// `availableCommands[command]`, parsed.
#[derive(Serialize, Deserialize)]
struct CommandBundle {
    /// Hex of kXCS: which oldsync key sealed it.
    kid: String,
    #[serde(rename = "IV")]
    iv: String,
    hmac: String,
    ciphertext: String,
}

/// Encrypts `plaintext` for the device whose `availableCommands` entry is
/// `bundle`. The bundle must have been sealed with our oldsync key: a
/// device that signed in under other keys (before a password reset) is
/// refused with [`FxaError::ForeignCommandKeys`], as Firefox refuses it
/// ("Target Send Tab key ID is different from ours").
pub(crate) fn encrypt_for(bundle: &str, key: &SyncRootKey, plaintext: &[u8]) -> Result<String, FxaError> {
    let bad = |what: String| FxaError::CommandCrypto(format!("the device's command keys: {what}"));
    let bundle: CommandBundle = serde_json::from_str(bundle).map_err(|e| bad(e.to_string()))?;
    if !bundle.kid.eq_ignore_ascii_case(&hex::encode(key.kxcs())) {
        return Err(FxaError::ForeignCommandKeys);
    }
    let sealed = EncryptedPayload {
        ciphertext: bundle.ciphertext,
        iv: bundle.iv,
        hmac: bundle.hmac,
    };
    let cleartext = key
        .sync_key_bundle()
        .decrypt_bytes(&sealed)
        .map_err(|e| bad(e.to_string()))?;
    let public: PublicCommandKeys = serde_json::from_slice(&cleartext).map_err(|e| bad(e.to_string()))?;
    let public_key = URL_SAFE_NO_PAD
        .decode(public.public_key.trim_end_matches('='))
        .map_err(|_| bad("the public key is not base64url".into()))?;
    let auth_secret = URL_SAFE_NO_PAD
        .decode(public.auth_secret.trim_end_matches('='))
        .map_err(|_| bad("the auth secret is not base64url".into()))?;
    if public_key.len() != PUBLIC_KEY_LEN || auth_secret.len() != AUTH_SECRET_LEN {
        return Err(bad("wrong key lengths".into()));
    }
    let body = ece::encrypt(&public_key, &auth_secret, plaintext)?;
    Ok(URL_SAFE_NO_PAD.encode(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_made_here_is_read_with_the_same_key_and_refused_with_another() {
        let key = SyncRootKey::new(&[7; 32], 1_700_000_000_000).unwrap();
        let keys = PrivateCommandKeys::generate().unwrap();
        let bundle = keys.bundle(&key).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&bundle).unwrap();
        assert_eq!(parsed["kid"], hex::encode(key.kxcs()));
        let mut fields: Vec<&str> = parsed.as_object().unwrap().keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["IV", "ciphertext", "hmac", "kid"]);
        // The cleartext is exactly Firefox's: two fields, no record id.
        let sealed = EncryptedPayload {
            ciphertext: parsed["ciphertext"].as_str().unwrap().to_owned(),
            iv: parsed["IV"].as_str().unwrap().to_owned(),
            hmac: parsed["hmac"].as_str().unwrap().to_owned(),
        };
        let cleartext: serde_json::Value =
            serde_json::from_slice(&key.sync_key_bundle().decrypt_bytes(&sealed).unwrap()).unwrap();
        let mut names: Vec<&str> = cleartext
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["authSecret", "publicKey"]);

        let sent = encrypt_for(&bundle, &key, br#"{"entries":[]}"#).unwrap();
        assert_eq!(keys.decrypt(&sent).unwrap(), br#"{"entries":[]}"#);

        let other = SyncRootKey::new(&[8; 32], 1_700_000_000_000).unwrap();
        assert!(matches!(
            encrypt_for(&bundle, &other, b"x"),
            Err(FxaError::ForeignCommandKeys)
        ));
        // Same kid, tampered ciphertext: the HMAC refuses it.
        let mut tampered = parsed.clone();
        tampered["hmac"] = serde_json::json!("00".repeat(32));
        assert!(matches!(
            encrypt_for(&tampered.to_string(), &key, b"x"),
            Err(FxaError::CommandCrypto(_))
        ));
        assert!(encrypt_for("not json", &key, b"x").is_err());
        // Someone else's keys cannot read it.
        let stranger = PrivateCommandKeys::generate().unwrap();
        assert!(stranger.decrypt(&sent).is_err());
    }
}
