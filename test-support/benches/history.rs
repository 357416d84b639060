//! History sync benchmark (issue 6's targets), through the real manager and
//! the in-process server on 127.0.0.1, with real SQLite files.
//!
//! - **First sync**: 100,000 history records (20 visits each, realistic
//!   URL and title lengths) written to the server by another client; an
//!   empty device syncs them all down.
//! - **Upload**: that device re-uploads all 100,000 pages (after a reset
//!   and a wiped server collection), in as many syncs as its per-sync cap
//!   needs (Firefox's 5,000 by default; `HISTORY_BENCH_CAP` to change).
//!
//! Prints wall time, records/s and peak memory (VmHWM of this process,
//! which also runs the server) for each. Targets: each under 10 s and
//! 300 MiB.
#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;
use sync_history::HistoryConfig;
use sync_manager::ServiceStatus;
use sync15::{
    EngineSyncAssociation, Guid, OutgoingEnvelope, OutgoingRecord, Precondition, ServerTimestamp, SyncEngine,
    Uploader,
};
use test_support::{Device, TestServer};

const PAGES: usize = 100_000;
const VISITS: i64 = 20;

fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Starts a new peak-memory measurement (Linux: resets VmHWM); returns the
/// memory resident at that point, which the new peak includes.
fn reset_peak_rss() -> f64 {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    rss_mib()
}

fn record(i: usize, now_us: i64) -> serde_json::Value {
    let id = format!("hist{i:08}");
    let visits: Vec<serde_json::Value> = (0..VISITS)
        .map(|v| json!({"date": now_us - (i as i64 % 1000) * 60_000_000 - v * 3_600_000_000, "type": 1 + (v % 3)}))
        .collect();
    json!({
        "id": id,
        "histUri": format!("https://www.site{}.example.com/articles/{i}/a-reasonably-long-slug-for-page-{i}?ref=feed&utm_source=bench", i % 5000),
        "title": format!("Article {i}: a realistic page title of moderate length"),
        "visits": visits,
    })
}

fn main() {
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"history".contains(a.as_str()))
    {
        return;
    }
    let cap: usize = std::env::var("HISTORY_BENCH_CAP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let server = TestServer::start();
    let account = server.new_account("bench-history@example.com");
    let mut init = Device::new("init", &account);
    assert_eq!(init.sync().status, ServiceStatus::Ok);

    // Another client writes 100,000 records.
    let started = Instant::now();
    let now_us = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64;
    let keys = account.collection_keys();
    let bundle = keys.key_for_collection("history");
    let raw = account.raw();
    let config = raw.client().info_configuration().unwrap();
    let mut uploader = Uploader::new(raw.client(), "history", &config, ServerTimestamp::ZERO, |_, _| {
        Ok(())
    });
    for i in 0..PAGES {
        let cleartext = record(i, now_us);
        let envelope =
            OutgoingEnvelope::new(Guid::new(cleartext["id"].as_str().unwrap())).with_sortindex(100);
        let bso = bundle
            .encrypt(&OutgoingRecord::from_content(envelope, &cleartext).unwrap())
            .unwrap();
        uploader.enqueue(&bso).unwrap();
    }
    let outcome = uploader.finish().unwrap();
    assert_eq!(outcome.committed.len(), PAGES);
    println!(
        "setup: {PAGES} records ({VISITS} visits each) written by another client in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // First sync into an empty store.
    let unlimited_age = HistoryConfig {
        max_outgoing: cap,
        max_outgoing_age: std::time::Duration::from_secs(365 * 24 * 3600),
    };
    let mut reader = Device::new("reader", &account).with_history_config(unlimited_age);
    let resident = reset_peak_rss();
    let started = Instant::now();
    let result = reader.sync();
    let took = started.elapsed();
    assert_eq!(result.status, ServiceStatus::Ok, "{:?}", result.error);
    assert_eq!(result.engines["history"].downloaded, PAGES);
    let page = reader
        .history
        .get_page(record(4242, now_us)["histUri"].as_str().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(page.visit_count, VISITS);
    println!(
        "first sync of {PAGES} history records into an empty store: {:.2} s ({:.0} records/s), peak memory {:.0} MiB ({resident:.0} MiB resident before)",
        took.as_secs_f64(),
        PAGES as f64 / took.as_secs_f64(),
        peak_rss_mib()
    );

    // Upload all of them back.
    raw.delete_collection("history");
    let assoc = reader.history.sync_association().unwrap();
    reader.history.reset(&assoc).unwrap();
    if let EngineSyncAssociation::Disconnected = assoc {
        panic!("the reader should be connected after a sync");
    }
    let resident = reset_peak_rss();
    let started = Instant::now();
    let mut uploaded = 0;
    let mut syncs = 0;
    while uploaded < PAGES {
        let result = reader.sync();
        assert_eq!(result.status, ServiceStatus::Ok, "{:?}", result.error);
        let up = result.engines["history"].uploaded;
        assert!(up > 0, "stuck at {uploaded}");
        uploaded += up;
        syncs += 1;
    }
    let took = started.elapsed();
    assert!(
        raw.client()
            .info_collections(Precondition::None)
            .unwrap()
            .value
            .get("history")
            .is_some()
    );
    println!(
        "upload of {PAGES} pages ({syncs} syncs of at most {cap}): {:.2} s ({:.0} records/s), peak memory {:.0} MiB ({resident:.0} MiB resident before)",
        took.as_secs_f64(),
        PAGES as f64 / took.as_secs_f64(),
        peak_rss_mib()
    );
}
