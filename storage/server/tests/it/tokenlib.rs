//! Storage tokens against Mozilla's `tokenlib` v1, in both directions, with
//! vectors made by the real Python library (see the note in
//! `fixtures/tokenlib_v1.json` for how they were made).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use serde_json::Value;
use sync_storage::auth::{TokenError, TokenPayload, TokenSecrets};

fn vectors() -> Value {
    serde_json::from_str(include_str!("fixtures/tokenlib_v1.json")).unwrap()
}

fn secrets(secret: &str) -> TokenSecrets {
    TokenSecrets::new(&[secret], None).unwrap()
}

/// 2030-01-01: after every vector was made, before the unexpired ones expire.
const NOW: f64 = 1_893_456_000.0;

#[test]
fn ids_made_by_tokenlib_verify_here_with_the_same_derived_key() {
    let v = vectors();
    for case in v["made_by_tokenlib"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let secret = case["secret"].as_str().unwrap();
        let id = case["id"].as_str().unwrap();
        let expected = &case["payload"];
        let result = secrets(secret).verify(id, Some(NOW));
        if expected["expires"].as_f64().unwrap() <= NOW {
            assert_eq!(result.unwrap_err(), TokenError::Expired, "{name}");
            // Even expired, the key derivation is tokenlib's.
            let verified = secrets(secret).verify(id, None).unwrap();
            assert_eq!(verified.hawk_key, case["key"].as_str().unwrap(), "{name}");
            continue;
        }
        let verified = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(verified.hawk_key, case["key"].as_str().unwrap(), "{name}: key");
        let p = &verified.payload;
        assert_eq!(p.uid, expected["uid"].as_u64().unwrap(), "{name}");
        assert_eq!(p.node, expected["node"].as_str().unwrap(), "{name}");
        assert_eq!(p.expires, expected["expires"].as_f64().unwrap(), "{name}");
        assert_eq!(p.salt, expected["salt"].as_str().unwrap(), "{name}");
        for (field, value) in [
            ("fxa_uid", &p.fxa_uid),
            ("fxa_kid", &p.fxa_kid),
            ("hashed_fxa_uid", &p.hashed_fxa_uid),
            ("hashed_device_id", &p.hashed_device_id),
        ] {
            assert_eq!(value, expected[field].as_str().unwrap_or(""), "{name}: {field}");
        }
        // Rotation: behind a newer secret, the old one still verifies.
        let rotated = TokenSecrets::new(&["a newer secret", secret], None).unwrap();
        assert_eq!(
            rotated.verify(id, Some(NOW)).unwrap().hawk_key,
            case["key"].as_str().unwrap(),
            "{name}: rotated"
        );
    }
}

#[test]
fn ids_made_here_are_the_ones_tokenlib_verified() {
    let v = vectors();
    for case in v["made_here"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let payload: TokenPayload = serde_json::from_value(case["payload"].clone()).unwrap();
        let (id, key) = secrets(case["secret"].as_str().unwrap()).issue(&payload);
        assert_eq!(id, case["id"].as_str().unwrap(), "{name}: id");
        assert_eq!(key, case["key"].as_str().unwrap(), "{name}: key");
    }
}

#[test]
fn forged_truncated_unpadded_and_resalted_tokenlib_ids_are_refused() {
    let v = vectors();
    let case = &v["made_by_tokenlib"][0];
    let secret = secrets(case["secret"].as_str().unwrap());
    let id = case["id"].as_str().unwrap();
    let bytes = URL_SAFE.decode(id).unwrap();

    assert!(id.ends_with('='), "tokenlib pads");
    assert_eq!(
        secret.verify(id.trim_end_matches('='), Some(NOW)).unwrap_err(),
        TokenError::Malformed
    );
    assert_eq!(
        secret
            .verify(&URL_SAFE.encode(&bytes[..bytes.len() - 1]), Some(NOW))
            .unwrap_err(),
        TokenError::BadSignature
    );
    assert_eq!(
        secret
            .verify(&URL_SAFE.encode(&bytes[..20]), Some(NOW))
            .unwrap_err(),
        TokenError::Malformed
    );
    // The payload re-salted (so the Hawk key would differ) without re-signing.
    let text = String::from_utf8(bytes[..bytes.len() - 32].to_vec()).unwrap();
    let salt = case["payload"]["salt"].as_str().unwrap();
    let mut resalted = text.replace(salt, "000000").into_bytes();
    resalted.extend_from_slice(&bytes[bytes.len() - 32..]);
    assert_eq!(
        secret.verify(&URL_SAFE.encode(&resalted), Some(NOW)).unwrap_err(),
        TokenError::BadSignature
    );
    assert_eq!(
        secrets("another secret").verify(id, Some(NOW)).unwrap_err(),
        TokenError::BadSignature
    );
}
