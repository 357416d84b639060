//! What an operator does by hand (`sync-storage account …`): list and
//! inspect accounts, disable or re-enable one, delete one, and give a
//! person waiting for an emailed code a code when there is no mail server.

use serde::Serialize;

use crate::api::issue::CODE_LIFETIME_MS;
use crate::error::AccountsError;
use crate::secrets::{decimal_code, hash_hex};
use crate::store::accounts::{self, Account};
use crate::store::{devices, oauth, tokens};
use crate::{Accounts, now_ms};

/// An account as an operator sees it (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountSummary {
    /// The account id (what the token server knows it by).
    pub uid: String,
    /// The address, as the person typed it.
    pub email: String,
    /// Whether the address is confirmed.
    pub email_verified: bool,
    /// Created, ms since the epoch.
    pub created_at: u64,
    /// Disabled since (ms), if disabled.
    pub disabled_at: Option<u64>,
    /// Whether sign-ins need a TOTP code.
    pub totp_enabled: bool,
    /// When kB last changed (ms): a password reset moves it.
    pub keys_changed_at: u64,
    /// Live sessions, verified or not.
    pub sessions: usize,
    /// Sessions waiting for an emailed code.
    pub pending_sessions: usize,
    /// Registered devices.
    pub devices: usize,
    /// OAuth refresh tokens (signed-in apps).
    pub refresh_tokens: usize,
}

impl Accounts {
    /// Every account, by address.
    pub fn list_accounts(&self) -> Result<Vec<AccountSummary>, AccountsError> {
        let store = &self.service.store;
        let all = store.admin(|tx, _| accounts::all(tx))?;
        let mut out = all
            .iter()
            .map(|account| self.summary(account))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|a| a.email.to_lowercase());
        Ok(out)
    }

    /// The account with this address, if any.
    pub fn find_account(&self, email: &str) -> Result<Option<AccountSummary>, AccountsError> {
        match self.account(email)? {
            Some(account) => self.summary(&account).map(Some),
            None => Ok(None),
        }
    }

    fn account(&self, email: &str) -> Result<Option<Account>, AccountsError> {
        self.service.store.admin(|tx, _| accounts::by_email(tx, email))
    }

    fn existing(&self, email: &str) -> Result<Account, AccountsError> {
        self.account(email)?
            .ok_or_else(|| AccountsError::Refused(format!("no account has the address {email}")))
    }

    fn summary(&self, account: &Account) -> Result<AccountSummary, AccountsError> {
        let uid = account.uid.clone();
        let (sessions, pending, devices, refresh) = self.service.store.admin(move |tx, _| {
            Ok((
                tokens::sessions(tx, &uid)?.len(),
                tokens::pending_sessions(tx, &uid)?.len(),
                devices::list(tx, &uid)?.len(),
                oauth::refresh_tokens(tx, &uid)?.len(),
            ))
        })?;
        Ok(AccountSummary {
            uid: account.uid.clone(),
            email: account.email.clone(),
            email_verified: account.email_verified,
            created_at: account.created_at,
            disabled_at: account.disabled_at,
            totp_enabled: account.totp_enabled,
            keys_changed_at: account.keys_changed_at,
            sessions,
            pending_sessions: pending,
            devices,
            refresh_tokens: refresh,
        })
    }

    /// Disables the account: it can no longer sign in, and every session,
    /// device and refresh token ends now. Its data stays.
    pub fn disable_account(&self, email: &str) -> Result<(), AccountsError> {
        let account = self.existing(email)?;
        let now = now_ms();
        self.service.store.admin(|tx, _| {
            accounts::set_disabled(tx, &account.uid, Some(now))?;
            tokens::end_all(tx, &account.uid, None)?;
            oauth::delete_all_refresh(tx, &account.uid)
        })?;
        tracing::info!(uid = %account.uid, "accounts: account disabled by an administrator");
        Ok(())
    }

    /// Lets a disabled account sign in again.
    pub fn enable_account(&self, email: &str) -> Result<(), AccountsError> {
        let account = self.existing(email)?;
        self.service
            .store
            .admin(|tx, _| accounts::set_disabled(tx, &account.uid, None))?;
        Ok(())
    }

    /// Deletes the account and everything of it (the hooks given to
    /// [`Accounts::on_account_event`] delete its synced data).
    pub fn delete_account(&self, email: &str) -> Result<(), AccountsError> {
        let account = self.existing(email)?;
        self.service
            .store
            .admin(|tx, _| accounts::delete(tx, &account.uid))?;
        self.service.announce(crate::AccountEvent::Deleted {
            uid: account.uid.clone(),
        });
        tracing::info!(uid = %account.uid, "accounts: account deleted by an administrator");
        Ok(())
    }

    /// A fresh 6-digit code that confirms the account's waiting sign-ins
    /// (and its address, if unconfirmed), for 15 minutes: for a household
    /// whose service writes mail only to its log.
    pub fn issue_code(&self, email: &str) -> Result<String, AccountsError> {
        let account = self.existing(email)?;
        let code = decimal_code(6)?;
        let code_hash = hash_hex(code.as_bytes());
        let expires_at = now_ms() + CODE_LIFETIME_MS;
        let waiting = self.service.store.admin(|tx, _| {
            let pending = tokens::pending_sessions(tx, &account.uid)?;
            for session in &pending {
                tokens::set_code(tx, session, &code_hash, expires_at)?;
            }
            if !account.email_verified {
                accounts::set_email_code(tx, &account.uid, &code_hash)?;
            }
            Ok(pending.len())
        })?;
        if waiting == 0 && account.email_verified {
            return Err(AccountsError::Refused(format!(
                "{email} has no sign-in waiting for a code"
            )));
        }
        Ok(code)
    }
}
