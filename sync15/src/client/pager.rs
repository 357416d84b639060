//! [`DownloadPager`]: reads a collection in pages without ever seeing a torn
//! view of it.
//!
//! Pages are fetched with `limit` and the server's `X-Weave-Next-Offset`.
//! The first page's `X-Last-Modified` is then sent as
//! `X-If-Unmodified-Since` on every later page, so if another client writes
//! while we read, the server answers 412 ([`Error::PreconditionFailed`])
//! instead of handing us a mix of old and new. Id lists longer than the
//! server's 100 per request are split, under the same pinned timestamp.

use std::collections::VecDeque;

use super::request::{CollectionRequest, MAX_IDS_PER_REQUEST, Precondition};
use super::storage::{CollectionPage, StorageClient};
use crate::error::Error;
use crate::guid::Guid;
use crate::timestamp::ServerTimestamp;

/// Iterates the pages of a collection request. See the module docs.
#[derive(Debug)]
pub struct DownloadPager<'a> {
    client: &'a StorageClient,
    request: CollectionRequest,
    page_size: usize,
    /// Records still allowed by the request's total `limit`.
    remaining: Option<usize>,
    /// Id chunks still to fetch, when the request names ids.
    id_chunks: VecDeque<Vec<Guid>>,
    offset: Option<String>,
    pinned: Option<ServerTimestamp>,
    done: bool,
    pages: usize,
}

impl<'a> DownloadPager<'a> {
    /// Pages of at most `page_size` records (at least 1) for `request`.
    pub fn new(client: &'a StorageClient, request: CollectionRequest, page_size: usize) -> Self {
        let mut request = request;
        let mut done = false;
        let mut id_chunks = VecDeque::new();
        if let Some(ids) = request.ids.take() {
            // An empty id list asks for nothing, not for everything.
            done = ids.is_empty();
            id_chunks = ids.chunks(MAX_IDS_PER_REQUEST).map(<[Guid]>::to_vec).collect();
            request.ids = id_chunks.pop_front();
        }
        let offset = request.offset.take();
        let remaining = request.limit.take();
        DownloadPager {
            client,
            request,
            page_size: page_size.max(1),
            done: done || remaining == Some(0),
            remaining,
            id_chunks,
            offset,
            pinned: None,
            pages: 0,
        }
    }

    /// The collection's last-modified time as of the first page, once one was read.
    pub fn last_modified(&self) -> Option<ServerTimestamp> {
        self.pinned
    }

    /// How many requests were made so far.
    pub fn pages_fetched(&self) -> usize {
        self.pages
    }

    /// The next page, or `None` when everything was read.
    pub fn next_page(&mut self) -> Result<Option<CollectionPage>, Error> {
        if self.done {
            return Ok(None);
        }
        let mut request = self.request.clone();
        request.offset = self.offset.clone();
        request.limit = Some(match self.remaining {
            Some(left) => left.min(self.page_size),
            None => self.page_size,
        });
        let precondition = match self.pinned {
            Some(ts) => Precondition::IfUnmodifiedSince(ts),
            None => Precondition::None,
        };
        let page = match self.client.get_collection(&request, precondition) {
            Ok(page) => page,
            Err(e) => {
                self.done = true;
                return Err(e);
            }
        };
        self.pages += 1;
        if self.pinned.is_none() {
            self.pinned = Some(page.last_modified);
        }
        if let Some(left) = self.remaining.as_mut() {
            *left = left.saturating_sub(page.records.len());
        }
        let stalled = page.records.is_empty() || page.next_offset == self.offset;
        match (&page.next_offset, stalled) {
            (Some(next), false) if self.remaining != Some(0) => self.offset = Some(next.clone()),
            (Some(_), true) => {
                log::warn!(
                    "server offered another page of {} without progress; stopping",
                    self.request.collection
                );
                self.done = true;
            }
            _ => {
                self.offset = None;
                match self.id_chunks.pop_front() {
                    Some(chunk) if self.remaining != Some(0) => self.request.ids = Some(chunk),
                    _ => self.done = true,
                }
            }
        }
        Ok(Some(page))
    }
}

impl Iterator for DownloadPager<'_> {
    type Item = Result<CollectionPage, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_page().transpose()
    }
}
