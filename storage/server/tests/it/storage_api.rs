//! Conformance: the SyncStorage 1.5 endpoints over real HTTP.
#![allow(clippy::unwrap_used)]

use crate::support;

use serde_json::json;
use support::{TestServer, header, json, ts_header};

#[test]
fn a_new_account_is_empty() {
    let s = TestServer::start();
    let a = s.account("new@example.com");
    let r = a.get("/info/collections");
    assert_eq!(r.status(), 200);
    assert!(header(r.headers(), "x-weave-timestamp").is_some());
    assert_eq!(ts_header(r.headers(), "x-last-modified"), 0);
    assert_eq!(json(r), json!({}));
    assert_eq!(json(a.get("/info/quota")), json!([0.0, 2621440.0]));
    assert_eq!(json(a.get("/info/collection_usage")), json!({}));
    assert_eq!(json(a.get("/info/collection_counts")), json!({}));
    let r = a.get("/storage/bookmarks");
    assert_eq!(r.status(), 200);
    assert_eq!(json(r), json!([]));
}

#[test]
fn info_configuration_serves_the_configured_limits() {
    let s = TestServer::start_with(|c| {
        c.limits.max_post_records = 42;
        c.limits.quota_bytes = 0;
    });
    let a = s.account("conf@example.com");
    let conf = json(a.get("/info/configuration"));
    assert_eq!(conf["max_post_records"], 42);
    assert_eq!(conf["max_total_records"], 10_000);
    assert_eq!(conf["max_record_payload_bytes"], 2_097_152);
    // And sync15 reads it into its own type.
    assert_eq!(a.client.info_configuration().unwrap().max_post_records, 42);
    assert_eq!(json(a.get("/info/quota")), json!([0.0, null]));
}

#[test]
fn put_get_and_delete_one_bso() {
    let s = TestServer::start();
    let a = s.account("item@example.com");
    let r = a.put_json(
        "/storage/meta/global",
        json!({"payload": "{\"syncID\":\"abc\"}", "sortindex": 3}),
        &[],
    );
    assert_eq!(r.status(), 200);
    let written = ts_header(r.headers(), "x-last-modified");
    assert_eq!(ts_header(r.headers(), "x-weave-timestamp"), written);
    assert_eq!(json(r).as_f64().unwrap(), written as f64 / 1000.0);

    let r = a.get("/storage/meta/global");
    assert_eq!(r.status(), 200);
    assert_eq!(ts_header(r.headers(), "x-last-modified"), written);
    let bso = json(r);
    assert_eq!(bso["id"], "global");
    assert_eq!(bso["payload"], "{\"syncID\":\"abc\"}");
    assert_eq!(bso["sortindex"], 3);
    assert_eq!(
        (bso["modified"].as_f64().unwrap() * 1000.0).round() as i64,
        written
    );

    let info = json(a.get("/info/collections"));
    assert_eq!((info["meta"].as_f64().unwrap() * 1000.0).round() as i64, written);

    let r = a.send("DELETE", "/storage/meta/global", &[], None);
    assert_eq!(r.status(), 200);
    assert!(ts_header(r.headers(), "x-last-modified") > written);
    assert_eq!(a.get("/storage/meta/global").status(), 404);
    assert_eq!(a.send("DELETE", "/storage/meta/global", &[], None).status(), 404);
}

#[test]
fn put_updates_only_the_fields_given() {
    let s = TestServer::start();
    let a = s.account("partial@example.com");
    a.put_json("/storage/c/x", json!({"payload": "first", "sortindex": 5}), &[]);
    a.put_json("/storage/c/x", json!({"sortindex": 9}), &[]);
    let bso = json(a.get("/storage/c/x"));
    assert_eq!(bso["payload"], "first");
    assert_eq!(bso["sortindex"], 9);
    a.put_json(
        "/storage/c/x",
        json!({"payload": "second", "sortindex": null}),
        &[],
    );
    let bso = json(a.get("/storage/c/x"));
    assert_eq!(bso["payload"], "second");
    assert!(
        bso.get("sortindex").is_none(),
        "an explicit null resets to the default"
    );
    // A new BSO gets defaults for what is missing.
    a.put_json("/storage/c/y", json!({"sortindex": 1}), &[]);
    assert_eq!(json(a.get("/storage/c/y"))["payload"], "");
}

#[test]
fn a_write_without_ttl_keeps_the_expiry_and_a_ttl_alone_keeps_the_rest() {
    let s = TestServer::start();
    let a = s.account("ttl-partial@example.com");
    a.post_json(
        "/storage/c",
        json!([{"id": "t", "payload": "p", "sortindex": 3, "ttl": 3600}]),
        &[],
    );
    let before = json(a.get("/storage/c/t"));
    a.post_json("/storage/c", json!([{"id": "t", "ttl": 7200}]), &[]);
    let after = json(a.get("/storage/c/t"));
    assert_eq!(
        after, before,
        "a TTL alone changes neither the payload, sortindex nor modified"
    );

    a.post_json(
        "/storage/c",
        json!([{"id": "brief", "payload": "a", "ttl": 1}]),
        &[],
    );
    a.post_json("/storage/c", json!([{"id": "brief", "payload": "b"}]), &[]);
    assert_eq!(json(a.get("/storage/c/brief"))["payload"], "b");
    std::thread::sleep(std::time::Duration::from_millis(1_200));
    assert_eq!(
        a.get("/storage/c/brief").status(),
        404,
        "the first write's TTL still holds"
    );
}

#[test]
fn put_validation() {
    let s = TestServer::start_with(|c| c.limits.max_record_payload_bytes = 100);
    let a = s.account("valid@example.com");
    let cases = [
        (json!({"payload": 5}), 400, Some("8")),
        (json!({"sortindex": "high"}), 400, Some("8")),
        (json!({"sortindex": 1_000_000_000}), 400, Some("8")),
        (json!({"ttl": -5}), 400, Some("8")),
        (json!({"id": "other"}), 400, Some("8")),
        (json!("not an object"), 400, Some("8")),
        (json!({"payload": "x".repeat(101)}), 413, None),
    ];
    for (body, status, code) in cases {
        let r = a.put_json("/storage/c/x", body.clone(), &[]);
        assert_eq!(r.status(), status, "{body}");
        if let Some(code) = code {
            assert_eq!(r.text().unwrap(), code, "{body}");
        }
    }
    let r = a.send(
        "PUT",
        "/storage/c/x",
        &[],
        Some(("application/json", b"{nope".to_vec())),
    );
    assert_eq!((r.status().as_u16(), r.text().unwrap()), (400, "6".into()));
    let r = a.send("PUT", "/storage/c/x", &[], Some(("image/png", b"{}".to_vec())));
    assert_eq!(r.status(), 415);
    assert_eq!(a.put_json("/storage/bad%20name/x", json!({}), &[]).status(), 400);
    assert_eq!(a.get("/storage/c/x").status(), 404, "nothing was written");
}

#[test]
fn post_reports_success_and_failure_per_bso() {
    let s = TestServer::start_with(|c| c.limits.max_record_payload_bytes = 50);
    let a = s.account("post@example.com");
    let r = a.post_json(
        "/storage/history",
        json!([
            {"id": "aaaaaaaaaaaa", "payload": "one", "sortindex": 1},
            {"id": "bbbbbbbbbbbb", "payload": "two", "ttl": 3600},
            {"id": "cccccccccccc", "payload": "x".repeat(51)},
            {"id": "dddddddddddd", "sortindex": "nope"},
            {"id": "x".repeat(65)},
            {"id": "eeeeeeeeeeee", "payload": 1},
            {"id": "ffffffffffff", "payload": "p", "parentid": "unknown field"},
        ]),
        &[],
    );
    assert_eq!(r.status(), 200);
    let modified = ts_header(r.headers(), "x-last-modified");
    let body = json(r);
    assert_eq!(body["success"], json!(["aaaaaaaaaaaa", "bbbbbbbbbbbb"]));
    // One reason string per id, as the 1.5 API shows.
    // Too large to store: Mozilla's reason, so a client retries it alone.
    assert_eq!(body["failed"]["cccccccccccc"], json!("retry bytes"));
    assert_eq!(body["failed"]["dddddddddddd"], json!("invalid sortindex"));
    assert_eq!(body["failed"]["x".repeat(65)], json!("invalid id"));
    assert_eq!(body["failed"]["eeeeeeeeeeee"], json!("invalid payload"));
    assert_eq!(body["failed"]["ffffffffffff"], json!("unknown field"));
    assert_eq!(
        (body["modified"].as_f64().unwrap() * 1000.0).round() as i64,
        modified
    );

    let all = json(a.get("/storage/history?full=1"));
    assert_eq!(all.as_array().unwrap().len(), 2);
    for bso in all.as_array().unwrap() {
        assert_eq!(
            (bso["modified"].as_f64().unwrap() * 1000.0).round() as i64,
            modified,
            "one timestamp per write"
        );
    }
    let counts = json(a.get("/info/collection_counts"));
    assert_eq!(counts["history"], 2);
    let usage = json(a.get("/info/collection_usage"));
    // Exactly, as Mozilla's server reports it (`size / 1024.0`).
    assert_eq!(usage["history"], json!(6.0 / 1024.0), "6 bytes, in KB");
    assert_eq!(json(a.get("/info/quota"))[0], json!(6.0 / 1024.0));
}

#[test]
fn post_accepts_newlines_and_refuses_other_media() {
    let s = TestServer::start();
    let a = s.account("nl@example.com");
    let body = b"{\"id\":\"a\",\"payload\":\"1\"}\n{\"id\":\"b\",\"payload\":\"2\"}\n".to_vec();
    let r = a.send("POST", "/storage/c", &[], Some(("application/newlines", body)));
    assert_eq!(json(r)["success"], json!(["a", "b"]));
    let r = a.send(
        "POST",
        "/storage/c",
        &[],
        Some(("application/xml", b"<bsos/>".to_vec())),
    );
    assert_eq!(r.status(), 415);
    // Not JSON: 6. JSON, but not a list of BSOs with distinct ids: 8.
    for (body, code) in [
        (&b"[{\"id\":"[..], "6"),
        (b"{\"id\":\"a\"}", "8"),
        (b"[\"a\"]", "8"),
        (b"[{\"payload\":\"no id\"}]", "8"),
        (b"[{\"id\":\"a\"},{\"id\":\"a\"}]", "8"),
    ] {
        let r = a.send(
            "POST",
            "/storage/c",
            &[],
            Some(("application/json", body.to_vec())),
        );
        assert_eq!(
            (r.status().as_u16(), r.text().unwrap()),
            (400, code.into()),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    // Strict newlines: a blank line in the middle is not a BSO.
    let r = a.send(
        "POST",
        "/storage/c",
        &[],
        Some((
            "application/newlines",
            b"{\"id\":\"a\"}\n\n{\"id\":\"b\"}\n".to_vec(),
        )),
    );
    assert_eq!((r.status().as_u16(), r.text().unwrap()), (400, "6".into()));
    // A body that is one empty line is not "no BSOs" (Mozilla: 400), not
    // even to commit a batch; an empty body is.
    let batch =
        json(a.post_json("/storage/c?batch=true", json!([{"id": "z", "payload": "z"}]), &[]))["batch"]
            .as_str()
            .unwrap()
            .to_owned();
    let commit = format!("/storage/c?batch={batch}&commit=true");
    let r = a.send(
        "POST",
        &commit,
        &[],
        Some(("application/newlines", b"\n".to_vec())),
    );
    assert_eq!((r.status().as_u16(), r.text().unwrap()), (400, "6".into()));
    let r = a.send("POST", &commit, &[], Some(("application/newlines", Vec::new())));
    assert_eq!(r.status(), 200);
}

#[test]
fn post_limits() {
    let s = TestServer::start_with(|c| {
        c.limits.max_post_records = 3;
        c.limits.max_post_bytes = 10;
        c.limits.max_record_payload_bytes = 10;
        c.limits.max_request_bytes = 2000;
    });
    let a = s.account("limits@example.com");
    // Past max_post_records: the last ones are refused, the rest stored,
    // as Mozilla's server does (its reason: "retry bso").
    let four: Vec<_> = (0..4)
        .map(|i| json!({"id": format!("r{i}"), "payload": "p"}))
        .collect();
    let r = json(a.post_json("/storage/c", json!(four), &[]));
    assert_eq!(r["success"], json!(["r0", "r1", "r2"]), "{r}");
    assert_eq!(r["failed"], json!({"r3": "retry bso"}), "{r}");
    // Past max_post_bytes: from the BSO that passes it on, "retry bytes"
    // (Mozilla's test_batch_size_limits: a payload that fits exactly, then
    // one byte more).
    let fits = json!([{"id": "little", "payload": "123"}, {"id": "big", "payload": "1234567"}]);
    let r = json(a.post_json("/storage/c", fits, &[]));
    assert_eq!(r["success"], json!(["little", "big"]), "{r}");
    let heavy = json!([{"id": "little", "payload": "123"}, {"id": "big", "payload": "12345678"}]);
    let r = json(a.post_json("/storage/c", heavy, &[]));
    assert_eq!(r["success"], json!(["little"]), "{r}");
    assert_eq!(r["failed"], json!({"big": "retry bytes"}), "{r}");
    // Declared totals past the limits are still refused whole (code 17).
    let r = a.post_json("/storage/c", json!([]), &[("X-Weave-Records", "4")]);
    assert_eq!((r.status().as_u16(), r.text().unwrap()), (400, "17".into()));
    let r = a.post_json("/storage/c", json!([]), &[("X-Weave-Bytes", "11")]);
    assert_eq!((r.status().as_u16(), r.text().unwrap()), (400, "17".into()));
    // A body past max_request_bytes is not read.
    let huge = json!([{"id": "a", "payload": "x".repeat(3000)}]);
    assert_eq!(a.post_json("/storage/c", huge, &[]).status(), 413);
    assert_eq!(json(a.get("/info/collection_counts")), json!({"c": 5}));
}

#[test]
fn collection_queries() {
    let s = TestServer::start();
    let a = s.account("query@example.com");
    let mut stamps = Vec::new();
    for (i, sortindex) in [5, 1, 9, 3].into_iter().enumerate() {
        let r = a.post_json(
            "/storage/h",
            json!([{"id": format!("id{i}"), "payload": format!("p{i}"), "sortindex": sortindex}]),
            &[],
        );
        stamps.push(ts_header(r.headers(), "x-last-modified"));
    }
    let ids = |query: &str| -> Vec<String> {
        let r = a.get(&format!("/storage/h{query}"));
        assert_eq!(r.status(), 200, "{query}");
        json(r)
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(""), ["id0", "id1", "id2", "id3"]);
    assert_eq!(ids("?sort=newest"), ["id3", "id2", "id1", "id0"]);
    assert_eq!(ids("?sort=oldest"), ["id0", "id1", "id2", "id3"]);
    assert_eq!(ids("?sort=index"), ["id2", "id0", "id3", "id1"]);
    let at = |ms: i64| sync15::ServerTimestamp::from_millis(ms).to_string();
    assert_eq!(ids(&format!("?newer={}", at(stamps[1]))), ["id2", "id3"]);
    assert_eq!(ids(&format!("?older={}", at(stamps[2]))), ["id0", "id1"]);
    assert_eq!(ids("?ids=id3,id0,missing"), ["id0", "id3"]);

    // Paging with limit/offset and X-Weave-Next-Offset.
    let r = a.get("/storage/h?limit=3&sort=index");
    let next = header(r.headers(), "x-weave-next-offset").unwrap();
    assert_eq!(header(r.headers(), "x-weave-records").as_deref(), Some("3"));
    assert_eq!(json(r).as_array().unwrap().len(), 3);
    let r = a.get(&format!("/storage/h?limit=3&sort=index&offset={next}"));
    assert!(header(r.headers(), "x-weave-next-offset").is_none());
    assert_eq!(json(r), json!(["id1"]));

    // full=1 gives whole BSOs.
    let full = json(a.get("/storage/h?full=1&ids=id1"));
    assert_eq!(full[0]["payload"], "p1");
    assert_eq!(full[0]["sortindex"], 1);

    // newlines output when asked for.
    let r = a.send(
        "GET",
        "/storage/h?full=1",
        &[("Accept", "application/newlines")],
        None,
    );
    assert_eq!(
        header(r.headers(), "content-type").as_deref(),
        Some("application/newlines")
    );
    let text = r.text().unwrap();
    assert_eq!(text.lines().count(), 4);
    assert!(
        text.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
    );

    for bad in [
        "?limit=0",
        "?limit=-1",
        "?sort=random",
        "?newer=yesterday",
        "?offset=abc",
    ] {
        assert_eq!(a.get(&format!("/storage/h{bad}")).status(), 400, "{bad}");
    }
    let many: Vec<String> = (0..101).map(|i| format!("x{i}")).collect();
    assert_eq!(a.get(&format!("/storage/h?ids={}", many.join(","))).status(), 400);
}

#[test]
fn conditional_requests() {
    let s = TestServer::start();
    let a = s.account("cond@example.com");
    let r = a.post_json("/storage/c", json!([{"id": "a", "payload": "1"}]), &[]);
    let t1 = ts_header(r.headers(), "x-last-modified");
    let t1s = sync15::ServerTimestamp::from_millis(t1).to_string();
    let before = sync15::ServerTimestamp::from_millis(t1 - 10).to_string();

    // 304 when unchanged, on collections, items and info/collections.
    for path in ["/storage/c", "/storage/c/a", "/info/collections"] {
        let r = a.send("GET", path, &[("X-If-Modified-Since", &t1s)], None);
        assert_eq!(r.status(), 304, "{path}");
        let r = a.send("GET", path, &[("X-If-Modified-Since", &before)], None);
        assert_eq!(r.status(), 200, "{path}");
    }
    // 412 on reads and writes when changed since.
    assert_eq!(
        a.send("GET", "/storage/c", &[("X-If-Unmodified-Since", &before)], None)
            .status(),
        412
    );
    let stale = a.post_json(
        "/storage/c",
        json!([{"id": "b", "payload": "2"}]),
        &[("X-If-Unmodified-Since", &before)],
    );
    assert_eq!(stale.status(), 412);
    assert_eq!(a.get("/storage/c/b").status(), 404, "nothing written on 412");
    let ok = a.post_json(
        "/storage/c",
        json!([{"id": "b", "payload": "2"}]),
        &[("X-If-Unmodified-Since", &t1s)],
    );
    assert_eq!(ok.status(), 200);
    assert_eq!(
        a.send("DELETE", "/storage/c", &[("X-If-Unmodified-Since", &t1s)], None)
            .status(),
        412
    );
    // X-If-Unmodified-Since: 0 means "only if it does not exist".
    let zero = [("X-If-Unmodified-Since", "0")];
    assert_eq!(
        a.put_json("/storage/c/new", json!({"payload": "x"}), &zero)
            .status(),
        200
    );
    assert_eq!(
        a.put_json("/storage/c/new", json!({"payload": "y"}), &zero)
            .status(),
        412
    );
    // Malformed or combined headers are 400.
    assert_eq!(
        a.send("GET", "/storage/c", &[("X-If-Modified-Since", "soon")], None)
            .status(),
        400
    );
    assert_eq!(
        a.send(
            "GET",
            "/storage/c",
            &[("X-If-Modified-Since", "1"), ("X-If-Unmodified-Since", "1")],
            None
        )
        .status(),
        400
    );
}

#[test]
fn timestamps_strictly_increase_per_user() {
    let s = TestServer::start();
    let a = s.account("mono@example.com");
    let mut last = 0;
    for i in 0..30 {
        let r = a.put_json(&format!("/storage/c/r{i}"), json!({"payload": "x"}), &[]);
        let ts = ts_header(r.headers(), "x-last-modified");
        assert!(ts > last, "{ts} after {last}");
        assert_eq!(ts % 10, 0, "two-decimal seconds");
        last = ts;
    }
    let info = json(a.get("/info/collections"));
    assert_eq!((info["c"].as_f64().unwrap() * 1000.0).round() as i64, last);
}

#[test]
fn deletes() {
    let s = TestServer::start();
    let a = s.account("del@example.com");
    let bsos: Vec<_> = (0..5)
        .map(|i| json!({"id": format!("r{i}"), "payload": "x"}))
        .collect();
    a.post_json("/storage/c", json!(bsos), &[]);
    a.post_json("/storage/d", json!([{"id": "z", "payload": "x"}]), &[]);

    let r = a.send("DELETE", "/storage/c?ids=r1,r3", &[], None);
    assert_eq!(r.status(), 200);
    let t = ts_header(r.headers(), "x-last-modified");
    assert_eq!(json(a.get("/storage/c")), json!(["r0", "r2", "r4"]));
    let info = json(a.get("/info/collections"));
    assert_eq!((info["c"].as_f64().unwrap() * 1000.0).round() as i64, t);

    assert_eq!(a.send("DELETE", "/storage/c", &[], None).status(), 200);
    assert!(json(a.get("/info/collections")).get("c").is_none());
    // A collection that does not exist is not a 404 (1.5 API; Mozilla
    // answers with the user's last-modified time, and so do we).
    let user_modified = ts_header(a.get("/info/collections").headers(), "x-last-modified");
    for path in ["/storage/c", "/storage/never?ids=a,b"] {
        let r = a.send("DELETE", path, &[], None);
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(ts_header(r.headers(), "x-last-modified"), user_modified, "{path}");
    }

    let r = a.send("DELETE", "/storage", &[], None);
    assert_eq!(r.status(), 200);
    let wiped = ts_header(r.headers(), "x-last-modified");
    assert_eq!(json(a.get("/info/collections")), json!({}));
    // Writes after a wipe still get later timestamps.
    let r = a.put_json("/storage/c/again", json!({"payload": "x"}), &[]);
    assert!(ts_header(r.headers(), "x-last-modified") > wiped);

    // DELETE of the endpoint itself, as sync15 sends it.
    a.client.delete_everything().unwrap();
    assert_eq!(json(a.get("/info/collections")), json!({}));
}

#[test]
fn ttl_hides_expired_bsos() {
    let s = TestServer::start();
    let a = s.account("ttl@example.com");
    a.post_json(
        "/storage/tabs",
        json!([{"id": "brief", "payload": "x", "ttl": 0}, {"id": "lasting", "payload": "y", "ttl": 3600}]),
        &[],
    );
    assert_eq!(json(a.get("/storage/tabs")), json!(["lasting"]));
    assert_eq!(a.get("/storage/tabs/brief").status(), 404);
    // Rewriting an expired BSO without a payload does not resurrect the old one.
    a.put_json("/storage/tabs/brief", json!({"sortindex": 1}), &[]);
    assert_eq!(json(a.get("/storage/tabs/brief"))["payload"], "");
    assert!(s.server.db().purge_expired().is_ok());
}

#[test]
fn quota_is_enforced_per_collection() {
    let s = TestServer::start_with(|c| c.limits.quota_bytes = 2048);
    let a = s.account("quota@example.com");
    let r = a.put_json("/storage/c/a", json!({"payload": "x".repeat(1024)}), &[]);
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(r.headers(), "x-weave-quota-remaining").as_deref(),
        Some("1.00")
    );
    let r = a.put_json("/storage/c/b", json!({"payload": "x".repeat(1100)}), &[]);
    assert_eq!((r.status().as_u16(), r.text().unwrap()), (403, "14".into()));
    assert_eq!(
        a.get("/storage/c/b").status(),
        404,
        "the refused write left nothing"
    );
    // Another collection has its own quota.
    assert_eq!(
        a.put_json("/storage/d/b", json!({"payload": "x".repeat(1100)}), &[])
            .status(),
        200
    );
    // The sync15 client sees it as OverQuota.
    let big = sync15::OutgoingBso {
        envelope: sync15::OutgoingEnvelope::new(sync15::Guid::new("cccccccccccc")),
        payload: "y".repeat(1500),
    };
    let err = a
        .client
        .put_record("c", &big, sync15::Precondition::None)
        .unwrap_err();
    assert!(matches!(err, sync15::Error::OverQuota), "{err:?}");
}

#[test]
fn unknown_paths_and_methods() {
    let s = TestServer::start();
    let a = s.account("paths@example.com");
    assert_eq!(a.get("/nothing/here").status(), 404);
    assert_eq!(a.send("PUT", "/info/quota", &[], None).status(), 405);
    assert_eq!(a.send("POST", "/storage/c/x", &[], None).status(), 405);
}

#[test]
fn stopping_finishes_cleanly_and_closes_the_port() {
    let s = TestServer::start();
    let a = s.account_with_keys("stop@example.com", &FIXED_KB, 1_000);
    assert_eq!(
        a.put_json("/storage/c/x", json!({"payload": "kept"}), &[])
            .status(),
        200
    );
    let addr = s.server.addr();
    let support::TestServer {
        server,
        _dir: dir,
        database,
    } = s;
    server.stop().unwrap();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "nothing listens after stop"
    );
    // The data is on disk: a new server on the same database serves it.
    let mut config = support::config_in(dir.path());
    config.database = database;
    config.bind = addr;
    let again = sync_storage::Server::start(config).unwrap();
    let token = sync15::TokenClient::new(sync15::HttpClient::new().unwrap(), again.url())
        .unwrap()
        .fetch_token(&again.mint_token("stop@example.com").unwrap(), &fixed_key_id())
        .unwrap();
    assert_eq!(
        json(support::Account::new(token).get("/storage/c/x"))["payload"],
        "kept"
    );
}

/// The X-KeyID of an account made with [`FIXED_KB`].
fn fixed_key_id() -> String {
    sync15::SyncRootKey::new(&FIXED_KB, 1_000).unwrap().key_id()
}

const FIXED_KB: [u8; 32] = [0x5a; 32];
