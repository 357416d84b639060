//! Scenarios of the manager and the clients engine.

use std::sync::Arc;

use serde_json::json;
use sync_clients::Command;
use sync_manager::{EngineStatus, ServiceStatus, SkipReason};

use super::{Ctx, Scenario, check, scenario};
use crate::{Device, HookPoint, HookedEngine, ToyEngine};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        scenario("first sync of two devices", first_sync_of_two_devices),
        scenario(
            "an unchanged sync of five engines costs one request",
            unchanged_sync_is_one_request,
        ),
        scenario(
            "a declined engine on one device is disabled on the other",
            declined_engine,
        ),
        scenario("wipeEngine command", wipe_engine_command),
        Scenario {
            embedded_only: true,
            ..scenario("node reassignment mid-sync", node_reassignment_mid_sync)
        },
        scenario("corrupted crypto/keys are recovered", corrupted_keys_recovered),
        scenario("storageVersion 6 is refused", storage_version_6_refused),
        scenario(
            "a stop mid-download leaves every store consistent",
            stop_mid_download,
        ),
        Scenario {
            embedded_only: true,
            configure: |c| {
                c.limits.max_post_records = 10;
                c.limits.max_total_records = 20;
            },
            ..scenario("a stop mid-upload leaves every store consistent", stop_mid_upload)
        },
    ]
}

fn add_toys(ctx: &mut Ctx<'_>, device: &str, prefix: &str, n: usize) -> Result<(), String> {
    let toys = ctx.toys(device)?;
    for i in 0..n {
        toys.set(&format!("{prefix}{i:07}"), json!({"n": i, "from": device}));
    }
    ctx.step(device, &format!("add {n} records"));
    Ok(())
}

fn first_sync_of_two_devices(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.add_device("B");
    add_toys(ctx, "A", "aaaaa", 3)?;
    ctx.sync("A")?;
    add_toys(ctx, "B", "bbbbb", 2)?;
    ctx.sync("B")?;
    ctx.sync("A")?;
    ctx.step("A", "verify: both devices' records, and B in the device list");
    let a_ids = ctx.toys("A")?.ids();
    check(a_ids.len() == 5, format!("A has {a_ids:?}"))?;
    check(ctx.toys("B")?.ids().len() == 5, "B has all five")?;
    let names: Vec<String> = ctx
        .device("A")?
        .clients
        .devices()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|d| d.name)
        .collect();
    check(names == ["B"], format!("A sees {names:?}"))
}

fn unchanged_sync_is_one_request(ctx: &mut Ctx<'_>) -> Result<(), String> {
    let mut device = Device::new("A", &ctx.account);
    let first = Arc::new(ToyEngine::new("e1"));
    first.set("aaaaaaaaaaaa", json!({}));
    device = device.with_engine(first);
    for name in ["e2", "e3", "e4", "e5"] {
        device = device.with_engine(Arc::new(ToyEngine::new(name)));
    }
    ctx.insert_device("A", device, None);
    ctx.sync("A")?;
    let quiet = ctx.sync("A")?;
    check(
        quiet.requests == 1,
        format!(
            "an unchanged sync of 5 engines + clients made {} requests",
            quiet.requests
        ),
    )
}

fn declined_engine(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.add_device("B");
    ctx.sync("A")?;
    ctx.sync("B")?;
    ctx.device("A")?.set_enabled("toys", false);
    ctx.step("A", "decline toys");
    ctx.sync("A")?;
    add_toys(ctx, "B", "bbbbb", 1)?;
    let b = ctx.sync("B")?;
    check(
        b.engines["toys"].status == EngineStatus::Skipped(SkipReason::Declined),
        format!("B's toys: {:?}", b.engines["toys"].status),
    )?;
    check(
        b.declined == Some(vec!["toys".into()]),
        format!("B's declined: {:?}", b.declined),
    )?;
    ctx.step("server", "verify: nothing uploaded for the declined engine");
    check(
        ctx.account.raw().bsos("toys").is_empty(),
        "B uploaded a declined engine's records",
    )
}

fn wipe_engine_command(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.add_device("B");
    add_toys(ctx, "A", "aaaaa", 2)?;
    ctx.sync("A")?;
    ctx.sync("B")?;
    ctx.sync("A")?;
    let b_id = ctx.device("B")?.clients.client_id().map_err(|e| e.to_string())?;
    ctx.toys("B")?.set("bbbbblocal01", json!({"never": "uploaded"}));
    ctx.device("A")?
        .clients
        .send_command(b_id.as_str(), &Command::WipeEngine("toys".into()))
        .map_err(|e| e.to_string())?;
    ctx.step("A", "send wipeEngine toys to B");
    ctx.sync("A")?;
    ctx.sync("B")?;
    ctx.step("B", "verify: wiped once, then the server's records again");
    let toys = ctx.toys("B")?;
    check(toys.wipes() == 1, format!("B wiped {} times", toys.wipes()))?;
    check(toys.ids().len() == 2, format!("B has {:?}", toys.ids()))
}

fn node_reassignment_mid_sync(ctx: &mut Ctx<'_>) -> Result<(), String> {
    let server = ctx.server.ok_or("needs the embedded server")?;
    ctx.add_device("B");
    let a_toys = Arc::new(ToyEngine::new("toys"));
    let hooked = Arc::new(HookedEngine::new(a_toys.clone()));
    let device = Device::new("A", &ctx.account).with_engine(hooked.clone());
    ctx.insert_device("A", device, Some(a_toys));
    add_toys(ctx, "A", "aaaaa", 3)?;
    ctx.sync("A")?;
    add_toys(ctx, "A", "ccccc", 2)?;
    let db = server.db().clone();
    let fxa_uid = ctx.account.fxa_uid();
    let node = server.url().to_owned();
    hooked.once(HookPoint::BeforeApply, move || {
        // The operator moves the account while A is syncing.
        let _ = db.reassign_node(&fxa_uid, &node);
    });
    ctx.step(
        "server",
        "reassign the account to another node during A's next sync",
    );
    let a = ctx.sync("A")?;
    check(
        a.engines.get("toys").is_some_and(|r| r.uploaded == 5),
        format!(
            "A re-uploaded {:?} to the new node",
            a.engines.get("toys").map(|r| r.uploaded)
        ),
    )?;
    ctx.sync("B")?;
    ctx.step("B", "verify: everything A had");
    check(
        ctx.toys("B")?.ids().len() == 5,
        format!("B has {:?}", ctx.toys("B")?.ids()),
    )
}

fn corrupted_keys_recovered(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.add_device("B");
    add_toys(ctx, "A", "aaaaa", 2)?;
    ctx.sync("A")?;
    ctx.sync("B")?;
    ctx.account.raw().put_raw(
        "crypto",
        "keys",
        // Garbage that still passes the server's one payload check (an
        // all-zero IV on crypto is refused, as Mozilla's server does).
        r#"{"ciphertext":"AAAA","IV":"AAAAAAAAAAAAAAAAAAAAAQ==","hmac":"00"}"#,
    );
    ctx.step("server", "corrupt crypto/keys");
    add_toys(ctx, "B", "bbbbb", 1)?;
    ctx.sync("B")?;
    ctx.sync("A")?;
    ctx.sync("B")?;
    ctx.step("A", "verify: all records on both devices under the new keys");
    check(
        ctx.toys("A")?.ids().len() == 3,
        format!("A has {:?}", ctx.toys("A")?.ids()),
    )?;
    check(
        ctx.toys("B")?.ids().len() == 3,
        format!("B has {:?}", ctx.toys("B")?.ids()),
    )
}

fn storage_version_6_refused(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    ctx.sync("A")?;
    let raw = ctx.account.raw();
    let meta = raw.bso("meta", "global").ok_or("no meta/global")?;
    let mut value: serde_json::Value = serde_json::from_str(&meta.payload).map_err(|e| e.to_string())?;
    value["storageVersion"] = json!(6);
    raw.put_raw("meta", "global", &value.to_string());
    ctx.step("server", "a newer client writes storageVersion 6");
    add_toys(ctx, "A", "aaaaa", 1)?;
    ctx.sync_expecting("A", ServiceStatus::StorageVersionTooNew)?;
    ctx.step("server", "verify: untouched");
    check(
        raw.bsos("toys").is_empty(),
        "A uploaded to a storageVersion 6 account",
    )
}

fn stop_mid_download(ctx: &mut Ctx<'_>) -> Result<(), String> {
    ctx.add_device("A");
    add_toys(ctx, "A", "aaaaa", 250)?;
    ctx.sync("A")?;
    let b_toys = Arc::new(ToyEngine::new("toys"));
    let hooked = Arc::new(HookedEngine::new(b_toys.clone()));
    let device = Device::with_page_size("B", &ctx.account, 100).with_engine(hooked.clone());
    let stop = device.manager().interrupt_handle();
    hooked.once(HookPoint::AfterStage, move || stop.interrupt());
    ctx.insert_device("B", device, Some(b_toys.clone()));
    add_toys(ctx, "B", "bbbbb", 5)?;
    ctx.step("B", "stop after the first page of 100");
    ctx.sync_expecting("B", ServiceStatus::Interrupted)?;
    check(
        b_toys.ids().len() == 5,
        format!("B applied part of a download: {}", b_toys.ids().len()),
    )?;
    check(b_toys.pending() == 5, "B's own changes must still be pending")?;
    ctx.sync("B")?;
    ctx.sync("A")?;
    ctx.step("A", "verify: no record lost or doubled");
    check(b_toys.ids().len() == 255, format!("B has {}", b_toys.ids().len()))?;
    check(
        ctx.toys("A")?.ids().len() == 255,
        format!("A has {}", ctx.toys("A")?.ids().len()),
    )?;
    check(
        ctx.account.raw().bsos("toys").len() == 255,
        "the server holds each record once",
    )
}

fn stop_mid_upload(ctx: &mut Ctx<'_>) -> Result<(), String> {
    let a_toys = Arc::new(ToyEngine::new("toys"));
    let hooked = Arc::new(HookedEngine::new(a_toys.clone()));
    let device = Device::new("A", &ctx.account).with_engine(hooked.clone());
    let stop = device.manager().interrupt_handle();
    hooked.once(HookPoint::AfterUpload, move || stop.interrupt());
    ctx.insert_device("A", device, Some(a_toys.clone()));
    add_toys(ctx, "A", "aaaaa", 50)?;
    ctx.step("A", "stop after the first committed batch of 20");
    ctx.sync_expecting("A", ServiceStatus::Interrupted)?;
    check(
        a_toys.pending() == 30,
        format!("A marked {} uploaded", 50 - a_toys.pending()),
    )?;
    check(
        ctx.account.raw().bsos("toys").len() == 20,
        "the first batch is on the server",
    )?;
    ctx.sync("A")?;
    ctx.add_device("B");
    ctx.sync("B")?;
    ctx.step("B", "verify: all 50, each once");
    check(a_toys.pending() == 0, "A still has pending records")?;
    check(
        ctx.account.raw().bsos("toys").len() == 50,
        "the server holds each record once",
    )?;
    check(
        ctx.toys("B")?.ids().len() == 50,
        format!("B has {}", ctx.toys("B")?.ids().len()),
    )
}
