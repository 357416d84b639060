//! The Firefox `history` record (DESIGN §5).
//!
//! Decoding is written out by hand rather than derived: a first sync decodes
//! millions of visits, and serde's `flatten` (for the unknown fields) would
//! buffer every one of them in an intermediate tree first. These visitors
//! read each field straight from the JSON text and only build values for
//! fields they do not know.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use sync15::{Guid, UnknownFields};

/// History records expire after 60 days on the server.
pub const HISTORY_TTL_SECS: u32 = 60 * 24 * 3600;
/// At most this many visits (the newest) go out per page.
pub const MAX_VISITS_PER_RECORD: usize = 20;

/// A `history` record's cleartext: one page and its recent visits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryRecord {
    /// The page's id.
    pub id: Guid,
    /// The page's URL.
    #[serde(rename = "histUri")]
    pub hist_uri: String,
    /// Its title (`null` or absent read as empty).
    pub title: String,
    /// Its visits, newest first (`null` or absent read as none).
    pub visits: Vec<HistoryRecordVisit>,
    /// Fields this code does not know, kept.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// One visit in a [`HistoryRecord`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryRecordVisit {
    /// When, in microseconds since the epoch (absent: 0).
    pub date: i64,
    /// The transition type (1–9; others are dropped on arrival; absent: 0).
    #[serde(rename = "type")]
    pub transition: i64,
    /// Fields this code does not know, kept.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// A field name: the index of one the visitor knows (read without
/// allocating), or another, copied out for the unknown fields.
enum Key {
    Known(usize),
    Other(String),
}

struct KeySeed(&'static [&'static str]);

impl<'de> de::DeserializeSeed<'de> for KeySeed {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        Ok(match self.0.iter().position(|k| *k == key) {
            Some(i) => Key::Known(i),
            None => Key::Other(key.to_owned()),
        })
    }
}

/// Reads an object's fields, handing known ones to `known` and keeping the
/// rest; a known field given twice is an error, as with derived decoders.
fn read_fields<'de, A: MapAccess<'de>>(
    mut map: A,
    names: &'static [&'static str],
    mut known: impl FnMut(usize, &mut A) -> Result<(), A::Error>,
) -> Result<UnknownFields, A::Error> {
    let mut seen = 0u32;
    let mut unknown = UnknownFields::new();
    while let Some(key) = map.next_key_seed(KeySeed(names))? {
        match key {
            Key::Known(i) => {
                if seen & (1 << i) != 0 {
                    return Err(de::Error::duplicate_field(names[i]));
                }
                seen |= 1 << i;
                known(i, &mut map)?;
            }
            Key::Other(name) => {
                let value: Value = map.next_value()?;
                unknown.insert(name, value);
            }
        }
    }
    Ok(unknown)
}

impl<'de> Deserialize<'de> for HistoryRecordVisit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct VisitVisitor;
        impl<'de> Visitor<'de> for VisitVisitor {
            type Value = HistoryRecordVisit;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a history visit object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                const NAMES: &[&str] = &["date", "type"];
                let (mut date, mut transition) = (0, 0);
                let unknown = read_fields(map, NAMES, |i, map| {
                    match i {
                        0 => date = map.next_value()?,
                        _ => transition = map.next_value()?,
                    }
                    Ok(())
                })?;
                Ok(HistoryRecordVisit {
                    date,
                    transition,
                    unknown,
                })
            }
        }
        deserializer.deserialize_map(VisitVisitor)
    }
}

impl<'de> Deserialize<'de> for HistoryRecord {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RecordVisitor;
        impl<'de> Visitor<'de> for RecordVisitor {
            type Value = HistoryRecord;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a history record object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                const NAMES: &[&str] = &["id", "histUri", "title", "visits"];
                let (mut id, mut hist_uri) = (None::<Guid>, None::<String>);
                let (mut title, mut visits) = (String::new(), Vec::new());
                let unknown = read_fields(map, NAMES, |i, map| {
                    match i {
                        0 => id = Some(map.next_value()?),
                        1 => hist_uri = Some(map.next_value()?),
                        2 => title = map.next_value::<Option<String>>()?.unwrap_or_default(),
                        _ => visits = map.next_value::<Option<Vec<_>>>()?.unwrap_or_default(),
                    }
                    Ok(())
                })?;
                Ok(HistoryRecord {
                    id: id.ok_or_else(|| de::Error::missing_field("id"))?,
                    hist_uri: hist_uri.ok_or_else(|| de::Error::missing_field("histUri"))?,
                    title,
                    visits,
                    unknown,
                })
            }
        }
        deserializer.deserialize_map(RecordVisitor)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn a_golden_record_round_trips_without_losing_a_field() {
        let golden = json!({
            "id": "Wx9ekkXZ2Rlo",
            "histUri": "https://developer.mozilla.org/en-US/docs/Web/HTTP",
            "title": "HTTP | MDN",
            "visits": [
                {"date": 1700000000123456i64, "type": 2},
                {"date": 1699990000000000i64, "type": 1, "fromFuture": "x"}
            ],
            "newField": [1, 2]
        });
        let record: HistoryRecord = serde_json::from_value(golden.clone()).unwrap();
        assert_eq!(record.visits[1].unknown["fromFuture"], "x");
        assert_eq!(serde_json::to_value(&record).unwrap(), golden);
        let from_text: HistoryRecord = serde_json::from_str(&golden.to_string()).unwrap();
        assert_eq!(from_text, record);
    }

    #[test]
    fn lenient_where_firefox_is_and_strict_where_it_matters() {
        let minimal: HistoryRecord =
            serde_json::from_str(r#"{"id":"Wx9ekkXZ2Rlo","histUri":"https://a.example/","title":null}"#)
                .unwrap();
        assert_eq!(minimal.title, "");
        assert!(minimal.visits.is_empty());
        let visit: HistoryRecordVisit = serde_json::from_str(r#"{"type":3}"#).unwrap();
        assert_eq!((visit.date, visit.transition), (0, 3));
        for broken in [
            r#"{"histUri":"https://a.example/"}"#,
            r#"{"id":"Wx9ekkXZ2Rlo"}"#,
            r#"{"id":"Wx9ekkXZ2Rlo","histUri":"https://a.example/","histUri":"https://b.example/"}"#,
            r#"{"id":"Wx9ekkXZ2Rlo","histUri":"https://a.example/","visits":[{"date":"soon"}]}"#,
            r#"{"id":"Wx9ekkXZ2Rlo","histUri":"https://a.example/","visits":{}}"#,
            r#"[]"#,
        ] {
            assert!(serde_json::from_str::<HistoryRecord>(broken).is_err(), "{broken}");
        }
    }
}
