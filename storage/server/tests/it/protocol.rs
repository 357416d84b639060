//! Every answer as the 1.5 API says: `X-Last-Modified` on every success,
//! 304 and 412; conditional headers on every view; the `X-Weave-*` upload
//! headers; `Accept`; and a protocol code as the JSON body of every 4xx.
#![allow(clippy::unwrap_used)]

use crate::support;

use reqwest::blocking::Response;
use serde_json::json;
use support::{Account, TestServer, header, ts_header};

/// Checks the headers every successful or conditional answer carries and
/// returns its `X-Last-Modified`.
fn last_modified(r: &Response, what: &str) -> i64 {
    let lm = header(r.headers(), "x-last-modified").unwrap_or_else(|| panic!("{what}: no X-Last-Modified"));
    let lm = sync15::ServerTimestamp::parse(&lm).unwrap().as_millis();
    let weave = ts_header(r.headers(), "x-weave-timestamp");
    assert!(
        weave >= lm,
        "{what}: X-Weave-Timestamp {weave} before X-Last-Modified {lm}"
    );
    lm
}

fn seeded(s: &TestServer) -> Account {
    let a = s.account("walk@example.com");
    let r = a.post_json(
        "/storage/c",
        json!([{"id": "a", "payload": "1"}, {"id": "b", "payload": "2"}, {"id": "c", "payload": "3"}]),
        &[],
    );
    assert_eq!(r.status(), 200);
    a
}

const VIEWS: [&str; 8] = [
    "/info/collections",
    "/info/configuration",
    "/info/quota",
    "/info/collection_usage",
    "/info/collection_counts",
    "/storage/c",
    "/storage/c?full=1",
    "/storage/c/a",
];

#[test]
fn every_route_and_method_answers_with_x_last_modified() {
    let s = TestServer::start();
    let a = seeded(&s);
    for path in VIEWS {
        let r = a.get(path);
        assert_eq!(r.status(), 200, "GET {path}");
        last_modified(&r, &format!("GET {path}"));
    }
    let writes: Vec<(&str, &str, Option<serde_json::Value>, u16)> = vec![
        ("PUT", "/storage/c/d", Some(json!({"payload": "4"})), 200),
        (
            "POST",
            "/storage/c",
            Some(json!([{"id": "e", "payload": "5"}])),
            200,
        ),
        (
            "POST",
            "/storage/c?batch=true",
            Some(json!([{"id": "f", "payload": "6"}])),
            202,
        ),
        ("DELETE", "/storage/c?ids=a", None, 200),
        ("DELETE", "/storage/c/b", None, 200),
        ("DELETE", "/storage/c", None, 200),
        ("DELETE", "/storage/never-existed", None, 200),
        ("DELETE", "/storage", None, 200),
        ("DELETE", "", None, 200),
    ];
    for (method, path, body, status) in writes {
        let r = match body {
            Some(body) => a.send(
                method,
                path,
                &[],
                Some(("application/json", serde_json::to_vec(&body).unwrap())),
            ),
            None => a.send(method, path, &[], None),
        };
        assert_eq!(r.status().as_u16(), status, "{method} {path}");
        last_modified(&r, &format!("{method} {path}"));
    }
}

#[test]
fn every_view_honours_x_if_modified_since_and_x_if_unmodified_since() {
    let s = TestServer::start();
    let a = seeded(&s);
    for path in VIEWS {
        let current = last_modified(&a.get(path), path);
        let since = sync15::ServerTimestamp::from_millis(current).to_string();
        let r = a.send("GET", path, &[("X-If-Modified-Since", &since)], None);
        assert_eq!(r.status(), 304, "{path}");
        assert_eq!(last_modified(&r, path), current, "{path}: 304");
        let before = sync15::ServerTimestamp::from_millis(current - 10).to_string();
        let r = a.send("GET", path, &[("X-If-Modified-Since", &before)], None);
        assert_eq!(r.status(), 200, "{path}: changed since");
        let r = a.send("GET", path, &[("X-If-Unmodified-Since", &before)], None);
        assert_eq!(r.status(), 412, "{path}");
        assert_eq!(last_modified(&r, path), current, "{path}: 412");
    }
}

#[test]
fn writes_refused_by_x_if_unmodified_since_say_when_the_target_changed() {
    let s = TestServer::start();
    let a = seeded(&s);
    let collection = last_modified(&a.get("/storage/c"), "c");
    let stale = sync15::ServerTimestamp::from_millis(collection - 10).to_string();
    let cases: Vec<(&str, &str, Option<serde_json::Value>)> = vec![
        ("PUT", "/storage/c/a", Some(json!({"payload": "x"}))),
        ("POST", "/storage/c", Some(json!([{"id": "x", "payload": "x"}]))),
        (
            "POST",
            "/storage/c?batch=true",
            Some(json!([{"id": "x", "payload": "x"}])),
        ),
        ("DELETE", "/storage/c?ids=a", None),
        ("DELETE", "/storage/c/a", None),
        ("DELETE", "/storage/c", None),
        ("DELETE", "/storage", None),
    ];
    for (method, path, body) in cases {
        let body = body.map(|b| ("application/json", serde_json::to_vec(&b).unwrap()));
        let r = a.send(method, path, &[("X-If-Unmodified-Since", &stale)], body);
        assert_eq!(r.status(), 412, "{method} {path}");
        assert_eq!(last_modified(&r, path), collection, "{method} {path}");
    }
    assert_eq!(
        last_modified(&a.get("/storage/c"), "c"),
        collection,
        "nothing was written"
    );
}

/// method, path, headers, body, and the expected (status, code).
type Case<'a> = (
    &'a str,
    &'a str,
    &'a [(&'a str, &'a str)],
    Option<(&'a str, Vec<u8>)>,
    (u16, &'a str),
);

/// (status, body) of a 4xx, checking it is JSON.
fn refusal(r: Response) -> (u16, String) {
    let status = r.status().as_u16();
    assert_eq!(
        header(r.headers(), "content-type").as_deref(),
        Some("application/json"),
        "{status} is JSON"
    );
    (status, r.text().unwrap())
}

#[test]
fn every_refusal_is_a_protocol_code_in_json() {
    let s = TestServer::start_with(|c| c.limits.max_request_bytes = 4096);
    let a = seeded(&s);
    let none: &[(&str, &str)] = &[];
    let json_body = |v: serde_json::Value| Some(("application/json", serde_json::to_vec(&v).unwrap()));
    let one = json!([{"id": "x", "payload": "x"}]);
    let cases: Vec<Case<'_>> = vec![
        ("GET", "/storage/bad$name", none, None, (400, "13")),
        (
            "PUT",
            "/storage/bad$name/x",
            none,
            json_body(json!({})),
            (400, "13"),
        ),
        ("GET", "/storage/c?limit=x", none, None, (400, "1")),
        (
            "GET",
            "/storage/c",
            &[("X-If-Modified-Since", "soon")],
            None,
            (400, "1"),
        ),
        ("GET", "/storage/c", &[("Accept", "text/html")], None, (406, "1")),
        (
            "GET",
            "/storage/c/a",
            &[("Accept", "application/xml")],
            None,
            (406, "1"),
        ),
        (
            "GET",
            "/info/collections",
            &[("Accept", "application/newlines")],
            None,
            (406, "1"),
        ),
        ("GET", "/storage/c/nope", none, None, (404, "0")),
        ("GET", "/unknown/route", none, None, (404, "0")),
        ("PUT", "/info/quota", none, None, (405, "1")),
        (
            "POST",
            "/storage/c",
            &[("X-Weave-Records", "101")],
            json_body(one.clone()),
            (400, "17"),
        ),
        (
            "POST",
            "/storage/c",
            &[("X-Weave-Bytes", "99999999")],
            json_body(one.clone()),
            (400, "17"),
        ),
        (
            "POST",
            "/storage/c",
            &[("X-Weave-Records", "many")],
            json_body(one.clone()),
            (400, "1"),
        ),
        (
            "POST",
            "/storage/c",
            &[("X-Weave-Total-Records", "5")],
            json_body(one.clone()),
            (400, "1"),
        ),
        (
            "POST",
            "/storage/c?batch=true",
            &[("X-Weave-Total-Records", "10001")],
            json_body(one.clone()),
            (400, "17"),
        ),
        (
            "POST",
            "/storage/c?batch=true",
            &[("X-Weave-Total-Bytes", "-1")],
            json_body(one.clone()),
            (400, "1"),
        ),
        (
            "POST",
            "/storage/c",
            none,
            Some(("application/json", vec![b'['; 5000])),
            (413, "17"),
        ),
        (
            "POST",
            "/storage/c",
            none,
            Some(("application/json", b"[{".to_vec())),
            (400, "6"),
        ),
        (
            "POST",
            "/storage/c",
            none,
            json_body(json!({"id": "x"})),
            (400, "8"),
        ),
        (
            "PUT",
            "/storage/c/x",
            none,
            json_body(json!({"payload": "p", "extra": 1})),
            (400, "8"),
        ),
        (
            "PUT",
            "/storage/c/x",
            none,
            json_body(json!(["not", "an", "object"])),
            (400, "8"),
        ),
        (
            "POST",
            "/storage/c",
            none,
            Some(("image/png", b"[]".to_vec())),
            (415, "1"),
        ),
    ];
    for (method, path, headers, body, expected) in cases {
        let r = a.send(method, path, headers, body);
        assert_eq!(
            refusal(r),
            (expected.0, expected.1.to_owned()),
            "{method} {path} {headers:?}"
        );
    }
    // Without credentials: 401 with Mozilla's body, 0.
    let r = reqwest::blocking::get(a.url("/info/collections")).unwrap();
    assert_eq!(refusal(r), (401, "0".to_owned()));
    // Nothing the refusals carried was stored.
    assert!(a.get("/storage/c/x").status() == 404);
}

#[test]
fn upload_headers_within_the_limits_are_accepted() {
    let s = TestServer::start();
    let a = s.account("headers@example.com");
    let r = a.post_json(
        "/storage/c?batch=true",
        json!([{"id": "x", "payload": "x"}]),
        &[
            ("X-Weave-Records", "1"),
            ("X-Weave-Bytes", "1"),
            ("X-Weave-Total-Records", "1"),
            ("X-Weave-Total-Bytes", "1"),
        ],
    );
    assert_eq!(r.status(), 202);
}

#[test]
fn collection_reads_negotiate_json_or_newlines() {
    let s = TestServer::start();
    let a = seeded(&s);
    let r = a.send("GET", "/storage/c", &[("Accept", "application/newlines")], None);
    assert_eq!(
        header(r.headers(), "content-type").unwrap(),
        "application/newlines"
    );
    assert_eq!(r.text().unwrap(), "\"a\"\n\"b\"\n\"c\"\n");
    for accept in [
        "application/json",
        "*/*",
        "application/json;q=0.9,*/*;q=0.2",
        "text/plain",
    ] {
        let r = a.send("GET", "/storage/c", &[("Accept", accept)], None);
        assert_eq!(
            header(r.headers(), "content-type").unwrap(),
            "application/json",
            "{accept}"
        );
    }
    let r = a.get("/info/collection_counts");
    assert_eq!(header(r.headers(), "x-weave-records").unwrap(), "1");
}
