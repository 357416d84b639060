//! Configuration: a TOML file, then environment variables, then defaults.
//!
//! ```toml
//! bind = "127.0.0.1:8000"                  # loopback unless you mean otherwise
//! public_url = "https://sync.example.com"  # how clients reach this server
//! database = "/var/lib/sync-storage/sync.db"  # or "postgres://user:password@host/db"
//! postgres_pool_size = 16                  # PostgreSQL: connections at most; ~2x its host's cores
//! role = "all"                             # or "storage-only" / "token-only"
//! master_secret = "…"                      # or ["new", "old"]: the first signs, all verify
//! token_duration_secs = 3600
//! metrics_bind = "127.0.0.1:9090"          # Prometheus /metrics; off unless set
//!
//! [auth]
//! mode = "dev"                             # or "fxa"
//! dev_secret = "…"                         # dev mode: signs the OAuth tokens `mint-token` prints
//! # fxa mode: FxA access tokens. JWTs are checked against these keys; any
//! # other token is sent to the OAuth server's /v1/verify.
//! # fxa_primary_jwk = { kid = "20190730-15e473fd", n = "…", e = "AQAB" }
//! # fxa_oauth_server_url = "https://oauth.accounts.firefox.com"
//!
//! [connections]
//! max = 512                                # clients served at once
//! header_read_timeout_secs = 10            # also the keep-alive idle time
//! body_read_timeout_secs = 60
//! idle_timeout_secs = 30                   # nothing moving while waiting on the network
//!
//! [cors]
//! allowed_origins = ["*"]                  # or ["https://app.example"]; [] for none
//! max_age_secs = 1728000                   # how long a browser caches a preflight
//!
//! [limits]
//! max_post_records = 100
//! max_total_records = 10000
//! quota_bytes = 2684354560                 # per collection per account; 0 = no quota
//!
//! nodes = ["https://sync.example.com"]     # storage nodes users are assigned to
//! ```
//! `[accounts]` runs a Firefox Accounts service in this process (`config/accounts.rs`).
//!
//! Every setting can also come from an environment variable named
//! `SYNC_STORAGE_<SETTING>` (e.g. `SYNC_STORAGE_BIND`, `SYNC_STORAGE_DATABASE`,
//! `SYNC_STORAGE_DEV_SECRET`), which wins over the file.

mod accounts;
mod auth;
mod connections;
mod cors;
mod env;

pub use auth::{AuthConfig, AuthMode, FXA_OAUTH_SERVER_URL, OLDSYNC_SCOPE, RsaJwk};
pub use connections::Connections;
pub use cors::Cors;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The largest `postgres_pool_size` accepted (PostgreSQL's own default
/// `max_connections` is 100; past a few hundred, connections cost more than
/// they serve).
const MAX_POSTGRES_POOL_SIZE: u32 = 1_000;

/// Everything the server needs to know.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The address to listen on.
    pub bind: SocketAddr,
    /// The base URL clients use; defaults to `http://<bind>`.
    pub public_url: Option<String>,
    /// The SQLite database file, or a `postgres://` (`postgresql://`) URL
    /// for PostgreSQL 15 or later.
    pub database: PathBuf,
    /// PostgreSQL only: connections the server keeps open at most. About
    /// twice the database host's cores is PostgreSQL's own advice; each
    /// slow client draining a large streamed read holds one.
    pub postgres_pool_size: u32,
    /// What this process serves: token server and storage (`all`), or one of them.
    pub role: Role,
    /// Secrets that sign storage tokens (Mozilla's `tokenlib` format) and
    /// derive their Hawk keys: the first signs, every one verifies. A
    /// storage node and the token servers in front of it share them. If
    /// unset (role `all` only), one is generated on first start and kept in
    /// the database.
    pub master_secret: MasterSecrets,
    /// Keys the unlinkable `hashed_fxa_uid` in token responses; derived
    /// from the first master secret when unset.
    pub metrics_hash_secret: Option<String>,
    /// How long a storage token lives.
    pub token_duration_secs: u64,
    /// How far a Hawk timestamp may be from the server's clock.
    pub hawk_skew_secs: u64,
    /// Memory for remembering Hawk nonces (replay protection); when full,
    /// the oldest are forgotten early.
    pub hawk_nonce_cache_bytes: u64,
    /// How long an uncommitted batch is kept.
    pub batch_ttl_secs: u64,
    /// Storage node base URLs users are assigned to; defaults to `[public_url]`.
    pub nodes: Vec<String>,
    /// The `node_type` token responses name (Mozilla's say `mysql`,
    /// `postgres` or `spanner`; clients only report it). Unset: the
    /// backend's, `sqlite` or `postgres`.
    pub node_type: Option<String>,
    /// Where Prometheus `/metrics` is served, on a listener of its own; not
    /// served at all when unset.
    pub metrics_bind: Option<SocketAddr>,
    /// Log lines as JSON (`json`) or text (`text`).
    pub log_format: LogFormat,
    /// How OAuth tokens are verified.
    pub auth: AuthConfig,
    /// Request and storage limits, served in `info/configuration`.
    pub limits: Limits,
    /// Connection count and timeouts.
    pub connections: Connections,
    /// Which web pages may call the storage API from a browser.
    pub cors: Cors,
    /// The self-hosted Firefox Accounts service (off unless enabled).
    pub accounts: sync_accounts::AccountsConfig,
}

/// What a process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The token server and the storage API, sharing one database: the
    /// self-hoster's single process. Storage checks each token's uid is
    /// still the account's current one.
    #[default]
    All,
    /// Only the storage API: trusts any validly signed token for the uid in
    /// the URL, with no account table of its own — a node behind any token
    /// server (ours or Mozilla's) that shares its master secret.
    StorageOnly,
    /// Only the token server, assigning users to the configured `nodes`.
    TokenOnly,
}

impl Role {
    /// Whether this process answers `/1.0/sync/1.5`.
    pub fn serves_tokens(self) -> bool {
        self != Role::StorageOnly
    }

    /// Whether this process answers `/1.5/…`.
    pub fn serves_storage(self) -> bool {
        self != Role::TokenOnly
    }
}

/// One master secret, or several (the first signs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "OneOrMany", into = "Vec<String>")]
pub struct MasterSecrets(pub Vec<String>);

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl From<OneOrMany> for MasterSecrets {
    fn from(v: OneOrMany) -> Self {
        match v {
            OneOrMany::One(s) => MasterSecrets(vec![s]),
            OneOrMany::Many(v) => MasterSecrets(v),
        }
    }
}

impl From<MasterSecrets> for Vec<String> {
    fn from(s: MasterSecrets) -> Self {
        s.0
    }
}

impl MasterSecrets {
    /// Whether none is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Limits, with the names `info/configuration` uses.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body.
    pub max_request_bytes: u64,
    /// Most BSOs per POST.
    pub max_post_records: u64,
    /// Most payload bytes per POST.
    pub max_post_bytes: u64,
    /// Most BSOs per batch.
    pub max_total_records: u64,
    /// Most payload bytes per batch.
    pub max_total_bytes: u64,
    /// Largest single payload.
    pub max_record_payload_bytes: u64,
    /// Bytes a collection may hold per account; 0 disables the quota.
    pub quota_bytes: u64,
}

/// The protocol's default quota: 2.5 GB per collection per account.
pub const DEFAULT_QUOTA_BYTES: u64 = 2_684_354_560;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_bytes: 2_101_248,
            max_post_records: 100,
            max_post_bytes: 2_097_152,
            max_total_records: 10_000,
            max_total_bytes: 104_857_600,
            max_record_payload_bytes: 2_097_152,
            quota_bytes: DEFAULT_QUOTA_BYTES,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            public_url: None,
            database: default_database_path(),
            postgres_pool_size: crate::db::OpenOptions::default().postgres_pool_size,
            role: Role::All,
            master_secret: MasterSecrets::default(),
            metrics_hash_secret: None,
            token_duration_secs: 3600,
            hawk_skew_secs: 60,
            hawk_nonce_cache_bytes: crate::auth::hawk::DEFAULT_NONCE_CACHE_BYTES as u64,
            batch_ttl_secs: 2 * 3600,
            nodes: Vec::new(),
            node_type: None,
            metrics_bind: None,
            log_format: LogFormat::Text,
            auth: AuthConfig::default(),
            limits: Limits::default(),
            connections: Connections::default(),
            cors: Cors::default(),
            accounts: sync_accounts::AccountsConfig::default(),
        }
    }
}

/// `<data dir>/sync-storage/sync.db`, e.g. `~/.local/share/sync-storage/sync.db`.
pub fn default_database_path() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("sync-storage")
        .join("sync.db")
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration.
    #[error("invalid configuration in {path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        source: toml::de::Error,
    },
    /// An environment variable has a value of the wrong form.
    #[error("environment variable {name}: {reason}")]
    Env {
        /// The variable.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The settings contradict each other or miss something required.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Reads `path` (if given), then applies `SYNC_STORAGE_*` variables from `env`.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.display().to_string(),
                    source,
                })?
            }
            None => Config::default(),
        };
        for (name, value) in env {
            if let Some(setting) = name.strip_prefix("SYNC_STORAGE_") {
                config
                    .apply_env(setting, &value)
                    .map_err(|reason| ConfigError::Env {
                        name: name.clone(),
                        reason,
                    })?;
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks the settings fit together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_POSTGRES_POOL_SIZE).contains(&self.postgres_pool_size) {
            return Err(ConfigError::Invalid(format!(
                "postgres_pool_size must be between 1 and {MAX_POSTGRES_POOL_SIZE}"
            )));
        }
        let l = &self.limits;
        if l.max_post_records == 0 || l.max_total_records == 0 {
            return Err(ConfigError::Invalid(
                "record-count limits must be at least 1".into(),
            ));
        }
        if l.max_record_payload_bytes > l.max_post_bytes || l.max_post_bytes > l.max_total_bytes {
            return Err(ConfigError::Invalid(
                "limits must satisfy max_record_payload_bytes <= max_post_bytes <= max_total_bytes".into(),
            ));
        }
        if self.auth.mode == AuthMode::Fxa {
            let url = &self.auth.fxa_oauth_server_url;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::Invalid(format!(
                    "auth.fxa_oauth_server_url `{url}` must be http(s)"
                )));
            }
            if self.auth.fxa_verify_timeout_secs == 0 {
                return Err(ConfigError::Invalid(
                    "auth.fxa_verify_timeout_secs must be positive".into(),
                ));
            }
        }
        if self.master_secret.0.iter().any(|s| s.is_empty()) {
            return Err(ConfigError::Invalid("a master_secret is empty".into()));
        }
        if self.role != Role::All && self.master_secret.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "role {:?} needs master_secret: the secret it shares with the {}",
                self.role,
                if self.role == Role::StorageOnly {
                    "token server in front of it"
                } else {
                    "storage nodes behind it"
                }
            )));
        }
        if self.role == Role::TokenOnly && self.nodes.is_empty() {
            return Err(ConfigError::Invalid(
                "role \"token-only\" needs nodes: the storage nodes it assigns users to".into(),
            ));
        }
        if self.accounts.enabled {
            self.validate_accounts()?;
        }
        if let Some(problem) = self.cors.problem() {
            return Err(ConfigError::Invalid(problem));
        }
        if let Some(problem) = self.connections.problem() {
            return Err(ConfigError::Invalid(problem.into()));
        }
        if self.token_duration_secs == 0 {
            return Err(ConfigError::Invalid(
                "token_duration_secs must be positive".into(),
            ));
        }
        if let Some(url) = &self.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::Invalid(format!(
                    "public_url `{url}` must be http(s)"
                )));
            }
        }
        Ok(())
    }

    /// The base URL clients use.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.bind))
            .trim_end_matches('/')
            .to_owned()
    }

    /// The `node_type` token responses carry.
    pub fn node_type(&self) -> &str {
        match &self.node_type {
            Some(configured) => configured,
            None if crate::db::is_postgres_url(&self.database.to_string_lossy()) => "postgres",
            None => "sqlite",
        }
    }

    /// The nodes users are assigned to.
    pub fn nodes(&self) -> Vec<String> {
        if self.nodes.is_empty() {
            vec![self.public_url()]
        } else {
            self.nodes
                .iter()
                .map(|n| n.trim_end_matches('/').to_owned())
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_bind_loopback_with_the_protocol_quota() {
        let c = Config::load(None, Vec::new()).unwrap();
        assert!(c.bind.ip().is_loopback());
        assert_eq!(c.limits.quota_bytes, DEFAULT_QUOTA_BYTES);
        assert!(c.database.ends_with("sync-storage/sync.db"));
        assert_eq!(c.nodes(), [format!("http://{}", c.bind)]);
    }

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "bind = \"127.0.0.1:9000\"\npublic_url = \"https://sync.example/\"\n[limits]\nmax_post_records = 50\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&path),
            env(&[
                ("SYNC_STORAGE_MAX_POST_RECORDS", "20"),
                ("SYNC_STORAGE_DEV_SECRET", "s3cret"),
                ("PATH", "/usr/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(c.bind.port(), 9000);
        assert_eq!(c.public_url(), "https://sync.example");
        assert_eq!(c.limits.max_post_records, 20);
        assert_eq!(c.auth.dev_secret.as_deref(), Some("s3cret"));
    }

    #[test]
    fn roles_and_rotating_master_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "role = \"storage-only\"\nmaster_secret = [\"new\", \"old\"]\n[auth]\nfxa_primary_jwk = { kid = \"k\", n = \"AQAB\", e = \"AQAB\", kty = \"RSA\", \"fxa-createdAt\" = 1 }\n",
        )
        .unwrap();
        let c = Config::load(Some(&path), Vec::new()).unwrap();
        assert_eq!(c.role, Role::StorageOnly);
        assert!(!c.role.serves_tokens() && c.role.serves_storage());
        assert_eq!(c.master_secret.0, ["new", "old"]);
        assert_eq!(c.auth.fxa_primary_jwk.unwrap().kid, "k");
        std::fs::write(&path, "master_secret = \"one\"\n").unwrap();
        let c = Config::load(
            Some(&path),
            env(&[
                ("SYNC_STORAGE_MASTER_SECRET", "a, b"),
                ("SYNC_STORAGE_METRICS_BIND", "127.0.0.1:0"),
            ]),
        )
        .unwrap();
        assert_eq!(c.master_secret.0, ["a", "b"]);
        assert!(c.metrics_bind.is_some());
        let one = Config::load(Some(&path), Vec::new()).unwrap();
        assert_eq!(one.master_secret.0, ["one"]);
    }

    #[test]
    fn bad_settings_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "bnid = \"127.0.0.1:9000\"\n").unwrap();
        let err = Config::load(Some(&path), Vec::new()).unwrap_err();
        assert!(err.to_string().contains("bnid"), "{err}");
        let err = Config::load(None, env(&[("SYNC_STORAGE_BIND", "everywhere")])).unwrap_err();
        assert!(err.to_string().contains("SYNC_STORAGE_BIND"), "{err}");
        let err = Config::load(
            None,
            env(&[
                ("SYNC_STORAGE_AUTH_MODE", "fxa"),
                ("SYNC_STORAGE_FXA_OAUTH_SERVER_URL", "oauth.example"),
            ]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("fxa_oauth_server_url"), "{err}");
        let err = Config::load(None, env(&[("SYNC_STORAGE_ROLE", "storage-only")])).unwrap_err();
        assert!(err.to_string().contains("master_secret"), "{err}");
        let pool = |n| Config::load(None, env(&[("SYNC_STORAGE_POSTGRES_POOL_SIZE", n)]));
        assert!(pool("0").unwrap_err().to_string().contains("postgres_pool_size"));
        assert_eq!(pool("6").unwrap().postgres_pool_size, 6);
        let err = Config::load(
            None,
            env(&[
                ("SYNC_STORAGE_ROLE", "token-only"),
                ("SYNC_STORAGE_MASTER_SECRET", "s"),
            ]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("nodes"), "{err}");
        let err = Config::load(None, env(&[("SYNC_STORAGE_MAX_POST_RECORDS", "0")])).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid(_)));
        assert!(matches!(
            Config::load(Some(Path::new("/nonexistent/c.toml")), Vec::new()),
            Err(ConfigError::Read { .. })
        ));
    }
}
