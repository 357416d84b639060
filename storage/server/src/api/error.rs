//! Every refusal the storage API can give, and how it looks on the wire.
//!
//! Every 4xx body is `application/json` and one of the 1.5 API's response
//! codes, a bare JSON number:
//!
//! | answer | body | when |
//! |---|---|---|
//! | 400 | `6` | the body is not JSON at all |
//! | 400 | `8` | a BSO is invalid: JSON that is not a list of objects, a BSO without an id, unknown fields in a PUT |
//! | 400 | `13` | the collection name is invalid |
//! | 400 | `17` | a count or size limit, or an `X-Weave-*` header over one |
//! | 400 | `1` | a malformed header or query parameter |
//! | 401 | `0` | Hawk or the token refused (Mozilla's storage nodes answer `0` too) |
//! | 403 | `14` | over quota (Mozilla answers 403 with 14) |
//! | 404 | `0` | no such BSO, or no such route (as Mozilla's `render_404`) |
//! | 405, 406, 415 | `1` | method, `Accept` or `Content-Type` not supported |
//! | 408 | `0` | the body did not arrive within `connections.body_read_timeout_secs`; the connection closes |
//! | 412 | `0` | `X-If-Unmodified-Since` failed; `X-Last-Modified` says when it changed |
//! | 413 | `17` | the request body is over `max_request_bytes` or a payload over `max_record_payload_bytes` |
//!
//! Where the 1.5 API names no code (401, 404, 405, 406, 412, 415) the
//! choice follows Mozilla's production server or, where it sends no body,
//! uses `0` for "nothing more to say" and `1` ("illegal method/protocol")
//! for requests the protocol does not allow.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{X_LAST_MODIFIED, ts_header};
use crate::db::DbError;

/// The protocol's numeric error codes (sent as the JSON body of a 4xx).
pub mod code {
    /// Nothing more specific to say (Mozilla's `UnknownError`).
    pub const UNKNOWN: u32 = 0;
    /// Illegal method/protocol: a malformed header or parameter.
    pub const ILLEGAL_METHOD: u32 = 1;
    /// The request body is not valid JSON.
    pub const MALFORMED_JSON: u32 = 6;
    /// A BSO is invalid.
    pub const INVALID_BSO: u32 = 8;
    /// The collection name is invalid.
    pub const INVALID_COLLECTION: u32 = 13;
    /// The account is over its quota.
    pub const OVER_QUOTA: u32 = 14;
    /// A size or count limit was exceeded.
    pub const SIZE_LIMIT_EXCEEDED: u32 = 17;
}

/// An error answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 304, with the resource's last-modified time (ms).
    #[error("not modified")]
    NotModified(i64),
    /// 400 with a protocol error code as the JSON body.
    #[error("bad request (code {0})")]
    Code(u32),
    /// 400 for a malformed parameter or header (code 1); the reason is logged.
    #[error("bad request: {0}")]
    BadParam(String),
    /// 401 from storage: bad, expired or stale token, or another user's URL.
    #[error("unauthorized")]
    Unauthorized,
    /// 403 with code 14.
    #[error("over quota")]
    OverQuota,
    /// 408: the body came too slowly; the connection is closed.
    #[error("request body timed out")]
    RequestTimeout,
    /// 404.
    #[error("not found")]
    NotFound,
    /// 405.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 406: no format the client accepts.
    #[error("not acceptable")]
    NotAcceptable,
    /// 412, with the resource's last-modified time (ms).
    #[error("precondition failed")]
    PreconditionFailed(i64),
    /// 413.
    #[error("request too large")]
    TooLarge,
    /// 415.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 503 with Retry-After.
    #[error("service unavailable")]
    Unavailable,
    /// 500; the cause is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::PreconditionFailed(modified) => ApiError::PreconditionFailed(modified),
            DbError::NotFound => ApiError::NotFound,
            DbError::Retired => ApiError::Unauthorized,
            DbError::OverQuota => ApiError::OverQuota,
            DbError::BatchNotFound => {
                ApiError::BadParam("no such batch (unknown, expired or committed)".into())
            }
            ref e if is_unavailable(e) => ApiError::Unavailable,
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// Whether the database cannot answer right now (a pool with no free
/// connection, SQLite busy, PostgreSQL gone or restarting): a 503 with
/// `Retry-After` from the storage API and the token server alike.
pub(crate) fn is_unavailable(e: &DbError) -> bool {
    match e {
        DbError::Pool(_) | DbError::ConnectionGone => true,
        DbError::Sql(inner) => is_busy(inner),
        DbError::Postgres(inner) => is_transient(inner),
        _ => false,
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

/// PostgreSQL gone, restarting, out of connections, or a transaction it
/// chose to abort: the client should come back later (503), not be told
/// the server is broken.
fn is_transient(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    let Some(db) = e.as_db_error() else {
        // Not an answer from the server: the connection failed or closed.
        return true;
    };
    let code = db.code();
    code.code().starts_with("08")
        || [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::QUERY_CANCELED,
        ]
        .contains(code)
}

/// A JSON answer: `status` with `body` (already JSON text).
pub(crate) fn json_body(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The protocol code a bare 4xx of `status` carries (for answers made
/// outside the handlers: body-size rejections, unknown routes).
pub(crate) fn code_for_status(status: StatusCode) -> u32 {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => code::SIZE_LIMIT_EXCEEDED,
        StatusCode::BAD_REQUEST
        | StatusCode::METHOD_NOT_ALLOWED
        | StatusCode::NOT_ACCEPTABLE
        | StatusCode::LENGTH_REQUIRED
        | StatusCode::UNSUPPORTED_MEDIA_TYPE => code::ILLEGAL_METHOD,
        _ => code::UNKNOWN,
    }
}

fn with_last_modified(mut response: Response, modified: i64) -> Response {
    response
        .headers_mut()
        .insert(X_LAST_MODIFIED, ts_header(modified));
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let coded = |status: StatusCode, code: u32| json_body(status, code.to_string());
        match self {
            ApiError::NotModified(modified) => {
                with_last_modified(StatusCode::NOT_MODIFIED.into_response(), modified)
            }
            ApiError::Code(code) => coded(StatusCode::BAD_REQUEST, code),
            ApiError::BadParam(reason) => {
                tracing::debug!(%reason, "bad request");
                coded(StatusCode::BAD_REQUEST, code::ILLEGAL_METHOD)
            }
            ApiError::Unauthorized => {
                // RFC 7235 §4.1: a 401 names the scheme that would work.
                let mut response = coded(StatusCode::UNAUTHORIZED, code::UNKNOWN);
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Hawk"));
                response
            }
            ApiError::OverQuota => coded(StatusCode::FORBIDDEN, code::OVER_QUOTA),
            ApiError::RequestTimeout => {
                let mut response = coded(StatusCode::REQUEST_TIMEOUT, code::UNKNOWN);
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                response
            }
            ApiError::NotFound => coded(StatusCode::NOT_FOUND, code::UNKNOWN),
            ApiError::MethodNotAllowed => coded(StatusCode::METHOD_NOT_ALLOWED, code::ILLEGAL_METHOD),
            ApiError::NotAcceptable => coded(StatusCode::NOT_ACCEPTABLE, code::ILLEGAL_METHOD),
            ApiError::PreconditionFailed(modified) => {
                with_last_modified(coded(StatusCode::PRECONDITION_FAILED, code::UNKNOWN), modified)
            }
            ApiError::TooLarge => coded(StatusCode::PAYLOAD_TOO_LARGE, code::SIZE_LIMIT_EXCEEDED),
            ApiError::UnsupportedMediaType => coded(StatusCode::UNSUPPORTED_MEDIA_TYPE, code::ILLEGAL_METHOD),
            ApiError::Unavailable => {
                let mut response = json_body(StatusCode::SERVICE_UNAVAILABLE, "\"server busy\"".into());
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                response
            }
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                json_body(StatusCode::INTERNAL_SERVER_ERROR, "\"internal error\"".into())
            }
        }
    }
}
