//! Record crypto throughput (issue 2's target: ≥ 200 MB/s each way).
//!
//! Criterion measures per-record encrypt+HMAC and verify+decrypt of a
//! 1 KiB cleartext, at the byte layer (`KeyBundle::encrypt_bytes`) and at the
//! record layer (cleartext JSON ↔ BSO payload string). Then a summary pass
//! pushes 100,000 distinct records through each and prints records/s and MB/s,
//! and a 10,000-record page is decrypted (and encrypted) one record at a time,
//! as the driver did before issue 19, and with `decrypt_all`/`encrypt_all` on
//! every core (target: ≥ 1.6× on 2 cores).
#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use sync15::{Cleartext, Guid, KeyBundle, OutgoingEnvelope, OutgoingRecord, ServerTimestamp};

const RECORD_BYTES: usize = 1024;
const SUMMARY_RECORDS: usize = 100_000;

/// A login-shaped JSON record padded to exactly 1 KiB.
fn cleartext_1kib(id: &Guid) -> Cleartext {
    let mut value = serde_json::json!({
        "id": id,
        "hostname": "https://accounts.example.com",
        "formSubmitURL": "https://accounts.example.com/login",
        "httpRealm": null,
        "username": "someone@example.com",
        "password": "correct horse battery staple",
        "timeCreated": 1_700_000_000_000_u64,
        "notes": "",
    });
    let len = serde_json::to_vec(&value).unwrap().len();
    value["notes"] = serde_json::Value::String("n".repeat(RECORD_BYTES - len));
    let clear = Cleartext::from_content(&value).unwrap();
    assert_eq!(clear.to_json_vec().len(), RECORD_BYTES);
    clear
}

fn criterion_benches(c: &mut Criterion) {
    let bundle = KeyBundle::new_random().unwrap();
    let id = Guid::random();
    let clear = cleartext_1kib(&id);
    let bytes = clear.to_json_vec();
    let encrypted = bundle.encrypt_bytes(&bytes).unwrap();
    let record = OutgoingRecord {
        envelope: OutgoingEnvelope::new(id),
        cleartext: clear,
    };
    let bso = bundle
        .encrypt(&record)
        .unwrap()
        .into_incoming(ServerTimestamp::from_millis(1));

    let mut group = c.benchmark_group("record-crypto-1KiB");
    group.throughput(Throughput::Bytes(RECORD_BYTES as u64));
    group.bench_function("bytes/encrypt+hmac", |b| {
        b.iter(|| bundle.encrypt_bytes(black_box(&bytes)).unwrap())
    });
    group.bench_function("bytes/verify+decrypt", |b| {
        b.iter(|| bundle.decrypt_bytes(black_box(&encrypted)).unwrap())
    });
    group.bench_function("record/encrypt (json + crypto)", |b| {
        b.iter(|| bundle.encrypt(black_box(&record)).unwrap())
    });
    group.bench_function("record/decrypt (crypto + json)", |b| {
        b.iter(|| bundle.decrypt(black_box(&bso)).unwrap())
    });
    group.finish();
}

fn report(label: &str, records: usize, secs: f64) {
    let mb = (records * RECORD_BYTES) as f64 / 1e6;
    println!(
        "{label:<34} {records} records in {secs:.3} s: {:>9.0} records/s, {:>7.1} MB/s",
        records as f64 / secs,
        mb / secs
    );
}

/// 100,000 distinct records each way, end to end. Each timed loop consumes
/// its outputs one at a time, as the uploader and the driver do (a record is
/// encrypted, serialized into a POST body and dropped; a downloaded record is
/// decrypted, staged and dropped), so the numbers measure the crypto and not
/// the kernel zeroing fresh pages for 100,000 results held at once.
fn summary() {
    let bundle = KeyBundle::new_random().unwrap();
    let records: Vec<OutgoingRecord> = (0..SUMMARY_RECORDS)
        .map(|_| {
            let id = Guid::random();
            OutgoingRecord {
                cleartext: cleartext_1kib(&id),
                envelope: OutgoingEnvelope::new(id),
            }
        })
        .collect();
    let plain: Vec<Vec<u8>> = records.iter().map(|r| r.cleartext.to_json_vec()).collect();
    let encrypted: Vec<_> = plain.iter().map(|p| bundle.encrypt_bytes(p).unwrap()).collect();
    let incoming: Vec<_> = records
        .iter()
        .map(|r| {
            bundle
                .encrypt(r)
                .unwrap()
                .into_incoming(ServerTimestamp::from_millis(1))
        })
        .collect();
    println!("\nsummary: {SUMMARY_RECORDS} records of {RECORD_BYTES} B cleartext");

    let start = Instant::now();
    let mut produced = 0;
    for p in &plain {
        produced += black_box(bundle.encrypt_bytes(p).unwrap()).ciphertext.len();
    }
    report(
        "bytes: encrypt+hmac",
        SUMMARY_RECORDS,
        start.elapsed().as_secs_f64(),
    );
    assert!(produced > SUMMARY_RECORDS * RECORD_BYTES);

    let start = Instant::now();
    let mut decrypted = 0;
    for e in &encrypted {
        decrypted += black_box(bundle.decrypt_bytes(e).unwrap()).len();
    }
    report(
        "bytes: verify+decrypt",
        SUMMARY_RECORDS,
        start.elapsed().as_secs_f64(),
    );
    assert_eq!(decrypted, SUMMARY_RECORDS * RECORD_BYTES);

    let start = Instant::now();
    let mut payload_bytes = 0;
    for r in &records {
        payload_bytes += black_box(bundle.encrypt(r).unwrap()).payload.len();
    }
    report(
        "records: json → encrypted BSO",
        SUMMARY_RECORDS,
        start.elapsed().as_secs_f64(),
    );
    assert!(payload_bytes > SUMMARY_RECORDS * RECORD_BYTES);

    let start = Instant::now();
    let mut fields = 0;
    for b in &incoming {
        fields += black_box(bundle.decrypt(b).unwrap()).cleartext.as_map().len();
    }
    report(
        "records: encrypted BSO → json",
        SUMMARY_RECORDS,
        start.elapsed().as_secs_f64(),
    );
    assert_eq!(fields, SUMMARY_RECORDS * 8);
}

/// The median of `runs` timings of `f`, in seconds.
fn median_secs(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

/// Timings per way in [`page`].
const PAGE_RUNS: usize = 9;

/// One 10,000-record page each way: one record at a time against every core.
fn page() {
    const PAGE: usize = 10_000;
    let bundle = KeyBundle::new_random().unwrap();
    let records: Vec<OutgoingRecord> = (0..PAGE)
        .map(|_| {
            let id = Guid::random();
            OutgoingRecord {
                cleartext: cleartext_1kib(&id),
                envelope: OutgoingEnvelope::new(id),
            }
        })
        .collect();
    let page: Vec<_> = records
        .iter()
        .map(|r| {
            bundle
                .encrypt(r)
                .unwrap()
                .into_incoming(ServerTimestamp::from_millis(1))
        })
        .collect();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "
a page of {PAGE} records of {RECORD_BYTES} B (median of {PAGE_RUNS}; {cores} cores)"
    );
    compare(
        "decrypt",
        || {
            let opened: Vec<_> = page.iter().map(|b| bundle.decrypt(b).unwrap()).collect();
            assert_eq!(black_box(opened).len(), PAGE);
        },
        || {
            let opened = bundle.decrypt_all(&page);
            assert!(black_box(opened).iter().all(Result::is_ok));
        },
    );
    compare(
        "encrypt",
        || {
            let sealed: Vec<_> = records.iter().map(|r| bundle.encrypt(r).unwrap()).collect();
            assert_eq!(black_box(sealed).len(), PAGE);
        },
        || {
            let sealed = bundle.encrypt_all(&records);
            assert!(black_box(sealed).iter().all(Result::is_ok));
        },
    );
}

/// Times a page done one record at a time, then all at once (each the
/// median of [`PAGE_RUNS`]), and prints both and the speed-up.
fn compare(what: &str, one_by_one: impl FnMut(), all: impl FnMut()) {
    let one_by_one = median_secs(PAGE_RUNS, one_by_one);
    let all = median_secs(PAGE_RUNS, all);
    println!(
        "  {what}: one at a time {:>6.1} ms, {what}_all {:>6.1} ms: {:.2}x",
        one_by_one * 1e3,
        all * 1e3,
        one_by_one / all
    );
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    criterion_benches(&mut criterion);
    criterion.final_summary();
    // `cargo test --benches` runs this binary without `--bench`: skip the long pass there.
    if std::env::args().any(|a| a == "--bench") {
        summary();
        page();
    }
}
