//! [`StagedRecords`]: downloaded records held in memory until `apply`.

use parking_lot::Mutex;

use crate::bso::IncomingRecord;

/// The records of one download, kept from
/// [`stage_incoming`](crate::SyncEngine::stage_incoming) to
/// [`apply`](crate::SyncEngine::apply), for an engine that merges a whole
/// download in one transaction (the store stays as it was if the sync stops
/// mid-download). An engine whose downloads are too large for memory stages
/// into its own tables instead.
///
/// Methods take `&self`, as the [`SyncEngine`](crate::SyncEngine) methods
/// that call them do.
#[derive(Debug, Default)]
pub struct StagedRecords {
    records: Mutex<Vec<IncomingRecord>>,
}

impl StagedRecords {
    /// Nothing staged.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a downloaded page after those staged before it.
    pub fn stage(&self, records: Vec<IncomingRecord>) {
        self.records.lock().extend(records);
    }

    /// Everything staged, in download order, leaving nothing behind.
    pub fn take(&self) -> Vec<IncomingRecord> {
        std::mem::take(&mut *self.records.lock())
    }

    /// Drops what an interrupted sync staged (for
    /// [`begin_sync`](crate::SyncEngine::begin_sync) and
    /// [`reset`](crate::SyncEngine::reset)).
    pub fn clear(&self) {
        self.records.lock().clear();
    }

    /// How many records are staged.
    pub fn len(&self) -> usize {
        self.records.lock().len()
    }

    /// Whether nothing is staged.
    pub fn is_empty(&self) -> bool {
        self.records.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cleartext, Guid, IncomingEnvelope, ServerTimestamp};

    fn record(id: &str) -> IncomingRecord {
        let content = serde_json::json!({ "id": id });
        IncomingRecord::new(
            IncomingEnvelope::new(Guid::new(id), ServerTimestamp::from_millis(1)),
            Cleartext::from_content(&content).expect("a JSON object"),
        )
        .expect("a valid record")
    }

    #[test]
    fn pages_are_taken_in_order_and_cleared() {
        let staged = StagedRecords::new();
        staged.stage(vec![record("aaaaaaaaaaaa"), record("bbbbbbbbbbbb")]);
        staged.stage(vec![record("cccccccccccc")]);
        assert_eq!(staged.len(), 3);
        let ids: Vec<String> = staged.take().iter().map(|r| r.envelope.id.to_string()).collect();
        assert_eq!(ids, ["aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc"]);
        assert!(staged.is_empty(), "taking leaves nothing");
        staged.stage(vec![record("dddddddddddd")]);
        staged.clear();
        assert!(staged.take().is_empty());
    }
}
