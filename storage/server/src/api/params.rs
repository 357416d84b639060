//! Parsing and validating what clients send: query parameters, the
//! conditional headers, collection names and ids (BSO bodies: `body`).

use axum::http::HeaderMap;
use sync15::ServerTimestamp;

use super::error::{ApiError, code};
use crate::config::Limits;
use crate::db::{CollectionQuery, SortOrder};

/// The most ids one request may name.
pub const MAX_IDS: usize = 100;

/// `X-If-Modified-Since` / `X-If-Unmodified-Since`, in ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Conditions {
    pub modified_since: Option<i64>,
    pub unmodified_since: Option<i64>,
}

impl Conditions {
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        let read = |name: &str| -> Result<Option<i64>, ApiError> {
            match headers.get(name) {
                None => Ok(None),
                Some(v) => v
                    .to_str()
                    .ok()
                    .and_then(|s| ServerTimestamp::parse(s).ok())
                    .filter(|ts| ts.as_millis() >= 0)
                    .map(|ts| Some(ts.as_millis()))
                    .ok_or_else(|| {
                        ApiError::BadParam(format!("{name} must be a non-negative decimal timestamp"))
                    }),
            }
        };
        let conditions = Conditions {
            modified_since: read("x-if-modified-since")?,
            unmodified_since: read("x-if-unmodified-since")?,
        };
        if conditions.modified_since.is_some() && conditions.unmodified_since.is_some() {
            return Err(ApiError::BadParam(
                "X-If-Modified-Since and X-If-Unmodified-Since cannot be combined".into(),
            ));
        }
        Ok(conditions)
    }

    /// For reads: 304 if unchanged since, 412 if changed since (both
    /// carrying `modified` for their `X-Last-Modified`).
    pub fn check_read(&self, modified: i64) -> Result<(), ApiError> {
        if self.modified_since.is_some_and(|since| modified <= since) {
            return Err(ApiError::NotModified(modified));
        }
        if self.unmodified_since.is_some_and(|since| modified > since) {
            return Err(ApiError::PreconditionFailed(modified));
        }
        Ok(())
    }
}

/// Collection names: 1–32 characters of `[A-Za-z0-9._-]`; anything else
/// is a 400 with code 13 ("invalid collection").
pub fn check_collection(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        tracing::debug!(name, "invalid collection name");
        Err(ApiError::Code(code::INVALID_COLLECTION))
    }
}

/// BSO ids: 1–64 printable ASCII characters, as the 1.5 API says — but no
/// comma. `ids=` lists ids separated by commas, so a BSO whose id has one
/// could be stored but never named there (fetched, or deleted with
/// others); Mozilla's servers accept such ids, and no Firefox client makes
/// them (their ids are URL-safe base64).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b',')
}

/// Parameters that select BSOs for a read. A `DELETE` of a collection
/// takes only `ids`: with any of these it would otherwise delete the whole
/// collection while the client meant a part of it.
pub const READ_ONLY_PARAMS: [&str; 6] = ["newer", "older", "sort", "limit", "offset", "full"];

/// Refuses read-only selection parameters on a `DELETE`.
pub fn check_delete_params(pairs: &[(String, String)]) -> Result<(), ApiError> {
    match pairs.iter().find(|(k, _)| READ_ONLY_PARAMS.contains(&k.as_str())) {
        Some((name, _)) => Err(ApiError::BadParam(format!(
            "DELETE of a collection takes only ids, not {name}"
        ))),
        None => Ok(()),
    }
}

/// Decoded query parameters.
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The `ids` parameter: at most 100 valid ids.
pub fn ids_param(pairs: &[(String, String)]) -> Result<Option<Vec<String>>, ApiError> {
    let Some(raw) = param(pairs, "ids") else {
        return Ok(None);
    };
    let ids: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if ids.len() > MAX_IDS {
        return Err(ApiError::BadParam(format!("at most {MAX_IDS} ids per request")));
    }
    if let Some(bad) = ids.iter().find(|id| !valid_id(id)) {
        return Err(ApiError::BadParam(format!("invalid id {bad:?}")));
    }
    Ok(Some(ids))
}

/// A collection GET's parameters; also whether `full` was given.
pub fn collection_query(pairs: &[(String, String)]) -> Result<(CollectionQuery, bool), ApiError> {
    let timestamp = |name: &str| -> Result<Option<i64>, ApiError> {
        param(pairs, name)
            .map(|v| {
                ServerTimestamp::parse(v)
                    .map(|ts| ts.as_millis())
                    .map_err(|_| ApiError::BadParam(format!("{name} must be a decimal timestamp")))
            })
            .transpose()
    };
    let limit = param(pairs, "limit")
        .map(|v| {
            v.parse::<u64>()
                .ok()
                .filter(|l| *l > 0)
                .ok_or_else(|| ApiError::BadParam("limit must be a positive integer".into()))
        })
        .transpose()?;
    let offset = param(pairs, "offset")
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| ApiError::BadParam("offset must come from X-Weave-Next-Offset".into()))
        })
        .transpose()?
        .unwrap_or(0);
    let sort = match param(pairs, "sort") {
        None => SortOrder::Unspecified,
        Some("newest") => SortOrder::Newest,
        Some("oldest") => SortOrder::Oldest,
        Some("index") => SortOrder::Index,
        Some(other) => return Err(ApiError::BadParam(format!("unknown sort order {other:?}"))),
    };
    let query = CollectionQuery {
        ids: ids_param(pairs)?,
        newer: timestamp("newer")?,
        older: timestamp("older")?,
        sort,
        limit,
        offset,
        ids_only: param(pairs, "full").is_none(),
    };
    let full = !query.ids_only;
    Ok((query, full))
}

/// The batch parameters of a POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchParam {
    /// No `batch`: store at once.
    None,
    /// `batch=true`.
    Start,
    /// `batch=<id>`.
    Existing(i64),
}

/// `batch` and `commit`. `true` is matched without regard to case, as
/// Mozilla's server does.
pub fn batch_params(pairs: &[(String, String)]) -> Result<(BatchParam, bool), ApiError> {
    let batch = match param(pairs, "batch") {
        None => BatchParam::None,
        Some(v) if v.eq_ignore_ascii_case("true") => BatchParam::Start,
        Some(id) => BatchParam::Existing(
            id.parse()
                .map_err(|_| ApiError::BadParam(format!("invalid batch id {id:?}")))?,
        ),
    };
    let commit = match param(pairs, "commit") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(_) => return Err(ApiError::BadParam("commit must be \"true\"".into())),
    };
    if commit && batch == BatchParam::None {
        return Err(ApiError::BadParam("commit needs a batch".into()));
    }
    Ok((batch, commit))
}

/// Whether a `crypto` payload carries an all-zero IV: the mark of a known
/// client bug that would overwrite an account's keys with garbage. Mozilla's
/// server refuses such writes (its `KNOWN_BAD_PAYLOAD_REGEX`,
/// `IV":\s*"AAAAAAAAAAAAAAAAAAAAAA==`) with code 8, and so does this one.
pub fn known_bad_crypto_payload(payload: &str) -> bool {
    const ZERO_IV: &str = "\"AAAAAAAAAAAAAAAAAAAAAA==";
    payload
        .match_indices("IV\":")
        .any(|(at, m)| payload[at + m.len()..].trim_start().starts_with(ZERO_IV))
}

/// The `X-Weave-*` headers a client may send with a POST to declare what
/// it is uploading (1.5 API): over a limit is code 17; a value that is not
/// a whole number, or a batch total on a POST that is not part of a batch,
/// is code 1.
pub fn check_upload_headers(headers: &HeaderMap, limits: &Limits, in_batch: bool) -> Result<(), ApiError> {
    let checks = [
        ("x-weave-records", limits.max_post_records, false),
        ("x-weave-bytes", limits.max_post_bytes, false),
        ("x-weave-total-records", limits.max_total_records, true),
        ("x-weave-total-bytes", limits.max_total_bytes, true),
    ];
    for (name, limit, batch_only) in checks {
        let Some(value) = headers.get(name) else {
            continue;
        };
        if batch_only && !in_batch {
            return Err(ApiError::BadParam(format!("{name} needs a batch")));
        }
        let declared: u64 = value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| ApiError::BadParam(format!("{name} must be a whole number")))?;
        if declared > limit {
            return Err(ApiError::Code(code::SIZE_LIMIT_EXCEEDED));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditional_headers() {
        let mut h = HeaderMap::new();
        h.insert("x-if-modified-since", "12.34".parse().unwrap());
        let c = Conditions::from_headers(&h).unwrap();
        assert_eq!(c.modified_since, Some(12_340));
        assert!(matches!(c.check_read(12_340), Err(ApiError::NotModified(12_340))));
        assert!(c.check_read(12_350).is_ok());
        h.insert("x-if-unmodified-since", "1".parse().unwrap());
        assert!(Conditions::from_headers(&h).is_err());
        let mut bad = HeaderMap::new();
        bad.insert("x-if-unmodified-since", "soon".parse().unwrap());
        assert!(Conditions::from_headers(&bad).is_err());
    }

    #[test]
    fn query_parameters() {
        let pairs = query_pairs(Some("full=1&newer=1.5&limit=10&offset=20&sort=index&ids=a%2Cb"));
        let (q, full) = collection_query(&pairs).unwrap();
        assert!(full);
        assert_eq!(q.newer, Some(1500));
        assert_eq!(q.limit, Some(10));
        assert_eq!(q.offset, 20);
        assert_eq!(q.sort, SortOrder::Index);
        assert_eq!(q.ids.unwrap(), ["a", "b"]);
        for bad in ["limit=0", "limit=x", "offset=-1", "sort=random", "newer=later"] {
            assert!(collection_query(&query_pairs(Some(bad))).is_err(), "{bad}");
        }
        let many = format!("ids={}", vec!["x"; 101].join(","));
        assert!(collection_query(&query_pairs(Some(&many))).is_err());
        assert_eq!(
            batch_params(&query_pairs(Some("batch=12&commit=true"))).unwrap(),
            (BatchParam::Existing(12), true)
        );
        assert!(batch_params(&query_pairs(Some("commit=true"))).is_err());
        assert_eq!(
            batch_params(&query_pairs(Some("batch=TRUE&commit=True"))).unwrap(),
            (BatchParam::Start, true)
        );
        assert!(batch_params(&query_pairs(Some("batch=abc"))).is_err());
    }

    #[test]
    fn zero_iv_crypto_payloads() {
        assert!(known_bad_crypto_payload(
            r#"{"ciphertext":"x","IV":"AAAAAAAAAAAAAAAAAAAAAA==","hmac":"0"}"#
        ));
        assert!(known_bad_crypto_payload(r#"{"IV":  "AAAAAAAAAAAAAAAAAAAAAA=="}"#));
        assert!(!known_bad_crypto_payload(r#"{"IV":"AAAAAAAAAAAAAAAAAAAAAQ=="}"#));
        assert!(!known_bad_crypto_payload(r#"{"ciphertext":"IV\":"}"#));
    }

    #[test]
    fn upload_headers() {
        let limits = Limits::default();
        let with = |pairs: &[(&'static str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, v.parse().unwrap());
            }
            h
        };
        assert!(check_upload_headers(&with(&[("x-weave-records", "100")]), &limits, false).is_ok());
        assert!(matches!(
            check_upload_headers(&with(&[("x-weave-records", "101")]), &limits, false),
            Err(ApiError::Code(17))
        ));
        assert!(matches!(
            check_upload_headers(&with(&[("x-weave-bytes", "lots")]), &limits, false),
            Err(ApiError::BadParam(_))
        ));
        assert!(matches!(
            check_upload_headers(&with(&[("x-weave-total-records", "5")]), &limits, false),
            Err(ApiError::BadParam(_))
        ));
        assert!(check_upload_headers(&with(&[("x-weave-total-records", "5")]), &limits, true).is_ok());
        assert!(matches!(
            check_upload_headers(&with(&[("x-weave-total-bytes", "999999999999")]), &limits, true),
            Err(ApiError::Code(17))
        ));
    }
}
