//! `sync`: every engine (or those named) through `sync-manager`, with a
//! progress display for long first syncs and a summary.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;
use sync_clients::LocalDevice;
use sync_manager::{
    EngineSelection, EngineStatus, ServiceStatus, SyncManager, SyncParams, SyncReason, SyncResult,
};
use sync15::SyncEngine;

use crate::account::{StoredAccount, fxa_failure};
use crate::inbox::{self, AccountInbox};
use crate::output::{Out, print_table};
use crate::profile::{Profile, write_private};
use crate::sync_status::SyncStatus;
use crate::{LOGIN_HINT, exit, fail};

/// The engines this app syncs, by the names `--engines` takes.
pub const ENGINES: [&str; 4] = ["bookmarks", "passwords", "history", "tabs"];

/// `sync`.
#[derive(Args)]
pub struct SyncArgs {
    /// Only these engines, comma-separated (bookmarks, passwords, history,
    /// tabs); the device list always syncs.
    #[arg(long, value_delimiter = ',')]
    engines: Vec<String>,
}

/// A manager with every engine of the profile registered.
pub fn manager(
    profile: &Profile,
    account: &StoredAccount,
) -> Result<(SyncManager, Arc<sync_clients::ClientsStore>)> {
    let fxa_device_id = match account {
        StoredAccount::Fxa { state, .. } => state.device.as_ref().map(|d| d.id.clone()),
        StoredAccount::Token { .. } => None,
    };
    let local = LocalDevice {
        name: account.device_name().to_owned(),
        device_type: "desktop".into(),
        os: Some(std::env::consts::OS.into()),
        application: Some("firefox-sync".into()),
        version: Some(env!("CARGO_PKG_VERSION").into()),
        fxa_device_id,
    };
    let clients = profile.clients(&local)?;
    clients
        .set_local_device(&local)
        .context("updating this device's record")?;
    let manager = SyncManager::new().context("starting the sync manager")?;
    manager.set_clients_engine(clients.clone());
    let engines: [Arc<dyn SyncEngine>; 4] = [
        profile.bookmarks()?,
        profile.logins()?,
        profile.history()?,
        profile.tabs()?,
    ];
    for engine in engines {
        manager.register_engine(engine);
    }
    Ok((manager, clients))
}

/// Runs one sync of `engines`, retrying once with a fresh access token if
/// the token server refused the current one. Saves the sync state, the
/// account and the status.
pub fn run_sync(
    profile: &Profile,
    engines: EngineSelection,
    progress: Option<Arc<dyn sync15::SyncProgress>>,
) -> Result<SyncResult> {
    let mut account = StoredAccount::load(profile)?;
    let (manager, _clients) = manager(profile, &account)?;
    let state_path = profile.path("sync-state.json");
    let mut result = None;
    for fresh in [false, true] {
        let auth = account.sync_auth(profile, fresh)?;
        // Taken after the token refresh, so the state it gives back is current.
        let inbox = match &account {
            StoredAccount::Fxa {
                state, device_name, ..
            } => Some(Arc::new(
                AccountInbox::new((**state).clone(), device_name).map_err(fxa_failure)?,
            )),
            StoredAccount::Token { .. } => None,
        };
        let params = SyncParams {
            reason: SyncReason::User,
            engines: engines.clone(),
            enabled_changes: BTreeMap::new(),
            auth,
            persisted_state: std::fs::read_to_string(&state_path).ok(),
            progress: progress.clone(),
            device_commands: inbox.clone().map(|i| i as Arc<dyn sync15::DeviceCommandSource>),
        };
        let r = manager.sync(params);
        write_private(&state_path, r.persisted_state.as_bytes())?;
        // Keep what was read before anything can fail: the accounts server
        // will not hand those commands out again.
        inbox::keep(profile, &r.device_commands)?;
        if let (Some(inbox), StoredAccount::Fxa { state, .. }) = (inbox, &mut account) {
            if let Some(updated) = Arc::into_inner(inbox).and_then(AccountInbox::into_state) {
                **state = updated;
                account.save(profile)?;
            }
        }
        let retry =
            r.status == ServiceStatus::AuthError && !fresh && matches!(account, StoredAccount::Fxa { .. });
        result = Some(r);
        if !retry {
            break;
        }
    }
    let result = result.context("no sync ran")?;
    SyncStatus::record_in(profile, &result)?;
    Ok(result)
}

/// The failure a sync's overall status means, if any.
pub fn check(result: &SyncResult) -> Result<()> {
    let error = result.error.clone().unwrap_or_default();
    match result.status {
        ServiceStatus::Ok => {}
        ServiceStatus::AuthError => {
            return Err(fail(
                exit::AUTH,
                format!("the sync server refused the credentials: {error}"),
                Some(LOGIN_HINT),
            ));
        }
        ServiceStatus::NetworkError | ServiceStatus::ServiceError | ServiceStatus::BackedOff => {
            return Err(fail(
                exit::NETWORK,
                format!("sync failed: {error}"),
                Some("try again later"),
            ));
        }
        other => {
            return Err(fail(
                exit::ERROR,
                format!("sync failed ({other:?}): {error}"),
                None,
            ));
        }
    }
    let failed: Vec<String> = result
        .engines
        .iter()
        .filter(|(_, e)| matches!(e.status, EngineStatus::Failed { .. }))
        .map(|(n, _)| n.clone())
        .collect();
    if !failed.is_empty() {
        return Err(fail(
            exit::PARTIAL,
            format!("{} did not sync", failed.join(", ")),
            Some("the next sync retries"),
        ));
    }
    Ok(())
}

/// `sync`.
pub fn sync(profile: &Profile, out: &Out, args: &SyncArgs) -> Result<()> {
    for name in &args.engines {
        if !ENGINES.contains(&name.as_str()) {
            return Err(fail(
                exit::ERROR,
                format!("no engine {name:?}"),
                Some("choose from bookmarks, passwords, history, tabs"),
            ));
        }
    }
    let selection = if args.engines.is_empty() {
        EngineSelection::All
    } else {
        EngineSelection::Some(args.engines.clone())
    };
    let display = crate::progress::Display::new(!out.is_json());
    let result = run_sync(profile, selection, display.observer())?;
    display.finish();
    if out.is_json() {
        out.print_json(&json!({
            "status": result.status,
            "error": result.error,
            "engines": result.engines,
            "received": result.device_commands,
            "received_error": result.device_commands_error,
        }))?;
    } else {
        let rows: Vec<Vec<String>> = result
            .engines
            .iter()
            .map(|(name, e)| {
                let status = match &e.status {
                    EngineStatus::Ok => "ok".to_owned(),
                    EngineStatus::Skipped(_) => "skipped".to_owned(),
                    EngineStatus::Failed { error } => format!("failed: {error}"),
                };
                vec![
                    name.clone(),
                    status,
                    e.downloaded.to_string(),
                    e.uploaded.to_string(),
                    (e.incoming_failed + e.outgoing_failed).to_string(),
                ]
            })
            .collect();
        print_table(&["engine", "status", "down", "up", "failed"], &rows)?;
        inbox::print_new(&result.device_commands)?;
        if let Some(error) = &result.device_commands_error {
            crate::output::warn(&format!(
                "could not read the commands other devices sent here: {error}"
            ));
        }
    }
    check(&result)
}
