//! Device commands: Send Tab and Close Tabs between the account's devices,
//! through the accounts server, end-to-end encrypted.
//!
//! A device advertises each command it takes in its device record with
//! public keys only the account's devices can read ([`keys`]); a sender
//! encrypts the command's JSON to them with Web Push encryption ([`ece`])
//! and posts it to `/account/devices/invoke_command`; the target reads its
//! queue from `/account/device/commands` (a push message would only tell it
//! to look) and decrypts. The accounts server sees neither a URL nor a key.
//!
//! Payloads are Firefox's (`FxAccountsCommands.sys.mjs` `SendTab.send`,
//! `CloseRemoteTab.sendCloseTabsCommand`) and application-services'
//! (`commands/send_tab.rs`, `close_tabs.rs`).

pub(crate) mod ece;
pub(crate) mod keys;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Send Tab: open a URL on the target.
pub const SEND_TAB: &str = "https://identity.mozilla.com/cmd/open-uri";
/// Close Tabs: close URLs open on the target (Firefox's
/// `COMMAND_CLOSETAB`, with its version suffix).
pub const CLOSE_TABS: &str = "https://identity.mozilla.com/cmd/close-uri/v1";
/// How long a close-tabs command waits for its target, as
/// application-services sends it; Send Tab takes the server's default (30
/// days), as Firefox sends it.
pub(crate) const CLOSE_TABS_TTL_SECS: u64 = 2 * 24 * 3600;
/// The most bytes of URLs one close-tabs command carries (Firefox's
/// `COMMAND_MAX_PAYLOAD_SIZE`); more are split over several commands.
pub(crate) const CLOSE_TABS_MAX_PAYLOAD: usize = 16 * 1024;

/// The device a command came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSender {
    /// Its device id.
    pub id: String,
    /// Its name, if it is still in the device list.
    pub name: Option<String>,
}

/// A command another device sent to this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncomingCommand {
    /// Open this page (Send Tab).
    TabReceived {
        /// Who sent it, if it said.
        sender: Option<CommandSender>,
        /// The page's title (may be empty).
        title: String,
        /// The page.
        url: String,
    },
    /// Close the tabs showing these pages.
    TabsClosed {
        /// Who sent it, if it said.
        sender: Option<CommandSender>,
        /// The pages.
        urls: Vec<String>,
    },
}

impl From<CommandSender> for sync15::DeviceCommandSender {
    fn from(sender: CommandSender) -> Self {
        sync15::DeviceCommandSender {
            id: sender.id,
            name: sender.name,
        }
    }
}

/// What the sync manager takes: an app hands received commands to
/// `sync15::DeviceCommandSource::poll` with this.
impl From<IncomingCommand> for sync15::DeviceCommand {
    fn from(command: IncomingCommand) -> Self {
        match command {
            IncomingCommand::TabReceived { sender, title, url } => sync15::DeviceCommand::OpenTab {
                sender: sender.map(Into::into),
                title,
                url,
            },
            IncomingCommand::TabsClosed { sender, urls } => sync15::DeviceCommand::CloseTabs {
                sender: sender.map(Into::into),
                urls,
            },
        }
    }
}

/// Send Tab's payload: the tab's history entries, the current one shown.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SendTabPayload {
    pub entries: Vec<TabEntry>,
    /// Which entry to show; the last when absent (Firefox's `SendTab.handle`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<usize>,
    #[serde(rename = "flowID", default)]
    pub flow_id: String,
    #[serde(rename = "streamID", default)]
    pub stream_id: String,
}

/// One history entry of a sent tab.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct TabEntry {
    #[serde(default)]
    pub title: String,
    pub url: String,
}

/// Close Tabs' payload.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CloseTabsPayload {
    pub urls: Vec<String>,
    #[serde(rename = "flowID", default)]
    pub flow_id: String,
    #[serde(rename = "streamID", default)]
    pub stream_id: String,
}

/// A telemetry flow id as Firefox makes them (12 random base64url chars);
/// nothing is reported, but receivers expect the fields.
pub(crate) fn flow_id() -> String {
    use base64::Engine as _;
    let bytes = ece::random::<9>().unwrap_or([0; 9]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The URLs in chunks whose JSON (`["…","…"]`) fits in `max` bytes,
/// shortest first, as Firefox's `CommandQueue.chunkUrls` packs them; a URL
/// that cannot fit even alone is left out (and returned).
pub(crate) fn chunk_urls(urls: &[String], max: usize) -> (Vec<Vec<String>>, Vec<String>) {
    let mut sorted: Vec<&String> = urls.iter().collect();
    sorted.sort_by_key(|u| u.len());
    let mut chunks: Vec<Vec<String>> = Vec::new();
    let mut skipped = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut size = 2; // "[]"
    for url in sorted {
        let item = Value::String(url.clone()).to_string().len();
        if 2 + item > max {
            skipped.push(url.clone());
            continue;
        }
        if size + item + usize::from(!current.is_empty()) > max {
            chunks.push(std::mem::take(&mut current));
            size = 2;
        }
        size += item + usize::from(!current.is_empty());
        current.push(url.clone());
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    (chunks, skipped)
}

/// Reads one decrypted command. `None` (logged) for what cannot be used.
pub(crate) fn parse_incoming(
    command: &str,
    plaintext: &[u8],
    sender: Option<CommandSender>,
) -> Option<IncomingCommand> {
    match command {
        SEND_TAB => {
            let payload: SendTabPayload = serde_json::from_slice(plaintext)
                .map_err(|e| log::warn!("a sent tab is not Send Tab's JSON: {e}"))
                .ok()?;
            let index = payload
                .current
                .unwrap_or_else(|| payload.entries.len().saturating_sub(1));
            let Some(entry) = payload.entries.into_iter().nth(index) else {
                log::warn!("a sent tab has no entry {index}");
                return None;
            };
            if url::Url::parse(&entry.url).is_err() {
                log::warn!("a sent tab's URL does not parse; skipped");
                return None;
            }
            Some(IncomingCommand::TabReceived {
                sender,
                title: entry.title,
                url: entry.url,
            })
        }
        CLOSE_TABS => {
            let payload: CloseTabsPayload = serde_json::from_slice(plaintext)
                .map_err(|e| log::warn!("a close-tabs command is not its JSON: {e}"))
                .ok()?;
            Some(IncomingCommand::TabsClosed {
                sender,
                urls: payload.urls,
            })
        }
        other => {
            log::info!("ignoring the unknown device command {other:?}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_packed_shortest_first_under_the_limit() {
        let urls: Vec<String> = (0..10)
            .map(|i| format!("https://example.com/{}", "x".repeat(i * 10)))
            .collect();
        let (chunks, skipped) = chunk_urls(&urls, 120);
        assert!(skipped.is_empty());
        let mut all: Vec<String> = chunks.concat();
        all.sort();
        let mut expected = urls.clone();
        expected.sort();
        assert_eq!(all, expected, "every URL once");
        for chunk in &chunks {
            assert!(serde_json::to_string(chunk).unwrap().len() <= 120, "{chunk:?}");
        }
        assert!(chunks[0].len() >= chunks[chunks.len() - 1].len());
        let long = "https://example.com/".to_owned() + &"y".repeat(200);
        let (chunks, skipped) = chunk_urls(&[long.clone(), "https://a.example/".into()], 120);
        assert_eq!(skipped, [long]);
        assert_eq!(chunks, [vec!["https://a.example/".to_owned()]]);
    }

    #[test]
    fn incoming_payloads_as_firefox_and_application_services_send_them() {
        // Firefox: flowID and streamID first, no `current`: the last entry.
        let firefox = br#"{"flowID":"f","streamID":"s","entries":[{"title":"Old","url":"https://old.example/"},{"title":"New","url":"https://new.example/"}]}"#;
        assert_eq!(
            parse_incoming(SEND_TAB, firefox, None),
            Some(IncomingCommand::TabReceived {
                sender: None,
                title: "New".into(),
                url: "https://new.example/".into()
            })
        );
        let with_current = br#"{"entries":[{"title":"A","url":"https://a.example/"},{"title":"B","url":"https://b.example/"}],"current":0}"#;
        assert!(matches!(
            parse_incoming(SEND_TAB, with_current, None),
            Some(IncomingCommand::TabReceived { url, .. }) if url == "https://a.example/"
        ));
        // application-services: a `private` flag we keep no use for.
        let a_s = br#"{"entries":[{"title":"T","url":"https://t.example/","private":false}],"flowID":"f","streamID":"s"}"#;
        assert!(parse_incoming(SEND_TAB, a_s, None).is_some());
        let close = br#"{"flowID":"f","streamID":"s","urls":["https://a.example/","https://b.example/"]}"#;
        assert!(matches!(
            parse_incoming(CLOSE_TABS, close, None),
            Some(IncomingCommand::TabsClosed { urls, .. }) if urls.len() == 2
        ));
        for (command, bad) in [
            (SEND_TAB, &b"not json"[..]),
            (SEND_TAB, br#"{"entries":[]}"#),
            (SEND_TAB, br#"{"entries":[{"url":"not a url"}]}"#),
            (
                SEND_TAB,
                br#"{"entries":[{"url":"https://a.example/"}],"current":5}"#,
            ),
            (CLOSE_TABS, br#"{"urls":"x"}"#),
            ("https://identity.mozilla.com/cmd/unknown", br#"{}"#),
        ] {
            assert_eq!(parse_incoming(command, bad, None), None, "{command} {bad:?}");
        }
    }
}
