//! The `info/*` documents.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::timestamp::ServerTimestamp;

/// `info/collections`: every collection's last-modified time. The cheapest
/// way to learn that nothing changed: one request for the whole account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InfoCollections(HashMap<String, ServerTimestamp>);

impl InfoCollections {
    /// From (collection, timestamp) pairs.
    pub fn new(entries: impl IntoIterator<Item = (String, ServerTimestamp)>) -> Self {
        InfoCollections(entries.into_iter().collect())
    }

    /// The collection's last-modified time, or `None` if it does not exist.
    pub fn get(&self, collection: &str) -> Option<ServerTimestamp> {
        self.0.get(collection).copied()
    }

    /// Every (collection, timestamp).
    pub fn iter(&self) -> impl Iterator<Item = (&str, ServerTimestamp)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// How many collections exist.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the account has no collections at all (a fresh server).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `info/configuration`: the server's limits. A field the server leaves out
/// takes the value an unconfigured server is assumed to enforce:
///
/// | field | default |
/// |---|---|
/// | `max_request_bytes` | 260 KiB |
/// | `max_record_payload_bytes` | 256 KiB (the protocol's BSO payload limit) |
/// | `max_post_records` | 100 (the protocol's documented default per POST) |
/// | `max_post_bytes`, `max_total_records`, `max_total_bytes` | unlimited |
///
/// The uploader never exceeds any of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfoConfiguration {
    /// Largest HTTP request body, in bytes.
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: usize,
    /// Most records in one POST.
    #[serde(default = "default_max_post_records")]
    pub max_post_records: usize,
    /// Most payload bytes (sum of `payload` lengths) in one POST.
    #[serde(default = "unlimited")]
    pub max_post_bytes: usize,
    /// Most records in one batch (across its POSTs).
    #[serde(default = "unlimited")]
    pub max_total_records: usize,
    /// Most payload bytes in one batch.
    #[serde(default = "unlimited")]
    pub max_total_bytes: usize,
    /// Largest single `payload`, in bytes.
    #[serde(default = "default_max_record_payload_bytes")]
    pub max_record_payload_bytes: usize,
}

fn default_max_request_bytes() -> usize {
    260 * 1024
}
fn default_max_record_payload_bytes() -> usize {
    256 * 1024
}
fn default_max_post_records() -> usize {
    100
}
fn unlimited() -> usize {
    usize::MAX
}

impl Default for InfoConfiguration {
    fn default() -> Self {
        InfoConfiguration {
            max_request_bytes: default_max_request_bytes(),
            max_post_records: default_max_post_records(),
            max_post_bytes: unlimited(),
            max_total_records: unlimited(),
            max_total_bytes: unlimited(),
            max_record_payload_bytes: default_max_record_payload_bytes(),
        }
    }
}

/// `info/quota`: `[usage, quota]` in KB; `quota` is `None` where the server
/// enforces none.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "(f64, Option<f64>)", into = "(f64, Option<f64>)")]
pub struct InfoQuota {
    /// KB in use (may be approximate).
    pub usage_kb: f64,
    /// KB allowed, if limited.
    pub quota_kb: Option<f64>,
}

impl From<(f64, Option<f64>)> for InfoQuota {
    fn from((usage_kb, quota_kb): (f64, Option<f64>)) -> Self {
        InfoQuota { usage_kb, quota_kb }
    }
}
impl From<InfoQuota> for (f64, Option<f64>) {
    fn from(q: InfoQuota) -> Self {
        (q.usage_kb, q.quota_kb)
    }
}

/// `info/collection_usage`: KB used per collection.
pub type InfoCollectionUsage = HashMap<String, f64>;

/// `info/collection_counts`: records per collection.
pub type InfoCollectionCounts = HashMap<String, u64>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_collections_parse() {
        let ic: InfoCollections =
            serde_json::from_str(r#"{"bookmarks":1700000000.12,"meta":1700000000,"crypto":1.5}"#).unwrap();
        assert_eq!(ic.len(), 3);
        assert_eq!(ic.get("bookmarks").unwrap().as_millis(), 1_700_000_000_120);
        assert_eq!(ic.get("meta").unwrap().as_millis(), 1_700_000_000_000);
        assert_eq!(ic.get("history"), None);
        assert!(serde_json::from_str::<InfoCollections>(r#"{"a":"soon"}"#).is_err());
        assert!(serde_json::from_str::<InfoCollections>("[]").is_err());
        assert!(InfoCollections::default().is_empty());
    }

    #[test]
    fn configuration_defaults_when_fields_are_absent() {
        let empty: InfoConfiguration = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, InfoConfiguration::default());
        assert_eq!(empty.max_request_bytes, 260 * 1024);
        assert_eq!(empty.max_record_payload_bytes, 256 * 1024);
        assert_eq!(empty.max_post_records, 100);
        assert_eq!(empty.max_total_bytes, usize::MAX);

        let partial: InfoConfiguration = serde_json::from_str(
            r#"{"max_post_records":50,"max_total_records":1000,"max_request_bytes":2101248,"max_quota_limit":1}"#,
        )
        .unwrap();
        assert_eq!(partial.max_post_records, 50);
        assert_eq!(partial.max_total_records, 1000);
        assert_eq!(partial.max_request_bytes, 2_101_248);
        assert_eq!(partial.max_post_bytes, usize::MAX);
        assert!(serde_json::from_str::<InfoConfiguration>(r#"{"max_post_records":-1}"#).is_err());
    }

    #[test]
    fn quota_is_a_pair() {
        let q: InfoQuota = serde_json::from_str("[2.5, null]").unwrap();
        assert_eq!(
            q,
            InfoQuota {
                usage_kb: 2.5,
                quota_kb: None
            }
        );
        let q: InfoQuota = serde_json::from_str("[100, 2500000]").unwrap();
        assert_eq!(q.quota_kb, Some(2_500_000.0));
        assert_eq!(serde_json::to_string(&q).unwrap(), "[100.0,2500000.0]");
        assert!(serde_json::from_str::<InfoQuota>("{}").is_err());
    }

    #[test]
    fn usage_and_counts() {
        let usage: InfoCollectionUsage = serde_json::from_str(r#"{"history":12.75}"#).unwrap();
        assert_eq!(usage["history"], 12.75);
        let counts: InfoCollectionCounts = serde_json::from_str(r#"{"history":1200}"#).unwrap();
        assert_eq!(counts["history"], 1200);
    }
}
