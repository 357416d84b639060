//! [`BookmarkStore::insert_tree`]: a whole subtree in one transaction, the
//! way an import wants it (Firefox's `PlacesUtils.bookmarks.insertTree`).

use rusqlite::{Transaction, params};
use sync15::Guid;

use crate::BookmarksError;
use crate::store::{
    BookmarkStore, bump, check_position, child_count, clean_tags, now_ms, require_folder, set_url_tags,
    shift_up, url_tags,
};
use crate::types::{BookmarkKind, NewItem, validate_url};

/// An item to insert with its values and, for a folder, its children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTree {
    /// The item.
    pub item: NewItem,
    /// When it was added (ms since the epoch); now if `None` or in the
    /// future.
    pub date_added: Option<i64>,
    /// Its keyword (bookmarks only).
    pub keyword: Option<String>,
    /// Tags added to its URL, joining those it has (bookmarks only).
    pub tags: Vec<String>,
    /// Its children in order (folders only).
    pub children: Vec<NewTree>,
}

impl NewTree {
    /// `item` with no date, keyword, tags or children.
    pub fn new(item: NewItem) -> Self {
        NewTree {
            item,
            date_added: None,
            keyword: None,
            tags: Vec::new(),
            children: Vec::new(),
        }
    }
}

impl BookmarkStore {
    /// Inserts `items` (with everything under them) into `parent` at
    /// `position` (the end if `None`), all or nothing: the first invalid
    /// item (a bad URL, a keyword on a folder, children of a bookmark)
    /// fails the whole call and nothing is stored. Returns the new ids of
    /// `items`, in order.
    pub fn insert_tree(
        &self,
        parent: &str,
        position: Option<u32>,
        items: Vec<NewTree>,
    ) -> Result<Vec<Guid>, BookmarksError> {
        let mut guids = self.insert_trees(vec![(parent.to_owned(), position, items)])?;
        Ok(guids.pop().unwrap_or_default())
    }

    /// [`insert_tree`](Self::insert_tree) for several folders in one
    /// transaction (an import that fills the menu, the toolbar and
    /// "Other Bookmarks" at once): all of it, or nothing. Returns the new
    /// ids of each folder's `items`.
    pub fn insert_trees(
        &self,
        batches: Vec<(String, Option<u32>, Vec<NewTree>)>,
    ) -> Result<Vec<Vec<Guid>>, BookmarksError> {
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            let now = now_ms();
            let mut all = Vec::with_capacity(batches.len());
            for (parent, position, items) in batches {
                let folder = require_folder(tx, &parent)?;
                let first = check_position(position, child_count(tx, folder.id)?)?;
                let guids = (first..)
                    .zip(items)
                    .map(|(position, item)| insert_node(tx, folder.id, position, item, now))
                    .collect::<Result<Vec<_>, _>>()?;
                bump(tx, folder.id, now)?;
                all.push(guids);
            }
            Ok::<_, BookmarksError>(all)
        })
    }
}

fn insert_node(
    tx: &Transaction<'_>,
    parent_id: i64,
    position: i64,
    node: NewTree,
    now: i64,
) -> Result<Guid, BookmarksError> {
    let (kind, title, url) = match node.item {
        NewItem::Bookmark { url, title } => (
            BookmarkKind::Bookmark,
            title,
            Some(validate_url(BookmarkKind::Bookmark, &url)?),
        ),
        NewItem::Query { url, title } => (
            BookmarkKind::Query,
            title,
            Some(validate_url(BookmarkKind::Query, &url)?),
        ),
        NewItem::Folder { title } => (BookmarkKind::Folder, title, None),
        NewItem::Separator => (BookmarkKind::Separator, String::new(), None),
    };
    let invalid = |what: &str| {
        Err(BookmarksError::InvalidChange(format!(
            "a {kind:?} cannot have {what}"
        )))
    };
    let keyword = node.keyword.as_deref().map(str::trim).filter(|k| !k.is_empty());
    if keyword.is_some() && kind != BookmarkKind::Bookmark {
        return invalid("a keyword");
    }
    if !node.tags.is_empty() && kind != BookmarkKind::Bookmark {
        return invalid("tags");
    }
    if !node.children.is_empty() && kind != BookmarkKind::Folder {
        return invalid("children");
    }
    let date_added = node.date_added.filter(|d| *d > 0 && *d <= now).unwrap_or(now);
    let guid = Guid::random();
    shift_up(tx, parent_id, position)?;
    tx.prepare_cached(
        "INSERT INTO items (guid, kind, parent_id, position, title, url, keyword, date_added, last_modified,
                            sync_status, change_counter)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 1)",
    )?
    .execute(params![
        guid.as_str(),
        kind.as_i64(),
        parent_id,
        position,
        title,
        url,
        keyword,
        date_added,
        now
    ])?;
    let id = tx.last_insert_rowid();
    if let (false, Some(url)) = (node.tags.is_empty(), &url) {
        let mut tags = url_tags(tx, url)?;
        tags.extend(clean_tags(&node.tags)?);
        set_url_tags(tx, url, &clean_tags(&tags)?, now)?;
    }
    for (i, child) in node.children.into_iter().enumerate() {
        let position = i64::try_from(i).unwrap_or(i64::MAX);
        insert_node(tx, id, position, child, now)?;
    }
    Ok(guid)
}
