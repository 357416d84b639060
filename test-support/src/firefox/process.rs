//! A real Firefox, headless, in a profile of its own, driven over
//! Marionette.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::marionette::{Marionette, MarionetteError};

/// Why Firefox could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FirefoxError {
    /// No Firefox binary was found.
    #[error("no Firefox found: install Debian's firefox-esr (apt-get install firefox-esr) or set FIREFOX")]
    NotInstalled,
    /// Firefox did not start, or stopped.
    #[error("Firefox did not start: {0}")]
    Start(String),
    /// Its profile could not be written.
    #[error("writing Firefox's profile: {0}")]
    Profile(#[from] std::io::Error),
    /// Talking to it failed.
    #[error(transparent)]
    Marionette(#[from] MarionetteError),
}

/// How long Firefox may take to start listening for Marionette.
const START_WITHIN: Duration = Duration::from_secs(60);

/// How long one Marionette call (a script, a sync) may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// Preferences every test profile gets: nothing talks to the internet,
/// nothing updates, nothing reports, and Sync logs what it did.
const QUIET_PREFS: &[(&str, &str)] = &[
    ("marionette.port", "0"),
    ("browser.shell.checkDefaultBrowser", "false"),
    ("browser.startup.page", "0"),
    ("browser.startup.homepage_override.mstone", "\"ignore\""),
    ("browser.aboutwelcome.enabled", "false"),
    ("datareporting.policy.dataSubmissionEnabled", "false"),
    ("datareporting.healthreport.uploadEnabled", "false"),
    ("toolkit.telemetry.enabled", "false"),
    ("toolkit.telemetry.unified", "false"),
    ("toolkit.telemetry.server", "\"http://127.0.0.1:9/\""),
    ("app.update.disabledForTesting", "true"),
    ("app.normandy.enabled", "false"),
    ("extensions.update.enabled", "false"),
    ("extensions.getAddons.cache.enabled", "false"),
    ("services.settings.server", "\"http://127.0.0.1:9/v1\""),
    ("browser.safebrowsing.malware.enabled", "false"),
    ("browser.safebrowsing.phishing.enabled", "false"),
    ("browser.safebrowsing.downloads.enabled", "false"),
    (
        "browser.safebrowsing.provider.mozilla.updateURL",
        "\"http://127.0.0.1:9/\"",
    ),
    ("network.captive-portal-service.enabled", "false"),
    ("network.connectivity-service.enabled", "false"),
    ("network.dns.disablePrefetch", "true"),
    ("network.prefetch-next", "false"),
    ("network.trr.mode", "5"),
    ("dom.push.enabled", "false"),
    ("dom.push.connection.enabled", "false"),
    (
        "browser.newtabpage.activity-stream.feeds.section.topstories",
        "false",
    ),
    ("browser.newtabpage.activity-stream.feeds.telemetry", "false"),
    ("browser.newtabpage.enabled", "false"),
    ("browser.topsites.contile.enabled", "false"),
    ("browser.urlbar.suggest.quicksuggest.sponsored", "false"),
    ("geo.provider.network.url", "\"http://127.0.0.1:9/\""),
    ("media.gmp-manager.url", "\"http://127.0.0.1:9/\""),
    ("identity.fxaccounts.enabled", "true"),
    ("identity.fxaccounts.allowHttp", "true"),
    ("identity.fxaccounts.remote.root", "\"http://127.0.0.1:9/\""),
    ("identity.fxaccounts.commands.enabled", "false"),
    ("services.sync.log.appender.file.logOnSuccess", "true"),
    ("services.sync.log.appender.file.level", "\"Trace\""),
    ("services.sync.log.logger", "\"Debug\""),
    ("services.sync.log.logger.engine", "\"Debug\""),
    // Syncs happen when a test says so.
    ("services.sync.autoconnectDelay", "86400"),
    ("services.sync.syncInterval", "86400000"),
    ("services.sync.activeInterval", "86400000"),
    ("services.sync.immediateInterval", "86400000"),
    ("services.sync.idleInterval", "86400000"),
    ("services.sync.engine.addons", "false"),
    ("services.sync.engine.prefs", "false"),
    ("services.sync.engine.forms", "false"),
    ("services.sync.engine.addresses", "false"),
    ("services.sync.engine.creditcards", "false"),
    ("services.sync.engine.bookmarks", "true"),
    ("services.sync.engine.history", "true"),
    ("services.sync.engine.passwords", "true"),
    ("services.sync.engine.tabs", "true"),
];

/// A running Firefox; ended (by its PID) when dropped.
pub struct Firefox {
    child: Child,
    profile: tempfile::TempDir,
    /// The session that drives it.
    pub marionette: Marionette,
}

impl std::fmt::Debug for Firefox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Firefox")
            .field("pid", &self.child.id())
            .field("profile", &self.profile.path())
            .finish_non_exhaustive()
    }
}

impl Firefox {
    /// The Firefox to run: `$FIREFOX`, else `firefox-esr` or `firefox` on
    /// the `PATH`.
    pub fn binary() -> Option<PathBuf> {
        if let Some(path) = std::env::var_os("FIREFOX").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(path));
        }
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .flat_map(|dir| [dir.join("firefox-esr"), dir.join("firefox")])
            .find(|candidate| candidate.is_file())
    }

    /// Its version, as `firefox --version` prints it.
    pub fn version() -> Result<String, FirefoxError> {
        let binary = Self::binary().ok_or(FirefoxError::NotInstalled)?;
        let out = Command::new(&binary)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| FirefoxError::Start(format!("{}: {e}", binary.display())))?;
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text.lines().next().unwrap_or_default().trim().to_owned())
    }

    /// Starts Firefox headless in a new profile with the quiet preferences
    /// and `prefs` (name, JavaScript value), and connects to it.
    pub fn start(prefs: &[(&str, Value)]) -> Result<Firefox, FirefoxError> {
        let binary = Self::binary().ok_or(FirefoxError::NotInstalled)?;
        let profile = tempfile::Builder::new().prefix("firefox-profile-").tempdir()?;
        write_prefs(profile.path(), prefs)?;
        // FIREFOX_OUTPUT=<file> keeps what Firefox prints (with
        // `identity.fxaccounts.log.appender.dump` set, its accounts log).
        let (stdout, stderr) = match std::env::var_os("FIREFOX_OUTPUT") {
            Some(path) => {
                let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
                (Stdio::from(file.try_clone()?), Stdio::from(file))
            }
            None => (Stdio::null(), Stdio::null()),
        };
        let child = Command::new(&binary)
            .args([
                "--headless",
                "--marionette",
                "-remote-allow-system-access",
                "--no-remote",
            ])
            .arg("--profile")
            .arg(profile.path())
            .env("MOZ_CRASHREPORTER_DISABLE", "1")
            .env("MOZ_HEADLESS", "1")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| FirefoxError::Start(format!("{}: {e}", binary.display())))?;
        let mut child = child;
        let connected = wait_for_marionette(&mut child, profile.path())
            .and_then(|port| Ok(Marionette::connect(([127, 0, 0, 1], port).into(), CALL_TIMEOUT)?));
        match connected {
            Ok(marionette) => Ok(Firefox {
                child,
                profile,
                marionette,
            }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e)
            }
        }
    }

    /// The profile directory.
    pub fn profile(&self) -> &Path {
        self.profile.path()
    }

    /// What Firefox's Sync wrote to its logs (`weave/logs`), newest last,
    /// for a failure report.
    pub fn sync_logs(&self) -> String {
        let dir = self.profile.path().join("weave").join("logs");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .filter_map(|f| {
                std::fs::read_to_string(f)
                    .ok()
                    .map(|text| format!("==> {}\n{text}", f.display()))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Firefox {
    fn drop(&mut self) {
        let _ = self.marionette.quit();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port Firefox's Marionette server took, once it listens.
fn wait_for_marionette(child: &mut Child, profile: &Path) -> Result<u16, FirefoxError> {
    let file = profile.join("MarionetteActivePort");
    let started = Instant::now();
    loop {
        if let Some(port) = std::fs::read_to_string(&file)
            .ok()
            .and_then(|p| p.trim().parse().ok())
        {
            return Ok(port);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(FirefoxError::Start(format!("it exited with {status}")));
        }
        if started.elapsed() > START_WITHIN {
            return Err(FirefoxError::Start(format!(
                "no Marionette port after {START_WITHIN:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Writes `user.js`: the quiet preferences, then `prefs`.
fn write_prefs(profile: &Path, prefs: &[(&str, Value)]) -> std::io::Result<()> {
    let mut text = String::new();
    for (name, value) in QUIET_PREFS {
        text.push_str(&format!("user_pref({name:?}, {value});\n"));
    }
    for (name, value) in prefs {
        text.push_str(&format!("user_pref({name:?}, {value});\n"));
    }
    std::fs::write(profile.join("user.js"), text)
}
