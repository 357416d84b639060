//! [`BookmarkStore`]: the app-facing bookmark API.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, params};
use sync15::Guid;

use crate::BookmarksError;
use crate::merge::MergeStats;
use crate::schema::SCHEMA;
use crate::tree::{ROOT_GUID, is_root};
use crate::types::{BookmarkItem, BookmarkKind, BookmarkNode, ItemUpdate, NewItem, validate_url};

/// Sync bookkeeping held between the steps of one sync.
#[derive(Debug, Default)]
pub(crate) struct SyncState {
    /// Records handed out for upload, by local id: the change counter then
    /// and the cleartext (`None` for a tombstone).
    pub(crate) uploading: HashMap<String, (i64, Option<String>)>,
    /// Records that could not be read while staging.
    pub(crate) malformed: usize,
    /// What the last merge counted.
    pub(crate) last_merge: Option<MergeStats>,
    /// Counts the transactions that may have written `mirror` or `incoming`.
    pub(crate) remote_generation: u64,
}

/// The bookmark store; see the crate docs. It is also the `bookmarks`
/// [`SyncEngine`](sync15::SyncEngine).
pub struct BookmarkStore {
    /// A read-only connection for the app's reads: in WAL mode it reads the
    /// last committed state while a sync holds the writer, so reads never
    /// wait for a merge. Declared first so it closes first: the writer,
    /// closing last, checkpoints and removes the WAL.
    reader: Mutex<Connection>,
    pub(crate) conn: Mutex<Connection>,
    /// The file, for the merge's own read-only connection.
    pub(crate) path: PathBuf,
    pub(crate) sync: Mutex<SyncState>,
    recreated: Option<sync_sql::Recreated>,
}

impl std::fmt::Debug for BookmarkStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BookmarkStore").finish_non_exhaustive()
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The columns [`item_row`] reads.
pub(crate) const ITEM_COLUMNS: &str = "i.id, i.guid, i.kind, p.guid, i.position, i.title, i.url, i.keyword, \
                                       i.date_added, i.last_modified";

/// An item row: its database id and the item (tags not yet loaded).
pub(crate) fn item_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, BookmarkItem)> {
    let kind: i64 = r.get(2)?;
    Ok((
        r.get(0)?,
        BookmarkItem {
            guid: Guid::new(&r.get::<_, String>(1)?),
            kind: BookmarkKind::from_i64(kind).unwrap_or(BookmarkKind::Bookmark),
            parent: r.get::<_, Option<String>>(3)?.map(|p| Guid::new(&p)),
            position: r.get(4)?,
            title: r.get(5)?,
            url: r.get(6)?,
            keyword: r.get(7)?,
            tags: Vec::new(),
            date_added: r.get(8)?,
            last_modified: r.get(9)?,
        },
    ))
}

/// Where an item sits.
#[derive(Debug, Clone)]
pub(crate) struct Placement {
    pub(crate) id: i64,
    pub(crate) kind: BookmarkKind,
    pub(crate) parent_id: Option<i64>,
    pub(crate) position: i64,
    pub(crate) url: Option<String>,
}

pub(crate) fn placement(conn: &Connection, guid: &str) -> Result<Option<Placement>, BookmarksError> {
    Ok(conn
        .prepare_cached("SELECT id, kind, parent_id, position, url FROM items WHERE guid = ?")?
        .query_row([guid], |r| {
            Ok(Placement {
                id: r.get(0)?,
                kind: BookmarkKind::from_i64(r.get(1)?).unwrap_or(BookmarkKind::Bookmark),
                parent_id: r.get(2)?,
                position: r.get(3)?,
                url: r.get(4)?,
            })
        })
        .optional()?)
}

fn require(conn: &Connection, guid: &str) -> Result<Placement, BookmarksError> {
    placement(conn, guid)?.ok_or_else(|| BookmarksError::NotFound(Guid::new(guid)))
}

/// A folder that may take children from the app: not the Places root.
pub(crate) fn require_folder(conn: &Connection, guid: &str) -> Result<Placement, BookmarksError> {
    let folder = require(conn, guid)?;
    if folder.kind != BookmarkKind::Folder {
        return Err(BookmarksError::NotAFolder(Guid::new(guid)));
    }
    if guid == ROOT_GUID {
        return Err(BookmarksError::Root(
            Guid::new(guid),
            "only the menu, toolbar, unfiled and mobile roots go there",
        ));
    }
    Ok(folder)
}

/// Marks an item changed here: uploaded on the next sync.
pub(crate) fn bump(conn: &Connection, id: i64, now: i64) -> Result<(), BookmarksError> {
    conn.prepare_cached(
        "UPDATE items SET change_counter = change_counter + 1, last_modified = ? WHERE id = ?",
    )?
    .execute(params![now, id])?;
    Ok(())
}

pub(crate) fn child_count(conn: &Connection, folder: i64) -> Result<i64, BookmarksError> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM items WHERE parent_id = ?")?
        .query_row([folder], |r| r.get(0))?)
}

/// Opens a gap at `position` in `folder`.
pub(crate) fn shift_up(conn: &Connection, folder: i64, position: i64) -> Result<(), BookmarksError> {
    conn.prepare_cached("UPDATE items SET position = position + 1 WHERE parent_id = ? AND position >= ?")?
        .execute(params![folder, position])?;
    Ok(())
}

/// Closes the gap left at `position` in `folder`.
fn shift_down(conn: &Connection, folder: i64, position: i64) -> Result<(), BookmarksError> {
    conn.prepare_cached("UPDATE items SET position = position - 1 WHERE parent_id = ? AND position > ?")?
        .execute(params![folder, position])?;
    Ok(())
}

pub(crate) fn check_position(position: Option<u32>, len: i64) -> Result<i64, BookmarksError> {
    match position {
        None => Ok(len),
        Some(p) if i64::from(p) <= len => Ok(i64::from(p)),
        Some(p) => Err(BookmarksError::InvalidChange(format!(
            "position {p} is past the end of a folder of {len}"
        ))),
    }
}

pub(crate) fn clean_tags(tags: &[String]) -> Result<Vec<String>, BookmarksError> {
    let mut clean: Vec<String> = tags.iter().map(|t| t.trim().to_owned()).collect();
    if clean.iter().any(|t| t.is_empty()) {
        return Err(BookmarksError::InvalidChange("a tag cannot be empty".into()));
    }
    clean.sort();
    clean.dedup();
    Ok(clean)
}

/// Replaces the tags of `url`, marking every bookmark of it changed.
pub(crate) fn set_url_tags(
    conn: &Connection,
    url: &str,
    tags: &[String],
    now: i64,
) -> Result<bool, BookmarksError> {
    let current = url_tags(conn, url)?;
    if current == tags {
        return Ok(false);
    }
    conn.prepare_cached("DELETE FROM tags WHERE url = ?")?
        .execute([url])?;
    for tag in tags {
        conn.prepare_cached("INSERT OR IGNORE INTO tags (url, tag) VALUES (?, ?)")?
            .execute(params![url, tag])?;
    }
    conn.prepare_cached(
        "UPDATE items SET change_counter = change_counter + 1, last_modified = ? WHERE url = ? AND kind = 1",
    )?
    .execute(params![now, url])?;
    Ok(true)
}

pub(crate) fn url_tags(conn: &Connection, url: &str) -> Result<Vec<String>, BookmarksError> {
    let mut stmt = conn.prepare_cached("SELECT tag FROM tags WHERE url = ? ORDER BY tag")?;
    let tags = stmt.query_map([url], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(tags)
}

/// Deletes `root_id` and everything under it; tombstones for what the
/// server may have. Does not touch the parent.
pub(crate) fn delete_subtree(conn: &Connection, root_id: i64, now: i64) -> Result<(), BookmarksError> {
    conn.prepare_cached(
        "WITH RECURSIVE doomed(id) AS (SELECT ? UNION ALL SELECT i.id FROM items i JOIN doomed d ON i.parent_id = d.id)
         INSERT OR REPLACE INTO tombstones (guid, deleted_at)
         SELECT guid, ? FROM items WHERE id IN doomed AND sync_status = 1",
    )?
    .execute(params![root_id, now])?;
    conn.prepare_cached(
        "WITH RECURSIVE doomed(id) AS (SELECT ? UNION ALL SELECT i.id FROM items i JOIN doomed d ON i.parent_id = d.id)
         DELETE FROM items WHERE id IN doomed",
    )?
    .execute([root_id])?;
    drop_unused_tags(conn)
}

/// Forgets the tags of URLs no bookmark has any more.
pub(crate) fn drop_unused_tags(conn: &Connection) -> Result<(), BookmarksError> {
    conn.prepare_cached("DELETE FROM tags WHERE url NOT IN (SELECT url FROM items WHERE url IS NOT NULL)")?
        .execute([])?;
    Ok(())
}

impl BookmarkStore {
    /// Opens (creating) the store at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, BookmarksError> {
        let path = path.as_ref();
        let (conn, recreated) = sync_sql::open_store(path, &sync_sql::OpenOptions::default(), &SCHEMA)?;
        let reader = sync_sql::open(
            path,
            &sync_sql::OpenOptions {
                read_only: true,
                ..sync_sql::OpenOptions::default()
            },
        )?;
        Ok(BookmarkStore {
            conn: Mutex::new(conn),
            sync: Mutex::new(SyncState::default()),
            recreated,
            reader: Mutex::new(reader),
            // Absolute: the app may change directory after opening.
            path: std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()),
        })
    }

    /// If the store's file was corrupt when opened: where it was moved, and
    /// why (a fresh store took its place; the next sync refills it). See
    /// [`sync_sql::open_store`].
    pub fn recreated_from_corruption(&self) -> Option<&sync_sql::Recreated> {
        self.recreated.as_ref()
    }

    /// Inserts `item` into `parent` at `position` (the end if `None`) and
    /// returns its new id.
    pub fn insert(&self, parent: &str, position: Option<u32>, item: NewItem) -> Result<Guid, BookmarksError> {
        self.insert_tree(parent, position, vec![crate::NewTree::new(item)])?
            .pop()
            .ok_or_else(|| BookmarksError::InvalidChange("nothing was inserted".into()))
    }

    /// Changes an item's values.
    pub fn update(&self, guid: &str, update: ItemUpdate) -> Result<(), BookmarksError> {
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            let item = require(tx, guid)?;
            if is_root(guid) {
                return Err(BookmarksError::Root(Guid::new(guid), "roots cannot be changed"));
            }
            let is_bookmark = item.kind == BookmarkKind::Bookmark;
            let has_url = is_bookmark || item.kind == BookmarkKind::Query;
            let wrong = |field: &str| {
                Err(BookmarksError::InvalidChange(format!(
                    "a {:?} has no {field}",
                    item.kind
                )))
            };
            if update.title.is_some() && item.kind == BookmarkKind::Separator {
                return wrong("title");
            }
            if update.url.is_some() && !has_url {
                return wrong("URL");
            }
            if (update.keyword.is_some() || update.tags.is_some()) && !is_bookmark {
                return wrong(if update.keyword.is_some() {
                    "keyword"
                } else {
                    "tags"
                });
            }
            let now = now_ms();
            if let Some(title) = &update.title {
                tx.prepare_cached("UPDATE items SET title = ? WHERE id = ?")?
                    .execute(params![title, item.id])?;
            }
            let mut url = item.url.clone();
            if let Some(new_url) = &update.url {
                let new_url = validate_url(item.kind, new_url)?;
                tx.prepare_cached("UPDATE items SET url = ? WHERE id = ?")?
                    .execute(params![new_url, item.id])?;
                url = Some(new_url);
            }
            if let Some(keyword) = &update.keyword {
                let keyword = keyword.as_deref().map(str::trim).filter(|k| !k.is_empty());
                tx.prepare_cached("UPDATE items SET keyword = ? WHERE id = ?")?
                    .execute(params![keyword, item.id])?;
            }
            if let (Some(tags), Some(url)) = (&update.tags, &url) {
                set_url_tags(tx, url, &clean_tags(tags)?, now)?;
            }
            bump(tx, item.id, now)
        })
    }

    /// Moves an item (with its subtree) to `parent` at `position` (the end
    /// if `None`).
    pub fn move_item(&self, guid: &str, parent: &str, position: Option<u32>) -> Result<(), BookmarksError> {
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            let item = require(tx, guid)?;
            if is_root(guid) {
                return Err(BookmarksError::Root(Guid::new(guid), "roots cannot be moved"));
            }
            let folder = require_folder(tx, parent)?;
            // Walk up from the new parent: meeting the item means a cycle.
            let mut at = Some(folder.id);
            while let Some(id) = at {
                if id == item.id {
                    return Err(BookmarksError::Cycle {
                        item: Guid::new(guid),
                        parent: Guid::new(parent),
                    });
                }
                at = tx
                    .prepare_cached("SELECT parent_id FROM items WHERE id = ?")?
                    .query_row([id], |r| r.get(0))?;
            }
            let old_parent = item.parent_id.unwrap_or(folder.id);
            let now = now_ms();
            shift_down(tx, old_parent, item.position)?;
            let len = child_count(tx, folder.id)? - i64::from(old_parent == folder.id);
            let position = check_position(position, len)?;
            shift_up(tx, folder.id, position)?;
            tx.prepare_cached("UPDATE items SET parent_id = ?, position = ? WHERE id = ?")?
                .execute(params![folder.id, position, item.id])?;
            bump(tx, item.id, now)?;
            bump(tx, folder.id, now)?;
            if old_parent != folder.id {
                bump(tx, old_parent, now)?;
            }
            Ok(())
        })
    }

    /// Deletes an item and, for a folder, everything in it.
    pub fn delete(&self, guid: &str) -> Result<(), BookmarksError> {
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            let item = require(tx, guid)?;
            if is_root(guid) {
                return Err(BookmarksError::Root(Guid::new(guid), "roots cannot be deleted"));
            }
            let now = now_ms();
            delete_subtree(tx, item.id, now)?;
            if let Some(parent) = item.parent_id {
                shift_down(tx, parent, item.position)?;
                bump(tx, parent, now)?;
            }
            Ok(())
        })
    }

    /// Runs the app's read `f` on the reader, in one read transaction
    /// (one snapshot for all its statements).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, BookmarksError>) -> Result<T, BookmarksError> {
        let mut reader = self.reader.lock();
        let tx = reader.transaction()?;
        let value = f(&tx)?;
        tx.finish()?;
        Ok(value)
    }

    /// One item.
    pub fn get(&self, guid: &str) -> Result<Option<BookmarkItem>, BookmarksError> {
        self.read(|conn| Self::get_on(conn, guid))
    }

    fn get_on(conn: &Connection, guid: &str) -> Result<Option<BookmarkItem>, BookmarksError> {
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM items i LEFT JOIN items p ON p.id = i.parent_id WHERE i.guid = ?"
        );
        let found = conn
            .prepare_cached(&sql)?
            .query_row([guid], item_row)
            .optional()?;
        found.map(|(_, item)| with_tags(conn, item)).transpose()
    }

    /// An item and everything under it.
    pub fn get_tree(&self, guid: &str) -> Result<Option<BookmarkNode>, BookmarksError> {
        self.read(|conn| Self::get_tree_on(conn, guid))
    }

    fn get_tree_on(conn: &Connection, guid: &str) -> Result<Option<BookmarkNode>, BookmarksError> {
        let sql = format!(
            "WITH RECURSIVE sub(id) AS (SELECT id FROM items WHERE guid = ?
                                     UNION ALL SELECT i.id FROM items i JOIN sub s ON i.parent_id = s.id)
             SELECT {ITEM_COLUMNS}, i.parent_id FROM items i LEFT JOIN items p ON p.id = i.parent_id
             WHERE i.id IN sub ORDER BY i.parent_id, i.position"
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt
            .query_map([guid], |r| Ok((item_row(r)?, r.get::<_, Option<i64>>(10)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut root = None;
        let mut by_parent: HashMap<i64, Vec<(i64, BookmarkItem)>> = HashMap::new();
        for ((id, item), parent) in rows {
            let item = with_tags(conn, item)?;
            if item.guid == guid {
                root = Some((id, item));
            } else if let Some(parent) = parent {
                by_parent.entry(parent).or_default().push((id, item));
            }
        }
        fn build(
            id: i64,
            item: BookmarkItem,
            by_parent: &mut HashMap<i64, Vec<(i64, BookmarkItem)>>,
        ) -> BookmarkNode {
            let children = by_parent
                .remove(&id)
                .unwrap_or_default()
                .into_iter()
                .map(|(c, item)| build(c, item, by_parent))
                .collect();
            BookmarkNode { item, children }
        }
        Ok(root.map(|(id, item)| build(id, item, &mut by_parent)))
    }

    /// Bookmarks whose title or URL contains `text` (case-insensitive for
    /// ASCII), most recently changed first, at most `limit`.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<BookmarkItem>, BookmarksError> {
        let pattern = format!(
            "%{}%",
            text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
        );
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM items i LEFT JOIN items p ON p.id = i.parent_id
             WHERE i.kind IN (1, 4) AND (i.title LIKE ?1 ESCAPE '\\' OR i.url LIKE ?1 ESCAPE '\\')
             ORDER BY i.last_modified DESC, i.id LIMIT CAST(?2 AS INTEGER)"
        );
        self.items_where(&sql, params![pattern, limit as i64])
    }

    /// Bookmarks whose URL has `tag`.
    pub fn by_tag(&self, tag: &str) -> Result<Vec<BookmarkItem>, BookmarksError> {
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM items i LEFT JOIN items p ON p.id = i.parent_id
             WHERE i.kind = 1 AND i.url IN (SELECT url FROM tags WHERE tag = ?) ORDER BY i.guid"
        );
        self.items_where(&sql, params![tag.trim()])
    }

    fn items_where(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<BookmarkItem>, BookmarksError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(sql)?;
            let rows = stmt.query_map(params, item_row)?.collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(|(_, item)| with_tags(conn, item)).collect()
        })
    }
}

fn with_tags(conn: &Connection, mut item: BookmarkItem) -> Result<BookmarkItem, BookmarksError> {
    if item.kind == BookmarkKind::Bookmark {
        if let Some(url) = &item.url {
            item.tags = url_tags(conn, url)?;
        }
    }
    Ok(item)
}
