//! The real `sync-storage` binary's memory while it answers a read of a
//! collection far larger than anything it should hold at once.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::io::Read;

use support::process::{account, spawn};

/// 96 MB of records read in one GET without `limit` (as application-services
/// reads) raise the server's peak resident size by a small fraction of that:
/// the answer is streamed from the database, not built in memory.
#[test]
fn a_whole_collection_streams_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(&support::database_in(dir.path()));
    let account = account(&server.url, &[5u8; 32]);
    const RECORDS: usize = 24_000;
    const PAYLOAD: usize = 4_000;
    let payload = "m".repeat(PAYLOAD);
    for start in (0..RECORDS).step_by(100) {
        let bsos: Vec<serde_json::Value> = (start..start + 100)
            .map(|i| serde_json::json!({"id": format!("m{i:05}"), "payload": payload}))
            .collect();
        let response = account.post_json("/storage/bookmarks", serde_json::json!(bsos), &[]);
        assert_eq!(response.status(), 200);
    }

    server.reset_peak();
    let before = server.status_kib("VmRSS");
    let mut response = account.get("/storage/bookmarks?full=1");
    assert_eq!(response.status(), 200);
    assert_eq!(
        support::header(response.headers(), "x-weave-records").as_deref(),
        Some("24000")
    );
    // Read as a client would, without holding the body: count the records.
    let mut buffer = vec![0u8; 1 << 16];
    let (mut bytes, mut records, mut tail) = (0usize, 0usize, Vec::new());
    loop {
        let n = response.read(&mut buffer).unwrap();
        if n == 0 {
            break;
        }
        bytes += n;
        tail.extend_from_slice(&buffer[..n]);
        records += tail.windows(6).filter(|w| w == b"{\"id\":").count();
        let keep = tail.len().min(5);
        tail.drain(..tail.len() - keep);
    }
    assert_eq!(records, RECORDS);
    assert!(bytes > RECORDS * PAYLOAD, "{bytes} bytes");
    let peak = server.status_kib("VmHWM");
    let growth_mib = peak.saturating_sub(before) as f64 / 1024.0;
    eprintln!(
        "streamed {:.1} MiB in one answer; server resident {:.1} MiB before, peak {:.1} MiB (+{growth_mib:.1} MiB)",
        bytes as f64 / (1 << 20) as f64,
        before as f64 / 1024.0,
        peak as f64 / 1024.0,
    );
    let body_mib = bytes as f64 / (1 << 20) as f64;
    assert!(
        growth_mib < body_mib / 4.0,
        "the server's peak grew by {growth_mib:.1} MiB for a {body_mib:.1} MiB answer"
    );
}
