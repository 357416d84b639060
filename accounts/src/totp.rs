//! TOTP (RFC 6238): HMAC-SHA1, 30-second steps, 6 digits — what FxA's
//! two-step authentication and every authenticator app use.

use ring::hmac;

/// The time step for `unix_secs`.
pub fn counter(unix_secs: u64) -> u64 {
    unix_secs / 30
}

/// The 6-digit code for `secret` at `counter` (RFC 4226 dynamic truncation).
pub fn code(secret: &[u8], counter: u64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mac = hmac::sign(&key, &counter.to_be_bytes());
    let mac = mac.as_ref();
    let offset = usize::from(mac[19] & 0x0f);
    let bin = (u32::from(mac[offset] & 0x7f) << 24)
        | (u32::from(mac[offset + 1]) << 16)
        | (u32::from(mac[offset + 2]) << 8)
        | u32::from(mac[offset + 3]);
    format!("{:06}", bin % 1_000_000)
}

/// Whether `given` is the code for now, or one step either side (clock drift).
pub fn check(secret: &[u8], given: &str, unix_secs: u64) -> bool {
    let now = counter(unix_secs);
    [now.saturating_sub(1), now, now + 1]
        .iter()
        .any(|c| code(secret, *c) == given)
}

/// RFC 4648 base32 without padding: how authenticator apps take a secret.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer = 0u32;
    let mut bits = 0;
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The bytes of an RFC 4648 base32 text (padding, spaces and case
/// ignored, as authenticator apps take a typed secret); `None` for a
/// character outside the alphabet.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter(|c| !matches!(c, b'=' | b' ')) {
        let value = ALPHABET.iter().position(|a| *a == c.to_ascii_uppercase())?;
        buffer = (buffer << 5) | value as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 (its 8-digit codes, cut to the 6 FxA uses).
    #[test]
    fn rfc_6238_vectors() {
        let secret = b"12345678901234567890";
        for (time, eight_digits) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
        ] {
            assert_eq!(code(secret, counter(time)), eight_digits[2..], "{time}");
        }
        assert!(check(secret, "287082", 59 + 30));
        assert!(!check(secret, "287082", 59 + 90));
    }

    #[test]
    fn base32_round_trips() {
        for input in [&b""[..], b"f", b"foobar", &[0xff; 20]] {
            assert_eq!(base32_decode(&base32(input)).as_deref(), Some(input));
        }
        assert_eq!(base32_decode("mzxw 6yq="), Some(b"foob".to_vec()));
        assert_eq!(base32_decode("MZ1"), None);
    }

    /// RFC 4648 §10.
    #[test]
    fn base32_vectors() {
        for (input, output) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(input.as_bytes()), output);
        }
    }
}
