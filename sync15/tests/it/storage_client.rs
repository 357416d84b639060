//! Every storage endpoint over real HTTP on 127.0.0.1: what the client
//! sends (path, query, headers, Hawk, body) and how it reads each answer.
#![allow(clippy::unwrap_used)]

use crate::support;

use serde_json::json;
use support::{ENDPOINT_PATH, Reply, TestServer};
use sync15::{
    BatchParam, CollectionRequest, Error, Guid, HawkCredentials, HttpClient, OutgoingBso, OutgoingEnvelope,
    Precondition, RequestOrder, ServerTimestamp, StorageClient,
};

fn ts(ms: i64) -> ServerTimestamp {
    ServerTimestamp::from_millis(ms)
}

fn guid(s: &str) -> Guid {
    Guid::new(s)
}

fn bso(id: &str, payload: &str) -> OutgoingBso {
    OutgoingBso {
        envelope: OutgoingEnvelope::new(guid(id)),
        payload: payload.to_owned(),
    }
}

fn path(rest: &str) -> String {
    format!("{ENDPOINT_PATH}{rest}")
}

// ---- info/* ----

#[test]
fn info_collections_is_signed_and_parsed() {
    let server =
        TestServer::scripted([
            Reply::json(200, json!({"bookmarks": 1700000000.12, "meta": 1700000000}))
                .header("X-Last-Modified", "1700000000.12")
                .header("X-Weave-Timestamp", "1700000001.00"),
        ]);
    let client = server.storage_client();
    let info = client.info_collections(Precondition::None).unwrap();
    assert_eq!(info.value.get("bookmarks"), Some(ts(1_700_000_000_120)));
    assert_eq!(info.value.get("meta"), Some(ts(1_700_000_000_000)));
    assert_eq!(info.last_modified, ts(1_700_000_000_120));

    let request = server.last_request();
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, path("/info/collections"));
    assert_eq!(request.query, None);
    assert!(
        server.hawk_is_valid(&request),
        "{:?}",
        request.header("authorization")
    );
    assert_eq!(request.header("accept"), Some("application/json"));
}

#[test]
fn info_collections_if_modified_since_gives_not_modified() {
    let server = TestServer::scripted([Reply::status(304)]);
    let client = server.storage_client();
    let result = client.info_collections(Precondition::IfModifiedSince(ts(1_700_000_000_120)));
    assert!(matches!(result, Err(Error::NotModified)), "{result:?}");
    assert_eq!(
        server.last_request().header("x-if-modified-since"),
        Some("1700000000.12")
    );
}

#[test]
fn info_configuration_fills_absent_limits_and_survives_404() {
    let server = TestServer::scripted([
        Reply::json(200, json!({"max_post_records": 50, "max_total_records": 500})),
        Reply::status(404),
        Reply::json(200, json!({"max_post_records": "many"})),
    ]);
    let client = server.storage_client();
    let config = client.info_configuration().unwrap();
    assert_eq!(config.max_post_records, 50);
    assert_eq!(config.max_total_records, 500);
    assert_eq!(config.max_request_bytes, 260 * 1024);
    assert_eq!(config.max_record_payload_bytes, 256 * 1024);
    assert_eq!(config.max_post_bytes, usize::MAX);
    assert_eq!(server.last_request().path, path("/info/configuration"));

    // An old server without the endpoint: defaults.
    assert_eq!(client.info_configuration().unwrap(), Default::default());
    // A broken one: a typed error, not a guess.
    assert!(matches!(
        client.info_configuration(),
        Err(Error::MalformedResponse { .. })
    ));
}

#[test]
fn info_quota_usage_and_counts() {
    let server = TestServer::scripted([
        Reply::json(200, json!([1234.5, 2_500_000])),
        Reply::json(200, json!([10, null])),
        Reply::json(200, json!({"history": 12.5, "bookmarks": 0.25})),
        Reply::json(200, json!({"history": 1200, "bookmarks": 3})),
    ]);
    let client = server.storage_client();
    let quota = client.info_quota().unwrap();
    assert_eq!(quota.usage_kb, 1234.5);
    assert_eq!(quota.quota_kb, Some(2_500_000.0));
    assert_eq!(client.info_quota().unwrap().quota_kb, None);
    assert_eq!(client.info_collection_usage().unwrap()["bookmarks"], 0.25);
    assert_eq!(client.info_collection_counts().unwrap()["history"], 1200);
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            path("/info/quota"),
            path("/info/quota"),
            path("/info/collection_usage"),
            path("/info/collection_counts"),
        ]
    );
}

// ---- collection GETs ----

#[test]
fn get_collection_sends_every_parameter_and_reads_the_page() {
    let server = TestServer::scripted([Reply::json(
        200,
        json!([
            {"id": "aaaaaaaaaaaa", "modified": 1700000000.5, "payload": "{}", "sortindex": 7},
            {"id": "bbbbbbbbbbbb", "modified": 1700000000.75, "payload": "{\"x\":1}", "ttl": 3600},
        ]),
    )
    .header("X-Last-Modified", "1700000001.00")
    .header("X-Weave-Next-Offset", "opaque-offset")
    .header("X-Weave-Records", "57")]);
    let client = server.storage_client();
    let request = CollectionRequest::new("history")
        .ids([guid("aaaaaaaaaaaa"), guid("bbbbbbbbbbbb")])
        .newer_than(ts(1_600_000_000_000))
        .older_than(ts(1_800_000_000_010))
        .sort_by(RequestOrder::Newest)
        .limit(2)
        .offset("prev-offset");
    let page = client.get_collection(&request, Precondition::None).unwrap();

    assert_eq!(page.records.len(), 2);
    assert_eq!(page.records[0].envelope.id, guid("aaaaaaaaaaaa"));
    assert_eq!(page.records[0].envelope.sortindex, Some(7));
    assert_eq!(page.records[1].envelope.modified, ts(1_700_000_000_750));
    assert_eq!(page.records[1].envelope.ttl, Some(3600));
    assert_eq!(page.records[1].payload, "{\"x\":1}");
    assert_eq!(page.last_modified, ts(1_700_000_001_000));
    assert_eq!(page.next_offset.as_deref(), Some("opaque-offset"));
    assert_eq!(page.total_records, Some(57));

    let sent = server.last_request();
    assert_eq!(sent.path, path("/storage/history"));
    assert_eq!(sent.param("full").as_deref(), Some("1"));
    assert_eq!(sent.param("ids").as_deref(), Some("aaaaaaaaaaaa,bbbbbbbbbbbb"));
    assert_eq!(sent.param("newer").as_deref(), Some("1600000000.00"));
    assert_eq!(sent.param("older").as_deref(), Some("1800000000.01"));
    assert_eq!(sent.param("sort").as_deref(), Some("newest"));
    assert_eq!(sent.param("limit").as_deref(), Some("2"));
    assert_eq!(sent.param("offset").as_deref(), Some("prev-offset"));
    assert!(server.hawk_is_valid(&sent), "Hawk must cover the query string");
}

#[test]
fn get_collection_reads_the_newlines_format() {
    let body = "{\"id\":\"aaaaaaaaaaaa\",\"modified\":1.5,\"payload\":\"p1\"}\n\n\
                {\"id\":\"bbbbbbbbbbbb\",\"modified\":2.25,\"payload\":\"p2\"}\n";
    let server = TestServer::scripted([
        Reply::status(200)
            .header("Content-Type", "application/newlines")
            .body(body.as_bytes().to_vec()),
        Reply::status(200)
            .header("Content-Type", "application/newlines; charset=utf-8")
            .body(b"\"aaaaaaaaaaaa\"\n\"bbbbbbbbbbbb\"".to_vec()),
    ]);
    let client = server.storage_client();
    let page = client
        .get_collection(&CollectionRequest::new("tabs"), Precondition::None)
        .unwrap();
    assert_eq!(page.records.len(), 2);
    assert_eq!(page.records[1].payload, "p2");
    assert_eq!(page.records[1].envelope.modified, ts(2_250));
    let ids = client
        .get_collection_ids(&CollectionRequest::new("tabs"), Precondition::None)
        .unwrap();
    assert_eq!(ids.ids, [guid("aaaaaaaaaaaa"), guid("bbbbbbbbbbbb")]);
}

#[test]
fn get_collection_ids_omits_full() {
    let server = TestServer::scripted([Reply::json(200, json!(["aaaaaaaaaaaa", "bbbbbbbbbbbb"]))
        .header("X-Last-Modified", "10.00")
        .header("X-Weave-Next-Offset", "2")]);
    let client = server.storage_client();
    let page = client
        .get_collection_ids(
            &CollectionRequest::new("bookmarks").sort_by(RequestOrder::Index),
            Precondition::IfModifiedSince(ts(5_000)),
        )
        .unwrap();
    assert_eq!(page.ids.len(), 2);
    assert_eq!(page.last_modified, ts(10_000));
    assert_eq!(page.next_offset.as_deref(), Some("2"));
    let sent = server.last_request();
    assert_eq!(sent.param("full"), None);
    assert_eq!(sent.param("sort").as_deref(), Some("index"));
    assert_eq!(sent.header("x-if-modified-since"), Some("5.00"));
}

#[test]
fn malformed_collection_bodies_are_typed_errors() {
    for body in [
        "not json",
        "{\"id\":1}",
        "[{\"id\":\"a\"}]",
        "[{\"id\":\"a\",\"modified\":\"yesterday\",\"payload\":\"\"}]",
        "[{\"id\":\"a\",\"modified\":1,\"payload\":\"\",\"sortindex\":\"high\"}]",
    ] {
        let server = TestServer::scripted([Reply::text(200, body)]);
        let result = server
            .storage_client()
            .get_collection(&CollectionRequest::new("c"), Precondition::None);
        assert!(
            matches!(result, Err(Error::MalformedResponse { .. })),
            "{body}: {result:?}"
        );
    }
}

#[test]
fn an_unparseable_timestamp_header_is_an_error_not_a_zero() {
    let server = TestServer::scripted([Reply::json(200, json!([])).header("X-Last-Modified", "yesterday")]);
    let result = server
        .storage_client()
        .get_collection(&CollectionRequest::new("c"), Precondition::None);
    assert!(
        matches!(
            result,
            Err(Error::InvalidHeader {
                name: "x-last-modified",
                ..
            })
        ),
        "{result:?}"
    );
}

#[test]
fn invalid_collection_names_and_ids_never_reach_the_network() {
    let server = TestServer::scripted([]);
    let client = server.storage_client();
    for name in ["", "..", "a/b", "with space", "ünïcode"] {
        assert!(matches!(
            client.get_collection(&CollectionRequest::new(name), Precondition::None),
            Err(Error::InvalidUrl { .. })
        ));
    }
    assert!(matches!(
        client.get_record("bookmarks", &guid("has,comma"), Precondition::None),
        Err(Error::InvalidUrl { .. })
    ));
    assert!(matches!(
        client.put_record("bookmarks", &bso(&"x".repeat(65), "{}"), Precondition::None),
        Err(Error::InvalidUrl { .. })
    ));
    assert_eq!(server.request_count(), 0);
}

// ---- single records ----

#[test]
fn ids_the_server_allows_are_escaped_into_one_path_segment() {
    let server = TestServer::start(|_| Reply::json(200, json!({"id": "x", "modified": 1, "payload": ""})));
    let client = server.storage_client();
    for (id, encoded) in [
        ("a/b", "a%2Fb"),
        ("{guid with space}", "%7Bguid%20with%20space%7D"),
        ("q?x=1#f", "q%3Fx=1%23f"),
    ] {
        client.get_record("c", &guid(id), Precondition::None).unwrap();
        let request = server.last_request();
        assert_eq!(request.path, path(&format!("/storage/c/{encoded}")));
        assert!(server.hawk_is_valid(&request), "{id}");
    }
}

#[test]
fn get_put_and_delete_one_record() {
    let server = TestServer::scripted([
        Reply::json(
            200,
            json!({"id": "global", "modified": 1700000000.25, "payload": "{\"syncID\":\"x\"}"}),
        )
        .header("X-Last-Modified", "1700000000.25"),
        Reply::json(200, json!(1700000002.5))
            .header("X-Last-Modified", "1700000002.50")
            .header("X-Weave-Quota-Remaining", "1024.5"),
        Reply::text(200, "{\"modified\": 1700000003.0}").header("X-Last-Modified", "1700000003.00"),
    ]);
    let client = server.storage_client();

    let got = client
        .get_record("meta", &guid("global"), Precondition::None)
        .unwrap();
    assert_eq!(got.value.envelope.id, guid("global"));
    assert_eq!(got.value.payload, "{\"syncID\":\"x\"}");
    assert_eq!(got.last_modified, ts(1_700_000_000_250));

    let record = OutgoingBso {
        envelope: OutgoingEnvelope::new(guid("global"))
            .with_sortindex(5)
            .with_ttl(60),
        payload: "{\"syncID\":\"y\"}".into(),
    };
    let written = client
        .put_record(
            "meta",
            &record,
            Precondition::IfUnmodifiedSince(ts(1_700_000_000_250)),
        )
        .unwrap();
    assert_eq!(written.modified, ts(1_700_000_002_500));
    assert_eq!(written.quota_remaining_kb, Some(1024.5));
    let put = &server.requests()[1];
    assert_eq!(put.method, "PUT");
    assert_eq!(put.path, path("/storage/meta/global"));
    assert_eq!(put.header("content-type"), Some("application/json"));
    assert_eq!(put.header("x-if-unmodified-since"), Some("1700000000.25"));
    assert_eq!(
        put.json(),
        json!({"id": "global", "sortindex": 5, "ttl": 60, "payload": "{\"syncID\":\"y\"}"})
    );
    assert!(server.hawk_is_valid(put));

    let deleted = client
        .delete_record("meta", &guid("global"), Precondition::None)
        .unwrap();
    assert_eq!(deleted.modified, ts(1_700_000_003_000));
    assert_eq!(server.last_request().method, "DELETE");
    assert_eq!(server.last_request().path, path("/storage/meta/global"));
}

#[test]
fn write_times_fall_back_from_header_to_body_to_server_time() {
    let server = TestServer::scripted([
        Reply::json(200, json!({"modified": 12.34})),
        Reply::json(200, json!(56.78)),
        Reply::text(200, "").header("X-Weave-Timestamp", "90.12"),
        Reply::text(200, ""),
    ]);
    let client = server.storage_client();
    let put = |id| {
        client
            .put_record("c", &bso(id, "p"), Precondition::None)
            .unwrap()
            .modified
    };
    assert_eq!(put("a"), ts(12_340));
    assert_eq!(put("b"), ts(56_780));
    assert_eq!(put("c"), ts(90_120));
    assert_eq!(put("d"), ServerTimestamp::ZERO);
}

#[test]
fn a_missing_record_is_not_found() {
    let server = TestServer::scripted([Reply::text(404, "0"), Reply::text(404, "0")]);
    let client = server.storage_client();
    assert!(matches!(
        client.get_record("crypto", &guid("keys"), Precondition::None),
        Err(Error::NotFound)
    ));
    assert!(matches!(
        client.delete_record("crypto", &guid("keys"), Precondition::None),
        Err(Error::NotFound)
    ));
}

// ---- POST ----

#[test]
fn post_records_with_each_batch_parameter() {
    let server = TestServer::start(|req| {
        let ids: Vec<String> = req
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        if req.param("commit").is_some() || req.param("batch").is_none() {
            Reply::json(
                200,
                json!({"modified": 1700000005.0, "success": ids, "failed": {}}),
            )
            .header("X-Last-Modified", "1700000005.00")
        } else {
            Reply::json(202, json!({"batch": "b-1", "success": ids, "failed": {}}))
                .header("X-Last-Modified", "1700000000.00")
        }
    });
    let client = server.storage_client();
    let records = [bso("aaaaaaaaaaaa", "p1"), bso("bbbbbbbbbbbb", "p2")];
    let unmodified = Precondition::IfUnmodifiedSince(ts(1_700_000_000_000));

    let started = client
        .post_records(
            "history",
            &records,
            &BatchParam::Start { commit: false },
            unmodified,
        )
        .unwrap();
    assert_eq!(started.status, 202);
    assert_eq!(started.batch.as_deref(), Some("b-1"));
    assert_eq!(started.modified, None);
    assert_eq!(started.success.len(), 2);

    let appended = client
        .post_records(
            "history",
            &records[..1],
            &BatchParam::Append {
                id: "b-1".into(),
                commit: false,
            },
            unmodified,
        )
        .unwrap();
    assert_eq!(appended.status, 202);

    let committed = client
        .post_records(
            "history",
            &[],
            &BatchParam::Append {
                id: "b-1".into(),
                commit: true,
            },
            unmodified,
        )
        .unwrap();
    assert_eq!(committed.status, 200);
    assert_eq!(committed.modified, Some(ts(1_700_000_005_000)));
    assert_eq!(committed.last_modified, ts(1_700_000_005_000));

    let plain = client
        .post_records("history", &records, &BatchParam::None, Precondition::None)
        .unwrap();
    assert_eq!(plain.success, [guid("aaaaaaaaaaaa"), guid("bbbbbbbbbbbb")]);

    let one_shot = client
        .post_records(
            "history",
            &records,
            &BatchParam::Start { commit: true },
            unmodified,
        )
        .unwrap();
    assert_eq!(one_shot.status, 200);

    let sent = server.requests();
    let queries: Vec<Option<String>> = sent.iter().map(|r| r.query.clone()).collect();
    assert_eq!(
        queries,
        [
            Some("batch=true".into()),
            Some("batch=b-1".into()),
            Some("batch=b-1&commit=true".into()),
            None,
            Some("batch=true&commit=true".into()),
        ]
    );
    for request in &sent {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, path("/storage/history"));
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert!(server.hawk_is_valid(request));
    }
    assert_eq!(sent[0].header("x-if-unmodified-since"), Some("1700000000.00"));
    assert_eq!(sent[3].header("x-if-unmodified-since"), None);
    assert_eq!(
        sent[0].json(),
        json!([{"id": "aaaaaaaaaaaa", "payload": "p1"}, {"id": "bbbbbbbbbbbb", "payload": "p2"}])
    );
    assert_eq!(sent[2].json(), json!([]));
}

#[test]
fn post_failures_in_both_formats() {
    let server = TestServer::scripted([
        Reply::json(
            200,
            json!({"modified": 1.0, "success": ["aaaaaaaaaaaa"], "failed": {"bbbbbbbbbbbb": "invalid sortindex"}}),
        ),
        Reply::json(
            200,
            json!({"modified": 1.0, "success": [], "failed": {"bbbbbbbbbbbb": ["too big", "bad ttl"]}}),
        ),
        Reply::json(200, json!({"modified": 1.0})),
    ]);
    let client = server.storage_client();
    let records = [bso("aaaaaaaaaaaa", "p"), bso("bbbbbbbbbbbb", "p")];
    let first = client
        .post_records("c", &records, &BatchParam::None, Precondition::None)
        .unwrap();
    assert_eq!(first.failed[&guid("bbbbbbbbbbbb")], "invalid sortindex");
    let second = client
        .post_records("c", &records, &BatchParam::None, Precondition::None)
        .unwrap();
    assert_eq!(second.failed[&guid("bbbbbbbbbbbb")], "too big; bad ttl");
    let third = client
        .post_records("c", &records, &BatchParam::None, Precondition::None)
        .unwrap();
    assert!(third.success.is_empty() && third.failed.is_empty());
}

// ---- DELETE ----

#[test]
fn delete_records_splits_ids_and_advances_the_precondition() {
    let counter = std::sync::atomic::AtomicU32::new(0);
    let server = TestServer::start(move |_| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let at = format!("{}.00", 1_700_000_000 + n);
        Reply::json(200, json!({"modified": 0})).header("X-Last-Modified", &at)
    });
    let client = server.storage_client();
    let ids: Vec<Guid> = (0..250).map(|i| guid(&format!("id{i:010}"))).collect();
    let result = client
        .delete_records(
            "history",
            &ids,
            Precondition::IfUnmodifiedSince(ts(1_700_000_000_000)),
        )
        .unwrap();
    assert_eq!(result.modified, ts(1_700_000_003_000));

    let sent = server.requests();
    assert_eq!(sent.len(), 3);
    let sizes: Vec<usize> = sent
        .iter()
        .map(|r| r.param("ids").unwrap().split(',').count())
        .collect();
    assert_eq!(sizes, [100, 100, 50]);
    let preconditions: Vec<&str> = sent
        .iter()
        .map(|r| r.header("x-if-unmodified-since").unwrap())
        .collect();
    assert_eq!(preconditions, ["1700000000.00", "1700000001.00", "1700000002.00"]);
    assert!(
        sent.iter()
            .all(|r| r.method == "DELETE" && server.hawk_is_valid(r))
    );

    // Nothing to delete: no request at all.
    client.delete_records("history", &[], Precondition::None).unwrap();
    assert_eq!(server.request_count(), 3);
}

#[test]
fn delete_collection_and_everything() {
    let server = TestServer::start(|_| Reply::text(200, "").header("X-Last-Modified", "1700000009.99"));
    let client = server.storage_client();
    assert_eq!(
        client
            .delete_collection("bookmarks", Precondition::IfUnmodifiedSince(ts(10)))
            .unwrap()
            .modified,
        ts(1_700_000_009_990)
    );
    assert_eq!(client.delete_everything().unwrap(), ts(1_700_000_009_990));
    assert_eq!(client.delete_storage().unwrap(), ts(1_700_000_009_990));
    let sent = server.requests();
    let targets: Vec<(String, String)> = sent.iter().map(|r| (r.method.clone(), r.path.clone())).collect();
    assert_eq!(
        targets,
        [
            ("DELETE".into(), path("/storage/bookmarks")),
            ("DELETE".into(), ENDPOINT_PATH.to_owned()),
            ("DELETE".into(), path("/storage")),
        ]
    );
    assert_eq!(sent[0].header("x-if-unmodified-since"), Some("0.01"));
    assert!(sent.iter().all(|r| server.hawk_is_valid(r)));
}

// ---- status mapping ----

#[test]
fn every_status_a_caller_must_tell_apart() {
    type Check = fn(&Error) -> bool;
    let cases: Vec<(Reply, Check)> = vec![
        (Reply::status(401), |e| matches!(e, Error::StorageUnauthorized)),
        (Reply::text(404, "0"), |e| matches!(e, Error::NotFound)),
        (
            Reply::status(409).header("Retry-After", "3"),
            |e| matches!(e, Error::Conflict { retry_after: Some(d) } if d.as_secs() == 3),
        ),
        (Reply::status(412), |e| matches!(e, Error::PreconditionFailed)),
        (Reply::status(413), |e| matches!(e, Error::RequestTooLarge)),
        (Reply::text(400, "14"), |e| matches!(e, Error::OverQuota)),
        (Reply::text(403, "\"14\""), |e| matches!(e, Error::OverQuota)),
        (Reply::text(400, "17"), |e| {
            matches!(e, Error::ServerLimitExceeded)
        }),
        (Reply::text(400, "6"), |e| {
            matches!(e, Error::BadRequest { code: Some(6), .. })
        }),
        (Reply::text(400, "8"), |e| {
            matches!(e, Error::BadRequest { code: Some(8), .. })
        }),
        (Reply::text(400, "<html>"), |e| {
            matches!(e, Error::BadRequest { code: None, .. })
        }),
        (Reply::status(415), |e| matches!(e, Error::UnsupportedMediaType)),
        (Reply::status(500), |e| {
            matches!(e, Error::ServerUnavailable { status: 500, .. })
        }),
        (Reply::status(502), |e| {
            matches!(e, Error::ServerUnavailable { status: 502, .. })
        }),
        (Reply::status(418), |e| {
            matches!(e, Error::UnexpectedStatus { status: 418, .. })
        }),
    ];
    let (replies, checks): (Vec<_>, Vec<_>) = cases.into_iter().unzip();
    let server = TestServer::scripted(replies);
    let client = server.storage_client();
    for (i, check) in checks.into_iter().enumerate() {
        let result = client.post_records(
            "history",
            &[bso("aaaaaaaaaaaa", "p")],
            &BatchParam::None,
            Precondition::None,
        );
        match result {
            Err(e) => assert!(check(&e), "case {i}: {e:?}"),
            Ok(ok) => panic!("case {i}: unexpected success {ok:?}"),
        }
    }
}

#[test]
fn a_503_with_retry_after_is_surfaced_as_next_sync_allowed_at() {
    let server = TestServer::scripted([Reply::status(503)
        .header("Retry-After", "600")
        .header("X-Weave-Backoff", "60")]);
    let client = server.storage_client();
    match client.info_collections(Precondition::None) {
        Err(Error::ServerUnavailable {
            status: 503,
            retry_after,
            next_sync_allowed_at,
            ..
        }) => {
            assert_eq!(retry_after.unwrap().as_secs(), 600, "the longer of the two wins");
            let wait = next_sync_allowed_at
                .unwrap()
                .duration_since(std::time::SystemTime::now())
                .unwrap();
            assert!(wait.as_secs() > 590 && wait.as_secs() <= 600, "{wait:?}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(client.http().next_sync_allowed_at().is_some());
}

#[test]
fn backoff_on_a_successful_answer_is_kept_without_failing_it() {
    let server = TestServer::scripted([
        Reply::json(200, json!({"tabs": 1.0})).header("X-Weave-Backoff", "300"),
        Reply::json(200, json!({})).header("X-Backoff", "30"),
    ]);
    let client = server.storage_client();
    assert!(client.info_collections(Precondition::None).is_ok());
    let until = client.http().next_sync_allowed_at().unwrap();
    let wait = until.duration_since(std::time::SystemTime::now()).unwrap();
    assert!(wait.as_secs() > 290, "{wait:?}");
    // A shorter later request never shortens the backoff already asked for.
    assert!(client.info_collections(Precondition::None).is_ok());
    assert_eq!(client.http().next_sync_allowed_at(), Some(until));
    assert_eq!(client.http().request_count(), 2);
}

#[test]
fn the_storage_servers_clock_is_used_for_signing() {
    let ahead_ms = ServerTimestamp::now().as_millis() + 2 * 3600 * 1000;
    let server_time = ServerTimestamp::from_millis(ahead_ms).to_string();
    let server =
        TestServer::start(move |_| Reply::json(200, json!({})).header("X-Weave-Timestamp", &server_time));
    let client = server.storage_client();
    client.info_collections(Precondition::None).unwrap();
    assert!(client.http().clock_skew().as_secs() > 7000);
    client.info_collections(Precondition::None).unwrap();
    // The second request's Hawk timestamp follows the server's clock, two hours ahead of ours.
    let header = server.last_request().header("authorization").unwrap().to_owned();
    let hawk: hawk::Header = header.strip_prefix("Hawk ").unwrap().parse().unwrap();
    let signed_at = hawk
        .ts
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!((signed_at - ahead_ms).abs() < 60_000, "{signed_at} vs {ahead_ms}");
}

#[test]
fn wrong_credentials_fail_the_servers_hawk_check() {
    let server = TestServer::scripted([Reply::json(200, json!({}))]);
    let client = StorageClient::with_credentials(
        HttpClient::new().unwrap(),
        &server.endpoint(),
        HawkCredentials::new(support::HAWK_ID, "some-other-key").unwrap(),
    )
    .unwrap();
    client.info_collections(Precondition::None).unwrap();
    assert!(!server.hawk_is_valid(&server.last_request()));
}

#[test]
fn endpoints_with_and_without_a_trailing_slash_are_the_same() {
    let server = TestServer::start(|_| Reply::json(200, json!({})));
    for endpoint in [server.endpoint(), format!("{}/", server.endpoint())] {
        let client = StorageClient::with_credentials(
            HttpClient::new().unwrap(),
            &endpoint,
            HawkCredentials::new(support::HAWK_ID, support::HAWK_KEY).unwrap(),
        )
        .unwrap();
        client.info_collections(Precondition::None).unwrap();
        assert_eq!(server.last_request().path, path("/info/collections"));
    }
    assert!(
        StorageClient::with_credentials(
            HttpClient::new().unwrap(),
            "mailto:someone",
            HawkCredentials::new("a", "b").unwrap()
        )
        .is_err()
    );
}

#[test]
fn garbage_answers_never_panic() {
    // Every status class with bodies no server should send.
    let bodies: [&[u8]; 6] = [
        b"",
        b"\xff\xfe\x00",
        b"null",
        b"[[[[",
        b"{\"success\":7}",
        b"\"14",
    ];
    let statuses = [200, 201, 202, 204, 300, 400, 401, 404, 412, 500, 503, 599];
    let mut replies = Vec::new();
    for status in statuses {
        for body in bodies {
            replies.push(
                Reply::status(status)
                    .body(body.to_vec())
                    .header("X-Last-Modified", "nonsense")
                    .header("Retry-After", "tomorrow-ish")
                    .header("X-Weave-Backoff", "-5"),
            );
        }
    }
    let count = replies.len();
    let server = TestServer::scripted(replies);
    let client = server.storage_client();
    for i in 0..count {
        let result = match i % 3 {
            0 => client
                .post_records(
                    "c",
                    &[bso("aaaaaaaaaaaa", "p")],
                    &BatchParam::None,
                    Precondition::None,
                )
                .map(|_| ()),
            1 => client
                .get_collection(&CollectionRequest::new("c"), Precondition::None)
                .map(|_| ()),
            _ => client.info_collections(Precondition::None).map(|_| ()),
        };
        // Each answer is broken somewhere (status, body or timestamp header):
        // the client must say so with an error value, never panic or accept it.
        assert!(result.is_err(), "answer {i} was accepted: {result:?}");
    }
    assert_eq!(server.request_count(), count);
}
