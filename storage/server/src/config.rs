//! Configuration: a TOML file, then environment variables, then defaults.
//!
//! ```toml
//! bind = "127.0.0.1:8000"                  # loopback unless you mean otherwise
//! public_url = "https://sync.example.com"  # how clients reach this server
//! database = "/var/lib/sync-storage/sync.db"
//! master_secret = "…"                      # signs tokens; generated and kept in the database if unset
//! token_duration_secs = 3600
//!
//! [auth]
//! mode = "dev"                             # or "fxa"
//! dev_secret = "…"                         # dev mode: signs the OAuth tokens `mint-token` prints
//! # fxa mode: FxA's public signing keys (JWKs with kid, n, e)
//! # fxa_jwks = [{ kid = "20190730-15e473fd", n = "…", e = "AQAB" }]
//!
//! [limits]
//! max_post_records = 100
//! max_total_records = 10000
//! quota_bytes = 2684354560                 # per collection per account; 0 = no quota
//!
//! nodes = ["https://sync.example.com"]     # storage nodes users are assigned to
//! ```
//!
//! Every setting can also come from an environment variable named
//! `SYNC_STORAGE_<SETTING>` (e.g. `SYNC_STORAGE_BIND`, `SYNC_STORAGE_DATABASE`,
//! `SYNC_STORAGE_DEV_SECRET`), which wins over the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Everything the server needs to know.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The address to listen on.
    pub bind: SocketAddr,
    /// The base URL clients use; defaults to `http://<bind>`.
    pub public_url: Option<String>,
    /// The SQLite database file.
    pub database: PathBuf,
    /// Secret that signs Hawk token ids and derives their keys. If unset, one
    /// is generated on first start and kept in the database.
    pub master_secret: Option<String>,
    /// How long a storage token lives.
    pub token_duration_secs: u64,
    /// How far a Hawk timestamp may be from the server's clock.
    pub hawk_skew_secs: u64,
    /// How long an uncommitted batch is kept.
    pub batch_ttl_secs: u64,
    /// Storage node base URLs users are assigned to; defaults to `[public_url]`.
    pub nodes: Vec<String>,
    /// Log lines as JSON (`json`) or text (`text`).
    pub log_format: LogFormat,
    /// How OAuth tokens are verified.
    pub auth: AuthConfig,
    /// Request and storage limits, served in `info/configuration`.
    pub limits: Limits,
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

/// How the token server checks the bearer token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// `dev`: tokens are HS256 JWTs signed with `dev_secret` (see
    /// `sync-storage mint-token`). `fxa`: RS256 JWTs from Firefox Accounts,
    /// checked against `fxa_jwks` without any network call.
    pub mode: AuthMode,
    /// The dev-mode signing secret. Required in dev mode.
    pub dev_secret: Option<String>,
    /// FxA's public keys, for fxa mode.
    pub fxa_jwks: Vec<RsaJwk>,
    /// The scope a token must carry.
    pub required_scope: String,
}

/// Which kind of bearer token the token server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Locally minted HS256 tokens (development and self-hosting without FxA).
    #[default]
    Dev,
    /// Firefox Accounts RS256 access tokens.
    Fxa,
}

/// An RSA public key in JWK form.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RsaJwk {
    /// The key id tokens name in their header.
    pub kid: String,
    /// The modulus, base64url.
    pub n: String,
    /// The exponent, base64url.
    pub e: String,
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

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            mode: AuthMode::Dev,
            dev_secret: None,
            fxa_jwks: Vec::new(),
            required_scope: OLDSYNC_SCOPE.to_owned(),
        }
    }
}

/// The OAuth scope that grants Sync access.
pub const OLDSYNC_SCOPE: &str = "https://identity.mozilla.com/apps/oldsync";

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            public_url: None,
            database: default_database_path(),
            master_secret: None,
            token_duration_secs: 3600,
            hawk_skew_secs: 60,
            batch_ttl_secs: 2 * 3600,
            nodes: Vec::new(),
            log_format: LogFormat::Text,
            auth: AuthConfig::default(),
            limits: Limits::default(),
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

    fn apply_env(&mut self, setting: &str, value: &str) -> Result<(), String> {
        fn num(value: &str) -> Result<u64, String> {
            value
                .trim()
                .parse()
                .map_err(|_| format!("`{value}` is not a whole number"))
        }
        match setting {
            "BIND" => self.bind = value.parse().map_err(|_| format!("`{value}` is not ip:port"))?,
            "PUBLIC_URL" => self.public_url = Some(value.to_owned()),
            "DATABASE" => self.database = PathBuf::from(value),
            "MASTER_SECRET" => self.master_secret = Some(value.to_owned()),
            "TOKEN_DURATION_SECS" => self.token_duration_secs = num(value)?,
            "HAWK_SKEW_SECS" => self.hawk_skew_secs = num(value)?,
            "BATCH_TTL_SECS" => self.batch_ttl_secs = num(value)?,
            "NODES" => self.nodes = value.split(',').map(|s| s.trim().to_owned()).collect(),
            "LOG_FORMAT" => {
                self.log_format = match value {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => return Err("must be `text` or `json`".into()),
                }
            }
            "AUTH_MODE" => {
                self.auth.mode = match value {
                    "dev" => AuthMode::Dev,
                    "fxa" => AuthMode::Fxa,
                    _ => return Err("must be `dev` or `fxa`".into()),
                }
            }
            "DEV_SECRET" => self.auth.dev_secret = Some(value.to_owned()),
            "QUOTA_BYTES" => self.limits.quota_bytes = num(value)?,
            "MAX_POST_RECORDS" => self.limits.max_post_records = num(value)?,
            "MAX_TOTAL_RECORDS" => self.limits.max_total_records = num(value)?,
            "MAX_REQUEST_BYTES" => self.limits.max_request_bytes = num(value)?,
            // Unknown names are ignored: the environment holds unrelated variables
            // with this prefix only by mistake, and failing would hide the real problem.
            _ => {}
        }
        Ok(())
    }

    /// Checks the settings fit together.
    pub fn validate(&self) -> Result<(), ConfigError> {
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
        if self.auth.mode == AuthMode::Fxa && self.auth.fxa_jwks.is_empty() {
            return Err(ConfigError::Invalid(
                "auth.mode = \"fxa\" needs auth.fxa_jwks".into(),
            ));
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
    fn bad_settings_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "bnid = \"127.0.0.1:9000\"\n").unwrap();
        let err = Config::load(Some(&path), Vec::new()).unwrap_err();
        assert!(err.to_string().contains("bnid"), "{err}");
        let err = Config::load(None, env(&[("SYNC_STORAGE_BIND", "everywhere")])).unwrap_err();
        assert!(err.to_string().contains("SYNC_STORAGE_BIND"), "{err}");
        let err = Config::load(None, env(&[("SYNC_STORAGE_AUTH_MODE", "fxa")])).unwrap_err();
        assert!(err.to_string().contains("fxa_jwks"), "{err}");
        let err = Config::load(None, env(&[("SYNC_STORAGE_MAX_POST_RECORDS", "0")])).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid(_)));
        assert!(matches!(
            Config::load(Some(Path::new("/nonexistent/c.toml")), Vec::new()),
            Err(ConfigError::Read { .. })
        ));
    }
}
