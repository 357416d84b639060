//! [`Uploader`]: uploads any number of records within every server limit.
//!
//! Records are packed into POSTs that respect `max_post_records`,
//! `max_post_bytes` and `max_request_bytes`, and POSTs into batches that
//! respect `max_total_records` and `max_total_bytes` (a full batch is
//! committed and the next one started). Every request carries
//! `X-If-Unmodified-Since`, so a concurrent writer makes the upload fail with
//! 412 instead of being overwritten.
//!
//! The batch API (`batch=true`, `batch=<id>`, `commit=true`) makes a batch
//! visible to other clients all at once. A server without it answers the
//! first POST with 200 and no batch id; from then on each POST stands
//! alone, committed as it lands, and the precondition advances with it.
//!
//! A record that can never be uploaded (its payload exceeds
//! `max_record_payload_bytes`, its id is invalid) is reported in
//! [`UploadOutcome::failed`] with the reason, as are records the server
//! refuses; nothing is silently dropped. Committed records are reported to
//! the `on_commit` callback as each batch lands, so an upload that fails in
//! its third batch still marks the first two as uploaded.

use std::collections::{BTreeMap, HashSet};

use super::request::Precondition;
use super::storage::{BatchParam, PostResponse, StorageClient};
use crate::bso::OutgoingBso;
use crate::error::Error;
use crate::guid::Guid;
use crate::records::InfoConfiguration;
use crate::timestamp::ServerTimestamp;

/// What an upload achieved.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UploadOutcome {
    /// Ids committed on the server, in commit order.
    pub committed: Vec<Guid>,
    /// Ids not uploaded, with why (too large, invalid, refused by the server).
    pub failed: BTreeMap<Guid, String>,
    /// The collection's time after the last commit (unchanged if none).
    pub last_modified: ServerTimestamp,
    /// POST requests made.
    pub posts: usize,
    /// Batches committed (with a server that batches).
    pub batches: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum BatchState {
    /// The next POST starts a batch (`batch=true`).
    NotStarted,
    /// A batch is open under this id.
    Open(String),
    /// The server ignores `batch`; every POST commits on its own.
    Unsupported,
}

/// Packs records into POSTs and batches; see the module docs.
pub struct Uploader<'a, F>
where
    F: FnMut(ServerTimestamp, Vec<Guid>) -> Result<(), Error>,
{
    client: &'a StorageClient,
    collection: String,
    limits: Limits,
    on_commit: F,
    state: BatchState,
    /// The JSON array being built: `[` then records separated by `,`.
    body: Vec<u8>,
    queued: Vec<Guid>,
    queued_payload_bytes: usize,
    /// Records and payload bytes in the open batch, queued ones included.
    batch_records: usize,
    batch_payload_bytes: usize,
    /// Ids the server accepted into the open batch, to report at commit.
    accepted: Vec<Guid>,
    unmodified_since: ServerTimestamp,
    outcome: UploadOutcome,
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    request_bytes: usize,
    post_records: usize,
    post_bytes: usize,
    total_records: usize,
    total_bytes: usize,
    record_payload_bytes: usize,
}

impl Limits {
    /// A server that says "0" for a count cannot mean it; treat it as 1.
    fn from(config: &InfoConfiguration) -> Self {
        Limits {
            request_bytes: config.max_request_bytes,
            post_records: config.max_post_records.max(1),
            post_bytes: config.max_post_bytes,
            total_records: config.max_total_records.max(1),
            total_bytes: config.max_total_bytes,
            record_payload_bytes: config.max_record_payload_bytes,
        }
    }
}

impl<'a, F> Uploader<'a, F>
where
    F: FnMut(ServerTimestamp, Vec<Guid>) -> Result<(), Error>,
{
    /// An uploader to `collection`, whose last-modified time as we know it is
    /// `last_modified` (sent as `X-If-Unmodified-Since`). `on_commit` hears
    /// of each commit: the collection's new time and the ids it made visible.
    pub fn new(
        client: &'a StorageClient,
        collection: &str,
        config: &InfoConfiguration,
        last_modified: ServerTimestamp,
        on_commit: F,
    ) -> Self {
        Uploader {
            client,
            collection: collection.to_owned(),
            limits: Limits::from(config),
            on_commit,
            state: BatchState::NotStarted,
            body: vec![b'['],
            queued: Vec::new(),
            queued_payload_bytes: 0,
            batch_records: 0,
            batch_payload_bytes: 0,
            accepted: Vec::new(),
            unmodified_since: last_modified,
            outcome: UploadOutcome {
                last_modified,
                ..UploadOutcome::default()
            },
        }
    }

    /// Queues a record, sending what is queued first if this one would not
    /// fit. Returns `false` if the record can never be uploaded (it is then
    /// in [`UploadOutcome::failed`]).
    pub fn enqueue(&mut self, bso: &OutgoingBso) -> Result<bool, Error> {
        let id = &bso.envelope.id;
        if !id.is_valid_for_sync_server() {
            self.fail(id, "invalid record id".into());
            return Ok(false);
        }
        let payload_len = bso.payload.len();
        if payload_len > self.limits.record_payload_bytes {
            self.fail(
                id,
                format!(
                    "payload of {payload_len} bytes exceeds the server's limit of {}",
                    self.limits.record_payload_bytes
                ),
            );
            return Ok(false);
        }
        let encoded = serde_json::to_vec(bso).map_err(|source| Error::Serialize {
            id: id.clone(),
            source,
        })?;
        // "[" + record + "]" must fit in one request on its own.
        if encoded.len() + 2 > self.limits.request_bytes
            || payload_len > self.limits.post_bytes
            || payload_len > self.limits.total_bytes
        {
            self.fail(
                id,
                format!("record of {} bytes cannot fit in one request", encoded.len()),
            );
            return Ok(false);
        }

        let batching = self.state != BatchState::Unsupported;
        if batching
            && (self.batch_records + 1 > self.limits.total_records
                || self.batch_payload_bytes + payload_len > self.limits.total_bytes)
        {
            self.flush(true)?;
        } else if !self.queued.is_empty()
            && (self.queued.len() + 1 > self.limits.post_records
                || self.queued_payload_bytes + payload_len > self.limits.post_bytes
                || self.body.len() + 1 + encoded.len() + 1 > self.limits.request_bytes)
        {
            self.flush(false)?;
        }

        if !self.queued.is_empty() {
            self.body.push(b',');
        }
        self.body.extend_from_slice(&encoded);
        self.queued.push(id.clone());
        self.queued_payload_bytes += payload_len;
        self.batch_records += 1;
        self.batch_payload_bytes += payload_len;
        Ok(true)
    }

    /// Sends what is queued and commits the open batch.
    pub fn finish(mut self) -> Result<UploadOutcome, Error> {
        self.flush(true)?;
        Ok(self.outcome)
    }

    fn fail(&mut self, id: &Guid, reason: String) {
        log::warn!("not uploading {}/{id}: {reason}", self.collection);
        self.outcome.failed.insert(id.clone(), reason);
    }

    fn flush(&mut self, commit: bool) -> Result<(), Error> {
        let open_batch = matches!(self.state, BatchState::Open(_));
        if self.queued.is_empty() && !(commit && open_batch) {
            return Ok(());
        }
        let param = match &self.state {
            BatchState::Unsupported => BatchParam::None,
            BatchState::NotStarted => BatchParam::Start { commit },
            BatchState::Open(id) => BatchParam::Append {
                id: id.clone(),
                commit,
            },
        };
        self.body.push(b']');
        let body = std::mem::replace(&mut self.body, vec![b'[']);
        let sent = std::mem::take(&mut self.queued);
        self.queued_payload_bytes = 0;

        let response = self.client.post_body(
            &self.collection,
            body,
            &param,
            Precondition::IfUnmodifiedSince(self.unmodified_since),
        )?;
        self.outcome.posts += 1;
        self.record_failures(&sent, &response);

        match (&self.state, response.batch.clone()) {
            (BatchState::NotStarted | BatchState::Open(_), Some(batch_id)) if response.status == 202 => {
                if commit {
                    return Err(Error::UnexpectedStatus {
                        server: crate::error::ServerKind::Storage,
                        status: 202,
                        body: "the server left a batch open after commit=true".into(),
                    });
                }
                self.state = BatchState::Open(batch_id);
                self.accepted.extend(response.success);
            }
            (BatchState::NotStarted | BatchState::Open(_), _) if commit && response.status == 200 => {
                let mut ids = std::mem::take(&mut self.accepted);
                ids.extend(response.success.iter().cloned());
                self.state = BatchState::NotStarted;
                self.batch_records = 0;
                self.batch_payload_bytes = 0;
                self.outcome.batches += 1;
                self.committed(&response, ids)?;
            }
            (BatchState::NotStarted | BatchState::Open(_), None) if response.status == 200 => {
                // No batch support: these records are already stored.
                log::debug!("server does not batch uploads to {}", self.collection);
                self.state = BatchState::Unsupported;
                let mut ids = std::mem::take(&mut self.accepted);
                ids.extend(response.success.iter().cloned());
                self.committed(&response, ids)?;
            }
            (BatchState::Unsupported, _) => {
                self.committed(&response, response.success.clone())?;
            }
            _ => {
                return Err(Error::UnexpectedStatus {
                    server: crate::error::ServerKind::Storage,
                    status: response.status,
                    body: format!("unexpected batch answer {:?}", response.batch),
                });
            }
        }
        Ok(())
    }

    /// Ids the server refused, or did not mention at all (the protocol says
    /// those count as failed too).
    fn record_failures(&mut self, sent: &[Guid], response: &PostResponse) {
        for (id, reason) in &response.failed {
            self.fail(id, format!("refused by the server: {reason}"));
        }
        if response.success.len() + response.failed.len() < sent.len() {
            let mentioned: HashSet<&Guid> = response.success.iter().chain(response.failed.keys()).collect();
            for id in sent.iter().filter(|id| !mentioned.contains(id)) {
                self.fail(id, "not acknowledged by the server".into());
            }
        }
    }

    fn committed(&mut self, response: &PostResponse, ids: Vec<Guid>) -> Result<(), Error> {
        let modified = response.modified.unwrap_or(response.last_modified);
        self.unmodified_since = modified;
        self.outcome.last_modified = modified;
        self.outcome.committed.extend(ids.iter().cloned());
        (self.on_commit)(modified, ids)
    }
}
