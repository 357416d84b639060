//! The history store's schema.

use rusqlite::Transaction;
use sync_sql::{Migration, Migrations};

use crate::page_stats::{mark_page_changed, now_us, update_page_stats};

pub(crate) const SCHEMA: Migrations = Migrations::new(STEPS);

const STEPS: &[Migration] = &[
    Migration::sql(
        1,
        "history store",
        r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE pages (
    id             INTEGER PRIMARY KEY,
    guid           TEXT NOT NULL UNIQUE,
    url            TEXT NOT NULL UNIQUE,
    title          TEXT NOT NULL DEFAULT '',
    frecency       INTEGER NOT NULL DEFAULT 0,
    frecency_at    INTEGER NOT NULL DEFAULT 0,   -- when it was computed, µs
    hidden         INTEGER NOT NULL DEFAULT 0,
    visit_count    INTEGER NOT NULL DEFAULT 0,
    last_visit     INTEGER NOT NULL DEFAULT 0,   -- µs
    local_modified INTEGER NOT NULL DEFAULT 0,   -- ms, last change made here
    sync_status    INTEGER NOT NULL,             -- 0 synced, 1 changed, 2 never uploaded
    change_counter INTEGER NOT NULL DEFAULT 0,
    unknown_fields TEXT
);
CREATE INDEX pages_by_frecency ON pages (frecency DESC);
CREATE INDEX pages_to_upload ON pages (sync_status) WHERE sync_status != 0;
-- One b-tree keyed by what makes a visit unique (no rowid, no second index:
-- an index by date made a first sync of 2,000,000 visits 2.5x slower, and
-- only deleting a time range reads visits by date — a full scan, rarely).
CREATE TABLE visits (
    page_id        INTEGER NOT NULL REFERENCES pages (id) ON DELETE CASCADE,
    date           INTEGER NOT NULL,   -- µs
    transition     INTEGER NOT NULL,
    is_local       INTEGER NOT NULL,
    unknown_fields TEXT,
    PRIMARY KEY (page_id, date, transition)
) WITHOUT ROWID;

-- Pages deleted here, until the server has the tombstone.
CREATE TABLE tombstones (
    guid       TEXT PRIMARY KEY,
    deleted_at INTEGER NOT NULL
) WITHOUT ROWID;
-- Visits deleted here, so that other devices cannot bring them back.
CREATE TABLE visit_tombstones (
    url  TEXT NOT NULL,
    date INTEGER NOT NULL,
    PRIMARY KEY (url, date)
) WITHOUT ROWID;
"#,
    ),
    // The upload query walks pending pages in frecency order: with the
    // order in the partial index, it never visits pages already synced.
    Migration::sql(
        2,
        "pending pages by frecency",
        r#"
DROP INDEX pages_to_upload;
CREATE INDEX pages_to_upload ON pages (frecency DESC, id) WHERE sync_status != 0;
"#,
    ),
    Migration::code(3, "visits unique to the millisecond", visits_by_millisecond),
];

/// Two visits of a page are the same when their dates agree to the
/// millisecond and their transitions match, as Firefox desktop dedupes
/// (`history.sys.mjs`, `_recordToPlaceInfo`: the key
/// `${date in ms},${transition}`) and application-services stores them (its
/// visit dates are milliseconds; it uploads `ms × 1000`). Keyed on the exact
/// microsecond, a visit held here as …053534 µs came back from Firefox
/// Android as …053000 and became a second visit, re-uploaded and doubled
/// again on every node reassignment. The key is now `date_ms`; `micros`
/// keeps the microseconds within it that the visit was recorded or received
/// with, and `date` (computed, not stored) gives the whole µs date back — a
/// row no larger than before, where a stored second date made a first sync
/// of 2,000,000 visits hold 28 MiB more.
///
/// Duplicates already stored collapse into the one recorded here, else the
/// one with its own microseconds (not a copy truncated to ms), else the
/// earliest; their pages are re-counted and re-uploaded without the copies.
fn visits_by_millisecond(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE visits_by_ms (
             page_id        INTEGER NOT NULL REFERENCES pages (id) ON DELETE CASCADE,
             date_ms        INTEGER NOT NULL,   -- ms: what makes a visit unique
             transition     INTEGER NOT NULL,
             micros         INTEGER NOT NULL,   -- 0-999: the µs within date_ms
             is_local       INTEGER NOT NULL,
             unknown_fields TEXT,
             date           INTEGER GENERATED ALWAYS AS (date_ms * 1000 + micros) VIRTUAL,
             PRIMARY KEY (page_id, date_ms, transition)
         ) WITHOUT ROWID;
         CREATE TEMP TABLE pages_with_copies AS
             SELECT DISTINCT page_id AS id FROM visits
             GROUP BY page_id, date / 1000, transition HAVING count(*) > 1;
         INSERT OR IGNORE INTO visits_by_ms (page_id, date_ms, transition, micros, is_local, unknown_fields)
             SELECT page_id, date / 1000, transition, date % 1000, is_local, unknown_fields FROM visits
             ORDER BY page_id, date / 1000, transition, is_local DESC, date % 1000 = 0, date;
         DROP TABLE visits;
         ALTER TABLE visits_by_ms RENAME TO visits;",
    )?;
    let pages: Vec<i64> = tx
        .prepare("SELECT id FROM temp.pages_with_copies")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let now = now_us();
    for page in pages {
        let fixed = update_page_stats(tx, page, now).and_then(|()| mark_page_changed(tx, page));
        fixed.map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    }
    tx.execute_batch("DROP TABLE temp.pages_with_copies")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn stored_copies_collapse_and_their_pages_go_up_again() {
        let mut conn = sync_sql::open_in_memory().unwrap();
        Migrations::new(&STEPS[..2]).apply(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO pages (id, guid, url, sync_status, visit_count)
                 VALUES (1, 'aaaaaaaaaaaa', 'https://a.example/', 0, 5),
                        (2, 'bbbbbbbbbbbb', 'https://b.example/', 0, 2);
             INSERT INTO visits (page_id, date, transition, is_local) VALUES
                 (1, 1700000000053000, 1, 0), -- the copy, truncated to ms, as it came back
                 (1, 1700000000053534, 1, 1), -- recorded here
                 (1, 1700000000053000, 2, 0), -- the same ms, another transition: a visit of its own
                 (1, 1700000001000000, 1, 0),
                 (1, 1700000001000999, 1, 0), -- a remote copy with its own µs
                 (2, 1700000002000000, 1, 0),
                 (2, 1700000003000000, 1, 0);",
        )
        .unwrap();
        assert_eq!(SCHEMA.apply(&mut conn).unwrap(), 3);

        let visits: Vec<(i64, i64, i64, bool)> = conn
            .prepare("SELECT page_id, date, transition, is_local FROM visits ORDER BY page_id, date_ms, transition")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            visits,
            [
                (1, 1_700_000_000_053_534, 1, true),
                (1, 1_700_000_000_053_000, 2, false),
                (1, 1_700_000_001_000_999, 1, false),
                (2, 1_700_000_002_000_000, 1, false),
                (2, 1_700_000_003_000_000, 1, false),
            ]
        );
        let pages: Vec<(i64, i64, i64, i64)> = conn
            .prepare("SELECT id, visit_count, sync_status, change_counter FROM pages ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        // Page 1 is re-counted and goes up again without its copies; page 2
        // is left as it was.
        assert_eq!(pages, [(1, 3, 1, 1), (2, 2, 0, 0)]);
    }
}
