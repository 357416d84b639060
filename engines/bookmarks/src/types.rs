//! The bookmark vocabulary the app sees.

use sync15::Guid;

use crate::BookmarksError;

/// What an item in the store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BookmarkKind {
    /// A bookmark: a URL with a title.
    Bookmark,
    /// A folder.
    Folder,
    /// A separator line.
    Separator,
    /// A saved search: a `place:` URL with a title.
    Query,
}

impl BookmarkKind {
    pub(crate) fn as_i64(self) -> i64 {
        match self {
            BookmarkKind::Bookmark => 1,
            BookmarkKind::Folder => 2,
            BookmarkKind::Separator => 3,
            BookmarkKind::Query => 4,
        }
    }

    pub(crate) fn from_i64(n: i64) -> Option<Self> {
        Some(match n {
            1 => BookmarkKind::Bookmark,
            2 => BookmarkKind::Folder,
            3 => BookmarkKind::Separator,
            4 => BookmarkKind::Query,
            _ => return None,
        })
    }

    /// The merger's kind.
    pub(crate) fn tree_kind(self) -> crate::tree::Kind {
        match self {
            BookmarkKind::Bookmark => crate::tree::Kind::Bookmark,
            BookmarkKind::Folder => crate::tree::Kind::Folder,
            BookmarkKind::Separator => crate::tree::Kind::Separator,
            BookmarkKind::Query => crate::tree::Kind::Query,
        }
    }
}

/// One item as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookmarkItem {
    /// Its id.
    pub guid: Guid,
    /// What it is.
    pub kind: BookmarkKind,
    /// Its folder; `None` for the Places root.
    pub parent: Option<Guid>,
    /// Its position in that folder, from 0.
    pub position: u32,
    /// Title (empty for separators).
    pub title: String,
    /// URL of a bookmark or query.
    pub url: Option<String>,
    /// Keyword of a bookmark.
    pub keyword: Option<String>,
    /// Tags of the bookmark's URL, sorted.
    pub tags: Vec<String>,
    /// When it was added, ms since the epoch.
    pub date_added: i64,
    /// When it last changed, ms since the epoch: here, or — for a change
    /// that came from another device — when the server stored it, as
    /// Firefox and application-services set it.
    pub last_modified: i64,
}

/// An item with its descendants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookmarkNode {
    /// The item.
    pub item: BookmarkItem,
    /// Its children in order (folders only).
    pub children: Vec<BookmarkNode>,
}

/// An item to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewItem {
    /// A bookmark.
    Bookmark {
        /// Its URL.
        url: String,
        /// Its title.
        title: String,
    },
    /// A folder.
    Folder {
        /// Its title.
        title: String,
    },
    /// A separator.
    Separator,
    /// A saved search.
    Query {
        /// A `place:` URL.
        url: String,
        /// Its title.
        title: String,
    },
}

/// Changes to an item's values; `None` leaves a value as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemUpdate {
    /// New title (not for separators).
    pub title: Option<String>,
    /// New URL (bookmarks and queries).
    pub url: Option<String>,
    /// New keyword, or `Some(None)` to remove it (bookmarks).
    pub keyword: Option<Option<String>>,
    /// New tags for the bookmark's URL (bookmarks).
    pub tags: Option<Vec<String>>,
}

/// Longest URL stored (Firefox's limit).
pub const MAX_URL_LEN: usize = 65_536;

/// A URL checked for `kind`: any URL for a bookmark, a `place:` URL for a
/// query. Returned in canonical form.
pub fn validate_url(kind: BookmarkKind, text: &str) -> Result<String, BookmarksError> {
    if text.len() > MAX_URL_LEN {
        return Err(BookmarksError::InvalidUrl(format!(
            "longer than {MAX_URL_LEN} bytes"
        )));
    }
    let url =
        url::Url::parse(text.trim()).map_err(|e| BookmarksError::InvalidUrl(format!("{text:?}: {e}")))?;
    if kind == BookmarkKind::Query && url.scheme() != "place" {
        return Err(BookmarksError::InvalidUrl(format!(
            "a query needs a place: URL, not {text:?}"
        )));
    }
    Ok(url.to_string())
}
