//! The history engine through the real manager and server, with records
//! written by other clients.
#![allow(clippy::unwrap_used)]

use serde_json::json;
use sync_manager::ServiceStatus;
use test_support::{Device, TestServer};

const HOUR_US: i64 = 3_600_000_000;

fn synced(device: &mut Device) {
    let result = device.sync();
    assert_eq!(result.status, ServiceStatus::Ok, "{:?}", result.error);
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

#[test]
fn every_visit_of_a_record_with_more_than_twenty_is_kept() {
    let server = TestServer::start();
    let account = server.new_account("history@example.com");
    let mut a = Device::new("A", &account);
    synced(&mut a);

    // Another client keeps (and sends) more visits per page than Firefox's 20.
    let now = now_us();
    let mut visits: Vec<serde_json::Value> = (0..45)
        .map(|i| json!({"date": now - i * HOUR_US, "type": 1 + i % 3}))
        .collect();
    visits.push(json!({"date": now - 3 * HOUR_US, "type": 1})); // a repeat
    visits[7]["fromElsewhere"] = json!(true);
    account.put_cleartext(
        "history",
        &json!({"id": "manyVisits01", "histUri": "https://many.example/", "title": "Many", "visits": visits}),
    );
    synced(&mut a);

    let stored = a.history.visits("https://many.example/").unwrap();
    assert_eq!(stored.len(), 45);
    let page = a.history.get_page("https://many.example/").unwrap().unwrap();
    assert_eq!(page.visit_count, 45);
}
