//! History scenarios.

use std::collections::BTreeSet;

use serde_json::json;
use sync_history::{HistoryConfig, VisitTransition};

use super::{Ctx, Scenario, check, fail, now_us, scenario};
use crate::Device;

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        scenario("history: visits of several types on A appear on B", visits_appear),
        scenario(
            "history: a capped upload continues on the next sync",
            incremental_upload,
        ),
        scenario(
            "history: a page deleted on A while B adds visits stays deleted",
            deleted_while_visited,
        ),
        scenario(
            "history: at most the 20 newest visits go out per page",
            twenty_visit_cap,
        ),
        scenario(
            "history: unknown fields on records and visits round-trip",
            unknown_fields_round_trip,
        ),
        scenario(
            "history: visits that come back to the millisecond, as application-services writes them, stay one visit each",
            millisecond_visits_round_trip,
        ),
    ]
}

const HOUR: i64 = 3600 * 1_000_000;

fn visit(ctx: &mut Ctx<'_>, device: &str, url: &str, date: i64, how: VisitTransition) -> Result<(), String> {
    ctx.history(device)?.record_visit(url, date, how).map_err(fail)
}

fn visit_set(ctx: &mut Ctx<'_>, device: &str, url: &str) -> Result<BTreeSet<(i64, u8)>, String> {
    Ok(ctx
        .history(device)?
        .visits(url)
        .map_err(fail)?
        .into_iter()
        .map(|v| (v.date_us, v.transition.as_u8()))
        .collect())
}

fn visits_appear(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.add_device("B");
    let now = now_us();
    let pages = [
        ("https://news.example/", "News", VisitTransition::Typed),
        ("https://news.example/story/1", "A story", VisitTransition::Link),
        ("https://docs.example/manual", "Manual", VisitTransition::Bookmark),
    ];
    for (i, (url, title, how)) in pages.iter().enumerate() {
        visit(ctx, "A", url, now - (i as i64 + 1) * HOUR, *how)?;
        visit(
            ctx,
            "A",
            url,
            now - (i as i64 + 10) * HOUR,
            VisitTransition::Reload,
        )?;
        ctx.history("A")?.set_title(url, title).map_err(fail)?;
    }
    ctx.step("A", "visit 3 pages: typed, link, bookmark, each also reloaded");
    ctx.sync("A")?;
    ctx.sync("B")?;
    for (url, title, _) in pages {
        let page = ctx
            .history("B")?
            .get_page(url)
            .map_err(fail)?
            .ok_or(format!("B lacks {url}"))?;
        check(page.title == title, format!("{url}: title {:?}", page.title))?;
        let on_a = visit_set(ctx, "A", url)?;
        let on_b = visit_set(ctx, "B", url)?;
        check(
            on_a == on_b && on_b.len() == 2,
            format!("{url}: A {on_a:?}, B {on_b:?}"),
        )?;
        let a_guid = ctx
            .history("A")?
            .get_page(url)
            .map_err(fail)?
            .ok_or("A lost it")?
            .guid;
        check(a_guid == page.guid, format!("{url}: ids differ"))?;
    }
    let remote_only = ctx
        .history("B")?
        .visits(pages[0].0)
        .map_err(fail)?
        .iter()
        .all(|v| !v.is_local);
    check(remote_only, "B marked A's visits as its own")?;
    ctx.step("B", "verify: same pages, titles, ids and visits");
    Ok(())
}

fn incremental_upload(ctx: &mut Ctx<'_>) -> Result<(), String> {
    let capped = HistoryConfig {
        max_outgoing: 5,
        ..HistoryConfig::default()
    };
    let a = Device::new("A", &ctx.account).with_history_config(capped);
    ctx.insert_device("A", a, None);
    ctx.add_device("B");
    let now = now_us();
    for i in 0..8 {
        // Page i gets i+1 visits: later pages are more frecent.
        for j in 0..=i {
            visit(
                ctx,
                "A",
                &format!("https://p{i}.example/"),
                now - (j as i64 + 1) * HOUR,
                VisitTransition::Link,
            )?;
        }
    }
    ctx.step("A", "visit 8 pages (upload cap: 5 per sync)");
    let first = ctx.sync("A")?;
    check(
        first.engines["history"].uploaded == 5,
        format!("round 1 uploaded {}", first.engines["history"].uploaded),
    )?;
    ctx.sync("B")?;
    let mut on_b = ctx
        .history("B")?
        .query("https://", sync_history::QueryMatch::UrlPrefix, 100, 0)
        .map_err(fail)?;
    let urls: Vec<String> = on_b.drain(..).map(|p| p.url).collect();
    check(
        urls == [
            "https://p7.example/",
            "https://p6.example/",
            "https://p5.example/",
            "https://p4.example/",
            "https://p3.example/",
        ],
        format!("after round 1 B has {urls:?}"),
    )?;
    ctx.step("B", "verify: the 5 most frecent pages");
    let second = ctx.sync("A")?;
    check(
        second.engines["history"].uploaded == 3,
        format!("round 2 uploaded {}", second.engines["history"].uploaded),
    )?;
    ctx.sync("B")?;
    let count = ctx
        .history("B")?
        .query("https://", sync_history::QueryMatch::UrlPrefix, 100, 0)
        .map_err(fail)?
        .len();
    check(count == 8, format!("after round 2 B has {count} pages"))?;
    ctx.step("B", "verify: all 8 pages");
    let third = ctx.sync("A")?;
    check(
        third.engines["history"].uploaded == 0,
        "a third round had more to upload",
    )
}

fn deleted_while_visited(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.add_device("B");
    let url = "https://private.example/";
    let now = now_us();
    visit(ctx, "A", url, now - 2 * HOUR, VisitTransition::Link)?;
    ctx.sync("A")?;
    ctx.sync("B")?;
    ctx.history("A")?.delete_page(url).map_err(fail)?;
    ctx.step("A", "delete the page");
    visit(ctx, "B", url, now - HOUR, VisitTransition::Link)?;
    ctx.step("B", "visit it again");
    ctx.sync("B")?;
    ctx.sync("A")?;
    ctx.sync("B")?;
    for device in ["A", "B"] {
        let page = ctx.history(device)?.get_page(url).map_err(fail)?;
        check(page.is_none(), format!("{device} still has the page"))?;
    }
    let records = ctx.account.raw().bsos("history");
    check(
        records.len() == 1,
        format!("{} history records on the server", records.len()),
    )?;
    let id = records[0].envelope.id.to_string();
    let record = ctx.account.cleartext("history", &id).ok_or("record gone")?;
    check(record["deleted"] == json!(true), format!("server has {record}"))?;
    ctx.step("A,B", "verify: deleted everywhere, a tombstone on the server");
    Ok(())
}

fn twenty_visit_cap(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.add_device("B");
    let url = "https://daily.example/";
    let now = now_us();
    for i in 0..30 {
        visit(ctx, "A", url, now - (i + 1) * HOUR, VisitTransition::Link)?;
    }
    ctx.step("A", "visit one page 30 times");
    ctx.sync("A")?;
    ctx.sync("B")?;
    let guid = ctx
        .history("A")?
        .get_page(url)
        .map_err(fail)?
        .ok_or("page gone")?
        .guid;
    let record = ctx
        .account
        .cleartext("history", guid.as_str())
        .ok_or("no record")?;
    let dates: Vec<i64> = record["visits"]
        .as_array()
        .ok_or("no visits")?
        .iter()
        .filter_map(|v| v["date"].as_i64())
        .collect();
    check(dates.len() == 20, format!("{} visits on the server", dates.len()))?;
    check(
        dates[0] == now - HOUR && dates.windows(2).all(|w| w[0] > w[1]),
        "not the newest 20, newest first",
    )?;
    let on_b = visit_set(ctx, "B", url)?;
    check(on_b.len() == 20, format!("B has {} visits", on_b.len()))?;
    check(
        ctx.history("A")?.visits(url).map_err(fail)?.len() == 30,
        "A lost visits",
    )?;
    ctx.step("B", "verify: the 20 newest visits");
    Ok(())
}

fn unknown_fields_round_trip(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.sync("A")?;
    let now = now_us();
    let record = json!({
        "id": "futurePage01",
        "histUri": "https://future.example/",
        "title": "From the future",
        "visits": [{"date": now - 5 * HOUR, "type": 1, "visitExtra": {"x": 1}}],
        "pageExtra": "kept",
    });
    ctx.account.put_cleartext("history", &record);
    ctx.step(
        "server",
        "a newer client writes a page with fields we do not know",
    );
    ctx.sync("A")?;
    visit(
        ctx,
        "A",
        "https://future.example/",
        now - HOUR,
        VisitTransition::Typed,
    )?;
    ctx.step("A", "visit the page again");
    ctx.sync("A")?;
    let back = ctx
        .account
        .cleartext("history", "futurePage01")
        .ok_or("record gone")?;
    check(
        back["pageExtra"] == json!("kept"),
        format!("pageExtra lost: {back}"),
    )?;
    let visits = back["visits"].as_array().ok_or("no visits")?;
    check(visits.len() == 2, format!("visits: {visits:?}"))?;
    let old = visits
        .iter()
        .find(|v| v["date"] == json!(now - 5 * HOUR))
        .ok_or("old visit lost")?;
    check(
        old["visitExtra"] == json!({"x": 1}),
        format!("visitExtra lost: {old}"),
    )?;
    ctx.step(
        "server",
        "verify: both unknown fields came back, with the new visit",
    );
    Ok(())
}

/// A page's record as application-services (Firefox Android and iOS)
/// writes it back: it keeps visit dates in milliseconds and uploads them as
/// `ms × 1000`, one per (ms, type), newest first
/// (`components/places/src/history_sync/record.rs`, `plan.rs`).
fn as_application_services_writes(record: &serde_json::Value) -> serde_json::Value {
    let mut seen = BTreeSet::new();
    let visits: Vec<serde_json::Value> = record["visits"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            (
                v["date"].as_i64().unwrap_or(0) / 1000 * 1000,
                v["type"].as_i64().unwrap_or(0),
            )
        })
        .filter(|key| seen.insert(*key))
        .map(|(date, kind)| json!({"date": date, "type": kind}))
        .collect();
    json!({"id": record["id"], "histUri": record["histUri"], "title": record["title"], "visits": visits})
}

fn visit_count(ctx: &mut Ctx<'_>, device: &str, url: &str) -> Result<usize, String> {
    Ok(ctx.history(device)?.visits(url).map_err(fail)?.len())
}

fn millisecond_visits_round_trip(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    let url = "https://precise.example/";
    // Microseconds of their own, as Firefox desktop and this store record
    // them; two visits in one millisecond with different transitions.
    let base = now_us() / 1000 * 1000 - 10 * HOUR + 534;
    visit(ctx, "A", url, base, VisitTransition::Link)?;
    visit(ctx, "A", url, base + 1, VisitTransition::Typed)?;
    visit(ctx, "A", url, base - HOUR, VisitTransition::Typed)?;
    visit(ctx, "A", url, base - 2 * HOUR, VisitTransition::Reload)?;
    ctx.step("A", "4 visits with µs dates, two in one millisecond");
    ctx.sync("A")?;
    let guid = ctx
        .history("A")?
        .get_page(url)
        .map_err(fail)?
        .ok_or("A has no page")?
        .guid
        .to_string();

    for round in 1..=10 {
        let record = ctx.account.cleartext("history", &guid).ok_or("no record")?;
        let mut mobile = as_application_services_writes(&record);
        if round == 5 {
            // A real new visit from the phone, in ms, and its copy within
            // the same record (the same millisecond, microseconds apart).
            let new = (base + 3 * HOUR) / 1000 * 1000;
            if let Some(visits) = mobile["visits"].as_array_mut() {
                visits.insert(0, json!({"date": new + 250, "type": 1}));
                visits.insert(0, json!({"date": new, "type": 1}));
            }
        }
        ctx.account.put_cleartext("history", &mobile);
        ctx.step(
            "mobile",
            &format!("round {round}: re-upload the record with ms dates"),
        );
        let result = ctx.sync("A")?;
        let expected = if round < 5 { 4 } else { 5 };
        let count = visit_count(ctx, "A", url)?;
        check(
            count == expected,
            format!("round {round}: A holds {count} visits, expected {expected}"),
        )?;
        let uploaded = result.engines["history"].uploaded;
        check(
            uploaded == 0,
            format!("round {round}: A re-uploaded {uploaded} pages it had not changed"),
        )?;
    }
    let on_server = ctx.account.cleartext("history", &guid).ok_or("no record")?;
    let visits = on_server["visits"].as_array().map_or(0, Vec::len);
    check(visits == 5, format!("the server's record has {visits} visits"))?;
    let page = ctx.history("A")?.get_page(url).map_err(fail)?.ok_or("gone")?;
    check(
        page.visit_count == 5,
        format!("A counts {} visits", page.visit_count),
    )?;
    ctx.add_device("B");
    ctx.sync("B")?;
    let on_b = visit_count(ctx, "B", url)?;
    check(on_b == 5, format!("B holds {on_b} visits"))?;
    ctx.step("A, B", "verify: 5 visits each, none doubled");
    Ok(())
}
