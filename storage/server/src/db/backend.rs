//! What a database engine must provide: transactions, and the few
//! statements the store's rules are written over.
//!
//! The rules themselves — preconditions, per-user timestamps, size
//! accounting and quota, batch limits, the token server's checks — live
//! once, in [`super`]'s `bsos`, `batches` and `users`, over [`ReadTx`] and
//! [`WriteTx`]. A backend only says how to run each statement on its
//! engine, so SQLite and PostgreSQL cannot drift apart in what they mean.

use std::collections::HashMap;

use super::DbError;
use super::types::{Bso, BsoInput, CollectionQuery, Node, SizeDelta, User, UserRecord, WriteStart, Written};

/// What a write transaction serializes on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lock<'a> {
    /// Nothing beyond the engine's own (settings, purges).
    None,
    /// One storage user: their writes run one at a time, so a
    /// precondition checked inside holds until the commit and each write
    /// gets a later timestamp than the last.
    User(u64),
    /// One FxA account at the token server.
    Account(&'a str),
}

/// A collection's `(name, last write, stored size)`.
pub(crate) type Collection = (String, i64, SizeDelta);

/// A database engine.
pub(crate) trait Backend: Send + Sync {
    /// Runs `f` in a read transaction: one snapshot for all its statements.
    fn read(&self, f: &mut dyn FnMut(&mut dyn ReadTx) -> Result<(), DbError>) -> Result<(), DbError>;

    /// Runs `f`, which runs exactly one statement, as that statement's own
    /// snapshot: a backend may skip the transaction around it (PostgreSQL
    /// saves its `BEGIN` and `COMMIT`), and may run `f` again if its
    /// statement failed on a connection found dead before it was answered.
    fn read_single(&self, f: &mut dyn FnMut(&mut dyn ReadTx) -> Result<(), DbError>) -> Result<(), DbError> {
        self.read(f)
    }

    /// Runs `f` as one atomic write holding `lock`; returns once it is
    /// committed. On `Err` nothing `f` did is kept.
    fn write(
        &self,
        lock: Lock<'_>,
        f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<(), DbError>,
    ) -> Result<(), DbError>;

    /// Whether the engine answers reads and writes (for `__heartbeat__`).
    fn heartbeat(&self) -> Result<(), DbError>;

    /// Upkeep the engine wants every few seconds while serving (PostgreSQL
    /// vacuums what writes left dead); returns how many things it did.
    fn tidy(&self) -> Result<usize, DbError> {
        Ok(0)
    }

    /// Connections open, and idle, in the pool.
    fn pool_state(&self) -> (u32, u32);

    /// How many requests can be at the engine at once, if a fixed number of
    /// connections bounds it (PostgreSQL's pool); `None` when more may wait
    /// inside it to good effect (SQLite's writes, which commit in groups).
    fn connection_limit(&self) -> Option<u32> {
        None
    }
}

/// The statements a read needs.
pub(crate) trait ReadTx {
    /// The user's last write (0 if none).
    fn user_timestamp(&mut self, uid: u64) -> Result<i64, DbError>;
    /// A collection's last write, if it exists.
    fn collection_modified(&mut self, uid: u64, collection: &str) -> Result<Option<i64>, DbError>;
    /// Every collection of the user: `(name, modified, stored size)`, by name.
    fn collections(&mut self, uid: u64) -> Result<Vec<Collection>, DbError>;
    /// [`ReadTx::user_timestamp`] and [`ReadTx::collections`] from one
    /// snapshot. Called through [`Backend::read_single`]: a backend whose
    /// `read_single` skips the transaction reads both in one statement.
    fn collections_and_user_timestamp(&mut self, uid: u64) -> Result<(i64, Vec<Collection>), DbError> {
        Ok((self.user_timestamp(uid)?, self.collections(uid)?))
    }
    /// The user's BSOs that expired by `now` but are still stored, by collection.
    fn expired_sizes(&mut self, uid: u64, now: i64) -> Result<HashMap<String, SizeDelta>, DbError>;
    /// The collection's live BSOs that `query` selects, in its order from
    /// its offset, handed to `take` one by one until it returns false.
    /// `query.limit` is the caller's; rows may be produced past it.
    fn bsos(
        &mut self,
        uid: u64,
        collection: &str,
        query: &CollectionQuery,
        now: i64,
        take: &mut dyn FnMut(Bso) -> bool,
    ) -> Result<(), DbError>;
    /// The collection's last write (None: it does not exist), and its
    /// BSOs that `query` selects handed to `take` as [`ReadTx::bsos`]
    /// hands them, from one snapshot. Called through
    /// [`Backend::read_single`]: a backend whose `read_single` skips the
    /// transaction reads both in one statement.
    fn page(
        &mut self,
        uid: u64,
        collection: &str,
        query: &CollectionQuery,
        now: i64,
        take: &mut dyn FnMut(Bso) -> bool,
    ) -> Result<Option<i64>, DbError> {
        let modified = self.collection_modified(uid, collection)?;
        self.bsos(uid, collection, query, now, take)?;
        Ok(modified)
    }
    /// How many live BSOs `query` selects from its offset on (its limit
    /// and order aside).
    fn count_bsos(
        &mut self,
        uid: u64,
        collection: &str,
        query: &CollectionQuery,
        now: i64,
    ) -> Result<u64, DbError>;
    /// One live BSO.
    fn bso(&mut self, uid: u64, collection: &str, id: &str, now: i64) -> Result<Option<Bso>, DbError>;
    /// Whether `uid` is an account's record that has not been retired.
    fn user_is_live(&mut self, uid: u64) -> Result<bool, DbError>;
    /// What a write by `uid` reads first, holding the user's lock: whether
    /// the uid is live (when `check_live`), the user's last write, and
    /// `collection`'s. A backend may read them in one statement.
    fn write_start(
        &mut self,
        uid: u64,
        collection: Option<&str>,
        check_live: bool,
    ) -> Result<WriteStart, DbError> {
        Ok(WriteStart {
            live: !check_live || self.user_is_live(uid)?,
            user_modified: self.user_timestamp(uid)?,
            collection_modified: match collection {
                Some(collection) => self.collection_modified(uid, collection)?,
                None => None,
            },
        })
    }
    /// Whether `uid` is an account's current record on `node`.
    fn user_is_current(&mut self, uid: u64, node: &str) -> Result<bool, DbError>;
    /// Batches started and neither committed nor purged.
    fn pending_batches(&mut self) -> Result<i64, DbError>;
    /// Users with BSOs that expired by `now`.
    fn users_with_expired(&mut self, now: i64) -> Result<Vec<u64>, DbError>;
    /// A stored setting.
    fn setting(&mut self, name: &str) -> Result<Option<String>, DbError>;
    /// Every storage node, by URL, with its current load.
    fn nodes(&mut self) -> Result<Vec<Node>, DbError>;
    /// Every user record of the account whose FxA uid or email is
    /// `account`, oldest first.
    fn user_records(&mut self, account: &str) -> Result<Vec<UserRecord>, DbError>;
}

/// The statements a write needs, on top of a read's.
pub(crate) trait WriteTx: ReadTx {
    /// Sets the user's last write.
    fn set_user_timestamp(&mut self, uid: u64, ts: i64) -> Result<(), DbError>;
    /// Writes `inputs` at `ts`, in order (a repeated id: the later wins
    /// each field it gives), after deleting the collection's BSOs that
    /// expired by `ts` (so a stored BSO is live and the quota counts only
    /// live ones). A field not given keeps its stored value; a new BSO gets
    /// the default; `ttl` counts from `ts`. Then stamps the collection and
    /// the user with `ts` and applies the size change, as
    /// [`WriteTx::touch_collection`].
    fn write_bsos(
        &mut self,
        uid: u64,
        collection: &str,
        inputs: &[BsoInput],
        ts: i64,
    ) -> Result<Written, DbError>;
    /// Deletes the listed BSOs; returns the size change.
    fn delete_bsos(&mut self, uid: u64, collection: &str, ids: &[String]) -> Result<SizeDelta, DbError>;
    /// Deletes a collection: its BSOs, its record and its batches.
    fn delete_collection(&mut self, uid: u64, collection: &str) -> Result<(), DbError>;
    /// Deletes everything the user stored (not their timestamp).
    fn delete_user_data(&mut self, uid: u64) -> Result<(), DbError>;
    /// Stamps the collection with `ts` (creating it) and applies `delta`,
    /// never below 0; returns the collection's bytes.
    fn touch_collection(
        &mut self,
        uid: u64,
        collection: &str,
        ts: i64,
        delta: SizeDelta,
    ) -> Result<i64, DbError>;

    /// Opens a batch; returns its id.
    fn create_batch(&mut self, uid: u64, collection: &str, expiry: i64) -> Result<i64, DbError>;
    /// An open, unexpired batch of this user and collection: `(count, bytes)` so far.
    fn open_batch(
        &mut self,
        id: i64,
        uid: u64,
        collection: &str,
        now: i64,
    ) -> Result<Option<(i64, i64)>, DbError>;
    /// Adds BSOs to a batch (a repeated id keeps the latest of each field given)
    /// and records its new totals.
    fn stage_batch(&mut self, id: i64, inputs: &[BsoInput], count: i64, bytes: i64) -> Result<(), DbError>;
    /// Removes a batch and what it staged, writing nothing.
    fn drop_batch(&mut self, id: i64) -> Result<(), DbError>;
    /// Commits a batch inside the database, without carrying its payloads
    /// out and back: what it staged, then `last` over it, written at `ts`
    /// as [`WriteTx::write_bsos`] writes (expired BSOs dropped first, the
    /// collection and the user stamped); removes the batch.
    fn commit_batch(
        &mut self,
        id: i64,
        uid: u64,
        collection: &str,
        last: &[BsoInput],
        ts: i64,
    ) -> Result<Written, DbError>;

    /// Deletes the user's BSOs that expired by `now`, keeping collection
    /// sizes exact; returns how many went.
    fn purge_user(&mut self, uid: u64, now: i64) -> Result<usize, DbError>;
    /// Deletes batches that expired by `now`; returns how many went.
    fn purge_batches(&mut self, now: i64) -> Result<usize, DbError>;
    /// Stores a setting that is not stored yet.
    fn insert_setting(&mut self, name: &str, value: &str) -> Result<(), DbError>;

    /// The account's current user record.
    fn current_user(&mut self, fxa_uid: &str) -> Result<Option<User>, DbError>;
    /// Whether the account had a retired record with this client state.
    fn client_state_retired(&mut self, fxa_uid: &str, client_state: &str) -> Result<bool, DbError>;
    /// Adds `user` (its `uid` aside) as a current record with `email`;
    /// returns the uid it was given.
    fn insert_user(&mut self, user: &User, email: &str, now: i64) -> Result<u64, DbError>;
    /// Retires a user record, holding that user's lock (as [`Lock::User`])
    /// until the transaction ends, so the user's writes cannot overlap it.
    fn retire_user(&mut self, uid: u64, now: i64) -> Result<(), DbError>;
    /// Moves a user record to `node`.
    fn set_user_node(&mut self, uid: u64, node: &str) -> Result<(), DbError>;
    /// Records what a token request reported.
    fn update_user(
        &mut self,
        uid: u64,
        generation: i64,
        keys_changed_at: i64,
        email: &str,
    ) -> Result<(), DbError>;
    /// Adds a node unless it is known; returns whether it was added. A node
    /// added here is the operator's: the configuration no longer governs it.
    fn add_node(&mut self, node: &str, capacity: i64) -> Result<bool, DbError>;
    /// Makes the configuration's nodes known (with `capacity` when new) and
    /// up, and downs the nodes an earlier configuration listed that this one
    /// does not.
    fn configure_nodes(&mut self, nodes: &[String], capacity: i64) -> Result<(), DbError>;
    /// Changes what is given of a node (the operator's from then on);
    /// returns whether it exists.
    fn update_node(
        &mut self,
        node: &str,
        capacity: Option<i64>,
        downed: Option<bool>,
        backoff: Option<bool>,
    ) -> Result<bool, DbError>;
    /// Retires up to `limit` current user records on `node`, each as
    /// [`WriteTx::retire_user`] does; returns how many.
    fn retire_users_on(&mut self, node: &str, now: i64, limit: usize) -> Result<usize, DbError>;
}
