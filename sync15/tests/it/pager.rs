//! The download pager over real HTTP on 127.0.0.1.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::sync::Arc;

use serde_json::json;
use support::memory::MemoryCollection;
use support::{Reply, TestServer};
use sync15::{CollectionRequest, DownloadPager, Error, Guid, ServerTimestamp};

fn filled(n: usize) -> (Arc<MemoryCollection>, TestServer) {
    let collection = Arc::new(MemoryCollection::new("history", true));
    for i in 0..n {
        collection.insert(&format!("record{i:06}"), &format!("payload {i}"));
    }
    let responder = collection.clone();
    let server = TestServer::start(move |req| responder.respond(req));
    (collection, server)
}

fn ids_of(pages: &[sync15::CollectionPage]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|p| p.records.iter().map(|r| r.envelope.id.to_string()))
        .collect()
}

#[test]
fn reads_every_record_in_pages_with_the_first_time_pinned() {
    let (collection, server) = filled(25);
    let client = server.storage_client();
    let mut pager = DownloadPager::new(&client, CollectionRequest::new("history"), 10);
    let pages: Vec<_> = pager.by_ref().collect::<Result<_, _>>().unwrap();

    assert_eq!(
        pages.iter().map(|p| p.records.len()).collect::<Vec<_>>(),
        [10, 10, 5]
    );
    let expected: Vec<String> = (0..25).map(|i| format!("record{i:06}")).collect();
    assert_eq!(ids_of(&pages), expected);
    assert_eq!(pager.pages_fetched(), 3);
    assert_eq!(pager.last_modified(), Some(collection.modified()));

    let sent = server.requests();
    assert_eq!(sent[0].param("offset"), None);
    assert_eq!(sent[0].header("x-if-unmodified-since"), None);
    assert_eq!(sent[1].param("offset").as_deref(), Some("10"));
    assert_eq!(sent[2].param("offset").as_deref(), Some("20"));
    let pinned = collection.modified().to_string();
    for later in &sent[1..] {
        assert_eq!(later.header("x-if-unmodified-since"), Some(pinned.as_str()));
    }
    for request in &sent {
        assert_eq!(request.param("limit").as_deref(), Some("10"));
        assert_eq!(request.param("full").as_deref(), Some("1"));
        assert!(
            server.hawk_is_valid(request),
            "{:?} {:?}",
            request.path_and_query(),
            request.header("authorization")
        );
    }
}

#[test]
fn newer_than_is_kept_on_every_page() {
    let (collection, server) = filled(6);
    let cutoff = collection.records()[2].modified_ms;
    let client = server.storage_client();
    let request = CollectionRequest::new("history").newer_than(ServerTimestamp::from_millis(cutoff));
    let pages: Vec<_> = DownloadPager::new(&client, request, 2)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ids_of(&pages), ["record000003", "record000004", "record000005"]);
    assert!(server.requests().iter().all(|r| r.param("newer").is_some()));
}

#[test]
fn a_write_during_paging_is_a_412_not_a_torn_read() {
    let (collection, server) = filled(30);
    let client = server.storage_client();
    let mut pager = DownloadPager::new(&client, CollectionRequest::new("history"), 10);
    let first = pager.next_page().unwrap().unwrap();
    assert_eq!(first.records.len(), 10);

    // Another client writes between our pages.
    collection.insert("from-elsewhere", "new");
    assert!(matches!(pager.next_page(), Err(Error::PreconditionFailed)));
    // And the pager stays stopped rather than resuming on a changed collection.
    assert!(pager.next_page().unwrap().is_none());
}

#[test]
fn the_total_limit_caps_records_across_pages() {
    let (_collection, server) = filled(50);
    let client = server.storage_client();
    let pages: Vec<_> = DownloadPager::new(&client, CollectionRequest::new("history").limit(23), 10)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ids_of(&pages).len(), 23);
    let limits: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.param("limit").unwrap())
        .collect();
    assert_eq!(limits, ["10", "10", "3"]);

    let none: Vec<_> = DownloadPager::new(&client, CollectionRequest::new("history").limit(0), 10)
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(none.is_empty());
    assert_eq!(server.request_count(), 3, "limit 0 asks for nothing");
}

#[test]
fn more_than_a_hundred_ids_are_fetched_in_chunks_under_one_pinned_time() {
    let (collection, server) = filled(260);
    let client = server.storage_client();
    let wanted: Vec<Guid> = (0..250)
        .map(|i| Guid::new(&format!("record{:06}", i + 5)))
        .collect();
    let pages: Vec<_> = DownloadPager::new(
        &client,
        CollectionRequest::new("history").ids(wanted.clone()),
        1000,
    )
    .collect::<Result<_, _>>()
    .unwrap();
    let mut got = ids_of(&pages);
    got.sort();
    let mut expected: Vec<String> = wanted.iter().map(|g| g.to_string()).collect();
    expected.sort();
    assert_eq!(got, expected);

    let sent = server.requests();
    let chunk_sizes: Vec<usize> = sent
        .iter()
        .map(|r| r.param("ids").unwrap().split(',').count())
        .collect();
    assert_eq!(chunk_sizes, [100, 100, 50]);
    let pinned = collection.modified().to_string();
    assert!(
        sent[1..]
            .iter()
            .all(|r| r.header("x-if-unmodified-since") == Some(pinned.as_str()))
    );
}

#[test]
fn ids_chunks_are_paged_too() {
    let (_collection, server) = filled(150);
    let client = server.storage_client();
    let wanted: Vec<Guid> = (0..150).map(|i| Guid::new(&format!("record{i:06}"))).collect();
    let pages: Vec<_> = DownloadPager::new(&client, CollectionRequest::new("history").ids(wanted), 40)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ids_of(&pages).len(), 150);
    // 100 ids → pages of 40, 40, 20; then 50 ids → 40, 10.
    assert_eq!(
        pages.iter().map(|p| p.records.len()).collect::<Vec<_>>(),
        [40, 40, 20, 40, 10]
    );
}

#[test]
fn an_empty_id_list_asks_for_nothing() {
    let (_collection, server) = filled(3);
    let client = server.storage_client();
    let pages: Vec<_> = DownloadPager::new(&client, CollectionRequest::new("history").ids(Vec::new()), 10)
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(pages.is_empty());
    assert_eq!(server.request_count(), 0);
}

#[test]
fn a_server_that_repeats_its_offset_does_not_loop_forever() {
    let server = TestServer::start(|_| {
        Reply::json(
            200,
            json!([{"id": "aaaaaaaaaaaa", "modified": 1.0, "payload": "p"}]),
        )
        .header("X-Weave-Next-Offset", "same")
        .header("X-Last-Modified", "1.00")
    });
    let client = server.storage_client();
    let pages: Vec<_> = DownloadPager::new(&client, CollectionRequest::new("c"), 1)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(pages.len(), 2, "the second page made no progress; paging stops");

    let empty_forever = TestServer::start(|_| {
        Reply::json(200, json!([]))
            .header("X-Weave-Next-Offset", "more")
            .header("X-Last-Modified", "1.00")
    });
    let client = empty_forever.storage_client();
    let pages: Vec<_> = DownloadPager::new(&client, CollectionRequest::new("c"), 1)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(pages.len(), 1);
}

#[test]
fn an_empty_collection_is_one_request() {
    let (_collection, server) = filled(0);
    let client = server.storage_client();
    let pages: Vec<_> = DownloadPager::new(&client, CollectionRequest::new("history"), 10)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(pages.len(), 1);
    assert!(pages[0].records.is_empty());
    assert_eq!(server.request_count(), 1);
}
