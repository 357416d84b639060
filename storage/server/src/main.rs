//! `sync-storage`: run a Firefox Sync server, or mint development tokens.

mod account_admin;
mod admin;

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use sync_storage::Server;
use sync_storage::config::{AuthMode, Config, LogFormat};

/// A self-hosted Firefox Sync server: token server and storage in one
/// process, with all data in one SQLite file.
///
/// Quick start:
///
///   sync-storage serve                         # listens on 127.0.0.1:8000
///   sync-storage mint-token --email me@home    # an account token and a fresh kB
///
/// Clients use http://127.0.0.1:8000/1.0/sync/1.5 as their token server URL.
/// Settings come from --config FILE (TOML) and SYNC_STORAGE_* environment
/// variables; see the README for every setting.
#[derive(Parser)]
#[command(name = "sync-storage", version, verbatim_doc_comment)]
struct Cli {
    /// A TOML configuration file.
    #[arg(long, short, global = true, env = "SYNC_STORAGE_CONFIG")]
    config: Option<PathBuf>,
    /// The SQLite database file or a postgres:// URL (overrides the configuration).
    #[arg(long, global = true)]
    database: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the token server and storage API until interrupted (Ctrl-C or SIGTERM).
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8000 (overrides the configuration).
        #[arg(long)]
        bind: Option<std::net::SocketAddr>,
        /// The URL clients reach this server at, if not http://<bind>.
        #[arg(long)]
        public_url: Option<String>,
    },
    /// Print a development-mode OAuth token for an account, with a fresh
    /// random kB and its X-KeyID. Works only in auth mode "dev".
    MintToken {
        /// The account's email; the same email always reaches the same account.
        #[arg(long)]
        email: String,
        /// How long the OAuth token is valid, in seconds.
        #[arg(long, default_value_t = 86_400)]
        duration: u64,
    },
    /// Manage the storage nodes the token server assigns users to.
    Node {
        #[command(subcommand)]
        command: admin::NodeCommand,
    },
    /// Manage the accounts of the Firefox Accounts service (`[accounts]`).
    Account {
        #[command(subcommand)]
        command: account_admin::AccountCommand,
    },
    /// Look at, delete or move an account's storage.
    User {
        #[command(subcommand)]
        command: admin::UserCommand,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config =
        Config::load(cli.config.as_deref(), std::env::vars()).context("loading the configuration")?;
    if let Some(database) = cli.database {
        config.database = database;
    }
    match cli.command {
        Command::Serve { bind, public_url } => {
            if let Some(bind) = bind {
                config.bind = bind;
            }
            if public_url.is_some() {
                config.public_url = public_url;
            }
            init_logging(config.log_format);
            serve(config)
        }
        Command::MintToken { email, duration } => mint_token(config, &email, duration),
        Command::Node { command } => admin::node(&config, command),
        Command::User { command } => admin::user(&config, command),
        Command::Account { command } => account_admin::account(&config, command),
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only for a person at a terminal: a file, a pipe or journald
    // gets plain text (NO_COLOR turns it off everywhere).
    let colour =
        std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    let database = config.database.clone();
    let role = config.role;
    let server = Server::bind(config).context("starting the server")?;
    if role.serves_tokens() {
        tracing::info!(
            database = %sync_storage::db::redacted(&database),
            ?role,
            token_server = %format!("{}/1.0/sync/1.5", server.public_url()),
            "sync-storage ready"
        );
    } else {
        tracing::info!(
            database = %sync_storage::db::redacted(&database),
            ?role,
            storage_node = %server.public_url(),
            "sync-storage ready"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(server.serve(shutdown_signal()))?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}

fn mint_token(mut config: Config, email: &str, duration: u64) -> anyhow::Result<()> {
    anyhow::ensure!(
        config.auth.mode == AuthMode::Dev,
        "mint-token needs auth mode \"dev\"; in \"fxa\" mode tokens come from Firefox Accounts"
    );
    let secret = match config.auth.dev_secret.take() {
        Some(secret) => secret,
        None => {
            // The secret `serve` generated and stored in the same database.
            let db = sync_storage::db::Db::open(&config.database)
                .with_context(|| format!("opening {}", sync_storage::db::redacted(&config.database)))?;
            let fresh = sync_storage::auth::random_secret()?;
            db.setting_or_init("dev_secret", || fresh)?
        }
    };
    let token = sync_storage::auth::mint_dev_token(&secret, email, 0, duration)?;
    let kb = {
        use ring::rand::SecureRandom;
        let mut b = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut b)
            .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?;
        b
    };
    let keys_changed_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as u64;
    let root = sync15::SyncRootKey::new(&kb, keys_changed_at)?;
    let out = serde_json::json!({
        "email": email,
        "access_token": token,
        "kB": hex::encode(kb),
        "keys_changed_at": keys_changed_at,
        "key_id": root.key_id(),
        "token_server": format!("{}/1.0/sync/1.5", config.public_url()),
    });
    // The one thing this command exists to print.
    #[allow(clippy::print_stdout)]
    {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(())
}
