//! The `tabs` record format (DESIGN §5), exactly as Firefox writes it.

use serde::{Deserialize, Deserializer, Serialize};
use sync15::{Guid, UnknownFields};

/// Tabs records expire after 180 days.
pub const TABS_TTL_SECS: u32 = 180 * 24 * 3600;

/// One device's open tabs: the record's id is the device's client id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TabsRecord {
    /// The device's client id.
    pub id: Guid,
    /// The device's name when it wrote the record.
    #[serde(rename = "clientName", default)]
    pub client_name: String,
    /// Most recently used first.
    #[serde(default)]
    pub tabs: Vec<TabsRecordTab>,
    /// Fields this code does not know, kept.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// One tab in a [`TabsRecord`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TabsRecordTab {
    /// The page title.
    #[serde(default)]
    pub title: String,
    /// The tab's back history, current URL first.
    #[serde(rename = "urlHistory", default)]
    pub url_history: Vec<String>,
    /// The favicon URL.
    #[serde(default)]
    pub icon: Option<String>,
    /// When the tab was last used, in **seconds** since the epoch. Firefox
    /// versions have written integers, floats and strings; all are read.
    #[serde(rename = "lastUsed", default, deserialize_with = "lenient_seconds")]
    pub last_used: i64,
    /// Whether the tab is one the browser considers inactive.
    #[serde(default)]
    pub inactive: bool,
    /// Whether the tab is pinned.
    #[serde(default)]
    pub pinned: bool,
    /// Fields this code does not know, kept.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// Reads an integer, a float, a numeric string, or null (as 0).
fn lenient_seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    use serde::de::Error;
    let value = serde_json::Value::deserialize(deserializer)?;
    let seconds = match &value {
        serde_json::Value::Null => Some(0.0),
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match seconds {
        Some(s) if s.is_finite() => Ok(s.max(0.0).min(i64::MAX as f64) as i64),
        _ => Err(D::Error::custom(format!("lastUsed is not a time: {value}"))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    /// A record as Firefox desktop writes it, plus a field from the future.
    fn golden() -> serde_json::Value {
        json!({
            "id": "XM8aFK_oYVqD",
            "clientName": "Firefox on laptop",
            "tabs": [
                {
                    "title": "Firefox Sync - Mozilla",
                    "urlHistory": ["https://www.mozilla.org/firefox/sync/", "https://www.mozilla.org/"],
                    "icon": "https://www.mozilla.org/media/img/favicons/firefox/favicon-196x196.png",
                    "lastUsed": 1700000123,
                    "inactive": false,
                    "pinned": true,
                    "groupId": "g-1"
                },
                {
                    "title": "Example",
                    "urlHistory": ["https://example.com/"],
                    "icon": null,
                    "lastUsed": 1699999000,
                    "inactive": true,
                    "pinned": false
                }
            ],
            "futureField": {"nested": [1, 2, 3]}
        })
    }

    #[test]
    fn the_golden_record_round_trips_without_losing_a_field() {
        let record: TabsRecord = serde_json::from_value(golden()).unwrap();
        assert_eq!(record.tabs[0].last_used, 1_700_000_123);
        assert_eq!(record.tabs[0].unknown["groupId"], "g-1");
        assert_eq!(serde_json::to_value(&record).unwrap(), golden());
    }

    #[test]
    fn last_used_is_read_from_integers_floats_and_strings() {
        for (raw, expected) in [
            (json!(1700000000), 1_700_000_000),
            (json!(1700000000.75), 1_700_000_000),
            (json!("1700000000"), 1_700_000_000),
            (json!("1700000000.5"), 1_700_000_000),
            (json!(null), 0),
        ] {
            let tab: TabsRecordTab =
                serde_json::from_value(json!({"title": "t", "urlHistory": ["https://a/"], "lastUsed": raw}))
                    .unwrap();
            assert_eq!(tab.last_used, expected);
        }
        let bad = serde_json::from_value::<TabsRecordTab>(json!({"urlHistory": [], "lastUsed": "soon"}));
        assert!(bad.is_err());
    }
}
