//! Accounts as the token server sees them: which uid and node an FxA
//! account's current keys map to.

use rusqlite::{OptionalExtension, Transaction};

use super::{Db, DbError, now_ms};

/// A user record: one FxA account under one set of keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The storage uid.
    pub uid: u64,
    /// The FxA account id.
    pub fxa_uid: String,
    /// The account's generation as last seen.
    pub generation: i64,
    /// When the account's keys last changed, as the client said.
    pub keys_changed_at: i64,
    /// Hex of the first 16 bytes of SHA-256(kB): which keys encrypt the data.
    pub client_state: String,
    /// The storage node base URL.
    pub node: String,
}

/// What a token request says about the account.
#[derive(Debug, Clone)]
pub struct UserLookup {
    /// The FxA account id.
    pub fxa_uid: String,
    /// The email, if the token carries one.
    pub email: String,
    /// The account generation, if the token carries one.
    pub generation: Option<i64>,
    /// From `X-KeyID`.
    pub keys_changed_at: i64,
    /// From `X-KeyID`.
    pub client_state: String,
}

/// The token server's answer for an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenUser {
    /// Issue a token for this user.
    Granted(User),
    /// Refuse, with the token server's status string.
    Refused(&'static str),
}

impl Db {
    /// Finds or creates the user for a token request, enforcing that key
    /// generations only move forward.
    pub fn allocate_user(&self, lookup: &UserLookup, nodes: &[String]) -> Result<TokenUser, DbError> {
        let result = self.write(|tx| {
            let Some(mut current) = current_user(tx, &lookup.fxa_uid)? else {
                let node = least_loaded(tx, nodes)?;
                return Ok(TokenUser::Granted(insert_user(tx, lookup, &node)?));
            };
            if !nodes.contains(&current.node) {
                // The node left the configuration (or the server's URL changed).
                // All nodes share this database, so the data moves with the
                // user; tokens for the old node now fail with 401.
                let node = least_loaded(tx, nodes)?;
                tx.execute("UPDATE users SET node = ? WHERE uid = ?", (&node, current.uid))?;
                current.node = node;
            }
            if lookup.generation.is_some_and(|g| g < current.generation) {
                return Ok(TokenUser::Refused("invalid-generation"));
            }
            if lookup.keys_changed_at < current.keys_changed_at {
                return Ok(TokenUser::Refused("invalid-keysChangedAt"));
            }
            if lookup.client_state != current.client_state {
                // New keys must come with a newer keysChangedAt, and may never
                // go back to keys used before.
                if lookup.keys_changed_at == current.keys_changed_at {
                    return Ok(TokenUser::Refused("invalid-keysChangedAt"));
                }
                let seen_before: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM users WHERE fxa_uid = ? AND client_state = ?)",
                    (&lookup.fxa_uid, &lookup.client_state),
                    |r| r.get(0),
                )?;
                if seen_before {
                    return Ok(TokenUser::Refused("invalid-client-state"));
                }
                retire(tx, current.uid)?;
                return Ok(TokenUser::Granted(insert_user(tx, lookup, &current.node)?));
            }
            let generation = lookup
                .generation
                .unwrap_or(current.generation)
                .max(current.generation);
            tx.execute(
                "UPDATE users SET generation = ?, keys_changed_at = ?, email = ? WHERE uid = ?",
                (generation, lookup.keys_changed_at, &lookup.email, current.uid),
            )?;
            Ok(TokenUser::Granted(User {
                generation,
                keys_changed_at: lookup.keys_changed_at,
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
    pub fn user_is_current(&self, uid: u64, node: &str) -> Result<bool, DbError> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT 1 FROM users WHERE uid = ? AND node = ? AND replaced_at IS NULL")?
                    .query_row((uid, node), |_| Ok(()))
                    .optional()?
                    .is_some(),
            )
        })
    }

    /// Moves an account to another node (an operator migrating users, or a
    /// test of node reassignment): a new uid on `node`, the old one retired.
    /// Returns the new uid.
    pub fn reassign_node(&self, fxa_uid: &str, node: &str) -> Result<Option<u64>, DbError> {
        let result = self.write(|tx| {
            let Some(current) = current_user(tx, fxa_uid)? else {
                return Ok(None);
            };
            retire(tx, current.uid)?;
            let lookup = UserLookup {
                fxa_uid: current.fxa_uid.clone(),
                email: String::new(),
                generation: Some(current.generation),
                keys_changed_at: current.keys_changed_at,
                client_state: current.client_state.clone(),
            };
            Ok(Some(insert_user(tx, &lookup, node)?.uid))
        });
        self.current_users.write().invalidate();
        result
    }
}

fn current_user(tx: &Transaction<'_>, fxa_uid: &str) -> Result<Option<User>, DbError> {
    Ok(tx
        .query_row(
            "SELECT uid, fxa_uid, generation, keys_changed_at, client_state, node FROM users
             WHERE fxa_uid = ? AND replaced_at IS NULL",
            [fxa_uid],
            |r| {
                Ok(User {
                    uid: r.get(0)?,
                    fxa_uid: r.get(1)?,
                    generation: r.get(2)?,
                    keys_changed_at: r.get(3)?,
                    client_state: r.get(4)?,
                    node: r.get(5)?,
                })
            },
        )
        .optional()?)
}

fn insert_user(tx: &Transaction<'_>, lookup: &UserLookup, node: &str) -> Result<User, DbError> {
    let generation = lookup.generation.unwrap_or(0);
    tx.execute(
        "INSERT INTO users (fxa_uid, email, generation, keys_changed_at, client_state, node, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            &lookup.fxa_uid,
            &lookup.email,
            generation,
            lookup.keys_changed_at,
            &lookup.client_state,
            node,
            now_ms(),
        ),
    )?;
    Ok(User {
        uid: tx.last_insert_rowid() as u64,
        fxa_uid: lookup.fxa_uid.clone(),
        generation,
        keys_changed_at: lookup.keys_changed_at,
        client_state: lookup.client_state.clone(),
        node: node.to_owned(),
    })
}

fn retire(tx: &Transaction<'_>, uid: u64) -> Result<(), DbError> {
    tx.execute("UPDATE users SET replaced_at = ? WHERE uid = ?", (now_ms(), uid))?;
    Ok(())
}

/// The configured node with the fewest current users.
fn least_loaded(tx: &Transaction<'_>, nodes: &[String]) -> Result<String, DbError> {
    let mut best: Option<(i64, &String)> = None;
    for node in nodes {
        let count: i64 = tx.query_row(
            "SELECT count(*) FROM users WHERE node = ? AND replaced_at IS NULL",
            [node],
            |r| r.get(0),
        )?;
        if best.is_none_or(|(c, _)| count < c) {
            best = Some((count, node));
        }
    }
    best.map(|(_, n)| n.clone())
        .ok_or_else(|| DbError::LimitExceeded("no storage nodes are configured".into()))
}
