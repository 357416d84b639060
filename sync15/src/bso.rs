//! BSOs ("basic storage objects"): what the server stores, and the decrypted
//! records engines work with.
//!
//! | direction | on the wire (payload is a string) | decrypted (payload is JSON) |
//! |---|---|---|
//! | download | [`IncomingBso`] | [`IncomingRecord`] → [`IncomingContent<T>`] |
//! | upload   | [`OutgoingBso`] | [`OutgoingRecord`] |
//!
//! [`KeyBundle::decrypt`](crate::KeyBundle::decrypt) turns the left column
//! into the right for downloads; [`KeyBundle::encrypt`](crate::KeyBundle::encrypt)
//! does the reverse for uploads. `meta/global` is the one record stored as
//! cleartext; see [`IncomingBso::into_cleartext_record`] and
//! [`OutgoingRecord::into_cleartext_bso`].

use serde::{Deserialize, Deserializer, Serialize, Serializer, de::DeserializeOwned};

use crate::error::Error;
use crate::guid::Guid;
use crate::payload::Cleartext;
use crate::timestamp::ServerTimestamp;

/// The server-side fields of a downloaded BSO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingEnvelope {
    /// The record id.
    pub id: Guid,
    /// When the server last stored it.
    pub modified: ServerTimestamp,
    /// The record's weight for `sort=index`, if it has one.
    pub sortindex: Option<i32>,
    /// Seconds to live, if the server reports one (most do not).
    pub ttl: Option<u32>,
}

impl IncomingEnvelope {
    /// An envelope with no sortindex or ttl.
    pub fn new(id: Guid, modified: ServerTimestamp) -> Self {
        IncomingEnvelope {
            id,
            modified,
            sortindex: None,
            ttl: None,
        }
    }
}

/// A BSO as the server returns it. For encrypted collections the payload is
/// the JSON text of an [`EncryptedPayload`](crate::EncryptedPayload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingBso {
    /// id, modified, sortindex, ttl.
    pub envelope: IncomingEnvelope,
    /// The payload string, exactly as stored.
    pub payload: String,
}

#[derive(Deserialize)]
struct IncomingWire {
    id: Guid,
    // A server always sends `modified` and `payload` for full records; one
    // without them is a broken answer, not an empty record from 1970.
    modified: ServerTimestamp,
    #[serde(default)]
    sortindex: Option<i32>,
    #[serde(default)]
    ttl: Option<u32>,
    payload: String,
}

impl<'de> Deserialize<'de> for IncomingBso {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let w = IncomingWire::deserialize(deserializer)?;
        Ok(IncomingBso {
            envelope: IncomingEnvelope {
                id: w.id,
                modified: w.modified,
                sortindex: w.sortindex,
                ttl: w.ttl,
            },
            payload: w.payload,
        })
    }
}

impl Serialize for IncomingBso {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            id: &'a Guid,
            modified: ServerTimestamp,
            #[serde(skip_serializing_if = "Option::is_none")]
            sortindex: Option<i32>,
            #[serde(skip_serializing_if = "Option::is_none")]
            ttl: Option<u32>,
            payload: &'a str,
        }
        Wire {
            id: &self.envelope.id,
            modified: self.envelope.modified,
            sortindex: self.envelope.sortindex,
            ttl: self.envelope.ttl,
            payload: &self.payload,
        }
        .serialize(serializer)
    }
}

impl IncomingBso {
    /// For the one unencrypted record (`meta/global`): parses the payload
    /// string as the record's cleartext.
    pub fn into_cleartext_record(self) -> Result<IncomingRecord, Error> {
        let cleartext =
            Cleartext::from_json_str(&self.payload).map_err(|source| Error::MalformedPayload {
                id: self.envelope.id.clone(),
                source,
            })?;
        IncomingRecord::new(self.envelope, cleartext)
    }
}

/// The fields of a BSO the client sets on upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEnvelope {
    /// The record id.
    pub id: Guid,
    /// Weight for `sort=index` (history: frecency; bookmark folders: 1,000,000).
    pub sortindex: Option<i32>,
    /// Seconds until the server may drop the record (clients, tabs: 180
    /// days; history: 60 days).
    pub ttl: Option<u32>,
}

impl OutgoingEnvelope {
    /// An envelope with no sortindex and no ttl.
    pub fn new(id: Guid) -> Self {
        OutgoingEnvelope {
            id,
            sortindex: None,
            ttl: None,
        }
    }

    /// Sets the sortindex.
    pub fn with_sortindex(mut self, sortindex: i32) -> Self {
        self.sortindex = Some(sortindex);
        self
    }

    /// Sets the ttl, in seconds.
    pub fn with_ttl(mut self, ttl_seconds: u32) -> Self {
        self.ttl = Some(ttl_seconds);
        self
    }
}

/// A BSO ready to upload: `{"id", "sortindex"?, "ttl"?, "payload"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingBso {
    /// id, sortindex, ttl.
    pub envelope: OutgoingEnvelope,
    /// The payload string (encrypted JSON for every collection but `meta`).
    pub payload: String,
}

impl Serialize for OutgoingBso {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            id: &'a Guid,
            #[serde(skip_serializing_if = "Option::is_none")]
            sortindex: Option<i32>,
            #[serde(skip_serializing_if = "Option::is_none")]
            ttl: Option<u32>,
            payload: &'a str,
        }
        Wire {
            id: &self.envelope.id,
            sortindex: self.envelope.sortindex,
            ttl: self.envelope.ttl,
            payload: &self.payload,
        }
        .serialize(serializer)
    }
}

impl OutgoingBso {
    /// What the server would hand back once it stored this BSO at `modified`.
    /// For tests and fakes that stand in for a server.
    pub fn into_incoming(self, modified: ServerTimestamp) -> IncomingBso {
        IncomingBso {
            envelope: IncomingEnvelope {
                id: self.envelope.id,
                modified,
                sortindex: self.envelope.sortindex,
                ttl: self.envelope.ttl,
            },
            payload: self.payload,
        }
    }
}

/// Makes `cleartext` carry the BSO's `id`: fills it in when absent, and
/// refuses a cleartext that names another id (or a non-string one).
fn claim_id(cleartext: &mut Cleartext, id: &Guid) -> Result<(), Error> {
    match cleartext.id_value() {
        None => cleartext.set_id(id),
        Some(serde_json::Value::String(own)) if *own == **id => {}
        Some(other) => {
            return Err(Error::RecordIdMismatch {
                bso_id: id.clone(),
                payload_id: other.to_string(),
            });
        }
    }
    Ok(())
}

/// A downloaded record after decryption: the envelope and the cleartext,
/// whose `id` is guaranteed to equal the envelope's.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingRecord {
    /// The server-side fields.
    pub envelope: IncomingEnvelope,
    /// The decrypted JSON object.
    pub cleartext: Cleartext,
}

impl IncomingRecord {
    /// Pairs an envelope with its cleartext. Fails with
    /// [`Error::RecordIdMismatch`] if the cleartext names another id (a
    /// record moved or forged under a different id); fills the id in if the
    /// cleartext has none.
    pub fn new(envelope: IncomingEnvelope, mut cleartext: Cleartext) -> Result<Self, Error> {
        claim_id(&mut cleartext, &envelope.id)?;
        Ok(IncomingRecord { envelope, cleartext })
    }

    /// Whether the record is a tombstone.
    pub fn is_tombstone(&self) -> bool {
        self.cleartext.is_tombstone()
    }

    /// Decodes the cleartext into an engine's record type, telling
    /// tombstones and undecodable records apart from content.
    pub fn into_content<T: DeserializeOwned>(self) -> IncomingContent<T> {
        let kind = if self.cleartext.is_tombstone() {
            IncomingKind::Tombstone
        } else {
            match self.cleartext.into_content() {
                Ok(content) => IncomingKind::Content(content),
                Err(e) => IncomingKind::Malformed(e),
            }
        };
        IncomingContent {
            envelope: self.envelope,
            kind,
        }
    }
}

/// An incoming record decoded for an engine.
#[derive(Debug)]
pub struct IncomingContent<T> {
    /// The server-side fields.
    pub envelope: IncomingEnvelope,
    /// What the record turned out to be.
    pub kind: IncomingKind<T>,
}

/// What an incoming record holds.
#[derive(Debug)]
pub enum IncomingKind<T> {
    /// A record that decoded into `T`.
    Content(T),
    /// A deletion.
    Tombstone,
    /// A record that does not decode into `T`; engines count and skip these.
    Malformed(serde_json::Error),
}

/// A record an engine wants uploaded, before encryption.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingRecord {
    /// id, sortindex, ttl.
    pub envelope: OutgoingEnvelope,
    /// The JSON object to encrypt; its `id` equals the envelope's.
    pub cleartext: Cleartext,
}

impl OutgoingRecord {
    /// Serializes an engine's record. The record's `id` field, if it has one,
    /// must equal the envelope's; if it has none, the envelope's is added.
    pub fn from_content<T: Serialize + ?Sized>(
        envelope: OutgoingEnvelope,
        content: &T,
    ) -> Result<Self, Error> {
        let mut cleartext = Cleartext::from_content(content).map_err(|source| Error::Serialize {
            id: envelope.id.clone(),
            source,
        })?;
        claim_id(&mut cleartext, &envelope.id)?;
        Ok(OutgoingRecord { envelope, cleartext })
    }

    /// A tombstone for `id`.
    pub fn tombstone(id: Guid) -> Self {
        OutgoingRecord {
            cleartext: Cleartext::tombstone(&id),
            envelope: OutgoingEnvelope::new(id),
        }
    }

    /// For the one unencrypted record (`meta/global`): the cleartext JSON
    /// becomes the payload string as is.
    pub fn into_cleartext_bso(self) -> OutgoingBso {
        OutgoingBso {
            payload: self.cleartext.to_json_string(),
            envelope: self.envelope,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn incoming_bso_parses_the_server_shape() {
        let text = r#"{"id":"-F_Szdjg3GzY","modified":1388635807.41,"sortindex":140,"payload":"{ \"this is\": \"an example\" }"}"#;
        let bso: IncomingBso = serde_json::from_str(text).unwrap();
        assert_eq!(bso.envelope.id, "-F_Szdjg3GzY");
        assert_eq!(bso.envelope.modified.as_millis(), 1_388_635_807_410);
        assert_eq!(bso.envelope.sortindex, Some(140));
        assert_eq!(bso.envelope.ttl, None);
        assert_eq!(bso.payload, r#"{ "this is": "an example" }"#);
        let again: IncomingBso = serde_json::from_str(&serde_json::to_string(&bso).unwrap()).unwrap();
        assert_eq!(again, bso);
    }

    #[test]
    fn incoming_bso_requires_id_modified_and_payload() {
        let bso: IncomingBso = serde_json::from_str(r#"{"id":"x","modified":1.5,"payload":""}"#).unwrap();
        assert_eq!(bso.payload, "");
        assert_eq!(bso.envelope.sortindex, None);
        assert_eq!(bso.envelope.ttl, None);
        for broken in [
            r#"{"id":"x"}"#,
            r#"{"id":"x","payload":"p"}"#,
            r#"{"id":"x","modified":1}"#,
            r#"{"payload":"x","modified":1}"#,
            r#"{"id":"x","modified":1,"payload":"p","sortindex":"high"}"#,
            r#"{"id":"x","modified":1,"payload":"p","ttl":-1}"#,
            r#"{"id":"x","modified":1,"payload":7}"#,
        ] {
            assert!(serde_json::from_str::<IncomingBso>(broken).is_err(), "{broken}");
        }
    }

    #[test]
    fn outgoing_bso_omits_absent_fields() {
        let plain = OutgoingBso {
            envelope: OutgoingEnvelope::new(Guid::new("abc")),
            payload: "{}".into(),
        };
        assert_eq!(
            serde_json::to_string(&plain).unwrap(),
            r#"{"id":"abc","payload":"{}"}"#
        );
        let full = OutgoingBso {
            envelope: OutgoingEnvelope::new(Guid::new("abc"))
                .with_sortindex(-1)
                .with_ttl(5_184_000),
            payload: "{}".into(),
        };
        assert_eq!(
            serde_json::to_string(&full).unwrap(),
            r#"{"id":"abc","sortindex":-1,"ttl":5184000,"payload":"{}"}"#
        );
    }

    #[test]
    fn incoming_record_checks_the_id() {
        let env = IncomingEnvelope::new(Guid::new("aaaaaaaaaaaa"), ServerTimestamp::ZERO);
        let ok = Cleartext::from_content(&json!({"id": "aaaaaaaaaaaa", "x": 1})).unwrap();
        assert!(IncomingRecord::new(env.clone(), ok).is_ok());

        let missing = Cleartext::from_content(&json!({"x": 1})).unwrap();
        let filled = IncomingRecord::new(env.clone(), missing).unwrap();
        assert_eq!(filled.cleartext.id(), Some("aaaaaaaaaaaa"));

        let other = Cleartext::from_content(&json!({"id": "bbbbbbbbbbbb"})).unwrap();
        match IncomingRecord::new(env.clone(), other) {
            Err(Error::RecordIdMismatch { bso_id, payload_id }) => {
                assert_eq!(bso_id, "aaaaaaaaaaaa");
                assert_eq!(payload_id, "\"bbbbbbbbbbbb\"");
            }
            r => panic!("{r:?}"),
        }
        let numeric = Cleartext::from_content(&json!({"id": 12})).unwrap();
        assert!(matches!(
            IncomingRecord::new(env, numeric),
            Err(Error::RecordIdMismatch { .. })
        ));
    }

    #[test]
    fn into_content_sorts_records_tombstones_and_malformed() {
        #[derive(Debug, Deserialize)]
        struct R {
            #[allow(dead_code)]
            title: String,
        }
        let env = IncomingEnvelope::new(Guid::new("aaaaaaaaaaaa"), ServerTimestamp::ZERO);
        let rec = |v: serde_json::Value| {
            IncomingRecord::new(env.clone(), Cleartext::from_content(&v).unwrap()).unwrap()
        };
        assert!(matches!(
            rec(json!({"title": "t"})).into_content::<R>().kind,
            IncomingKind::Content(_)
        ));
        assert!(matches!(
            rec(json!({"deleted": true})).into_content::<R>().kind,
            IncomingKind::Tombstone
        ));
        assert!(matches!(
            rec(json!({"title": 5})).into_content::<R>().kind,
            IncomingKind::Malformed(_)
        ));
    }

    #[test]
    fn outgoing_record_checks_the_id() {
        let env = OutgoingEnvelope::new(Guid::new("aaaaaaaaaaaa"));
        let r = OutgoingRecord::from_content(env.clone(), &json!({"title": "t"})).unwrap();
        assert_eq!(r.cleartext.id(), Some("aaaaaaaaaaaa"));
        assert!(matches!(
            OutgoingRecord::from_content(env.clone(), &json!({"id": "zzz"})),
            Err(Error::RecordIdMismatch { .. })
        ));
        assert!(matches!(
            OutgoingRecord::from_content(env, &json!([1])),
            Err(Error::Serialize { .. })
        ));
        let t = OutgoingRecord::tombstone(Guid::new("aaaaaaaaaaaa"));
        assert!(t.cleartext.is_tombstone());
    }

    #[test]
    fn cleartext_bsos_for_meta_global() {
        let rec = OutgoingRecord::from_content(
            OutgoingEnvelope::new(Guid::new("global")),
            &json!({"syncID": "abcdefghijkl", "storageVersion": 5}),
        )
        .unwrap();
        let bso = rec.clone().into_cleartext_bso();
        assert!(bso.payload.contains("\"storageVersion\":5"));
        let back = bso
            .into_incoming(ServerTimestamp::from_millis(10))
            .into_cleartext_record()
            .unwrap();
        assert_eq!(back.cleartext, rec.cleartext);
        let bad = IncomingBso {
            envelope: IncomingEnvelope::new(Guid::new("global"), ServerTimestamp::ZERO),
            payload: "not json".into(),
        };
        assert!(matches!(
            bad.into_cleartext_record(),
            Err(Error::MalformedPayload { .. })
        ));
    }
}
