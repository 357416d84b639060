//! `status.json`: what the last sync of each engine did, written by `sync`
//! and shown by `status`.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::{Deserialize, Serialize};
use sync_manager::{EngineStatus, ServiceStatus, SyncResult};

use crate::profile::{Profile, write_private};

/// What `status` shows: the last sync of each engine.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SyncStatus {
    /// When the last sync finished (ms).
    pub last_sync: i64,
    /// Per engine.
    pub engines: BTreeMap<String, EngineRecord>,
}

/// One engine's last sync.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct EngineRecord {
    /// When (ms).
    pub last_sync: i64,
    /// `ok`, `skipped: …` or `failed: …`.
    pub outcome: String,
    /// Records down.
    pub downloaded: usize,
    /// Records up.
    pub uploaded: usize,
}

impl SyncStatus {
    /// The profile's status (empty before the first sync).
    pub fn load(profile: &Profile) -> Self {
        std::fs::read_to_string(profile.path("status.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    /// Adds what `result` did to the profile's status.
    pub fn record_in(profile: &Profile, result: &SyncResult) -> Result<()> {
        let mut status = SyncStatus::load(profile);
        status.record(result, now_ms());
        write_private(
            &profile.path("status.json"),
            serde_json::to_string_pretty(&status)?.as_bytes(),
        )?;
        Ok(())
    }

    fn record(&mut self, result: &SyncResult, now: i64) {
        if result.status == ServiceStatus::Ok {
            self.last_sync = now;
        }
        for (name, engine) in &result.engines {
            let outcome = match &engine.status {
                EngineStatus::Ok => "ok".to_owned(),
                EngineStatus::Skipped(why) => format!(
                    "skipped ({})",
                    serde_json::to_value(why)
                        .ok()
                        .and_then(|v| v["reason"].as_str().map(str::to_owned))
                        .unwrap_or_default()
                ),
                EngineStatus::Failed { error } => format!("failed: {error}"),
            };
            let entry = self.engines.entry(name.clone()).or_default();
            if engine.status == EngineStatus::Ok {
                entry.last_sync = now;
            }
            entry.outcome = outcome;
            entry.downloaded = engine.downloaded;
            entry.uploaded = engine.uploaded;
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
