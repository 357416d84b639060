//! Send Tab and Close Tabs between real Firefox and our device, as
//! Firefox Accounts device commands relayed by the accounts service: each
//! side encrypts to the other's advertised keys, and each acts on what it
//! reads (Firefox opens and closes its tabs; ours reports the tab and
//! drops the closed ones from its tabs record).

use serde_json::{Value, json};
use sync_tabs::LocalTab;
use sync15::DeviceCommand;

use super::tabs::{FIREFOX_OPEN_TABS, FIREFOX_SYNCED_TABS};
use super::{Ctx, FirefoxScenario, check};

pub(super) fn scenarios() -> Vec<FirefoxScenario> {
    vec![
        FirefoxScenario {
            name: "send tab: tabs sent and closed both ways through Firefox Accounts",
            run: send_and_close,
        },
        FirefoxScenario {
            name: "send tab: the firefox-sync command line and Firefox, both ways",
            run: command_line,
        },
    ]
}

/// The device list as Firefox has it, fetched again:
/// `[{id, name, commands: […]}]`.
const FIREFOX_DEVICE_LIST: &str = r#"
    const { getFxAccountsSingleton } = ChromeUtils.importESModule("resource://gre/modules/FxAccounts.sys.mjs");
    const fxa = getFxAccountsSingleton();
    await fxa.device.refreshDeviceList({ignoreCached: true});
    return fxa.device.recentDeviceList.map(d => ({
        id: d.id, name: d.name, current: d.isCurrentDevice,
        commands: Object.keys(d.availableCommands || {}),
    }));
"#;

/// Firefox's "Send Tab to Device": `[device name, url, title]`.
const FIREFOX_SEND_TAB: &str = r#"
    const [name, url, title] = arguments;
    const { getFxAccountsSingleton } = ChromeUtils.importESModule("resource://gre/modules/FxAccounts.sys.mjs");
    const fxa = getFxAccountsSingleton();
    await fxa.device.refreshDeviceList({ignoreCached: true});
    const target = fxa.device.recentDeviceList.find(d => d.name == name);
    if (!target) throw new Error(`Firefox does not list ${name}`);
    const report = await fxa.commands.sendTab.send([target], {url, title});
    return {sent: report.succeeded.length, failed: report.failed.map(f => String(f.error))};
"#;

/// Firefox's close-remote-tabs: `[device name, [urls]]`, sent at once
/// (Firefox's queue would wait five seconds for an undo).
const FIREFOX_CLOSE_TABS: &str = r#"
    const [name, urls] = arguments;
    const { getFxAccountsSingleton } = ChromeUtils.importESModule("resource://gre/modules/FxAccounts.sys.mjs");
    const fxa = getFxAccountsSingleton();
    await fxa.device.refreshDeviceList({ignoreCached: true});
    const target = fxa.device.recentDeviceList.find(d => d.name == name);
    if (!target) throw new Error(`Firefox does not list ${name}`);
    return await fxa.commands.closeTab.sendCloseTabsCommand(target, urls, "flowflowflow");
"#;

/// What a push "command received" makes Firefox do: read its commands.
/// Returns what it announced (`opened`: Send Tab, `closed`: Close Tabs)
/// and the tabs then open.
const FIREFOX_POLL: &str = r#"
    const { getFxAccountsSingleton } = ChromeUtils.importESModule("resource://gre/modules/FxAccounts.sys.mjs");
    const { setTimeout } = ChromeUtils.importESModule("resource://gre/modules/Timer.sys.mjs");
    const [expectOpen, expectGone] = arguments;
    const opened = [], closed = [];
    const onOpen = subject => { for (const t of subject.wrappedJSObject.object) opened.push({uri: t.uri, title: t.title, sender: t.sender?.name ?? null}); };
    const onClose = subject => { for (const c of subject.wrappedJSObject.object) closed.push({urls: c.urls, sender: c.sender?.name ?? null}); };
    Services.obs.addObserver(onOpen, "fxaccounts:commands:open-uri");
    Services.obs.addObserver(onClose, "fxaccounts:commands:close-uri");
    const win = Services.wm.getMostRecentWindow("navigator:browser");
    const openUrls = () => win.gBrowser.tabs.map(t => t.linkedBrowser.currentURI?.spec);
    try {
        await getFxAccountsSingleton().commands.pollDeviceCommands();
        // Firefox opens and closes the tabs after announcing them.
        const deadline = Date.now() + 20000;
        while (Date.now() < deadline) {
            const urls = openUrls();
            if (expectOpen.every(u => urls.includes(u)) && expectGone.every(u => !urls.includes(u))) break;
            await new Promise(resolve => setTimeout(resolve, 100));
        }
    } finally {
        Services.obs.removeObserver(onOpen, "fxaccounts:commands:open-uri");
        Services.obs.removeObserver(onClose, "fxaccounts:commands:close-uri");
    }
    return {opened, closed, tabs: openUrls()};
"#;

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

fn send_and_close(ctx: &mut Ctx<'_>) -> Result<(), String> {
    let base = ctx.world.server.url().to_owned();
    ctx.firefox("F")?;
    ctx.sync_firefox("F")?;
    ctx.device("A")?;
    ctx.step(
        "F, A",
        "Firefox signed in and synced; our device registered with its commands",
    );

    // Each advertises Send Tab and Close Tabs, and sees the other's.
    let ours = ctx
        .account_of("A")?
        .account(|fxa| fxa.devices())
        .map_err(|e| e.to_string())?;
    let firefox = ours
        .iter()
        .find(|d| d.name == "F")
        .ok_or_else(|| format!("our device does not list Firefox: {ours:?}"))?;
    check(
        firefox.can_receive_tabs() && firefox.can_close_tabs(),
        format!("Firefox advertises {:?}", firefox.available_commands.keys()),
    )?;
    let listed = ctx.firefox("F")?.js(FIREFOX_DEVICE_LIST, json!([]))?;
    let a_commands = listed
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["name"] == "A")
        .map(|d| strings(&d["commands"]))
        .ok_or_else(|| format!("Firefox does not list A: {listed}"))?;
    check(
        a_commands.contains(&fxa_client::SEND_TAB.to_owned())
            && a_commands.contains(&fxa_client::CLOSE_TABS.to_owned()),
        format!("Firefox sees A advertise {a_commands:?}"),
    )?;
    ctx.step(
        "F, A",
        "verify: each lists the other as taking Send Tab and Close Tabs",
    );

    // Firefox → ours.
    let report = ctx.firefox("F")?.js(
        FIREFOX_SEND_TAB,
        json!(["A", "https://example.com/from-firefox", "From Firefox ✓"]),
    )?;
    check(report["sent"] == 1, format!("Firefox's Send Tab: {report}"))?;
    ctx.step("F", "sends a tab to A");
    let result = ctx.sync_device("A")?;
    let got = result.device_commands.iter().any(|c| {
        matches!(c, DeviceCommand::OpenTab { url, title, sender: Some(s) }
            if url == "https://example.com/from-firefox" && title == "From Firefox ✓" && s.name.as_deref() == Some("F"))
    });
    check(got, format!("A received {:?}", result.device_commands))?;
    ctx.step("A", "verify: the tab arrived, from F");

    // Ours → Firefox: it opens the tab.
    let sent_url = format!("{base}/__lbheartbeat__?sent-by-A");
    let target = firefox.clone();
    ctx.account_of("A")?
        .account(|fxa| fxa.send_tab(&target, &sent_url, "From A"))
        .map_err(|e| e.to_string())?;
    ctx.step("A", "sends a tab to F");
    let polled = ctx.firefox("F")?.js(FIREFOX_POLL, json!([[sent_url], []]))?;
    check(
        polled["opened"] == json!([{"uri": sent_url, "title": "From A", "sender": "A"}]),
        format!("Firefox announced {polled}"),
    )?;
    check(
        strings(&polled["tabs"]).contains(&sent_url),
        format!("Firefox did not open it: {polled}"),
    )?;
    ctx.step("F", "verify: Firefox read the command and opened the tab");

    // Ours closes a tab on Firefox.
    let doomed = format!("{base}/__version__?close-me");
    ctx.firefox("F")?.js(FIREFOX_OPEN_TABS, json!([[doomed]]))?;
    ctx.account_of("A")?
        .account(|fxa| fxa.close_tabs(&target, std::slice::from_ref(&doomed)))
        .map_err(|e| e.to_string())?;
    ctx.step("A", "asks F to close a tab F has open");
    let polled = ctx.firefox("F")?.js(FIREFOX_POLL, json!([[], [doomed]]))?;
    check(
        polled["closed"] == json!([{"urls": [doomed], "sender": "A"}]),
        format!("Firefox announced {polled}"),
    )?;
    check(
        !strings(&polled["tabs"]).contains(&doomed),
        format!("Firefox kept the tab open: {polled}"),
    )?;
    ctx.step("F", "verify: Firefox closed it");

    // Firefox closes a tab on ours: it leaves our tabs record.
    let now_ms = crate::scenarios::now_us() / 1000;
    let tab = |url: &str| LocalTab {
        title: url.into(),
        url_history: vec![url.into()],
        icon: None,
        last_used_ms: now_ms,
        pinned: false,
        inactive: false,
    };
    ctx.device("A")?
        .tabs
        .set_local_tabs(vec![
            tab("https://ours.example/keep"),
            tab("https://ours.example/close"),
        ])
        .map_err(|e| e.to_string())?;
    ctx.sync_device("A")?;
    let sent = ctx
        .firefox("F")?
        .js(FIREFOX_CLOSE_TABS, json!(["A", ["https://ours.example/close"]]))?;
    check(sent == json!(true), format!("Firefox's close-tabs: {sent}"))?;
    ctx.step("F", "asks A to close one of its two tabs");
    let result = ctx.sync_device("A")?;
    check(
        result.device_commands.iter().any(
            |c| matches!(c, DeviceCommand::CloseTabs { urls, .. } if urls == &["https://ours.example/close"]),
        ),
        format!("A received {:?}", result.device_commands),
    )?;
    let left: Vec<String> = ctx
        .device("A")?
        .tabs
        .local_tabs()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|t| t.url_history[0].clone())
        .collect();
    check(
        left == ["https://ours.example/keep"],
        format!("A's tabs: {left:?}"),
    )?;
    ctx.sync_firefox("F")?;
    let synced = ctx.firefox("F")?.js(FIREFOX_SYNCED_TABS, json!([]))?;
    let a_tabs = synced
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == "A")
        .map(|c| strings(&c["urls"]));
    check(
        a_tabs.as_deref() == Some(&["https://ours.example/keep".to_owned()][..]),
        format!("Firefox's synced tabs: {synced}"),
    )?;
    ctx.step(
        "F",
        "verify: A's tab is closed, and gone from A's tabs in Firefox",
    );
    Ok(())
}

/// The `firefox-sync` binary with a profile of its own: the one built next
/// to this program (`cargo xtask firefox` builds it), or `FIREFOX_SYNC_BIN`.
struct CommandLine {
    binary: std::path::PathBuf,
    profile: tempfile::TempDir,
}

impl CommandLine {
    fn new() -> Result<Self, String> {
        let binary = match std::env::var_os("FIREFOX_SYNC_BIN") {
            Some(path) => path.into(),
            None => std::env::current_exe()
                .map_err(|e| e.to_string())?
                .with_file_name("firefox-sync"),
        };
        if !binary.is_file() {
            return Err(format!(
                "no firefox-sync binary at {} (build it with `cargo build -p firefox-sync`, or set FIREFOX_SYNC_BIN)",
                binary.display()
            ));
        }
        Ok(CommandLine {
            binary,
            profile: tempfile::tempdir().map_err(|e| e.to_string())?,
        })
    }

    /// Runs it with `args` and `input` on standard input; its standard
    /// output, or an error with everything it said.
    fn run(&self, args: &[&str], input: &str) -> Result<String, String> {
        self.run_then(args, input, || None)
    }

    /// [`CommandLine::run`], writing what `later` returns to standard
    /// input once `input` is written (a code that exists only once the
    /// command has asked the server for it).
    fn run_then(
        &self,
        args: &[&str],
        input: &str,
        later: impl FnOnce() -> Option<String>,
    ) -> Result<String, String> {
        use std::io::Write as _;
        let mut child = std::process::Command::new(&self.binary)
            .arg("--profile")
            .arg(self.profile.path())
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.binary.display()))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes()).map_err(|e| e.to_string())?;
            stdin.flush().map_err(|e| e.to_string())?;
            if let Some(more) = later() {
                stdin.write_all(more.as_bytes()).map_err(|e| e.to_string())?;
            }
        }
        let output = child.wait_with_output().map_err(|e| e.to_string())?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            return Err(format!(
                "firefox-sync {args:?} ended {}: {stdout}{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(stdout)
    }

    fn json(&self, args: &[&str]) -> Result<Value, String> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all, "")?;
        serde_json::from_str(&out).map_err(|e| format!("firefox-sync {args:?}: {e}: {out}"))
    }
}

fn command_line(ctx: &mut Ctx<'_>) -> Result<(), String> {
    let base = ctx.world.server.url().to_owned();
    ctx.firefox("F")?;
    ctx.sync_firefox("F")?;
    let cli = CommandLine::new()?;
    let accounts = ctx.world.accounts_url();
    let outbox = ctx.world.outbox()?.clone();
    let seen = outbox.count();
    let email = ctx.world.email.clone();
    cli.run_then(
        &[
            "login",
            &ctx.world.email,
            "--server",
            &base,
            "--accounts-server",
            &accounts,
            "--device-name",
            "Terminal",
        ],
        &format!("{}\n", ctx.world.password()),
        // The sign-in is confirmed with the code emailed to the account.
        || {
            outbox
                .wait_for_code(&email, seen, std::time::Duration::from_secs(20))
                .map(|code| format!("{code}\n"))
        },
    )?;
    cli.run(&["sync"], "")?;
    ctx.firefox("F")?.device_connected()?;
    ctx.step("T", "firefox-sync signs in (registering its commands) and syncs");

    let url = format!("{base}/__lbheartbeat__?from-the-terminal");
    let sent = cli.json(&["send-tab", &url, "--to", "F", "--title", "From the terminal"])?;
    check(
        sent["via"] == "send-tab",
        format!("firefox-sync send-tab: {sent}"),
    )?;
    ctx.step("T", "firefox-sync send-tab --to F");
    let polled = ctx.firefox("F")?.js(FIREFOX_POLL, json!([[url], []]))?;
    check(
        polled["opened"] == json!([{"uri": url, "title": "From the terminal", "sender": "Terminal"}])
            && strings(&polled["tabs"]).contains(&url),
        format!("Firefox: {polled}"),
    )?;
    ctx.step("F", "verify: Firefox opened it");

    let report = ctx.firefox("F")?.js(
        FIREFOX_SEND_TAB,
        json!([
            "Terminal",
            "https://example.com/to-the-terminal",
            "To the terminal"
        ]),
    )?;
    check(report["sent"] == 1, format!("Firefox's Send Tab: {report}"))?;
    ctx.step("F", "sends a tab to the terminal");
    let synced = cli.json(&["sync"])?;
    check(
        synced["received"]
            == json!([{"command": "openTab", "url": "https://example.com/to-the-terminal",
                        "title": "To the terminal", "sender": synced["received"][0]["sender"]}])
            && synced["received"][0]["sender"]["name"] == "F",
        format!("firefox-sync sync: {synced}"),
    )?;
    let received = cli.json(&["tabs", "received"])?;
    check(
        received[0]["url"] == "https://example.com/to-the-terminal" && received[0]["from"] == "F",
        format!("firefox-sync tabs received: {received}"),
    )?;
    ctx.step("T", "verify: firefox-sync sync received it, from F");
    Ok(())
}
