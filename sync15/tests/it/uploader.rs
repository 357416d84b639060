//! The batching uploader over real HTTP on 127.0.0.1.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::sync::Arc;

use serde_json::json;
use support::memory::MemoryCollection;
use support::{Reply, TestServer};
use sync15::{
    Error, Guid, InfoConfiguration, OutgoingBso, OutgoingEnvelope, ServerTimestamp, StorageClient,
    UploadOutcome, Uploader,
};

fn bso(i: usize, payload_len: usize) -> OutgoingBso {
    OutgoingBso {
        envelope: OutgoingEnvelope::new(Guid::new(&format!("rec{i:09}"))),
        payload: "x".repeat(payload_len),
    }
}

fn server(batching: bool) -> (Arc<MemoryCollection>, TestServer) {
    let collection = Arc::new(MemoryCollection::new("history", batching));
    let responder = collection.clone();
    (collection, TestServer::start(move |req| responder.respond(req)))
}

/// What `on_commit` heard: the collection's new time and the ids committed.
type Commit = (ServerTimestamp, Vec<Guid>);

/// Uploads `records`, returning the outcome and every on_commit call.
fn upload(
    client: &StorageClient,
    config: &InfoConfiguration,
    since: ServerTimestamp,
    records: &[OutgoingBso],
) -> (Result<UploadOutcome, Error>, Vec<Commit>) {
    let mut commits = Vec::new();
    let result = (|| {
        let mut uploader = Uploader::new(client, "history", config, since, |ts, ids| {
            commits.push((ts, ids));
            Ok(())
        });
        for record in records {
            uploader.enqueue(record)?;
        }
        uploader.finish()
    })();
    (result, commits)
}

fn posted_counts(server: &TestServer) -> Vec<usize> {
    server
        .requests()
        .iter()
        .map(|r| r.json().as_array().unwrap().len())
        .collect()
}

fn queries(server: &TestServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| r.query.clone().unwrap_or_default())
        .collect()
}

#[test]
fn one_batch_of_many_posts_commits_once() {
    let (collection, server) = server(true);
    let client = server.storage_client();
    let records: Vec<_> = (0..250).map(|i| bso(i, 50)).collect();
    let (outcome, commits) = upload(
        &client,
        &InfoConfiguration::default(),
        ServerTimestamp::ZERO,
        &records,
    );
    let outcome = outcome.unwrap();

    assert_eq!(posted_counts(&server), [100, 100, 50]);
    assert_eq!(
        queries(&server),
        ["batch=true", "batch=b1", "batch=b1&commit=true"]
    );
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("x-if-unmodified-since") == Some("0.00"))
    );
    assert_eq!(commits.len(), 1, "one commit, reported once");
    assert_eq!(commits[0].1.len(), 250);
    assert_eq!(commits[0].0, collection.modified());
    assert_eq!(outcome.committed.len(), 250);
    assert_eq!(outcome.posts, 3);
    assert_eq!(outcome.batches, 1);
    assert_eq!(outcome.last_modified, collection.modified());
    assert!(outcome.failed.is_empty());
    assert_eq!(collection.records().len(), 250);
    assert_eq!(collection.open_batches(), 0);
}

#[test]
fn post_byte_and_request_byte_limits_split_posts() {
    let (_collection, server) = server(true);
    let client = server.storage_client();
    let records: Vec<_> = (0..10).map(|i| bso(i, 1000)).collect();

    let by_payload = InfoConfiguration {
        max_post_bytes: 2500,
        ..InfoConfiguration::default()
    };
    upload(&client, &by_payload, ServerTimestamp::ZERO, &records)
        .0
        .unwrap();
    assert_eq!(posted_counts(&server), [2, 2, 2, 2, 2]);

    let (_collection, server) = self::server(true);
    let client = server.storage_client();
    // One encoded record is ~1,030 bytes; 3,200 fits three with the brackets and commas.
    let by_request = InfoConfiguration {
        max_request_bytes: 3200,
        ..InfoConfiguration::default()
    };
    upload(&client, &by_request, ServerTimestamp::ZERO, &records)
        .0
        .unwrap();
    assert_eq!(posted_counts(&server), [3, 3, 3, 1]);
    for request in server.requests() {
        assert!(request.body.len() <= 3200, "{}", request.body.len());
    }

    let (_collection, server) = self::server(true);
    let client = server.storage_client();
    let by_count = InfoConfiguration {
        max_post_records: 4,
        ..InfoConfiguration::default()
    };
    upload(&client, &by_count, ServerTimestamp::ZERO, &records)
        .0
        .unwrap();
    assert_eq!(posted_counts(&server), [4, 4, 2]);
}

#[test]
fn batch_limits_commit_and_start_new_batches() {
    let (collection, server) = server(true);
    let client = server.storage_client();
    let config = InfoConfiguration {
        max_post_records: 10,
        max_total_records: 25,
        ..InfoConfiguration::default()
    };
    let records: Vec<_> = (0..60).map(|i| bso(i, 10)).collect();
    let (outcome, commits) = upload(&client, &config, ServerTimestamp::ZERO, &records);
    let outcome = outcome.unwrap();

    assert_eq!(
        commits.iter().map(|(_, ids)| ids.len()).collect::<Vec<_>>(),
        [25, 25, 10]
    );
    assert_eq!(outcome.batches, 3);
    assert_eq!(outcome.committed.len(), 60);
    // Each batch is preconditioned on the time the previous commit produced.
    let sent = server.requests();
    let first_commit = commits[0].0.to_string();
    let batch_starts: Vec<_> = sent
        .iter()
        .filter(|r| r.param("batch").as_deref() == Some("true"))
        .map(|r| r.header("x-if-unmodified-since").unwrap().to_owned())
        .collect();
    assert_eq!(batch_starts.len(), 3);
    assert_eq!(batch_starts[0], "0.00");
    assert_eq!(batch_starts[1], first_commit);
    assert!(commits.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(collection.records().len(), 60);

    let (_collection, server) = self::server(true);
    let client = server.storage_client();
    let by_bytes = InfoConfiguration {
        max_total_bytes: 350,
        ..InfoConfiguration::default()
    };
    let records: Vec<_> = (0..10).map(|i| bso(i, 100)).collect();
    let (outcome, commits) = upload(&client, &by_bytes, ServerTimestamp::ZERO, &records);
    outcome.unwrap();
    assert_eq!(
        commits.iter().map(|(_, ids)| ids.len()).collect::<Vec<_>>(),
        [3, 3, 3, 1]
    );
}

#[test]
fn a_server_without_batches_gets_plain_posts_each_committed() {
    let (collection, server) = server(false);
    let client = server.storage_client();
    let config = InfoConfiguration {
        max_post_records: 40,
        ..InfoConfiguration::default()
    };
    let records: Vec<_> = (0..100).map(|i| bso(i, 10)).collect();
    let (outcome, commits) = upload(&client, &config, ServerTimestamp::ZERO, &records);
    let outcome = outcome.unwrap();

    assert_eq!(queries(&server), ["batch=true", "", ""]);
    assert_eq!(
        commits.iter().map(|(_, ids)| ids.len()).collect::<Vec<_>>(),
        [40, 40, 20]
    );
    // Every POST stands alone, so each is preconditioned on the previous one's time.
    let sent = server.requests();
    assert_eq!(sent[0].header("x-if-unmodified-since"), Some("0.00"));
    assert_eq!(
        sent[1].header("x-if-unmodified-since").unwrap(),
        commits[0].0.to_string()
    );
    assert_eq!(
        sent[2].header("x-if-unmodified-since").unwrap(),
        commits[1].0.to_string()
    );
    assert_eq!(outcome.committed.len(), 100);
    assert_eq!(outcome.batches, 0);
    assert_eq!(collection.records().len(), 100);
}

#[test]
fn refused_and_unacknowledged_records_are_reported() {
    let (collection, server) = server(true);
    collection.refuse("rec000000003");
    collection.ignore("rec000000007");
    let client = server.storage_client();
    let records: Vec<_> = (0..10).map(|i| bso(i, 10)).collect();
    let (outcome, commits) = upload(
        &client,
        &InfoConfiguration::default(),
        ServerTimestamp::ZERO,
        &records,
    );
    let outcome = outcome.unwrap();

    assert_eq!(outcome.committed.len(), 8);
    assert_eq!(commits[0].1.len(), 8);
    assert!(!commits[0].1.contains(&Guid::new("rec000000003")));
    assert!(
        outcome.failed[&Guid::new("rec000000003")].contains("invalid record"),
        "{:?}",
        outcome.failed
    );
    assert!(outcome.failed[&Guid::new("rec000000007")].contains("not acknowledged"));
    assert_eq!(collection.records().len(), 8);
}

#[test]
fn records_that_can_never_fit_are_failed_and_the_rest_uploaded() {
    let (collection, server) = server(true);
    let client = server.storage_client();
    let config = InfoConfiguration {
        max_record_payload_bytes: 500,
        max_request_bytes: 2000,
        ..InfoConfiguration::default()
    };
    let mut records = vec![bso(0, 100), bso(1, 501), bso(2, 500), bso(3, 100)];
    records.push(OutgoingBso {
        envelope: OutgoingEnvelope::new(Guid::new("bad,id")),
        payload: "p".into(),
    });
    let mut commits = Vec::new();
    let mut uploader = Uploader::new(&client, "history", &config, ServerTimestamp::ZERO, |ts, ids| {
        commits.push((ts, ids));
        Ok(())
    });
    let accepted: Vec<bool> = records.iter().map(|r| uploader.enqueue(r).unwrap()).collect();
    assert_eq!(accepted, [true, false, true, true, false]);
    let outcome = uploader.finish().unwrap();
    assert_eq!(outcome.committed.len(), 3);
    assert!(outcome.failed[&Guid::new("rec000000001")].contains("exceeds"));
    assert!(outcome.failed[&Guid::new("bad,id")].contains("invalid"));
    assert_eq!(collection.records().len(), 3);

    // A record within the payload limit but larger than a whole request.
    let tight = InfoConfiguration {
        max_request_bytes: 200,
        ..InfoConfiguration::default()
    };
    let mut uploader = Uploader::new(&client, "history", &tight, collection.modified(), |_, _| Ok(()));
    assert!(!uploader.enqueue(&bso(9, 300)).unwrap());
    let outcome = uploader.finish().unwrap();
    assert!(outcome.failed[&Guid::new("rec000000009")].contains("cannot fit"));
}

#[test]
fn a_concurrent_write_fails_the_upload_with_412_and_commits_nothing() {
    let (collection, server) = server(true);
    let seen = collection.insert("elsewhere", "theirs");
    collection.insert("elsewhere2", "theirs too");
    let client = server.storage_client();
    let records: Vec<_> = (0..5).map(|i| bso(i, 10)).collect();
    let (outcome, commits) = upload(
        &client,
        &InfoConfiguration::default(),
        ServerTimestamp::from_millis(seen),
        &records,
    );
    assert!(matches!(outcome, Err(Error::PreconditionFailed)), "{outcome:?}");
    assert!(commits.is_empty());
    assert_eq!(collection.records().len(), 2);
}

#[test]
fn a_412_in_a_later_batch_keeps_what_earlier_batches_committed() {
    let (collection, server) = server(true);
    let client = server.storage_client();
    let config = InfoConfiguration {
        max_post_records: 5,
        max_total_records: 5,
        ..InfoConfiguration::default()
    };
    let records: Vec<_> = (0..12).map(|i| bso(i, 10)).collect();
    let mut commits = Vec::new();
    let mut uploader = Uploader::new(&client, "history", &config, ServerTimestamp::ZERO, |ts, ids| {
        commits.push((ts, ids));
        Ok(())
    });
    let mut failure = None;
    for (i, record) in records.iter().enumerate() {
        if i == 7 {
            // Another client writes while our second batch is open.
            collection.insert("elsewhere", "theirs");
        }
        if let Err(e) = uploader.enqueue(record) {
            failure = Some(e);
            break;
        }
    }
    let failure = match failure {
        Some(e) => e,
        None => uploader.finish().unwrap_err(),
    };
    assert!(matches!(failure, Error::PreconditionFailed), "{failure:?}");
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0].1.len(), 5);
    assert_eq!(collection.records().len(), 6, "5 of ours and theirs");
}

#[test]
fn nothing_to_upload_is_no_request() {
    let (_collection, server) = server(true);
    let client = server.storage_client();
    let (outcome, commits) = upload(&client, &InfoConfiguration::default(), ServerTimestamp::ZERO, &[]);
    let outcome = outcome.unwrap();
    assert_eq!(outcome.posts, 0);
    assert!(commits.is_empty());
    assert_eq!(server.request_count(), 0);
}

#[test]
fn an_on_commit_error_stops_the_upload() {
    let (_collection, server) = server(true);
    let client = server.storage_client();
    let config = InfoConfiguration {
        max_total_records: 2,
        ..InfoConfiguration::default()
    };
    let mut uploader = Uploader::new(&client, "history", &config, ServerTimestamp::ZERO, |_, _| {
        Err(Error::Engine {
            engine: "history".into(),
            source: "the local store is read-only".into(),
        })
    });
    uploader.enqueue(&bso(0, 1)).unwrap();
    uploader.enqueue(&bso(1, 1)).unwrap();
    let err = uploader.enqueue(&bso(2, 1)).unwrap_err();
    assert!(matches!(err, Error::Engine { .. }), "{err:?}");
}

#[test]
fn a_server_that_leaves_a_batch_open_after_commit_is_an_error() {
    let server = TestServer::scripted([Reply::json(
        202,
        json!({"batch": "b9", "success": ["rec000000000"], "failed": {}}),
    )]);
    let client = server.storage_client();
    let (outcome, commits) = upload(
        &client,
        &InfoConfiguration::default(),
        ServerTimestamp::ZERO,
        &[bso(0, 1)],
    );
    assert!(
        matches!(outcome, Err(Error::UnexpectedStatus { status: 202, .. })),
        "{outcome:?}"
    );
    assert!(commits.is_empty());
}

#[test]
fn every_post_body_is_a_json_array_of_bsos() {
    let (_collection, server) = server(true);
    let client = server.storage_client();
    let records: Vec<_> = (0..7)
        .map(|i| OutgoingBso {
            envelope: OutgoingEnvelope::new(Guid::new(&format!("rec{i:09}")))
                .with_sortindex(i)
                .with_ttl(3600),
            payload: format!("{{\"quoted\":\"\\\"{i}\\\"\"}}"),
        })
        .collect();
    let config = InfoConfiguration {
        max_post_records: 3,
        ..InfoConfiguration::default()
    };
    upload(&client, &config, ServerTimestamp::ZERO, &records)
        .0
        .unwrap();
    let mut seen = Vec::new();
    for request in server.requests() {
        assert_eq!(request.header("content-type"), Some("application/json"));
        for record in request.json().as_array().unwrap() {
            seen.push(record.clone());
        }
    }
    assert_eq!(seen.len(), 7);
    assert_eq!(
        seen[4],
        json!({"id": "rec000000004", "sortindex": 4, "ttl": 3600, "payload": "{\"quoted\":\"\\\"4\\\"\"}"})
    );
}
