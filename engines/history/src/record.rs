//! The Firefox `history` record (DESIGN §5).

use serde::{Deserialize, Serialize};
use sync15::{Guid, UnknownFields};

/// History records expire after 60 days on the server.
pub const HISTORY_TTL_SECS: u32 = 60 * 24 * 3600;
/// At most this many visits (the newest) go out per page.
pub const MAX_VISITS_PER_RECORD: usize = 20;

/// A `history` record's cleartext: one page and its recent visits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRecord {
    /// The page's id.
    pub id: Guid,
    /// The page's URL.
    #[serde(rename = "histUri")]
    pub hist_uri: String,
    /// Its title.
    #[serde(default)]
    pub title: String,
    /// Its visits, newest first.
    #[serde(default)]
    pub visits: Vec<HistoryRecordVisit>,
    /// Fields this code does not know, kept.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// One visit in a [`HistoryRecord`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRecordVisit {
    /// When, in microseconds since the epoch.
    #[serde(default)]
    pub date: i64,
    /// The transition type (1–9; others are dropped on arrival).
    #[serde(rename = "type", default)]
    pub transition: i64,
    /// Fields this code does not know, kept.
    #[serde(flatten)]
    pub unknown: UnknownFields,
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
    }
}
