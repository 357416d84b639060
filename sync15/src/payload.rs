//! [`Cleartext`]: a record's decrypted JSON object, every field kept.
//!
//! Records written by other clients may carry fields this code does not
//! know. The protocol promise is that they survive: an engine that decodes a
//! record into its own struct keeps the rest in a flattened map, e.g.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use sync15::UnknownFields;
//!
//! #[derive(Serialize, Deserialize)]
//! struct TabsRecord {
//!     id: String,
//!     #[serde(rename = "clientName")]
//!     client_name: String,
//!     #[serde(flatten)]
//!     unknown: UnknownFields,
//! }
//! ```
//!
//! and writes that map back out unchanged.

use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::guid::Guid;

/// Fields of a record this code does not understand, kept to be sent back.
pub type UnknownFields = Map<String, Value>;

/// The cleartext of a record: a JSON object, normally with an `id`.
///
/// A cleartext made from JSON text (a decrypted download, or
/// [`Cleartext::from_content`] for an upload) keeps that text and decodes
/// or encrypts straight from it: engines' records never pass through a
/// tree of [`Value`]s. The map view ([`Cleartext::as_map`]) is built on
/// first use.
#[derive(Clone)]
pub struct Cleartext(Repr);

#[derive(Clone)]
enum Repr {
    /// Valid JSON text of an object, with the two fields the protocol layer
    /// reads taken out once.
    Text {
        json: String,
        id: Option<Value>,
        tombstone: bool,
        map: OnceLock<Map<String, Value>>,
    },
    Map(Map<String, Value>),
}

/// The fields of a record's JSON that this layer looks at; everything else
/// is only checked for well-formedness.
#[derive(Deserialize)]
struct Probe {
    // `Some(Value::Null)` for `"id": null`, which is an id mismatch, not a
    // missing id.
    #[serde(default, deserialize_with = "present")]
    id: Option<Value>,
    #[serde(default)]
    deleted: Option<Value>,
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

impl Cleartext {
    /// Parses JSON bytes, which must hold an object.
    pub fn from_json_slice(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Self::from_json_string(text.to_owned()),
            // Let the parser report where the bad byte is.
            Err(_) => serde_json::from_slice::<Map<String, Value>>(bytes).map(|m| Cleartext(Repr::Map(m))),
        }
    }

    /// Parses JSON text, which must hold an object.
    pub fn from_json_str(text: &str) -> Result<Self, serde_json::Error> {
        Self::from_json_string(text.to_owned())
    }

    /// Takes JSON text, which must hold an object, without copying it.
    pub fn from_json_string(json: String) -> Result<Self, serde_json::Error> {
        if let Some(kind) = non_object_kind(&json) {
            return Err(serde::de::Error::custom(format!(
                "a record must be a JSON object, not {kind}"
            )));
        }
        Self::from_object_text(json)
    }

    /// Text whose first token is `{`: reads the id and tombstone flag,
    /// checking the rest is well-formed.
    fn from_object_text(json: String) -> Result<Self, serde_json::Error> {
        let probe: Probe = serde_json::from_str(&json)?;
        Ok(Cleartext(Repr::Text {
            tombstone: matches!(probe.deleted, Some(Value::Bool(true))),
            id: probe.id,
            json,
            map: OnceLock::new(),
        }))
    }

    /// Serializes any record that serializes to a JSON object.
    pub fn from_content<T: Serialize + ?Sized>(content: &T) -> Result<Self, serde_json::Error> {
        let json = serde_json::to_string(content)?;
        if let Some(kind) = non_object_kind(&json) {
            return Err(serde::ser::Error::custom(format!(
                "a record must serialize to a JSON object, not {kind}"
            )));
        }
        Self::from_object_text(json)
    }

    /// `{"id": …, "deleted": true}`: the record for a deletion.
    pub fn tombstone(id: &Guid) -> Self {
        let mut map = Map::with_capacity(2);
        map.insert("id".into(), Value::String(id.to_string()));
        map.insert("deleted".into(), Value::Bool(true));
        Cleartext(Repr::Map(map))
    }

    /// The `id` field, if present and a string.
    pub fn id(&self) -> Option<&str> {
        self.id_value().and_then(Value::as_str)
    }

    pub(crate) fn id_value(&self) -> Option<&Value> {
        match &self.0 {
            Repr::Text { id, .. } => id.as_ref(),
            Repr::Map(map) => map.get("id"),
        }
    }

    pub(crate) fn set_id(&mut self, new_id: &Guid) {
        let value = Value::String(new_id.to_string());
        match &mut self.0 {
            Repr::Text { json, id, map, .. } => {
                // The text is an object (checked on the way in): the field
                // goes right after its opening brace.
                let brace = json.find('{').unwrap_or(0);
                let empty = json[brace + 1..].trim_start().starts_with('}');
                let field = format!("\"id\":{value}{}", if empty { "" } else { "," });
                json.insert_str(brace + 1, &field);
                if let Some(map) = map.get_mut() {
                    map.insert("id".into(), value.clone());
                }
                *id = Some(value);
            }
            Repr::Map(map) => {
                map.insert("id".into(), value);
            }
        }
    }

    /// Whether this is a tombstone (`"deleted": true`).
    pub fn is_tombstone(&self) -> bool {
        match &self.0 {
            Repr::Text { tombstone, .. } => *tombstone,
            Repr::Map(map) => matches!(map.get("deleted"), Some(Value::Bool(true))),
        }
    }

    /// Decodes into an engine's record type.
    pub fn into_content<T: DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        match self.0 {
            Repr::Text { json, .. } => serde_json::from_str(&json),
            Repr::Map(map) => serde_json::from_value(Value::Object(map)),
        }
    }

    /// The fields, to read.
    pub fn as_map(&self) -> &Map<String, Value> {
        match &self.0 {
            Repr::Text { json, map, .. } => map.get_or_init(|| parse_checked(json)),
            Repr::Map(map) => map,
        }
    }

    /// The fields, to change. The text this cleartext was made from, if
    /// any, is dropped: from now on the map is the record.
    pub fn as_map_mut(&mut self) -> &mut Map<String, Value> {
        if let Repr::Text { json, map, .. } = &mut self.0 {
            let parsed = map.take().unwrap_or_else(|| parse_checked(json));
            self.0 = Repr::Map(parsed);
        }
        match &mut self.0 {
            Repr::Map(map) => map,
            Repr::Text { .. } => unreachable!("converted to a map above"),
        }
    }

    /// The fields, owned.
    pub fn into_map(self) -> Map<String, Value> {
        match self.0 {
            Repr::Text { json, map, .. } => map.into_inner().unwrap_or_else(|| parse_checked(&json)),
            Repr::Map(map) => map,
        }
    }

    /// The JSON text of the object.
    pub fn to_json_string(&self) -> String {
        match &self.0 {
            Repr::Text { json, .. } => json.clone(),
            // A map of JSON values always serializes.
            Repr::Map(map) => serde_json::to_string(map).unwrap_or_default(),
        }
    }

    /// The JSON bytes of the object.
    pub fn to_json_vec(&self) -> Vec<u8> {
        match &self.0 {
            Repr::Text { json, .. } => json.as_bytes().to_vec(),
            Repr::Map(map) => {
                // Records are typically a few hundred bytes to a few KiB: start
                // big enough that most never reallocate while serializing.
                let mut out = Vec::with_capacity(1024);
                match serde_json::to_writer(&mut out, map) {
                    Ok(()) => out,
                    Err(_) => Vec::new(),
                }
            }
        }
    }
}

/// Parses text already checked to be a JSON object.
fn parse_checked(json: &str) -> Map<String, Value> {
    serde_json::from_str(json).unwrap_or_default()
}

/// What `json` holds if it is not an object, judged by its first token.
fn non_object_kind(json: &str) -> Option<&'static str> {
    match json.trim_start().as_bytes().first() {
        Some(b'{') => None,
        Some(b'[') => Some("an array"),
        Some(b'"') => Some("a string"),
        Some(b't' | b'f') => Some("a boolean"),
        Some(b'n') => Some("null"),
        Some(_) => Some("a number"),
        None => Some("nothing"),
    }
}

impl Default for Cleartext {
    fn default() -> Self {
        Cleartext(Repr::Map(Map::new()))
    }
}

impl PartialEq for Cleartext {
    fn eq(&self, other: &Self) -> bool {
        self.as_map() == other.as_map()
    }
}

impl std::fmt::Debug for Cleartext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Repr::Text { json, .. } => f.debug_tuple("Cleartext").field(json).finish(),
            Repr::Map(map) => f.debug_tuple("Cleartext").field(map).finish(),
        }
    }
}

impl From<Map<String, Value>> for Cleartext {
    fn from(map: Map<String, Value>) -> Self {
        Cleartext(Repr::Map(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Known {
        id: String,
        title: String,
        #[serde(flatten)]
        unknown: UnknownFields,
    }

    #[test]
    fn unknown_fields_survive_a_typed_round_trip() {
        let text = r#"{"id":"abcdefghijkl","title":"t","futureField":{"nested":[1,2,3]},"n":1.5}"#;
        let cleartext = Cleartext::from_json_str(text).unwrap();
        let known: Known = cleartext.clone().into_content().unwrap();
        assert_eq!(known.unknown.len(), 2);
        let back = Cleartext::from_content(&known).unwrap();
        assert_eq!(back, cleartext);
    }

    #[test]
    fn only_objects_are_cleartext() {
        assert!(Cleartext::from_json_str("[1]").is_err());
        assert!(Cleartext::from_json_str("\"x\"").is_err());
        assert!(Cleartext::from_json_str("{").is_err());
        let err = Cleartext::from_content(&vec![1, 2]).unwrap_err();
        assert!(err.to_string().contains("an array"), "{err}");
    }

    #[test]
    fn tombstones() {
        let t = Cleartext::tombstone(&Guid::new("abcdefghijkl"));
        assert!(t.is_tombstone());
        assert_eq!(t.id(), Some("abcdefghijkl"));
        let parsed: serde_json::Value = serde_json::from_str(&t.to_json_string()).unwrap();
        assert_eq!(parsed, json!({"id": "abcdefghijkl", "deleted": true}));
        let not = Cleartext::from_content(&json!({"id": "x", "deleted": "yes"})).unwrap();
        assert!(!not.is_tombstone());
    }

    #[test]
    fn text_cleartexts_report_id_and_tombstone_without_a_map() {
        let c = Cleartext::from_json_str(r#" {"deleted":true, "id":"abcdefghijkl", "x":[1,{"id":"inner"}]}"#)
            .unwrap();
        assert_eq!(c.id(), Some("abcdefghijkl"));
        assert!(c.is_tombstone());
        let null_id = Cleartext::from_json_str(r#"{"id":null}"#).unwrap();
        assert_eq!(null_id.id_value(), Some(&Value::Null));
        assert_eq!(null_id.id(), None);
        // Two ids in one object could mean different records to different readers.
        assert!(Cleartext::from_json_str(r#"{"id":"a","id":"b"}"#).is_err());
        assert!(Cleartext::from_json_slice(b"{\"id\":\"\xff\"}").is_err());
        assert!(Cleartext::from_json_str(r#"{"id":"a"} trailing"#).is_err());
    }

    #[test]
    fn a_missing_id_is_spliced_into_the_text() {
        let id = Guid::new("abcdefghijkl");
        for (text, expected) in [
            ("{}", json!({"id": "abcdefghijkl"})),
            (" { } ", json!({"id": "abcdefghijkl"})),
            (r#"{"a":1}"#, json!({"id": "abcdefghijkl", "a": 1})),
        ] {
            let mut c = Cleartext::from_json_str(text).unwrap();
            c.set_id(&id);
            assert_eq!(c.id(), Some("abcdefghijkl"));
            let reparsed: Value = serde_json::from_str(&c.to_json_string()).unwrap();
            assert_eq!(reparsed, expected, "{text}");
        }
    }

    #[test]
    fn text_and_map_cleartexts_compare_by_content() {
        let text = Cleartext::from_json_str(r#"{"b":2,"a":1}"#).unwrap();
        let map = Cleartext::from(json!({"a": 1, "b": 2}).as_object().unwrap().clone());
        assert_eq!(text, map);
        let mut changed = text.clone();
        changed.as_map_mut().insert("c".into(), json!(3));
        assert_ne!(changed, text);
        assert_eq!(
            serde_json::from_str::<Value>(&changed.to_json_string()).unwrap(),
            json!({"a": 1, "b": 2, "c": 3})
        );
        assert_eq!(text.into_map().len(), 2);
    }
}
