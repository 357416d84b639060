//! Signing in (a Firefox Account with an emailed code, or a token from our
//! own server), syncing, a second profile seeing the first's data, and the
//! errors a person meets: the real binary against the in-process server
//! and its own accounts service, on loopback.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::io::Write as _;
use std::time::Duration;

use common::{Profile, Run, finish};
use test_support::TestServer;

/// Our server with its accounts service; `confirm_sign_ins`: every
/// sign-in is confirmed with an emailed code.
fn fxa_world(confirm_sign_ins: bool) -> TestServer {
    TestServer::with_accounts(|c| c.accounts.confirm_sign_ins = confirm_sign_ins)
}

/// An account, signed up (and its address confirmed) with our client.
fn create_account(server: &TestServer, email: &str, password: &str) {
    server.sign_up(email, password).unwrap();
}

/// How many sessions the account has at the accounts service.
fn session_count(server: &TestServer, email: &str) -> usize {
    server
        .accounts()
        .unwrap()
        .find_account(email)
        .unwrap()
        .map_or(0, |a| a.sessions)
}

/// `login EMAIL`, answering the password and then the emailed code on
/// standard input, as a person at the prompts would.
fn login_with_code(profile: &Profile, server: &TestServer, email: &str, password: &str, device: &str) -> Run {
    let outbox = server.outbox().unwrap().clone();
    let seen = outbox.count();
    let accounts_url = server.url().to_owned();
    let mut child = profile.spawn(&[
        "login",
        email,
        "--server",
        server.url(),
        "--accounts-server",
        &accounts_url,
        "--device-name",
        device,
    ]);
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{password}").unwrap();
    // The code is emailed when the password is accepted.
    let code = outbox
        .wait_for_code(email, seen, Duration::from_secs(30))
        .expect("the sign-in never reached the accounts service");
    writeln!(stdin, "{code}").unwrap();
    drop(stdin);
    finish(child)
}

#[test]
fn a_person_signs_in_with_an_emailed_code_syncs_and_a_second_profile_sees_the_data() {
    let server = fxa_world(true);
    let email = "person@example.test";
    create_account(&server, email, "correct horse");

    let laptop = Profile::new();
    let run = login_with_code(&laptop, &server, email, "correct horse", "laptop").ok();
    run.stdout_has("Signed in as person@example.test");
    run.stderr_has("Enter the code emailed to you");
    #[cfg(unix)]
    {
        assert_eq!(common::mode(&laptop.path()), 0o700);
        assert_eq!(common::mode(&laptop.path().join("account.json")), 0o600);
    }
    // The password is nowhere in the profile.
    let account = std::fs::read_to_string(laptop.path().join("account.json")).unwrap();
    assert!(!account.contains("correct horse"));

    laptop
        .run(&[
            "bookmarks",
            "add",
            "https://www.mozilla.org/",
            "--title",
            "Mozilla",
            "--folder",
            "toolbar",
            "--tags",
            "moz",
        ])
        .ok();
    laptop
        .run(&[
            "passwords",
            "add",
            "--origin",
            "https://accounts.example.com",
            "--username",
            "me",
            "--password",
            "s3cret",
        ])
        .ok();
    let sync = laptop.run(&["--json", "sync"]).ok().json();
    assert_eq!(sync["status"], "ok", "{sync}");
    assert_eq!(sync["engines"]["bookmarks"]["status"], "ok", "{sync}");
    assert!(
        sync["engines"]["passwords"]["uploaded"].as_u64().unwrap() >= 1,
        "{sync}"
    );
    // The table form, and the progress display on standard error.
    let table = laptop.run(&["sync"]).ok();
    assert!(
        table.stdout.lines().next().unwrap().starts_with("engine"),
        "{}",
        table.stdout
    );
    table.stdout_has("bookmarks");
    #[cfg(unix)]
    for file in [
        "logins.db",
        "bookmarks.db",
        "history.db",
        "tabs.db",
        "clients.db",
        "sync-state.json",
        "logins.key",
    ] {
        assert_eq!(common::mode(&laptop.path().join(file)), 0o600, "{file}");
    }

    let status = laptop.run(&["--json", "status"]).ok().json();
    assert_eq!(status["email"], email);
    assert_eq!(status["device_name"], "laptop");
    assert_eq!(status["token_server"], server.url());
    assert!(status["last_sync"].as_i64().unwrap() > 0, "{status}");
    assert_eq!(status["engines"]["bookmarks"]["outcome"], "ok", "{status}");
    let human = laptop.run(&["status"]).ok();
    human.stdout_has("person@example.test (firefox-account)");

    // A second computer signs in to the same account and gets it all.
    let desktop = Profile::new();
    login_with_code(&desktop, &server, email, "correct horse", "desktop").ok();
    desktop.run(&["sync"]).ok();
    let bookmarks = desktop
        .run(&["--json", "bookmarks", "list", "--folder", "toolbar"])
        .ok()
        .json();
    assert_eq!(bookmarks[0]["url"], "https://www.mozilla.org/", "{bookmarks}");
    assert_eq!(bookmarks[0]["tags"][0], "moz", "{bookmarks}");
    let logins = desktop
        .run(&["--json", "passwords", "get", "accounts.example.com"])
        .ok()
        .json();
    assert_eq!(logins[0]["entry"]["password"], "s3cret", "{logins}");
    let devices = desktop.run(&["--json", "devices"]).ok().json();
    let names: Vec<&str> = devices
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["desktop", "laptop"], "{devices}");

    // Signing out forgets everything local.
    desktop.run(&["logout"]).ok();
    assert!(!desktop.path().join("account.json").exists());
    assert!(!desktop.path().join("logins.db").exists());
    desktop.run(&["sync"]).failed_with(3);
}

#[test]
fn an_ended_session_says_to_sign_in_again() {
    let server = fxa_world(false);
    let email = "ended@example.test";
    create_account(&server, email, "pw one");
    let profile = Profile::new();
    let accounts_url = server.url().to_owned();
    profile
        .password_login(&accounts_url, server.url(), email, "pw one")
        .ok();
    profile.run(&["sync"]).ok();
    // A password reset elsewhere ends this device's session and refresh
    // token; an hour later its access token expires too (the hour passes
    // here by ageing the cached token in the account file).
    let outbox = server.outbox().unwrap().clone();
    let seen = outbox.count();
    let mut elsewhere = fxa_client::FirefoxAccount::new(fxa_client::FxaConfig::new(server.url())).unwrap();
    elsewhere.forgot_password(email).unwrap();
    let code = outbox
        .wait_for_code(email, seen, Duration::from_secs(10))
        .unwrap();
    elsewhere.reset_password(email, &code, "pw two").unwrap();
    let path = profile.path().join("account.json");
    let mut stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    stored["state"]["access_token"]["expires_at"] = 1.into();
    std::fs::write(&path, stored.to_string()).unwrap();
    let run = profile.run(&["sync"]).failed_with(3);
    assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
    run.stderr_has("run `firefox-sync login`");
    // `status` asks the accounts service, and says so too.
    let run = profile.run(&["status"]).failed_with(3);
    run.stderr_has("the session has ended");

    // A wrong password is an authentication error with its own hint.
    let run = Profile::new()
        .password_login(&accounts_url, server.url(), email, "pw one")
        .failed_with(3);
    run.stderr_has("check the email and password");
}

#[test]
fn a_token_from_our_own_server_works_offline() {
    let server = TestServer::start();
    let account = server.new_account("offline@example.test");
    let profile = Profile::new();
    profile.token_login(&account, "offline").ok();
    profile
        .run(&["bookmarks", "add", "https://example.org/", "--title", "Ex"])
        .ok();
    let sync = profile
        .run(&["--json", "sync", "--engines", "bookmarks"])
        .ok()
        .json();
    assert_eq!(sync["engines"]["bookmarks"]["status"], "ok", "{sync}");
    assert_eq!(
        sync["engines"]["passwords"]["status"], "skipped",
        "only what was asked: {sync}"
    );
    let status = profile.run(&["--json", "status"]).ok().json();
    assert_eq!(status["kind"], "token");

    // What the server holds is what a second device decrypts.
    let mut other = test_support::Device::new("other", &account);
    other.sync();
    assert_eq!(other.bookmarks.search("example.org", 5).unwrap()[0].title, "Ex");
}

#[test]
fn errors_are_one_line_with_an_exit_code_and_a_hint() {
    let profile = Profile::new();
    let run = profile.run(&["sync"]).failed_with(3);
    assert_eq!(
        run.stderr.trim(),
        "error: not signed in (run `firefox-sync login`)"
    );

    let run = profile.run(&["sync", "--engines", "nonsense"]).failed_with(1);
    assert!(
        run.stderr
            .contains("choose from bookmarks, passwords, history, tabs"),
        "{}",
        run.stderr
    );

    // A server that is not there: exit 4.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    profile
        .run(&[
            "login",
            "--token",
            "t",
            "--kb",
            &"ab".repeat(32),
            "--server",
            &url,
        ])
        .ok();
    let run = profile.run(&["sync"]).failed_with(4);
    run.stderr_has("try again later");

    let run = profile
        .run(&["login", "--token", "t", "--kb", "not hex"])
        .failed_with(1);
    run.stderr_has("--kb");

    // Bad usage is clap's exit 2.
    assert_eq!(profile.run(&["bookmarks", "frobnicate"]).code, 2);
}

/// `login --token` without an email says whose token it is, from the
/// token's own `email` claim (`sync-storage mint-token` puts it there), or
/// that it signed in with a token that names nobody.
#[test]
fn a_token_login_names_the_account_in_the_token() {
    let server = TestServer::start();
    let account = server.new_account("named@example.test");
    let kb = account.root_key.to_hex().unwrap();
    let login = |profile: &Profile, token: &str| {
        profile.run(&[
            "login",
            "--token",
            token,
            "--kb",
            &kb,
            "--server",
            &account.token_server_url,
        ])
    };
    let profile = Profile::new();
    login(&profile, &account.oauth_token)
        .ok()
        .stdout_has("Signed in as named@example.test.");
    let status = profile.run(&["--json", "status"]).ok().json();
    assert_eq!(status["email"], "named@example.test", "{status}");

    login(&Profile::new(), "not-a-jwt")
        .ok()
        .stdout_has("Signed in with the token (it names no email).");
}

/// A reader that stops early (`| head`) ends the command quietly with 0,
/// not a panic (101) on the broken pipe.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let profile = Profile::new();
    let file = profile.file("many.html");
    let mut html = String::from("<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<DL><p>\n");
    for i in 0..2_000 {
        html.push_str(&format!(
            "<DT><A HREF=\"https://many.example/{i}\">Bookmark number {i}</A>\n"
        ));
    }
    html.push_str("</DL><p>\n");
    common::write(&file, &html);
    profile.run(&["bookmarks", "import", file.to_str().unwrap()]).ok();
    for args in [
        &["--json", "bookmarks", "list"][..],
        &["bookmarks", "list"][..],
        &["bookmarks", "export", "--format", "html"][..],
    ] {
        let mut child = profile.spawn(args);
        drop(child.stdin.take());
        // Read the start, as `head` does, then go away.
        let mut stdout = child.stdout.take().unwrap();
        let mut start = [0u8; 16];
        std::io::Read::read_exact(&mut stdout, &mut start).unwrap();
        drop(stdout);
        let run = finish(child);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr, "", "{args:?}");
    }
}

#[test]
fn a_wrong_unblock_code_is_asked_again_and_a_given_up_sign_in_ends_its_session() {
    let server = fxa_world(false);
    let email = "blocked@example.test";
    create_account(&server, email, "pw");
    // Five wrong passwords block the next sign-in until an emailed code.
    for _ in 0..5 {
        let mut guess = fxa_client::FirefoxAccount::new(fxa_client::FxaConfig::new(server.url())).unwrap();
        assert!(guess.sign_in(email, "wrong").is_err());
    }
    let outbox = server.outbox().unwrap().clone();
    let seen = outbox.count();
    let profile = Profile::new();
    let accounts_url = server.url().to_owned();
    let mut child = profile.spawn(&[
        "login",
        email,
        "--server",
        server.url(),
        "--accounts-server",
        &accounts_url,
    ]);
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "pw").unwrap();
    let code = outbox
        .wait_for_code(email, seen, Duration::from_secs(30))
        .expect("no unblock code was sent");
    writeln!(stdin, "WRONG1").unwrap();
    writeln!(stdin, "{code}").unwrap();
    drop(stdin);
    let run = finish(child).ok();
    run.stderr_has("that unblock code is wrong or has expired; try again");
    profile.run(&["status"]).ok().stdout_has("active");

    // Walking away at the code prompt (its input ends) leaves no session.
    let server = fxa_world(true);
    let accounts_url = server.url().to_owned();
    let confirm = "confirm@example.test";
    create_account(&server, confirm, "pw");
    let before = session_count(&server, confirm);
    Profile::new()
        .run_with_input(
            &[
                "login",
                confirm,
                "--server",
                server.url(),
                "--accounts-server",
                &accounts_url,
            ],
            "pw\n",
        )
        .failed_with(1);
    assert_eq!(session_count(&server, confirm), before);
}
