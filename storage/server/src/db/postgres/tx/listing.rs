//! Listing a collection: the rows a `GET storage/<collection>` selects, and
//! how many there are (for an unpaged read's `X-Weave-Records`).

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;

use super::rows::bso_row;
use super::{Conn, FETCH_ROWS, PgTx};
use crate::db::DbError;
use crate::db::types::{Bso, CollectionQuery, SortOrder};

/// The values a listing binds, owned for as long as the statement runs.
struct Bound {
    uid: i64,
    now: i64,
    fetch: Option<i64>,
    offset: i64,
}

impl Bound {
    /// What a listing of `query` binds.
    fn of(uid: u64, now: i64, query: &CollectionQuery) -> Bound {
        Bound {
            uid: uid as i64,
            now,
            // One more than asked tells whether there is a next page; NULL: no limit.
            fetch: query
                .limit
                .map(|l| l.saturating_add(1).min(i64::MAX as u64) as i64),
            offset: query.offset.min(i64::MAX as u64) as i64,
        }
    }
}

/// `WHERE …` of a listing and its parameters: the live BSOs of the
/// collection that `query`'s filters keep (not its order, limit or offset).
fn filter<'a>(
    bound: &'a Bound,
    collection: &'a &'a str,
    query: &'a CollectionQuery,
) -> (String, Vec<&'a (dyn ToSql + Sync)>) {
    // `modified >= 0` (true of every row) names the listing indexes'
    // predicate, which only listings state (schema migration 3).
    let mut sql = String::from(" WHERE uid = $1 AND collection = $2 AND expiry > $3 AND modified >= 0");
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&bound.uid, collection, &bound.now];
    if let Some(newer) = &query.newer {
        params.push(newer);
        sql.push_str(&format!(" AND modified > ${}", params.len()));
    }
    if let Some(older) = &query.older {
        params.push(older);
        sql.push_str(&format!(" AND modified < ${}", params.len()));
    }
    if let Some(ids) = &query.ids {
        params.push(ids);
        sql.push_str(&format!(" AND id = ANY(${})", params.len()));
    }
    (sql, params)
}

/// The statement selecting a listing's rows `(id, modified, sortindex,
/// payload)` in its order, from its offset, at most `bound.fetch` of them.
fn listing<'a>(
    bound: &'a Bound,
    collection: &'a &'a str,
    query: &'a CollectionQuery,
) -> (String, Vec<&'a (dyn ToSql + Sync)>) {
    let (filter, mut params) = filter(bound, collection, query);
    let mut sql = String::from(if query.ids_only {
        "SELECT id, modified, sortindex, ''::TEXT AS payload FROM bsos"
    } else {
        "SELECT id, modified, sortindex, payload FROM bsos"
    });
    sql.push_str(&filter);
    sql.push_str(match query.sort {
        SortOrder::Unspecified | SortOrder::Oldest => " ORDER BY modified ASC, id ASC",
        SortOrder::Newest => " ORDER BY modified DESC, id ASC",
        // SQLite sorts NULL lowest, so last when descending; so here.
        SortOrder::Index => " ORDER BY sortindex DESC NULLS LAST, id ASC",
    });
    params.push(&bound.fetch);
    sql.push_str(&format!(" LIMIT ${}", params.len()));
    params.push(&bound.offset);
    sql.push_str(&format!(" OFFSET ${}", params.len()));
    (sql, params)
}

/// Hands the rows of `rows` to `take` until it returns false.
fn stream(
    mut rows: postgres::RowIter<'_>,
    answered: &mut u32,
    take: &mut dyn FnMut(Bso) -> bool,
) -> Result<(), DbError> {
    *answered += 1;
    while let Some(row) = rows.next()? {
        if !take(bso_row(&row)?) {
            break;
        }
    }
    Ok(())
}

impl PgTx<'_> {
    pub(super) fn list_bsos(
        &mut self,
        uid: u64,
        collection: &str,
        query: &CollectionQuery,
        now: i64,
        take: &mut dyn FnMut(Bso) -> bool,
    ) -> Result<(), DbError> {
        let bound = Bound::of(uid, now, query);
        let (sql, params) = listing(&bound, &collection, query);
        let stmt = self.prepared(&sql)?;
        match &mut self.tx {
            // A read without a limit may be the whole of a large
            // collection, and its reader may stop early (the first
            // megabyte, then a count: `db::unpaged`): a portal fetched in
            // steps sends no row past the step where it stopped, and holds
            // one step's rows at a time.
            Conn::Tx(tx) if bound.fetch.is_none() => {
                let portal = tx.bind(&stmt, &params)?;
                *self.answered += 1;
                loop {
                    let rows = tx.query_portal(&portal, FETCH_ROWS)?;
                    let last = rows.len() < FETCH_ROWS as usize;
                    for row in &rows {
                        if !take(bso_row(row)?) {
                            return Ok(());
                        }
                    }
                    if last {
                        return Ok(());
                    }
                }
            }
            // With a limit, at most that many rows: streamed as they
            // arrive, in one round trip.
            Conn::Tx(tx) => stream(tx.query_raw(&stmt, params)?, self.answered, take),
            Conn::Auto(client) => stream(client.query_raw(&stmt, params)?, self.answered, take),
        }
    }

    /// The collection's last-modified time and its listing, from one
    /// statement (one snapshot, no transaction): the listing joined
    /// laterally to the one row holding the time, so a listing with no
    /// rows still brings the time. A nested loop over one outer row hands
    /// out the inner rows in the inner query's order.
    pub(super) fn page_of(
        &mut self,
        uid: u64,
        collection: &str,
        query: &CollectionQuery,
        now: i64,
        take: &mut dyn FnMut(Bso) -> bool,
    ) -> Result<Option<i64>, DbError> {
        let bound = Bound::of(uid, now, query);
        let (inner, params) = listing(&bound, &collection, query);
        let sql = format!(
            "SELECT l.id, l.modified, l.sortindex, l.payload, c.modified
             FROM (SELECT (SELECT modified FROM user_collections WHERE uid = $1 AND collection = $2)
                   AS modified) c
             LEFT JOIN LATERAL ({inner}) l ON true"
        );
        let stmt = self.prepared(&sql)?;
        let mut rows = match &mut self.tx {
            Conn::Tx(tx) => tx.query_raw(&stmt, params)?,
            Conn::Auto(client) => client.query_raw(&stmt, params)?,
        };
        *self.answered += 1;
        let mut modified = None;
        let mut taking = true;
        while let Some(row) = rows.next()? {
            modified = row.try_get(4)?;
            if taking && row.try_get::<_, Option<String>>(0)?.is_some() {
                taking = take(bso_row(&row)?);
            }
            if !taking {
                break;
            }
        }
        Ok(modified)
    }

    pub(super) fn count_listing(
        &mut self,
        uid: u64,
        collection: &str,
        query: &CollectionQuery,
        now: i64,
    ) -> Result<u64, DbError> {
        let bound = Bound {
            uid: uid as i64,
            now,
            fetch: None,
            offset: 0,
        };
        let (filter, params) = filter(&bound, &collection, query);
        let row = self.query_one(&format!("SELECT count(*) FROM bsos{filter}"), &params)?;
        let total: i64 = row.try_get(0)?;
        Ok((total.max(0) as u64).saturating_sub(query.offset))
    }
}
