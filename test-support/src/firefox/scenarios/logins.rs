//! Passwords between real Firefox and our devices.

use serde_json::json;
use sync_logins::LoginEntry;

use super::{Browser, Ctx, FirefoxScenario, check};

pub(super) fn scenarios() -> Vec<FirefoxScenario> {
    vec![FirefoxScenario {
        name: "passwords: form and HTTP-auth logins, edits on both sides and deletes both ways",
        run: both_ways,
    }]
}

/// Every login Firefox syncs, one line each, sorted (not its own
/// `chrome://FirefoxAccounts` credentials, which it never syncs).
const FIREFOX_LOGINS: &str = r#"
    const logins = (await Services.logins.getAllLogins()).filter(l => !l.origin.startsWith("chrome://"));
    return logins.map(l =>
        [l.origin, l.formActionOrigin ?? "-", l.httpRealm ?? "-", l.username, l.password,
         l.usernameField, l.passwordField].join("|")).sort();
"#;

/// Adds a login to Firefox: `[origin, formActionOrigin, httpRealm, username,
/// password, usernameField, passwordField]`.
const FIREFOX_ADD: &str = r#"
    const [origin, formAction, realm, username, password, usernameField, passwordField] = arguments;
    const info = Cc["@mozilla.org/login-manager/loginInfo;1"].createInstance(Ci.nsILoginInfo);
    info.init(origin, formAction, realm, username, password, usernameField, passwordField);
    const added = await Services.logins.addLoginAsync(info);
    return added.QueryInterface(Ci.nsILoginMetaInfo).guid;
"#;

/// Changes fields (`{name: value}`) of the login of `origin` and `username`.
const FIREFOX_MODIFY: &str = r#"
    const [origin, username, changes] = arguments;
    const login = (await Services.logins.getAllLogins())
        .find(l => l.origin == origin && l.username == username);
    if (!login) throw new Error(`no login ${username} at ${origin}`);
    const bag = Cc["@mozilla.org/hash-property-bag;1"].createInstance(Ci.nsIWritablePropertyBag);
    for (const [name, value] of Object.entries(changes)) bag.setProperty(name, value);
    // Firefox 153 ESR has only the async forms (its LoginManager.sys.mjs);
    // the ESR these scenarios were first run against had the synchronous ones.
    if (Services.logins.modifyLoginAsync) await Services.logins.modifyLoginAsync(login, bag);
    else Services.logins.modifyLogin(login, bag);
    return null;
"#;

/// Removes the login of `origin` and `username`.
const FIREFOX_REMOVE: &str = r#"
    const [origin, username] = arguments;
    const login = (await Services.logins.getAllLogins())
        .find(l => l.origin == origin && l.username == username);
    if (!login) throw new Error(`no login ${username} at ${origin}`);
    if (Services.logins.removeLoginAsync) await Services.logins.removeLoginAsync(login);
    else Services.logins.removeLogin(login);
    return null;
"#;

/// Saves a form login for `username` at `origin` in Firefox.
pub(super) fn firefox_add_login(browser: &mut Browser, origin: &str, username: &str) -> Result<(), String> {
    browser
        .js(
            FIREFOX_ADD,
            json!([
                origin,
                origin,
                null,
                username,
                format!("{username}'s secret"),
                "user",
                "pass"
            ]),
        )
        .map(|_| ())
}

pub(super) fn firefox_logins(ctx: &mut Ctx<'_>, name: &str) -> Result<Vec<String>, String> {
    let list = ctx.firefox(name)?.js(FIREFOX_LOGINS, json!([]))?;
    Ok(list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l.as_str().map(str::to_owned))
        .collect())
}

fn our_logins(ctx: &mut Ctx<'_>, name: &str) -> Result<Vec<String>, String> {
    let store = ctx.device(name)?.logins.clone();
    let mut lines: Vec<String> = store
        .list()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|l| {
            let e = l.entry;
            [
                e.origin,
                e.form_action_origin.unwrap_or_else(|| "-".into()),
                e.http_realm.unwrap_or_else(|| "-".into()),
                e.username,
                e.password,
                e.username_field,
                e.password_field,
            ]
            .join("|")
        })
        .collect();
    lines.sort();
    Ok(lines)
}

pub(super) fn same_logins(ctx: &mut Ctx<'_>, firefox: &str, ours: &str) -> Result<Vec<String>, String> {
    let theirs = firefox_logins(ctx, firefox)?;
    let mine = our_logins(ctx, ours)?;
    check(
        theirs == mine,
        format!("the logins differ:\n{firefox}: {theirs:#?}\n{ours}: {mine:#?}"),
    )?;
    ctx.step(
        &format!("{firefox}, {ours}"),
        &format!("verify: the same {} logins", mine.len()),
    );
    Ok(mine)
}

fn both_ways(ctx: &mut Ctx<'_>) -> Result<(), String> {
    let firefox = ctx.firefox("F")?;
    firefox.js(
        FIREFOX_ADD,
        json!([
            "https://site.example",
            "https://site.example",
            null,
            "alice",
            "f1 ✓",
            "user",
            "pass"
        ]),
    )?;
    firefox.js(
        FIREFOX_ADD,
        json!([
            "https://intranet.example",
            null,
            "Intranet Realm",
            "bob",
            "b1",
            "",
            ""
        ]),
    )?;
    ctx.step("F", "save a form login and an HTTP-auth login");
    ctx.sync_firefox("F")?;
    ctx.sync_device("A")?;
    same_logins(ctx, "F", "A")?;

    let a = ctx.device("A")?.logins.clone();
    let carol = a
        .add(LoginEntry {
            origin: "https://ours.example".into(),
            form_action_origin: Some("https://ours.example".into()),
            http_realm: None,
            username_field: "email".into(),
            password_field: "pw".into(),
            username: "carol".into(),
            password: "c1".into(),
        })
        .map_err(|e| e.to_string())?;
    let bob = a
        .list()
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|l| l.entry.username == "bob")
        .ok_or("A lacks bob")?;
    a.update(
        bob.guid.as_str(),
        LoginEntry {
            password: "b2".into(),
            ..bob.entry
        },
    )
    .map_err(|e| e.to_string())?;
    ctx.step("A", "save a login; change bob's password");
    ctx.sync_device("A")?;
    ctx.sync_firefox("F")?;
    let logins = same_logins(ctx, "F", "A")?;
    check(
        logins.iter().any(|l| l.contains("|bob|b2|")) && logins.iter().any(|l| l.contains("|carol|c1|")),
        format!("{logins:#?}"),
    )?;

    // Both change alice before either syncs: A her password, Firefox her
    // username field.
    ctx.firefox("F")?.js(
        FIREFOX_MODIFY,
        json!(["https://site.example", "alice", {"usernameField": "login"}]),
    )?;
    let alice = a
        .list()
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|l| l.entry.username == "alice")
        .ok_or("A lacks alice")?;
    a.update(
        alice.guid.as_str(),
        LoginEntry {
            password: "a2".into(),
            ..alice.entry
        },
    )
    .map_err(|e| e.to_string())?;
    ctx.step(
        "F, A",
        "F changes alice's username field while A changes her password",
    );
    ctx.sync_device("A")?;
    ctx.sync_firefox("F")?;
    ctx.sync_device("A")?;
    same_logins(ctx, "F", "A")?;

    ctx.firefox("F")?
        .js(FIREFOX_REMOVE, json!(["https://ours.example", "carol"]))?;
    a.delete(
        a.list()
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|l| l.entry.username == "bob")
            .ok_or("A lacks bob")?
            .guid
            .as_str(),
    )
    .map_err(|e| e.to_string())?;
    ctx.step("F, A", "F deletes carol's login while A deletes bob's");
    ctx.sync_firefox("F")?;
    ctx.sync_device("A")?;
    ctx.sync_firefox("F")?;
    let logins = same_logins(ctx, "F", "A")?;
    check(
        logins.len() == 1 && logins[0].contains("|alice|"),
        format!("only alice should be left: {logins:#?}"),
    )?;
    check(
        a.get(carol.guid.as_str()).map_err(|e| e.to_string())?.is_none(),
        "carol's login came back",
    )
}
