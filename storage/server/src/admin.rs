//! `sync-storage node …`: the operator's commands on the token server's
//! storage nodes, run against the same database as the server.

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
