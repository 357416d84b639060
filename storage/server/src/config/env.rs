//! `SYNC_STORAGE_*` environment variables, which win over the file.
//!
//! Every setting has one, listed in [`VARIABLES`] (a test checks that no
//! setting is missing). A variable with the prefix that names no setting
//! is an error: a misspelt `SYNC_STORAGE_MAX_POST_BYTE` silently ignored
//! would leave a limit the operator believes is set at its default.

use serde_json::Value;

use super::Config;

/// How a variable's text becomes the setting's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// As it is (names, URLs, addresses, enum values).
    Text,
    /// A whole number.
    Number,
    /// Comma-separated, trimmed.
    List,
    /// JSON (an FxA public key).
    Json,
    /// `true` or `false`.
    Bool,
}

use Kind::{Bool, Json, List, Number, Text};

/// Each variable (without the `SYNC_STORAGE_` prefix), the setting it
/// sets (a dotted path in the configuration file), and how it is read.
const VARIABLES: &[(&str, &str, Kind)] = &[
    ("BIND", "bind", Text),
    ("PUBLIC_URL", "public_url", Text),
    ("DATABASE", "database", Text),
    ("POSTGRES_POOL_SIZE", "postgres_pool_size", Number),
    ("ROLE", "role", Text),
    // Comma-separated: the first signs. Generated secrets are hex.
    ("MASTER_SECRET", "master_secret", List),
    ("METRICS_HASH_SECRET", "metrics_hash_secret", Text),
    ("TOKEN_DURATION_SECS", "token_duration_secs", Number),
    ("HAWK_SKEW_SECS", "hawk_skew_secs", Number),
    ("HAWK_NONCE_CACHE_BYTES", "hawk_nonce_cache_bytes", Number),
    ("BATCH_TTL_SECS", "batch_ttl_secs", Number),
    ("NODES", "nodes", List),
    ("NODE_TYPE", "node_type", Text),
    ("METRICS_BIND", "metrics_bind", Text),
    ("LOG_FORMAT", "log_format", Text),
    ("AUTH_MODE", "auth.mode", Text),
    ("DEV_SECRET", "auth.dev_secret", Text),
    ("FXA_PRIMARY_JWK", "auth.fxa_primary_jwk", Json),
    ("FXA_SECONDARY_JWK", "auth.fxa_secondary_jwk", Json),
    ("FXA_OAUTH_SERVER_URL", "auth.fxa_oauth_server_url", Text),
    ("FXA_VERIFY_TIMEOUT_SECS", "auth.fxa_verify_timeout_secs", Number),
    ("FXA_VERIFY_CACHE_SECS", "auth.fxa_verify_cache_secs", Number),
    ("REQUIRED_SCOPE", "auth.required_scope", Text),
    ("MAX_REQUEST_BYTES", "limits.max_request_bytes", Number),
    ("MAX_POST_RECORDS", "limits.max_post_records", Number),
    ("MAX_POST_BYTES", "limits.max_post_bytes", Number),
    ("MAX_TOTAL_RECORDS", "limits.max_total_records", Number),
    ("MAX_TOTAL_BYTES", "limits.max_total_bytes", Number),
    (
        "MAX_RECORD_PAYLOAD_BYTES",
        "limits.max_record_payload_bytes",
        Number,
    ),
    ("QUOTA_BYTES", "limits.quota_bytes", Number),
    ("MAX_CONNECTIONS", "connections.max", Number),
    (
        "HEADER_READ_TIMEOUT_SECS",
        "connections.header_read_timeout_secs",
        Number,
    ),
    (
        "BODY_READ_TIMEOUT_SECS",
        "connections.body_read_timeout_secs",
        Number,
    ),
    ("IDLE_TIMEOUT_SECS", "connections.idle_timeout_secs", Number),
    ("CORS_ALLOWED_ORIGINS", "cors.allowed_origins", List),
    ("CORS_MAX_AGE_SECS", "cors.max_age_secs", Number),
    ("ACCOUNTS_ENABLED", "accounts.enabled", Bool),
    ("ACCOUNTS_PUBLIC_URL", "accounts.public_url", Text),
    ("ACCOUNTS_DATABASE", "accounts.database", Text),
    ("ACCOUNTS_SECRET", "accounts.secret", Text),
    ("ACCOUNTS_TOKENSERVER_URL", "accounts.tokenserver_url", Text),
    ("ACCOUNTS_REGISTRATION", "accounts.registration", Text),
    ("ACCOUNTS_ALLOWED_EMAILS", "accounts.allowed_emails", List),
    ("ACCOUNTS_CONFIRM_SIGN_INS", "accounts.confirm_sign_ins", Bool),
    ("ACCOUNTS_EMAIL_MODE", "accounts.email.mode", Text),
    ("ACCOUNTS_EMAIL_FROM", "accounts.email.from", Text),
    ("ACCOUNTS_SMTP_URL", "accounts.email.smtp_url", Text),
    ("ACCOUNTS_SCRYPT_LOG_N", "accounts.scrypt_log_n", Number),
    (
        "ACCOUNTS_MAX_ACCESS_TOKEN_TTL_SECS",
        "accounts.max_access_token_ttl_secs",
        Number,
    ),
    ("ACCOUNTS_RATE_LIMIT", "accounts.rate_limit", Number),
    ("ACCOUNTS_RATE_WINDOW_SECS", "accounts.rate_window_secs", Number),
    (
        "ACCOUNTS_TRUST_FORWARDED_FOR",
        "accounts.trust_forwarded_for",
        Bool,
    ),
];

/// Variables with the prefix that are not settings: `--config`'s, and
/// the build's commit and number (`/__version__`), which container images
/// often leave in the environment.
const NOT_SETTINGS: &[&str] = &["CONFIG", "COMMIT", "BUILD"];

impl Config {
    /// Applies `SYNC_STORAGE_<name>`; an `Err` says what is wrong with it.
    pub(super) fn apply_env(&mut self, name: &str, value: &str) -> Result<(), String> {
        if NOT_SETTINGS.contains(&name) {
            return Ok(());
        }
        let Some(&(_, path, kind)) = VARIABLES.iter().find(|(n, _, _)| *n == name) else {
            return Err("no such setting (see the README's table of settings)".into());
        };
        let parsed = match kind {
            Text => Value::String(value.to_owned()),
            Number => Value::from(
                value
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| format!("`{value}` is not a whole number"))?,
            ),
            // Empty: an empty list (`SYNC_STORAGE_CORS_ALLOWED_ORIGINS=`).
            List => Value::Array(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_owned()))
                    .collect(),
            ),
            Json => serde_json::from_str(value).map_err(|e| format!("not JSON ({e})"))?,
            Bool => match value.trim() {
                "true" | "1" | "yes" => Value::Bool(true),
                "false" | "0" | "no" => Value::Bool(false),
                _ => return Err(format!("`{value}` is not true or false")),
            },
        };
        let mut tree = serde_json::to_value(&*self).map_err(|e| e.to_string())?;
        let mut slot = &mut tree;
        for part in path.split('.') {
            slot = slot
                .get_mut(part)
                .ok_or_else(|| format!("the setting {path} is missing from the configuration"))?;
        }
        *slot = parsed;
        *self = serde_json::from_value(tree).map_err(|e| e.to_string())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The dotted paths of every setting (leaves of the configuration;
    /// a setting whose value is a table, such as a JWK, is one leaf).
    fn leaves(value: &Value, prefix: &str, out: &mut Vec<String>) {
        match value {
            Value::Object(map)
                if prefix.is_empty()
                    || [
                        "auth",
                        "limits",
                        "connections",
                        "cors",
                        "accounts",
                        "accounts.email",
                    ]
                    .contains(&prefix) =>
            {
                for (key, v) in map {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    leaves(v, &path, out);
                }
            }
            _ => out.push(prefix.to_owned()),
        }
    }

    #[test]
    fn every_setting_has_exactly_one_variable() {
        let mut settings = Vec::new();
        leaves(
            &serde_json::to_value(Config::default()).unwrap(),
            "",
            &mut settings,
        );
        settings.sort();
        let mut named: Vec<String> = VARIABLES.iter().map(|(_, p, _)| (*p).to_owned()).collect();
        named.sort();
        assert_eq!(named, settings);
        let mut names: Vec<&str> = VARIABLES.iter().map(|(n, _, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), VARIABLES.len());
    }

    #[test]
    fn every_variable_sets_its_setting() {
        let sample = |kind: Kind, path: &str| match (kind, path) {
            (_, "bind" | "metrics_bind") => "127.0.0.1:1234".to_owned(),
            (_, "role") => "storage-only".to_owned(),
            (_, "log_format") => "json".to_owned(),
            (_, "auth.mode") => "fxa".to_owned(),
            (_, "accounts.registration") => "closed".to_owned(),
            (_, "accounts.email.mode") => "smtp".to_owned(),
            (_, "accounts.scrypt_log_n") => "12".to_owned(),
            (_, "accounts.confirm_sign_ins") => "false".to_owned(),
            (Bool, _) => "true".to_owned(),
            (Json, _) => r#"{"kid":"k","n":"AQAB","e":"AQAB"}"#.to_owned(),
            (Number, _) => "4242".to_owned(),
            (List, _) => "a, b".to_owned(),
            (Text, _) => "https://example.test/x".to_owned(),
        };
        for &(name, path, kind) in VARIABLES {
            let mut config = Config::default();
            let before = serde_json::to_value(&config).unwrap();
            config.apply_env(name, &sample(kind, path)).unwrap();
            let after = serde_json::to_value(&config).unwrap();
            let pick = |v: &Value| path.split('.').fold(v.clone(), |v, p| v[p].clone());
            assert_ne!(pick(&before), pick(&after), "{name} did not change {path}");
        }
        let mut config = Config::default();
        config.apply_env("MAX_POST_BYTES", "12345").unwrap();
        assert_eq!(config.limits.max_post_bytes, 12345);
        config.apply_env("MASTER_SECRET", " new ,old").unwrap();
        assert_eq!(config.master_secret.0, ["new", "old"]);
    }

    #[test]
    fn unknown_and_bad_variables_are_errors() {
        let mut config = Config::default();
        assert!(
            config
                .apply_env("MAX_POST_BYTE", "1")
                .unwrap_err()
                .contains("no such setting")
        );
        assert!(
            config
                .apply_env("MAX_POST_BYTES", "lots")
                .unwrap_err()
                .contains("not a whole number")
        );
        assert!(
            config
                .apply_env("ROLE", "everything")
                .unwrap_err()
                .contains("unknown variant")
        );
        assert!(config.apply_env("BIND", "everywhere").is_err());
        config.apply_env("CONFIG", "/etc/sync.toml").unwrap();
        config.apply_env("COMMIT", "abc").unwrap();
    }
}
