//! JSON strings written eight bytes at a time: a listing's payloads are
//! long runs of base64 between a few quotes, and serde_json's escaper
//! looks at them one byte at a time (a tenth of the server's CPU on the
//! read mix, `cargo xtask bench server`). The output is serde_json's,
//! byte for byte (the tests compare them), so a client sees no change.

/// Appends `s` to `out` as a JSON string, quotes included, escaped as
/// serde_json escapes it: `"` and `\` with a backslash; backspace, form
/// feed, newline, carriage return and tab by their short forms; any other
/// byte below 0x20 as `\u00xx` (lower-case hex); everything else as is.
pub(super) fn write_json_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Skip whole words that need no escape.
        while let Some(word) = bytes.get(i..i + 8) {
            let mut chunk = [0u8; 8];
            chunk.copy_from_slice(word);
            if needs_escape(u64::from_le_bytes(chunk)) {
                break;
            }
            i += 8;
        }
        let Some(&byte) = bytes.get(i) else {
            break;
        };
        if let Some(escaped) = escape(byte) {
            out.extend_from_slice(&bytes[start..i]);
            out.extend_from_slice(escaped.as_slice());
            start = i + 1;
        }
        i += 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any byte of `word` is `"`, `\` or below 0x20. Each test is the
/// classic "has a zero byte" trick, which can flag a byte next to a real
/// match but never misses one, and is exact when nothing matches: a word
/// it passes needs no escape.
fn needs_escape(word: u64) -> bool {
    let below_space = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let zero_in = |x: u64| x.wrapping_sub(ONES) & !x;
    (below_space | zero_in(quote) | zero_in(backslash)) & HIGHS != 0
}

/// An escape of at most six bytes.
struct Escaped {
    bytes: [u8; 6],
    len: usize,
}

impl Escaped {
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// How `byte` is written inside a JSON string, when not as itself.
fn escape(byte: u8) -> Option<Escaped> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = |c: u8| Escaped {
        bytes: [b'\\', c, 0, 0, 0, 0],
        len: 2,
    };
    Some(match byte {
        b'"' => short(b'"'),
        b'\\' => short(b'\\'),
        0x08 => short(b'b'),
        0x0c => short(b'f'),
        b'\n' => short(b'n'),
        b'\r' => short(b'r'),
        b'\t' => short(b't'),
        0x00..=0x1f => Escaped {
            bytes: [
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ],
            len: 6,
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(s: &str) -> String {
        let mut out = Vec::new();
        write_json_str(&mut out, s);
        String::from_utf8(out).expect("UTF-8 in, UTF-8 out")
    }

    #[test]
    fn every_ascii_byte_is_escaped_as_serde_json_escapes_it() {
        for byte in 0u8..0x80 {
            let one = char::from(byte).to_string();
            // Alone, and at each place in a word of eight and beyond it.
            for at in 0..17 {
                let mut s = "a".repeat(at);
                s.push_str(&one);
                s.push_str("bcdefghijk");
                assert_eq!(
                    ours(&s),
                    serde_json::to_string(&s).expect("a string"),
                    "byte {byte:#x} at {at}"
                );
            }
        }
    }

    #[test]
    fn payloads_and_unicode_come_out_as_serde_json_writes_them() {
        let cases = [
            String::new(),
            "\"".into(),
            "plain".into(),
            r#"{"ciphertext":"q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJ+/==","IV":"AAECAwQFBgcICQoLDA0ODw==","hmac":"00ff"}"#
                .into(),
            "é日本語\u{1f600} tab\there\nnew \\ back \u{7f} del \u{0} nul".into(),
            "\u{1f}\u{1f}\u{1f}\u{1f}\u{1f}\u{1f}\u{1f}\u{1f}\u{1f}".into(),
            "!!!!!!!!####$$$$\"\"\"\"\"\"\"\"]]]]]]]]\\\\\\\\".into(),
        ];
        for s in cases {
            assert_eq!(ours(&s), serde_json::to_string(&s).expect("a string"), "{s:?}");
        }
    }

    #[test]
    fn a_word_is_passed_only_when_none_of_its_bytes_needs_escaping() {
        // Exhaustive over one byte in a word of otherwise harmless bytes,
        // at every position, against the byte-by-byte rule.
        for byte in 0u8..=0xff {
            for at in 0..8 {
                let mut word = [b'A'; 8];
                word[at] = byte;
                let expected = byte < 0x20 || byte == b'"' || byte == b'\\';
                assert_eq!(
                    needs_escape(u64::from_le_bytes(word)),
                    expected,
                    "{byte:#x} at {at}"
                );
            }
        }
    }
}
