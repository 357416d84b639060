//! `SYNC_STORAGE_*` environment variables, which win over the file.

use std::path::PathBuf;

use super::{AuthMode, Config, LogFormat, MasterSecrets, Role};

impl Config {
    /// Applies `SYNC_STORAGE_<setting>`; an `Err` says what is wrong with
    /// its value.
    pub(super) fn apply_env(&mut self, setting: &str, value: &str) -> Result<(), String> {
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
            "ROLE" => {
                self.role = match value {
                    "all" => Role::All,
                    "storage-only" => Role::StorageOnly,
                    "token-only" => Role::TokenOnly,
                    _ => return Err("must be `all`, `storage-only` or `token-only`".into()),
                }
            }
            // Comma-separated: the first signs. Generated secrets are hex.
            "MASTER_SECRET" => {
                self.master_secret = MasterSecrets(value.split(',').map(|s| s.trim().to_owned()).collect())
            }
            "METRICS_HASH_SECRET" => self.metrics_hash_secret = Some(value.to_owned()),
            "NODE_TYPE" => self.node_type = value.to_owned(),
            "METRICS_BIND" => {
                self.metrics_bind = Some(value.parse().map_err(|_| format!("`{value}` is not ip:port"))?)
            }
            "FXA_PRIMARY_JWK" => {
                self.auth.fxa_primary_jwk =
                    Some(serde_json::from_str(value).map_err(|e| format!("not a JWK ({e})"))?)
            }
            "FXA_SECONDARY_JWK" => {
                self.auth.fxa_secondary_jwk =
                    Some(serde_json::from_str(value).map_err(|e| format!("not a JWK ({e})"))?)
            }
            "FXA_OAUTH_SERVER_URL" => self.auth.fxa_oauth_server_url = value.to_owned(),
            "FXA_VERIFY_TIMEOUT_SECS" => self.auth.fxa_verify_timeout_secs = num(value)?,
            "FXA_VERIFY_CACHE_SECS" => self.auth.fxa_verify_cache_secs = num(value)?,
            "TOKEN_DURATION_SECS" => self.token_duration_secs = num(value)?,
            "HAWK_SKEW_SECS" => self.hawk_skew_secs = num(value)?,
            "HAWK_NONCE_CACHE_BYTES" => self.hawk_nonce_cache_bytes = num(value)?,
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
            "MAX_CONNECTIONS" => self.connections.max = num(value)?,
            "HEADER_READ_TIMEOUT_SECS" => self.connections.header_read_timeout_secs = num(value)?,
            "BODY_READ_TIMEOUT_SECS" => self.connections.body_read_timeout_secs = num(value)?,
            "IDLE_TIMEOUT_SECS" => self.connections.idle_timeout_secs = num(value)?,
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
}
