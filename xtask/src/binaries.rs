//! The workspace's own programs (the scenario runners, `firefox-sync`), taken
//! from the test build instead of built again.
//!
//! `cargo run -p test-support` resolves features for one package, so it
//! compiles a second copy of every crate whose features differ from the
//! workspace's test build (axum, tokio, the RSA stack…), and links it into
//! binaries of a few hundred MB each. On CI that second copy was what ran the
//! disk full. `cargo test --no-run` with the test step's own arguments is a
//! no-op after that step and names, for each package with integration tests,
//! the plain binaries it built for them (`CARGO_BIN_EXE_*`).

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Builds (or finds up to date) the workspace's test build and returns the
/// plain executables of its binary targets, by target name.
pub(crate) fn from_test_build() -> Result<HashMap<String, PathBuf>> {
    let output = crate::cargo(&[
        "test",
        "--workspace",
        "--locked",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ])
    .stderr(std::process::Stdio::inherit())
    .output()
    .context("starting cargo test --no-run")?;
    if !output.status.success() {
        bail!("building the workspace's tests failed ({})", output.status);
    }
    let stdout = String::from_utf8(output.stdout).context("cargo's messages are not UTF-8")?;
    Ok(plain_binaries(&stdout))
}

/// The one named binary of the test build.
pub(crate) fn find(binaries: &HashMap<String, PathBuf>, name: &str) -> Result<PathBuf> {
    binaries.get(name).cloned().with_context(|| {
        format!(
            "the test build has no `{name}` binary (its package needs an integration test for cargo to build it)"
        )
    })
}

/// Reads cargo's JSON messages: a `compiler-artifact` of a `bin` target built
/// outside test mode, with an executable, is a program integration tests run.
fn plain_binaries(messages: &str) -> HashMap<String, PathBuf> {
    let mut binaries = HashMap::new();
    for line in messages.lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" || message["profile"]["test"] != false {
            continue;
        }
        let is_bin = message["target"]["kind"]
            .as_array()
            .is_some_and(|kinds| kinds.iter().any(|k| k == "bin"));
        let (Some(name), Some(executable)) =
            (message["target"]["name"].as_str(), message["executable"].as_str())
        else {
            continue;
        };
        if is_bin {
            binaries.insert(name.to_owned(), PathBuf::from(executable));
        }
    }
    binaries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_binaries_are_taken_from_cargos_messages() {
        let messages = [
            r#"{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"scenarios"},"profile":{"test":false},"executable":"/t/debug/scenarios"}"#,
            r#"{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"scenarios"},"profile":{"test":true},"executable":"/t/debug/deps/scenarios-1234"}"#,
            r#"{"reason":"compiler-artifact","target":{"kind":["test"],"name":"tabs"},"profile":{"test":true},"executable":"/t/debug/deps/tabs-99"}"#,
            r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"sync15"},"profile":{"test":false},"executable":null}"#,
            r#"{"reason":"build-finished","success":true}"#,
            "not json at all",
        ]
        .join("\n");
        let binaries = plain_binaries(&messages);
        assert_eq!(binaries.len(), 1, "{binaries:?}");
        assert_eq!(
            find(&binaries, "scenarios").unwrap(),
            PathBuf::from("/t/debug/scenarios")
        );
        assert!(find(&binaries, "tabs").is_err());
    }
}
