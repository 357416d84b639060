//! Tabs scenarios.

use sync_tabs::{ClientRemoteTabs, LocalTab};

use super::{Ctx, Scenario, check, fail, scenario};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        scenario("tabs: one device's tabs appear on the other", tabs_appear),
        scenario(
            "tabs: filtered schemes never leave the device",
            filtered_schemes_absent,
        ),
        Scenario {
            embedded_only: true,
            configure: |c| c.limits.max_record_payload_bytes = 16 * 1024,
            ..scenario(
                "tabs: an oversize tab list is cut to fit, oldest first",
                oversize_truncated,
            )
        },
    ]
}

const NOW_MS: i64 = 1_700_000_000_000;

fn tab(url: &str, minutes_ago: i64) -> LocalTab {
    LocalTab {
        title: format!("Title of {url}"),
        url_history: vec![url.to_owned()],
        icon: None,
        last_used_ms: NOW_MS - minutes_ago * 60_000,
        pinned: false,
        inactive: false,
    }
}

fn set_tabs(ctx: &mut Ctx<'_>, device: &str, tabs: Vec<LocalTab>) -> Result<(), String> {
    let n = tabs.len();
    ctx.tabs(device)?.set_local_tabs(tabs).map_err(fail)?;
    ctx.step(device, &format!("open {n} tabs"));
    Ok(())
}

fn remote(ctx: &mut Ctx<'_>, device: &str) -> Result<Vec<ClientRemoteTabs>, String> {
    ctx.tabs(device)?.remote_tabs().map_err(fail)
}

fn tabs_appear(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.add_device("B");
    set_tabs(
        ctx,
        "A",
        vec![
            tab("https://older.example/", 30),
            LocalTab {
                pinned: true,
                url_history: vec![
                    "https://newest.example/page".into(),
                    "https://newest.example/".into(),
                ],
                ..tab("", 1)
            },
        ],
    )?;
    ctx.sync("A")?;
    ctx.sync("B")?;
    let seen = remote(ctx, "B")?;
    check(seen.len() == 1, format!("B sees {} devices", seen.len()))?;
    let a = &seen[0];
    check(
        a.device_name == "A" && a.device_type.as_deref() == Some("desktop"),
        format!("named {:?} / {:?}", a.device_name, a.device_type),
    )?;
    let urls: Vec<&str> = a.tabs.iter().map(|t| t.url_history[0].as_str()).collect();
    check(
        urls == ["https://newest.example/page", "https://older.example/"],
        format!("B sees {urls:?}"),
    )?;
    check(
        a.tabs[0].pinned && a.tabs[0].url_history.len() == 2,
        format!("{:?}", a.tabs[0]),
    )?;
    check(
        a.tabs[1].last_used_ms == NOW_MS - 30 * 60_000,
        format!("lastUsed {}", a.tabs[1].last_used_ms),
    )?;
    check(
        remote(ctx, "A")?.iter().all(|d| d.device_name != "A"),
        "A lists itself",
    )?;
    ctx.step("B", "verify: A's two tabs, newest first, under A's name");

    set_tabs(ctx, "B", vec![tab("https://from-b.example/", 0)])?;
    ctx.sync("B")?;
    ctx.sync("A")?;
    let seen = remote(ctx, "A")?;
    check(
        seen.len() == 1 && seen[0].device_name == "B" && seen[0].tabs.len() == 1,
        format!("A sees {seen:?}"),
    )?;
    ctx.step("A", "verify: B's tab");
    Ok(())
}

fn filtered_schemes_absent(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.add_device("B");
    set_tabs(
        ctx,
        "A",
        vec![
            tab("about:preferences", 1),
            tab("file:///home/me/secret.pdf", 2),
            tab("moz-extension://0f1e2d3c/options.html", 3),
            tab("chrome://browser/content/browser.xhtml", 4),
            tab(&format!("https://long.example/{}", "x".repeat(70_000)), 5),
            tab("https://kept.example/", 6),
        ],
    )?;
    ctx.sync("A")?;
    ctx.sync("B")?;
    let seen = remote(ctx, "B")?;
    let urls: Vec<String> = seen
        .iter()
        .flat_map(|d| d.tabs.iter().map(|t| t.url_history[0].clone()))
        .collect();
    check(urls == ["https://kept.example/"], format!("B sees {urls:?}"))?;
    ctx.step("B", "verify: only the https tab arrived");
    Ok(())
}

fn oversize_truncated(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.add_device("B");
    let tabs: Vec<LocalTab> = (0..400)
        .map(|i| tab(&format!("https://site{i}.example/{}", "p".repeat(40)), i))
        .collect();
    set_tabs(ctx, "A", tabs)?;
    ctx.sync("A")?;
    ctx.sync("B")?;
    let seen = remote(ctx, "B")?;
    let got = seen.first().map(|d| d.tabs.len()).unwrap_or(0);
    check(got > 0 && got < 400, format!("B sees {got} of 400 tabs"))?;
    let first = &seen[0].tabs[0].url_history[0];
    check(
        first.starts_with("https://site0.example/"),
        format!("the newest tab is missing: {first}"),
    )?;
    let last = &seen[0].tabs[got - 1].url_history[0];
    check(
        last.starts_with(&format!("https://site{}.example/", got - 1)),
        format!("not the newest {got}: ends with {last}"),
    )?;
    let client_id = ctx.device("A")?.clients.client_id().map_err(fail)?;
    let bso = ctx
        .account
        .raw()
        .bso("tabs", client_id.as_str())
        .ok_or("A's record is missing")?;
    check(
        bso.payload.len() <= 16 * 1024,
        format!("payload of {} bytes", bso.payload.len()),
    )?;
    ctx.step(
        "B",
        &format!(
            "verify: the newest {got} of 400 tabs, in {} bytes",
            bso.payload.len()
        ),
    );
    Ok(())
}
