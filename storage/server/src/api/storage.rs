//! `storage/…`: collections and BSOs.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::Authenticated;
use super::body::{parse_bso, post_body, put_body};
use super::error::code;
use super::info::kb;
use super::listing::BsoOut;
use super::params::{self, BatchParam, Conditions};
use super::{ApiError, AppState, JsonTimestamp, X_LAST_MODIFIED, X_WEAVE_TIMESTAMP, reply_format, ts_header};
use crate::db::{BatchAppend, BatchLimit, BatchResult, BsoInput};

/// A BSO refused because the request or batch would pass a record limit.
const RETRY_BSO: &str = "retry bso";
/// A BSO refused because the request or batch would pass a byte limit.
const RETRY_BYTES: &str = "retry bytes";

type Result<T> = std::result::Result<T, ApiError>;

/// `GET storage/<collection>/<id>`.
pub async fn get_bso(
    State(state): State<Arc<AppState>>,
    Path((_, collection, id)): Path<(String, String, String)>,
    Authenticated(claims): Authenticated,
    headers: HeaderMap,
) -> Result<Response> {
    params::check_collection(&collection)?;
    reply_format(&headers, false)?;
    let conditions = Conditions::from_headers(&headers)?;
    let bso = state
        .with_db(claims, move |db, uid| {
            let bso = db.get_bso(uid, &collection, &id)?.ok_or(ApiError::NotFound)?;
            conditions.check_read(bso.modified)?;
            Ok(bso)
        })
        .await?;
    Ok((
        [(X_LAST_MODIFIED, ts_header(bso.modified))],
        axum::Json(BsoOut::of(&bso)),
    )
        .into_response())
}

/// `PUT storage/<collection>/<id>`.
pub async fn put_bso(
    State(state): State<Arc<AppState>>,
    Path((_, collection, id)): Path<(String, String, String)>,
    Authenticated(claims): Authenticated,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    params::check_collection(&collection)?;
    let conditions = Conditions::from_headers(&headers)?;
    let mut fields = put_body(content_type(&headers), &body)?;
    let limits = &state.config.limits;
    let input = match parse_bso(&mut fields, Some(&id), limits.max_record_payload_bytes) {
        Ok(input) => input,
        Err("payload too large") => return Err(ApiError::TooLarge),
        Err(reason) => {
            tracing::debug!(reason, "invalid BSO in PUT");
            return Err(ApiError::Code(code::INVALID_BSO));
        }
    };
    refuse_known_bad(&collection, std::slice::from_ref(&input))?;
    let quota = limits.quota_bytes;
    let outcome = state
        .with_db(claims, move |db, uid| {
            Ok(db.put_bso(uid, &collection, &input, conditions.unmodified_since, quota)?)
        })
        .await?;
    let mut response = write_response(outcome.modified, JsonTimestamp(outcome.modified));
    add_quota_header(&state, &mut response, outcome.collection_bytes);
    Ok(response)
}

/// `POST storage/<collection>`, with or without the batch API.
pub async fn post_collection(
    State(state): State<Arc<AppState>>,
    Path((_, collection)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    Authenticated(claims): Authenticated,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    params::check_collection(&collection)?;
    let conditions = Conditions::from_headers(&headers)?;
    let (batch, commit) = params::batch_params(&params::query_pairs(query.as_deref()))?;
    let limits = state.config.limits.clone();
    params::check_upload_headers(&headers, &limits, batch != BatchParam::None)?;
    let mut items = post_body(content_type(&headers), &body)?;

    // Validate each BSO (post_body made sure each has a distinct string id);
    // `failed` maps each refused id to one reason, as the 1.5 API shows it.
    // What takes the request past `max_post_bytes` or `max_post_records` is
    // refused BSO by BSO and the rest is stored, as Mozilla's server does
    // (syncstorage-rs `BsoBodies` and `CollectionPostRequest` extractors):
    // "retry bytes" from the first BSO whose payload passes the byte limit
    // on, then "retry bso" for those past the record limit, from the end.
    let mut valid: Vec<BsoInput> = Vec::with_capacity(items.len());
    let mut failed: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut post_bytes: u64 = 0;
    for item in &mut items {
        let parsed = parse_bso(item, None, limits.max_record_payload_bytes);
        let id = || item.id().unwrap_or_default().to_owned();
        match parsed {
            Ok(input) => {
                post_bytes += input.payload_len() as u64;
                if post_bytes > limits.max_post_bytes {
                    failed.insert(input.id, RETRY_BYTES);
                } else {
                    valid.push(input);
                }
            }
            Err("payload too large") => {
                failed.insert(id(), RETRY_BYTES);
            }
            Err(reason) => {
                failed.insert(id(), reason);
            }
        }
    }
    let max_records = usize::try_from(limits.max_post_records).unwrap_or(usize::MAX);
    for input in valid.drain(valid.len().min(max_records)..) {
        failed.insert(input.id, RETRY_BSO);
    }
    refuse_known_bad(&collection, &valid)?;

    let accepted: Vec<String> = valid.iter().map(|v| v.id.clone()).collect();
    let committing_batch = commit && batch != BatchParam::None;
    let quota = limits.quota_bytes;
    let ttl_ms = (state.config.batch_ttl_secs as i64).saturating_mul(1000);
    let result = state
        .with_db(claims, move |db, uid| match batch {
            BatchParam::None => Ok(BatchResult::Committed {
                outcome: db.post_bsos(uid, &collection, &valid, conditions.unmodified_since, quota)?,
                refused: Vec::new(),
            }),
            BatchParam::Start | BatchParam::Existing(_) => {
                let op = BatchAppend {
                    batch: match batch {
                        BatchParam::Existing(id) => Some(id),
                        _ => None,
                    },
                    inputs: &valid,
                    commit,
                    max_total_records: limits.max_total_records,
                    max_total_bytes: limits.max_total_bytes,
                    ttl_ms,
                };
                Ok(db.batch_post(uid, &collection, &op, conditions.unmodified_since, quota)?)
            }
        })
        .await?;

    let refused = match &result {
        BatchResult::Pending { refused, .. } | BatchResult::Committed { refused, .. } => refused.as_slice(),
    };
    for (id, limit) in refused {
        failed.insert(
            id.clone(),
            match limit {
                BatchLimit::Records => RETRY_BSO,
                BatchLimit::Bytes => RETRY_BYTES,
            },
        );
    }
    let accepted: Vec<String> = accepted
        .into_iter()
        .filter(|id| !failed.contains_key(id))
        .collect();
    let failed = json!(failed);
    match result {
        BatchResult::Pending {
            id,
            collection_modified,
            ..
        } => {
            let mut response = (
                StatusCode::ACCEPTED,
                axum::Json(json!({"batch": id.to_string(), "success": accepted, "failed": failed})),
            )
                .into_response();
            response
                .headers_mut()
                .insert(X_LAST_MODIFIED, ts_header(collection_modified));
            Ok(response)
        }
        BatchResult::Committed { outcome, .. } => {
            if committing_batch {
                state.metrics.batch_committed(outcome.success.len());
            }
            let mut response = write_response(
                outcome.modified,
                PostAnswer {
                    modified: JsonTimestamp(outcome.modified),
                    success: &outcome.success,
                    failed: &failed,
                },
            );
            add_quota_header(&state, &mut response, outcome.collection_bytes);
            Ok(response)
        }
    }
}

/// `DELETE storage/<collection>`, or of `?ids=…` within it.
pub async fn delete_collection(
    State(state): State<Arc<AppState>>,
    Path((_, collection)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    Authenticated(claims): Authenticated,
    headers: HeaderMap,
) -> Result<Response> {
    params::check_collection(&collection)?;
    let conditions = Conditions::from_headers(&headers)?;
    let pairs = params::query_pairs(query.as_deref());
    params::check_delete_params(&pairs)?;
    let ids = params::ids_param(&pairs)?;
    let modified = state
        .with_db(claims, move |db, uid| match ids {
            Some(ids) => Ok(db.delete_bsos(uid, &collection, &ids, conditions.unmodified_since)?),
            None => Ok(db.delete_collection(uid, &collection, conditions.unmodified_since)?),
        })
        .await?;
    Ok(write_response(
        modified,
        Modified {
            modified: JsonTimestamp(modified),
        },
    ))
}

/// `DELETE storage/<collection>/<id>`.
pub async fn delete_bso(
    State(state): State<Arc<AppState>>,
    Path((_, collection, id)): Path<(String, String, String)>,
    Authenticated(claims): Authenticated,
    headers: HeaderMap,
) -> Result<Response> {
    params::check_collection(&collection)?;
    let conditions = Conditions::from_headers(&headers)?;
    let modified = state
        .with_db(claims, move |db, uid| {
            Ok(db.delete_bso(uid, &collection, &id, conditions.unmodified_since)?)
        })
        .await?;
    Ok(write_response(
        modified,
        Modified {
            modified: JsonTimestamp(modified),
        },
    ))
}

/// `DELETE /1.5/<uid>` and `DELETE storage`: everything.
pub async fn delete_everything(
    State(state): State<Arc<AppState>>,
    Authenticated(claims): Authenticated,
    headers: HeaderMap,
) -> Result<Response> {
    let conditions = Conditions::from_headers(&headers)?;
    let modified = state
        .with_db(claims, move |db, uid| {
            Ok(db.delete_storage(uid, conditions.unmodified_since)?)
        })
        .await?;
    Ok(write_response(
        modified,
        Modified {
            modified: JsonTimestamp(modified),
        },
    ))
}

/// See [`params::known_bad_crypto_payload`].
fn refuse_known_bad(collection: &str, inputs: &[BsoInput]) -> Result<()> {
    let bad = collection == "crypto"
        && inputs
            .iter()
            .any(|i| i.payload.as_deref().is_some_and(params::known_bad_crypto_payload));
    if bad {
        tracing::warn!("refused a crypto payload with an all-zero IV");
        return Err(ApiError::Code(code::INVALID_BSO));
    }
    Ok(())
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())
}

/// A DELETE's answer.
#[derive(serde::Serialize)]
struct Modified {
    modified: JsonTimestamp,
}

/// A POST's answer.
#[derive(serde::Serialize)]
struct PostAnswer<'a> {
    modified: JsonTimestamp,
    success: &'a [String],
    failed: &'a Value,
}

/// A write's answer: `X-Last-Modified` and `X-Weave-Timestamp` both equal
/// the write's time.
fn write_response(modified: i64, body: impl serde::Serialize) -> Response {
    let mut response = axum::Json(body).into_response();
    let h = response.headers_mut();
    h.insert(X_LAST_MODIFIED, ts_header(modified));
    h.insert(X_WEAVE_TIMESTAMP, ts_header(modified));
    response
}

fn add_quota_header(state: &AppState, response: &mut Response, collection_bytes: i64) {
    let quota = state.config.limits.quota_bytes;
    if quota > 0 {
        let remaining = kb((quota as i64).saturating_sub(collection_bytes).max(0));
        if let Ok(value) = HeaderValue::from_str(&format!("{remaining:.2}")) {
            response.headers_mut().insert("x-weave-quota-remaining", value);
        }
    }
}
