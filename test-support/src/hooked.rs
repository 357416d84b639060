//! [`HookedEngine`]: any engine, with code run at chosen points of its sync
//! — to stop a sync mid-download, move the account mid-sync, and so on.

use std::sync::Arc;

use parking_lot::Mutex;
use sync15::{
    ApplyStats, CollectionRequest, EngineError, EngineSyncAssociation, Guid, IncomingRecord, OutgoingRecord,
    ServerTimestamp, SyncEngine,
};

/// Where a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookPoint {
    /// After a downloaded page was staged.
    AfterStage,
    /// Before merging.
    BeforeApply,
    /// After a committed batch was marked uploaded.
    AfterUpload,
}

type Hook = Box<dyn FnMut() + Send>;

/// Wraps an engine; each hook runs once, the first time its point is reached.
pub struct HookedEngine {
    inner: Arc<dyn SyncEngine>,
    hooks: Mutex<Vec<(HookPoint, Option<Hook>)>>,
}

impl std::fmt::Debug for HookedEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookedEngine")
            .field("engine", &self.inner.name())
            .finish_non_exhaustive()
    }
}

impl HookedEngine {
    /// `inner`, with no hooks yet.
    pub fn new(inner: Arc<dyn SyncEngine>) -> Self {
        HookedEngine {
            inner,
            hooks: Mutex::new(Vec::new()),
        }
    }

    /// Runs `hook` once, the next time `point` is reached.
    pub fn once(&self, point: HookPoint, hook: impl FnMut() + Send + 'static) {
        self.hooks.lock().push((point, Some(Box::new(hook))));
    }

    fn fire(&self, point: HookPoint) {
        let hook = self
            .hooks
            .lock()
            .iter_mut()
            .find(|(p, h)| *p == point && h.is_some())
            .and_then(|(_, h)| h.take());
        if let Some(mut hook) = hook {
            hook();
        }
    }
}

impl SyncEngine for HookedEngine {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn collection_name(&self) -> &str {
        self.inner.collection_name()
    }
    fn version(&self) -> u64 {
        self.inner.version()
    }
    fn sync_association(&self) -> Result<EngineSyncAssociation, EngineError> {
        self.inner.sync_association()
    }
    fn reset(&self, assoc: &EngineSyncAssociation) -> Result<(), EngineError> {
        self.inner.reset(assoc)
    }
    fn wipe(&self) -> Result<(), EngineError> {
        self.inner.wipe()
    }
    fn begin_sync(&self) -> Result<(), EngineError> {
        self.inner.begin_sync()
    }
    fn incoming_request(
        &self,
        server_modified: ServerTimestamp,
    ) -> Result<Option<CollectionRequest>, EngineError> {
        self.inner.incoming_request(server_modified)
    }
    fn stage_incoming(&self, records: Vec<IncomingRecord>) -> Result<(), EngineError> {
        self.inner.stage_incoming(records)?;
        self.fire(HookPoint::AfterStage);
        Ok(())
    }
    fn apply(
        &self,
        timestamp: ServerTimestamp,
        stats: &mut ApplyStats,
    ) -> Result<Vec<OutgoingRecord>, EngineError> {
        self.fire(HookPoint::BeforeApply);
        self.inner.apply(timestamp, stats)
    }
    fn set_uploaded(&self, timestamp: ServerTimestamp, ids: Vec<Guid>) -> Result<(), EngineError> {
        self.inner.set_uploaded(timestamp, ids)?;
        self.fire(HookPoint::AfterUpload);
        Ok(())
    }
    fn sync_finished(&self, last_sync: ServerTimestamp) -> Result<(), EngineError> {
        self.inner.sync_finished(last_sync)
    }
}
