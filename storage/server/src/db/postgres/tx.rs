//! The store's statements in PostgreSQL. Multi-BSO writes are set-based:
//! one statement per request (arrays unnested into one insert and one update),
//! never one per record.

use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{Client, Row, Statement, Transaction};

use crate::db::DbError;
use crate::db::backend::{Collection, ReadTx, WriteTx};
use crate::db::types::{Bso, BsoInput, CollectionQuery};
use crate::db::types::{Node, User, UserRecord};
use crate::db::types::{SizeDelta, WriteStart, Written};

type Params<'a> = [&'a (dyn ToSql + Sync)];

/// Runs a prepared `sql` on whichever handle a [`PgTx`] holds (the two have
/// the same methods but no object-safe trait in common), counting the round
/// trip as answered once it succeeds.
macro_rules! on_handle {
    ($tx:ident, $sql:expr, |$c:ident, $stmt:ident| $call:expr) => {{
        let $stmt = $tx.prepared($sql)?;
        let out = match &mut $tx.tx {
            Conn::Tx($c) => $call?,
            Conn::Auto($c) => $call?,
        };
        *$tx.answered += 1;
        Ok(out)
    }};
}

#[macro_use]
mod writes;

mod batches;
mod listing;
mod rows;

use rows::{bso_row, collection_row, removed, user_row};

/// Rows a page read fetches per round trip; a page that fills up stops
/// fetching.
const FETCH_ROWS: i32 = 500;

/// What statements run in: a transaction with its `postgres` handle (a
/// read's snapshot, which portals need), or the connection itself — a
/// write's transaction begun by hand with its lock in the same round trip,
/// or, for a read of one statement, no transaction at all (autocommit: the
/// statement's snapshot is its own).
pub(super) enum Conn<'c> {
    Tx(Transaction<'c>),
    Auto(&'c mut Client),
}

/// A transaction (or an autocommit read) on a pooled connection, with that
/// connection's statements.
pub(super) struct PgTx<'c> {
    pub(super) tx: Conn<'c>,
    pub(super) statements: &'c mut HashMap<String, Statement>,
    /// Round trips PostgreSQL answered (see `Postgres::on_connection`).
    pub(super) answered: &'c mut u32,
}

impl<'c> PgTx<'c> {
    /// `sql`, prepared once per connection.
    fn prepared(&mut self, sql: &str) -> Result<Statement, DbError> {
        if let Some(stmt) = self.statements.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = match &mut self.tx {
            Conn::Tx(tx) => tx.prepare(sql)?,
            Conn::Auto(client) => client.prepare(sql)?,
        };
        *self.answered += 1;
        self.statements.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }

    pub(super) fn execute(&mut self, sql: &str, params: &Params<'_>) -> Result<u64, DbError> {
        on_handle!(self, sql, |c, stmt| c.execute(&stmt, params))
    }

    fn query(&mut self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, DbError> {
        on_handle!(self, sql, |c, stmt| c.query(&stmt, params))
    }

    fn query_opt(&mut self, sql: &str, params: &Params<'_>) -> Result<Option<Row>, DbError> {
        on_handle!(self, sql, |c, stmt| c.query_opt(&stmt, params))
    }

    fn query_one(&mut self, sql: &str, params: &Params<'_>) -> Result<Row, DbError> {
        on_handle!(self, sql, |c, stmt| c.query_one(&stmt, params))
    }
}

impl ReadTx for PgTx<'_> {
    fn user_timestamp(&mut self, uid: u64) -> Result<i64, DbError> {
        let row = self.query_opt(
            "SELECT modified FROM user_timestamps WHERE uid = $1",
            &[&(uid as i64)],
        )?;
        Ok(row.map(|r| r.try_get(0)).transpose()?.unwrap_or(0))
    }

    fn collection_modified(&mut self, uid: u64, collection: &str) -> Result<Option<i64>, DbError> {
        let row = self.query_opt(
            "SELECT modified FROM user_collections WHERE uid = $1 AND collection = $2",
            &[&(uid as i64), &collection],
        )?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    fn collections(&mut self, uid: u64) -> Result<Vec<Collection>, DbError> {
        let rows = self.query(
            "SELECT collection, modified, total_bytes, bso_count FROM user_collections
             WHERE uid = $1 ORDER BY collection",
            &[&(uid as i64)],
        )?;
        rows.iter().map(collection_row).collect()
    }

    fn collections_and_user_timestamp(&mut self, uid: u64) -> Result<(i64, Vec<Collection>), DbError> {
        // The collections joined laterally to the one row holding the
        // user's time, so a user without collections still brings it.
        let rows = self.query(
            "SELECT c.collection, c.modified, c.total_bytes, c.bso_count, t.modified
             FROM (SELECT (SELECT modified FROM user_timestamps WHERE uid = $1) AS modified) t
             LEFT JOIN LATERAL (SELECT collection, modified, total_bytes, bso_count FROM user_collections
                                WHERE uid = $1 ORDER BY collection) c ON true",
            &[&(uid as i64)],
        )?;
        let mut user_modified = 0;
        let mut collections = Vec::with_capacity(rows.len());
        for row in &rows {
            user_modified = row.try_get::<_, Option<i64>>(4)?.unwrap_or(0);
            if row.try_get::<_, Option<String>>(0)?.is_some() {
                collections.push(collection_row(row)?);
            }
        }
        Ok((user_modified, collections))
    }

    fn expired_sizes(&mut self, uid: u64, now: i64) -> Result<HashMap<String, SizeDelta>, DbError> {
        let rows = self.query(
            "SELECT collection, count(*), COALESCE(sum(octet_length(payload)), 0)::BIGINT FROM bsos
             WHERE uid = $1 AND expiry <= $2 AND expiry < 9223372036854775807 GROUP BY collection",
            &[&(uid as i64), &now],
        )?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    SizeDelta {
                        count: r.try_get(1)?,
                        bytes: r.try_get(2)?,
                    },
                ))
            })
            .collect()
    }

    fn bsos(
        &mut self,
        uid: u64,
        collection: &str,
        query: &CollectionQuery,
        now: i64,
        take: &mut dyn FnMut(Bso) -> bool,
    ) -> Result<(), DbError> {
        self.list_bsos(uid, collection, query, now, take)
    }

    fn page(
        &mut self,
        uid: u64,
        collection: &str,
        query: &CollectionQuery,
        now: i64,
        take: &mut dyn FnMut(Bso) -> bool,
    ) -> Result<Option<i64>, DbError> {
        self.page_of(uid, collection, query, now, take)
    }

    fn count_bsos(
        &mut self,
        uid: u64,
        collection: &str,
        query: &CollectionQuery,
        now: i64,
    ) -> Result<u64, DbError> {
        self.count_listing(uid, collection, query, now)
    }

    fn bso(&mut self, uid: u64, collection: &str, id: &str, now: i64) -> Result<Option<Bso>, DbError> {
        self.query_opt(
            "SELECT id, modified, sortindex, payload FROM bsos
             WHERE uid = $1 AND collection = $2 AND id = $3 AND expiry > $4",
            &[&(uid as i64), &collection, &id, &now],
        )?
        .as_ref()
        .map(bso_row)
        .transpose()
    }

    fn user_is_live(&mut self, uid: u64) -> Result<bool, DbError> {
        Ok(self
            .query_opt(
                "SELECT 1 FROM users WHERE uid = $1 AND replaced_at IS NULL",
                &[&(uid as i64)],
            )?
            .is_some())
    }

    fn write_start(
        &mut self,
        uid: u64,
        collection: Option<&str>,
        check_live: bool,
    ) -> Result<WriteStart, DbError> {
        let row = self.query_one(
            "SELECT CASE WHEN $3 THEN EXISTS (SELECT 1 FROM users WHERE uid = $1 AND replaced_at IS NULL)
                         ELSE true END,
                    (SELECT modified FROM user_timestamps WHERE uid = $1),
                    (SELECT modified FROM user_collections WHERE uid = $1 AND collection = $2)",
            &[&(uid as i64), &collection, &check_live],
        )?;
        Ok(WriteStart {
            live: row.try_get(0)?,
            user_modified: row.try_get::<_, Option<i64>>(1)?.unwrap_or(0),
            collection_modified: row.try_get(2)?,
        })
    }

    fn user_is_current(&mut self, uid: u64, node: &str) -> Result<bool, DbError> {
        Ok(self
            .query_opt(
                "SELECT 1 FROM users WHERE uid = $1 AND node = $2 AND replaced_at IS NULL",
                &[&(uid as i64), &node],
            )?
            .is_some())
    }

    fn pending_batches(&mut self) -> Result<i64, DbError> {
        Ok(self.query_one("SELECT count(*) FROM batches", &[])?.try_get(0)?)
    }

    fn users_with_expired(&mut self, now: i64) -> Result<Vec<u64>, DbError> {
        let rows = self.query(
            "SELECT DISTINCT uid FROM bsos WHERE expiry <= $1 AND expiry < 9223372036854775807",
            &[&now],
        )?;
        rows.iter().map(|r| Ok(r.try_get::<_, i64>(0)? as u64)).collect()
    }

    fn setting(&mut self, name: &str) -> Result<Option<String>, DbError> {
        let row = self.query_opt("SELECT value FROM settings WHERE name = $1", &[&name])?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    fn user_records(&mut self, account: &str) -> Result<Vec<UserRecord>, DbError> {
        let rows = self.query(
            "SELECT uid, fxa_uid, generation, keys_changed_at, client_state, node, email, created_at, replaced_at
             FROM users WHERE fxa_uid = $1 OR email = $1 ORDER BY created_at, uid",
            &[&account],
        )?;
        rows.iter()
            .map(|r| {
                Ok(UserRecord {
                    user: user_row(r)?,
                    email: r.try_get(6)?,
                    created_at: r.try_get(7)?,
                    replaced_at: r.try_get(8)?,
                })
            })
            .collect()
    }

    fn nodes(&mut self) -> Result<Vec<Node>, DbError> {
        let rows = self.query(
            "SELECT n.node, n.capacity, n.downed, n.backoff,
                    (SELECT count(*) FROM users u WHERE u.node = n.node AND u.replaced_at IS NULL)
             FROM nodes n ORDER BY n.node",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                Ok(Node {
                    url: r.try_get(0)?,
                    capacity: r.try_get(1)?,
                    downed: r.try_get(2)?,
                    backoff: r.try_get(3)?,
                    current_load: r.try_get(4)?,
                })
            })
            .collect()
    }
}

impl WriteTx for PgTx<'_> {
    fn set_user_timestamp(&mut self, uid: u64, ts: i64) -> Result<(), DbError> {
        self.execute(
            "INSERT INTO user_timestamps (uid, modified) VALUES ($1, $2)
             ON CONFLICT (uid) DO UPDATE SET modified = EXCLUDED.modified",
            &[&(uid as i64), &ts],
        )?;
        Ok(())
    }

    fn write_bsos(
        &mut self,
        uid: u64,
        collection: &str,
        inputs: &[BsoInput],
        ts: i64,
    ) -> Result<Written, DbError> {
        self.write_records(uid, collection, inputs, ts)
    }

    fn delete_bsos(&mut self, uid: u64, collection: &str, ids: &[String]) -> Result<SizeDelta, DbError> {
        let rows = self.query(
            "DELETE FROM bsos WHERE uid = $1 AND collection = $2 AND id = ANY($3)
             RETURNING octet_length(payload)::BIGINT",
            &[&(uid as i64), &collection, &ids],
        )?;
        removed(&rows)
    }

    fn delete_collection(&mut self, uid: u64, collection: &str) -> Result<(), DbError> {
        self.execute(
            // `modified >= 0` (true of every row) lets the listing index
            // find the collection's rows (schema migration 6).
            "WITH bsos_gone AS (DELETE FROM bsos WHERE uid = $1 AND collection = $2 AND modified >= 0),
                  collection_gone AS (DELETE FROM user_collections WHERE uid = $1 AND collection = $2),
                  batches_gone AS (DELETE FROM batches WHERE uid = $1 AND collection = $2 RETURNING id)
             DELETE FROM batch_posts WHERE batch IN (SELECT id FROM batches_gone)",
            &[&(uid as i64), &collection],
        )?;
        Ok(())
    }

    fn delete_user_data(&mut self, uid: u64) -> Result<(), DbError> {
        self.execute(
            "WITH bsos_gone AS (DELETE FROM bsos WHERE uid = $1),
                  collections_gone AS (DELETE FROM user_collections WHERE uid = $1),
                  batches_gone AS (DELETE FROM batches WHERE uid = $1 RETURNING id)
             DELETE FROM batch_posts WHERE batch IN (SELECT id FROM batches_gone)",
            &[&(uid as i64)],
        )?;
        Ok(())
    }

    fn touch_collection(
        &mut self,
        uid: u64,
        collection: &str,
        ts: i64,
        delta: SizeDelta,
    ) -> Result<i64, DbError> {
        Ok(self
            .query_one(
                // One round trip for both stamps.
                "WITH stamped AS (
                     INSERT INTO user_timestamps (uid, modified) VALUES ($1, $3)
                     ON CONFLICT (uid) DO UPDATE SET modified = EXCLUDED.modified
                 )
                 INSERT INTO user_collections (uid, collection, modified, total_bytes, bso_count)
                 VALUES ($1, $2, $3, GREATEST($4::BIGINT, 0), GREATEST($5::BIGINT, 0))
                 ON CONFLICT (uid, collection) DO UPDATE SET
                    modified = EXCLUDED.modified,
                    total_bytes = GREATEST(user_collections.total_bytes + $4::BIGINT, 0),
                    bso_count = GREATEST(user_collections.bso_count + $5::BIGINT, 0)
                 RETURNING total_bytes",
                &[&(uid as i64), &collection, &ts, &delta.bytes, &delta.count],
            )?
            .try_get(0)?)
    }

    fn create_batch(&mut self, uid: u64, collection: &str, expiry: i64) -> Result<i64, DbError> {
        Ok(self
            .query_one(
                "INSERT INTO batches (uid, collection, expiry) VALUES ($1, $2, $3) RETURNING id",
                &[&(uid as i64), &collection, &expiry],
            )?
            .try_get(0)?)
    }

    fn open_batch(
        &mut self,
        id: i64,
        uid: u64,
        collection: &str,
        now: i64,
    ) -> Result<Option<(i64, i64)>, DbError> {
        // FOR UPDATE: the purge cannot drop it while this write uses it.
        self.query_opt(
            "SELECT bso_count, total_bytes FROM batches
             WHERE id = $1 AND uid = $2 AND collection = $3 AND expiry > $4 FOR UPDATE",
            &[&id, &(uid as i64), &collection, &now],
        )?
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .transpose()
    }

    fn stage_batch(&mut self, id: i64, inputs: &[BsoInput], count: i64, bytes: i64) -> Result<(), DbError> {
        self.stage(id, inputs, count, bytes)
    }

    fn drop_batch(&mut self, id: i64) -> Result<(), DbError> {
        self.execute(
            "WITH batch_gone AS (DELETE FROM batches WHERE id = $1)
             DELETE FROM batch_posts WHERE batch = $1",
            &[&id],
        )?;
        Ok(())
    }

    fn commit_batch(
        &mut self,
        id: i64,
        uid: u64,
        collection: &str,
        last: &[BsoInput],
        ts: i64,
    ) -> Result<Written, DbError> {
        self.commit(id, uid, collection, last, ts)
    }

    fn purge_user(&mut self, uid: u64, now: i64) -> Result<usize, DbError> {
        let purged: i64 = self
            .query_one(
                "WITH gone AS (
                     DELETE FROM bsos WHERE uid = $1 AND expiry <= $2 AND expiry < 9223372036854775807
                     RETURNING collection, octet_length(payload)::BIGINT AS bytes
                 ), sums AS (
                     SELECT collection, count(*) AS n, sum(bytes)::BIGINT AS bytes FROM gone GROUP BY collection
                 ), updated AS (
                     UPDATE user_collections uc
                     SET total_bytes = GREATEST(uc.total_bytes - sums.bytes, 0),
                         bso_count = GREATEST(uc.bso_count - sums.n, 0)
                     FROM sums WHERE uc.uid = $1 AND uc.collection = sums.collection
                 )
                 SELECT COALESCE(sum(n), 0)::BIGINT FROM sums",
                &[&(uid as i64), &now],
            )?
            .try_get(0)?;
        Ok(purged.max(0) as usize)
    }

    fn purge_batches(&mut self, now: i64) -> Result<usize, DbError> {
        let purged: i64 = self
            .query_one(
                "WITH batches_gone AS (DELETE FROM batches WHERE expiry <= $1 RETURNING id),
                      staged_gone AS (DELETE FROM batch_posts WHERE batch IN (SELECT id FROM batches_gone))
                 SELECT count(*) FROM batches_gone",
                &[&now],
            )?
            .try_get(0)?;
        Ok(purged.max(0) as usize)
    }

    fn insert_setting(&mut self, name: &str, value: &str) -> Result<(), DbError> {
        self.execute(
            "INSERT INTO settings (name, value) VALUES ($1, $2)",
            &[&name, &value],
        )?;
        Ok(())
    }

    fn current_user(&mut self, fxa_uid: &str) -> Result<Option<User>, DbError> {
        self.query_opt(
            "SELECT uid, fxa_uid, generation, keys_changed_at, client_state, node FROM users
             WHERE fxa_uid = $1 AND replaced_at IS NULL",
            &[&fxa_uid],
        )?
        .as_ref()
        .map(user_row)
        .transpose()
    }

    fn client_state_retired(&mut self, fxa_uid: &str, client_state: &str) -> Result<bool, DbError> {
        Ok(self
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM users
                                WHERE fxa_uid = $1 AND client_state = $2 AND replaced_at IS NOT NULL)",
                &[&fxa_uid, &client_state],
            )?
            .try_get(0)?)
    }

    fn insert_user(&mut self, user: &User, email: &str, now: i64) -> Result<u64, DbError> {
        let uid: i64 = self
            .query_one(
                "INSERT INTO users (fxa_uid, email, generation, keys_changed_at, client_state, node, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING uid",
                &[
                    &user.fxa_uid,
                    &email,
                    &user.generation,
                    &user.keys_changed_at,
                    &user.client_state,
                    &user.node,
                    &now,
                ],
            )?
            .try_get(0)?;
        Ok(uid as u64)
    }

    fn retire_user(&mut self, uid: u64, now: i64) -> Result<(), DbError> {
        // The user's own lock (as `Lock::User`): a write of theirs in flight
        // commits first, and every later one sees the retirement.
        self.execute("SELECT pg_advisory_xact_lock($1)", &[&(uid as i64)])?;
        self.execute(
            "UPDATE users SET replaced_at = $1 WHERE uid = $2",
            &[&now, &(uid as i64)],
        )?;
        Ok(())
    }

    fn set_user_node(&mut self, uid: u64, node: &str) -> Result<(), DbError> {
        self.execute(
            "UPDATE users SET node = $1 WHERE uid = $2",
            &[&node, &(uid as i64)],
        )?;
        Ok(())
    }

    fn update_user(
        &mut self,
        uid: u64,
        generation: i64,
        keys_changed_at: i64,
        email: &str,
    ) -> Result<(), DbError> {
        self.execute(
            "UPDATE users SET generation = $1, keys_changed_at = $2, email = $3 WHERE uid = $4",
            &[&generation, &keys_changed_at, &email, &(uid as i64)],
        )?;
        Ok(())
    }

    fn add_node(&mut self, node: &str, capacity: i64) -> Result<bool, DbError> {
        let added = self.execute(
            "INSERT INTO nodes (node, capacity) VALUES ($1, $2) ON CONFLICT (node) DO NOTHING",
            &[&node, &capacity],
        )? > 0;
        self.execute("UPDATE nodes SET from_config = false WHERE node = $1", &[&node])?;
        Ok(added)
    }

    fn configure_nodes(&mut self, nodes: &[String], capacity: i64) -> Result<(), DbError> {
        self.execute(
            "INSERT INTO nodes (node, capacity, from_config) SELECT u, $2, true FROM UNNEST($1::TEXT[]) AS u
             ON CONFLICT (node) DO NOTHING",
            &[&nodes, &capacity],
        )?;
        self.execute(
            "UPDATE nodes SET downed = NOT (node = ANY($1)) WHERE from_config",
            &[&nodes],
        )?;
        Ok(())
    }

    fn update_node(
        &mut self,
        node: &str,
        capacity: Option<i64>,
        downed: Option<bool>,
        backoff: Option<bool>,
    ) -> Result<bool, DbError> {
        Ok(self.execute(
            "UPDATE nodes SET capacity = COALESCE($2, capacity), downed = COALESCE($3, downed),
                              backoff = COALESCE($4, backoff), from_config = false
             WHERE node = $1",
            &[&node, &capacity, &downed, &backoff],
        )? > 0)
    }

    fn retire_users_on(&mut self, node: &str, now: i64, limit: usize) -> Result<usize, DbError> {
        // Each user's lock, in uid order, then the update (see `retire_user`).
        Ok(self.execute(
            "WITH chosen AS (
                 SELECT uid FROM users WHERE node = $2 AND replaced_at IS NULL ORDER BY uid LIMIT $3),
             locked AS (
                 SELECT uid FROM chosen WHERE pg_advisory_xact_lock(uid) IS NOT NULL)
             UPDATE users SET replaced_at = $1 FROM locked
             WHERE users.uid = locked.uid AND users.replaced_at IS NULL",
            &[&now, &node, &(limit as i64)],
        )? as usize)
    }
}
