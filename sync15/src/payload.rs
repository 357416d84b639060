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

use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::guid::Guid;

/// Fields of a record this code does not understand, kept to be sent back.
pub type UnknownFields = Map<String, Value>;

/// The cleartext of a record: a JSON object, normally with an `id`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cleartext(Map<String, Value>);

impl Cleartext {
    /// Parses JSON bytes, which must hold an object.
    pub fn from_json_slice(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice::<Map<String, Value>>(bytes).map(Cleartext)
    }

    /// Parses JSON text, which must hold an object.
    pub fn from_json_str(text: &str) -> Result<Self, serde_json::Error> {
        Self::from_json_slice(text.as_bytes())
    }

    /// Serializes any record that serializes to a JSON object.
    pub fn from_content<T: Serialize + ?Sized>(content: &T) -> Result<Self, serde_json::Error> {
        match serde_json::to_value(content)? {
            Value::Object(map) => Ok(Cleartext(map)),
            other => Err(serde::ser::Error::custom(format!(
                "a record must serialize to a JSON object, not {}",
                json_kind(&other)
            ))),
        }
    }

    /// `{"id": …, "deleted": true}`: the record for a deletion.
    pub fn tombstone(id: &Guid) -> Self {
        let mut map = Map::with_capacity(2);
        map.insert("id".into(), Value::String(id.to_string()));
        map.insert("deleted".into(), Value::Bool(true));
        Cleartext(map)
    }

    /// The `id` field, if present and a string.
    pub fn id(&self) -> Option<&str> {
        self.0.get("id").and_then(Value::as_str)
    }

    pub(crate) fn id_value(&self) -> Option<&Value> {
        self.0.get("id")
    }

    pub(crate) fn set_id(&mut self, id: &Guid) {
        self.0.insert("id".into(), Value::String(id.to_string()));
    }

    /// Whether this is a tombstone (`"deleted": true`).
    pub fn is_tombstone(&self) -> bool {
        matches!(self.0.get("deleted"), Some(Value::Bool(true)))
    }

    /// Decodes into an engine's record type.
    pub fn into_content<T: DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        serde_json::from_value(Value::Object(self.0))
    }

    /// The fields, to read.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The fields, to change.
    pub fn as_map_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.0
    }

    /// The fields, owned.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    /// The JSON text of the object.
    pub fn to_json_string(&self) -> String {
        // A map of JSON values always serializes.
        serde_json::to_string(&self.0).unwrap_or_default()
    }

    /// The JSON bytes of the object.
    pub fn to_json_vec(&self) -> Vec<u8> {
        // Records are typically a few hundred bytes to a few KiB: start big
        // enough that most never reallocate while serializing.
        let mut out = Vec::with_capacity(1024);
        match serde_json::to_writer(&mut out, &self.0) {
            Ok(()) => out,
            Err(_) => Vec::new(),
        }
    }
}

impl From<Map<String, Value>> for Cleartext {
    fn from(map: Map<String, Value>) -> Self {
        Cleartext(map)
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
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
}
