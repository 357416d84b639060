//! [`HistoryStore`]: the app-facing history API.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, params};
use sync_sql::engine_meta::SYNC_ASSOCIATION;
use sync_sql::meta::get_meta;
use sync15::Guid;

use crate::HistoryError;
use crate::page_stats::{mark_page_changed, now_us, update_page_stats};
use crate::schema::SCHEMA;
use crate::types::{PageInfo, QueryMatch, VisitInfo, VisitTransition, visit_micros, visit_ms};

/// Longest URL stored (Firefox's limit).
pub const MAX_URL_LEN: usize = 65_536;

/// What the history engine uploads per sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryConfig {
    /// At most this many changed pages per sync, most frecent first; the
    /// rest go on the next sync.
    pub max_outgoing: usize,
    /// Changed pages last visited longer ago than this are not uploaded.
    pub max_outgoing_age: Duration,
}

impl Default for HistoryConfig {
    /// Firefox's: 5,000 pages, visited in the last 30 days.
    fn default() -> Self {
        HistoryConfig {
            max_outgoing: 5_000,
            max_outgoing_age: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// The history store; see the crate docs. It is also the `history`
/// [`SyncEngine`](sync15::SyncEngine).
pub struct HistoryStore {
    pub(crate) conn: Mutex<Connection>,
    pub(crate) config: HistoryConfig,
    /// Pages handed out for upload: guid → change counter then (`None`
    /// for a tombstone).
    pub(crate) uploading: Mutex<HashMap<String, Option<i64>>>,
    /// What merging the downloaded pages did, for `apply` to report.
    pub(crate) incoming_stats: Mutex<sync15::ApplyStats>,
    recreated: Option<sync_sql::Recreated>,
}

impl std::fmt::Debug for HistoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryStore").finish_non_exhaustive()
    }
}

/// A URL checked and in canonical form.
pub fn normalize_url(text: &str) -> Result<String, HistoryError> {
    if text.len() > MAX_URL_LEN {
        return Err(HistoryError::InvalidUrl(format!(
            "longer than {MAX_URL_LEN} bytes"
        )));
    }
    let url = url::Url::parse(text.trim()).map_err(|e| HistoryError::InvalidUrl(format!("{text:?}: {e}")))?;
    let normal = url.to_string();
    if normal.len() > MAX_URL_LEN {
        return Err(HistoryError::InvalidUrl(format!(
            "longer than {MAX_URL_LEN} bytes"
        )));
    }
    Ok(normal)
}

/// Whether pages of this URL are synced (local schemes are not).
pub fn is_syncable_url(url: &str) -> bool {
    const LOCAL: [&str; 11] = [
        "file",
        "about",
        "data",
        "javascript",
        "blob",
        "moz-extension",
        "chrome",
        "resource",
        "place",
        "view-source",
        "wyciwyg",
    ];
    url.len() <= MAX_URL_LEN
        && url
            .split_once(':')
            .is_some_and(|(scheme, _)| !LOCAL.contains(&scheme.to_ascii_lowercase().as_str()))
}

/// `text` with the `LIKE` wildcards (and the escape itself) escaped by a backslash.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

const PAGE_COLUMNS: &str = "guid, url, title, frecency, hidden, visit_count, last_visit";

fn page_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PageInfo> {
    Ok(PageInfo {
        guid: Guid::new(&r.get::<_, String>(0)?),
        url: r.get(1)?,
        title: r.get(2)?,
        frecency: r.get(3)?,
        hidden: r.get(4)?,
        visit_count: r.get(5)?,
        last_visit_us: r.get(6)?,
    })
}

/// Whether the store has ever synced (then every deletion is sent).
pub(crate) fn ever_synced(conn: &Connection) -> Result<bool, HistoryError> {
    Ok(get_meta(conn, SYNC_ASSOCIATION)?.is_some())
}

/// Deletes a page and its visits; leaves a tombstone if the server may
/// have it.
pub(crate) fn delete_page_by_id(
    conn: &Connection,
    page_id: i64,
    ever_synced: bool,
) -> Result<(), HistoryError> {
    let (guid, status): (String, i64) = conn
        .prepare_cached("SELECT guid, sync_status FROM pages WHERE id = ?")?
        .query_row([page_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    conn.prepare_cached("DELETE FROM pages WHERE id = ?")?
        .execute([page_id])?;
    if status != 2 || ever_synced {
        conn.prepare_cached("INSERT OR REPLACE INTO tombstones (guid, deleted_at) VALUES (?, ?)")?
            .execute(params![guid, now_us() / 1000])?;
    }
    Ok(())
}

impl HistoryStore {
    /// Opens (creating) the store at `path` with Firefox's upload limits.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, HistoryError> {
        Self::open_with_config(path, HistoryConfig::default())
    }

    /// Opens (creating) the store at `path`.
    pub fn open_with_config(path: impl AsRef<Path>, config: HistoryConfig) -> Result<Self, HistoryError> {
        // A larger page cache: a first sync writes millions of visits.
        let options = sync_sql::OpenOptions {
            cache_size: -64 * 1024,
            ..sync_sql::OpenOptions::default()
        };
        let (conn, recreated) = sync_sql::open_store(path, &options, &SCHEMA)?;
        conn.execute_batch("PRAGMA wal_autocheckpoint = 16384;")?;
        Ok(HistoryStore {
            conn: Mutex::new(conn),
            config,
            uploading: Mutex::new(HashMap::new()),
            incoming_stats: Mutex::new(sync15::ApplyStats::default()),
            recreated,
        })
    }

    /// If the store's file was corrupt when opened: where it was moved, and
    /// why (a fresh store took its place; the next sync refills it). See
    /// [`sync_sql::open_store`].
    pub fn recreated_from_corruption(&self) -> Option<&sync_sql::Recreated> {
        self.recreated.as_ref()
    }

    /// Records a visit to `url` at `date_us` (µs since the epoch). A visit
    /// with the same transition in the same millisecond is that visit again
    /// (Firefox syncs visits to the millisecond), and is not added twice.
    pub fn record_visit(
        &self,
        url: &str,
        date_us: i64,
        transition: VisitTransition,
    ) -> Result<(), HistoryError> {
        let url = normalize_url(url)?;
        if date_us <= 0 {
            return Err(HistoryError::InvalidVisit(format!(
                "date {date_us} is not after 1970"
            )));
        }
        let date_us = date_us.min(now_us());
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            let page_id = match page_id(tx, &url)? {
                Some(id) => id,
                None => {
                    tx.prepare_cached("INSERT INTO pages (guid, url, sync_status) VALUES (?, ?, 2)")?
                        .execute(params![Guid::random().as_str(), url])?;
                    tx.last_insert_rowid()
                }
            };
            // A visit the same to the millisecond as one stored is that visit.
            tx.prepare_cached(
                "INSERT OR IGNORE INTO visits (page_id, date_ms, transition, micros, is_local) VALUES (?, ?, ?, ?, 1)",
            )?
            .execute(params![
                page_id,
                visit_ms(date_us),
                transition.as_u8(),
                visit_micros(date_us)
            ])?;
            update_page_stats(tx, page_id, now_us())?;
            mark_page_changed(tx, page_id)
        })
    }

    /// Sets the title of a visited page.
    pub fn set_title(&self, url: &str, title: &str) -> Result<(), HistoryError> {
        let url = normalize_url(url)?;
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            let id = page_id(tx, &url)?.ok_or_else(|| HistoryError::NotFound(url.clone()))?;
            tx.execute("UPDATE pages SET title = ? WHERE id = ?", params![title, id])?;
            mark_page_changed(tx, id)
        })
    }

    /// A page, if it was visited.
    pub fn get_page(&self, url: &str) -> Result<Option<PageInfo>, HistoryError> {
        let url = normalize_url(url)?;
        let conn = self.conn.lock();
        Ok(conn
            .query_row(
                &format!("SELECT {PAGE_COLUMNS} FROM pages WHERE url = ?"),
                [url],
                page_row,
            )
            .optional()?)
    }

    /// Visible pages matching `text`, most frecent first, `limit` from `offset`.
    pub fn query(
        &self,
        text: &str,
        how: QueryMatch,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<PageInfo>, HistoryError> {
        let escaped = like_escape(text);
        let (condition, pattern) = match how {
            QueryMatch::UrlPrefix => ("url LIKE ?1 ESCAPE '\\'", format!("{escaped}%")),
            QueryMatch::Substring => (
                "(url LIKE ?1 ESCAPE '\\' OR title LIKE ?1 ESCAPE '\\')",
                format!("%{escaped}%"),
            ),
        };
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {PAGE_COLUMNS} FROM pages WHERE hidden = 0 AND visit_count > 0 AND {condition}
             ORDER BY frecency DESC, last_visit DESC, id LIMIT CAST(?2 AS INTEGER) OFFSET CAST(?3 AS INTEGER)"
        ))?;
        let rows = stmt.query_map(params![pattern, limit as i64, offset as i64], page_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Visible pages last visited at or after `since_us` (microseconds
    /// since the epoch), newest first, optionally only those whose URL or
    /// title contains `text` (case-insensitive for ASCII); at most `limit`.
    pub fn recent(
        &self,
        since_us: i64,
        text: Option<&str>,
        limit: usize,
    ) -> Result<Vec<PageInfo>, HistoryError> {
        let pattern = text.map(|t| format!("%{}%", like_escape(t)));
        let conn = self.conn.lock();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {PAGE_COLUMNS} FROM pages
             WHERE hidden = 0 AND visit_count > 0 AND last_visit >= ?1
               AND (?2 IS NULL OR url LIKE ?2 ESCAPE '\\' OR title LIKE ?2 ESCAPE '\\')
             ORDER BY last_visit DESC, id LIMIT CAST(?3 AS INTEGER)"
        ))?;
        let rows = stmt.query_map(params![since_us, pattern, limit as i64], page_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The visits of `url`, newest first.
    pub fn visits(&self, url: &str) -> Result<Vec<VisitInfo>, HistoryError> {
        let url = normalize_url(url)?;
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(
            "SELECT v.date, v.transition, v.is_local FROM visits v JOIN pages p ON p.id = v.page_id
             WHERE p.url = ? ORDER BY v.date_ms DESC, v.date DESC",
        )?;
        let rows = stmt.query_map([url], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, u8>(1)?, r.get::<_, bool>(2)?))
        })?;
        let mut visits = Vec::new();
        for row in rows {
            let (date_us, transition, is_local) = row?;
            if let Some(transition) = VisitTransition::from_u8(transition) {
                visits.push(VisitInfo {
                    date_us,
                    transition,
                    is_local,
                });
            }
        }
        Ok(visits)
    }

    /// Deletes a page and all its visits, here and (on the next sync) on
    /// other devices. Whether it existed.
    pub fn delete_page(&self, url: &str) -> Result<bool, HistoryError> {
        let url = normalize_url(url)?;
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            let Some(id) = page_id(tx, &url)? else {
                return Ok(false);
            };
            delete_page_by_id(tx, id, ever_synced(tx)?)?;
            Ok(true)
        })
    }

    /// Deletes the visits from `start_us` to `end_us` (inclusive). Pages
    /// left without visits are deleted everywhere; the others are
    /// re-uploaded, and the deleted visits cannot come back from another
    /// device. Returns how many visits went.
    pub fn delete_visits_between(&self, start_us: i64, end_us: i64) -> Result<usize, HistoryError> {
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            tx.execute(
                "INSERT OR IGNORE INTO visit_tombstones (url, date)
                 SELECT p.url, v.date FROM visits v JOIN pages p ON p.id = v.page_id WHERE v.date BETWEEN ?1 AND ?2",
                params![start_us, end_us],
            )?;
            let pages: Vec<i64> = {
                let mut stmt =
                    tx.prepare("SELECT DISTINCT page_id FROM visits WHERE date BETWEEN ? AND ?")?;
                stmt.query_map(params![start_us, end_us], |r| r.get(0))?
                    .collect::<Result<_, _>>()?
            };
            let deleted = tx.execute(
                "DELETE FROM visits WHERE date BETWEEN ? AND ?",
                params![start_us, end_us],
            )?;
            let synced_before = ever_synced(tx)?;
            let now = now_us();
            for page in pages {
                update_page_stats(tx, page, now)?;
                let left: i64 =
                    tx.query_row("SELECT visit_count FROM pages WHERE id = ?", [page], |r| r.get(0))?;
                if left == 0 {
                    delete_page_by_id(tx, page, synced_before)?;
                } else {
                    mark_page_changed(tx, page)?;
                }
            }
            Ok(deleted)
        })
    }

    /// Deletes all history, here and (on the next sync) on other devices.
    pub fn delete_everything(&self) -> Result<(), HistoryError> {
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            let all_tombstoned = ever_synced(tx)?;
            tx.execute(
                "INSERT OR REPLACE INTO tombstones (guid, deleted_at)
                 SELECT guid, ?1 FROM pages WHERE sync_status != 2 OR ?2",
                params![now_us() / 1000, all_tombstoned],
            )?;
            tx.execute_batch("DELETE FROM visits; DELETE FROM pages;")?;
            Ok(())
        })
    }

    /// Recomputes the frecency of up to `limit` pages whose score is more
    /// than a day old (scores decay with time); returns how many. Apps call
    /// it when idle.
    pub fn recompute_stale_frecencies(&self, limit: usize) -> Result<usize, HistoryError> {
        let mut conn = self.conn.lock();
        sync_sql::in_transaction(&mut conn, |tx| {
            let now = now_us();
            let day = 24 * 3600 * 1_000_000i64;
            let stale: Vec<i64> = {
                let mut stmt =
                    tx.prepare("SELECT id FROM pages WHERE frecency_at < ? ORDER BY frecency_at LIMIT CAST(? AS INTEGER)")?;
                stmt.query_map(params![now - day, limit as i64], |r| r.get(0))?
                    .collect::<Result<_, _>>()?
            };
            for id in &stale {
                update_page_stats(tx, *id, now)?;
            }
            Ok(stale.len())
        })
    }
}

pub(crate) fn page_id(conn: &Connection, url: &str) -> Result<Option<i64>, HistoryError> {
    Ok(conn
        .prepare_cached("SELECT id FROM pages WHERE url = ?")?
        .query_row([url], |r| r.get(0))
        .optional()?)
}
