//! The history vocabulary: transitions, pages, visits.

use serde::{Deserialize, Serialize};
use sync15::Guid;

/// The millisecond of a visit date in µs: two visits of a page are the
/// same when these and their transitions agree (see the schema's migration
/// 3 for why: Firefox desktop and application-services dedupe so).
pub(crate) fn visit_ms(date_us: i64) -> i64 {
    date_us.div_euclid(1000)
}

/// The µs within [`visit_ms`] (0–999), stored beside it.
pub(crate) fn visit_micros(date_us: i64) -> i64 {
    date_us.rem_euclid(1000)
}

/// How the user got to a page (Firefox's `nsINavHistoryService`
/// transition types, the `type` of a synced visit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[repr(u8)]
pub enum VisitTransition {
    /// Followed a link.
    Link = 1,
    /// Typed the URL.
    Typed = 2,
    /// Opened a bookmark.
    Bookmark = 3,
    /// Loaded as an embedded part of another page.
    Embed = 4,
    /// Reached through a permanent redirect.
    RedirectPermanent = 5,
    /// Reached through a temporary redirect.
    RedirectTemporary = 6,
    /// A download.
    Download = 7,
    /// Followed a link inside a frame.
    FramedLink = 8,
    /// Reloaded.
    Reload = 9,
}

impl VisitTransition {
    /// The transition with this number, if it is one of 1–9.
    pub fn from_u8(n: u8) -> Option<Self> {
        use VisitTransition::*;
        Some(match n {
            1 => Link,
            2 => Typed,
            3 => Bookmark,
            4 => Embed,
            5 => RedirectPermanent,
            6 => RedirectTemporary,
            7 => Download,
            8 => FramedLink,
            9 => Reload,
            _ => return None,
        })
    }

    /// Its number on the wire.
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

/// A visited page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageInfo {
    /// The page's id (shared with other devices).
    pub guid: Guid,
    /// Its URL, normalised.
    pub url: String,
    /// Its title (may be empty).
    pub title: String,
    /// How often and how recently it was visited; higher is more relevant.
    pub frecency: i64,
    /// Whether it is hidden from history lists (only ever embedded or
    /// reached as a frame).
    pub hidden: bool,
    /// Number of visits.
    pub visit_count: i64,
    /// Its latest visit, microseconds since the epoch (0 if none).
    pub last_visit_us: i64,
}

/// One visit of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitInfo {
    /// When, in microseconds since the epoch.
    pub date_us: i64,
    /// How.
    pub transition: VisitTransition,
    /// Whether it happened on this device.
    pub is_local: bool,
}

/// How [`HistoryStore::query`](crate::HistoryStore::query) matches text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryMatch {
    /// The URL starts with the text.
    UrlPrefix,
    /// The URL or the title contains the text (case-insensitive for ASCII).
    Substring,
}
