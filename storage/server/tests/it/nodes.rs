//! Storage nodes at the token server: assignment by free capacity, draining,
//! retiring (users move on their next token), and the `sync-storage node`
//! commands. On SQLite, and on PostgreSQL when `SYNC_TEST_POSTGRES` is set.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::process::Command;

use support::TestServer;
use sync_storage::db::{Db, DbError, TokenUser, UserLookup};

fn lookup(n: usize) -> UserLookup {
    UserLookup {
        fxa_uid: format!("{n:032x}"),
        email: format!("user{n}@example.com"),
        generation: Some(1),
        keys_changed_at: Some(1),
        client_state: "aa".repeat(16),
    }
}

/// Runs `sync-storage --database <database> <args>`: whether it succeeded,
/// and what it printed.
fn cli(database: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sync-storage"))
        .arg("--database")
        .arg(database)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn node_of(db: &Db, n: usize) -> String {
    match db.allocate_user(&lookup(n)).unwrap() {
        TokenUser::Granted(user) => user.node,
        TokenUser::Refused(r) => panic!("refused: {r:?}"),
    }
}

#[test]
fn users_go_to_the_node_with_most_room_and_never_to_a_draining_or_retired_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&support::database_in(dir.path())).unwrap();
    let (a, b, c) = ("https://a.example", "https://b.example", "https://c.example");
    db.register_nodes(&[a.to_owned(), b.to_owned()]).unwrap();
    db.add_node(a, 3).unwrap();
    db.add_node(b, 1).unwrap();
    // a has 3 free, b 1: a, a, then a tie (1 and 1) goes to the first by URL.
    assert_eq!(node_of(&db, 0), a);
    assert_eq!(node_of(&db, 1), a);
    assert_eq!(node_of(&db, 2), a);
    assert_eq!(node_of(&db, 3), b);
    // Both full: no room, a typed error (the token server answers 503).
    assert!(matches!(db.allocate_user(&lookup(4)), Err(DbError::NoNode)));
    // Registering again keeps what was set.
    db.register_nodes(&[a.to_owned()]).unwrap();
    assert!(matches!(db.allocate_user(&lookup(4)), Err(DbError::NoNode)));

    db.add_node(c, 10).unwrap();
    db.drain_node(c).unwrap();
    assert!(
        matches!(db.allocate_user(&lookup(4)), Err(DbError::NoNode)),
        "c is draining"
    );
    db.add_node(c, 10).unwrap();
    assert_eq!(node_of(&db, 4), c, "adding it again lets it take users");
    // A user already assigned keeps its node and uid.
    assert_eq!(node_of(&db, 0), a);

    // Retiring a moves its three users, each to a new uid elsewhere.
    let before = match db.allocate_user(&lookup(0)).unwrap() {
        TokenUser::Granted(user) => user.uid,
        TokenUser::Refused(_) => unreachable!(),
    };
    assert_eq!(db.retire_node(a).unwrap(), 3);
    match db.allocate_user(&lookup(0)).unwrap() {
        TokenUser::Granted(user) => {
            assert_eq!(user.node, c);
            assert_ne!(user.uid, before, "a new uid: the new node starts empty");
        }
        TokenUser::Refused(r) => panic!("refused: {r:?}"),
    }
    let nodes = db.nodes().unwrap();
    let by_url = |url: &str| nodes.iter().find(|n| n.url == url).unwrap().clone();
    assert!(by_url(a).downed && by_url(a).current_load == 0);
    assert_eq!(by_url(c).current_load, 2);
    assert!(matches!(
        db.drain_node("https://nowhere.example"),
        Err(DbError::NotFound)
    ));
}

#[test]
fn a_retired_users_old_token_is_refused_and_a_new_token_finds_an_empty_node() {
    let s = TestServer::start();
    let account = s.account("moving@example.com");
    let r = account.put_json("/storage/c/x", serde_json::json!({"payload": "p"}), &[]);
    assert_eq!(r.status(), 200);
    let node = s.server.url().to_owned();
    s.server.db().retire_node(&node).unwrap();
    assert_eq!(
        account.get("/storage/c/x").status(),
        401,
        "the old uid is retired"
    );
    // No node takes users now: the token server says to come back later.
    let oauth = s.server.mint_token("moving@example.com").unwrap();
    let kb = [9u8; 32];
    let key_id = sync15::SyncRootKey::new(&kb, 1_000).unwrap().key_id();
    let refused = sync15::TokenClient::new(sync15::HttpClient::new().unwrap(), s.server.url())
        .unwrap()
        .fetch_token(&oauth, &key_id);
    assert!(refused.is_err(), "no node has room: {refused:?}");
    // The operator brings the node back: a new uid, an empty collection.
    s.server.db().add_node(&node, 100).unwrap();
    let again = s.account_with_keys("moving@example.com", &kb, 1_000);
    assert_ne!(again.token.uid, account.token.uid);
    assert_eq!(again.get("/storage/c/x").status(), 404);
}

#[test]
fn the_node_commands_add_drain_retire_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let database = support::database_in(dir.path());
    let run = |args: &[&str]| cli(&database, args);
    assert!(run(&["node", "add", "https://n1.example/", "--capacity", "5"]).0);
    assert!(run(&["node", "add", "https://n2.example"]).0);
    assert!(run(&["node", "drain", "https://n2.example"]).0);
    let (ok, listed) = run(&["node", "list"]);
    assert!(ok, "{listed}");
    let line = |url: &str| {
        listed
            .lines()
            .find(|l| l.starts_with(url))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(line("https://n1.example").contains("taking users"), "{listed}");
    assert!(
        line("https://n1.example").split_whitespace().any(|w| w == "5"),
        "{listed}"
    );
    assert!(line("https://n2.example").contains("draining"), "{listed}");
    let (ok, said) = run(&["node", "retire", "https://n1.example"]);
    assert!(ok && said.contains("0 users"), "{said}");
    assert!(
        run(&["node", "list"])
            .1
            .lines()
            .any(|l| l.starts_with("https://n1.example") && l.contains("down"))
    );
    let (ok, said) = run(&["node", "retire", "https://nowhere.example"]);
    assert!(!ok && said.contains("no node https://nowhere.example"), "{said}");
    assert!(!run(&["node", "add", "not a url"]).0);
}

#[test]
fn deleting_an_account_clears_its_data_and_its_next_token_starts_afresh() {
    let s = TestServer::start();
    let kb = [5u8; 32];
    let account = s.account_with_keys("leaving@example.com", &kb, 1_000);
    let r = account.put_json("/storage/c/x", serde_json::json!({"payload": "p"}), &[]);
    assert_eq!(r.status(), 200);
    let db = s.server.db();
    assert_eq!(db.delete_account("leaving@example.com").unwrap(), 1);
    assert_eq!(
        account.get("/storage/c/x").status(),
        401,
        "the old uid is retired"
    );
    let records = db.user_records("leaving@example.com").unwrap();
    assert_eq!(records.len(), 1);
    assert!(records[0].replaced_at.is_some());
    let again = s.account_with_keys("leaving@example.com", &kb, 1_000);
    assert_ne!(again.token.uid, account.token.uid);
    assert_eq!(again.get("/storage/c/x").status(), 404, "nothing left");
    assert!(matches!(
        db.delete_account("nobody@example.com"),
        Err(DbError::NotFound)
    ));
}

#[test]
fn the_user_commands_show_migrate_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let database = support::database_in(dir.path());
    {
        let db = Db::open(&database).unwrap();
        db.add_node("https://n1.example", 10).unwrap();
        node_of(&db, 1);
    }
    let fxa_uid = lookup(1).fxa_uid;
    let run = |args: &[&str]| cli(&database, args);
    let (ok, shown) = run(&["user", "show", "user1@example.com"]);
    assert!(
        ok && shown.contains("https://n1.example") && shown.contains("current"),
        "{shown}"
    );
    let (ok, said) = run(&["user", "migrate", &fxa_uid, "https://n2.example"]);
    assert!(!ok && said.contains("not a node in service"), "{said}");
    assert!(run(&["node", "add", "https://n2.example"]).0);
    let (ok, said) = run(&["user", "migrate", &fxa_uid, "https://n2.example"]);
    assert!(ok && said.contains("on https://n2.example"), "{said}");
    let (_, shown) = run(&["user", "show", &fxa_uid]);
    let current: Vec<&str> = shown.lines().filter(|l| l.ends_with("current")).collect();
    assert_eq!(current.len(), 1, "{shown}");
    assert!(current[0].contains("https://n2.example"), "{shown}");
    let (ok, said) = run(&["user", "delete", &fxa_uid]);
    assert!(ok && said.contains("2 uids"), "{said}");
    let (ok, said) = run(&["user", "show", "nobody@example.com"]);
    assert!(!ok && said.contains("no account"), "{said}");
}
