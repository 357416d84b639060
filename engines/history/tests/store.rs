//! The history store without sync: real SQLite files.
#![allow(clippy::unwrap_used)]

use std::time::{SystemTime, UNIX_EPOCH};

use sync_history::{HistoryError, HistoryStore, QueryMatch, VisitTransition};

fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64
}

const DAY: i64 = 24 * 3600 * 1_000_000;

fn store() -> (tempfile::TempDir, HistoryStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = HistoryStore::open(dir.path().join("history.db")).unwrap();
    (dir, store)
}

#[test]
fn visits_titles_and_frecency() {
    let (_dir, store) = store();
    let now = now_us();
    store
        .record_visit("HTTPS://Example.COM:443/a", now - DAY, VisitTransition::Link)
        .unwrap();
    store
        .record_visit("https://example.com/a", now, VisitTransition::Typed)
        .unwrap();
    store
        .record_visit("https://example.com/a", now, VisitTransition::Typed)
        .unwrap(); // same visit: once
    store.set_title("https://example.com/a", "Page A").unwrap();
    let page = store.get_page("https://example.com/a").unwrap().unwrap();
    assert_eq!(page.url, "https://example.com/a");
    assert_eq!(page.title, "Page A");
    assert_eq!(page.visit_count, 2);
    assert_eq!(page.last_visit_us, now);
    // 2 visits * (2000 + 100) / 2
    assert_eq!(page.frecency, 2100);
    let visits = store.visits("https://example.com/a").unwrap();
    assert_eq!(visits.len(), 2);
    assert_eq!(visits[0].transition, VisitTransition::Typed);
    assert!(visits.iter().all(|v| v.is_local));
}

#[test]
fn queries_order_by_frecency_and_page() {
    let (_dir, store) = store();
    let now = now_us();
    for i in 0..30 {
        let url = format!("https://site.example/page{i:02}");
        for j in 0..=i {
            // More visits for higher i: higher frecency.
            store
                .record_visit(&url, now - (j as i64 + 1) * 1_000_000, VisitTransition::Link)
                .unwrap();
        }
    }
    store
        .record_visit("https://other.example/", now, VisitTransition::Link)
        .unwrap();
    store
        .set_title("https://other.example/", "About page29 stuff")
        .unwrap();
    store
        .record_visit("https://site.example/embedded", now, VisitTransition::Embed)
        .unwrap();

    let first = store
        .query("https://site.example/", QueryMatch::UrlPrefix, 10, 0)
        .unwrap();
    assert_eq!(first.len(), 10);
    assert_eq!(first[0].url, "https://site.example/page29");
    assert!(first.windows(2).all(|w| w[0].frecency >= w[1].frecency));
    let second = store
        .query("https://site.example/", QueryMatch::UrlPrefix, 10, 10)
        .unwrap();
    assert_eq!(second[0].url, "https://site.example/page19");
    assert!(
        store
            .query("https://site.example/emb", QueryMatch::UrlPrefix, 10, 0)
            .unwrap()
            .is_empty(),
        "embedded-only pages are hidden"
    );
    let found: Vec<String> = store
        .query("PAGE29", QueryMatch::Substring, 10, 0)
        .unwrap()
        .into_iter()
        .map(|p| p.url)
        .collect();
    assert_eq!(found.len(), 2, "{found:?}");
    // LIKE wildcards in the text are literal.
    assert!(store.query("%", QueryMatch::Substring, 10, 0).unwrap().is_empty());
}

#[test]
fn deletions() {
    let (_dir, store) = store();
    let now = now_us();
    store
        .record_visit("https://a.example/", now - 10 * DAY, VisitTransition::Link)
        .unwrap();
    store
        .record_visit("https://a.example/", now - DAY, VisitTransition::Link)
        .unwrap();
    store
        .record_visit("https://b.example/", now - 10 * DAY, VisitTransition::Link)
        .unwrap();
    store
        .record_visit("https://c.example/", now, VisitTransition::Link)
        .unwrap();

    let removed = store
        .delete_visits_between(now - 11 * DAY, now - 9 * DAY)
        .unwrap();
    assert_eq!(removed, 2);
    assert_eq!(
        store.get_page("https://a.example/").unwrap().unwrap().visit_count,
        1
    );
    assert!(
        store.get_page("https://b.example/").unwrap().is_none(),
        "a page with no visits left is gone"
    );

    assert!(store.delete_page("https://c.example/").unwrap());
    assert!(!store.delete_page("https://c.example/").unwrap());
    store.delete_everything().unwrap();
    assert!(store.get_page("https://a.example/").unwrap().is_none());
}

#[test]
fn bad_input_is_refused() {
    let (_dir, store) = store();
    assert!(matches!(
        store.record_visit("not a url", now_us(), VisitTransition::Link),
        Err(HistoryError::InvalidUrl(_))
    ));
    let long = format!("https://a.example/{}", "x".repeat(70_000));
    assert!(matches!(
        store.record_visit(&long, now_us(), VisitTransition::Link),
        Err(HistoryError::InvalidUrl(_))
    ));
    assert!(matches!(
        store.record_visit("https://a.example/", 0, VisitTransition::Link),
        Err(HistoryError::InvalidVisit(_))
    ));
    assert!(matches!(
        store.set_title("https://never.example/", "t"),
        Err(HistoryError::NotFound(_))
    ));
    assert!(store.query("", QueryMatch::Substring, 10, 0).unwrap().is_empty());
    assert_eq!(VisitTransition::from_u8(0), None);
    assert_eq!(VisitTransition::from_u8(10), None);
}

#[test]
fn future_visits_are_clamped_and_stale_frecencies_recomputed() {
    let (_dir, store) = store();
    store
        .record_visit("https://a.example/", now_us() + 365 * DAY, VisitTransition::Link)
        .unwrap();
    let page = store.get_page("https://a.example/").unwrap().unwrap();
    assert!(page.last_visit_us <= now_us());
    assert_eq!(
        store.recompute_stale_frecencies(100).unwrap(),
        0,
        "fresh scores are left alone"
    );
}

#[test]
fn recent_pages_come_newest_first_since_a_time() {
    let (_dir, store) = store();
    let now = now_us();
    for (url, age) in [
        ("https://old.example/", 10),
        ("https://news.example/100%_sure", 2),
        ("https://new.example/", 0),
    ] {
        store
            .record_visit(url, now - age * DAY, VisitTransition::Link)
            .unwrap();
    }
    store.set_title("https://new.example/", "Fresh News").unwrap();
    let urls = |pages: Vec<sync_history::PageInfo>| pages.into_iter().map(|p| p.url).collect::<Vec<_>>();
    assert_eq!(
        urls(store.recent(now - 5 * DAY, None, 10).unwrap()),
        ["https://new.example/", "https://news.example/100%_sure"]
    );
    assert_eq!(urls(store.recent(0, None, 1).unwrap()), ["https://new.example/"]);
    assert_eq!(
        urls(store.recent(0, Some("news"), 10).unwrap()),
        ["https://new.example/", "https://news.example/100%_sure"]
    );
    // Wildcards are matched as themselves.
    assert_eq!(
        urls(store.recent(0, Some("0%_"), 10).unwrap()),
        ["https://news.example/100%_sure"]
    );
    assert!(store.recent(0, Some("%x%"), 10).unwrap().is_empty());
}
