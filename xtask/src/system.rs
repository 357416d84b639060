//! What xtask asks of the machine: programs on the PATH, root, commands
//! that must succeed, and Debian packages to install when missing.

use std::process::Command;

use anyhow::{Context, Result, bail};

/// Whether `program` is on the PATH.
pub fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(program).exists()))
}

/// Whether xtask runs as root (and so may install packages).
pub fn is_root() -> Result<bool> {
    let out = Command::new("id").arg("-u").output().context("running id -u")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Runs `cmd`; its output becomes the error when it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    let output = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !output.status.success() {
        bail!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Installs Debian's `package` with apt-get, when this can be done here
/// (root and apt-get); false when it cannot.
pub fn apt_install(package: &str, why: &str) -> Result<bool> {
    if !(is_root()? && which("apt-get")) {
        return Ok(false);
    }
    eprintln!("==> installing {package} (Debian's package) {why}");
    run(Command::new("apt-get").arg("update").arg("-q"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends", package])
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    Ok(true)
}
