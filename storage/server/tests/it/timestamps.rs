//! The server's times as clients see them: `X-Weave-Timestamp` is the
//! server's "now", so it must never be earlier than a time the server has
//! already handed out for that user, however close together its writes come.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::time::Instant;

use support::{Account, TestServer};

/// One answer: when it was asked for and received, the user's "now" it
/// carried, and the latest time it handed out.
struct Seen {
    sent: Instant,
    received: Instant,
    weave_timestamp: i64,
    handed_out: i64,
    what: String,
}

fn observe(account: &Account, method: &str, rest: &str, body: Option<serde_json::Value>) -> Seen {
    let sent = Instant::now();
    let response = account.send(
        method,
        rest,
        &[],
        body.map(|b| ("application/json", serde_json::to_vec(&b).unwrap())),
    );
    let received = Instant::now();
    let status = response.status();
    assert!(status.is_success() || status == 404, "{method} {rest}: {status}");
    let headers = response.headers();
    let weave_timestamp = support::ts_header(headers, "x-weave-timestamp");
    let last_modified = support::header(headers, "x-last-modified")
        .map_or(0, |_| support::ts_header(headers, "x-last-modified"));
    Seen {
        sent,
        received,
        weave_timestamp,
        handed_out: weave_timestamp.max(last_modified),
        what: format!("{method} {rest}"),
    }
}

/// Four clients of one user write and read as fast as they can, so that
/// writes land in the same 10 ms and get times ahead of the clock. Every
/// answer's `X-Weave-Timestamp` is at or after every time any of them had
/// been handed out before that request was sent.
#[test]
fn x_weave_timestamp_never_goes_back_past_a_time_already_handed_out() {
    let server = TestServer::start();
    let account = server.account("clockwatcher@example.com");
    let seen: Vec<Seen> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let account = &account;
                scope.spawn(move || {
                    let mut seen = Vec::new();
                    for i in 0..40 {
                        let record = serde_json::json!({"payload": format!("keys {w} {i}")});
                        seen.push(observe(account, "PUT", "/storage/crypto/keys", Some(record)));
                        seen.push(observe(account, "GET", "/storage/meta/global", None));
                        let batch = serde_json::json!([{"id": format!("w{w}r{i}"), "payload": "x"}]);
                        seen.push(observe(account, "POST", "/storage/tabs", Some(batch)));
                        seen.push(observe(account, "GET", "/info/collections", None));
                    }
                    seen
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(seen.len(), 640);
    let mut by_arrival: Vec<&Seen> = seen.iter().collect();
    by_arrival.sort_by_key(|s| s.received);
    let mut stepped_back = Vec::new();
    for later in &seen {
        let latest_before = by_arrival
            .iter()
            .take_while(|earlier| earlier.received < later.sent)
            .max_by_key(|earlier| earlier.handed_out);
        if let Some(earlier) = latest_before {
            if later.weave_timestamp < earlier.handed_out {
                stepped_back.push(format!(
                    "{} said {} after {} had handed out {}",
                    later.what, later.weave_timestamp, earlier.what, earlier.handed_out
                ));
            }
        }
    }
    assert!(
        stepped_back.is_empty(),
        "{} of {} answers went back in time: {:?}",
        stepped_back.len(),
        seen.len(),
        &stepped_back[..stepped_back.len().min(5)]
    );
}

/// Every timestamp in a JSON body has exactly two decimals
/// (`1796622745.20`, not `1796622745.2`), as Mozilla's server writes them.
#[test]
fn json_timestamps_always_have_two_decimals() {
    let server = TestServer::start();
    let account = server.account("decimals@example.com");
    let two_decimals = |text: &str, what: &str| {
        let seconds = text.trim();
        let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
        assert!(
            !whole.is_empty() && whole.bytes().all(|b| b.is_ascii_digit()) && fraction.len() == 2,
            "{what}: {seconds:?}"
        );
    };
    // Write until a write's time is a whole tenth of a second: the case an
    // f64 would print with one decimal.
    let (put_body, id) = (0..1_000)
        .find_map(|i| {
            let id = format!("t{i}");
            let r = account.put_json(
                &format!("/storage/forms/{id}"),
                serde_json::json!({"payload": "x"}),
                &[],
            );
            let modified = support::ts_header(r.headers(), "x-last-modified");
            (modified % 100 == 0).then(|| (r.text().unwrap(), id))
        })
        .expect("a write in a whole tenth of a second");
    two_decimals(&put_body, "PUT");
    let bso: serde_json::Value =
        serde_json::from_str(&account.get(&format!("/storage/forms/{id}")).text().unwrap()).unwrap();
    let raw = account.get(&format!("/storage/forms/{id}")).text().unwrap();
    let modified = raw
        .split("\"modified\":")
        .nth(1)
        .unwrap()
        .split([',', '}'])
        .next()
        .unwrap();
    two_decimals(modified, "GET BSO");
    assert!(bso["modified"].is_number());
    let info = account.get("/info/collections").text().unwrap();
    two_decimals(
        info.split("\"forms\":")
            .nth(1)
            .unwrap()
            .split([',', '}'])
            .next()
            .unwrap(),
        "info/collections",
    );
    let listing = account.get("/storage/forms?full=1").text().unwrap();
    for part in listing.split("\"modified\":").skip(1) {
        two_decimals(part.split([',', '}']).next().unwrap(), "GET collection");
    }
    let delete = account
        .send("DELETE", &format!("/storage/forms/{id}"), &[], None)
        .text()
        .unwrap();
    two_decimals(
        delete
            .split("\"modified\":")
            .nth(1)
            .unwrap()
            .split([',', '}'])
            .next()
            .unwrap(),
        "DELETE",
    );
}
