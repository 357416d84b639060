#![allow(clippy::unwrap_used)]
//! Known-answer tests: sync15's record crypto against vectors computed
//! independently by `fixtures/make_crypto_vectors.py` (PyPI `cryptography`).

use base64::Engine as _;
use serde::Deserialize;
use sync15::{
    CollectionKeys, EncryptedPayload, Guid, IncomingBso, IncomingEnvelope, KeyBundle, ServerTimestamp,
    SyncRootKey,
};

#[derive(Deserialize)]
struct Vectors {
    records: Vec<RecordCase>,
    kb_derivation: Vec<Derivation>,
    crypto_keys: CryptoKeysCase,
}

#[derive(Deserialize)]
struct RecordCase {
    name: String,
    enc_key_b64: String,
    hmac_key_b64: String,
    iv_b64: String,
    cleartext: String,
    ciphertext_b64: String,
    hmac_hex: String,
}

#[derive(Deserialize)]
struct Derivation {
    kb_hex: String,
    key_rotation_timestamp: u64,
    enc_key_b64: String,
    hmac_key_b64: String,
    key_id: String,
}

#[derive(Deserialize)]
struct CryptoKeysCase {
    kb_hex: String,
    payload: String,
    default: [String; 2],
    bookmarks: [String; 2],
}

fn vectors() -> Vectors {
    serde_json::from_str(include_str!("fixtures/crypto_vectors.json")).expect("fixture parses")
}

fn iv(case: &RecordCase) -> [u8; 16] {
    base64::engine::general_purpose::STANDARD
        .decode(&case.iv_b64)
        .unwrap()
        .try_into()
        .unwrap()
}

#[test]
fn encryption_matches_the_independent_implementation() {
    let v = vectors();
    assert!(v.records.len() >= 7);
    for case in &v.records {
        let bundle = KeyBundle::from_base64(&case.enc_key_b64, &case.hmac_key_b64).unwrap();
        let out = bundle.encrypt_bytes_with_iv(case.cleartext.as_bytes(), &iv(case));
        assert_eq!(out.ciphertext, case.ciphertext_b64, "{}: ciphertext", case.name);
        assert_eq!(out.hmac, case.hmac_hex, "{}: hmac", case.name);
        assert_eq!(out.iv, case.iv_b64, "{}: iv", case.name);
    }
}

#[test]
fn decryption_of_the_independent_ciphertexts() {
    for case in &vectors().records {
        let bundle = KeyBundle::from_base64(&case.enc_key_b64, &case.hmac_key_b64).unwrap();
        let payload = EncryptedPayload {
            ciphertext: case.ciphertext_b64.clone(),
            iv: case.iv_b64.clone(),
            hmac: case.hmac_hex.clone(),
        };
        let clear = bundle.decrypt_bytes(&payload).unwrap();
        assert_eq!(String::from_utf8(clear).unwrap(), case.cleartext, "{}", case.name);
    }
}

#[test]
fn decryption_refuses_each_vector_under_a_foreign_hmac_key() {
    let cases = vectors().records;
    for (case, other) in cases.iter().zip(cases.iter().skip(1)) {
        let wrong = KeyBundle::from_base64(&case.enc_key_b64, &other.hmac_key_b64).unwrap();
        let payload = EncryptedPayload {
            ciphertext: case.ciphertext_b64.clone(),
            iv: case.iv_b64.clone(),
            hmac: case.hmac_hex.clone(),
        };
        assert_eq!(
            wrong.decrypt_bytes(&payload),
            Err(sync15::CryptoError::BadHmac),
            "{}",
            case.name
        );
    }
}

#[test]
fn full_records_decrypt_through_bsos() {
    for case in vectors()
        .records
        .iter()
        .filter(|c| c.cleartext.starts_with('{') && c.cleartext.ends_with('}'))
    {
        let bundle = KeyBundle::from_base64(&case.enc_key_b64, &case.hmac_key_b64).unwrap();
        let cleartext: serde_json::Value = serde_json::from_str(&case.cleartext).unwrap();
        let id = cleartext["id"].as_str().unwrap();
        let bso = IncomingBso {
            envelope: IncomingEnvelope::new(Guid::new(id), ServerTimestamp::from_millis(1_000)),
            payload: serde_json::json!({"ciphertext": case.ciphertext_b64, "IV": case.iv_b64, "hmac": case.hmac_hex})
                .to_string(),
        };
        let record = bundle.decrypt(&bso).unwrap();
        assert_eq!(
            serde_json::Value::Object(record.cleartext.into_map()),
            cleartext,
            "{}",
            case.name
        );
    }
}

#[test]
fn sync_key_bundle_and_key_id_from_kb() {
    for d in vectors().kb_derivation {
        let root = SyncRootKey::from_hex(&d.kb_hex, d.key_rotation_timestamp).unwrap();
        assert_eq!(
            root.sync_key_bundle().to_base64(),
            [d.enc_key_b64.clone(), d.hmac_key_b64.clone()]
        );
        assert_eq!(root.key_id(), d.key_id);
    }
}

#[test]
fn crypto_keys_record_written_elsewhere_decrypts() {
    let case = vectors().crypto_keys;
    let root = SyncRootKey::from_hex(&case.kb_hex, 0).unwrap();
    let bso = IncomingBso {
        envelope: IncomingEnvelope::new(Guid::new("keys"), ServerTimestamp::from_millis(42_000)),
        payload: case.payload,
    };
    let keys = CollectionKeys::from_bso(&bso, &root.sync_key_bundle()).unwrap();
    assert_eq!(keys.timestamp, ServerTimestamp::from_millis(42_000));
    assert_eq!(keys.default.to_base64(), case.default);
    assert_eq!(keys.key_for_collection("bookmarks").to_base64(), case.bookmarks);
    assert_eq!(keys.key_for_collection("passwords").to_base64(), case.default);
}
