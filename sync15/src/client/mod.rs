//! Talking to a storage node.
//!
//! - [`HttpClient`]: the shared transport (connection pool, request count,
//!   backoff, clock skew).
//! - [`StorageClient`]: one method per SyncStorage 1.5 endpoint.
//! - [`DownloadPager`]: a collection read in pages under a pinned
//!   `X-If-Unmodified-Since`.
//! - [`Uploader`]: any number of records, within every server limit, with
//!   the batch API.

mod http;
mod pager;
mod request;
mod storage;
mod upload;

pub use http::{ClientOptions, HttpClient};
pub use pager::DownloadPager;
pub use request::{CollectionRequest, MAX_IDS_PER_REQUEST, Precondition, RequestOrder};
pub use storage::{BatchParam, CollectionPage, Fetched, IdsPage, PostResponse, StorageClient, WriteResult};
pub use upload::{UploadOutcome, Uploader};
