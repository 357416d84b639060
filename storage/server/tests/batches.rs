//! Conformance: the batch upload API.
#![allow(clippy::unwrap_used)]

mod support;

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
    let r = a.post_json(&format!("/storage/c?batch={batch}"), bsos(5..9), &[]);
    assert_eq!((r.status().as_u16(), r.text().unwrap()), (400, "17".into()));
    // The batch is still usable within its limit.
    let r = a.post_json(&format!("/storage/c?batch={batch}&commit=true"), bsos(5..8), &[]);
    assert_eq!(r.status(), 200);
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
