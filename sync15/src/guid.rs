//! Record identifiers.
//!
//! Every BSO has an id. Ids this code generates are 12 characters of the
//! URL-safe base64 alphabet (9 random bytes), exactly what Firefox generates.
//! Ids written by other clients may be anything the server accepts — up to 64
//! printable ASCII characters — and must be carried through untouched, so a
//! [`Guid`] holds any string and offers validity checks instead of refusing
//! input at construction.
//!
//! The `sync-guid` crate named by the design is not published on crates.io, so
//! this module provides the same capability: ids of the common 12-byte form are
//! stored inline without a heap allocation, longer ones on the heap.

use std::{
    borrow::Borrow,
    cmp::Ordering,
    fmt,
    hash::{Hash, Hasher},
    ops::Deref,
};

use arrayvec::ArrayString;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The length of the ids this crate generates.
pub const GENERATED_GUID_LEN: usize = 12;

/// The longest id the storage server accepts.
pub const MAX_SERVER_GUID_LEN: usize = 64;

/// A sync record id. Compares, hashes and borrows exactly like the `str` it holds.
#[derive(Clone)]
pub struct Guid(Repr);

#[derive(Clone)]
enum Repr {
    /// Exactly [`GENERATED_GUID_LEN`] bytes: the common case, kept inline,
    /// as a string (read as `&str` with no UTF-8 check).
    Inline(ArrayString<GENERATED_GUID_LEN>),
    Heap(Box<str>),
}

/// An inline id's bytes as an array: compared and ordered with a few
/// integer operations instead of a `memcmp` call.
#[inline]
fn inline_bytes(s: &ArrayString<GENERATED_GUID_LEN>) -> Option<[u8; GENERATED_GUID_LEN]> {
    <[u8; GENERATED_GUID_LEN]>::try_from(s.as_bytes()).ok()
}

impl Guid {
    /// Wraps any string as an id. Nothing is rejected here; see
    /// [`Guid::is_valid_for_sync_server`] for the server's rules.
    pub fn new(s: &str) -> Self {
        if s.len() == GENERATED_GUID_LEN {
            if let Ok(inline) = ArrayString::from(s) {
                return Guid(Repr::Inline(inline));
            }
        }
        Guid(Repr::Heap(s.into()))
    }

    /// A fresh random id: 9 bytes from the operating system's secure random
    /// source, encoded as 12 URL-safe base64 characters.
    ///
    /// # Panics
    /// Only if the operating system cannot supply random bytes, in which case
    /// no cryptography in this crate could work either.
    pub fn random() -> Self {
        let bytes = crate::crypto::random_array::<9>()
            .expect("the operating system's random number generator failed");
        let mut inline = [0u8; GENERATED_GUID_LEN];
        let written = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode_slice(bytes, &mut inline)
            .expect("9 bytes always encode to exactly 12 base64 characters");
        debug_assert_eq!(written, GENERATED_GUID_LEN);
        let inline = ArrayString::from_byte_string(&inline).expect("base64 is ASCII");
        Guid(Repr::Inline(inline))
    }

    /// The id's bytes (no UTF-8 check: comparisons use these).
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline(s) => s.as_bytes(),
            Repr::Heap(s) => s.as_bytes(),
        }
    }

    /// The id as a string slice.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline(s) => s,
            Repr::Heap(s) => s,
        }
    }

    /// Whether the storage server accepts this id: 1 to 64 printable ASCII
    /// characters (space through tilde). Commas are refused too, since an id
    /// containing one could not be named in an `ids=` list.
    pub fn is_valid_for_sync_server(&self) -> bool {
        let s = self.as_str();
        !s.is_empty()
            && s.len() <= MAX_SERVER_GUID_LEN
            && s.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b',')
    }

    /// Whether this id has the form Firefox generates: exactly 12 characters
    /// of the URL-safe base64 alphabet. Places (bookmarks, history) requires it.
    pub fn is_generated_form(&self) -> bool {
        let s = self.as_str();
        s.len() == GENERATED_GUID_LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }
}

impl Deref for Guid {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Guid {
    #[inline]
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Guid {
    #[inline]
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({:?})", self.as_str())
    }
}

impl PartialEq for Guid {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            // Fixed-size arrays: two loads and compares, no `memcmp` call
            // (maps of GUIDs compare keys on every hit).
            (Repr::Inline(a), Repr::Inline(b)) => inline_bytes(a) == inline_bytes(b),
            _ => self.as_bytes() == other.as_bytes(),
        }
    }
}
impl Eq for Guid {}

impl PartialEq<str> for Guid {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl PartialEq<&str> for Guid {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl PartialEq<String> for Guid {
    fn eq(&self, other: &String) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl PartialEq<Guid> for str {
    fn eq(&self, other: &Guid) -> bool {
        self == other.as_str()
    }
}
impl PartialEq<Guid> for &str {
    fn eq(&self, other: &Guid) -> bool {
        *self == other.as_str()
    }
}

impl PartialOrd for Guid {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Guid {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        // `str` orders by bytes too. Two inline ids have the same length, so
        // their bytes read as big-endian integers order the same way.
        if let (Repr::Inline(a), Repr::Inline(b)) = (&self.0, &other.0) {
            if let (Some(a), Some(b)) = (inline_bytes(a), inline_bytes(b)) {
                let wide = |bytes: [u8; GENERATED_GUID_LEN]| {
                    let mut padded = [0u8; 16];
                    padded[..GENERATED_GUID_LEN].copy_from_slice(&bytes);
                    u128::from_be_bytes(padded)
                };
                return wide(a).cmp(&wide(b));
            }
        }
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for Guid {
    // Must agree with `str`'s hash so that `HashMap<Guid, _>::get("id")` works.
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl From<&str> for Guid {
    fn from(s: &str) -> Self {
        Guid::new(s)
    }
}
impl From<String> for Guid {
    fn from(s: String) -> Self {
        if s.len() == GENERATED_GUID_LEN {
            Guid::new(&s)
        } else {
            Guid(Repr::Heap(s.into_boxed_str()))
        }
    }
}
impl From<&String> for Guid {
    fn from(s: &String) -> Self {
        Guid::new(s)
    }
}
impl From<Guid> for String {
    fn from(g: Guid) -> Self {
        match g.0 {
            Repr::Heap(s) => s.into(),
            Repr::Inline(_) => g.as_str().to_owned(),
        }
    }
}

impl Serialize for Guid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Guid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct GuidVisitor;
        impl serde::de::Visitor<'_> for GuidVisitor {
            type Value = Guid;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a record id string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Guid, E> {
                Ok(Guid::new(v))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Guid, E> {
                Ok(Guid::from(v))
            }
        }
        deserializer.deserialize_str(GuidVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    #[test]
    fn random_ids_have_the_generated_form_and_differ() {
        let ids: HashSet<Guid> = (0..1000).map(|_| Guid::random()).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            assert!(id.is_generated_form(), "{id:?}");
            assert!(id.is_valid_for_sync_server(), "{id:?}");
        }
    }

    #[test]
    fn inline_and_heap_forms_compare_as_their_strings() {
        let short = Guid::new("abcdefghijkl");
        let long = Guid::new("a-much-longer-id-written-by-another-client");
        assert!(matches!(short.0, Repr::Inline(_)));
        assert!(matches!(long.0, Repr::Heap(_)));
        assert_eq!(short, "abcdefghijkl");
        assert_eq!(Guid::from("abcdefghijkl".to_string()), short);
        assert!(long < short, "ordered as strings: '-' sorts before 'b'");
        // Equality of two values, by either form, is the strings' equality.
        assert_eq!(short, Guid::new("abcdefghijkl"));
        assert_ne!(short, Guid::new("abcdefghijkm"));
        assert_ne!(short, long);
        assert_eq!(long, Guid::new("a-much-longer-id-written-by-another-client"));
        assert_ne!(Guid::new("éééééé"), Guid::new("ééééééé"));
        let mut map = HashMap::new();
        map.insert(long.clone(), 1);
        assert_eq!(map.get("a-much-longer-id-written-by-another-client"), Some(&1));
    }

    #[test]
    fn ordering_and_equality_are_the_strings_in_either_form() {
        let mut ids: Vec<Guid> = (0..500).map(|_| Guid::random()).collect();
        for s in [
            "menu________",
            "a",
            "abcdefghijk",
            "abcdefghijkl0",
            "ABCDEFGHIJKL",
            "-___________",
            "éééééé",
        ] {
            ids.push(Guid::new(s));
        }
        let mut strings: Vec<String> = ids.iter().map(|g| g.as_str().to_owned()).collect();
        ids.sort();
        strings.sort();
        let sorted: Vec<&str> = ids.iter().map(Guid::as_str).collect();
        assert_eq!(sorted, strings);
        for pair in ids.windows(2) {
            assert_eq!(pair[0] == pair[1], pair[0].as_str() == pair[1].as_str());
            assert_eq!(pair[0].cmp(&pair[1]), pair[0].as_str().cmp(pair[1].as_str()));
        }
    }

    #[test]
    fn non_ascii_twelve_bytes_stay_exact() {
        // 12 bytes but not ASCII: kept exactly, and not taken for a Sync id.
        assert_eq!("éééééé".len(), GENERATED_GUID_LEN);
        let odd = Guid::new("éééééé");
        assert_eq!(odd.as_str(), "éééééé");
        assert!(!odd.is_valid_for_sync_server());
        assert!(!odd.is_generated_form());
    }

    #[test]
    fn server_validity_rules() {
        assert!(Guid::new("menu________").is_valid_for_sync_server());
        assert!(Guid::new("{5a1e7bd0-4b1d-4e34-a4a4-f1d2c3b4a5e6}").is_valid_for_sync_server());
        assert!(Guid::new(&"x".repeat(64)).is_valid_for_sync_server());
        assert!(!Guid::new(&"x".repeat(65)).is_valid_for_sync_server());
        assert!(!Guid::new("").is_valid_for_sync_server());
        assert!(!Guid::new("tab\there").is_valid_for_sync_server());
        assert!(!Guid::new("a,b").is_valid_for_sync_server());
        assert!(!Guid::new("{5a1e7bd0}").is_generated_form());
    }

    #[test]
    fn serde_is_a_plain_string() {
        let id = Guid::new("abcdefghijkl");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"abcdefghijkl\"");
        let back: Guid = serde_json::from_str("\"abcdefghijkl\"").unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<Guid>("12").is_err());
    }
}
