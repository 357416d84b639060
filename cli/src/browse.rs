//! `history`, `tabs`, `send-tab` and `devices`: reading what the account's
//! devices did, and sending one of them a tab.

use anyhow::Result;
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::json;
use sync_clients::Command as ClientCommand;
use sync_manager::EngineSelection;

use crate::account::StoredAccount;
use crate::dates::{since_us, when};
use crate::output::{Out, blank_line, heading, print_table};
use crate::profile::Profile;
use crate::sync_cmd::{check, manager, run_sync};
use crate::{exit, fail};

/// `history …`.
#[derive(Subcommand)]
pub enum HistoryCmd {
    /// Pages visited, most recent first.
    List {
        /// Only pages visited since then: a date (2026-11-01) or a time
        /// ago (30m, 12h, 7d, 4w).
        #[arg(long)]
        since: Option<String>,
        /// Only pages whose URL or title contains this.
        #[arg(long)]
        search: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

/// `tabs …`.
#[derive(Subcommand)]
pub enum TabsCmd {
    /// The tabs open on the account's other devices (as of the last sync),
    /// grouped by device, most recently used first.
    List,
}

/// `send-tab`.
#[derive(Args)]
pub struct SendTabArgs {
    /// The page to open.
    url: String,
    /// The device: its name (see `firefox-sync devices`) or id.
    #[arg(long)]
    to: String,
    /// The title to show with it (default: the URL).
    #[arg(long)]
    title: Option<String>,
}

/// `history`.
pub fn history(profile: &Profile, out: &Out, cmd: HistoryCmd) -> Result<()> {
    let HistoryCmd::List { since, search, limit } = cmd;
    let since = match since.as_deref() {
        Some(text) => since_us(text).ok_or_else(|| {
            fail(
                exit::ERROR,
                format!("--since {text:?} is neither a date nor a time ago"),
                Some("e.g. --since 2026-11-01 or --since 7d"),
            )
        })?,
        None => 0,
    };
    let pages = profile.history()?.recent(since, search.as_deref(), limit)?;
    out.list(&pages, &["last visit", "title", "url", "visits"], |p| {
        vec![
            when(p.last_visit_us / 1000),
            p.title.clone(),
            p.url.clone(),
            p.visit_count.to_string(),
        ]
    })
}

/// A device's tabs as `--json` prints them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeviceTabs {
    client_id: String,
    device: String,
    device_type: Option<String>,
    last_modified: i64,
    tabs: Vec<TabView>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TabView {
    title: String,
    url: String,
    url_history: Vec<String>,
    last_used: i64,
    pinned: bool,
}

/// `tabs`.
pub fn tabs(profile: &Profile, out: &Out, cmd: TabsCmd) -> Result<()> {
    let TabsCmd::List = cmd;
    let devices: Vec<DeviceTabs> = profile
        .tabs()?
        .remote_tabs()?
        .into_iter()
        .map(|d| DeviceTabs {
            client_id: d.client_id,
            device: d.device_name,
            device_type: d.device_type,
            last_modified: d.last_modified.as_millis(),
            tabs: d
                .tabs
                .into_iter()
                .map(|t| TabView {
                    title: t.title,
                    url: t.url_history.first().cloned().unwrap_or_default(),
                    url_history: t.url_history,
                    last_used: t.last_used_ms,
                    pinned: t.pinned,
                })
                .collect(),
        })
        .collect();
    if out.is_json() {
        return out.print_json(&devices);
    }
    if devices.is_empty() {
        heading("No other device has shared its tabs (yet); run `firefox-sync sync` to fetch them.")?;
    }
    for (i, device) in devices.iter().enumerate() {
        if i > 0 {
            blank_line()?;
        }
        let kind = device.device_type.as_deref().unwrap_or("device");
        heading(&format!(
            "{} ({kind}, as of {})",
            device.device,
            when(device.last_modified)
        ))?;
        let rows: Vec<Vec<String>> = device
            .tabs
            .iter()
            .map(|t| vec![when(t.last_used), t.title.clone(), t.url.clone()])
            .collect();
        print_table(&["last used", "title", "url"], &rows)?;
    }
    Ok(())
}

/// `send-tab`: queues a "display this URI" command for the device in the
/// device list and syncs it, as Firefox's "Send Tab to Device" does
/// through the clients collection. The device opens it on its next sync.
pub fn send_tab(profile: &Profile, out: &Out, args: &SendTabArgs) -> Result<()> {
    let url = url::Url::parse(args.url.trim())
        .map_err(|e| fail(exit::ERROR, format!("{:?} is not a URL: {e}", args.url), None))?
        .to_string();
    let account = StoredAccount::load(profile)?;
    let (_manager, clients) = manager(profile, &account)?;
    let devices = clients.devices()?;
    let wanted = args.to.trim();
    let matching: Vec<_> = devices
        .iter()
        .filter(|d| d.id == wanted || d.name.eq_ignore_ascii_case(wanted))
        .collect();
    let target = match matching.as_slice() {
        [one] => (*one).clone(),
        [] => {
            return Err(fail(
                exit::ERROR,
                format!("no device {wanted:?}"),
                Some("see `firefox-sync devices` (run `firefox-sync sync` first to learn of new ones)"),
            ));
        }
        several => {
            let ids: Vec<&str> = several.iter().map(|d| d.id.as_str()).collect();
            return Err(fail(
                exit::ERROR,
                format!(
                    "{} devices are called {wanted:?}: {}",
                    several.len(),
                    ids.join(", ")
                ),
                Some("pass the id with --to"),
            ));
        }
    };
    let sender = clients.client_id()?.to_string();
    let command = ClientCommand::DisplayUri {
        uri: url.clone(),
        sender,
        title: args.title.clone().unwrap_or_else(|| url.clone()),
    };
    clients.send_command(&target.id, &command)?;
    drop(clients);
    let result = run_sync(profile, EngineSelection::Some(Vec::new()), None)?;
    check(&result)?;
    out.done(
        &format!("Sent {url} to {}; it opens there on its next sync.", target.name),
        &json!({"sent": url, "to": target.id, "device": target.name}),
    )
}

/// A device as `devices --json` prints it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeviceView {
    id: String,
    name: String,
    device_type: String,
    fxa_device_id: Option<String>,
    last_seen: i64,
    this_device: bool,
}

/// `devices`: this device and the others of the device list (as of the
/// last sync).
pub fn devices(profile: &Profile, out: &Out) -> Result<()> {
    let account = StoredAccount::load(profile)?;
    let (_manager, clients) = manager(profile, &account)?;
    let local = clients.local_device()?;
    let mut views = vec![DeviceView {
        id: clients.client_id()?.to_string(),
        name: local.name,
        device_type: local.device_type,
        fxa_device_id: local.fxa_device_id,
        last_seen: 0,
        this_device: true,
    }];
    views.extend(clients.devices()?.into_iter().map(|d| DeviceView {
        id: d.id,
        name: d.name,
        device_type: d.device_type,
        fxa_device_id: d.fxa_device_id,
        last_seen: d.last_modified.as_millis(),
        this_device: false,
    }));
    out.list(&views, &["name", "type", "last synced", "id"], |d| {
        vec![
            if d.this_device {
                format!("{} (this device)", d.name)
            } else {
                d.name.clone()
            },
            d.device_type.clone(),
            if d.this_device {
                "-".into()
            } else {
                when(d.last_seen)
            },
            d.id.clone(),
        ]
    })
}
