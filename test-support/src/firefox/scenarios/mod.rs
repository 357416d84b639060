//! Scenarios with real Firefox: each runs in a world of its own (accounts
//! service, server, account), with as many Firefoxes and devices of ours
//! as it needs, and checks both sides through their own APIs — Firefox's
//! Places, login manager and Sync modules over Marionette, our stores
//! directly.
//!
//! `cargo xtask firefox [filter]` runs them (and `cargo xtask ci`); a
//! failure prints the step that failed, Firefox's Sync logs and the last
//! requests the server answered.

mod accounts;
mod bookmarks;
mod history;
mod logins;
mod nodes;
mod send_tab;
mod tabs;
mod volume;

use std::collections::BTreeMap;
use std::sync::Arc;

use super::world::{Browser, FirefoxSync, FirefoxWorld, sync_device};
use crate::{CommandInbox, Device};

/// One scenario.
pub struct FirefoxScenario {
    /// What it shows.
    pub name: &'static str,
    /// The phases.
    pub run: fn(&mut Ctx<'_>) -> Result<(), String>,
}

/// What a scenario's phases work with.
pub struct Ctx<'a> {
    /// The accounts service, the server and the account.
    pub world: FirefoxWorld,
    browsers: BTreeMap<String, Browser>,
    devices: BTreeMap<String, Device>,
    inboxes: BTreeMap<String, Arc<CommandInbox>>,
    progress: &'a mut dyn FnMut(&str),
    phase: usize,
}

impl Ctx<'_> {
    /// The Firefox called `name`, started and signed in on first use.
    pub fn firefox(&mut self, name: &str) -> Result<&mut Browser, String> {
        if !self.browsers.contains_key(name) {
            let browser = self.world.firefox(name)?;
            self.browsers.insert(name.to_owned(), browser);
        }
        self.browsers
            .get_mut(name)
            .ok_or_else(|| format!("no Firefox {name}"))
    }

    /// Adds a Firefox started (and signed in) by the scenario itself.
    pub fn add_firefox(&mut self, name: &str, browser: Browser) {
        self.browsers.insert(name.to_owned(), browser);
    }

    /// Our device called `name`, signed in (and registered in the
    /// account's device list) on first use; every running Firefox hears of
    /// it as Firefox Accounts' push would tell it.
    pub fn device(&mut self, name: &str) -> Result<&mut Device, String> {
        if !self.devices.contains_key(name) {
            let (device, inbox) = self.world.device(name)?;
            self.devices.insert(name.to_owned(), device);
            self.inboxes.insert(name.to_owned(), inbox);
            for browser in self.browsers.values_mut() {
                browser.device_connected()?;
            }
        }
        self.devices
            .get_mut(name)
            .ok_or_else(|| format!("no device {name}"))
    }

    /// The Firefox Account of our device `name` (which reads its device
    /// commands from it when it syncs).
    pub fn account_of(&mut self, name: &str) -> Result<Arc<CommandInbox>, String> {
        self.device(name)?;
        self.inboxes
            .get(name)
            .cloned()
            .ok_or_else(|| format!("no device {name}"))
    }

    /// A phase that is not a sync: logged.
    pub fn step(&mut self, who: &str, what: &str) {
        self.phase += 1;
        (self.progress)(&format!("    phase {:>2} [{who}] {what}", self.phase));
    }

    /// Syncs the Firefox `name`; fails the scenario if the sync failed or
    /// Firefox's validation found problems in the server's bookmark tree.
    pub fn sync_firefox(&mut self, name: &str) -> Result<FirefoxSync, String> {
        let before = self.world.requests_served()?;
        let outcome = self.firefox(name)?.sync()?;
        let requests = self.world.requests_served()? - before;
        self.step(name, &format!("Firefox syncs: {requests} requests"));
        if !outcome.problems.is_empty() {
            return Err(format!(
                "{name}: Firefox's validation found problems in the server's tree: {:?}",
                outcome.problems
            ));
        }
        Ok(outcome)
    }

    /// Syncs the Firefox `name` until a sync succeeds (at most three
    /// tries): after a node reassignment Firefox's first sync ends on the
    /// 401 that tells it, as it does in the wild.
    pub fn sync_firefox_until_ok(&mut self, name: &str) -> Result<FirefoxSync, String> {
        let mut last = String::new();
        for attempt in 1..=3 {
            match self.sync_firefox(name) {
                Ok(outcome) => return Ok(outcome),
                Err(e) => {
                    self.step(name, &format!("sync {attempt} did not finish: {e}"));
                    last = e;
                }
            }
        }
        Err(last)
    }

    /// Syncs our device `name`, expecting success.
    pub fn sync_device(&mut self, name: &str) -> Result<sync_manager::SyncResult, String> {
        let result = sync_device(self.device(name)?)?;
        let engines: Vec<String> = result
            .engines
            .iter()
            .filter(|(_, r)| r.downloaded + r.uploaded > 0)
            .map(|(e, r)| format!("{e} ↓{} ↑{}", r.downloaded, r.uploaded))
            .collect();
        self.step(
            name,
            &format!("syncs: {} requests ({})", result.requests, engines.join(", ")),
        );
        Ok(result)
    }

    /// The Sync logs of every Firefox, for a failure report.
    fn firefox_logs(&self) -> String {
        self.browsers
            .values()
            .map(|b| format!("---- Firefox {} ----\n{}", b.name, b.logs()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Fails the scenario with `message` unless `condition` holds.
pub fn check(condition: bool, message: impl Into<String>) -> Result<(), String> {
    if condition { Ok(()) } else { Err(message.into()) }
}

/// Every Firefox scenario, in order.
pub fn all() -> Vec<FirefoxScenario> {
    let mut all = bookmarks::scenarios();
    all.extend(logins::scenarios());
    all.extend(history::scenarios());
    all.extend(tabs::scenarios());
    all.extend(send_tab::scenarios());
    all.extend(volume::scenarios());
    all.extend(nodes::scenarios());
    all.extend(accounts::scenarios());
    all
}

/// How a scenario ended.
#[derive(Debug)]
pub enum Outcome {
    /// Every check held.
    Passed,
    /// A check failed: why, and Firefox's Sync logs.
    Failed {
        /// What failed.
        error: String,
        /// Every Firefox's Sync log.
        firefox_logs: String,
    },
}

/// Runs `scenario` in a world of its own, reporting progress lines.
pub fn run(scenario: &FirefoxScenario, progress: &mut dyn FnMut(&str)) -> Outcome {
    let world = match FirefoxWorld::new(scenario.name) {
        Ok(world) => world,
        Err(error) => {
            return Outcome::Failed {
                error: format!("setting up: {error}"),
                firefox_logs: String::new(),
            };
        }
    };
    let mut ctx = Ctx {
        world,
        browsers: BTreeMap::new(),
        devices: BTreeMap::new(),
        inboxes: BTreeMap::new(),
        progress,
        phase: 0,
    };
    match (scenario.run)(&mut ctx) {
        Ok(()) => Outcome::Passed,
        Err(error) => Outcome::Failed {
            error,
            firefox_logs: ctx.firefox_logs(),
        },
    }
}
