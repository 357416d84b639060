//! `sync-storage account …`: the operator's commands on the self-hosted
//! Firefox Accounts service (`[accounts]`), run against the server's
//! database — also while the server runs.

use anyhow::{Context, Result};
use clap::Subcommand;
use sync_storage::config::Config;

/// What to do with the accounts of the accounts service.
#[derive(Subcommand)]
pub enum AccountCommand {
    /// List every account: address, confirmed, sessions, devices.
    List,
    /// Show one account.
    Show {
        /// The account's email address.
        email: String,
    },
    /// Give a sign-in waiting for an emailed code a code (when mail goes
    /// only to the log); valid 15 minutes.
    Code {
        /// The account's email address.
        email: String,
    },
    /// Stop the account signing in; every device is signed out. Its data stays.
    Disable {
        /// The account's email address.
        email: String,
    },
    /// Let a disabled account sign in again.
    Enable {
        /// The account's email address.
        email: String,
    },
    /// Delete the account and everything it synced.
    Delete {
        /// The account's email address.
        email: String,
    },
    /// Make a new key to sign access tokens with; the old one keeps
    /// verifying. A running server signs with it within half a minute.
    RotateKey,
}

fn when(ms: u64) -> String {
    format!("{}", ms / 1000)
}

/// Runs `command`; the answer is for the operator, on standard output.
#[allow(clippy::print_stdout)]
pub fn account(config: &Config, command: AccountCommand) -> Result<()> {
    let accounts = sync_storage::open_accounts(config.clone()).context("opening the accounts service")?;
    match command {
        AccountCommand::List => {
            println!(
                "{:<32} {:<34} {:>9} {:>8} {:>7}  state",
                "email", "uid", "confirmed", "sessions", "devices"
            );
            for a in accounts.list_accounts()? {
                println!(
                    "{:<32} {:<34} {:>9} {:>8} {:>7}  {}",
                    a.email,
                    a.uid,
                    if a.email_verified { "yes" } else { "no" },
                    a.sessions,
                    a.devices,
                    if a.disabled_at.is_some() {
                        "disabled"
                    } else {
                        "active"
                    }
                );
            }
        }
        AccountCommand::Show { email } => {
            let a = accounts
                .find_account(&email)?
                .ok_or_else(|| anyhow::anyhow!("no account has the address {email}"))?;
            println!("email            {}", a.email);
            println!("uid              {}", a.uid);
            println!("confirmed        {}", a.email_verified);
            println!("created          {} (unix seconds)", when(a.created_at));
            println!("keys changed     {} (unix seconds)", when(a.keys_changed_at));
            println!("two-step         {}", a.totp_enabled);
            println!(
                "sessions         {} ({} waiting for a code)",
                a.sessions, a.pending_sessions
            );
            println!("devices          {}", a.devices);
            println!("signed-in apps   {}", a.refresh_tokens);
            println!(
                "state            {}",
                a.disabled_at.map_or_else(
                    || "active".to_owned(),
                    |at| format!("disabled since {}", when(at))
                )
            );
        }
        AccountCommand::Code { email } => {
            let code = accounts.issue_code(&email)?;
            println!("{code}");
        }
        AccountCommand::Disable { email } => {
            accounts.disable_account(&email)?;
            println!("{email}: disabled; every device is signed out");
        }
        AccountCommand::Enable { email } => {
            accounts.enable_account(&email)?;
            println!("{email}: may sign in again");
        }
        AccountCommand::Delete { email } => {
            accounts.delete_account(&email)?;
            println!("{email}: deleted, with everything it synced");
        }
        AccountCommand::RotateKey => {
            accounts.rotate_signing_key()?;
            let keys = accounts.public_keys();
            println!(
                "new signing key {}; a running server signs with it within half a minute (the previous key keeps verifying)",
                keys.first().map_or("?", |k| k.kid.as_str())
            );
        }
    }
    Ok(())
}
