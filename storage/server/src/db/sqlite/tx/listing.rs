//! Listing a collection: the rows a `GET storage/<collection>` selects, and
//! how many there are (for an unpaged read's `X-Weave-Records`).

use rusqlite::Connection;
use rusqlite::types::Value;

use super::bso_row;
use crate::db::DbError;
use crate::db::types::{Bso, CollectionQuery, SortOrder};

/// `WHERE …` of a listing and its parameters: the live BSOs of the
/// collection that `query`'s filters keep (not its order, limit or offset).
fn filter(uid: u64, collection: &str, query: &CollectionQuery, now: i64) -> (String, Vec<Value>) {
    // `+expiry`: the expiry index is partial, and letting the planner
    // consider it for a bound value would re-prepare the statement
    // on every execution.
    let mut sql = String::from(" WHERE uid = ? AND collection = ? AND +expiry > ?");
    let mut params: Vec<Value> = vec![
        Value::Integer(uid as i64),
        Value::Text(collection.to_owned()),
        Value::Integer(now),
    ];
    // In sortindex order the time bounds are filters, not the way
    // in (`+`): walking the sortindex index needs no sort step.
    let by_index = matches!(query.sort, SortOrder::Index);
    let modified = if by_index { "+modified" } else { "modified" };
    if let Some(newer) = query.newer {
        sql.push_str(&format!(" AND {modified} > ?"));
        params.push(Value::Integer(newer));
    }
    if let Some(older) = query.older {
        sql.push_str(&format!(" AND {modified} < ?"));
        params.push(Value::Integer(older));
    }
    if let Some(ids) = &query.ids {
        sql.push_str(" AND id IN (");
        sql.push_str(&vec!["?"; ids.len()].join(","));
        sql.push(')');
        params.extend(ids.iter().map(|id| Value::Text(id.clone())));
    }
    (sql, params)
}

pub(super) fn bsos(
    conn: &Connection,
    uid: u64,
    collection: &str,
    query: &CollectionQuery,
    now: i64,
    take: &mut dyn FnMut(Bso) -> bool,
) -> Result<(), DbError> {
    let (filter, mut params) = filter(uid, collection, query, now);
    let mut sql = String::from(if query.ids_only {
        "SELECT id, modified, sortindex, '' FROM bsos"
    } else {
        "SELECT id, modified, sortindex, payload FROM bsos"
    });
    sql.push_str(&filter);
    sql.push_str(match query.sort {
        SortOrder::Unspecified | SortOrder::Oldest => " ORDER BY modified ASC, id ASC",
        SortOrder::Newest => " ORDER BY modified DESC, id ASC",
        // NULLs sort last in DESC order, as the protocol wants.
        SortOrder::Index => " ORDER BY sortindex DESC, id ASC",
    });
    // One more than asked tells whether there is a next page.
    let fetch = query
        .limit
        .map_or(-1, |l| l.saturating_add(1).min(i64::MAX as u64) as i64);
    // CAST keeps the cached statement from being re-prepared per request (see sync_sql).
    sql.push_str(" LIMIT CAST(? AS INTEGER) OFFSET CAST(? AS INTEGER)");
    params.push(Value::Integer(fetch));
    params.push(Value::Integer(query.offset.min(i64::MAX as u64) as i64));

    let mut stmt = conn.prepare_cached(&sql)?;
    // Rows are stepped one by one: a page that fills up stops SQLite
    // from reading further.
    for row in stmt.query_map(rusqlite::params_from_iter(params), bso_row)? {
        if !take(row?) {
            break;
        }
    }
    Ok(())
}

pub(super) fn count(
    conn: &Connection,
    uid: u64,
    collection: &str,
    query: &CollectionQuery,
    now: i64,
) -> Result<u64, DbError> {
    let (filter, params) = filter(uid, collection, query, now);
    let sql = format!("SELECT count(*) FROM bsos{filter}");
    let total: i64 = conn
        .prepare_cached(&sql)?
        .query_row(rusqlite::params_from_iter(params), |r| r.get(0))?;
    Ok((total.max(0) as u64).saturating_sub(query.offset))
}
