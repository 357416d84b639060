//! [`KeyBundle`]: AES-256-CBC with PKCS#7 padding, authenticated by
//! HMAC-SHA256 over the base64 ciphertext string — Firefox's record format.

use std::fmt;

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, InnerIvInit, KeyInit, block_padding::Pkcs7};
use base64::Engine as _;
use ring::hmac;
use serde::{Deserialize, Serialize};

use super::{BASE64, CryptoError, key32, random_array, random_iv};
use crate::bso::{IncomingBso, IncomingRecord, OutgoingBso, OutgoingRecord};
use crate::error::Error;
use crate::payload::Cleartext;

type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

/// The payload of every encrypted BSO, as JSON: `{"ciphertext", "IV", "hmac"}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedPayload {
    /// Standard base64 of the AES-256-CBC ciphertext.
    pub ciphertext: String,
    /// Standard base64 of the 16-byte IV.
    #[serde(rename = "IV")]
    pub iv: String,
    /// Lowercase hex of HMAC-SHA256(hmac key, the `ciphertext` string's bytes).
    pub hmac: String,
}

impl fmt::Debug for EncryptedPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedPayload")
            .field("ciphertext_len", &self.ciphertext.len())
            .field("iv", &self.iv)
            .field("hmac", &self.hmac)
            .finish()
    }
}

impl EncryptedPayload {
    /// Parses a BSO's payload string.
    pub fn from_json(payload: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(payload)
    }

    /// The JSON text that goes into a BSO's `payload` field.
    pub fn to_json(&self) -> String {
        // Fast path: base64 and hex never need JSON escaping, so the text can be
        // assembled directly instead of scanning every ciphertext byte for escapes.
        if is_json_safe(&self.ciphertext) && is_json_safe(&self.iv) && is_json_safe(&self.hmac) {
            let mut out = String::with_capacity(self.ciphertext.len() + self.iv.len() + self.hmac.len() + 40);
            out.push_str("{\"ciphertext\":\"");
            out.push_str(&self.ciphertext);
            out.push_str("\",\"IV\":\"");
            out.push_str(&self.iv);
            out.push_str("\",\"hmac\":\"");
            out.push_str(&self.hmac);
            out.push_str("\"}");
            return out;
        }
        // Serializing three strings cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// PKCS#7 always adds 1..=16 bytes, up to a whole number of blocks.
fn padded_len(cleartext_len: usize) -> usize {
    (cleartext_len / 16 + 1) * 16
}

/// The exact length of the encrypted BSO `payload` (the JSON text
/// `{"ciphertext":…,"IV":…,"hmac":…}`) that a cleartext of `cleartext_len`
/// bytes becomes — what the server's `max_record_payload_bytes` limits.
/// Engines that must fit a record under that limit size it with this.
pub fn encrypted_payload_len(cleartext_len: usize) -> usize {
    const IV_BASE64: usize = 24;
    const HMAC_HEX: usize = 64;
    const JSON_FRAME: usize = r#"{"ciphertext":"","IV":"","hmac":""}"#.len();
    padded_len(cleartext_len).div_ceil(3) * 4 + IV_BASE64 + HMAC_HEX + JSON_FRAME
}

/// Whether `s` can sit between JSON quotes as is.
fn is_json_safe(s: &str) -> bool {
    // A branch-free fold, so the compiler can vectorize the scan of long ciphertexts.
    let unsafe_bytes = s
        .as_bytes()
        .iter()
        .fold(0u8, |acc, &b| acc | u8::from(b < 0x20 || b == b'"' || b == b'\\'));
    unsafe_bytes == 0
}

/// An encryption key and an HMAC key, each 32 bytes.
#[derive(Clone)]
pub struct KeyBundle {
    enc_key: [u8; 32],
    hmac_raw: [u8; 32],
    /// The expanded AES key schedule, computed once rather than per record.
    cipher: aes::Aes256,
    hmac_key: hmac::Key,
}

impl PartialEq for KeyBundle {
    fn eq(&self, other: &Self) -> bool {
        // Only ever compared in tests and key-rotation checks; not secret-timing sensitive.
        self.enc_key == other.enc_key && self.hmac_raw == other.hmac_raw
    }
}
impl Eq for KeyBundle {}

impl fmt::Debug for KeyBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyBundle { .. }")
    }
}

impl KeyBundle {
    /// From raw keys; each must be 32 bytes.
    pub fn new(enc_key: &[u8], hmac_key: &[u8]) -> Result<Self, CryptoError> {
        Ok(Self::from_arrays(
            key32(enc_key, "the encryption key")?,
            key32(hmac_key, "the HMAC key")?,
        ))
    }

    pub(crate) fn from_arrays(enc_key: [u8; 32], hmac_raw: [u8; 32]) -> Self {
        KeyBundle {
            cipher: aes::Aes256::new(&enc_key.into()),
            enc_key,
            hmac_raw,
            hmac_key: hmac::Key::new(hmac::HMAC_SHA256, &hmac_raw),
        }
    }

    /// Two fresh random keys, as a new `crypto/keys` needs.
    pub fn new_random() -> Result<Self, CryptoError> {
        Ok(Self::from_arrays(random_array()?, random_array()?))
    }

    /// From the `[encB64, hmacB64]` pair stored in `crypto/keys`.
    pub fn from_base64(enc_b64: &str, hmac_b64: &str) -> Result<Self, CryptoError> {
        let enc = BASE64.decode(enc_b64).map_err(|_| CryptoError::InvalidBase64 {
            field: "encryption key",
        })?;
        let mac = BASE64
            .decode(hmac_b64)
            .map_err(|_| CryptoError::InvalidBase64 { field: "HMAC key" })?;
        Self::new(&enc, &mac)
    }

    /// The `[encB64, hmacB64]` pair stored in `crypto/keys`.
    pub fn to_base64(&self) -> [String; 2] {
        [BASE64.encode(self.enc_key), BASE64.encode(self.hmac_raw)]
    }

    /// Encrypts `cleartext` under a fresh random IV.
    pub fn encrypt_bytes(&self, cleartext: &[u8]) -> Result<EncryptedPayload, CryptoError> {
        Ok(self.encrypt_bytes_with_iv(cleartext, &random_iv()?))
    }

    /// Encrypts with a caller-chosen IV. Only for known-answer tests: reusing
    /// an IV with the same key leaks information about the cleartexts.
    pub fn encrypt_bytes_with_iv(&self, cleartext: &[u8], iv: &[u8; 16]) -> EncryptedPayload {
        let mut buffer = Vec::with_capacity(padded_len(cleartext.len()));
        buffer.extend_from_slice(cleartext);
        self.encrypt_owned(buffer, iv)
    }

    /// Encrypts a cleartext buffer in place (growing it by the padding), so a
    /// freshly serialized record is never copied.
    fn encrypt_owned(&self, mut buffer: Vec<u8>, iv: &[u8; 16]) -> EncryptedPayload {
        let cleartext_len = buffer.len();
        let padded_len = padded_len(cleartext_len);
        buffer.resize(padded_len, 0);
        let encrypted = Aes256CbcEnc::inner_iv_init(self.cipher.clone(), iv.into())
            .encrypt_padded_mut::<Pkcs7>(&mut buffer, cleartext_len)
            .map(|ct| ct.len());
        // The buffer was sized for the padding above, so this cannot fail; keep it total anyway.
        debug_assert_eq!(encrypted.ok(), Some(padded_len));
        let mut ciphertext = String::with_capacity(padded_len.div_ceil(3) * 4);
        BASE64.encode_string(&buffer, &mut ciphertext);
        let tag = hmac::sign(&self.hmac_key, ciphertext.as_bytes());
        let mut hmac_hex = [0u8; 64];
        let hmac = match hex::encode_to_slice(tag.as_ref(), &mut hmac_hex) {
            Ok(()) => String::from_utf8_lossy(&hmac_hex).into_owned(),
            Err(_) => hex::encode(tag.as_ref()),
        };
        EncryptedPayload {
            hmac,
            iv: BASE64.encode(iv),
            ciphertext,
        }
    }

    /// Verifies the HMAC in constant time, then decrypts. Nothing is
    /// decrypted unless the HMAC matches.
    pub fn decrypt_bytes(&self, payload: &EncryptedPayload) -> Result<Vec<u8>, CryptoError> {
        let mut tag = [0u8; 32];
        hex::decode_to_slice(payload.hmac.trim(), &mut tag).map_err(|_| CryptoError::MalformedHmac)?;
        hmac::verify(&self.hmac_key, payload.ciphertext.as_bytes(), &tag)
            .map_err(|_| CryptoError::BadHmac)?;
        let iv = BASE64
            .decode(&payload.iv)
            .map_err(|_| CryptoError::InvalidBase64 { field: "IV" })?;
        let iv: [u8; 16] = iv
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::InvalidIvLength(iv.len()))?;
        let mut buffer = Vec::with_capacity(payload.ciphertext.len() / 4 * 3 + 3);
        BASE64
            .decode_vec(&payload.ciphertext, &mut buffer)
            .map_err(|_| CryptoError::InvalidBase64 { field: "ciphertext" })?;
        if buffer.is_empty() || buffer.len() % 16 != 0 {
            return Err(CryptoError::Decrypt);
        }
        let cleartext_len = Aes256CbcDec::inner_iv_init(self.cipher.clone(), &iv.into())
            .decrypt_padded_mut::<Pkcs7>(&mut buffer)
            .map_err(|_| CryptoError::Decrypt)?
            .len();
        buffer.truncate(cleartext_len);
        Ok(buffer)
    }

    /// Encrypts a record for upload: cleartext JSON → [`EncryptedPayload`] →
    /// the BSO's payload string.
    pub fn encrypt(&self, record: &OutgoingRecord) -> Result<OutgoingBso, Error> {
        let mut cleartext = record.cleartext.to_json_vec();
        cleartext.reserve_exact(padded_len(cleartext.len()) - cleartext.len());
        let encrypted = self.encrypt_owned(cleartext, &random_iv()?);
        Ok(OutgoingBso {
            envelope: record.envelope.clone(),
            payload: encrypted.to_json(),
        })
    }

    /// Decrypts a downloaded BSO: payload string → [`EncryptedPayload`] →
    /// HMAC check → cleartext JSON object, whose `id` must match the BSO's.
    pub fn decrypt(&self, bso: &IncomingBso) -> Result<IncomingRecord, Error> {
        let encrypted =
            EncryptedPayload::from_json(&bso.payload).map_err(|source| Error::MalformedPayload {
                id: bso.envelope.id.clone(),
                source,
            })?;
        let cleartext = match String::from_utf8(self.decrypt_bytes(&encrypted)?) {
            Ok(text) => Cleartext::from_json_string(text),
            Err(not_utf8) => Cleartext::from_json_slice(not_utf8.as_bytes()),
        }
        .map_err(|source| Error::MalformedPayload {
            id: bso.envelope.id.clone(),
            source,
        })?;
        IncomingRecord::new(bso.envelope.clone(), cleartext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_payload_len_is_exact() {
        let bundle = KeyBundle::new_random().unwrap();
        for n in [0usize, 1, 10, 15, 16, 17, 100, 1000, 4095, 65_537] {
            let filler = "x".repeat(n);
            let record = OutgoingRecord::from_content(
                OutgoingEnvelope::new(Guid::new("aaaaaaaaaaaa")),
                &serde_json::json!({ "id": "aaaaaaaaaaaa", "f": filler }),
            )
            .unwrap();
            let cleartext_len = record.cleartext.to_json_vec().len();
            let bso = bundle.encrypt(&record).unwrap();
            assert_eq!(
                bso.payload.len(),
                encrypted_payload_len(cleartext_len),
                "cleartext of {cleartext_len}"
            );
        }
    }
    use crate::bso::OutgoingEnvelope;
    use crate::guid::Guid;
    use proptest::prelude::*;
    use serde_json::json;

    fn bundle() -> KeyBundle {
        KeyBundle::new(&[7u8; 32], &[9u8; 32]).unwrap()
    }

    #[test]
    fn rejects_wrong_key_sizes() {
        assert_eq!(
            KeyBundle::new(&[0u8; 16], &[0u8; 32]).unwrap_err(),
            CryptoError::InvalidKeyLength {
                what: "the encryption key",
                len: 16
            }
        );
        assert!(matches!(
            KeyBundle::new(&[0u8; 32], &[0u8; 31]),
            Err(CryptoError::InvalidKeyLength {
                what: "the HMAC key",
                len: 31
            })
        ));
        assert!(matches!(
            KeyBundle::from_base64("not base64!", "AAAA"),
            Err(CryptoError::InvalidBase64 { .. })
        ));
    }

    #[test]
    fn base64_pair_round_trips_with_or_without_padding() {
        let b = KeyBundle::new_random().unwrap();
        let [enc, mac] = b.to_base64();
        assert!(enc.ends_with('='));
        assert_eq!(KeyBundle::from_base64(&enc, &mac).unwrap(), b);
        let unpadded = KeyBundle::from_base64(enc.trim_end_matches('='), mac.trim_end_matches('='));
        assert_eq!(unpadded.unwrap(), b);
    }

    #[test]
    fn fresh_iv_per_encryption() {
        let b = bundle();
        let one = b.encrypt_bytes(b"same").unwrap();
        let two = b.encrypt_bytes(b"same").unwrap();
        assert_ne!(one.iv, two.iv);
        assert_ne!(one.ciphertext, two.ciphertext);
        assert_eq!(b.decrypt_bytes(&one).unwrap(), b"same");
        assert_eq!(b.decrypt_bytes(&two).unwrap(), b"same");
    }

    #[test]
    fn hmac_is_checked_before_anything_else() {
        let b = bundle();
        let mut p = b.encrypt_bytes(b"secret").unwrap();
        // A broken IV would fail decryption, but the HMAC must be what fails.
        p.iv = "!!!".into();
        p.hmac = hex::encode([0u8; 32]);
        assert_eq!(b.decrypt_bytes(&p).unwrap_err(), CryptoError::BadHmac);
    }

    #[test]
    fn tampering_is_detected() {
        let b = bundle();
        let good = b.encrypt_bytes(b"{\"id\":\"x\"}").unwrap();

        let mut flipped = good.clone();
        let mut bytes = BASE64.decode(&flipped.ciphertext).unwrap();
        bytes[0] ^= 1;
        flipped.ciphertext = BASE64.encode(bytes);
        assert_eq!(b.decrypt_bytes(&flipped).unwrap_err(), CryptoError::BadHmac);

        let other_key = KeyBundle::new(&[7u8; 32], &[10u8; 32]).unwrap();
        assert_eq!(other_key.decrypt_bytes(&good).unwrap_err(), CryptoError::BadHmac);

        let mut short_hmac = good.clone();
        short_hmac.hmac.truncate(10);
        assert_eq!(
            b.decrypt_bytes(&short_hmac).unwrap_err(),
            CryptoError::MalformedHmac
        );

        let mut upper = good.clone();
        upper.hmac = upper.hmac.to_uppercase();
        assert_eq!(b.decrypt_bytes(&upper).unwrap(), b"{\"id\":\"x\"}");
    }

    #[test]
    fn right_hmac_wrong_encryption_key_is_a_decrypt_error_not_a_panic() {
        let b = bundle();
        let p = b.encrypt_bytes(b"0123456789abcdef0123").unwrap();
        let wrong_enc = KeyBundle::new(&[8u8; 32], &[9u8; 32]).unwrap();
        // Same HMAC key, so the MAC verifies; the padding almost surely won't.
        match wrong_enc.decrypt_bytes(&p) {
            Err(CryptoError::Decrypt) => {}
            Ok(garbage) => assert_ne!(garbage, b"0123456789abcdef0123"),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn malformed_iv_and_ciphertext_after_a_valid_hmac() {
        let b = bundle();
        let mac = |ct: &str| hex::encode(hmac::sign(&b.hmac_key, ct.as_bytes()).as_ref());
        let bad_len = EncryptedPayload {
            ciphertext: BASE64.encode([0u8; 15]),
            iv: BASE64.encode([0u8; 16]),
            hmac: mac(&BASE64.encode([0u8; 15])),
        };
        assert_eq!(b.decrypt_bytes(&bad_len).unwrap_err(), CryptoError::Decrypt);
        let short_iv = EncryptedPayload {
            iv: BASE64.encode([0u8; 8]),
            ..bad_len.clone()
        };
        assert_eq!(
            b.decrypt_bytes(&short_iv).unwrap_err(),
            CryptoError::InvalidIvLength(8)
        );
        let not_b64 = EncryptedPayload {
            ciphertext: "%%%".into(),
            hmac: mac("%%%"),
            ..bad_len
        };
        assert_eq!(
            b.decrypt_bytes(&not_b64).unwrap_err(),
            CryptoError::InvalidBase64 { field: "ciphertext" }
        );
    }

    #[test]
    fn records_round_trip_through_bsos() {
        let b = bundle();
        let id = Guid::new("abcdefghijkl");
        let record = OutgoingRecord::from_content(
            OutgoingEnvelope::new(id.clone()),
            &json!({"id": "abcdefghijkl", "title": "héllo", "extra": {"kept": [1, 2]}}),
        )
        .unwrap();
        let bso = b.encrypt(&record).unwrap();
        assert!(!bso.payload.contains("héllo"));
        let incoming = bso.into_incoming(crate::ServerTimestamp::from_millis(1_000));
        let decrypted = b.decrypt(&incoming).unwrap();
        assert_eq!(decrypted.cleartext, record.cleartext);
    }

    #[test]
    fn debug_never_prints_keys() {
        let shown = format!("{:?}", bundle());
        assert_eq!(shown, "KeyBundle { .. }");
    }

    proptest! {
        #[test]
        fn any_bytes_round_trip(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let b = bundle();
            let p = b.encrypt_bytes(&data).unwrap();
            prop_assert_eq!(BASE64.decode(&p.ciphertext).unwrap().len(), (data.len() / 16 + 1) * 16);
            prop_assert_eq!(b.decrypt_bytes(&p).unwrap(), data);
        }

        #[test]
        fn any_single_bit_flip_of_the_ciphertext_string_fails_the_hmac(
            data in proptest::collection::vec(any::<u8>(), 1..256),
            pos in any::<prop::sample::Index>(),
        ) {
            let b = bundle();
            let mut p = b.encrypt_bytes(&data).unwrap();
            let mut raw = p.ciphertext.clone().into_bytes();
            let i = pos.index(raw.len());
            raw[i] = if raw[i] == b'A' { b'B' } else { b'A' };
            p.ciphertext = String::from_utf8(raw).unwrap();
            prop_assert_eq!(b.decrypt_bytes(&p).unwrap_err(), CryptoError::BadHmac);
        }

        #[test]
        fn decrypting_arbitrary_payload_strings_never_panics(
            ct in "\\PC{0,64}", iv in "\\PC{0,32}", mac in "[0-9a-f]{0,70}",
        ) {
            let _ = bundle().decrypt_bytes(&EncryptedPayload { ciphertext: ct, iv, hmac: mac });
        }
    }
}
