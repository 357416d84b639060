//! `cargo xtask firefox`: the scenarios with real Firefox (Debian's
//! `firefox-esr`), installed first when missing and installable here.

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::system::apt_install;

/// `$FIREFOX`, or `firefox-esr` / `firefox` on the PATH.
fn find() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FIREFOX").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| [dir.join("firefox-esr"), dir.join("firefox")])
        .find(|candidate| candidate.is_file())
}

/// A Firefox to run the scenarios with, installing Debian's `firefox-esr`
/// when there is none (as root, with apt-get), or an error saying what to
/// install.
pub fn installed() -> Result<PathBuf> {
    if let Some(firefox) = find() {
        return Ok(firefox);
    }
    if apt_install("firefox-esr", "for the real-Firefox scenarios")? {
        if let Some(firefox) = find() {
            return Ok(firefox);
        }
    }
    bail!(
        "Firefox was not found: the real-Firefox scenarios need it. Install it (Debian: apt-get \
         install firefox-esr), or set FIREFOX to its binary, or run with --no-firefox to skip them \
         knowingly"
    )
}
