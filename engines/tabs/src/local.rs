//! This device's tabs: what the app sets, and how they become the record
//! other devices see — unsyncable URLs left out, most recent first, and cut
//! to fit the server's payload limit.

use serde::{Deserialize, Serialize};
use sync15::{Guid, OutgoingEnvelope, OutgoingRecord, UnknownFields, encrypted_payload_len};

use crate::TabsError;
use crate::record::{TABS_TTL_SECS, TabsRecord, TabsRecordTab};

/// Longest title sent; longer ones are cut (at a character boundary).
pub const MAX_TITLE_CHARS: usize = 512;

/// An open tab on this device, as the app describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalTab {
    /// The page title.
    pub title: String,
    /// The tab's URLs, current first (at least one).
    pub url_history: Vec<String>,
    /// The favicon URL.
    pub icon: Option<String>,
    /// When the tab was last used, in milliseconds since the epoch.
    pub last_used_ms: i64,
    /// Whether the tab is pinned.
    pub pinned: bool,
    /// Whether the browser considers the tab inactive.
    pub inactive: bool,
}

/// Which tabs are never synced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TabsConfig {
    /// URL schemes (without the colon, lower case) whose pages stay local.
    pub filtered_schemes: Vec<String>,
    /// URLs longer than this (in bytes) stay local.
    pub max_url_len: usize,
}

impl Default for TabsConfig {
    /// The schemes Firefox keeps out of synced tabs: browser-internal pages,
    /// local files, extension pages and script/data URLs.
    fn default() -> Self {
        TabsConfig {
            filtered_schemes: [
                "about",
                "resource",
                "chrome",
                "file",
                "blob",
                "moz-extension",
                "data",
                "javascript",
                "view-source",
                "wyciwyg",
                "place",
            ]
            .map(String::from)
            .to_vec(),
            max_url_len: 65_536,
        }
    }
}

impl TabsConfig {
    /// Whether `url` may leave this device.
    pub fn is_syncable(&self, url: &str) -> bool {
        if url.is_empty() || url.len() > self.max_url_len {
            return false;
        }
        match url.split_once(':') {
            Some((scheme, _)) => {
                let scheme = scheme.to_ascii_lowercase();
                !self.filtered_schemes.contains(&scheme)
            }
            None => false,
        }
    }
}

/// Refuses tabs the app should not have given us.
pub(crate) fn validate(tabs: &[LocalTab]) -> Result<(), TabsError> {
    for (i, tab) in tabs.iter().enumerate() {
        if tab.url_history.is_empty() {
            return Err(TabsError::InvalidTab(format!("tab {i} has no URL")));
        }
        if tab.last_used_ms < 0 {
            return Err(TabsError::InvalidTab(format!("tab {i} has a negative lastUsed")));
        }
    }
    Ok(())
}

/// The tabs that may be synced, most recently used first.
fn syncable_tabs(tabs: &[LocalTab], config: &TabsConfig) -> Vec<TabsRecordTab> {
    let mut out: Vec<TabsRecordTab> = tabs
        .iter()
        .filter(|tab| tab.url_history.first().is_some_and(|url| config.is_syncable(url)))
        .map(|tab| TabsRecordTab {
            title: tab.title.chars().take(MAX_TITLE_CHARS).collect(),
            url_history: tab
                .url_history
                .iter()
                .filter(|url| config.is_syncable(url))
                .cloned()
                .collect(),
            icon: tab.icon.clone().filter(|icon| config.is_syncable(icon)),
            last_used: tab.last_used_ms / 1000,
            inactive: tab.inactive,
            pinned: tab.pinned,
            unknown: UnknownFields::new(),
        })
        .collect();
    // Stable: tabs used in the same second keep the app's order.
    out.sort_by_key(|tab| std::cmp::Reverse(tab.last_used));
    out
}

/// This device's record: the syncable tabs, the oldest dropped until the
/// encrypted payload fits in `max_payload_bytes`. Returns the record and how
/// many tabs were dropped to make it fit.
pub(crate) fn own_record(
    id: &Guid,
    client_name: &str,
    tabs: &[LocalTab],
    unknown: UnknownFields,
    config: &TabsConfig,
    max_payload_bytes: usize,
) -> Result<(OutgoingRecord, usize), TabsError> {
    let all = syncable_tabs(tabs, config);
    let build = |count: usize| -> Result<OutgoingRecord, TabsError> {
        let record = TabsRecord {
            id: id.clone(),
            client_name: client_name.to_owned(),
            tabs: all[..count].to_vec(),
            unknown: unknown.clone(),
        };
        let envelope = OutgoingEnvelope::new(id.clone()).with_ttl(TABS_TTL_SECS);
        Ok(OutgoingRecord::from_content(envelope, &record)?)
    };
    let fits = |record: &OutgoingRecord| {
        encrypted_payload_len(record.cleartext.to_json_vec().len()) <= max_payload_bytes
    };
    let whole = build(all.len())?;
    if fits(&whole) {
        return Ok((whole, 0));
    }
    // Binary search for the most tabs that fit: payload size grows with count.
    let (mut lo, mut hi) = (0, all.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if fits(&build(mid)?) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let record = build(lo)?;
    if !fits(&record) {
        return Err(TabsError::InvalidTab(
            "even an empty tabs record is larger than the server allows".into(),
        ));
    }
    Ok((record, all.len() - lo))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn tab(url: &str, last_used_ms: i64) -> LocalTab {
        LocalTab {
            title: format!("title of {url}"),
            url_history: vec![url.to_owned()],
            icon: None,
            last_used_ms,
            pinned: false,
            inactive: false,
        }
    }

    fn record_tabs(record: &OutgoingRecord) -> Vec<TabsRecordTab> {
        let record: TabsRecord = record.cleartext.clone().into_content().unwrap();
        record.tabs
    }

    #[test]
    fn filtered_schemes_and_long_urls_stay_local() {
        let config = TabsConfig::default();
        let long = format!("https://example.com/{}", "a".repeat(70_000));
        let tabs = vec![
            tab("about:config", 1),
            tab("file:///etc/passwd", 2),
            tab("moz-extension://abc/page.html", 3),
            tab("ABOUT:blank", 4),
            tab(&long, 5),
            tab("https://kept.example/", 6000),
            LocalTab {
                url_history: vec!["https://current.example/".into(), "about:newtab".into()],
                ..tab("", 7000)
            },
        ];
        let (record, dropped) = own_record(
            &Guid::new("device123456"),
            "d",
            &tabs,
            UnknownFields::new(),
            &config,
            1 << 20,
        )
        .unwrap();
        assert_eq!(dropped, 0);
        assert_eq!(record.envelope.ttl, Some(TABS_TTL_SECS));
        let urls: Vec<Vec<String>> = record_tabs(&record).into_iter().map(|t| t.url_history).collect();
        assert_eq!(
            urls,
            vec![
                vec!["https://current.example/".to_owned()],
                vec!["https://kept.example/".to_owned()]
            ]
        );
    }

    #[test]
    fn oversize_lists_lose_their_oldest_tabs_and_fit() {
        let tabs: Vec<LocalTab> = (0..2000)
            .map(|i| {
                tab(
                    &format!("https://example.com/page/{i}/{}", "x".repeat(100)),
                    i * 1000,
                )
            })
            .collect();
        let max = 32 * 1024;
        let (record, dropped) = own_record(
            &Guid::new("device123456"),
            "d",
            &tabs,
            UnknownFields::new(),
            &TabsConfig::default(),
            max,
        )
        .unwrap();
        assert!(dropped > 0);
        let kept = record_tabs(&record);
        assert_eq!(kept.len() + dropped, 2000);
        assert_eq!(kept[0].last_used, 1999, "the newest tab is kept first");
        assert!(kept.windows(2).all(|w| w[0].last_used >= w[1].last_used));
        let payload = encrypted_payload_len(record.cleartext.to_json_vec().len());
        assert!(payload <= max);
        // The newest kept+1 tabs would not have fit.
        let newest: Vec<LocalTab> = tabs[2000 - kept.len() - 1..].to_vec();
        let (bigger, _) = own_record(
            &Guid::new("device123456"),
            "d",
            &newest,
            UnknownFields::new(),
            &TabsConfig::default(),
            usize::MAX,
        )
        .unwrap();
        assert!(encrypted_payload_len(bigger.cleartext.to_json_vec().len()) > max);
    }

    #[test]
    fn tabs_without_urls_are_refused() {
        assert!(
            validate(&[LocalTab {
                url_history: vec![],
                ..tab("x", 0)
            }])
            .is_err()
        );
        assert!(validate(&[tab("https://a/", -1)]).is_err());
        assert!(validate(&[tab("https://a/", 0)]).is_ok());
    }
}
