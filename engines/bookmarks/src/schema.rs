//! The bookmark store's schema.

use sync_sql::{Migration, Migrations};

pub(crate) const SCHEMA: Migrations = Migrations::new(STEPS);

const STEPS: &[Migration] = &[
    Migration::sql(
        1,
        "bookmark store",
        r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

-- The tree. Positions are 0..n-1 within a parent, kept dense.
CREATE TABLE items (
    id             INTEGER PRIMARY KEY,
    guid           TEXT NOT NULL UNIQUE,
    kind           INTEGER NOT NULL,              -- 1 bookmark, 2 folder, 3 separator, 4 query
    parent_id      INTEGER REFERENCES items (id), -- NULL only for the Places root
    position       INTEGER NOT NULL,
    title          TEXT NOT NULL DEFAULT '',
    url            TEXT,                          -- bookmarks and queries
    keyword        TEXT,
    date_added     INTEGER NOT NULL,              -- ms
    last_modified  INTEGER NOT NULL,              -- ms, last change made here
    sync_status    INTEGER NOT NULL,              -- 0 never synced, 1 synced before
    change_counter INTEGER NOT NULL DEFAULT 1,    -- > 0: changed since the last upload
    unknown_fields TEXT                           -- record fields this code does not know
);
CREATE INDEX items_children ON items (parent_id, position);
CREATE INDEX items_by_url ON items (url) WHERE url IS NOT NULL;

-- Tags belong to URLs, as in Firefox: every bookmark of a URL shows them.
CREATE TABLE tags (
    url TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (url, tag)
) WITHOUT ROWID;
CREATE INDEX tags_by_tag ON tags (tag);

-- Items deleted here, until the server has the tombstone.
CREATE TABLE tombstones (
    guid       TEXT PRIMARY KEY,
    deleted_at INTEGER NOT NULL
) WITHOUT ROWID;

-- The server's records as this device last merged them: the remote tree's
-- base, and the base of field-by-field merges. Rowid tables: payloads are
-- large. Ids are local (`menu________`, not `menu`).
CREATE TABLE mirror (
    id              INTEGER PRIMARY KEY,
    guid            TEXT NOT NULL UNIQUE,
    server_modified INTEGER NOT NULL,   -- ms
    is_deleted      INTEGER NOT NULL,
    payload         TEXT                -- the cleartext; NULL for tombstones
);
-- Records downloaded in this sync, not merged yet.
CREATE TABLE incoming (
    id              INTEGER PRIMARY KEY,
    guid            TEXT NOT NULL UNIQUE,
    server_modified INTEGER NOT NULL,
    is_deleted      INTEGER NOT NULL,
    payload         TEXT
);

-- The roots, added now (a dateAdded of 0 would be reuploaded by every device).
INSERT INTO items (id, guid, kind, parent_id, position, date_added, last_modified, sync_status)
VALUES (1, 'root________', 2, NULL, 0, unixepoch() * 1000, 0, 0),
       (2, 'menu________', 2, 1, 0, unixepoch() * 1000, 0, 0),
       (3, 'toolbar_____', 2, 1, 1, unixepoch() * 1000, 0, 0),
       (4, 'unfiled_____', 2, 1, 2, unixepoch() * 1000, 0, 0),
       (5, 'mobile______', 2, 1, 3, unixepoch() * 1000, 0, 0);
"#,
    ),
    // Firefox's roots are titled with their names (its JSON backups show
    // `"title": "menu"`; application-services creates them so), and a
    // root's title is what its children send as `parentName`. Roots made
    // here had no title, so a re-uploaded `mobile` blanked Firefox's.
    Migration::sql(
        2,
        "roots titled as Firefox titles them",
        r#"
UPDATE items SET title = CASE guid
        WHEN 'menu________' THEN 'menu'
        WHEN 'toolbar_____' THEN 'toolbar'
        WHEN 'unfiled_____' THEN 'unfiled'
        WHEN 'mobile______' THEN 'mobile'
    END
WHERE guid IN ('menu________', 'toolbar_____', 'unfiled_____', 'mobile______') AND title = '';
"#,
    ),
];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn roots_made_before_get_firefox_titles() {
        let mut conn = sync_sql::open_in_memory().unwrap();
        Migrations::new(&STEPS[..1]).apply(&mut conn).unwrap();
        // A root that already took a title keeps it.
        conn.execute_batch("UPDATE items SET title = 'Kept' WHERE guid = 'unfiled_____'")
            .unwrap();
        SCHEMA.apply(&mut conn).unwrap();
        let titles: Vec<(String, String)> = conn
            .prepare("SELECT guid, title FROM items ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let titles: Vec<(&str, &str)> = titles.iter().map(|(g, t)| (g.as_str(), t.as_str())).collect();
        assert_eq!(
            titles,
            [
                ("root________", ""),
                ("menu________", "menu"),
                ("toolbar_____", "toolbar"),
                ("unfiled_____", "Kept"),
                ("mobile______", "mobile"),
            ]
        );
    }
}
