//! [`SyncDriver`]: syncs one engine, start to end.
//!
//! download (paged) → decrypt → stage → apply → encrypt → upload (batched)
//! → set_uploaded → sync_finished.
//!
//! The driver owns paging, decryption, batching and preconditions; the
//! engine only sees cleartext records. It checks the interrupt signal
//! between pages and between records, and every stop leaves the engine
//! consistent: nothing staged is applied before [`SyncEngine::apply`], and
//! nothing is marked uploaded before the server committed it.
//!
//! Records that fail to decrypt are skipped and reported in
//! [`EngineSyncOutcome::incoming_failed`] — one corrupt record written by a
//! buggy client must not block a whole collection. But if *every* record
//! of a download fails its HMAC, the keys are wrong, not the records: the
//! driver then stops with [`Error::Crypto`] (`BadHmac`) before applying
//! anything, so the manager can refetch `crypto/keys`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::bso::{IncomingRecord, OutgoingBso};
use crate::client::{CollectionPage, CollectionRequest, DownloadPager, StorageClient, Uploader};
use crate::context::{ClientData, SyncContext};
use crate::crypto::{CryptoError, KeyBundle};
use crate::engine::{ApplyStats, SyncEngine};
use crate::error::Error;
use crate::guid::Guid;
use crate::interrupt::Interruptee;
use crate::records::InfoConfiguration;
use crate::timestamp::ServerTimestamp;

/// Records per download page unless configured otherwise.
pub const DEFAULT_DOWNLOAD_PAGE_SIZE: usize = 1000;

/// What one engine's sync did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EngineSyncOutcome {
    /// The engine's name.
    pub engine: String,
    /// BSOs downloaded.
    pub downloaded: usize,
    /// Records decrypted and staged.
    pub staged: usize,
    /// Downloaded records skipped, with why (bad HMAC, id mismatch, …).
    pub incoming_failed: BTreeMap<Guid, String>,
    /// What the engine reported while applying.
    pub applied: ApplyStats,
    /// Records committed on the server.
    pub uploaded: usize,
    /// Records not uploaded, with why.
    pub upload_failed: BTreeMap<Guid, String>,
    /// The new last-sync time given to the engine.
    pub last_sync: ServerTimestamp,
    /// HTTP requests this sync made.
    pub requests: u64,
}

/// One downloaded page, decrypted.
struct DecryptedPage {
    downloaded: usize,
    records: Vec<IncomingRecord>,
    failed: Vec<(Guid, String)>,
    bad_hmacs: usize,
}

fn decrypt_page(keys: &KeyBundle, page: CollectionPage) -> DecryptedPage {
    let mut decrypted = DecryptedPage {
        downloaded: page.records.len(),
        records: Vec::with_capacity(page.records.len()),
        failed: Vec::new(),
        bad_hmacs: 0,
    };
    for (bso, opened) in page.records.iter().zip(keys.decrypt_all(&page.records)) {
        match opened {
            Ok(record) => decrypted.records.push(record),
            Err(e) => {
                if e.is_bad_hmac() {
                    decrypted.bad_hmacs += 1;
                }
                decrypted.failed.push((bso.envelope.id.clone(), e.to_string()));
            }
        }
    }
    decrypted
}

/// Records encrypted together (on every core) before the uploader gets
/// them: enough to share out, few enough that cleartexts are freed as the
/// upload goes.
const ENCRYPT_CHUNK: usize = 512;

/// Where an engine's sync is, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPhase {
    /// Downloading and staging pages.
    Downloading,
    /// Merging what came in with local changes.
    Applying,
    /// Uploading what changed.
    Uploading,
    /// Done.
    Finished,
}

/// One step of an engine's sync: its phase and the records moved so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncProgressEvent<'a> {
    /// The engine.
    pub engine: &'a str,
    /// What it is doing.
    pub phase: SyncPhase,
    /// Records downloaded so far.
    pub downloaded: usize,
    /// Records the server has committed so far.
    pub uploaded: usize,
}

/// Hears about a sync's progress: after every downloaded page, every
/// committed upload batch, and each change of phase. Called from the
/// syncing thread; keep it quick.
pub trait SyncProgress: Send + Sync {
    /// One step.
    fn progress(&self, event: SyncProgressEvent<'_>);
}

/// Syncs engines against one storage node; see the module docs.
pub struct SyncDriver<'a> {
    client: &'a StorageClient,
    config: &'a InfoConfiguration,
    interruptee: &'a dyn Interruptee,
    page_size: usize,
    client_data: Option<&'a ClientData>,
    progress: Option<&'a dyn SyncProgress>,
}

impl<'a> SyncDriver<'a> {
    /// A driver using `client`, within the server's `config` limits, that
    /// stops when `interruptee` says so.
    pub fn new(
        client: &'a StorageClient,
        config: &'a InfoConfiguration,
        interruptee: &'a dyn Interruptee,
    ) -> Self {
        SyncDriver {
            client,
            config,
            interruptee,
            page_size: DEFAULT_DOWNLOAD_PAGE_SIZE,
            client_data: None,
            progress: None,
        }
    }

    /// Reports progress to `progress`.
    pub fn with_progress(mut self, progress: Option<&'a dyn SyncProgress>) -> Self {
        self.progress = progress;
        self
    }

    fn report(&self, engine: &str, phase: SyncPhase, downloaded: usize, uploaded: usize) {
        if let Some(p) = self.progress {
            p.progress(SyncProgressEvent {
                engine,
                phase,
                downloaded,
                uploaded,
            });
        }
    }

    /// Records per download page (at least 1).
    pub fn with_page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size.max(1);
        self
    }

    /// The device list handed to engines in [`SyncContext::client_data`].
    pub fn with_client_data(mut self, client_data: Option<&'a ClientData>) -> Self {
        self.client_data = client_data;
        self
    }

    /// Downloads and stages every page of `request`. A second thread
    /// fetches and decrypts (on every core) the next page while the engine
    /// stages this one, so the network and the engine's store work at the
    /// same time.
    /// Returns the collection's last-modified time the server reported.
    fn download(
        &self,
        engine: &dyn SyncEngine,
        keys: &KeyBundle,
        request: CollectionRequest,
        outcome: &mut EngineSyncOutcome,
    ) -> Result<Option<ServerTimestamp>, Error> {
        let name = engine.name().to_owned();
        let (client, page_size) = (self.client, self.page_size);
        std::thread::scope(|scope| {
            let (pages, received) = std::sync::mpsc::sync_channel::<Result<DecryptedPage, Error>>(1);
            let fetcher = scope.spawn(move || {
                let mut pager = DownloadPager::new(client, request, page_size);
                loop {
                    let next = match pager.next_page() {
                        Ok(Some(page)) => Ok(decrypt_page(keys, page)),
                        Ok(None) => break,
                        Err(e) => Err(e),
                    };
                    let failed = next.is_err();
                    // A closed channel means the sync stopped: fetch no more.
                    if pages.send(next).is_err() || failed {
                        break;
                    }
                }
                pager.last_modified()
            });
            let mut bad_hmacs = 0;
            for page in received.iter() {
                let page = page?;
                self.interruptee.err_if_interrupted()?;
                outcome.downloaded += page.downloaded;
                bad_hmacs += page.bad_hmacs;
                for (id, why) in page.failed {
                    log::warn!("{name}: skipping record {id}: {why}");
                    outcome.incoming_failed.insert(id, why);
                }
                outcome.staged += page.records.len();
                if !page.records.is_empty() {
                    engine
                        .stage_incoming(page.records)
                        .map_err(|e| Error::engine(&name, e))?;
                }
                self.report(&name, SyncPhase::Downloading, outcome.downloaded, 0);
            }
            if bad_hmacs > 0 && outcome.staged == 0 {
                return Err(CryptoError::BadHmac.into());
            }
            // The fetcher only panics on a bug; pass it on as such.
            Ok(fetcher
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
        })
    }

    /// Syncs `engine`, whose collection is encrypted with `keys` and was
    /// last modified on the server at `server_modified` (from
    /// `info/collections`; `None` if the collection does not exist).
    pub fn sync(
        &self,
        engine: &dyn SyncEngine,
        keys: &KeyBundle,
        server_modified: Option<ServerTimestamp>,
    ) -> Result<EngineSyncOutcome, Error> {
        let name = engine.name().to_owned();
        let engine_err = |e| Error::engine(&name, e);
        let requests_before = self.client.http().request_count();
        let mut outcome = EngineSyncOutcome {
            engine: name.clone(),
            ..EngineSyncOutcome::default()
        };

        self.interruptee.err_if_interrupted()?;
        engine.begin_sync().map_err(engine_err)?;
        let context = SyncContext {
            config: self.config,
            client_data: self.client_data,
        };
        engine.prepare_for_sync(&context).map_err(engine_err)?;

        // Download, decrypt, stage.
        let mut collection_ts = server_modified.unwrap_or(ServerTimestamp::ZERO);
        let request = engine.incoming_request(collection_ts).map_err(engine_err)?;
        if let (Some(request), Some(_)) = (request, server_modified) {
            self.report(&name, SyncPhase::Downloading, 0, 0);
            let last_modified = self.download(engine, keys, request, &mut outcome)?;
            if let Some(ts) = last_modified {
                collection_ts = collection_ts.max(ts);
            }
        }

        // Merge.
        self.interruptee.err_if_interrupted()?;
        self.report(&name, SyncPhase::Applying, outcome.downloaded, 0);
        let outgoing = engine
            .apply(collection_ts, &mut outcome.applied)
            .map_err(engine_err)?;

        // Encrypt and upload.
        let mut last_sync = collection_ts;
        if !outgoing.is_empty() {
            let collection = engine.collection_name().to_owned();
            // A second thread encrypts (and frees) records, a chunk at a time
            // on every core, while this one posts them: the CPU work overlaps
            // the server's.
            let uploaded = std::thread::scope(|scope| {
                let (sealed, received) = std::sync::mpsc::sync_channel::<Result<OutgoingBso, Error>>(256);
                scope.spawn(move || {
                    let mut records = outgoing.into_iter();
                    loop {
                        let chunk: Vec<_> = records.by_ref().take(ENCRYPT_CHUNK).collect();
                        if chunk.is_empty() {
                            break;
                        }
                        for bso in keys.encrypt_all(&chunk) {
                            let failed = bso.is_err();
                            if sealed.send(bso).is_err() || failed {
                                return;
                            }
                        }
                    }
                });
                let downloaded = outcome.downloaded;
                let mut committed = 0;
                self.report(&name, SyncPhase::Uploading, downloaded, 0);
                let mut uploader =
                    Uploader::new(self.client, &collection, self.config, collection_ts, |ts, ids| {
                        committed += ids.len();
                        engine.set_uploaded(ts, ids).map_err(engine_err)?;
                        self.report(&name, SyncPhase::Uploading, downloaded, committed);
                        Ok(())
                    });
                for bso in received.iter() {
                    self.interruptee.err_if_interrupted()?;
                    uploader.enqueue(&bso?)?;
                }
                uploader.finish()
            })?;
            outcome.uploaded = uploaded.committed.len();
            outcome.upload_failed = uploaded.failed;
            last_sync = last_sync.max(uploaded.last_modified);
        }

        engine.sync_finished(last_sync).map_err(engine_err)?;
        self.report(&name, SyncPhase::Finished, outcome.downloaded, outcome.uploaded);
        outcome.last_sync = last_sync;
        outcome.requests = self.client.http().request_count() - requests_before;
        log::info!(
            "{name}: {} down ({} staged), {} up, {} requests",
            outcome.downloaded,
            outcome.staged,
            outcome.uploaded,
            outcome.requests
        );
        Ok(outcome)
    }
}
