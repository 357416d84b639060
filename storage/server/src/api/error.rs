//! Every refusal the API can give, and how it looks on the wire.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::db::DbError;

/// The protocol's numeric error codes (sent as the JSON body of a 400).
pub mod code {
    /// The request body is not valid JSON.
    pub const MALFORMED_JSON: u32 = 6;
    /// A BSO is invalid.
    pub const INVALID_BSO: u32 = 8;
    /// The account is over its quota.
    pub const OVER_QUOTA: u32 = 14;
    /// A size or count limit was exceeded.
    pub const SIZE_LIMIT_EXCEEDED: u32 = 17;
}

/// An error answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 304.
    #[error("not modified")]
    NotModified,
    /// 400 with a protocol error code as the JSON body.
    #[error("bad request (code {0})")]
    Code(u32),
    /// 400 for a malformed parameter or header, explained in text.
    #[error("bad request: {0}")]
    BadParam(String),
    /// 401 from storage: bad, expired or stale token, or another user's URL.
    #[error("unauthorized")]
    Unauthorized,
    /// 401 from the token server, with its status string.
    #[error("token refused: {0}")]
    TokenRefused(&'static str),
    /// 403 with code 14.
    #[error("over quota")]
    OverQuota,
    /// 404.
    #[error("not found")]
    NotFound,
    /// 412.
    #[error("precondition failed")]
    PreconditionFailed,
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
            DbError::PreconditionFailed => ApiError::PreconditionFailed,
            DbError::NotFound => ApiError::NotFound,
            DbError::OverQuota => ApiError::OverQuota,
            DbError::BatchNotFound => {
                ApiError::BadParam("no such batch (unknown, expired or committed)".into())
            }
            DbError::LimitExceeded(_) => ApiError::Code(code::SIZE_LIMIT_EXCEEDED),
            DbError::Pool(_) => ApiError::Unavailable,
            DbError::Sql(ref inner) if is_busy(inner) => ApiError::Unavailable,
            other => ApiError::Internal(other.to_string()),
        }
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

fn json_body(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::NotModified => StatusCode::NOT_MODIFIED.into_response(),
            ApiError::Code(code) => json_body(StatusCode::BAD_REQUEST, code.to_string()),
            ApiError::BadParam(reason) => (StatusCode::BAD_REQUEST, reason).into_response(),
            ApiError::Unauthorized => json_body(StatusCode::UNAUTHORIZED, "\"unauthorized\"".into()),
            ApiError::TokenRefused(status) => json_body(
                StatusCode::UNAUTHORIZED,
                json!({
                    "status": status,
                    "errors": [{"location": "body", "name": "", "description": "Unauthorized"}]
                })
                .to_string(),
            ),
            ApiError::OverQuota => json_body(StatusCode::FORBIDDEN, code::OVER_QUOTA.to_string()),
            ApiError::NotFound => json_body(StatusCode::NOT_FOUND, "0".into()),
            ApiError::PreconditionFailed => json_body(StatusCode::PRECONDITION_FAILED, "0".into()),
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE.into_response(),
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response(),
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
