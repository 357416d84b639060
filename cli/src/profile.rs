//! The profile directory: every store, the sync state and the account.
//!
//! ```text
//! <profile>/            (0700)
//!   account.json        the account's secrets (0600): session and refresh tokens and
//!                       the sync key, or the token and kB of a development account
//!   logins.key          the key that seals passwords at rest (0600)
//!   logins.db bookmarks.db history.db tabs.db clients.db
//!   sync-state.json     what the last sync left for the next one (0600)
//!   status.json         when each engine last synced and what it moved
//!   received.json       tabs other devices sent here, and tabs they closed (0600)
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use sync_bookmarks::BookmarkStore;
use sync_clients::{ClientsStore, LocalDevice};
use sync_history::HistoryStore;
use sync_logins::{FileKeySource, LoginStore, Loss};
use sync_tabs::TabsStore;

/// One profile.
#[derive(Debug)]
pub struct Profile {
    dir: PathBuf,
}

impl Profile {
    /// The profile at `dir`, or the default one; created (0700) if missing.
    pub fn open(dir: Option<PathBuf>) -> Result<Self> {
        let dir = match dir {
            Some(d) => d,
            None => dirs::data_dir()
                .context("this platform has no data directory; pass --profile")?
                .join("firefox-sync"),
        };
        std::fs::create_dir_all(&dir).with_context(|| format!("creating the profile {}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("protecting {}", dir.display()))?;
        }
        Ok(Profile { dir })
    }

    /// A file in the profile.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A database file of the profile, created empty and readable by the
    /// owner only before SQLite opens it: SQLite gives its journal files
    /// the database's permissions, so nothing of the store is ever
    /// readable by others.
    fn database(&self, name: &str) -> Result<PathBuf> {
        let path = self.path(name);
        open_private(&path, false)?;
        Ok(path)
    }

    /// The directory itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The password store, sealed with the profile's key (`logins.key`,
    /// 0600). If that key was lost, the store recovers: what the server
    /// has comes back on the next sync, and what only this profile had is
    /// named in a warning.
    pub fn logins(&self) -> Result<Arc<LoginStore>> {
        let source = FileKeySource::new(self.path("logins.key"));
        let (store, recovery) = LoginStore::open_with_key_source(self.database("logins.db")?, &source)
            .context("opening the password store")?;
        warn_if_recreated("passwords", store.recreated_from_corruption());
        if let Some(recovery) = recovery {
            crate::output::warn(&format!(
                "the password key was lost; {} passwords will be downloaded again on the next sync",
                recovery.to_download
            ));
            for lost in &recovery.lost {
                let what = match lost.loss {
                    Loss::NeverUploaded => "lost (it was never synced)",
                    Loss::ChangedSinceUpload => "lost its last change (the synced version comes back)",
                };
                crate::output::warn(&format!("the password for {} was {what}", lost.origin));
            }
        }
        Ok(Arc::new(store))
    }

    /// The bookmarks.
    pub fn bookmarks(&self) -> Result<Arc<BookmarkStore>> {
        let store = BookmarkStore::open(self.database("bookmarks.db")?).context("opening the bookmarks")?;
        warn_if_recreated("bookmarks", store.recreated_from_corruption());
        Ok(Arc::new(store))
    }

    /// The history.
    pub fn history(&self) -> Result<Arc<HistoryStore>> {
        let store = HistoryStore::open(self.database("history.db")?).context("opening the history")?;
        warn_if_recreated("history", store.recreated_from_corruption());
        Ok(Arc::new(store))
    }

    /// The tabs engine.
    pub fn tabs(&self) -> Result<Arc<TabsStore>> {
        Ok(Arc::new(
            TabsStore::open(self.database("tabs.db")?).context("opening the tabs")?,
        ))
    }

    /// The device list, with this device described as `local`.
    pub fn clients(&self, local: &LocalDevice) -> Result<Arc<ClientsStore>> {
        let store =
            ClientsStore::open(self.database("clients.db")?, local).context("opening the device list")?;
        warn_if_recreated("device list", store.recreated_from_corruption());
        Ok(Arc::new(store))
    }

    /// Removes every store and state file (sign-out).
    pub fn wipe(&self) -> Result<()> {
        for name in [
            "account.json",
            "logins.key",
            "logins.db",
            "bookmarks.db",
            "history.db",
            "tabs.db",
            "clients.db",
            "sync-state.json",
            "status.json",
            "received.json",
        ] {
            for suffix in ["", "-wal", "-shm"] {
                let path = self.path(&format!("{name}{suffix}"));
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
                }
            }
        }
        Ok(())
    }
}

/// Tells the person a store's file was damaged and replaced.
fn warn_if_recreated(what: &str, recreated: Option<&sync_sql::Recreated>) {
    if let Some(r) = recreated {
        crate::output::warn(&format!(
            "the {what} file was damaged ({}); it was moved to {} and the next sync refills it",
            r.cause,
            r.moved_to.display()
        ));
    }
}

/// Writes `bytes` to `path` readable by the owner only, replacing it
/// atomically (a temporary file, synced, then renamed).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = open_private(&tmp, true)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

/// Opens `path` for writing (creating it, emptying it if `truncate`),
/// readable by the owner only — also when it already existed with other
/// permissions.
fn open_private(path: &Path, truncate: bool) -> Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(truncate);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("protecting {}", path.display()))?;
    }
    Ok(file)
}
