#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used)]
use sync_storage::db::{BsoInput, Db};
fn main() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("x.db")).unwrap();
    let payload = "Q".repeat(600);
    let start = std::time::Instant::now();
    let n = 300;
    for round in 0..n {
        let inputs: Vec<BsoInput> = (0..100).map(|i| BsoInput { id: format!("r{round}i{i}"), sortindex: Some(Some(i)), payload: Some(payload.clone()), ttl: None }).collect();
        db.post_bsos((round % 50) as u64 + 1, "history", &inputs, None, 2_684_354_560).unwrap();
    }
    let el = start.elapsed();
    let wal = std::fs::metadata(dir.path().join("x.db-wal")).map(|m| m.len()).unwrap_or(0);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let wal2 = std::fs::metadata(dir.path().join("x.db-wal")).map(|m| m.len()).unwrap_or(0);
    let main_db = std::fs::metadata(dir.path().join("x.db")).map(|m| m.len()).unwrap_or(0);
    println!("wal {wal} then {wal2}, db {main_db}");
    drop(db);
    let wal3 = std::fs::metadata(dir.path().join("x.db-wal")).map(|m| m.len()).unwrap_or(0);
    println!("wal after drop {wal3}");
    println!("{n} posts of 100: {:?} per post, {:.0} records/s", el / n, (n * 100) as f64 / el.as_secs_f64());
}
