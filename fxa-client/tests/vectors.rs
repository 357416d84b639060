//! The onepw protocol's published test vectors (the "Test Vectors" section
//! of the onepw protocol document, mozilla/fxa-auth-server wiki; the same
//! vectors are in Firefox's `test_credentials.js`), and Firefox's oldsync
//! scoped-key vector (`test_keys.js`, from fxa-crypto-relier).
#![allow(clippy::unwrap_used)]

use fxa_client::crypto::{Stretch, StretchedPassword, TokenCredentials, bundle_keys, unbundle_keys, xor32};

/// The vectors print 8 bytes per line; spaces are ignored here.
fn h(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).unwrap()
}

fn h32(s: &str) -> [u8; 32] {
    h(s).try_into().unwrap()
}

#[test]
fn client_stretch_kdf() {
    let email = String::from_utf8(h("616e6472c3a94065 78616d706c652e6f 7267")).unwrap();
    let password = String::from_utf8(h("70c3a4737377c3b6 7264")).unwrap();
    assert_eq!(email, "andré@example.org");
    assert_eq!(password, "pässwörd");
    let stretched = StretchedPassword::new(&email, &password, &Stretch::V1).unwrap();
    assert_eq!(
        stretched.bytes().to_vec(),
        h("e4e8889bd8bd61ad 6de6b95c059d56e7 b50dacdaf62bd846 44af7e2add84345d"),
        "quickStretchedPW"
    );
    assert_eq!(
        stretched.auth_pw().to_vec(),
        h("247b675ffb4c4631 0bc87e26d712153a be5e1c90ef00a478 4594f97ef54f2375"),
        "authPW"
    );
    assert_eq!(
        stretched.unwrap_b_key().to_vec(),
        h("de6a2648b78284fc b9ffa81ba9580330 9cfba7af583c01a8 a1a63e567234dd28"),
        "unwrapBkey"
    );
}

#[test]
fn key_fetch_token_derivations_and_the_key_bundle() {
    let key_fetch_token = h32("8081828384858687 88898a8b8c8d8e8f 9091929394959697 98999a9b9c9d9e9f");
    let creds = TokenCredentials::derive(&key_fetch_token, "keyFetchToken");
    assert_eq!(
        creds.id, "3d0a7c02a15a62a2882f76e39b6494b500c022a8816e048625a495718998ba60",
        "tokenID"
    );
    assert_eq!(
        creds.hmac_key.to_vec(),
        h("87b8937f61d38d0e 29cd2d5600b3f4da 0aa48ac41de36a0e fe84bb4a9872ceb7"),
        "reqHMACkey"
    );
    assert_eq!(
        creds.extra.to_vec(),
        h("14f338a9e8c6324d 9e102d4e6ee83b20 9796d5c74bb734a4 10e729e014a4a546"),
        "keyRequestKey"
    );

    let ka = h32("2021222324252627 28292a2b2c2d2e2f 3031323334353637 38393a3b3c3d3e3f");
    let wrap_kb = h32("7effe354abecbcb2 34a8dfc2d7644b4a d339b525589738f2 d27341bb8622ecd8");
    let response = h(
        "ee5c58845c7c9412 b11bbd20920c2fdd d83c33c9cd2c2de2 d66b222613364636 \
         fc7e59d854d599f1 0e212801de3a47c3 4333f3b838ee3471 e0f285649c332bbb \
         4c17f42a0b319bbb a327d2b326ad23e9 37219b4de32e3ec7 b3e3f740522ad6ef",
    );
    // The server's bundle, and unwrapping it, are the published bytes.
    assert_eq!(
        bundle_keys(&creds.extra, &ka, &wrap_kb).to_vec(),
        response,
        "response"
    );
    assert_eq!(unbundle_keys(&creds.extra, &response).unwrap(), (ka, wrap_kb));
    let unwrap_b_key = h32("de6a2648b78284fc b9ffa81ba9580330 9cfba7af583c01a8 a1a63e567234dd28");
    assert_eq!(
        xor32(&wrap_kb, &unwrap_b_key).to_vec(),
        h("a095c51c1c6e384e 8d5777d97e3c487a 4fc2128a00ab395a 73d57fedf41631f0"),
        "kB"
    );
    // A bundle with one flipped bit, or cut short, is refused before use.
    for i in [0, 40, 70, 95] {
        let mut tampered = response.clone();
        tampered[i] ^= 0x01;
        assert!(unbundle_keys(&creds.extra, &tampered).is_err(), "byte {i}");
    }
    assert!(unbundle_keys(&creds.extra, &response[..95]).is_err());
}

#[test]
fn session_token_derivations() {
    let session_token = h32("a0a1a2a3a4a5a6a7 a8a9aaabacadaeaf b0b1b2b3b4b5b6b7 b8b9babbbcbdbebf");
    let creds = TokenCredentials::derive(&session_token, "sessionToken");
    assert_eq!(
        creds.id, "c0a29dcf46174973da1378696e4c82ae10f723cf4f4d9f75e39f4ae3851595ab",
        "tokenID"
    );
    assert_eq!(
        creds.hmac_key.to_vec(),
        h("9d8f22998ee7f579 8b887042466b72d5 3e56ab0c094388bf 65831f702d2febc0"),
        "reqHMACkey"
    );
}

#[test]
fn oldsync_scoped_key_from_kb() {
    // Firefox's test_derive_legacy_sync_key_test_vector.
    let kb = h("eaf9570b7219a4187d3d6bf3cec2770c2e0719b7cc0dfbb38243d6f1881675e9");
    let key = sync15::SyncRootKey::new(&kb, 1_510_726_317_123).unwrap();
    assert_eq!(key.key_id(), "1510726317123-IqQv4onc7VcVE1kTQkyyOw");
    assert_eq!(
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, key.ksync()),
        "DW_ll5GwX6SJ5GPqJVAuMUP2t6kDqhUulc2cbt26xbTcaKGQl-9l29FHAQ7kUiJETma4s9fIpEHrt909zgFang"
    );
}

#[test]
fn v2_stretching_uses_the_client_salt_and_650000_rounds() {
    // No V2 vector is published. These bytes were computed once with
    // Mozilla's PyFxA 0.9.0 (PyPI), `fxa.crypto.stretch_password(salt,
    // "pässwörd")` and `derive_auth_pw(...)`, for this salt and password.
    let salt = format!(
        "identity.mozilla.com/picl/v1/quickStretchV2:{}",
        "0123456789abcdef".repeat(2)
    );
    let v2 = StretchedPassword::new(
        "andré@example.org",
        "pässwörd",
        &Stretch::V2 { client_salt: salt },
    )
    .unwrap();
    let v1 = StretchedPassword::new("andré@example.org", "pässwörd", &Stretch::V1).unwrap();
    assert_ne!(v2.bytes(), v1.bytes());
    assert_eq!(
        hex::encode(v2.bytes()),
        "1962d132874d2be60129f21229c42205e75661b08b7e657c4997972475459e41"
    );
    assert_eq!(
        hex::encode(v2.auth_pw()),
        "d278c764bd1852a14bfc4e9d8c1682b4f1a57edb9a9372bf8c370cc41592155b"
    );
}
