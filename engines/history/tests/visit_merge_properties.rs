//! Property tests of the history merge: applying downloaded records is
//! commutative (any order of the same records leaves the same visits) and
//! idempotent (applying them again changes nothing) — on real SQLite
//! files, through the engine's own `stage_incoming` and `apply`, with
//! local visits in the mix and records that repeat, reorder and disagree.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use proptest::prelude::*;
use sync_history::{HistoryStore, VisitTransition};
use sync15::{ApplyStats, Cleartext, Guid, IncomingEnvelope, IncomingRecord, ServerTimestamp, SyncEngine};

const PAGES: [(&str, &str); 2] = [
    ("pageAAAAAAAA", "https://a.example/"),
    ("pageBBBBBBBB", "https://b.example/x"),
];
const DAY_US: i64 = 86_400_000_000;

fn now_us() -> i64 {
    ServerTimestamp::now().as_millis() * 1000
}

/// A record: which page, and its visits as (days ago × 1000 + jitter, type).
type Spec = (usize, Vec<(i64, i64)>);

fn record(spec: &Spec, now: i64, modified_ms: i64) -> IncomingRecord {
    let (guid, url) = PAGES[spec.0 % PAGES.len()];
    let visits: Vec<serde_json::Value> = spec
        .1
        .iter()
        .map(|(ago, transition)| serde_json::json!({"date": now - ago * 1000, "type": transition}))
        .collect();
    let content = serde_json::json!({"id": guid, "histUri": url, "title": "T", "visits": visits});
    IncomingRecord::new(
        IncomingEnvelope::new(Guid::new(guid), ServerTimestamp::from_millis(modified_ms)),
        Cleartext::from_content(&content).unwrap(),
    )
    .unwrap()
}

/// Applies each record in its own sync, as separate downloads would.
fn apply_each(store: &HistoryStore, records: &[IncomingRecord]) {
    for r in records {
        store.stage_incoming(vec![r.clone()]).unwrap();
        let mut stats = ApplyStats::default();
        store.apply(ServerTimestamp::now(), &mut stats).unwrap();
    }
}

/// Every visit of every page, as (url, date, type).
fn visits(store: &HistoryStore) -> BTreeSet<(String, i64, u8)> {
    PAGES
        .iter()
        .flat_map(|(_, url)| {
            store
                .visits(url)
                .unwrap()
                .into_iter()
                .map(move |v| (url.to_string(), v.date_us, v.transition.as_u8()))
        })
        .collect()
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0usize..2,
        // Ages from a minute to 25 days; types 0–11 (0, 10, 11 are invalid and dropped).
        prop::collection::vec((60_000i64..25 * DAY_US / 1000, 0i64..12), 0..8),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn applying_records_is_commutative_and_idempotent(
        specs in prop::collection::vec(spec(), 1..5),
        local in prop::collection::vec((0usize..2, 60_000i64..25 * DAY_US / 1000), 0..4),
    ) {
        let now = now_us();
        let records: Vec<IncomingRecord> = specs
            .iter()
            .enumerate()
            .map(|(i, s)| record(s, now, now / 1000 - 1000 + i as i64))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let open = |name: &str| {
            let store = HistoryStore::open(dir.path().join(name)).unwrap();
            for (page, ago) in &local {
                store
                    .record_visit(PAGES[*page].1, now - ago * 1000, VisitTransition::Typed)
                    .unwrap();
            }
            store
        };
        let forward = open("forward.db");
        apply_each(&forward, &records);
        let mut reversed_records = records.clone();
        reversed_records.reverse();
        let backward = open("backward.db");
        apply_each(&backward, &reversed_records);
        prop_assert_eq!(visits(&forward), visits(&backward), "the order of records mattered");

        let before = visits(&forward);
        apply_each(&forward, &records);
        prop_assert_eq!(visits(&forward), before, "applying again changed the visits");
    }
}
