//! History between real Firefox and our devices.

use serde_json::json;
use sync_history::VisitTransition;

use super::{Ctx, FirefoxScenario, check};

pub(super) fn scenarios() -> Vec<FirefoxScenario> {
    vec![FirefoxScenario {
        name: "history: visits to the microsecond both ways, round trips that add nothing, deletes",
        run: both_ways,
    }]
}

const PAGES: [&str; 4] = [
    "https://news.example/a",
    "https://news.example/b",
    "https://docs.example/manual",
    "https://ours.example/page",
];

const HOUR_US: i64 = 3_600_000_000;

/// Records `[url, title, [[ms, transition], …]]` as visits in Firefox.
const FIREFOX_VISIT: &str = r#"
    const { PlacesUtils } = ChromeUtils.importESModule("resource://gre/modules/PlacesUtils.sys.mjs");
    const [url, title, visits] = arguments;
    await PlacesUtils.history.insert({url, title,
        visits: visits.map(([ms, transition]) => ({date: new Date(ms), transition}))});
    return null;
"#;

/// The visits Firefox holds for each of `urls`, as it would sync them:
/// `{url: [[µs, type], …]}`.
const FIREFOX_VISITS: &str = r#"
    const { PlacesSyncUtils } = ChromeUtils.importESModule("resource://gre/modules/PlacesSyncUtils.sys.mjs");
    const [urls] = arguments;
    const out = {};
    for (const url of urls) {
        out[url] = (await PlacesSyncUtils.history.fetchVisitsForURL(url)).map(v => [v.date, v.type]);
    }
    return out;
"#;

fn now_us() -> i64 {
    crate::scenarios::now_us()
}

/// Each page's visits, `url: ms/type ms/type …` (to the millisecond: the
/// precision Firefox keeps for visits it did not make).
type Visits = Vec<(String, Vec<(i64, u8)>)>;

fn firefox_visits(ctx: &mut Ctx<'_>, name: &str) -> Result<Visits, String> {
    let all = ctx.firefox(name)?.js(FIREFOX_VISITS, json!([PAGES]))?;
    let mut out = Vec::new();
    for url in PAGES {
        let mut visits: Vec<(i64, u8)> = all[url]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| {
                Some((
                    v[0].as_i64()?.div_euclid(1000),
                    u8::try_from(v[1].as_u64()?).ok()?,
                ))
            })
            .collect();
        visits.sort_unstable();
        out.push((url.to_owned(), visits));
    }
    Ok(out)
}

fn our_visits(ctx: &mut Ctx<'_>, name: &str) -> Result<Visits, String> {
    let store = ctx.device(name)?.history.clone();
    let mut out = Vec::new();
    for url in PAGES {
        let mut visits: Vec<(i64, u8)> = store
            .visits(url)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|v| (v.date_us.div_euclid(1000), v.transition.as_u8()))
            .collect();
        visits.sort_unstable();
        out.push((url.to_owned(), visits));
    }
    Ok(out)
}

fn same_visits(ctx: &mut Ctx<'_>, firefox: &str, ours: &str) -> Result<Visits, String> {
    let theirs = firefox_visits(ctx, firefox)?;
    let mine = our_visits(ctx, ours)?;
    check(
        theirs == mine,
        format!("the visits differ:\n{firefox}: {theirs:?}\n{ours}: {mine:?}"),
    )?;
    let count: usize = mine.iter().map(|(_, v)| v.len()).sum();
    ctx.step(
        &format!("{firefox}, {ours}"),
        &format!("verify: the same {count} visits"),
    );
    Ok(mine)
}

fn both_ways(ctx: &mut Ctx<'_>) -> Result<(), String> {
    let now_ms = now_us() / 1000;
    let hour_ms = HOUR_US / 1000;
    let firefox = ctx.firefox("F")?;
    firefox.js(
        FIREFOX_VISIT,
        json!([
            PAGES[0],
            "News A",
            [[now_ms - 5 * hour_ms, 1], [now_ms - 4 * hour_ms, 2]]
        ]),
    )?;
    firefox.js(
        FIREFOX_VISIT,
        json!([PAGES[1], "News B", [[now_ms - 3 * hour_ms, 1]]]),
    )?;
    firefox.js(
        FIREFOX_VISIT,
        json!([PAGES[2], "Manual", [[now_ms - 2 * hour_ms, 3]]]),
    )?;
    ctx.step("F", "visit three pages: link, typed, bookmark");
    ctx.sync_firefox("F")?;
    ctx.sync_device("A")?;
    same_visits(ctx, "F", "A")?;

    // Ours, to the microsecond: Firefox keeps the millisecond.
    let a = ctx.device("A")?.history.clone();
    let precise = now_us() - HOUR_US + 123;
    a.record_visit(PAGES[0], precise, VisitTransition::Link)
        .map_err(|e| e.to_string())?;
    a.record_visit(PAGES[3], precise + 1_000, VisitTransition::Typed)
        .map_err(|e| e.to_string())?;
    a.set_title(PAGES[3], "Ours").map_err(|e| e.to_string())?;
    ctx.step("A", "visit two pages, dates with their own microseconds");
    ctx.sync_device("A")?;
    ctx.sync_firefox("F")?;
    let visits = same_visits(ctx, "F", "A")?;

    // Firefox uploads everything again, three times (as after a node
    // reassignment), in its own precision: no visit doubles.
    for round in 1..=3 {
        ctx.firefox("F")?.js(
            r#"
            const { Weave } = ChromeUtils.importESModule("resource://services-sync/main.sys.mjs");
            await Weave.Service.engineManager.get("history").resetClient();
            return null;
            "#,
            json!([]),
        )?;
        ctx.step("F", &format!("round {round}: forget what it synced"));
        ctx.sync_firefox("F")?;
        ctx.sync_device("A")?;
        let again = same_visits(ctx, "F", "A")?;
        check(
            again == visits,
            format!("round {round} changed the visits:\nbefore: {visits:?}\nafter: {again:?}"),
        )?;
    }
    let kept = a
        .visits(PAGES[0])
        .map_err(|e| e.to_string())?
        .iter()
        .any(|v| v.date_us == precise);
    check(kept, "A lost its visit's own microseconds")?;
    // And ours uploads everything again: Firefox's counts do not move.
    let assoc = sync15::SyncEngine::sync_association(&*a).map_err(|e| e.to_string())?;
    sync15::SyncEngine::reset(&*a, &assoc).map_err(|e| e.to_string())?;
    ctx.step("A", "forget what it synced");
    ctx.sync_device("A")?;
    ctx.sync_firefox("F")?;
    let again = same_visits(ctx, "F", "A")?;
    check(
        again == visits,
        format!("our re-upload changed Firefox's visits:\nbefore: {visits:?}\nafter: {again:?}"),
    )?;

    // Deletes both ways.
    ctx.firefox("F")?.js(
        r#"
        const { PlacesUtils } = ChromeUtils.importESModule("resource://gre/modules/PlacesUtils.sys.mjs");
        await PlacesUtils.history.remove(arguments[0]);
        return null;
        "#,
        json!([PAGES[1]]),
    )?;
    a.delete_page(PAGES[2]).map_err(|e| e.to_string())?;
    ctx.step("F, A", "F deletes one page, A another");
    ctx.sync_firefox("F")?;
    ctx.sync_device("A")?;
    ctx.sync_firefox("F")?;
    let left = same_visits(ctx, "F", "A")?;
    check(
        left.iter()
            .all(|(url, v)| v.is_empty() == (url == PAGES[1] || url == PAGES[2])),
        format!("exactly the deleted pages should be gone: {left:?}"),
    )
}
