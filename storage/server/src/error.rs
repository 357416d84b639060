//! Why the server could not start or stopped.

use std::net::SocketAddr;

use crate::auth::OAuthError;
use crate::config::ConfigError;
use crate::db::DbError;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database could not be opened.
    #[error("database {path}: {source}")]
    Db {
        /// The database file.
        path: String,
        /// Why.
        source: DbError,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The FxA keys in the configuration do not decode.
    #[error("auth configuration: {0}")]
    Auth(#[from] OAuthError),
    /// Serving failed.
    #[error("server I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The accounts service could not start.
    #[error(transparent)]
    Accounts(#[from] sync_accounts::AccountsError),
}
