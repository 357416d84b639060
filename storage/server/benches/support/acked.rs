//! Checking that every write a server acknowledged is stored: each record a
//! POST or a batch commit reported in `success`, and at least as new as
//! that answer's `modified` — a lost write shows as missing, a write
//! overtaken by an older one as stale.

use std::collections::HashMap;

use super::User;

/// The records a user's writes were acknowledged for: id → the time (ms)
/// of the latest answer that acknowledged it.
#[derive(Default)]
pub struct Acked(HashMap<String, i64>);

impl Acked {
    /// Notes `ids` as stored by an answer whose `modified` was `seconds`.
    pub fn note(&mut self, ids: impl IntoIterator<Item = String>, seconds: f64) {
        let ms = (seconds * 1000.0).round() as i64;
        for id in ids {
            let latest = self.0.entry(id).or_insert(ms);
            *latest = (*latest).max(ms);
        }
    }

    /// The `success` ids of a POST's answer.
    pub fn success(answer: &serde_json::Value) -> Vec<String> {
        answer["success"]
            .as_array()
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| id.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// What a check found.
#[derive(Debug, Default, Clone, Copy)]
pub struct Checked {
    /// Acknowledged records looked for.
    pub records: usize,
    /// Not stored at all.
    pub missing: usize,
    /// Stored, but older than the answer that acknowledged them.
    pub stale: usize,
}

impl Checked {
    pub fn add(&mut self, other: Checked) {
        self.records += other.records;
        self.missing += other.missing;
        self.stale += other.stale;
    }
}

/// Reads `user`'s `collection` whole and looks up every record in `acked`.
pub async fn check(user: &User, client: &reqwest::Client, collection: &str, acked: &Acked) -> Checked {
    let stored: Vec<serde_json::Value> = user
        .request(
            client,
            reqwest::Method::GET,
            &format!("/storage/{collection}?full=1"),
        )
        .send()
        .await
        .expect("reading back what was written")
        .json()
        .await
        .expect("a JSON listing");
    let stored: HashMap<&str, i64> = stored
        .iter()
        .filter_map(|r| {
            Some((
                r["id"].as_str()?,
                (r["modified"].as_f64()? * 1000.0).round() as i64,
            ))
        })
        .collect();
    let mut checked = Checked::default();
    for (id, acknowledged) in &acked.0 {
        checked.records += 1;
        match stored.get(id.as_str()) {
            None => checked.missing += 1,
            Some(modified) if modified < acknowledged => checked.stale += 1,
            Some(_) => {}
        }
    }
    checked
}
