//! Firefox's JSON bookmark backup format (Library → Import and Backup →
//! Backup…, and the files in `bookmarkbackups/`): the Places root with the
//! four roots as `text/x-moz-place-container` nodes, dates in microseconds,
//! tags comma-joined. Written as Firefox's `BookmarkJSONUtils` writes it so
//! that Firefox can restore from it; read tolerantly (any field may be
//! missing, unknown fields are ignored).

use serde::{Deserialize, Serialize};
use sync_bookmarks::{MENU_GUID, MOBILE_GUID, ROOT_GUID, TOOLBAR_GUID, UNFILED_GUID};

/// `type` of a bookmark or query.
pub const TYPE_PLACE: &str = "text/x-moz-place";
/// `type` of a folder.
pub const TYPE_CONTAINER: &str = "text/x-moz-place-container";
/// `type` of a separator.
pub const TYPE_SEPARATOR: &str = "text/x-moz-place-separator";

/// One node of a backup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlacesNode {
    /// Its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guid: Option<String>,
    /// Its title.
    #[serde(default)]
    pub title: Option<String>,
    /// Its position in its folder.
    #[serde(default)]
    pub index: u32,
    /// When it was added, µs since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_added: Option<i64>,
    /// When it last changed, µs since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<i64>,
    /// 1 bookmark, 2 folder, 3 separator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_code: Option<u8>,
    /// [`TYPE_PLACE`], [`TYPE_CONTAINER`] or [`TYPE_SEPARATOR`].
    #[serde(rename = "type", default)]
    pub kind: String,
    /// For a root: `placesRoot`, `bookmarksMenuFolder`, `toolbarFolder`,
    /// `unfiledBookmarksFolder` or `mobileFolder`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// A bookmark's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// A bookmark's keyword.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    /// A bookmark's tags, comma-joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<String>,
    /// A folder's items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<PlacesNode>>,
}

impl PlacesNode {
    /// What the node is, from `type` or, failing that, `typeCode`.
    pub fn type_code(&self) -> Option<u8> {
        match self.kind.as_str() {
            TYPE_PLACE => Some(1),
            TYPE_CONTAINER => Some(2),
            TYPE_SEPARATOR => Some(3),
            _ => self.type_code,
        }
    }

    /// The tags, split.
    pub fn tag_list(&self) -> Vec<String> {
        self.tags
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// Firefox's `root` name of each root.
const ROOT_NAMES: [(&str, &str); 5] = [
    (ROOT_GUID, "placesRoot"),
    (MENU_GUID, "bookmarksMenuFolder"),
    (TOOLBAR_GUID, "toolbarFolder"),
    (UNFILED_GUID, "unfiledBookmarksFolder"),
    (MOBILE_GUID, "mobileFolder"),
];

/// The `root` name Firefox gives a root, by its GUID.
pub fn root_name(guid: &str) -> Option<&'static str> {
    ROOT_NAMES.iter().find(|(g, _)| *g == guid).map(|(_, n)| *n)
}

/// The GUID of a root, by the `root` name Firefox gives it.
pub fn root_guid(name: &str) -> Option<&'static str> {
    ROOT_NAMES.iter().find(|(_, n)| *n == name).map(|(g, _)| *g)
}
