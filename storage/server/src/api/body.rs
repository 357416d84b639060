//! BSO bodies as clients send them: a POST's list (a JSON array, or one
//! object per line for `application/newlines`) and a PUT's object.
//!
//! A body is read straight into the fields a BSO may carry, each string
//! borrowed from the body unless it holds an escape, instead of into a JSON
//! tree (a map, its keys and every value allocated, then copied again into
//! the BSO). Each field is kept as the kind of JSON value it is, so that a
//! BSO with a field of the wrong kind is refused by itself ([`parse_bso`])
//! while the rest of its POST is stored, as before.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::error::{ApiError, code};
use super::params::valid_id;
use crate::db::BsoInput;

/// sortindex and ttl are at most nine digits.
const MAX_NINE_DIGITS: i64 = 999_999_999;

/// Why one BSO of a POST was refused (the `failed` reasons).
pub type Refusal = &'static str;

/// A field's JSON value, as far as a BSO needs to tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field<'a> {
    Text(Cow<'a, str>),
    Int(i64),
    Null,
    /// A fraction, a boolean, a list, an object, an integer past `i64`.
    Other,
}

/// One BSO of a body: the fields it may carry, and whether it was an
/// object at all and carried others. `modified` and `collection` are
/// accepted and ignored (the server sets them), as in Mozilla's server; a
/// key given twice keeps its last value, as a JSON object read into a map.
#[derive(Debug, Default)]
pub struct BsoFields<'a> {
    pub object: bool,
    pub id: Option<Field<'a>>,
    pub sortindex: Option<Field<'a>>,
    pub payload: Option<Field<'a>>,
    pub ttl: Option<Field<'a>>,
    pub unknown: bool,
}

impl BsoFields<'_> {
    /// The BSO's id when it is a string.
    pub fn id(&self) -> Option<&str> {
        match &self.id {
            Some(Field::Text(id)) => Some(id),
            _ => None,
        }
    }
}

/// Validates one BSO. `path_id` is the id in a PUT's URL. The payload is
/// moved out of `fields` (a payload holds escapes — it is JSON inside a
/// JSON string — so reading it already made it an owned string); the id
/// stays, for the caller to name a refused BSO by.
pub fn parse_bso(
    fields: &mut BsoFields<'_>,
    path_id: Option<&str>,
    max_payload: u64,
) -> Result<BsoInput, Refusal> {
    if !fields.object {
        return Err("invalid bso");
    }
    if fields.unknown {
        return Err("unknown field");
    }
    let id = match (&fields.id, path_id) {
        (Some(Field::Text(id)), Some(path)) if id != path => return Err("id does not match the URL"),
        (Some(Field::Text(id)), _) => id.as_ref().to_owned(),
        (None, Some(path)) => path.to_owned(),
        _ => return Err("invalid id"),
    };
    if !valid_id(&id) {
        return Err("invalid id");
    }
    let nine_digits = |field: &Option<Field<'_>>, min: i64, refusal: Refusal| match field {
        None => Ok(None),
        Some(Field::Null) => Ok(Some(None)),
        Some(Field::Int(n)) if (min..=MAX_NINE_DIGITS).contains(n) => Ok(Some(Some(*n))),
        Some(_) => Err(refusal),
    };
    let sortindex = nine_digits(&fields.sortindex, -MAX_NINE_DIGITS, "invalid sortindex")?;
    let ttl = nine_digits(&fields.ttl, 0, "invalid ttl")?.map(|t| t.map(|t| t as u64));
    let payload = match fields.payload.take() {
        None => None,
        Some(Field::Null) => Some(String::new()),
        Some(Field::Text(p)) if p.len() as u64 > max_payload => return Err("payload too large"),
        Some(Field::Text(p)) => Some(p.into_owned()),
        Some(_) => return Err("invalid payload"),
    };
    Ok(BsoInput {
        id,
        sortindex,
        payload,
        ttl,
    })
}

/// The BSOs of a POST body: a JSON array, or one JSON object per line for
/// `application/newlines` (strictly: no blank lines, each line one object;
/// a final newline is optional; an empty body is no BSOs). Not JSON is code 6; JSON that is not a
/// list of objects, an object without a string id, or the same id twice
/// is code 8 — Mozilla's server refuses the last two the same way.
pub fn post_body<'a>(content_type: Option<&str>, body: &'a [u8]) -> Result<Vec<BsoFields<'a>>, ApiError> {
    let items: Vec<BsoFields<'a>> = match media_type(content_type).as_str() {
        "application/json" | "text/plain" | "" => serde_json::from_slice(body).map_err(not_bsos)?,
        // An empty body is no BSOs; any line, even a lone "\n", must be one
        // (Mozilla's extractor reads `body.lines()` and refuses a line that
        // is not JSON).
        "application/newlines" => {
            if body.is_empty() {
                Vec::new()
            } else {
                let body = body.strip_suffix(b"\n").unwrap_or(body);
                body.split(|b| *b == b'\n')
                    .map(|line| serde_json::from_slice(line).map_err(not_bsos))
                    .collect::<Result<_, _>>()?
            }
        }
        _ => return Err(ApiError::UnsupportedMediaType),
    };
    let mut ids = HashSet::with_capacity(items.len());
    for item in &items {
        match item.id() {
            Some(id) if item.object && ids.insert(id) => {}
            _ => return Err(ApiError::Code(code::INVALID_BSO)),
        }
    }
    Ok(items)
}

/// A PUT body: one JSON object (anything else that parses is code 8).
pub fn put_body<'a>(content_type: Option<&str>, body: &'a [u8]) -> Result<BsoFields<'a>, ApiError> {
    if !matches!(
        media_type(content_type).as_str(),
        "application/json" | "text/plain" | ""
    ) {
        return Err(ApiError::UnsupportedMediaType);
    }
    match serde_json::from_slice::<BsoFields<'a>>(body) {
        Ok(fields) if fields.object => Ok(fields),
        Ok(_) => Err(ApiError::Code(code::INVALID_BSO)),
        Err(e) => Err(not_bsos(e)),
    }
}

/// A body that did not read as BSOs: not JSON at all is code 6; JSON of
/// another shape (an object where a list was expected) code 8.
fn not_bsos(e: serde_json::Error) -> ApiError {
    match e.classify() {
        serde_json::error::Category::Data => ApiError::Code(code::INVALID_BSO),
        _ => ApiError::Code(code::MALFORMED_JSON),
    }
}

fn media_type(content_type: Option<&str>) -> String {
    content_type
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

impl<'de> Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl<'de> Visitor<'de> for FieldVisitor {
            type Value = Field<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Field::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Field::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Field::Text(Cow::Owned(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Field::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(i64::try_from(v).map_or(Field::Other, Field::Int))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Field::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Field::Other)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Field::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Field::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Field::Other)
            }
        }
        deserializer.deserialize_any(FieldVisitor)
    }
}

impl<'de> Deserialize<'de> for BsoFields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BsoVisitor;
        impl<'de> Visitor<'de> for BsoVisitor {
            type Value = BsoFields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a BSO")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut bso = BsoFields {
                    object: true,
                    ..BsoFields::default()
                };
                // A JSON key is always a string (`Field::Text`).
                while let Some(key) = map.next_key::<Field<'de>>()? {
                    let key = match &key {
                        Field::Text(key) => key.as_ref(),
                        _ => "",
                    };
                    let slot = match key {
                        "id" => &mut bso.id,
                        "sortindex" => &mut bso.sortindex,
                        "payload" => &mut bso.payload,
                        "ttl" => &mut bso.ttl,
                        other => {
                            bso.unknown |= !matches!(other, "modified" | "collection");
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    *slot = Some(map.next_value()?);
                }
                Ok(bso)
            }
            // Anything but an object is kept as "not a BSO", to be refused
            // as the caller's rules say.
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(BsoFields::default())
            }
            fn visit_borrowed_str<E>(self, _: &'de str) -> Result<Self::Value, E> {
                Ok(BsoFields::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(BsoFields::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(BsoFields::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(BsoFields::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(BsoFields::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(BsoFields::default())
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(BsoFields::default())
            }
        }
        deserializer.deserialize_any(BsoVisitor)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// `parse_bso` of `value` as a client would send it.
    fn check(value: serde_json::Value, path_id: Option<&str>, max_payload: u64) -> Result<BsoInput, Refusal> {
        let text = value.to_string();
        let mut fields: BsoFields<'_> = serde_json::from_str(&text).unwrap();
        parse_bso(&mut fields, path_id, max_payload)
    }

    #[test]
    fn bso_fields_are_validated() {
        let ok = check(
            json!({"id": "a", "payload": "p", "sortindex": -5, "ttl": 60}),
            None,
            10,
        )
        .unwrap();
        assert_eq!(ok.sortindex, Some(Some(-5)));
        assert_eq!(ok.ttl, Some(Some(60)));
        let partial = check(json!({"id": "a", "sortindex": null}), None, 10).unwrap();
        assert_eq!(partial.payload, None);
        assert_eq!(partial.sortindex, Some(None));
        let cases = [
            (json!("x"), "invalid bso"),
            (json!({"payload": "p"}), "invalid id"),
            (json!({"id": ""}), "invalid id"),
            (json!({"id": "é"}), "invalid id"),
            (json!({"id": "a".repeat(65)}), "invalid id"),
            (
                json!({"id": "a", "sortindex": 1_000_000_000}),
                "invalid sortindex",
            ),
            (json!({"id": "a", "sortindex": "1"}), "invalid sortindex"),
            (json!({"id": "a", "sortindex": 1.5}), "invalid sortindex"),
            (json!({"id": "a", "ttl": -1}), "invalid ttl"),
            (json!({"id": "a", "payload": 7}), "invalid payload"),
            (json!({"id": "a", "payload": "12345678901"}), "payload too large"),
            (
                json!({"id": "a", "payload": "p", "parentid": "x"}),
                "unknown field",
            ),
        ];
        for (value, reason) in cases {
            assert_eq!(check(value.clone(), None, 10), Err(reason), "{value}");
        }
        assert_eq!(
            check(json!({"id": "b"}), Some("a"), 10),
            Err("id does not match the URL")
        );
        assert_eq!(check(json!({}), Some("a"), 10).unwrap().id, "a");
        // What the server sets itself is accepted and ignored.
        assert!(check(json!({"id": "a", "modified": 1.5, "collection": "c"}), None, 10).is_ok());
    }

    #[test]
    fn bodies() {
        assert_eq!(post_body(None, b"[{\"id\":\"a\"}]").unwrap().len(), 1);
        let newlines = Some("application/newlines");
        assert_eq!(
            post_body(newlines, b"{\"id\":\"a\"}\n{\"id\":\"b\"}\n")
                .unwrap()
                .len(),
            2
        );
        assert_eq!(post_body(newlines, b"{\"id\":\"a\"}").unwrap().len(), 1);
        assert!(post_body(newlines, b"").unwrap().is_empty());
        // Strict: a blank line, or two objects on one line, is not JSON.
        for bad in [
            &b"{\"id\":\"a\"}\n\n{\"id\":\"b\"}\n"[..],
            b"{\"id\":\"a\"} {\"id\":\"b\"}\n",
        ] {
            assert!(matches!(post_body(newlines, bad), Err(ApiError::Code(6))));
        }
        assert!(matches!(post_body(newlines, b"[1]\n"), Err(ApiError::Code(8))));
        assert!(matches!(post_body(None, b"{}"), Err(ApiError::Code(8))));
        assert!(matches!(post_body(None, b"[1, 2]"), Err(ApiError::Code(8))));
        assert!(matches!(
            post_body(None, b"[{\"payload\":\"x\"}]"),
            Err(ApiError::Code(8))
        ));
        assert!(matches!(
            post_body(None, b"[{\"id\":\"a\"},{\"id\":\"a\"}]"),
            Err(ApiError::Code(8))
        ));
        assert!(matches!(post_body(None, b"[{"), Err(ApiError::Code(6))));
        assert!(matches!(
            post_body(Some("image/png"), b"[]"),
            Err(ApiError::UnsupportedMediaType)
        ));
        assert!(matches!(
            put_body(Some("application/json"), b"nope"),
            Err(ApiError::Code(6))
        ));
        assert!(matches!(put_body(None, b"[]"), Err(ApiError::Code(8))));
    }

    #[test]
    fn strings_with_escapes_are_read_as_json_says() {
        let body = br#"[{"id":"a\u00e9b","payload":"say \"hi\"\n"},{"id":"plain","payload":"p","sortindex":-999999999}]"#;
        let mut items = post_body(None, body).unwrap();
        assert_eq!(items[0].id(), Some("a\u{e9}b"));
        let input = parse_bso(&mut items[0], None, 100);
        assert_eq!(input, Err("invalid id"), "é is not an id character");
        let input = parse_bso(&mut items[1], None, 100).unwrap();
        assert_eq!(input.sortindex, Some(Some(-999_999_999)));
        let mut fields: BsoFields<'_> =
            serde_json::from_slice(br#"{"id":"x","payload":"say \"hi\"\n"}"#).unwrap();
        assert_eq!(
            parse_bso(&mut fields, None, 100).unwrap().payload.as_deref(),
            Some("say \"hi\"\n")
        );
        // The smallest i64 is no nine-digit sortindex (its absolute value overflows).
        let mut fields: BsoFields<'_> =
            serde_json::from_slice(br#"{"id":"x","sortindex":-9223372036854775808}"#).unwrap();
        assert_eq!(parse_bso(&mut fields, None, 100), Err("invalid sortindex"));
        let mut fields: BsoFields<'_> =
            serde_json::from_slice(br#"{"id":"x","ttl":18446744073709551615}"#).unwrap();
        assert_eq!(parse_bso(&mut fields, None, 100), Err("invalid ttl"));
        // A key with an escape is the key it spells.
        let mut fields: BsoFields<'_> = serde_json::from_slice(br#"{"id":"x","payl\u006fad":"p"}"#).unwrap();
        assert_eq!(
            parse_bso(&mut fields, None, 100).unwrap().payload.as_deref(),
            Some("p")
        );
        // A key given twice keeps its last value; nested values are skipped whole.
        let mut fields: BsoFields<'_> = serde_json::from_slice(
            br#"{"id":"x","payload":"first","payload":"last","modified":{"a":[1,{"b":2}]}}"#,
        )
        .unwrap();
        assert_eq!(
            parse_bso(&mut fields, None, 100).unwrap().payload.as_deref(),
            Some("last")
        );
    }
}
