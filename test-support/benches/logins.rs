//! Passwords sync benchmark (issue 5's target): through the real manager
//! and the in-process server on 127.0.0.1, with real SQLite files.
//!
//! - **First sync**: 10,000 logins on the server, an empty device syncs
//!   them all down (download, decrypt, validate, three-way apply, seal the
//!   secrets, store). Target: under 2 s.
//! - **Incremental sync**: 100 of them changed by another device; the
//!   device syncs again.
//!
//! Each is run several times with fresh devices; prints wall times and
//! records/s (best and median).
#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use sync_logins::LoginEntry;
use sync_manager::ServiceStatus;
use test_support::{Device, TestServer};

const LOGINS: usize = 10_000;
const CHANGED: usize = 100;
const RUNS: usize = 5;

fn entry(i: usize) -> LoginEntry {
    LoginEntry {
        origin: format!("https://site{i}.example.com"),
        form_action_origin: Some(format!("https://login.site{i}.example.com")),
        http_realm: None,
        username_field: "username".into(),
        password_field: "password".into(),
        username: format!("user{i}@example.com"),
        password: format!("correct-horse-battery-staple-{i}"),
    }
}

fn report(what: &str, records: usize, mut times: Vec<Duration>) {
    times.sort();
    let best = times[0];
    let median = times[times.len() / 2];
    println!(
        "{what}: best {:.0} ms ({:.0} records/s), median {:.0} ms ({:.0} records/s) over {} runs",
        best.as_secs_f64() * 1000.0,
        records as f64 / best.as_secs_f64(),
        median.as_secs_f64() * 1000.0,
        records as f64 / median.as_secs_f64(),
        times.len()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter naming another bench skips this one.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"logins".contains(a.as_str()))
    {
        return;
    }
    let server = TestServer::start();
    let account = server.new_account("bench-logins@example.com");

    let mut writer = Device::new("writer", &account);
    let report_import = writer.logins.import((0..LOGINS).map(entry).collect()).unwrap();
    assert_eq!(report_import.imported.len(), LOGINS);
    let started = Instant::now();
    assert_eq!(writer.sync().status, ServiceStatus::Ok);
    println!(
        "setup: {LOGINS} logins uploaded by another device in {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );

    let mut first = Vec::new();
    let mut incremental = Vec::new();
    let guids: Vec<String> = writer
        .logins
        .list()
        .unwrap()
        .into_iter()
        .map(|l| l.guid.to_string())
        .collect();
    for run in 0..RUNS {
        let mut reader = Device::new(&format!("reader{run}"), &account);
        let started = Instant::now();
        let result = reader.sync();
        first.push(started.elapsed());
        assert_eq!(result.status, ServiceStatus::Ok, "{:?}", result.error);
        assert_eq!(result.engines["passwords"].downloaded, LOGINS);
        assert_eq!(reader.logins.count().unwrap(), LOGINS);

        for guid in guids.iter().skip(run * CHANGED).take(CHANGED) {
            let mut changed = writer.logins.get(guid).unwrap().unwrap().entry;
            changed.password = format!("changed in run {run}");
            writer.logins.update(guid, changed).unwrap();
        }
        assert_eq!(writer.sync().status, ServiceStatus::Ok);
        let started = Instant::now();
        let result = reader.sync();
        incremental.push(started.elapsed());
        assert_eq!(result.status, ServiceStatus::Ok);
        assert_eq!(result.engines["passwords"].downloaded, CHANGED);
    }
    report(
        &format!("first sync of {LOGINS} logins into an empty store"),
        LOGINS,
        first,
    );
    report(
        &format!("incremental sync of {CHANGED} changed logins"),
        CHANGED,
        incremental,
    );
}
