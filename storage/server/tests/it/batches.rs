//! Conformance: the batch upload API.
#![allow(clippy::unwrap_used)]

use crate::support;

use serde_json::json;
use support::{TestServer, json, ts_header};

fn bsos(range: std::ops::Range<usize>) -> serde_json::Value {
    json!(
        range
            .map(|i| json!({"id": format!("r{i:03}"), "payload": format!("p{i}")}))
            .collect::<Vec<_>>()
    )
}

#[test]
fn a_batch_becomes_visible_only_when_committed() {
    let s = TestServer::start();
    let a = s.account("batch@example.com");
    let r = a.post_json("/storage/history?batch=true", bsos(0..3), &[]);
    assert_eq!(r.status(), 202);
    let body = json(r);
    let batch = body["batch"].as_str().unwrap().to_owned();
    assert_eq!(body["success"].as_array().unwrap().len(), 3);

    let r = a.post_json(&format!("/storage/history?batch={batch}"), bsos(3..5), &[]);
    assert_eq!(r.status(), 202);
    // Nothing visible yet, to this client or any other.
    assert_eq!(json(a.get("/storage/history")), json!([]));
    assert!(json(a.get("/info/collections")).get("history").is_none());

    let r = a.post_json(
        &format!("/storage/history?batch={batch}&commit=true"),
        bsos(5..6),
        &[],
    );
    assert_eq!(r.status(), 200);
    let committed = ts_header(r.headers(), "x-last-modified");
    let body = json(r);
    assert_eq!(body["success"], json!(["r005"]));
    let all = json(a.get("/storage/history?full=1"));
    assert_eq!(all.as_array().unwrap().len(), 6);
    for bso in all.as_array().unwrap() {
        assert_eq!(
            (bso["modified"].as_f64().unwrap() * 1000.0).round() as i64,
            committed
        );
    }
    // A committed batch cannot be reused.
    let r = a.post_json(&format!("/storage/history?batch={batch}"), bsos(6..7), &[]);
    assert_eq!(r.status(), 400);
}

#[test]
fn later_posts_of_the_same_id_win_field_by_field() {
    let s = TestServer::start();
    let a = s.account("merge@example.com");
    let r = a.post_json(
        "/storage/c?batch=true",
        json!([{"id": "x", "payload": "first", "sortindex": 1}]),
        &[],
    );
    let batch = json(r)["batch"].as_str().unwrap().to_owned();
    a.post_json(
        &format!("/storage/c?batch={batch}"),
        json!([{"id": "x", "sortindex": 7}]),
        &[],
    );
    a.post_json(&format!("/storage/c?batch={batch}&commit=true"), json!([]), &[]);
    let bso = json(a.get("/storage/c/x"));
    assert_eq!(bso["payload"], "first");
    assert_eq!(bso["sortindex"], 7);
}

/// A batch committed over existing records leaves exactly what the same
/// POSTs made one by one leave: fields not given keep their stored values,
/// a repeated id keeps the latest of each field, expired records count as
/// gone, and the collection's count and size agree.
#[test]
fn a_batch_commit_writes_what_the_same_posts_would() {
    let s = TestServer::start();
    let a = s.account("same@example.com");
    let seed = json!([
        {"id": "kept", "payload": "old payload", "sortindex": 3},
        {"id": "resorted", "payload": "stays", "sortindex": 1},
        {"id": "grown", "payload": "short", "ttl": 3600},
        {"id": "expired", "payload": "gone soon", "ttl": 1},
    ]);
    let posts = [
        json!([{"id": "resorted", "sortindex": 9}, {"id": "new", "payload": "fresh"}]),
        json!([{"id": "grown", "payload": "a much longer payload than before"}, {"id": "twice", "payload": "first"}]),
        json!([{"id": "twice", "sortindex": 5, "ttl": 7200}, {"id": "expired", "sortindex": 2}]),
    ];
    for collection in ["plain", "batched"] {
        a.post_json(&format!("/storage/{collection}"), seed.clone(), &[]);
    }
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    for post in &posts {
        assert_eq!(a.post_json("/storage/plain", post.clone(), &[]).status(), 200);
    }
    let r = a.post_json("/storage/batched?batch=true", posts[0].clone(), &[]);
    let batch = json(r)["batch"].as_str().unwrap().to_owned();
    a.post_json(&format!("/storage/batched?batch={batch}"), posts[1].clone(), &[]);
    let r = a.post_json(
        &format!("/storage/batched?batch={batch}&commit=true"),
        posts[2].clone(),
        &[],
    );
    assert_eq!(r.status(), 200);

    let records = |collection: &str| -> Vec<(String, String, Option<i64>)> {
        let all = json(a.get(&format!("/storage/{collection}?full=1&sort=index")));
        let mut records: Vec<_> = all
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["id"].as_str().unwrap().to_owned(),
                    b["payload"].as_str().unwrap().to_owned(),
                    b["sortindex"].as_i64(),
                )
            })
            .collect();
        records.sort();
        records
    };
    let plain = records("plain");
    assert_eq!(plain.len(), 6, "{plain:?}");
    assert_eq!(records("batched"), plain);
    let expired = plain.iter().find(|(id, ..)| id == "expired").unwrap();
    assert_eq!(expired.1, "", "an expired record is not revived by a sortindex");
    let counts = json(a.get("/info/collection_counts"));
    assert_eq!(counts["batched"], counts["plain"]);
    let usage = json(a.get("/info/collection_usage"));
    assert_eq!(usage["batched"], usage["plain"]);
}

#[test]
fn batch_true_with_commit_is_a_one_shot_batch() {
    let s = TestServer::start();
    let a = s.account("oneshot@example.com");
    let r = a.post_json("/storage/c?batch=true&commit=true", bsos(0..4), &[]);
    assert_eq!(r.status(), 200);
    assert_eq!(json(a.get("/storage/c")).as_array().unwrap().len(), 4);
}

#[test]
fn batch_limits_and_bad_ids() {
    let s = TestServer::start_with(|c| {
        c.limits.max_post_records = 5;
        c.limits.max_total_records = 8;
    });
    let a = s.account("blimits@example.com");
    let r = a.post_json("/storage/c?batch=true", bsos(0..5), &[]);
    let batch = json(r)["batch"].as_str().unwrap().to_owned();
    // Past max_total_records: what fits is added, the rest refused one by
    // one with the reason a POST past its own limit gets ("retry bso").
    let r = a.post_json(&format!("/storage/c?batch={batch}"), bsos(5..9), &[]);
    assert_eq!(r.status(), 202);
    let r = json(r);
    assert_eq!(r["success"], json!(["r005", "r006", "r007"]), "{r}");
    assert_eq!(r["failed"], json!({"r008": "retry bso"}), "{r}");
    let r = a.post_json(&format!("/storage/c?batch={batch}&commit=true"), bsos(8..9), &[]);
    assert_eq!(r.status(), 200);
    assert_eq!(json(r)["failed"], json!({"r008": "retry bso"}));
    assert_eq!(json(a.get("/storage/c")).as_array().unwrap().len(), 8);

    for bad in [
        "?batch=999999",
        "?batch=abc",
        "?commit=true",
        "?batch=true&commit=yes",
    ] {
        let r = a.post_json(&format!("/storage/c{bad}"), bsos(0..1), &[]);
        assert_eq!(r.status(), 400, "{bad}");
    }
}

#[test]
fn a_batch_belongs_to_one_user_and_one_collection() {
    let s = TestServer::start();
    let a = s.account("owner@example.com");
    let b = s.account("other@example.com");
    let batch = json(a.post_json("/storage/c?batch=true", bsos(0..2), &[]))["batch"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = b.post_json(&format!("/storage/c?batch={batch}&commit=true"), bsos(2..3), &[]);
    assert_eq!(r.status(), 400, "another user's batch id is unknown to them");
    let r = a.post_json(&format!("/storage/d?batch={batch}&commit=true"), bsos(2..3), &[]);
    assert_eq!(r.status(), 400, "and so is the batch in another collection");
    assert_eq!(json(b.get("/storage/c")), json!([]));
}

#[test]
fn a_concurrent_write_fails_the_commit_and_commits_nothing() {
    let s = TestServer::start();
    let a = s.account("race@example.com");
    let r = a.post_json("/storage/c", bsos(0..1), &[]);
    let seen = sync15::ServerTimestamp::from_millis(ts_header(r.headers(), "x-last-modified")).to_string();
    let guard = [("X-If-Unmodified-Since", seen.as_str())];
    let batch = json(a.post_json("/storage/c?batch=true", bsos(1..3), &guard))["batch"]
        .as_str()
        .unwrap()
        .to_owned();
    // Another device writes meanwhile.
    a.post_json("/storage/c", json!([{"id": "theirs", "payload": "t"}]), &[]);
    let r = a.post_json(
        &format!("/storage/c?batch={batch}&commit=true"),
        bsos(3..4),
        &guard,
    );
    assert_eq!(r.status(), 412);
    assert_eq!(json(a.get("/storage/c")), json!(["r000", "theirs"]));
}

#[test]
fn the_sync15_uploader_batches_against_the_real_server() {
    let s = TestServer::start_with(|c| {
        c.limits.max_post_records = 7;
        c.limits.max_total_records = 20;
    });
    let a = s.account("uploader@example.com");
    let config = a.client.info_configuration().unwrap();
    let mut commits = Vec::new();
    let mut uploader = sync15::Uploader::new(
        &a.client,
        "history",
        &config,
        sync15::ServerTimestamp::ZERO,
        |ts, ids| {
            commits.push((ts, ids.len()));
            Ok(())
        },
    );
    for i in 0..50 {
        let bso = sync15::OutgoingBso {
            envelope: sync15::OutgoingEnvelope::new(sync15::Guid::new(&format!("rec{i:09}")))
                .with_sortindex(i),
            payload: format!("payload {i}"),
        };
        uploader.enqueue(&bso).unwrap();
    }
    let outcome = uploader.finish().unwrap();
    assert_eq!(outcome.committed.len(), 50);
    assert!(outcome.failed.is_empty());
    assert_eq!(commits.iter().map(|(_, n)| *n).collect::<Vec<_>>(), [20, 20, 10]);
    assert_eq!(outcome.batches, 3);

    // And the pager reads it all back, 8 at a time, under a pinned time.
    let request = sync15::CollectionRequest::new("history").sort_by(sync15::RequestOrder::Index);
    let pages: Vec<_> = sync15::DownloadPager::new(&a.client, request, 8)
        .collect::<Result<_, _>>()
        .unwrap();
    let records: Vec<_> = pages.iter().flat_map(|p| p.records.iter()).collect();
    assert_eq!(records.len(), 50);
    assert_eq!(records[0].envelope.sortindex, Some(49));
    assert_eq!(pages.len(), 7);
}

#[test]
fn an_expired_batch_cannot_be_committed() {
    let s = TestServer::start_with(|c| c.batch_ttl_secs = 0);
    let a = s.account("expired@example.com");
    let batch = json(a.post_json("/storage/c?batch=true", bsos(0..2), &[]))["batch"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = a.post_json(&format!("/storage/c?batch={batch}&commit=true"), bsos(2..3), &[]);
    assert_eq!(r.status(), 400);
    assert_eq!(json(a.get("/storage/c")), json!([]));
    // Purging removes it for good.
    assert!(s.server.db().purge_expired().unwrap() >= 1);
}
