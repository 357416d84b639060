//! The main job: a real sync between two simulated devices through the
//! embedded server, showing what each side and the server hold.
//! Run it with `cargo run --release -p xtask -- demo`.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use fxa_client::{FirefoxAccount, FxaConfig, SignInStatus};
use sync_bookmarks::{BookmarkNode, ItemUpdate, MENU_GUID, NewItem, TOOLBAR_GUID};
use sync_clients::Command;
use sync_history::VisitTransition;
use sync_logins::LoginEntry;
use sync_tabs::LocalTab;
use test_support::{Device, TestAccount, TestServer};

fn step(n: usize, total: usize, what: &str) {
    println!("[{n}/{total}] {what}");
}

/// Signs a device in as a person would: email and password, then the code
/// the accounts service emailed (caught here instead of an inbox).
fn sign_in(server: &TestServer, email: &str, password: &str) -> TestAccount {
    let outbox = server.outbox().expect("the accounts service");
    let seen = outbox.count();
    let mut fxa = FirefoxAccount::new(FxaConfig::new(server.url())).expect("an accounts client");
    let mut status = fxa.sign_in(email, password).expect("sign-in");
    if status == SignInStatus::NeedsEmailCode {
        let code = outbox
            .wait_for_code(email, seen, std::time::Duration::from_secs(10))
            .expect("the emailed code");
        println!("      the accounts service emailed a code ({code}); confirming");
        status = fxa.verify_email_code(&code).expect("the code");
    }
    assert_eq!(status, SignInStatus::SignedIn);
    let account = TestAccount::signed_in(&mut fxa, server.url()).expect("tokens and keys");
    println!("      signed in; sync key id {}", account.root_key.key_id());
    account
}

fn main() {
    const STEPS: usize = 7;
    step(
        1,
        STEPS,
        "starting the server: Firefox Accounts, token server and SyncStorage 1.5 in one process, one SQLite file",
    );
    let server = TestServer::with_accounts(|_| {});
    let email = "demo@example.com";
    let password = "correct horse battery staple";
    server.sign_up(email, password).expect("the account is created");
    println!(
        "      accounts, token server and storage at {}; {email} signed up",
        server.url()
    );

    step(
        2,
        STEPS,
        "signing two devices, \"Laptop\" and \"Phone\", in with email and password",
    );
    // Every device carries the real engines: clients, tabs, passwords,
    // history and bookmarks.
    let account = sign_in(&server, email, password);
    let mut laptop = Device::new("Laptop", &account);
    let mut phone = Device::new("Phone", &sign_in(&server, email, password));

    step(
        3,
        STEPS,
        "putting data on the Laptop: its device record, two logins, two open tabs, history, bookmarks",
    );
    for (origin, username, password) in [
        (
            "https://accounts.example.com",
            "alice",
            "correct horse battery staple",
        ),
        ("https://bank.example", "alice.smith", "Tr0ub4dor&3"),
    ] {
        laptop
            .logins
            .add(LoginEntry {
                origin: origin.into(),
                form_action_origin: Some(origin.into()),
                username_field: "username".into(),
                password_field: "password".into(),
                username: username.into(),
                password: password.into(),
                ..Default::default()
            })
            .unwrap();
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for (url, title, minutes_ago, how) in [
        ("https://www.mozilla.org/", "Mozilla", 90, VisitTransition::Typed),
        (
            "https://www.mozilla.org/firefox/sync/",
            "Firefox Sync",
            60,
            VisitTransition::Link,
        ),
        (
            "https://www.mozilla.org/firefox/sync/",
            "Firefox Sync",
            1,
            VisitTransition::Reload,
        ),
    ] {
        laptop
            .history
            .record_visit(url, now_ms * 1000 - minutes_ago * 60_000_000, how)
            .unwrap();
        laptop.history.set_title(url, title).unwrap();
    }
    laptop
        .tabs
        .set_local_tabs(vec![
            LocalTab {
                title: "Firefox Sync".into(),
                url_history: vec!["https://www.mozilla.org/firefox/sync/".into()],
                icon: None,
                last_used_ms: now_ms,
                pinned: false,
                inactive: false,
            },
            LocalTab {
                title: "Settings".into(),
                url_history: vec!["about:preferences".into()],
                icon: None,
                last_used_ms: now_ms - 60_000,
                pinned: false,
                inactive: false,
            },
        ])
        .unwrap();
    let reading = laptop
        .bookmarks
        .insert(
            TOOLBAR_GUID,
            None,
            NewItem::Folder {
                title: "Reading".into(),
            },
        )
        .unwrap();
    for (url, title) in [
        ("https://www.rust-lang.org/learn", "Learn Rust"),
        (
            "https://mozilla-services.readthedocs.io/en/latest/storage/",
            "SyncStorage API",
        ),
    ] {
        laptop
            .bookmarks
            .insert(
                &reading,
                None,
                NewItem::Bookmark {
                    url: url.into(),
                    title: title.into(),
                },
            )
            .unwrap();
    }
    let news = laptop
        .bookmarks
        .insert(
            MENU_GUID,
            None,
            NewItem::Bookmark {
                url: "https://news.example/".into(),
                title: "News".into(),
            },
        )
        .unwrap();
    laptop
        .bookmarks
        .update(
            &news,
            ItemUpdate {
                tags: Some(vec!["daily".into()]),
                keyword: Some(Some("n".into())),
                ..ItemUpdate::default()
            },
        )
        .unwrap();

    step(4, STEPS, "syncing the Laptop, then the Phone");
    for (name, device) in [("Laptop", &mut laptop), ("Phone", &mut phone)] {
        let result = device.sync();
        let engines: Vec<String> = result
            .engines
            .iter()
            .map(|(e, r)| format!("{e}: ↓{} ↑{}", r.downloaded, r.uploaded))
            .collect();
        println!(
            "      {name}: {:?} in {} ms, {} requests ({})",
            result.status,
            result.took_ms,
            result.requests,
            engines.join(", ")
        );
    }
    laptop.sync();

    step(5, STEPS, "what the Phone now has");
    for device in phone.clients.devices().unwrap() {
        println!("      other device: {} ({})", device.name, device.device_type);
    }
    for login in phone.logins.list().unwrap() {
        println!(
            "      login: {} as {} (password of {} characters)",
            login.entry.origin,
            login.entry.username,
            login.entry.password.chars().count()
        );
    }
    for device in phone.tabs.remote_tabs().unwrap() {
        for tab in device.tabs {
            println!("      tab open on {}: {}", device.device_name, tab.url_history[0]);
        }
    }
    println!("      (the Laptop's about:preferences tab stayed on the Laptop)");
    for page in phone
        .history
        .query("https://", sync_history::QueryMatch::UrlPrefix, 10, 0)
        .unwrap()
    {
        println!(
            "      history: {} \"{}\" ({} visits, frecency {})",
            page.url, page.title, page.visit_count, page.frecency
        );
    }
    fn print_tree(node: &BookmarkNode, depth: usize) {
        for child in &node.children {
            let item = &child.item;
            match &item.url {
                Some(url) => println!(
                    "      {:indent$}bookmark \"{}\" {url}{}",
                    "",
                    item.title,
                    if item.tags.is_empty() {
                        String::new()
                    } else {
                        format!(" tags {:?}", item.tags)
                    },
                    indent = depth * 2
                ),
                None => println!(
                    "      {:indent$}folder \"{}\"",
                    "",
                    item.title,
                    indent = depth * 2
                ),
            }
            print_tree(child, depth + 1);
        }
    }
    for (name, root) in [("menu", MENU_GUID), ("toolbar", TOOLBAR_GUID)] {
        println!("      bookmarks {name}:");
        print_tree(&phone.bookmarks.get_tree(root).unwrap().unwrap(), 1);
    }

    step(6, STEPS, "sending a tab from the Laptop to the Phone");
    let phone_id = phone.clients.client_id().unwrap();
    laptop
        .clients
        .send_command(
            phone_id.as_str(),
            &Command::DisplayUri {
                uri: "https://www.mozilla.org/firefox/".into(),
                sender: laptop.clients.client_id().unwrap().to_string(),
                title: "Firefox".into(),
            },
        )
        .unwrap();
    laptop.sync();
    phone.sync();
    for command in phone.clients.take_app_commands().unwrap() {
        println!("      the Phone received: {command:?}");
    }

    step(
        7,
        STEPS,
        "what the server holds (ciphertext only, except meta/global)",
    );
    let raw = account.raw();
    for collection in raw.collections() {
        let bsos = raw.bsos(&collection);
        let sample = bsos
            .first()
            .map(|b| b.payload.chars().take(72).collect::<String>())
            .unwrap_or_default();
        println!("      {collection:<8} {} record(s), e.g. {sample}…", bsos.len());
    }
    println!("done: two devices in sync through {}", server.url());
}
