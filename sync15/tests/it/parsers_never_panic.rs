//! Property tests: whatever a server (or a corrupting proxy) sends, the
//! parsers return an error or a value — they never panic. Inputs are
//! arbitrary bytes, arbitrary JSON shaped like the real thing, and
//! correctly encrypted payloads whose cleartext is arbitrary.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use sync15::{
    Cleartext, CollectionKeys, EncryptedPayload, IncomingBso, InfoCollections, InfoConfiguration, KeyBundle,
    MetaGlobal, ServerTimestamp,
};

/// Arbitrary JSON values, a few levels deep.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        ".{0,20}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                "[a-zA-Z]{1,10}|id|modified|payload|sortindex|ttl|deleted",
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// JSON objects with the BSO fields, each of any type.
fn bso_like() -> impl Strategy<Value = String> {
    (json_value(), json_value(), json_value(), json_value()).prop_map(|(id, modified, payload, sortindex)| {
        serde_json::json!({"id": id, "modified": modified, "payload": payload, "sortindex": sortindex})
            .to_string()
    })
}

fn bundle() -> KeyBundle {
    KeyBundle::new(&[7u8; 32], &[9u8; 32]).unwrap()
}

fn bso(payload: String) -> IncomingBso {
    let json = serde_json::json!({"id": "abcdefghijkl", "modified": 1234.56, "payload": payload});
    serde_json::from_value(json).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = serde_json::from_slice::<IncomingBso>(&bytes);
        let _ = serde_json::from_slice::<Vec<IncomingBso>>(&bytes);
        let _ = serde_json::from_slice::<InfoCollections>(&bytes);
        let _ = serde_json::from_slice::<InfoConfiguration>(&bytes);
        let _ = Cleartext::from_json_slice(&bytes);
        let _ = EncryptedPayload::from_json(&text);
        let _ = ServerTimestamp::parse(&text);
        let _ = bundle().decrypt(&bso(text.to_string()));
        let _ = MetaGlobal::from_bso(bso(text.to_string()));
        let _ = CollectionKeys::from_bso(&bso(text.to_string()), &bundle());
    }

    #[test]
    fn json_shaped_like_bsos(body in bso_like()) {
        if let Ok(parsed) = serde_json::from_str::<IncomingBso>(&body) {
            let _ = bundle().decrypt(&parsed);
            let _ = MetaGlobal::from_bso(parsed.clone());
            let _ = CollectionKeys::from_bso(&parsed, &bundle());
        }
        let _ = serde_json::from_str::<Vec<IncomingBso>>(&format!("[{body},{body}]"));
    }

    #[test]
    fn payloads_shaped_like_encrypted_ones(
        ciphertext in "[A-Za-z0-9+/=]{0,80}|.{0,40}",
        iv in "[A-Za-z0-9+/=]{0,30}|.{0,10}",
        hmac in "[0-9a-f]{0,70}|.{0,10}",
    ) {
        let payload = serde_json::json!({"ciphertext": ciphertext, "IV": iv, "hmac": hmac}).to_string();
        prop_assert!(bundle().decrypt(&bso(payload)).is_err(), "an unauthenticated payload was accepted");
    }

    #[test]
    fn authentic_payloads_with_arbitrary_cleartext(
        raw in prop::collection::vec(any::<u8>(), 0..300),
        value in json_value(),
    ) {
        // Correctly encrypted and authenticated, so decryption gets past the
        // HMAC and must cope with whatever is inside.
        for cleartext in [raw, value.to_string().into_bytes()] {
            let payload = bundle().encrypt_bytes(&cleartext).unwrap().to_json();
            let _ = bundle().decrypt(&bso(payload.clone()));
            let _ = MetaGlobal::from_bso(bso(payload.clone()));
            let _ = CollectionKeys::from_bso(&bso(payload), &bundle());
        }
    }
}
