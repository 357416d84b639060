//! Rows into the store's types, and BSO inputs into the parallel arrays a
//! set-based statement unnests.

use std::borrow::Cow;
use std::collections::HashSet;

use postgres::Row;
use postgres::types::ToSql;

use crate::db::DbError;
use crate::db::backend::Collection;
use crate::db::batches::overlay;
use crate::db::types::User;
use crate::db::types::{Bso, BsoInput};
use crate::db::types::{SizeDelta, Written};

pub(super) fn bso_row(r: &Row) -> Result<Bso, DbError> {
    Ok(Bso {
        id: r.try_get(0)?,
        modified: r.try_get(1)?,
        sortindex: r.try_get(2)?,
        payload: r.try_get(3)?,
    })
}

/// `(collection, modified, total_bytes, bso_count)`.
pub(super) fn collection_row(r: &Row) -> Result<Collection, DbError> {
    Ok((
        r.try_get(0)?,
        r.try_get(1)?,
        SizeDelta {
            bytes: r.try_get(2)?,
            count: r.try_get(3)?,
        },
    ))
}

pub(super) fn user_row(r: &Row) -> Result<User, DbError> {
    Ok(User {
        uid: r.try_get::<_, i64>(0)? as u64,
        fxa_uid: r.try_get(1)?,
        generation: r.try_get(2)?,
        keys_changed_at: r.try_get(3)?,
        client_state: r.try_get(4)?,
        node: r.try_get(5)?,
    })
}

/// Sums `RETURNING octet_length(payload)` rows into a (negative) size change.
pub(super) fn removed(rows: &[Row]) -> Result<SizeDelta, DbError> {
    let mut delta = SizeDelta::default();
    for row in rows {
        delta.bytes -= row.try_get::<_, i64>(0)?;
        delta.count -= 1;
    }
    Ok(delta)
}

/// The `(count, bytes, collection bytes)` row `write_into_bsos!` returns.
pub(super) fn written(r: &Row) -> Result<Written, DbError> {
    Ok(Written {
        delta: SizeDelta {
            count: r.try_get(0)?,
            bytes: r.try_get(1)?,
        },
        collection_bytes: r.try_get(2)?,
    })
}

/// `inputs` with a repeated id folded into one (the later wins each field
/// it gives): a statement may insert or update each row once. Borrowed as
/// they are when their ids are distinct, as a POST's always are.
pub(super) fn distinct(inputs: &[BsoInput]) -> Cow<'_, [BsoInput]> {
    let mut seen = HashSet::with_capacity(inputs.len());
    if inputs.iter().all(|b| seen.insert(b.id.as_str())) {
        Cow::Borrowed(inputs)
    } else {
        Cow::Owned(overlay(Vec::new(), inputs))
    }
}

/// BSO inputs of distinct ids as parallel arrays, borrowing their ids and
/// payloads: what a set-based statement unnests. A statement takes them as
/// its last six parameters (`Columns::after`), in this order.
pub(super) struct Columns<'a> {
    pub(super) ids: Vec<&'a str>,
    pub(super) sortindexes: Vec<Option<i64>>,
    pub(super) sortindex_set: Vec<bool>,
    pub(super) payloads: Vec<Option<&'a str>>,
    pub(super) ttls: Vec<Option<i64>>,
    pub(super) ttl_set: Vec<bool>,
}

impl<'a> Columns<'a> {
    pub(super) fn of(inputs: &'a [BsoInput]) -> Columns<'a> {
        Columns {
            ids: inputs.iter().map(|b| b.id.as_str()).collect(),
            sortindexes: inputs.iter().map(|b| b.sortindex.flatten()).collect(),
            sortindex_set: inputs.iter().map(|b| b.sortindex.is_some()).collect(),
            payloads: inputs.iter().map(|b| b.payload.as_deref()).collect(),
            ttls: inputs
                .iter()
                .map(|b| b.ttl.flatten().map(|t| t.min(i64::MAX as u64) as i64))
                .collect(),
            ttl_set: inputs.iter().map(|b| b.ttl.is_some()).collect(),
        }
    }

    /// A statement's parameters: `first`, then the six arrays.
    pub(super) fn after<'p>(&'p self, first: &[&'p (dyn ToSql + Sync)]) -> Vec<&'p (dyn ToSql + Sync)> {
        let mut params = Vec::with_capacity(first.len() + 6);
        params.extend_from_slice(first);
        params.extend_from_slice(&[
            &self.ids as &(dyn ToSql + Sync),
            &self.sortindexes,
            &self.sortindex_set,
            &self.payloads,
            &self.ttls,
            &self.ttl_set,
        ]);
        params
    }
}
