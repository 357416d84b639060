//! `info/*`: the account-wide documents.
//!
//! Every view answers with `X-Last-Modified` = the user's last write (the
//! "resource" Mozilla's server reads for requests naming no collection),
//! honours `X-If-Modified-Since` (304) and `X-If-Unmodified-Since` (412)
//! against it, and counts its entries in `X-Weave-Records` as Mozilla's does.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::auth::Authenticated;
use super::params::Conditions;
use super::{ApiError, AppState, JsonTimestamp, json_with_last_modified, reply_format};
use crate::auth::TokenPayload;
use crate::db::Db;

type Result<T> = std::result::Result<T, ApiError>;

/// What a view read: its body, its number of entries, and the user's last
/// write if it read that too (in the same statement).
type ViewRead<B> = (B, usize, Option<i64>);

/// Reads one view: `read` returns the body, its number of entries and
/// perhaps the user's last write; without it, that is read first.
async fn view<B: serde::Serialize + Send + 'static>(
    state: &Arc<AppState>,
    payload: TokenPayload,
    headers: &HeaderMap,
    read: impl FnOnce(&Db, u64) -> Result<ViewRead<B>> + Send + 'static,
) -> Result<Response> {
    reply_format(headers, false)?;
    let conditions = Conditions::from_headers(headers)?;
    let (modified, body, entries) = state
        .with_db(payload, move |db, uid| {
            let (body, entries, read_along) = read(db, uid)?;
            let modified = match read_along {
                Some(modified) => modified,
                None => db.user_modified(uid)?,
            };
            conditions.check_read(modified)?;
            Ok((modified, body, entries))
        })
        .await?;
    let mut response = json_with_last_modified(&body, modified);
    response
        .headers_mut()
        .insert("x-weave-records", HeaderValue::from(entries));
    Ok(response)
}

/// `GET info/collections`: every collection's time; 304 when nothing changed.
pub async fn collections(
    State(state): State<Arc<AppState>>,
    Authenticated(claims): Authenticated,
    headers: HeaderMap,
) -> Result<Response> {
    view(&state, claims, &headers, |db, uid| {
        let (user_modified, timestamps) = db.collection_timestamps(uid)?;
        let body: std::collections::BTreeMap<String, JsonTimestamp> = timestamps
            .into_iter()
            .map(|(name, ms)| (name, JsonTimestamp(ms)))
            .collect();
        let n = body.len();
        Ok((body, n, Some(user_modified)))
    })
    .await
}

/// `GET info/configuration`: the limits.
pub async fn configuration(
    State(state): State<Arc<AppState>>,
    Authenticated(claims): Authenticated,
    headers: HeaderMap,
) -> Result<Response> {
    let l = state.config.limits.clone();
    view(&state, claims, &headers, move |_, _| {
        let body = json!({
            "max_request_bytes": l.max_request_bytes,
            "max_post_records": l.max_post_records,
            "max_post_bytes": l.max_post_bytes,
            "max_total_records": l.max_total_records,
            "max_total_bytes": l.max_total_bytes,
            "max_record_payload_bytes": l.max_record_payload_bytes,
            "max_quota_limit": l.quota_bytes,
        });
        Ok((body, 7, None))
    })
    .await
}

/// `GET info/quota`: `[KB used, KB allowed per collection or null]`.
pub async fn quota(
    State(state): State<Arc<AppState>>,
    Authenticated(claims): Authenticated,
    headers: HeaderMap,
) -> Result<Response> {
    let quota = state.config.limits.quota_bytes;
    view(&state, claims, &headers, move |db, uid| {
        let used: i64 = db.collection_bytes(uid)?.iter().map(|(_, b)| b).sum();
        let limit = (quota > 0).then(|| kb(quota as i64));
        Ok((json!([kb(used), limit]), 2, None))
    })
    .await
}

/// `GET info/collection_usage`: KB per collection.
pub async fn collection_usage(
    State(state): State<Arc<AppState>>,
    Authenticated(claims): Authenticated,
    headers: HeaderMap,
) -> Result<Response> {
    view(&state, claims, &headers, |db, uid| {
        let body: Map<String, Value> = db
            .collection_bytes(uid)?
            .into_iter()
            .map(|(c, b)| (c, json!(kb(b))))
            .collect();
        let n = body.len();
        Ok((Value::Object(body), n, None))
    })
    .await
}

/// `GET info/collection_counts`: BSOs per collection.
pub async fn collection_counts(
    State(state): State<Arc<AppState>>,
    Authenticated(claims): Authenticated,
    headers: HeaderMap,
) -> Result<Response> {
    view(&state, claims, &headers, |db, uid| {
        let body: Map<String, Value> = db
            .collection_counts(uid)?
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| (c, json!(n)))
            .collect();
        let n = body.len();
        Ok((Value::Object(body), n, None))
    })
    .await
}

/// Bytes to KB, exactly, as Mozilla's server reports usage and quota
/// (syncstorage-rs `handlers.rs`: `size as f64 / ONE_KB`).
pub(super) fn kb(bytes: i64) -> f64 {
    bytes as f64 / 1024.0
}
