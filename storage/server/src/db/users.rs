//! Accounts as the token server sees them: which uid and node an FxA
//! account's current keys map to.

use super::backend::{Lock, WriteTx};
use super::types::{Node, User, UserRecord};
use super::{Db, DbError, now_ms};

/// How long a user found current stays known as current without a query.
pub const USER_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// Users remembered as current at most (then the memory starts over).
const USER_CACHE_ENTRIES: usize = 100_000;

/// The capacity a node gets when it comes from the configuration's `nodes`.
pub const DEFAULT_NODE_CAPACITY: i64 = 100_000;

/// What a token request says about the account.
#[derive(Debug, Clone)]
pub struct UserLookup {
    /// The FxA account id.
    pub fxa_uid: String,
    /// The email, if the token carries one.
    pub email: String,
    /// The account generation, if the token carries one (never `Some(0)`).
    pub generation: Option<i64>,
    /// From `X-KeyID` (never `Some(0)`: Mozilla reads 0 as absent).
    pub keys_changed_at: Option<i64>,
    /// From `X-KeyID`: hex of the first 16 bytes of SHA-256(kB).
    pub client_state: String,
}

/// Why the token server refuses an account's request (a 401 whose status
/// string is Mozilla's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `invalid-generation`: an older generation than already seen.
    Generation,
    /// `invalid-keysChangedAt`: keys older than already seen, or newer than the generation.
    KeysChangedAt,
    /// `invalid-client-state`, with Mozilla's description.
    ClientState(&'static str),
}

/// The token server's answer for an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenUser {
    /// Issue a token for this user.
    Granted(User),
    /// Refuse.
    Refused(Refusal),
}

impl Db {
    /// Finds or creates the user for a token request.
    ///
    /// The checks and updates are Mozilla's token server's, in its order
    /// (syncstorage-rs `tokenserver/extractors.rs` `validate` and
    /// `handlers.rs` `update_user`): `generation` and `keys_changed_at` never
    /// go backwards, keys may not be newer than the generation, a client
    /// state used before is refused, and a new client state (new keys)
    /// must come with a newer generation and keys_changed_at — then the uid
    /// is retired and a new one allocated on the same node, so data
    /// encrypted with the old keys is never served again.
    pub fn allocate_user(&self, lookup: &UserLookup) -> Result<TokenUser, DbError> {
        let result = self.write(Lock::Account(&lookup.fxa_uid), |tx| {
            let Some(mut current) = tx.current_user(&lookup.fxa_uid)? else {
                let node = best_node(tx)?;
                return Ok(TokenUser::Granted(new_user(tx, lookup, &node)?));
            };
            let nodes = tx.nodes()?;
            if !nodes.iter().any(|n| n.url == current.node && !n.downed) {
                // The node is down or unknown (the server's URL changed).
                // The uid stays, so the data moves with the user where nodes
                // share this database; tokens for the old node now fail with 401.
                let node = best_node(tx)?;
                tx.set_user_node(current.uid, &node)?;
                current.node = node;
            }
            if let Some(refusal) = check(tx, &current, lookup)? {
                return Ok(TokenUser::Refused(refusal));
            }
            let (generation, keys_changed_at) = updated_generations(&current, lookup);
            if lookup.client_state != current.client_state {
                tx.retire_user(current.uid, now_ms())?;
                let renewed = UserLookup {
                    generation: Some(generation),
                    keys_changed_at: Some(keys_changed_at),
                    ..lookup.clone()
                };
                return Ok(TokenUser::Granted(new_user(tx, &renewed, &current.node)?));
            }
            tx.update_user(current.uid, generation, keys_changed_at, &lookup.email)?;
            Ok(TokenUser::Granted(User {
                generation,
                keys_changed_at,
                ..current
            }))
        });
        // A retired or moved user must not stay cached as current.
        self.current_users.write().invalidate();
        result
    }

    /// Whether `uid` is an account's current record on `node` — false once
    /// the keys changed or the account moved, which makes old tokens fail
    /// with 401 and sends clients back to the token server.
    ///
    /// A positive answer is remembered for [`USER_CACHE_TTL`], so storage
    /// requests seldom need a query for it. This process forgets it at once
    /// when it retires or moves a user; a change made elsewhere (another
    /// server process on the same PostgreSQL, an admin command) is seen
    /// within the TTL.
    pub fn user_is_current(&self, uid: u64, node: &str) -> Result<bool, DbError> {
        let epoch = {
            let cache = self.current_users.read();
            if let Some((cached, at)) = cache.nodes.get(&uid) {
                if cached == node && at.elapsed() < USER_CACHE_TTL {
                    return Ok(true);
                }
            }
            cache.epoch
        };
        let current = self.read_single(|tx| tx.user_is_current(uid, node))?;
        if current {
            let mut cache = self.current_users.write();
            if cache.epoch == epoch {
                if cache.nodes.len() >= USER_CACHE_ENTRIES {
                    cache.nodes.clear();
                }
                cache
                    .nodes
                    .insert(uid, (node.to_owned(), std::time::Instant::now()));
            }
        }
        Ok(current)
    }

    /// Every record of the account whose FxA uid or email is `account`,
    /// oldest first.
    pub fn user_records(&self, account: &str) -> Result<Vec<UserRecord>, DbError> {
        self.read(|tx| tx.user_records(account))
    }

    /// Deletes what the account whose FxA uid or email is `account` stored
    /// here, under every uid it had, and retires its current record (its
    /// next token starts it afresh). Returns how many uids were cleared.
    pub fn delete_account(&self, account: &str) -> Result<usize, DbError> {
        let records = self.user_records(account)?;
        let Some(fxa_uid) = records.first().map(|r| r.user.fxa_uid.clone()) else {
            return Err(DbError::NotFound);
        };
        for record in &records {
            let uid = record.user.uid;
            self.write(Lock::User(uid), |tx| tx.delete_user_data(uid))?;
        }
        let result = self.write(Lock::Account(&fxa_uid), |tx| {
            if let Some(current) = tx.current_user(&fxa_uid)? {
                tx.retire_user(current.uid, now_ms())?;
            }
            Ok(records.len())
        });
        self.current_users.write().invalidate();
        result
    }

    /// The account's password changed at `generation` (ms): access tokens
    /// of an older generation are refused from now on, newer ones pass —
    /// what Mozilla's token server does on the auth server's
    /// `passwordChange` and `reset` events (tokenserver
    /// `process_account_events`: the user's generation becomes
    /// `generation - 1`). An account with no user here has nothing to
    /// refuse yet.
    pub fn password_changed(&self, fxa_uid: &str, generation: i64) -> Result<(), DbError> {
        let floor = generation.saturating_sub(1);
        self.write(Lock::Account(fxa_uid), |tx| {
            let Some(current) = tx.current_user(fxa_uid)? else {
                return Ok(());
            };
            if floor > current.generation {
                let email = tx
                    .user_records(fxa_uid)?
                    .into_iter()
                    .find(|r| r.user.uid == current.uid)
                    .map(|r| r.email)
                    .unwrap_or_default();
                tx.update_user(current.uid, floor, current.keys_changed_at, &email)?;
            }
            Ok(())
        })
    }

    /// Moves an account to another node (an operator migrating users, or a
    /// test of node reassignment): a new uid on `node`, the old one retired.
    /// Returns the new uid.
    pub fn reassign_node(&self, fxa_uid: &str, node: &str) -> Result<Option<u64>, DbError> {
        let result = self.write(Lock::Account(fxa_uid), |tx| {
            let Some(current) = tx.current_user(fxa_uid)? else {
                return Ok(None);
            };
            tx.retire_user(current.uid, now_ms())?;
            let email = tx
                .user_records(fxa_uid)?
                .into_iter()
                .find(|r| r.user.uid == current.uid)
                .map(|r| r.email)
                .unwrap_or_default();
            let lookup = UserLookup {
                fxa_uid: current.fxa_uid.clone(),
                email,
                generation: Some(current.generation),
                keys_changed_at: Some(current.keys_changed_at),
                client_state: current.client_state.clone(),
            };
            Ok(Some(new_user(tx, &lookup, node)?.uid))
        });
        self.current_users.write().invalidate();
        result
    }
}

/// Mozilla's `validate`: `None` when the request may proceed. The user
/// record's 0 means "never reported", as a NULL does in Mozilla's table.
fn check(tx: &mut dyn WriteTx, user: &User, lookup: &UserLookup) -> Result<Option<Refusal>, DbError> {
    fn both<T: Copy>(a: Option<T>, b: Option<T>, op: impl Fn(T, T) -> bool) -> bool {
        a.zip(b).is_some_and(|(a, b)| op(a, b))
    }
    let (auth_generation, auth_keys) = (lookup.generation, lookup.keys_changed_at);
    let user_generation = Some(user.generation);
    let user_keys = Some(user.keys_changed_at).filter(|k| *k != 0);
    let new_state = lookup.client_state != user.client_state;

    if both(auth_keys, user_keys, |a, u| a > u) && both(auth_generation, auth_keys, |g, k| g < k) {
        return Ok(Some(Refusal::KeysChangedAt));
    }
    if !user.client_state.is_empty() && lookup.client_state.is_empty() {
        return Ok(Some(Refusal::ClientState(
            "Unacceptable client-state value empty string",
        )));
    }
    let used_before = tx.client_state_retired(&lookup.fxa_uid, &lookup.client_state)?;
    if new_state && used_before {
        return Ok(Some(Refusal::ClientState(
            "Unacceptable client-state value stale value",
        )));
    }
    if new_state && both(auth_generation, user_generation, |a, u| a <= u) {
        return Ok(Some(Refusal::ClientState(
            "Unacceptable client-state value new value with no generation change",
        )));
    }
    if new_state && both(auth_keys, user_keys, |a, u| a <= u) {
        return Ok(Some(Refusal::ClientState(
            "Unacceptable client-state value new value with no keys_changed_at change",
        )));
    }
    if both(user_generation, auth_generation, |u, a| u > a) {
        return Ok(Some(Refusal::Generation));
    }
    if both(user_keys, auth_keys, |u, a| u > a) {
        return Ok(Some(Refusal::KeysChangedAt));
    }
    if auth_keys.is_none() && user_keys.is_some() {
        return Ok(Some(Refusal::KeysChangedAt));
    }
    Ok(None)
}

/// Mozilla's `update_user`: the generation and keys_changed_at to store
/// after a request that passed [`check`]. Without a reported generation,
/// a newer keys_changed_at raises the generation with it.
fn updated_generations(user: &User, lookup: &UserLookup) -> (i64, i64) {
    let keys_changed_at = lookup.keys_changed_at.unwrap_or(0).max(user.keys_changed_at);
    let generation = match lookup.generation {
        Some(g) => g.max(user.generation),
        None => match lookup.keys_changed_at {
            Some(k) if k > user.keys_changed_at && k > user.generation => k,
            _ => user.generation,
        },
    };
    (generation, keys_changed_at)
}

/// Adds the account's new current record on `node`, what the request did
/// not report stored as 0 ("never reported").
fn new_user(tx: &mut dyn WriteTx, lookup: &UserLookup, node: &str) -> Result<User, DbError> {
    let mut user = User {
        uid: 0,
        fxa_uid: lookup.fxa_uid.clone(),
        generation: lookup.generation.unwrap_or(0),
        keys_changed_at: lookup.keys_changed_at.unwrap_or(0),
        client_state: lookup.client_state.clone(),
        node: node.to_owned(),
    };
    user.uid = tx.insert_user(&user, &lookup.email, now_ms())?;
    Ok(user)
}

/// The node with the most free capacity that takes new users (the first by
/// URL among equals).
fn best_node(tx: &mut dyn WriteTx) -> Result<String, DbError> {
    tx.nodes()?
        .into_iter()
        .filter(Node::takes_users)
        .max_by(|a, b| {
            (a.capacity - a.current_load)
                .cmp(&(b.capacity - b.current_load))
                .then_with(|| b.url.cmp(&a.url))
        })
        .map(|n| n.url)
        .ok_or(DbError::NoNode)
}

impl Db {
    /// Brings the nodes table in line with the configuration's `nodes`: new
    /// ones join with [`DEFAULT_NODE_CAPACITY`], listed ones are up, and ones
    /// an earlier configuration listed but this one does not are down (their
    /// users move on their next token, keeping their uid: all nodes of one
    /// configuration share this database). Nodes added with `node add` are
    /// the operator's and stay as they are.
    pub fn register_nodes(&self, urls: &[String]) -> Result<(), DbError> {
        let result = self.write(Lock::None, |tx| tx.configure_nodes(urls, DEFAULT_NODE_CAPACITY));
        self.current_users.write().invalidate();
        result
    }

    /// Every node, with its current load.
    pub fn nodes(&self) -> Result<Vec<Node>, DbError> {
        self.read(|tx| tx.nodes())
    }

    /// Adds a node, or sets a known one's capacity and lets it take users again.
    pub fn add_node(&self, url: &str, capacity: i64) -> Result<(), DbError> {
        self.write(Lock::None, |tx| {
            if !tx.add_node(url, capacity)? {
                tx.update_node(url, Some(capacity), Some(false), Some(false))?;
            }
            Ok(())
        })
    }

    /// Stops assigning new users to a node; its users stay.
    pub fn drain_node(&self, url: &str) -> Result<(), DbError> {
        self.write(Lock::None, |tx| {
            match tx.update_node(url, None, None, Some(true))? {
                true => Ok(()),
                false => Err(DbError::NotFound),
            }
        })
    }

    /// Takes a node out of service: no new users, and every user on it is
    /// retired, so their next token request assigns them a new uid on another
    /// node (the client finds it empty and uploads again, as with Mozilla's
    /// node reassignment). Returns how many users were moved.
    ///
    /// Users are retired a few hundred per transaction: each retirement
    /// holds its user's lock, and one transaction holding a node's worth of
    /// them would run PostgreSQL out of lock slots.
    pub fn retire_node(&self, url: &str) -> Result<usize, DbError> {
        const PER_TRANSACTION: usize = 200;
        let result = (|| {
            self.write(Lock::None, |tx| {
                match tx.update_node(url, None, Some(true), Some(true))? {
                    true => Ok(()),
                    false => Err(DbError::NotFound),
                }
            })?;
            let mut retired = 0;
            loop {
                let now = now_ms();
                let n = self.write(Lock::None, |tx| tx.retire_users_on(url, now, PER_TRANSACTION))?;
                retired += n;
                if n < PER_TRANSACTION {
                    return Ok(retired);
                }
            }
        })();
        self.current_users.write().invalidate();
        result
    }
}
