//! The account itself: a forgotten password reset in Firefox's own sign-in
//! page. The reset makes a new kB, so the token server gives the account a
//! fresh storage user; Firefox and our device each start afresh with the
//! new keys — and nothing that was on a device is lost, synced or not.

use sync_logins::LoginEntry;

use super::logins::{firefox_add_login, same_logins};
use super::{Ctx, FirefoxScenario, check};

pub(super) fn scenarios() -> Vec<FirefoxScenario> {
    vec![FirefoxScenario {
        name: "accounts: a password reset in the page; Firefox and our device start fresh and lose nothing",
        run: password_reset,
    }]
}

fn our_login(ctx: &mut Ctx<'_>, device: &str, origin: &str, username: &str) -> Result<(), String> {
    let store = ctx.device(device)?.logins.clone();
    store
        .add(LoginEntry {
            origin: origin.into(),
            form_action_origin: Some(origin.into()),
            username: username.into(),
            password: format!("{username}'s secret"),
            username_field: "user".into(),
            password_field: "pass".into(),
            ..LoginEntry::default()
        })
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn password_reset(ctx: &mut Ctx<'_>) -> Result<(), String> {
    firefox_add_login(ctx.firefox("F")?, "https://alice.example", "alice")?;
    ctx.sync_firefox("F")?;
    our_login(ctx, "A", "https://bob.example", "bob")?;
    ctx.sync_device("A")?;
    ctx.sync_firefox("F")?;
    same_logins(ctx, "F", "A")?;

    // Changes neither side has synced yet.
    firefox_add_login(ctx.firefox("F")?, "https://carol.example", "carol")?;
    our_login(ctx, "A", "https://dave.example", "dave")?;
    ctx.step("F, A", "each saves a login it does not sync yet");

    let email = ctx.world.email.clone();
    let uid = ctx
        .world
        .server
        .accounts()
        .ok_or("no accounts service")?
        .find_account(&email)
        .map_err(|e| e.to_string())?
        .ok_or("no account")?
        .uid;
    let old_records = ctx
        .world
        .server
        .db()
        .user_records(&uid)
        .map_err(|e| e.to_string())?;
    let new_password = format!("{}-new", ctx.world.password());
    let outbox = ctx.world.outbox()?.clone();
    ctx.firefox("F")?
        .reset_password_through_pages(&email, &new_password, &outbox)?;
    ctx.world.set_password(&new_password);
    ctx.step(
        "F",
        "resets the password in the page: Firefox holds the new Sync key",
    );

    ctx.sync_firefox_until_ok("F")?;
    let records = ctx
        .world
        .server
        .db()
        .user_records(&uid)
        .map_err(|e| e.to_string())?;
    check(
        !old_records.is_empty() && records.len() == old_records.len() + 1,
        format!(
            "the new keys did not get a fresh storage user: {} records",
            records.len()
        ),
    )?;

    // Our device's session ended with the reset: its next sync is refused
    // until it signs in with the new password.
    let refused = ctx.device("A")?.sync();
    check(
        refused.status != sync_manager::ServiceStatus::Ok,
        "our device synced with the old keys after the reset",
    )?;
    let account = ctx.world.account()?;
    ctx.device("A")?.sign_in_again(&account);
    ctx.step(
        "A",
        "its sync is refused; it signs in again with the new password",
    );
    ctx.sync_device("A")?;
    ctx.sync_firefox("F")?;
    let logins = same_logins(ctx, "F", "A")?;
    for who in ["alice", "bob", "carol", "dave"] {
        check(
            logins.iter().any(|l| l.contains(&format!("|{who}|"))),
            format!("{who}'s login was lost: {logins:#?}"),
        )?;
    }
    Ok(())
}
