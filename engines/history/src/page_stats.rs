//! A page's derived columns — visit count, last visit, hidden, frecency —
//! and its change tracking, kept by every write that touches its visits
//! (the app's, a sync's merge, a schema migration's).

use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, params};

use crate::HistoryError;
use crate::frecency::{SAMPLED_VISITS, frecency};
use crate::types::VisitTransition;

/// Now, in µs since the epoch.
pub(crate) fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// The `n` newest visits of a page as (date, transition), newest first.
pub(crate) fn newest_visits(
    conn: &Connection,
    page_id: i64,
    n: usize,
) -> Result<Vec<(i64, u8)>, HistoryError> {
    let mut stmt = conn.prepare_cached(
        "SELECT date, transition FROM visits WHERE page_id = ? ORDER BY date_ms DESC, transition DESC
         LIMIT CAST(? AS INTEGER)",
    )?;
    let rows = stmt.query_map(params![page_id, n as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Recomputes a page's visit count, last visit, hidden flag and frecency.
pub(crate) fn update_page_stats(conn: &Connection, page_id: i64, now: i64) -> Result<(), HistoryError> {
    let (count, last, visible): (i64, i64, i64) = conn
        .prepare_cached(
            "SELECT COUNT(*), COALESCE(MAX(date), 0), COALESCE(SUM(transition NOT IN (4, 8)), 0)
             FROM visits WHERE page_id = ?",
        )?
        .query_row([page_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let recent: Vec<(i64, VisitTransition)> = newest_visits(conn, page_id, SAMPLED_VISITS)?
        .into_iter()
        .filter_map(|(date, transition)| VisitTransition::from_u8(transition).map(|t| (date, t)))
        .collect();
    conn.prepare_cached(
        "UPDATE pages SET visit_count = ?, last_visit = ?, hidden = ?, frecency = ?, frecency_at = ? WHERE id = ?",
    )?
    .execute(params![count, last, count > 0 && visible == 0, frecency(count, &recent, now), now, page_id])?;
    Ok(())
}

/// Marks a page changed here: it is uploaded on the next sync.
pub(crate) fn mark_page_changed(conn: &Connection, page_id: i64) -> Result<(), HistoryError> {
    conn.prepare_cached(
        "UPDATE pages SET change_counter = change_counter + 1, local_modified = ?,
             sync_status = CASE sync_status WHEN 0 THEN 1 ELSE sync_status END
         WHERE id = ?",
    )?
    .execute(params![now_us() / 1000, page_id])?;
    Ok(())
}
