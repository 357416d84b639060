//! `send-tab`, `tabs close`, `tabs received` and `devices`: commands to and
//! from the account's other devices.
//!
//! With a Firefox Account, tabs go as Firefox Accounts device commands
//! (Send Tab, Close Tabs), which Firefox desktop, Android and iOS act on;
//! an old desktop Firefox that advertises no Send Tab still gets the
//! clients collection's `displayURI`. A device that takes neither is an
//! error, never "sent".

use anyhow::Result;
use clap::Args;
use fxa_client::{Device, FirefoxAccount, FxaConfig};
use serde::Serialize;
use serde_json::json;
use sync_clients::Command as ClientCommand;
use sync_manager::EngineSelection;

use crate::account::{StoredAccount, fxa_failure};
use crate::dates::when;
use crate::inbox::{self, Received};
use crate::output::Out;
use crate::profile::Profile;
use crate::sync_cmd::{check, manager, run_sync};
use crate::{exit, fail};

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

fn parse_url(text: &str) -> Result<String> {
    Ok(url::Url::parse(text.trim())
        .map_err(|e| fail(exit::ERROR, format!("{text:?} is not a URL: {e}"), None))?
        .to_string())
}

/// The signed-in Firefox Account, if the profile has one.
fn firefox_account(account: &StoredAccount) -> Result<Option<FirefoxAccount>> {
    match account {
        StoredAccount::Fxa { state, .. } => Ok(Some(
            FirefoxAccount::from_state(FxaConfig::new(&state.auth_url), (**state).clone())
                .map_err(fxa_failure)?,
        )),
        StoredAccount::Token { .. } => Ok(None),
    }
}

/// The account's devices but this one.
fn other_devices(fxa: &FirefoxAccount) -> Result<Vec<Device>> {
    Ok(fxa
        .devices()
        .map_err(fxa_failure)?
        .into_iter()
        .filter(|d| !d.is_current)
        .collect())
}

/// The one device called `wanted` (name, case-insensitively, or id).
fn pick<'a, T>(
    items: &'a [T],
    wanted: &str,
    id: impl Fn(&T) -> &str,
    name: impl Fn(&T) -> &str,
) -> Result<Option<&'a T>> {
    let matching: Vec<&T> = items
        .iter()
        .filter(|d| id(d) == wanted || name(d).eq_ignore_ascii_case(wanted))
        .collect();
    match matching.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        several => Err(fail(
            exit::ERROR,
            format!(
                "{} devices are called {wanted:?}: {}",
                several.len(),
                several.iter().map(|d| id(d)).collect::<Vec<_>>().join(", ")
            ),
            Some("pass the id"),
        )),
    }
}

fn no_such_device(wanted: &str) -> anyhow::Error {
    fail(
        exit::ERROR,
        format!("no device {wanted:?}"),
        Some("see `firefox-sync devices` (run `firefox-sync sync` first to learn of new ones)"),
    )
}

/// `send-tab`.
pub fn send_tab(profile: &Profile, out: &Out, args: &SendTabArgs) -> Result<()> {
    let url = parse_url(&args.url)?;
    let title = args.title.clone().unwrap_or_else(|| url.clone());
    let wanted = args.to.trim();
    let account = StoredAccount::load(profile)?;
    let mut fxa_target: Option<Device> = None;
    if let Some(fxa) = firefox_account(&account)? {
        let others = other_devices(&fxa)?;
        if let Some(device) = pick(&others, wanted, |d| &d.id, |d| &d.name)? {
            if device.can_receive_tabs() {
                fxa.send_tab(device, &url, &title).map_err(fxa_failure)?;
                return out.done(
                    &format!(
                        "Sent {url} to {} with Send Tab; it opens there as soon as the device reads \
                         its commands (at once when it has push, else on its next sync).",
                        device.name
                    ),
                    &json!({"sent": url, "to": device.id, "device": device.name, "via": "send-tab"}),
                );
            }
            fxa_target = Some(device.clone());
        }
    }
    send_through_clients(profile, out, &account, wanted, fxa_target.as_ref(), &url, &title)
}

/// The clients collection's `displayURI`, which only desktop Firefox from
/// before device commands acts on.
fn send_through_clients(
    profile: &Profile,
    out: &Out,
    account: &StoredAccount,
    wanted: &str,
    fxa_target: Option<&Device>,
    url: &str,
    title: &str,
) -> Result<()> {
    let (_manager, clients) = manager(profile, account)?;
    let devices = clients.devices()?;
    let target = match fxa_target {
        Some(fxa) => devices
            .iter()
            .find(|d| d.fxa_device_id.as_deref() == Some(fxa.id.as_str()) || d.name == fxa.name),
        None => pick(&devices, wanted, |d| &d.id, |d| &d.name)?,
    };
    let Some(target) = target.cloned() else {
        return Err(match fxa_target {
            Some(fxa) => cannot_receive(&fxa.name),
            None => no_such_device(wanted),
        });
    };
    if target.device_type != "desktop" {
        return Err(cannot_receive(&target.name));
    }
    let command = ClientCommand::DisplayUri {
        uri: url.to_owned(),
        sender: clients.client_id()?.to_string(),
        title: title.to_owned(),
    };
    clients.send_command(&target.id, &command)?;
    drop(clients);
    let result = run_sync(profile, EngineSelection::Some(Vec::new()), None)?;
    check(&result)?;
    out.done(
        &format!(
            "Sent {url} to {} through the clients collection (it takes no Send Tab: an older \
             Firefox); it opens there on its next sync.",
            target.name
        ),
        &json!({"sent": url, "to": target.id, "device": target.name, "via": "clients-collection"}),
    )
}

fn cannot_receive(name: &str) -> anyhow::Error {
    fail(
        exit::ERROR,
        format!(
            "{name} cannot receive tabs: it takes no Send Tab, and is not a desktop Firefox that reads commands in the clients collection"
        ),
        Some("update Firefox on that device, or sign it in again"),
    )
}

/// `tabs close URL… --on DEVICE`.
pub fn close_tabs(profile: &Profile, out: &Out, urls: &[String], on: &str) -> Result<()> {
    let urls = urls
        .iter()
        .map(|u| parse_url(u))
        .collect::<Result<Vec<String>>>()?;
    let account = StoredAccount::load(profile)?;
    let Some(fxa) = firefox_account(&account)? else {
        return Err(fail(
            exit::ERROR,
            "closing tabs on another device goes through Firefox Accounts; this profile signed in with a token",
            Some("sign in with `firefox-sync login EMAIL`"),
        ));
    };
    let others = other_devices(&fxa)?;
    let device = pick(&others, on.trim(), |d| &d.id, |d| &d.name)?.ok_or_else(|| no_such_device(on))?;
    if !device.can_close_tabs() {
        return Err(fail(
            exit::ERROR,
            format!(
                "{} cannot close tabs on request (it takes no Close Tabs)",
                device.name
            ),
            None,
        ));
    }
    let commands = fxa.close_tabs(device, &urls).map_err(fxa_failure)?;
    out.done(
        &format!("Asked {} to close {} tab(s).", device.name, urls.len()),
        &json!({"device": device.name, "to": device.id, "urls": urls, "commands": commands}),
    )
}

/// `tabs received [--clear]`.
pub fn received(profile: &Profile, out: &Out, clear: bool) -> Result<()> {
    let mut all = inbox::load(profile)?;
    all.reverse();
    out.list(&all, &["received", "from", "what", "url"], |r| match r {
        Received::Tab {
            received_at,
            from,
            title,
            url,
        } => vec![
            when(*received_at),
            from.clone().unwrap_or_default(),
            title.clone(),
            url.clone(),
        ],
        Received::CloseTabs {
            received_at,
            from,
            urls,
        } => vec![
            when(*received_at),
            from.clone().unwrap_or_default(),
            format!("close {} tab(s)", urls.len()),
            urls.join(" "),
        ],
    })?;
    if clear {
        inbox::clear(profile)?;
    }
    Ok(())
}

/// A device as `devices --json` prints it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeviceView {
    id: String,
    name: String,
    device_type: String,
    last_seen: Option<i64>,
    this_device: bool,
    /// Takes Send Tab (`None`: not known, for a device of the clients collection).
    receives_tabs: Option<bool>,
    closes_tabs: Option<bool>,
    fxa_device_id: Option<String>,
}

/// `devices`: the account's devices — its Firefox Accounts device list, or
/// for a token account the clients collection as of the last sync.
pub fn devices(profile: &Profile, out: &Out) -> Result<()> {
    let account = StoredAccount::load(profile)?;
    let mut views: Vec<DeviceView> = match firefox_account(&account)? {
        Some(fxa) => fxa
            .devices()
            .map_err(fxa_failure)?
            .into_iter()
            .map(|d| DeviceView {
                receives_tabs: Some(d.can_receive_tabs()),
                closes_tabs: Some(d.can_close_tabs()),
                fxa_device_id: Some(d.id.clone()),
                last_seen: d.last_access_time.map(|t| t as i64),
                this_device: d.is_current,
                id: d.id,
                name: d.name,
                device_type: d.device_type,
            })
            .collect(),
        None => {
            let (_manager, clients) = manager(profile, &account)?;
            let local = clients.local_device()?;
            let mut views = vec![DeviceView {
                id: clients.client_id()?.to_string(),
                name: local.name,
                device_type: local.device_type,
                last_seen: None,
                this_device: true,
                receives_tabs: None,
                closes_tabs: None,
                fxa_device_id: local.fxa_device_id,
            }];
            views.extend(clients.devices()?.into_iter().map(|d| DeviceView {
                receives_tabs: None,
                closes_tabs: None,
                last_seen: Some(d.last_modified.as_millis()),
                this_device: false,
                id: d.id,
                name: d.name,
                device_type: d.device_type,
                fxa_device_id: d.fxa_device_id,
            }));
            views
        }
    };
    // This device first, then the others by name.
    views.sort_by_cached_key(|d| (!d.this_device, d.name.to_lowercase()));
    let yes_no = |v: Option<bool>| match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    };
    out.list(
        &views,
        &["name", "type", "last seen", "receives tabs", "id"],
        |d| {
            vec![
                if d.this_device {
                    format!("{} (this device)", d.name)
                } else {
                    d.name.clone()
                },
                d.device_type.clone(),
                d.last_seen.map_or_else(|| "-".into(), when),
                yes_no(d.receives_tabs).into(),
                d.id.clone(),
            ]
        },
    )
}
