//! A retired uid is never written to again: an operator moves an account to
//! another node (`sync-storage user migrate`, a process of its own) while
//! the account's client writes as fast as it can through the real server.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::process::{account, spawn};

fn admin(database: &std::path::Path, args: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_sync-storage"))
        .args(args)
        .arg("--database")
        .arg(database)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "sync-storage {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn no_write_lands_in_a_uid_after_its_migration_returned() {
    let dir = tempfile::tempdir().unwrap();
    let database = support::database_in(dir.path());
    let server = spawn(&database);
    let client = account(&server.url, &[9u8; 32]);
    admin(
        &database,
        &["node", "add", "http://127.0.0.1:9/elsewhere", "--capacity", "10"],
    );

    // (id, sent at) of every write the server answered 200. A write sent
    // before the migration returned may have landed before it (and been
    // answered after); one sent after cannot have.
    let acknowledged: Mutex<Vec<(String, Instant)>> = Mutex::default();
    let refused = AtomicBool::new(false);
    let stop = AtomicBool::new(false);
    let migrated_at = std::thread::scope(|scope| {
        scope.spawn(|| {
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let id = format!("w{i:05}");
                let sent = Instant::now();
                let response = client.send(
                    "PUT",
                    &format!("/storage/forms/{id}"),
                    &[],
                    Some(("application/json", br#"{"payload": "x"}"#.to_vec())),
                );
                match response.status().as_u16() {
                    200 => acknowledged.lock().unwrap().push((id, sent)),
                    401 => refused.store(true, Ordering::Relaxed),
                    other => panic!("PUT {id}: {other}"),
                }
            }
        });
        while acknowledged.lock().unwrap().len() < 50 {
            std::thread::sleep(Duration::from_millis(5));
        }
        admin(
            &database,
            &[
                "user",
                "migrate",
                "crash@example.com",
                "http://127.0.0.1:9/elsewhere",
            ],
        );
        let migrated_at = Instant::now();
        // Keep writing well past the server's one-minute currency cache
        // would matter for writes: they must be refused at once.
        std::thread::sleep(Duration::from_millis(800));
        stop.store(true, Ordering::Relaxed);
        migrated_at
    });

    assert!(
        refused.load(Ordering::Relaxed),
        "no write was refused after the migration"
    );
    let acknowledged = acknowledged.into_inner().unwrap();
    let late: Vec<&String> = acknowledged
        .iter()
        .filter(|(_, at)| *at > migrated_at)
        .map(|(id, _)| id)
        .collect();
    assert!(
        late.is_empty(),
        "acknowledged after the migration returned: {late:?}"
    );

    // And every write acknowledged before it is stored, in the retired uid.
    drop(server);
    let db = sync_storage::db::Db::open(&database).unwrap();
    let records = db.user_records("crash@example.com").unwrap();
    let old_uid = records.iter().find(|r| r.replaced_at.is_some()).unwrap().user.uid;
    let query = sync_storage::db::CollectionQuery {
        ids_only: true,
        ..Default::default()
    };
    let page = db.get_collection(old_uid, "forms", &query).unwrap();
    let stored: Vec<&str> = page.bsos.iter().map(|b| b.id.as_str()).collect();
    for (id, _) in &acknowledged {
        assert!(
            stored.contains(&id.as_str()),
            "{id} was acknowledged but is not stored"
        );
    }
    assert_eq!(
        stored.len(),
        acknowledged.len(),
        "stored writes nobody was told of"
    );
}
