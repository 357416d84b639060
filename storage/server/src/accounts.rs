//! The self-hosted Firefox Accounts service in this process: opened on the
//! server's database — its SQLite file or PostgreSQL database — (or the
//! one `[accounts]` names), its public
//! keys given to the token server, and its account deletions carried out
//! on the stored data.

use std::sync::Arc;

use sync_accounts::{AccountEvent, Accounts};

use crate::config::{AuthMode, Config, ConfigError, RsaJwk};
use crate::db::{Db, DbError};
use crate::error::ServerError;

/// Opens the service `config.accounts` describes, and points the token
/// server's `auth` at it: from now on the token server accepts the access
/// tokens it signs, verified with its public keys in this process.
pub fn open(config: &mut Config, db: &Arc<Db>) -> Result<Accounts, ServerError> {
    // The server's own database (its SQLite file or its PostgreSQL
    // database, tables prefixed `fxa_`) unless the operator names another.
    let path = config
        .accounts
        .database
        .clone()
        .unwrap_or_else(|| config.database.clone());
    let secret = match &config.accounts.secret {
        Some(secret) => secret.clone(),
        None => {
            let fresh = crate::auth::random_secret()?;
            db.setting_or_init("accounts_secret", || fresh)
                .map_err(|source| ServerError::Db {
                    path: crate::db::redacted(&config.database),
                    source,
                })?
        }
    };
    let server_url = config.public_url();
    let public_url = config
        .accounts
        .public_url
        .clone()
        .unwrap_or_else(|| server_url.clone());
    config
        .accounts
        .tokenserver_url
        .get_or_insert_with(|| server_url.clone());
    let accounts = Accounts::open(config.accounts.clone(), &public_url, &path, secret.as_bytes())?;
    let keys = accounts.public_keys();
    let jwk = |k: &sync_accounts::PublicJwk| RsaJwk {
        kid: k.kid.clone(),
        n: k.n.clone(),
        e: k.e.clone(),
    };
    config.auth.mode = AuthMode::Fxa;
    config.auth.fxa_primary_jwk = keys.first().map(jwk);
    config.auth.fxa_secondary_jwk = keys.get(1).map(jwk);
    config.auth.fxa_oauth_server_url = public_url;
    // What Mozilla's token server does on the auth server's events
    // (tokenserver `process_account_events`), here by a direct call.
    let storage = db.clone();
    accounts.on_account_event(move |event| match event {
        AccountEvent::Deleted { uid } => match storage.delete_account(uid) {
            Ok(cleared) => tracing::info!(uid, cleared, "deleted the synced data of a deleted account"),
            Err(DbError::NotFound) => {}
            Err(e) => tracing::error!(uid, error = %e, "deleting the synced data of a deleted account"),
        },
        AccountEvent::PasswordChanged { uid, generation } => {
            let generation = i64::try_from(*generation).unwrap_or(i64::MAX);
            if let Err(e) = storage.password_changed(uid, generation) {
                tracing::error!(uid, error = %e, "recording a password change at the token server");
            }
        }
        AccountEvent::KeysRotated { .. } => {}
        _ => {}
    });
    Ok(accounts)
}

/// From now on the token server verifies access tokens with the keys the
/// accounts service rotates to — by `Accounts::rotate_signing_key` here,
/// or by `sync-storage account rotate-key` in another process (seen within
/// half a minute, before the new key signs) — without a restart.
pub fn follow_key_rotations(accounts: &Accounts, state: std::sync::Weak<crate::api::AppState>) {
    accounts.on_account_event(move |event| {
        let AccountEvent::KeysRotated { keys } = event else {
            return;
        };
        let Some(state) = state.upgrade() else {
            return;
        };
        let jwks: Vec<RsaJwk> = keys
            .iter()
            .map(|k| RsaJwk {
                kid: k.kid.clone(),
                n: k.n.clone(),
                e: k.e.clone(),
            })
            .collect();
        match state.oauth.replace_keys(&jwks) {
            Ok(()) => tracing::info!(primary = ?jwks.first().map(|k| &k.kid), "the token server follows the new signing keys"),
            Err(e) => tracing::error!(error = %e, "the rotated signing keys cannot be used"),
        }
    });
}

/// The accounts service of `config`'s database, for the operator's
/// commands (`sync-storage account …`), without serving.
pub fn open_for_admin(mut config: Config) -> Result<Accounts, ServerError> {
    if !config.accounts.enabled {
        return Err(ServerError::Config(ConfigError::Invalid(
            "the accounts service is not enabled ([accounts] enabled = true)".into(),
        )));
    }
    let db = Db::open(&config.database).map_err(|source| ServerError::Db {
        path: crate::db::redacted(&config.database),
        source,
    })?;
    open(&mut config, &Arc::new(db))
}
