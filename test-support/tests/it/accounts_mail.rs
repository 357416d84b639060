//! The accounts service's mail through a real SMTP conversation: lettre
//! in the server, the loopback sink here; a person signs up and in with the
//! codes read from the messages as they arrived.

use std::time::Duration;

use test_support::TestServer;
use test_support::smtp_sink::SmtpSink;

#[test]
fn codes_arrive_by_smtp_and_confirm_the_sign_up_and_a_sign_in() {
    let sink = SmtpSink::start().expect("an SMTP sink");
    let url = sink.url();
    let server = TestServer::start_with(|c| {
        c.accounts.enabled = true;
        c.accounts.scrypt_log_n = 12;
        c.accounts.email.mode = sync_accounts::config::EmailMode::Smtp;
        c.accounts.email.smtp_url = Some(url);
        c.accounts.email.from = "Sync at home <sync@home.test>".into();
    });
    let email = "mail@home.test";

    let mut fxa =
        fxa_client::FirefoxAccount::new(fxa_client::FxaConfig::new(server.url())).expect("a client");
    fxa.sign_up(email, "a fine password").expect("sign-up");
    let message = sink
        .wait_for(email, 0, Duration::from_secs(10))
        .expect("a confirmation mail");
    assert_eq!(message.from, "sync@home.test");
    assert!(
        message.header("Subject").is_some_and(|s| s.contains("Confirm")),
        "{message:?}"
    );
    assert!(
        message.header("Date").is_some() && message.header("Message-ID").is_some(),
        "{}",
        message.data
    );
    let code = message.code(6).expect("a 6-digit code in the subject");
    assert!(message.data.contains(&code), "the body carries it too");
    fxa.verify_email_code(&code).expect("confirmed");

    let seen = sink.messages().len();
    let mut second =
        fxa_client::FirefoxAccount::new(fxa_client::FxaConfig::new(server.url())).expect("a client");
    second.sign_in(email, "a fine password").expect("sign-in");
    let message = sink
        .wait_for(email, seen, Duration::from_secs(10))
        .expect("a sign-in mail");
    second
        .verify_email_code(&message.code(6).expect("a code"))
        .expect("confirmed");
    assert_eq!(
        second.sync_root_key().expect("key").key_id(),
        fxa.sync_root_key().expect("key").key_id()
    );
}
