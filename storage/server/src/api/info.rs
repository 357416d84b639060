//! `info/*`: the account-wide documents.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::params::Conditions;
use super::{ApiError, AppState, X_LAST_MODIFIED, ts_header, ts_json};

type Result<T> = std::result::Result<T, ApiError>;

/// `GET info/collections`: every collection's time; 304 when nothing changed.
pub async fn collections(
    State(state): State<Arc<AppState>>,
    Path(uid): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response> {
    let claims = state.authenticate(&method, &uri, &headers, b"", &uid)?;
    let conditions = Conditions::from_headers(&headers)?;
    let (modified, collections) = state
        .with_db(claims, move |db, uid| {
            let modified = db.user_modified(uid)?;
            conditions.check_read(modified)?;
            Ok((modified, db.collection_timestamps(uid)?))
        })
        .await?;
    let body: Map<String, Value> = collections
        .into_iter()
        .map(|(name, ms)| (name, ts_json(ms)))
        .collect();
    Ok(([(X_LAST_MODIFIED, ts_header(modified))], Json(body)).into_response())
}

/// `GET info/configuration`: the limits.
pub async fn configuration(
    State(state): State<Arc<AppState>>,
    Path(uid): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response> {
    let claims = state.authenticate(&method, &uri, &headers, b"", &uid)?;
    state.with_db(claims, |_, _| Ok(())).await?;
    let l = &state.config.limits;
    Ok(Json(json!({
        "max_request_bytes": l.max_request_bytes,
        "max_post_records": l.max_post_records,
        "max_post_bytes": l.max_post_bytes,
        "max_total_records": l.max_total_records,
        "max_total_bytes": l.max_total_bytes,
        "max_record_payload_bytes": l.max_record_payload_bytes,
        "max_quota_limit": l.quota_bytes,
    }))
    .into_response())
}

/// `GET info/quota`: `[KB used, KB allowed per collection or null]`.
pub async fn quota(
    State(state): State<Arc<AppState>>,
    Path(uid): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response> {
    let claims = state.authenticate(&method, &uri, &headers, b"", &uid)?;
    let used: i64 = state
        .with_db(claims, |db, uid| {
            Ok(db.collection_bytes(uid)?.iter().map(|(_, b)| b).sum())
        })
        .await?;
    let quota = state.config.limits.quota_bytes;
    let limit = (quota > 0).then(|| kb(quota as i64));
    Ok(Json(json!([kb(used), limit])).into_response())
}

/// `GET info/collection_usage`: KB per collection.
pub async fn collection_usage(
    State(state): State<Arc<AppState>>,
    Path(uid): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response> {
    let claims = state.authenticate(&method, &uri, &headers, b"", &uid)?;
    let usage = state
        .with_db(claims, |db, uid| Ok(db.collection_bytes(uid)?))
        .await?;
    let body: Map<String, Value> = usage.into_iter().map(|(c, b)| (c, json!(kb(b)))).collect();
    Ok(Json(body).into_response())
}

/// `GET info/collection_counts`: BSOs per collection.
pub async fn collection_counts(
    State(state): State<Arc<AppState>>,
    Path(uid): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response> {
    let claims = state.authenticate(&method, &uri, &headers, b"", &uid)?;
    let counts = state
        .with_db(claims, |db, uid| Ok(db.collection_counts(uid)?))
        .await?;
    let body: Map<String, Value> = counts
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(c, n)| (c, json!(n)))
        .collect();
    Ok(Json(body).into_response())
}

/// Bytes to KB, as a number with at most two decimals.
pub(super) fn kb(bytes: i64) -> f64 {
    (bytes as f64 / 1024.0 * 100.0).round() / 100.0
}
