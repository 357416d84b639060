//! Password scenarios, after Firefox's TPS password tests.

use serde_json::json;
use sync_logins::{Login, LoginEntry};

use super::{Ctx, Scenario, check, fail, scenario};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        scenario(
            "passwords: add, modify and delete across devices",
            add_modify_delete,
        ),
        scenario(
            "passwords: form and realm logins keep their targets",
            form_and_realm,
        ),
        scenario(
            "passwords: the same login added on two devices before their first sync is one record",
            same_login_added_twice,
        ),
        scenario(
            "passwords: a password change propagates",
            password_change_propagates,
        ),
        scenario(
            "passwords: conflicting edits of different fields both survive",
            conflicting_edits_merge,
        ),
        scenario("passwords: unknown fields round-trip", unknown_fields_round_trip),
    ]
}

fn form(origin: &str, username: &str, password: &str) -> LoginEntry {
    LoginEntry {
        origin: origin.into(),
        form_action_origin: Some(origin.into()),
        http_realm: None,
        username_field: "user".into(),
        password_field: "pass".into(),
        username: username.into(),
        password: password.into(),
    }
}

fn realm(origin: &str, realm: &str, username: &str, password: &str) -> LoginEntry {
    LoginEntry {
        origin: origin.into(),
        form_action_origin: None,
        http_realm: Some(realm.into()),
        username_field: String::new(),
        password_field: String::new(),
        username: username.into(),
        password: password.into(),
    }
}

fn add(ctx: &mut Ctx<'_>, device: &str, entry: LoginEntry) -> Result<Login, String> {
    let what = format!("add login {}@{}", entry.username, entry.origin);
    let login = ctx.logins(device)?.add(entry).map_err(fail)?;
    ctx.step(device, &what);
    Ok(login)
}

fn list(ctx: &mut Ctx<'_>, device: &str) -> Result<Vec<Login>, String> {
    ctx.logins(device)?.list().map_err(fail)
}

/// Every device holds exactly `expected` (same ids, same entries).
fn verify_same(ctx: &mut Ctx<'_>, devices: &[&str], expected: &[Login]) -> Result<(), String> {
    let key = |l: &Login| (l.guid.to_string(), l.entry.clone());
    let mut want: Vec<_> = expected.iter().map(key).collect();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    for device in devices {
        let mut have: Vec<_> = list(ctx, device)?.iter().map(key).collect();
        have.sort_by(|a, b| a.0.cmp(&b.0));
        check(have == want, format!("{device} has {have:?}, expected {want:?}"))?;
    }
    ctx.step(
        &devices.join(","),
        &format!("verify: {} logins, identical", expected.len()),
    );
    Ok(())
}

fn add_modify_delete(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.add_device("B");
    let one = add(ctx, "A", form("https://one.example", "alice", "pw-1"))?;
    let two = add(ctx, "A", form("https://two.example", "bob", "pw-2"))?;
    ctx.sync("A")?;
    ctx.sync("B")?;
    verify_same(ctx, &["A", "B"], &[one.clone(), two.clone()])?;

    let mut changed = one.entry.clone();
    changed.username = "alice2".into();
    let one = ctx
        .logins("B")?
        .update(one.guid.as_str(), changed)
        .map_err(fail)?;
    ctx.step("B", "modify: rename alice to alice2");
    ctx.logins("B")?.delete(two.guid.as_str()).map_err(fail)?;
    ctx.step("B", "delete bob's login");
    ctx.sync("B")?;
    ctx.sync("A")?;
    verify_same(ctx, &["A", "B"], &[one])?;
    let tombstone = ctx
        .account
        .cleartext("passwords", two.guid.as_str())
        .ok_or("no record for bob")?;
    check(
        tombstone["deleted"] == json!(true),
        format!("server has {tombstone}"),
    )
}

fn form_and_realm(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.add_device("B");
    let a = add(ctx, "A", form("https://site.example", "u", "form-pw"))?;
    let b = add(
        ctx,
        "A",
        realm("https://site.example", "Admin area", "u", "realm-pw"),
    )?;
    ctx.sync("A")?;
    ctx.sync("B")?;
    verify_same(ctx, &["A", "B"], &[a.clone(), b.clone()])?;
    let record = ctx
        .account
        .cleartext("passwords", b.guid.as_str())
        .ok_or("realm login missing")?;
    check(
        record["httpRealm"] == json!("Admin area") && record["formSubmitURL"].is_null(),
        format!("realm login on the server: {record}"),
    )?;
    let record = ctx
        .account
        .cleartext("passwords", a.guid.as_str())
        .ok_or("form login missing")?;
    check(
        record["formSubmitURL"] == json!("https://site.example") && record["httpRealm"].is_null(),
        format!("form login on the server: {record}"),
    )
}

fn same_login_added_twice(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.add_device("B");
    add(ctx, "A", form("https://same.example", "carol", "from-A"))?;
    add(ctx, "B", form("https://same.example", "carol", "from-B"))?;
    ctx.sync("A")?;
    ctx.sync("B")?;
    ctx.sync("A")?;
    let on_server = ctx.account.raw().bsos("passwords").len();
    check(on_server == 1, format!("{on_server} records on the server"))?;
    let logins = list(ctx, "A")?;
    check(logins.len() == 1, format!("A has {logins:?}"))?;
    verify_same(ctx, &["A", "B"], &logins)
}

fn password_change_propagates(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.add_device("B");
    ctx.add_device("C");
    let login = add(ctx, "A", form("https://bank.example", "dave", "old-password"))?;
    for device in ["A", "B", "C"] {
        ctx.sync(device)?;
    }
    let mut entry = login.entry.clone();
    entry.password = "new-password".into();
    ctx.logins("C")?
        .update(login.guid.as_str(), entry)
        .map_err(fail)?;
    ctx.step("C", "change the password");
    for device in ["C", "A", "B"] {
        ctx.sync(device)?;
    }
    for device in ["A", "B"] {
        let got = ctx
            .logins(device)?
            .get(login.guid.as_str())
            .map_err(fail)?
            .ok_or("login gone")?;
        check(
            got.entry.password == "new-password",
            format!("{device} has {:?}", got.entry.password),
        )?;
        check(
            got.time_password_changed > login.time_password_changed,
            format!("{device}: timePasswordChanged did not move"),
        )?;
    }
    ctx.step("A,B", "verify: the new password everywhere");
    Ok(())
}

fn conflicting_edits_merge(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.add_device("B");
    let login = add(ctx, "A", form("https://shop.example", "erin", "pw-0"))?;
    ctx.sync("A")?;
    ctx.sync("B")?;
    let mut on_a = login.entry.clone();
    on_a.password = "pw-from-A".into();
    ctx.logins("A")?.update(login.guid.as_str(), on_a).map_err(fail)?;
    ctx.step("A", "change the password");
    let mut on_b = login.entry.clone();
    on_b.username_field = "email".into();
    ctx.logins("B")?.update(login.guid.as_str(), on_b).map_err(fail)?;
    ctx.step("B", "change the username field");
    ctx.sync("A")?;
    ctx.sync("B")?;
    ctx.sync("A")?;
    let mut merged = login.clone();
    merged.entry.password = "pw-from-A".into();
    merged.entry.username_field = "email".into();
    verify_same(ctx, &["A", "B"], &[merged])
}

fn unknown_fields_round_trip(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.sync("A")?;
    let record = json!({
        "id": "{0c8a3e5d-7f1b-4e2a-9c6d-3b5f7a9e1c2d}",
        "hostname": "https://future.example",
        "formSubmitURL": "https://future.example",
        "httpRealm": null,
        "username": "frank",
        "password": "pw",
        "usernameField": "u",
        "passwordField": "p",
        "timeCreated": 1_700_000_000_000i64,
        "timePasswordChanged": 1_700_000_000_000i64,
        "timeLastUsed": 1_700_000_000_000i64,
        "timesUsed": 1,
        "futureField": {"kept": [1, 2, 3]},
    });
    ctx.account.put_cleartext("passwords", &record);
    ctx.step(
        "server",
        "a newer client writes a login with a field we do not know",
    );
    ctx.sync("A")?;
    let guid = record["id"].as_str().ok_or("no id")?;
    let mut entry = ctx
        .logins("A")?
        .get(guid)
        .map_err(fail)?
        .ok_or("login not applied")?
        .entry;
    entry.password = "changed-on-A".into();
    ctx.logins("A")?.update(guid, entry).map_err(fail)?;
    ctx.step("A", "change the password");
    ctx.sync("A")?;
    let back = ctx.account.cleartext("passwords", guid).ok_or("record gone")?;
    check(
        back["password"] == json!("changed-on-A"),
        format!("server has {back}"),
    )?;
    check(
        back["futureField"] == record["futureField"],
        format!("futureField lost: {back}"),
    )?;
    ctx.step("server", "verify: the unknown field came back with the change");
    Ok(())
}
