//! Three storage nodes (each a `storage-only` server with a database of its
//! own) behind one token-only server; one node is retired while people keep
//! using their devices. Tokens live 2 s here, so every device soon asks the
//! token server again, as real ones do within the hour: the retired node's
//! people get a new, empty node, upload again, and every device converges
//! with nothing lost.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use sync_bookmarks::{MENU_GUID, NewItem};
use sync_manager::ServiceStatus;
use sync_storage::config::Role;
use test_support::{Device, TestServer};

const PEOPLE: usize = 6;

fn synced(device: &mut Device) {
    let result = device.sync();
    assert_eq!(
        result.status,
        ServiceStatus::Ok,
        "{}: {:?}",
        device.name,
        result.error
    );
}

fn bookmark(device: &Device, title: &str) {
    device
        .bookmarks
        .insert(
            MENU_GUID,
            None,
            NewItem::Bookmark {
                url: format!("https://{title}.example/"),
                title: title.to_owned(),
            },
        )
        .unwrap();
}

fn titles(device: &Device) -> BTreeSet<String> {
    let menu = device.bookmarks.get_tree(MENU_GUID).unwrap().unwrap();
    menu.children.into_iter().map(|c| c.item.title).collect()
}

#[test]
fn three_nodes_one_retired_mid_way_every_device_converges_with_nothing_lost() {
    let secret = "three-nodes-shared-secret".to_owned();
    let nodes: Vec<TestServer> = (0..3)
        .map(|_| {
            let secret = secret.clone();
            TestServer::start_with(move |c| {
                c.role = Role::StorageOnly;
                c.master_secret.0 = vec![secret];
            })
        })
        .collect();
    let urls: Vec<String> = nodes.iter().map(|n| n.url().to_owned()).collect();
    let tokens = {
        let urls = urls.clone();
        TestServer::start_with(move |c| {
            c.role = Role::TokenOnly;
            c.master_secret.0 = vec![secret];
            c.nodes = urls;
            c.token_duration_secs = 2;
        })
    };

    // Six people with two devices each; the first device of each adds a
    // bookmark and both sync.
    let mut people: Vec<(String, Device, Device)> = (0..PEOPLE)
        .map(|p| {
            let email = format!("person{p}@example.com");
            let account = tokens.new_account(&email);
            (
                email,
                Device::new(&format!("{p}A"), &account),
                Device::new(&format!("{p}B"), &account),
            )
        })
        .collect();
    for (email, a, b) in &mut people {
        bookmark(a, &format!("{}-first", &email[..7]));
        synced(a);
        synced(b);
        assert_eq!(titles(a), titles(b));
    }
    let loads: Vec<i64> = tokens
        .db()
        .nodes()
        .unwrap()
        .iter()
        .map(|n| n.current_load)
        .collect();
    assert_eq!(loads, [2, 2, 2], "new people go where there is most room");

    // The operator retires a node while its people are mid-use.
    let retired = urls[0].clone();
    assert_eq!(tokens.db().retire_node(&retired).unwrap(), 2);
    for (email, a, b) in &mut people {
        bookmark(a, &format!("{}-second", &email[..7]));
        bookmark(b, &format!("{}-third", &email[..7]));
    }
    // Every token issued so far expires.
    std::thread::sleep(std::time::Duration::from_millis(2_500));
    for (_, a, b) in &mut people {
        synced(a);
        synced(b);
        synced(a);
    }

    let loads: Vec<(String, i64, bool)> = tokens
        .db()
        .nodes()
        .unwrap()
        .into_iter()
        .map(|n| (n.url, n.current_load, n.downed))
        .collect();
    assert!(
        loads
            .iter()
            .any(|(url, load, down)| *url == retired && *load == 0 && *down),
        "{loads:?}"
    );
    assert_eq!(
        loads.iter().map(|(_, load, _)| load).sum::<i64>(),
        PEOPLE as i64,
        "{loads:?}"
    );
    for (email, a, b) in &people {
        let current: Vec<_> = tokens
            .db()
            .user_records(email)
            .unwrap()
            .into_iter()
            .filter(|r| r.replaced_at.is_none())
            .collect();
        assert_eq!(current.len(), 1);
        assert_ne!(
            current[0].user.node, retired,
            "{email} moved off the retired node"
        );
        let expected: BTreeSet<String> = ["first", "second", "third"]
            .iter()
            .map(|what| format!("{}-{what}", &email[..7]))
            .collect();
        assert_eq!(titles(a), expected, "{email}: device A has everything");
        assert_eq!(titles(b), expected, "{email}: device B has everything");
    }
}
