//! `history` and `tabs`: reading what the account's devices did.

use anyhow::Result;
use clap::Subcommand;
use serde::Serialize;

use crate::dates::{since_us, when};
use crate::output::{Out, blank_line, heading, print_table};
use crate::profile::Profile;
use crate::send;
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
    /// Ask another device to close its tabs showing these pages (Firefox
    /// Accounts' Close Tabs).
    Close {
        /// The pages.
        #[arg(required = true)]
        urls: Vec<String>,
        /// The device: its name (see `firefox-sync devices`) or id.
        #[arg(long)]
        on: String,
    },
    /// Tabs other devices sent here, and tabs they closed, newest first.
    Received {
        /// Forget them once shown.
        #[arg(long)]
        clear: bool,
    },
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
    match cmd {
        TabsCmd::List => {}
        TabsCmd::Close { urls, on } => return send::close_tabs(profile, out, &urls, &on),
        TabsCmd::Received { clear } => return send::received(profile, out, clear),
    }
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
