//! Writing the merged tree's structure, and the mirror's catch-up.
//!
//! Items new here are inserted once, straight into their merged parent and
//! position, in one walk down the merged tree (a parent always before its
//! children, so its row id is known). Inserting them anywhere first and
//! moving them after was twice the writes, and half of a large first
//! sync's write transaction.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, params};

use crate::BookmarksError;
use crate::merge::{MergedNode, MergedTree};
use crate::record::Values;
use crate::store::{placement, set_url_tags};
use crate::tree::UNFILED_GUID;
use crate::types::BookmarkKind;

/// An item the merge adds here: its kind and values, placed by [`place_items`].
pub(crate) struct NewRow {
    pub(crate) kind: BookmarkKind,
    pub(crate) values: Values,
    /// Its `last_modified`: when the server stored the record.
    pub(crate) last_modified: i64,
}

/// The URLs that have tags: a new bookmark without tags for an untagged URL
/// (nearly every one in a first sync) needs no tag lookup at all.
pub(crate) struct TaggedUrls(HashSet<String>);

impl TaggedUrls {
    pub(crate) fn load(conn: &Connection) -> Result<Self, BookmarksError> {
        let mut stmt = conn.prepare("SELECT DISTINCT url FROM tags")?;
        let urls = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?;
        Ok(TaggedUrls(urls))
    }

    /// Gives `url` exactly `tags` (tags belong to URLs, as in Firefox).
    pub(crate) fn set(
        &mut self,
        conn: &Connection,
        url: &str,
        tags: &[String],
        now: i64,
    ) -> Result<(), BookmarksError> {
        if tags.is_empty() && !self.0.contains(url) {
            return Ok(());
        }
        set_url_tags(conn, url, tags, now)?;
        if tags.is_empty() {
            self.0.remove(url);
        } else {
            self.0.insert(url.to_owned());
        }
        Ok(())
    }
}

/// A folder's row id, looked up the first time a child needs it.
fn folder_id(
    conn: &Connection,
    folder: MergedNode<'_>,
    known: &mut Option<i64>,
) -> Result<Option<i64>, BookmarksError> {
    if known.is_none() {
        *known = placement(conn, folder.guid())?.map(|p| p.id);
    }
    Ok(*known)
}

/// Inserts `new_items` where the merged tree has them, and gives the
/// children of each folder in `restructured` their merged parent and
/// position.
pub(crate) fn place_items(
    conn: &Connection,
    tree: &MergedTree,
    restructured: &[sync15::Guid],
    mut new_items: HashMap<&str, NewRow>,
    tagged: &mut TaggedUrls,
    now: i64,
) -> Result<(), BookmarksError> {
    let restructured: HashSet<&str> = restructured.iter().map(|g| g.as_str()).collect();
    let mut folders: Vec<(MergedNode<'_>, Option<i64>)> = vec![(tree.root(), None)];
    while let Some((folder, mut id)) = folders.pop() {
        let moves_children = restructured.contains(folder.guid().as_str());
        for (position, child) in folder.children().enumerate() {
            let mut child_id = None;
            if let Some(row) = new_items.remove(child.guid().as_str()) {
                let (parent_id, position) = match folder_id(conn, folder, &mut id)? {
                    Some(parent_id) => (parent_id, position as i64),
                    None => {
                        // Cannot happen: a merged folder is kept, so it is written.
                        log::warn!(
                            "bookmarks: {} has no row; {} goes to unfiled",
                            folder.guid(),
                            child.guid()
                        );
                        unfiled_end(conn)?
                    }
                };
                child_id = Some(insert_item(
                    conn,
                    child.guid().as_str(),
                    &row,
                    parent_id,
                    position,
                    now,
                )?);
                if let (BookmarkKind::Bookmark, Some(url)) = (row.kind, &row.values.url) {
                    tagged.set(conn, url, &row.values.tags, now)?;
                }
            } else if moves_children {
                if let Some(parent_id) = folder_id(conn, folder, &mut id)? {
                    conn.prepare_cached("UPDATE items SET parent_id = ?, position = ? WHERE guid = ?")?
                        .execute(params![parent_id, position as i64, child.guid().as_str()])?;
                }
            }
            if child.children().len() > 0 {
                folders.push((child, child_id));
            }
        }
    }
    // `apply_values` names kept items only, and every kept item is under the root.
    debug_assert!(new_items.is_empty(), "new items outside the merged tree");
    Ok(())
}

/// The place after unfiled's last child.
fn unfiled_end(conn: &Connection) -> Result<(i64, i64), BookmarksError> {
    let unfiled = placement(conn, UNFILED_GUID)?.map_or(4, |p| p.id);
    let count: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM items WHERE parent_id = ?")?
        .query_row([unfiled], |r| r.get(0))?;
    Ok((unfiled, count))
}

fn insert_item(
    conn: &Connection,
    guid: &str,
    row: &NewRow,
    parent_id: i64,
    position: i64,
    now: i64,
) -> Result<i64, BookmarksError> {
    let values = &row.values;
    let unknown = (!values.unknown.is_empty())
        .then(|| serde_json::to_string(&values.unknown))
        .transpose()?;
    conn.prepare_cached(
        "INSERT INTO items (guid, kind, parent_id, position, title, url, keyword, date_added,
                            last_modified, sync_status, change_counter, unknown_fields)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0, ?)",
    )?
    .execute(params![
        guid,
        row.kind.as_i64(),
        parent_id,
        position,
        values.title,
        values.url,
        values.keyword,
        values.date_added.unwrap_or(now),
        row.last_modified,
        unknown
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Moves up to `limit` merged records from `incoming` into the mirror;
/// returns how many moved (0: done). Run after the merge's transaction
/// commits, one chunk per transaction, so app writes slip in between.
/// Interrupted part way, what is left in `incoming` is merged again by the
/// next sync: the same records against items that already hold them.
pub(crate) fn fold_incoming(conn: &Connection, limit: usize) -> Result<usize, BookmarksError> {
    let limit = limit as i64;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO mirror (guid, server_modified, is_deleted, payload)
         SELECT guid, server_modified, is_deleted, payload FROM incoming ORDER BY id LIMIT ?",
    )?
    .execute([limit])?;
    let moved = conn
        .prepare_cached("DELETE FROM incoming WHERE id IN (SELECT id FROM incoming ORDER BY id LIMIT ?)")?
        .execute([limit])?;
    Ok(moved)
}
