//! Firefox's `bookmarks` records (DESIGN §5), read and written as JSON
//! objects so that fields this code does not know travel untouched.
//!
//! Common fields: `id, type, parentid, parentName, hasDupe, dateAdded`;
//! bookmarks add `bmkUri, title, keyword, tags`; queries `bmkUri (place:),
//! title, folderName`; folders `title, children`; separators `pos`. The
//! legacy `microsummary` is read as a bookmark; `livemark` is recognised
//! (and deleted by the merger); `item` and unknown types are unusable.

use serde_json::{Map, Value, json};

use crate::tree::{MENU_GUID, MOBILE_GUID, ROOT_GUID, TAGS_GUID, TOOLBAR_GUID, UNFILED_GUID};
use crate::types::BookmarkKind;

/// Every folder's `sortindex`, as Firefox sends it.
pub const FOLDER_SORTINDEX: i32 = 1_000_000;

const ROOT_NAMES: [(&str, &str); 6] = [
    ("places", ROOT_GUID),
    ("menu", MENU_GUID),
    ("toolbar", TOOLBAR_GUID),
    ("unfiled", UNFILED_GUID),
    ("mobile", MOBILE_GUID),
    ("tags", TAGS_GUID),
];

/// A record id as stored locally (`menu` → `menu________`).
pub fn local_id(wire: &str) -> &str {
    ROOT_NAMES
        .iter()
        .find(|(name, _)| *name == wire)
        .map_or(wire, |(_, guid)| guid)
}

/// A local id as it goes on the wire (`menu________` → `menu`).
pub fn wire_id(local: &str) -> &str {
    ROOT_NAMES
        .iter()
        .find(|(_, guid)| *guid == local)
        .map_or(local, |(name, _)| name)
}

/// Fields this module reads or writes itself; everything else is kept in
/// an item's unknown fields.
const KNOWN_FIELDS: [&str; 13] = [
    "id",
    "type",
    "parentid",
    "parentName",
    "children",
    "title",
    "bmkUri",
    "keyword",
    "tags",
    "dateAdded",
    "hasDupe",
    "pos",
    "deleted",
];

/// What a record's `type` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordKind {
    Known(BookmarkKind),
    Livemark,
    /// `item`, a missing type or one this code does not know.
    Unusable,
}

/// A record read from its cleartext, ids mapped to local ones.
#[derive(Debug, Clone)]
pub(crate) struct RemoteRecord {
    pub(crate) kind: RecordKind,
    pub(crate) parent_id: Option<String>,
    pub(crate) children: Option<Vec<String>>,
    pub(crate) values: Values,
    /// A legacy type read as a current one (`microsummary`): reuploaded in
    /// the current form.
    pub(crate) legacy: bool,
    /// When the server last stored it (ms; 0 until set by the reader).
    pub(crate) server_modified: i64,
}

/// An item's values: what the merger's field-by-field merge works on.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Values {
    pub(crate) title: String,
    pub(crate) url: Option<String>,
    pub(crate) keyword: Option<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) date_added: Option<i64>,
    pub(crate) unknown: Map<String, Value>,
}

impl Values {
    /// The values as record fields (the three-way merge's input).
    pub(crate) fn to_map(&self) -> Map<String, Value> {
        let mut map = self.unknown.clone();
        map.insert("title".into(), json!(self.title));
        if let Some(url) = &self.url {
            map.insert("bmkUri".into(), json!(url));
        }
        if let Some(keyword) = &self.keyword {
            map.insert("keyword".into(), json!(keyword));
        }
        if !self.tags.is_empty() {
            map.insert("tags".into(), json!(self.tags));
        }
        if let Some(date) = self.date_added {
            map.insert("dateAdded".into(), json!(date));
        }
        map
    }

    /// Values from record fields; unknown fields kept.
    pub(crate) fn from_map(map: &Map<String, Value>) -> Values {
        let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
        let mut tags: Vec<String> = map
            .get("tags")
            .and_then(Value::as_array)
            .map(|tags| {
                tags.iter()
                    .filter_map(Value::as_str)
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        tags.sort();
        tags.dedup();
        Values {
            title: text("title").unwrap_or_default(),
            url: text("bmkUri"),
            keyword: text("keyword").filter(|k| !k.trim().is_empty()),
            tags,
            date_added: map.get("dateAdded").and_then(Value::as_i64).filter(|d| *d > 0),
            unknown: map
                .iter()
                .filter(|(k, _)| !KNOWN_FIELDS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

impl RemoteRecord {
    /// Reads a (non-tombstone) cleartext.
    pub(crate) fn from_map(map: &Map<String, Value>) -> RemoteRecord {
        let kind = match map.get("type").and_then(Value::as_str) {
            Some("bookmark" | "microsummary") => RecordKind::Known(BookmarkKind::Bookmark),
            Some("query") => RecordKind::Known(BookmarkKind::Query),
            Some("folder") => RecordKind::Known(BookmarkKind::Folder),
            Some("separator") => RecordKind::Known(BookmarkKind::Separator),
            Some("livemark") => RecordKind::Livemark,
            _ => RecordKind::Unusable,
        };
        let children = map.get("children").and_then(Value::as_array).map(|children| {
            children
                .iter()
                .filter_map(Value::as_str)
                .map(|c| local_id(c).to_owned())
                .collect()
        });
        RemoteRecord {
            kind,
            parent_id: map
                .get("parentid")
                .and_then(Value::as_str)
                .map(|p| local_id(p).to_owned()),
            children,
            values: Values::from_map(map),
            legacy: map.get("type").and_then(Value::as_str) == Some("microsummary"),
            server_modified: 0,
        }
    }

    /// Whether the record can be used as it is: bookmarks and queries need a
    /// URL that parses (queries a `place:` one).
    pub(crate) fn is_usable(&self) -> bool {
        match self.kind {
            RecordKind::Known(kind @ (BookmarkKind::Bookmark | BookmarkKind::Query)) => self
                .values
                .url
                .as_deref()
                .is_some_and(|url| crate::types::validate_url(kind, url).is_ok()),
            RecordKind::Known(_) | RecordKind::Livemark => true,
            RecordKind::Unusable => false,
        }
    }
}

/// What an outgoing record is built from.
pub(crate) struct OutgoingItem<'a> {
    pub(crate) guid: &'a str,
    pub(crate) kind: BookmarkKind,
    pub(crate) parent_guid: &'a str,
    pub(crate) parent_title: &'a str,
    pub(crate) position: i64,
    pub(crate) children: &'a [String],
    pub(crate) values: &'a Values,
}

/// The cleartext of an item's record.
pub(crate) fn record_json(item: &OutgoingItem<'_>) -> Map<String, Value> {
    let mut map = item.values.unknown.clone();
    let v = item.values;
    map.insert("id".into(), json!(wire_id(item.guid)));
    map.insert("parentid".into(), json!(wire_id(item.parent_guid)));
    map.insert("parentName".into(), json!(item.parent_title));
    map.insert("hasDupe".into(), json!(true));
    if let Some(date) = v.date_added {
        map.insert("dateAdded".into(), json!(date));
    }
    let type_name = match item.kind {
        BookmarkKind::Bookmark => "bookmark",
        BookmarkKind::Query => "query",
        BookmarkKind::Folder => "folder",
        BookmarkKind::Separator => "separator",
    };
    map.insert("type".into(), json!(type_name));
    match item.kind {
        BookmarkKind::Bookmark | BookmarkKind::Query => {
            map.insert("title".into(), json!(v.title));
            map.insert("bmkUri".into(), json!(v.url.as_deref().unwrap_or_default()));
            if item.kind == BookmarkKind::Bookmark {
                if let Some(keyword) = &v.keyword {
                    map.insert("keyword".into(), json!(keyword));
                }
                map.insert("tags".into(), json!(v.tags));
            }
        }
        BookmarkKind::Folder => {
            map.insert("title".into(), json!(v.title));
            let children: Vec<&str> = item.children.iter().map(|c| wire_id(c)).collect();
            map.insert("children".into(), json!(children));
        }
        BookmarkKind::Separator => {
            map.insert("pos".into(), json!(item.position));
        }
    }
    map
}
