//! Web Push message encryption, the way device commands are encrypted:
//! the `aes128gcm` content coding (RFC 8188) with keys agreed over P-256
//! (RFC 8291), as Firefox's `PushCrypto.encrypt`/`decrypt` and
//! application-services' `rc_crypto::ece` do it.
//!
//! The primitives are other people's: P-256 ECDH from RustCrypto's `p256`,
//! HKDF-SHA256 and AES-128-GCM from `ring`. This file only lays them out as
//! the two RFCs say, and is checked against their published examples.
//!
//! Like Firefox, a message is written in records of 4096 bytes with no
//! padding; a message read may have any record size and padding.

use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use ring::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;

use crate::error::FxaError;

/// The record size Firefox writes (`PushCrypto.encrypt`).
pub(crate) const RECORD_SIZE: u32 = 4096;
/// An uncompressed P-256 point: `0x04 || x || y`.
pub(crate) const PUBLIC_KEY_LEN: usize = 65;
/// The RFC 8291 authentication secret.
pub(crate) const AUTH_SECRET_LEN: usize = 16;
const SALT_LEN: usize = 16;
const TAG_LEN: usize = 16;
/// salt, rs, idlen.
const FIXED_HEADER_LEN: usize = SALT_LEN + 4 + 1;
/// The most a device command may be once decrypted: Firefox sends at most
/// 16 KiB of close-tab URLs in one command, a tab far less.
pub(crate) const MAX_PLAINTEXT: usize = 256 * 1024;

fn crypto_error(what: &str) -> FxaError {
    FxaError::CommandCrypto(what.to_owned())
}

/// A P-256 key pair: a device's command key, or a sender's ephemeral key.
pub(crate) struct EcKeyPair {
    secret: p256::SecretKey,
    public: [u8; PUBLIC_KEY_LEN],
}

impl std::fmt::Debug for EcKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcKeyPair").finish_non_exhaustive()
    }
}

impl EcKeyPair {
    /// A new random key pair.
    pub fn generate() -> Result<Self, FxaError> {
        // A random 32-byte string is a valid scalar except with probability
        // ~2^-32; draw again in that case.
        for _ in 0..8 {
            let bytes = random::<32>()?;
            if let Ok(pair) = Self::from_private_bytes(&bytes) {
                return Ok(pair);
            }
        }
        Err(crypto_error("could not draw a P-256 key"))
    }

    /// The key pair of a stored private scalar (32 bytes, big-endian).
    pub fn from_private_bytes(bytes: &[u8]) -> Result<Self, FxaError> {
        let secret =
            p256::SecretKey::from_slice(bytes).map_err(|_| crypto_error("not a P-256 private key"))?;
        let point = secret.public_key().to_encoded_point(false);
        let public = point
            .as_bytes()
            .try_into()
            .map_err(|_| crypto_error("the P-256 public key is not 65 bytes"))?;
        Ok(EcKeyPair { secret, public })
    }

    /// The private scalar, to store (secret).
    pub fn private_bytes(&self) -> [u8; 32] {
        self.secret.to_bytes().into()
    }

    /// The public key, uncompressed.
    pub fn public_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.public
    }

    /// The x coordinate of ECDH with `peer` (an uncompressed point).
    fn agree(&self, peer: &[u8]) -> Result<[u8; 32], FxaError> {
        let peer =
            p256::PublicKey::from_sec1_bytes(peer).map_err(|_| crypto_error("not a P-256 public key"))?;
        let shared = p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), peer.as_affine());
        let mut out = [0u8; 32];
        out.copy_from_slice(shared.raw_secret_bytes());
        Ok(out)
    }
}

pub(crate) fn random<const N: usize>() -> Result<[u8; N], FxaError> {
    let mut out = [0u8; N];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut out)
        .map_err(|_| crypto_error("no randomness"))?;
    Ok(out)
}

/// Encrypts `plaintext` for the holder of `receiver_public` and
/// `auth_secret`, with a fresh ephemeral key and salt.
pub(crate) fn encrypt(
    receiver_public: &[u8],
    auth_secret: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, FxaError> {
    let sender = EcKeyPair::generate()?;
    encrypt_with(
        &sender,
        &random::<SALT_LEN>()?,
        receiver_public,
        auth_secret,
        plaintext,
    )
}

/// [`encrypt`] with a given sender key and salt (the RFC examples fix both).
fn encrypt_with(
    sender: &EcKeyPair,
    salt: &[u8; SALT_LEN],
    receiver_public: &[u8],
    auth_secret: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, FxaError> {
    let ikm = webpush_ikm(
        sender,
        receiver_public,
        sender.public_bytes(),
        receiver_public,
        auth_secret,
    )?;
    seal(&ikm, salt, sender.public_bytes(), RECORD_SIZE, plaintext)
}

/// Decrypts a message sent to `receiver` with `auth_secret`.
pub(crate) fn decrypt(receiver: &EcKeyPair, auth_secret: &[u8], body: &[u8]) -> Result<Vec<u8>, FxaError> {
    open(body, |sender_public| {
        if sender_public.len() != PUBLIC_KEY_LEN {
            return Err(crypto_error("the sender's key id is not a P-256 public key"));
        }
        webpush_ikm(
            receiver,
            sender_public,
            sender_public,
            receiver.public_bytes(),
            auth_secret,
        )
    })
}

/// RFC 8291 §3.4: the input keying material both sides derive from the
/// ECDH secret, the auth secret and both public keys (receiver's first).
fn webpush_ikm(
    own: &EcKeyPair,
    peer_public: &[u8],
    sender_public: &[u8],
    receiver_public: &[u8],
    auth_secret: &[u8],
) -> Result<[u8; 32], FxaError> {
    if auth_secret.len() != AUTH_SECRET_LEN {
        return Err(crypto_error("the auth secret is not 16 bytes"));
    }
    let ecdh = own.agree(peer_public)?;
    let mut info = Vec::with_capacity(14 + 2 * PUBLIC_KEY_LEN);
    info.extend_from_slice(b"WebPush: info\0");
    info.extend_from_slice(receiver_public);
    info.extend_from_slice(sender_public);
    Ok(hkdf_expand(&hkdf_extract(auth_secret, &ecdh), &info))
}

fn hkdf_extract(salt: &[u8], ikm: &[u8]) -> hkdf::Prk {
    hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(ikm)
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn hkdf_expand<const N: usize>(prk: &hkdf::Prk, info: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    // N is 12, 16 or 32: always within HKDF-SHA256's 255 × 32 bytes.
    if let Ok(okm) = prk.expand(&[info], Len(N)) {
        let _ = okm.fill(&mut out);
    }
    out
}

/// RFC 8188 §2.2–2.3: the content-encryption key and the base nonce.
fn content_keys(ikm: &[u8], salt: &[u8]) -> Result<(LessSafeKey, [u8; 12]), FxaError> {
    let prk = hkdf_extract(salt, ikm);
    let cek: [u8; 16] = hkdf_expand(&prk, b"Content-Encoding: aes128gcm\0");
    let nonce: [u8; 12] = hkdf_expand(&prk, b"Content-Encoding: nonce\0");
    let key = UnboundKey::new(&AES_128_GCM, &cek).map_err(|_| crypto_error("bad content key"))?;
    Ok((LessSafeKey::new(key), nonce))
}

/// The nonce of record `seq`: the base nonce XOR the sequence number.
fn record_nonce(base: &[u8; 12], seq: u64) -> Nonce {
    let mut nonce = *base;
    for (byte, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
        *byte ^= s;
    }
    Nonce::assume_unique_for_key(nonce)
}

/// RFC 8188: the header, then `plaintext` in records of `rs` bytes, each
/// ending with its delimiter (1, or 2 for the last) and no padding.
fn seal(
    ikm: &[u8],
    salt: &[u8; SALT_LEN],
    keyid: &[u8],
    rs: u32,
    plaintext: &[u8],
) -> Result<Vec<u8>, FxaError> {
    let keyid_len = u8::try_from(keyid.len()).map_err(|_| crypto_error("the key id is too long"))?;
    let chunk = (rs as usize)
        .checked_sub(TAG_LEN + 1)
        .filter(|c| *c > 0)
        .ok_or_else(|| crypto_error("the record size is too small"))?;
    let (key, base_nonce) = content_keys(ikm, salt)?;
    let mut out = Vec::with_capacity(
        FIXED_HEADER_LEN + keyid.len() + plaintext.len() + 17 * (plaintext.len() / chunk + 1),
    );
    out.extend_from_slice(salt);
    out.extend_from_slice(&rs.to_be_bytes());
    out.push(keyid_len);
    out.extend_from_slice(keyid);
    let mut records: Vec<&[u8]> = plaintext.chunks(chunk).collect();
    if records.is_empty() {
        records.push(&[]);
    }
    let last = records.len() - 1;
    for (seq, record) in records.into_iter().enumerate() {
        let mut data = Vec::with_capacity(record.len() + 1 + TAG_LEN);
        data.extend_from_slice(record);
        data.push(if seq == last { 2 } else { 1 });
        key.seal_in_place_append_tag(record_nonce(&base_nonce, seq as u64), Aad::empty(), &mut data)
            .map_err(|_| crypto_error("encryption failed"))?;
        out.extend_from_slice(&data);
    }
    Ok(out)
}

/// RFC 8188: reads the header, derives the keys with `ikm_for` (given the
/// header's key id), and decrypts and unpads every record. A truncated,
/// reordered, tampered or oversized message is refused.
fn open<const K: usize>(
    body: &[u8],
    ikm_for: impl FnOnce(&[u8]) -> Result<[u8; K], FxaError>,
) -> Result<Vec<u8>, FxaError> {
    if body.len() < FIXED_HEADER_LEN {
        return Err(crypto_error("the message is shorter than its header"));
    }
    let salt = &body[..SALT_LEN];
    let rs = u32::from_be_bytes([body[16], body[17], body[18], body[19]]) as usize;
    let keyid_len = body[20] as usize;
    if rs <= TAG_LEN + 1 {
        return Err(crypto_error("the record size is too small"));
    }
    let records = body
        .get(FIXED_HEADER_LEN + keyid_len..)
        .ok_or_else(|| crypto_error("the message is shorter than its header"))?;
    let keyid = &body[FIXED_HEADER_LEN..FIXED_HEADER_LEN + keyid_len];
    if records.is_empty() {
        return Err(crypto_error("the message has no records"));
    }
    if records.len() > MAX_PLAINTEXT + (MAX_PLAINTEXT / (rs - TAG_LEN) + 1) * TAG_LEN {
        return Err(crypto_error("the message is too large"));
    }
    let (key, base_nonce) = content_keys(&ikm_for(keyid)?, salt)?;
    let mut plaintext = Vec::with_capacity(records.len());
    let count = records.len().div_ceil(rs);
    for (seq, record) in records.chunks(rs).enumerate() {
        let last = seq + 1 == count;
        let mut data = record.to_vec();
        let opened = key
            .open_in_place(record_nonce(&base_nonce, seq as u64), Aad::empty(), &mut data)
            .map_err(|_| crypto_error("a record does not decrypt (wrong key, or tampered)"))?;
        // Strip the padding: zeros, then the delimiter.
        let end = opened
            .iter()
            .rposition(|b| *b != 0)
            .ok_or_else(|| crypto_error("a record has no delimiter"))?;
        match (opened[end], last) {
            (2, true) | (1, false) => plaintext.extend_from_slice(&opened[..end]),
            (2, false) => return Err(crypto_error("the message ends before its last record")),
            (1, true) => return Err(crypto_error("the message is truncated")),
            _ => return Err(crypto_error("a record's delimiter is wrong")),
        }
    }
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn b64(text: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(text).unwrap()
    }

    // RFC 8188 §3.1: one record, no key id.
    const WALRUS_IKM: &str = "yqdlZ-tYemfogSmv7Ws5PQ";
    const WALRUS_SALT: &str = "I1BsxtFttlv3u_Oo94xnmw";
    const WALRUS_BODY: &str = "I1BsxtFttlv3u_Oo94xnmwAAEAAA-NAVub2qFgBEuQKRapoZu-IxkIva3MEB1PD-ly8Thjg";

    #[test]
    fn rfc8188_single_record_example() {
        let salt: [u8; 16] = b64(WALRUS_SALT).try_into().unwrap();
        let ikm = b64(WALRUS_IKM);
        let body = seal(&ikm, &salt, b"", 4096, b"I am the walrus").unwrap();
        assert_eq!(URL_SAFE_NO_PAD.encode(&body), WALRUS_BODY);
        let ikm16: [u8; 16] = ikm.clone().try_into().unwrap();
        assert_eq!(open(&body, |_| Ok(ikm16)).unwrap(), b"I am the walrus");
    }

    #[test]
    fn rfc8188_two_records_with_padding_and_a_key_id() {
        // RFC 8188 §3.2: rs 25, key id "a1", one 0x00 padding octet in the
        // first record (7 octets of text in it, 8 in the second).
        let body = b64(
            "uNCkWiNYzKTnBN9ji3-qWAAAABkCYTHOG8chz_gnvgOqdGYovxyjuqRyJFjEDyoF1Fvkj6hQPdPHI51OEUKEpgz3SsLWIqS_uA",
        );
        let ikm: [u8; 16] = b64("BO3ZVPxUlnLORbVGMpbT1Q").try_into().unwrap();
        let plaintext = open(&body, |keyid| {
            assert_eq!(keyid, b"a1");
            Ok(ikm)
        })
        .unwrap();
        assert_eq!(plaintext, b"I am the walrus");
        // Cut after the first record: truncated, refused.
        assert!(open(&body[..21 + 2 + 25], |_| Ok(ikm)).is_err());
    }

    // RFC 8291 §5 and Appendix A.
    const UA_PUBLIC: &str =
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const UA_PRIVATE: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
    const AS_PUBLIC: &str =
        "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
    const AS_PRIVATE: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
    const AUTH_SECRET: &str = "BTBZMqHH6r4Tts7J_aSIgg";
    const SALT: &str = "DGv6ra1nlYgDCS1FRnbzlw";
    const SHARED_SECRET: &str = "kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs";
    const BODY: &str = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";
    const PLAINTEXT: &[u8] = b"When I grow up, I want to be a watermelon";

    #[test]
    fn rfc8291_example_encrypts_and_decrypts_byte_for_byte() {
        let sender = EcKeyPair::from_private_bytes(&b64(AS_PRIVATE)).unwrap();
        assert_eq!(sender.public_bytes().as_slice(), b64(AS_PUBLIC));
        let receiver = EcKeyPair::from_private_bytes(&b64(UA_PRIVATE)).unwrap();
        assert_eq!(receiver.public_bytes().as_slice(), b64(UA_PUBLIC));
        assert_eq!(
            sender.agree(&b64(UA_PUBLIC)).unwrap().as_slice(),
            b64(SHARED_SECRET)
        );
        assert_eq!(
            receiver.agree(&b64(AS_PUBLIC)).unwrap().as_slice(),
            b64(SHARED_SECRET)
        );

        let salt: [u8; 16] = b64(SALT).try_into().unwrap();
        let body = encrypt_with(&sender, &salt, &b64(UA_PUBLIC), &b64(AUTH_SECRET), PLAINTEXT).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.encode(&body), BODY);
        assert_eq!(
            decrypt(&receiver, &b64(AUTH_SECRET), &b64(BODY)).unwrap(),
            PLAINTEXT
        );
    }

    #[test]
    fn fresh_messages_round_trip_across_records_and_refuse_the_wrong_key() {
        let receiver = EcKeyPair::generate().unwrap();
        let auth = random::<16>().unwrap();
        for len in [0, 1, 4079, 4080, 4081, 10_000] {
            let text: Vec<u8> = (0..len).map(|i| (i % 251) as u8 + 1).collect();
            let body = encrypt(receiver.public_bytes(), &auth, &text).unwrap();
            assert_eq!(decrypt(&receiver, &auth, &body).unwrap(), text, "{len} bytes");
        }
        let body = encrypt(receiver.public_bytes(), &auth, b"hello").unwrap();
        let stranger = EcKeyPair::generate().unwrap();
        assert!(decrypt(&stranger, &auth, &body).is_err());
        assert!(decrypt(&receiver, &random::<16>().unwrap(), &body).is_err());
        let mut tampered = body.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(decrypt(&receiver, &auth, &tampered).is_err());
        for bad in [&body[..10], &body[..86], &[][..]] {
            assert!(decrypt(&receiver, &auth, bad).is_err());
        }
        // A stored private key gives back the same pair.
        let again = EcKeyPair::from_private_bytes(&receiver.private_bytes()).unwrap();
        assert_eq!(again.public_bytes(), receiver.public_bytes());
        assert!(EcKeyPair::from_private_bytes(&[0u8; 32]).is_err());
        assert!(
            encrypt(&[4u8; 65], &auth, b"x").is_err(),
            "not a point on the curve"
        );
    }
}
