//! The account itself: a forgotten password reset in Firefox's own sign-in
//! page. The reset makes a new kB, so the token server gives the account a
//! fresh storage user; Firefox and our device each start afresh with the
//! new keys — and nothing that was on a device is lost, synced or not.

use sync_logins::LoginEntry;

use super::logins::{firefox_add_login, same_logins};
use super::{Ctx, FirefoxScenario, check};

pub(super) fn scenarios() -> Vec<FirefoxScenario> {
    vec![
        FirefoxScenario {
            name: "accounts: a password reset in the page; Firefox and our device start fresh and lose nothing",
            run: password_reset,
        },
        FirefoxScenario {
            name: "accounts: the account page lists devices, changes the password (keys kept), deletes the account",
            run: account_page,
        },
        FirefoxScenario {
            name: "accounts: two-step authentication turned on in the account page; a new Firefox signs in with the app's code",
            run: two_step,
        },
    ]
}

/// The scenario's account as the accounts service has it, if it exists.
fn account_summary(ctx: &Ctx<'_>) -> Result<Option<sync_accounts::AccountSummary>, String> {
    ctx.world
        .server
        .accounts()
        .ok_or("no accounts service")?
        .find_account(&ctx.world.email)
        .map_err(|e| e.to_string())
}

fn account_uid(ctx: &Ctx<'_>) -> Result<String, String> {
    Ok(account_summary(ctx)?.ok_or("no account")?.uid)
}

fn account_page(ctx: &mut Ctx<'_>) -> Result<(), String> {
    firefox_add_login(ctx.firefox("F")?, "https://erin.example", "erin")?;
    ctx.sync_firefox("F")?;
    ctx.sync_device("A")?;
    let devices = ctx.firefox("F")?.devices_on_account_page()?;
    check(
        devices.iter().any(|d| d == "F (this browser)") && devices.iter().any(|d| d == "A"),
        format!("the account page lists {devices:?}"),
    )?;
    ctx.step("F", "the account page lists F (this browser) and A");

    let uid = account_uid(ctx)?;
    let records = ctx
        .world
        .server
        .db()
        .user_records(&uid)
        .map_err(|e| e.to_string())?;
    let old = ctx.world.password().to_owned();
    let new = format!("{old}-changed");
    // A sign-in from before the change, for its access token.
    let before = ctx.world.account()?;
    ctx.firefox("F")?.change_password_through_pages(&old, &new)?;
    ctx.world.set_password(&new);
    ctx.step("F", "changes the password in the account page");
    // Firefox has the new session and the same keys: it syncs on, into the
    // same storage user (nothing uploaded again).
    firefox_add_login(ctx.firefox("F")?, "https://frank.example", "frank")?;
    ctx.sync_firefox("F")?;
    let after = ctx
        .world
        .server
        .db()
        .user_records(&uid)
        .map_err(|e| e.to_string())?;
    check(
        after.len() == records.len(),
        format!(
            "a password change made a new storage user: {} → {}",
            records.len(),
            after.len()
        ),
    )?;
    // Access tokens from before the change carry the old generation: the
    // token server refuses them now that it has seen the new one (storage
    // tokens already handed out live on until they expire, as with
    // Mozilla's servers).
    let tokens = sync15::TokenClient::new(
        sync15::HttpClient::new().map_err(|e| e.to_string())?,
        ctx.world.server.url(),
    )
    .map_err(|e| e.to_string())?;
    let stale = tokens.fetch_token(&before.oauth_token, &before.root_key.key_id());
    check(
        matches!(&stale, Err(sync15::Error::TokenRejected { reason, .. }) if reason.contains("generation")),
        format!("a token from before the password change was not refused: {stale:?}"),
    )?;
    // Our device signs in again, with the same keys, and finds everything.
    let account = ctx.world.account()?;
    ctx.device("A")?.sign_in_again(&account);
    ctx.step(
        "A",
        "tokens from before the change are refused; it signs in with the new password",
    );
    ctx.sync_device("A")?;
    same_logins(ctx, "F", "A")?;

    ctx.firefox("F")?.delete_account_through_pages(&new)?;
    ctx.step("F", "deletes the account in the account page");
    let signed_in = ctx.firefox("F")?.js(
        r#"
        const { getFxAccountsSingleton } = ChromeUtils.importESModule("resource://gre/modules/FxAccounts.sys.mjs");
        const { setTimeout } = ChromeUtils.importESModule("resource://gre/modules/Timer.sys.mjs");
        const fxa = getFxAccountsSingleton();
        const deadline = Date.now() + 10000;
        while (await fxa.getSignedInUser()) {
            if (Date.now() > deadline) return true;
            await new Promise(resolve => setTimeout(resolve, 100));
        }
        return false;
        "#,
        serde_json::json!([]),
    )?;
    check(
        signed_in == serde_json::json!(false),
        "Firefox is still signed in to a deleted account",
    )?;
    let gone = ctx
        .world
        .server
        .db()
        .user_records(&uid)
        .map_err(|e| e.to_string())?;
    check(
        gone.iter().all(|r| r.replaced_at.is_some()),
        "the deleted account's storage user is still current",
    )?;
    check(account_summary(ctx)?.is_none(), "the account is still there")?;
    ctx.step(
        "F",
        "Firefox is signed out; the account and its synced data are gone",
    );
    Ok(())
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
    let uid = account_uid(ctx)?;
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

fn two_step(ctx: &mut Ctx<'_>) -> Result<(), String> {
    firefox_add_login(ctx.firefox("F")?, "https://gina.example", "gina")?;
    ctx.sync_firefox("F")?;
    let secret = ctx.firefox("F")?.enable_totp_through_pages()?;
    ctx.step("F", "turns on two-step authentication in the account page");
    let summary = account_summary(ctx)?.ok_or("no account")?;
    check(summary.totp_enabled, "two-step authentication is not on")?;

    // A new Firefox: the page asks for the app's code instead of mailing one.
    let (email, password) = (ctx.world.email.clone(), ctx.world.password().to_owned());
    let outbox = ctx.world.outbox()?.clone();
    let browser = ctx.world.firefox_signed_out("G")?;
    ctx.add_firefox("G", browser);
    ctx.firefox("G")?
        .sign_in_with_second_factor(&email, &password, &outbox, Some(&secret))?;
    ctx.step("G", "signs in through the page with the authenticator app's code");
    ctx.sync_firefox("G")?;
    let logins = super::logins::firefox_logins(ctx, "G")?;
    check(
        logins.iter().any(|l| l.contains("|gina|")),
        format!("G does not have F's login: {logins:?}"),
    )?;
    ctx.step("G", "has F's login");
    Ok(())
}
