//! `sync-storage node …` and `sync-storage user …`: the operator's commands
//! on the token server's storage nodes and accounts, run against the same
//! database as the server.

use anyhow::{Context, Result};
use clap::Subcommand;
use sync_storage::config::Config;
use sync_storage::db::{DEFAULT_NODE_CAPACITY, Db, DbError, redacted};

/// What to do with the storage nodes.
#[derive(Subcommand)]
pub enum NodeCommand {
    /// Add a node (or set a known one's capacity and let it take users again).
    Add {
        /// Its base URL, as token responses will name it.
        url: String,
        /// How many current users it should hold at most.
        #[arg(long, default_value_t = DEFAULT_NODE_CAPACITY)]
        capacity: i64,
    },
    /// Stop assigning new users to a node; its users stay.
    Drain {
        /// The node's URL.
        url: String,
    },
    /// Take a node out of service: its users get a new node on their next token.
    Retire {
        /// The node's URL.
        url: String,
    },
    /// List the nodes: capacity, current users, and whether they take new ones.
    List,
}

/// What to do with an account (named by its FxA uid or its email).
#[derive(Subcommand)]
pub enum UserCommand {
    /// Show the account's records: uid, node, keys, when made and retired.
    Show {
        /// FxA uid or email.
        account: String,
    },
    /// Delete everything the account stored here; its next token starts afresh.
    Delete {
        /// FxA uid or email.
        account: String,
    },
    /// Move the account to another node: a new uid there, the old one retired.
    Migrate {
        /// FxA uid or email.
        account: String,
        /// The node's URL.
        node: String,
    },
}

/// Runs `command` on the configured database; the answer is for the
/// operator, on standard output.
#[allow(clippy::print_stdout)]
pub fn user(config: &Config, command: UserCommand) -> Result<()> {
    let db = Db::open(&config.database).with_context(|| format!("opening {}", redacted(&config.database)))?;
    let no_account = |account: &str| anyhow::anyhow!("no account {account} here");
    match command {
        UserCommand::Show { account } => {
            let records = db.user_records(&account)?;
            if records.is_empty() {
                return Err(no_account(&account));
            }
            println!(
                "{:>8}  {:<40} {:<34} {:>14} {:>14}  retired",
                "uid", "node", "client state", "generation", "keys changed"
            );
            for r in records {
                println!(
                    "{:>8}  {:<40} {:<34} {:>14} {:>14}  {}",
                    r.user.uid,
                    r.user.node,
                    r.user.client_state,
                    r.user.generation,
                    r.user.keys_changed_at,
                    r.replaced_at
                        .map_or_else(|| "current".to_owned(), |t| t.to_string())
                );
            }
        }
        UserCommand::Delete { account } => {
            let cleared = db.delete_account(&account).map_err(|e| match e {
                DbError::NotFound => no_account(&account),
                e => e.into(),
            })?;
            println!("{account}: stored data of {cleared} uids deleted; its next token starts afresh");
        }
        UserCommand::Migrate { account, node } => {
            anyhow::ensure!(
                db.nodes()?.iter().any(|n| n.url == node && !n.downed),
                "{node} is not a node in service (sync-storage node list shows them)"
            );
            let records = db.user_records(&account)?;
            let fxa_uid = records
                .first()
                .map(|r| r.user.fxa_uid.clone())
                .ok_or_else(|| no_account(&account))?;
            match db.reassign_node(&fxa_uid, &node)? {
                Some(uid) => println!("{account}: now uid {uid} on {node}; its clients upload again there"),
                None => return Err(anyhow::anyhow!("{account} has no current record to move")),
            }
        }
    }
    Ok(())
}

/// Runs `command` on the configured database; the answer is for the
/// operator, on standard output.
#[allow(clippy::print_stdout)]
pub fn node(config: &Config, command: NodeCommand) -> Result<()> {
    let db = Db::open(&config.database).with_context(|| format!("opening {}", redacted(&config.database)))?;
    match command {
        NodeCommand::Add { url, capacity } => {
            anyhow::ensure!(capacity >= 0, "a capacity is a number of users, 0 or more");
            let url = url.trim_end_matches('/').to_owned();
            url::Url::parse(&url).with_context(|| format!("{url} is not a URL"))?;
            db.add_node(&url, capacity)?;
            println!("{url}: takes up to {capacity} users");
        }
        NodeCommand::Drain { url } => {
            db.drain_node(&url).map_err(|e| not_found(&url, e))?;
            println!("{url}: draining (no new users; its users stay)");
        }
        NodeCommand::Retire { url } => {
            let moved = db.retire_node(&url).map_err(|e| not_found(&url, e))?;
            println!("{url}: retired; {moved} users get a new node on their next token");
        }
        NodeCommand::List => {
            println!("{:<40} {:>9} {:>9}  state", "node", "users", "capacity");
            for node in db.nodes()? {
                let state = match (node.downed, node.backoff) {
                    (true, _) => "down",
                    (false, true) => "draining",
                    _ if node.current_load >= node.capacity => "full",
                    _ => "taking users",
                };
                println!(
                    "{:<40} {:>9} {:>9}  {state}",
                    node.url, node.current_load, node.capacity
                );
            }
        }
    }
    Ok(())
}

fn not_found(url: &str, e: DbError) -> anyhow::Error {
    match e {
        DbError::NotFound => anyhow::anyhow!("no node {url} (sync-storage node list shows them)"),
        e => e.into(),
    }
}
