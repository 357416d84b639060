//! The crate's error type.
//!
//! Every server answer a caller must react to differently has its own
//! variant: a 401 from storage means "get a new token, maybe from another
//! node"; a 412 means "someone else wrote, retry next sync"; a 503 carries
//! when the next sync is allowed. Nothing the server sends makes this crate
//! panic: unexpected answers become [`Error::UnexpectedStatus`] or
//! [`Error::MalformedResponse`].

use std::time::{Duration, SystemTime};

use crate::crypto::CryptoError;
use crate::guid::Guid;
use crate::interrupt::Interrupted;

/// The error type engines return from [`SyncEngine`](crate::SyncEngine)
/// methods: any error of their own, boxed.
pub type EngineError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Which server a status came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// The token server.
    Token,
    /// A storage node.
    Storage,
}

/// Everything that can go wrong talking to a sync server or handling its records.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 304: the resource has not changed since `X-If-Modified-Since`.
    #[error("not modified (304)")]
    NotModified,

    /// 401 from a storage node: the token expired or was revoked, or the
    /// account was moved to another node. Fetch a new token and start over.
    #[error("the storage server rejected our credentials (401): token expired or node reassigned")]
    StorageUnauthorized,

    /// 401 or 403 from the token server: the OAuth token or the key id is not
    /// accepted. The user must sign in again; retrying will not help.
    #[error("the token server refused us ({status}): {reason}")]
    TokenRejected {
        /// The HTTP status.
        status: u16,
        /// The token server's reason (`invalid-credentials`, `invalid-generation`, …).
        reason: String,
    },

    /// 404: no such record (or, for an unknown URL, no such endpoint).
    #[error("not found (404)")]
    NotFound,

    /// 409: a concurrent write on the server conflicted; retry after the delay.
    #[error("conflicting concurrent write on the server (409)")]
    Conflict {
        /// From `Retry-After`, if the server sent it.
        retry_after: Option<Duration>,
    },

    /// 412: the collection changed since `X-If-Unmodified-Since`. Another
    /// client wrote; nothing was written by this request.
    #[error("the collection changed on the server since we read it (412)")]
    PreconditionFailed,

    /// 413: the request body was larger than the server accepts.
    #[error("request too large for the server (413)")]
    RequestTooLarge,

    /// 400 with code 14 (or 403 with it): the account is over its quota. Nothing was lost
    /// locally; the data stays queued for upload.
    #[error("the account is over its storage quota")]
    OverQuota,

    /// 400 with code 17: a server size or record-count limit was exceeded.
    #[error("a server size or record-count limit was exceeded (error 17)")]
    ServerLimitExceeded,

    /// Any other 400, with the protocol's error number if the body held one.
    #[error("bad request (400), server error code {code:?}: {body}")]
    BadRequest {
        /// The numeric response code from the body (6 = bad JSON, 8 = invalid BSO, …).
        code: Option<i64>,
        /// The start of the body.
        body: String,
    },

    /// 415: the server does not accept the request's content type.
    #[error("unsupported media type (415)")]
    UnsupportedMediaType,

    /// 5xx (usually 503): the server is down or overloaded. Do not sync
    /// again before `next_sync_allowed_at`.
    #[error("{server:?} server unavailable ({status}); next sync allowed at {next_sync_allowed_at:?}")]
    ServerUnavailable {
        /// Which server.
        server: ServerKind,
        /// The HTTP status (500–599).
        status: u16,
        /// From `Retry-After` or `X-Weave-Backoff`, whichever is longer.
        retry_after: Option<Duration>,
        /// When syncing may resume, if the server said.
        next_sync_allowed_at: Option<SystemTime>,
    },

    /// Any other status.
    #[error("unexpected HTTP status {status} from the {server:?} server: {body}")]
    UnexpectedStatus {
        /// Which server.
        server: ServerKind,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },

    /// A response body that should be JSON of a known shape is not.
    #[error("malformed response for {what}: {source}")]
    MalformedResponse {
        /// What was being read.
        what: String,
        /// The parse error.
        source: serde_json::Error,
    },

    /// A protocol header has a value that cannot be parsed.
    #[error("invalid {name} header: {value:?}")]
    InvalidHeader {
        /// The header name.
        name: &'static str,
        /// The value received (truncated).
        value: String,
    },

    /// A record's payload (or decrypted cleartext) is not the JSON it must be.
    #[error("record {id} has a malformed payload: {source}")]
    MalformedPayload {
        /// The BSO id.
        id: Guid,
        /// The parse error.
        source: serde_json::Error,
    },

    /// The cleartext's `id` differs from the BSO id it was stored under.
    #[error("record stored as {bso_id} claims to be {payload_id}")]
    RecordIdMismatch {
        /// The id of the BSO on the server.
        bso_id: Guid,
        /// The `id` inside the cleartext, as JSON.
        payload_id: String,
    },

    /// Encryption or decryption failed; see [`CryptoError`] (bad HMAC, …).
    #[error(transparent)]
    Crypto(#[from] CryptoError),

    /// An engine's record would not serialize to a JSON object.
    #[error("record {id} does not serialize to a JSON object: {source}")]
    Serialize {
        /// The record id.
        id: Guid,
        /// The serializer's error.
        source: serde_json::Error,
    },

    /// `meta/global` says the data was written by a newer client in a
    /// storage format this code does not speak. Syncing would corrupt it.
    #[error("the server's storage version {found} is newer than {supported}; upgrade to sync")]
    StorageVersionTooNew {
        /// The storage version on the server.
        found: u64,
        /// The newest this code speaks.
        supported: u64,
    },

    /// The request never got an HTTP answer (connection refused, TLS, timeout, …).
    #[error("network error: {0}")]
    Network(#[from] reqwest::Error),

    /// Credentials from the token server cannot be used to sign requests.
    #[error("unusable storage credentials: {reason}")]
    InvalidCredentials {
        /// Why.
        reason: String,
    },

    /// A URL supplied by the caller or the token server is unusable.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },

    /// A stop was requested; the operation ended at a safe point.
    #[error(transparent)]
    Interrupted(#[from] Interrupted),

    /// An engine failed in one of its own steps.
    #[error("engine {engine} failed: {source}")]
    Engine {
        /// The engine's name.
        engine: String,
        /// The engine's error.
        source: EngineError,
    },
}

impl Error {
    /// Whether this is an HMAC mismatch: the data was encrypted with keys we
    /// do not have (or was tampered with).
    pub fn is_bad_hmac(&self) -> bool {
        matches!(self, Error::Crypto(CryptoError::BadHmac))
    }

    /// When the server allows the next sync, if this error carries one.
    pub fn next_sync_allowed_at(&self) -> Option<SystemTime> {
        match self {
            Error::ServerUnavailable {
                next_sync_allowed_at, ..
            } => *next_sync_allowed_at,
            Error::Conflict { retry_after: Some(d) } => Some(SystemTime::now() + *d),
            _ => None,
        }
    }

    pub(crate) fn engine(engine: &str, source: EngineError) -> Self {
        Error::Engine {
            engine: engine.to_owned(),
            source,
        }
    }
}

/// The first `max` characters of a response body, for error messages.
pub(crate) fn body_excerpt(body: &[u8]) -> String {
    const MAX: usize = 512;
    let text = String::from_utf8_lossy(body);
    if text.chars().count() <= MAX {
        text.into_owned()
    } else {
        let mut cut: String = text.chars().take(MAX).collect();
        cut.push('…');
        cut
    }
}
