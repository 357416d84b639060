//! The store's statements in SQLite.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension};

use crate::db::DbError;
use crate::db::backend::{ReadTx, WriteTx};
use crate::db::bsos::NEVER;
use crate::db::types::{Bso, BsoInput, CollectionQuery};
use crate::db::types::{Node, User, UserRecord};
use crate::db::types::{SizeDelta, Written};

/// A transaction on one of the backend's connections (a reader's read
/// transaction, or a savepoint in the writer's group transaction).
pub(super) struct SqliteTx<'c>(pub(super) &'c Connection);

mod batches;
mod listing;
mod writes;

fn bso_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Bso> {
    Ok(Bso {
        id: r.get(0)?,
        modified: r.get(1)?,
        sortindex: r.get(2)?,
        payload: r.get(3)?,
    })
}

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        uid: r.get(0)?,
        fxa_uid: r.get(1)?,
        generation: r.get(2)?,
        keys_changed_at: r.get(3)?,
        client_state: r.get(4)?,
        node: r.get(5)?,
    })
}

/// Sums `RETURNING octet_length(payload)` rows into a (negative) size change.
fn removed(rows: &mut rusqlite::Rows<'_>) -> Result<SizeDelta, DbError> {
    let mut delta = SizeDelta::default();
    while let Some(row) = rows.next()? {
        delta.bytes -= row.get::<_, i64>(0)?;
        delta.count -= 1;
    }
    Ok(delta)
}

impl ReadTx for SqliteTx<'_> {
    fn user_timestamp(&mut self, uid: u64) -> Result<i64, DbError> {
        Ok(self
            .0
            .prepare_cached("SELECT modified FROM user_timestamps WHERE uid = ?")?
            .query_row([uid], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }

    fn collection_modified(&mut self, uid: u64, collection: &str) -> Result<Option<i64>, DbError> {
        Ok(self
            .0
            .prepare_cached("SELECT modified FROM user_collections WHERE uid = ? AND collection = ?")?
            .query_row((uid, collection), |r| r.get(0))
            .optional()?)
    }

    fn collections(&mut self, uid: u64) -> Result<Vec<(String, i64, SizeDelta)>, DbError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT collection, modified, total_bytes, bso_count FROM user_collections
             WHERE uid = ? ORDER BY collection",
        )?;
        let rows = stmt.query_map([uid], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                SizeDelta {
                    bytes: r.get(2)?,
                    count: r.get(3)?,
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn expired_sizes(&mut self, uid: u64, now: i64) -> Result<HashMap<String, SizeDelta>, DbError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT collection, COUNT(*), SUM(octet_length(payload)) FROM bsos
             WHERE uid = ? AND expiry <= ? AND expiry < 9223372036854775807 GROUP BY collection",
        )?;
        let rows = stmt.query_map((uid, now), |r| {
            Ok((
                r.get::<_, String>(0)?,
                SizeDelta {
                    count: r.get(1)?,
                    bytes: r.get::<_, Option<i64>>(2)?.unwrap_or(0),
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn bsos(
        &mut self,
        uid: u64,
        collection: &str,
        query: &CollectionQuery,
        now: i64,
        take: &mut dyn FnMut(Bso) -> bool,
    ) -> Result<(), DbError> {
        listing::bsos(self.0, uid, collection, query, now, take)
    }

    fn count_bsos(
        &mut self,
        uid: u64,
        collection: &str,
        query: &CollectionQuery,
        now: i64,
    ) -> Result<u64, DbError> {
        listing::count(self.0, uid, collection, query, now)
    }

    fn bso(&mut self, uid: u64, collection: &str, id: &str, now: i64) -> Result<Option<Bso>, DbError> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT id, modified, sortindex, payload FROM bsos
                 WHERE uid = ? AND collection = ? AND id = ? AND +expiry > ?",
            )?
            .query_row((uid, collection, id, now), bso_row)
            .optional()?)
    }

    fn user_is_live(&mut self, uid: u64) -> Result<bool, DbError> {
        Ok(self
            .0
            .prepare_cached("SELECT 1 FROM users WHERE uid = ? AND replaced_at IS NULL")?
            .query_row([uid], |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn user_is_current(&mut self, uid: u64, node: &str) -> Result<bool, DbError> {
        Ok(self
            .0
            .prepare_cached("SELECT 1 FROM users WHERE uid = ? AND node = ? AND replaced_at IS NULL")?
            .query_row((uid, node), |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn pending_batches(&mut self) -> Result<i64, DbError> {
        Ok(self
            .0
            .query_row("SELECT count(*) FROM batches", [], |r| r.get(0))?)
    }

    fn users_with_expired(&mut self, now: i64) -> Result<Vec<u64>, DbError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT DISTINCT uid FROM bsos WHERE expiry <= ? AND expiry < 9223372036854775807",
        )?;
        let rows = stmt.query_map([now], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn setting(&mut self, name: &str) -> Result<Option<String>, DbError> {
        Ok(self
            .0
            .query_row("SELECT value FROM settings WHERE name = ?", [name], |r| r.get(0))
            .optional()?)
    }

    fn user_records(&mut self, account: &str) -> Result<Vec<UserRecord>, DbError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT uid, fxa_uid, generation, keys_changed_at, client_state, node, email, created_at, replaced_at
             FROM users WHERE fxa_uid = ?1 OR email = ?1 ORDER BY created_at, uid",
        )?;
        let rows = stmt.query_map([account], |r| {
            Ok(UserRecord {
                user: user_row(r)?,
                email: r.get(6)?,
                created_at: r.get(7)?,
                replaced_at: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn nodes(&mut self) -> Result<Vec<Node>, DbError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT n.node, n.capacity, n.downed, n.backoff,
                    (SELECT count(*) FROM users u WHERE u.node = n.node AND u.replaced_at IS NULL)
             FROM nodes n ORDER BY n.node",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Node {
                url: r.get(0)?,
                capacity: r.get(1)?,
                downed: r.get(2)?,
                backoff: r.get(3)?,
                current_load: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl WriteTx for SqliteTx<'_> {
    fn set_user_timestamp(&mut self, uid: u64, ts: i64) -> Result<(), DbError> {
        self.0
            .prepare_cached(
                "INSERT INTO user_timestamps (uid, modified) VALUES (?1, ?2)
                 ON CONFLICT (uid) DO UPDATE SET modified = ?2",
            )?
            .execute((uid, ts))?;
        Ok(())
    }

    fn write_bsos(
        &mut self,
        uid: u64,
        collection: &str,
        inputs: &[BsoInput],
        ts: i64,
    ) -> Result<Written, DbError> {
        let delta = self.write_bsos_stepwise(uid, collection, inputs, ts)?;
        let collection_bytes = self.touch_collection(uid, collection, ts, delta)?;
        Ok(Written {
            delta,
            collection_bytes,
        })
    }

    fn delete_bsos(&mut self, uid: u64, collection: &str, ids: &[String]) -> Result<SizeDelta, DbError> {
        let mut stmt = self.0.prepare_cached(
            "DELETE FROM bsos WHERE uid = ? AND collection = ? AND id = ? RETURNING octet_length(payload)",
        )?;
        let mut delta = SizeDelta::default();
        for id in ids {
            let gone = removed(&mut stmt.query((uid, collection, id))?)?;
            delta.bytes += gone.bytes;
            delta.count += gone.count;
        }
        Ok(delta)
    }

    fn delete_collection(&mut self, uid: u64, collection: &str) -> Result<(), DbError> {
        for table in ["bsos", "user_collections", "batches"] {
            self.0.execute(
                &format!("DELETE FROM {table} WHERE uid = ? AND collection = ?"),
                (uid, collection),
            )?;
        }
        Ok(())
    }

    fn delete_user_data(&mut self, uid: u64) -> Result<(), DbError> {
        for table in ["bsos", "user_collections", "batches"] {
            self.0
                .execute(&format!("DELETE FROM {table} WHERE uid = ?"), [uid])?;
        }
        Ok(())
    }

    fn touch_collection(
        &mut self,
        uid: u64,
        collection: &str,
        ts: i64,
        delta: SizeDelta,
    ) -> Result<i64, DbError> {
        self.set_user_timestamp(uid, ts)?;
        Ok(self
            .0
            .prepare_cached(
                "INSERT INTO user_collections (uid, collection, modified, total_bytes, bso_count)
                 VALUES (?1, ?2, ?3, max(?4, 0), max(?5, 0))
                 ON CONFLICT (uid, collection) DO UPDATE SET
                    modified = ?3,
                    total_bytes = max(total_bytes + ?4, 0),
                    bso_count = max(bso_count + ?5, 0)
                 RETURNING total_bytes",
            )?
            .query_row((uid, collection, ts, delta.bytes, delta.count), |r| r.get(0))?)
    }

    fn create_batch(&mut self, uid: u64, collection: &str, expiry: i64) -> Result<i64, DbError> {
        self.0.execute(
            "INSERT INTO batches (uid, collection, expiry) VALUES (?, ?, ?)",
            (uid, collection, expiry),
        )?;
        Ok(self.0.last_insert_rowid())
    }

    fn open_batch(
        &mut self,
        id: i64,
        uid: u64,
        collection: &str,
        now: i64,
    ) -> Result<Option<(i64, i64)>, DbError> {
        Ok(self
            .0
            .query_row(
                "SELECT bso_count, total_bytes FROM batches
                 WHERE id = ? AND uid = ? AND collection = ? AND expiry > ?",
                (id, uid, collection, now),
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    fn stage_batch(&mut self, id: i64, inputs: &[BsoInput], count: i64, bytes: i64) -> Result<(), DbError> {
        self.stage(id, inputs)?;
        self.0.execute(
            "UPDATE batches SET bso_count = ?, total_bytes = ? WHERE id = ?",
            (count, bytes, id),
        )?;
        Ok(())
    }

    fn drop_batch(&mut self, id: i64) -> Result<(), DbError> {
        // Its staged BSOs go with it (`ON DELETE CASCADE`).
        self.0.execute("DELETE FROM batches WHERE id = ?", [id])?;
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
        let delta = self.commit(id, uid, collection, last, ts)?;
        let collection_bytes = self.touch_collection(uid, collection, ts, delta)?;
        Ok(Written {
            delta,
            collection_bytes,
        })
    }

    fn purge_user(&mut self, uid: u64, now: i64) -> Result<usize, DbError> {
        let mut freed: HashMap<String, SizeDelta> = HashMap::new();
        {
            let mut stmt = self.0.prepare_cached(
                "DELETE FROM bsos WHERE uid = ? AND expiry <= ? AND expiry < 9223372036854775807
                 RETURNING collection, octet_length(payload)",
            )?;
            let mut rows = stmt.query((uid, now))?;
            while let Some(row) = rows.next()? {
                let entry = freed.entry(row.get(0)?).or_default();
                entry.bytes += row.get::<_, i64>(1)?;
                entry.count += 1;
            }
        }
        let mut update = self.0.prepare_cached(
            "UPDATE user_collections SET total_bytes = max(total_bytes - ?, 0), bso_count = max(bso_count - ?, 0)
             WHERE uid = ? AND collection = ?",
        )?;
        for (collection, size) in &freed {
            update.execute((size.bytes, size.count, uid, collection))?;
        }
        Ok(freed.values().map(|s| s.count as usize).sum())
    }

    fn purge_batches(&mut self, now: i64) -> Result<usize, DbError> {
        Ok(self.0.execute("DELETE FROM batches WHERE expiry <= ?", [now])?)
    }

    fn insert_setting(&mut self, name: &str, value: &str) -> Result<(), DbError> {
        self.0
            .execute("INSERT INTO settings (name, value) VALUES (?, ?)", (name, value))?;
        Ok(())
    }

    fn current_user(&mut self, fxa_uid: &str) -> Result<Option<User>, DbError> {
        Ok(self
            .0
            .query_row(
                "SELECT uid, fxa_uid, generation, keys_changed_at, client_state, node FROM users
                 WHERE fxa_uid = ? AND replaced_at IS NULL",
                [fxa_uid],
                user_row,
            )
            .optional()?)
    }

    fn client_state_retired(&mut self, fxa_uid: &str, client_state: &str) -> Result<bool, DbError> {
        Ok(self.0.query_row(
            "SELECT EXISTS (SELECT 1 FROM users WHERE fxa_uid = ? AND client_state = ? AND replaced_at IS NOT NULL)",
            (fxa_uid, client_state),
            |r| r.get(0),
        )?)
    }

    fn insert_user(&mut self, user: &User, email: &str, now: i64) -> Result<u64, DbError> {
        self.0.execute(
            "INSERT INTO users (fxa_uid, email, generation, keys_changed_at, client_state, node, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                &user.fxa_uid,
                email,
                user.generation,
                user.keys_changed_at,
                &user.client_state,
                &user.node,
                now,
            ),
        )?;
        Ok(self.0.last_insert_rowid() as u64)
    }

    fn retire_user(&mut self, uid: u64, now: i64) -> Result<(), DbError> {
        // A write transaction already excludes every other writer, in this
        // process and any other on the file: no user lock to take.
        self.0
            .execute("UPDATE users SET replaced_at = ? WHERE uid = ?", (now, uid))?;
        Ok(())
    }

    fn set_user_node(&mut self, uid: u64, node: &str) -> Result<(), DbError> {
        self.0
            .execute("UPDATE users SET node = ? WHERE uid = ?", (node, uid))?;
        Ok(())
    }

    fn update_user(
        &mut self,
        uid: u64,
        generation: i64,
        keys_changed_at: i64,
        email: &str,
    ) -> Result<(), DbError> {
        self.0.execute(
            "UPDATE users SET generation = ?, keys_changed_at = ?, email = ? WHERE uid = ?",
            (generation, keys_changed_at, email, uid),
        )?;
        Ok(())
    }

    fn add_node(&mut self, node: &str, capacity: i64) -> Result<bool, DbError> {
        let added = self.0.execute(
            "INSERT INTO nodes (node, capacity) VALUES (?, ?) ON CONFLICT (node) DO NOTHING",
            (node, capacity),
        )? > 0;
        self.0
            .execute("UPDATE nodes SET from_config = 0 WHERE node = ?", [node])?;
        Ok(added)
    }

    fn configure_nodes(&mut self, nodes: &[String], capacity: i64) -> Result<(), DbError> {
        let listed = serde_json::to_string(nodes).map_err(|e| DbError::CommitFailed(e.to_string()))?;
        self.0.execute(
            "INSERT INTO nodes (node, capacity, from_config) SELECT value, ?, 1 FROM json_each(?)
             WHERE true ON CONFLICT (node) DO NOTHING",
            (capacity, &listed),
        )?;
        self.0.execute(
            "UPDATE nodes SET downed = (node NOT IN (SELECT value FROM json_each(?))) WHERE from_config",
            [&listed],
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
        Ok(self.0.execute(
            "UPDATE nodes SET capacity = COALESCE(?2, capacity), downed = COALESCE(?3, downed),
                              backoff = COALESCE(?4, backoff), from_config = 0
             WHERE node = ?1",
            (node, capacity, downed, backoff),
        )? > 0)
    }

    fn retire_users_on(&mut self, node: &str, now: i64, limit: usize) -> Result<usize, DbError> {
        Ok(self.0.execute(
            "UPDATE users SET replaced_at = ?1 WHERE uid IN
                 (SELECT uid FROM users WHERE node = ?2 AND replaced_at IS NULL LIMIT CAST(?3 AS INTEGER))",
            (now, node, limit as i64),
        )?)
    }
}

/// Keeps `NEVER` in use here: the partial indexes name its value literally.
const _: () = assert!(NEVER == 9223372036854775807);
