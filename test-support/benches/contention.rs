//! App work during a large sync (issue 17, item 12): while a new device's
//! first sync merges 50,000 bookmarks (2,500 folders) and 20,000 history
//! pages (10 visits each) from the in-process server on 127.0.0.1, the
//! app keeps working on the same stores: recording a visit every 2 ms,
//! searching the bookmarks every 2 ms, and adding a bookmark every 5 ms.
//! Prints how long the sync took and, for each kind of app call, how many
//! ran, p50, p99 and the longest wait. The point is the longest wait: app
//! calls must not queue behind a whole merge.
#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sync_bookmarks::{NewItem, UNFILED_GUID};
use sync_history::VisitTransition;
use sync_manager::ServiceStatus;
use sync15::ServerTimestamp;
use test_support::{Device, TestServer};

const FOLDERS: usize = 2_500;
const PER_FOLDER: usize = 20;
const PAGES: usize = 20_000;
const VISITS: usize = 10;

fn bookmark_records() -> Vec<Value> {
    let roots = ["menu", "toolbar", "unfiled", "mobile"];
    let mut records = Vec::new();
    let mut root_children: Vec<Vec<String>> = vec![Vec::new(); roots.len()];
    for f in 0..FOLDERS {
        let folder_id = format!("folder{f:06}");
        root_children[f % roots.len()].push(folder_id.clone());
        let children: Vec<String> = (0..PER_FOLDER)
            .map(|b| format!("bmk{:09}", f * PER_FOLDER + b))
            .collect();
        for (b, id) in children.iter().enumerate() {
            let n = f * PER_FOLDER + b;
            records.push(json!({
                "id": id, "type": "bookmark", "parentid": folder_id, "parentName": format!("Folder {f}"),
                "title": format!("Bookmark {n}: a page title of ordinary length"),
                "bmkUri": format!("https://www.site{}.example.com/articles/{n}/slug", n % 700),
                "dateAdded": 1_600_000_000_000_i64 + n as i64,
            }));
        }
        records.push(json!({
            "id": folder_id, "type": "folder", "parentid": roots[f % roots.len()],
            "title": format!("Folder {f}"), "children": children, "dateAdded": 1_600_000_000_000_i64,
        }));
    }
    for (root, children) in roots.iter().zip(&root_children) {
        records.push(
            json!({"id": root, "type": "folder", "parentid": "places", "title": root,
                            "children": children, "dateAdded": 1_600_000_000_000_i64}),
        );
    }
    records
}

fn history_records() -> Vec<Value> {
    let now_us = ServerTimestamp::now().as_millis() * 1000;
    (0..PAGES)
        .map(|p| {
            let visits: Vec<Value> = (0..VISITS)
                .map(|v| json!({"date": now_us - ((p * VISITS + v) as i64 + 1) * 60_000_000, "type": 1}))
                .collect();
            json!({"id": format!("page{p:08}"), "histUri": format!("https://history.example/{p}"),
                   "title": format!("Page {p}"), "visits": visits})
        })
        .collect()
}

/// Runs `call` every `every` until `stop`; returns each call's duration.
fn repeat(
    stop: Arc<AtomicBool>,
    every: Duration,
    mut call: impl FnMut(usize) + Send + 'static,
) -> std::thread::JoinHandle<Vec<Duration>> {
    std::thread::spawn(move || {
        let mut took = Vec::new();
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            let started = Instant::now();
            call(n);
            took.push(started.elapsed());
            n += 1;
            std::thread::sleep(every);
        }
        took
    })
}

fn report(name: &str, mut took: Vec<Duration>) {
    took.sort_unstable();
    let at = |p: f64| {
        took.get(((took.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    println!(
        "  {name:<22} {:>6} calls: p50 {:>8.2} ms, p99 {:>8.2} ms, longest {:>8.2} ms",
        took.len(),
        at(0.5).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0,
        took.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let server = TestServer::start();
    let account = server.new_account("contention@example.com");
    let mut init = Device::new("init", &account);
    assert_eq!(init.sync().status, ServiceStatus::Ok);
    account.upload_cleartexts("bookmarks", &bookmark_records());
    account.upload_cleartexts("history", &history_records());

    let mut device = Device::new("busy", &account);
    let stop = Arc::new(AtomicBool::new(false));
    let history = device.history.clone();
    let visits = repeat(stop.clone(), Duration::from_millis(2), move |n| {
        let now_us = ServerTimestamp::now().as_millis() * 1000;
        history
            .record_visit(&format!("https://app.example/{n}"), now_us, VisitTransition::Link)
            .unwrap();
    });
    let bookmarks = device.bookmarks.clone();
    let searches = repeat(stop.clone(), Duration::from_millis(2), move |n| {
        bookmarks.search(&format!("Bookmark {}", n % 1000), 5).unwrap();
    });
    let bookmarks = device.bookmarks.clone();
    let adds = repeat(stop.clone(), Duration::from_millis(5), move |n| {
        bookmarks
            .insert(
                UNFILED_GUID,
                None,
                NewItem::Bookmark {
                    url: format!("https://added.example/{n}"),
                    title: format!("Added {n}"),
                },
            )
            .unwrap();
    });

    let started = Instant::now();
    let result = device.sync();
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    assert_eq!(result.status, ServiceStatus::Ok, "{:?}", result.error);
    println!(
        "first sync of {} bookmarks and {PAGES} history pages while the app works: {:.2} s",
        FOLDERS * PER_FOLDER,
        took.as_secs_f64()
    );
    report("record a visit", visits.join().unwrap());
    report("search bookmarks", searches.join().unwrap());
    report("add a bookmark", adds.join().unwrap());
}
