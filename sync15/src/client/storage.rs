//! [`StorageClient`]: every endpoint of the SyncStorage 1.5 API.

use std::collections::HashMap;

use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::http::{
    HttpClient, RawResponse, X_LAST_MODIFIED, X_WEAVE_NEXT_OFFSET, X_WEAVE_QUOTA_REMAINING, X_WEAVE_RECORDS,
    X_WEAVE_TIMESTAMP, header_str, header_timestamp,
};
use super::request::{CollectionRequest, MAX_IDS_PER_REQUEST, Precondition, check_collection_name};
use crate::auth::{HawkCredentials, Token};
use crate::bso::{IncomingBso, OutgoingBso};
use crate::error::{Error, ServerKind};
use crate::guid::Guid;
use crate::records::{
    InfoCollectionCounts, InfoCollectionUsage, InfoCollections, InfoConfiguration, InfoQuota,
};
use crate::timestamp::ServerTimestamp;

const JSON: &str = "application/json";
const NEWLINES: &str = "application/newlines";

/// A value read from the server with the resource's last-modified time.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched<T> {
    /// The value.
    pub value: T,
    /// `X-Last-Modified` (or `X-Weave-Timestamp` where the server sent none).
    pub last_modified: ServerTimestamp,
}

/// One page of a collection GET with `full`.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionPage {
    /// The records, in the requested order.
    pub records: Vec<IncomingBso>,
    /// The collection's last-modified time when the page was read.
    pub last_modified: ServerTimestamp,
    /// Where the next page starts, if there are more records.
    pub next_offset: Option<String>,
    /// `X-Weave-Records`: how many records the server says are in this answer.
    pub total_records: Option<usize>,
}

/// One page of a collection GET without `full`.
#[derive(Debug, Clone, PartialEq)]
pub struct IdsPage {
    /// The ids.
    pub ids: Vec<Guid>,
    /// The collection's last-modified time.
    pub last_modified: ServerTimestamp,
    /// Where the next page starts, if there are more.
    pub next_offset: Option<String>,
}

/// The result of a PUT or DELETE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriteResult {
    /// The new last-modified time of what was written.
    pub modified: ServerTimestamp,
    /// `X-Weave-Quota-Remaining`, in KB, where the server enforces a quota.
    pub quota_remaining_kb: Option<f64>,
}

/// The `batch`/`commit` query parameters of a POST.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BatchParam {
    /// A plain POST, committed at once.
    #[default]
    None,
    /// `batch=true`: start a batch (and, with `commit`, end it at once).
    Start {
        /// Also `commit=true`.
        commit: bool,
    },
    /// `batch=<id>`: add to an open batch (and, with `commit`, end it).
    Append {
        /// The id the server gave when the batch started.
        id: String,
        /// Also `commit=true`.
        commit: bool,
    },
}

/// The answer to a POST of records.
#[derive(Debug, Clone, PartialEq)]
pub struct PostResponse {
    /// 200 (stored), or 202 (accepted into an open batch).
    pub status: u16,
    /// The batch id, when the records went into an open batch.
    pub batch: Option<String>,
    /// The new last-modified time, when the records were stored (not for 202).
    pub modified: Option<ServerTimestamp>,
    /// `X-Last-Modified`: the collection's time after this request.
    pub last_modified: ServerTimestamp,
    /// Ids stored (or, in a batch, accepted for the commit).
    pub success: Vec<Guid>,
    /// Ids refused, with the server's reason.
    pub failed: HashMap<Guid, String>,
    /// `X-Weave-Quota-Remaining`, in KB.
    pub quota_remaining_kb: Option<f64>,
}

#[derive(Deserialize)]
struct PostBody {
    #[serde(default)]
    modified: Option<ServerTimestamp>,
    #[serde(default)]
    batch: Option<String>,
    #[serde(default)]
    success: Vec<Guid>,
    #[serde(default)]
    failed: HashMap<Guid, FailureReason>,
}

/// Servers write a reason string, older ones a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
enum FailureReason {
    One(String),
    Many(Vec<String>),
}

impl FailureReason {
    fn into_string(self) -> String {
        match self {
            FailureReason::One(s) => s,
            FailureReason::Many(v) => v.join("; "),
        }
    }
}

/// A client for one user's data on one storage node.
///
/// Every method is one HTTP request (except [`StorageClient::delete_records`],
/// which splits long id lists), signed with Hawk. Server answers map to
/// typed [`Error`]s; see the crate docs.
#[derive(Debug, Clone)]
pub struct StorageClient {
    http: HttpClient,
    /// Always ends in `/`, so relative joins stay under it.
    endpoint: Url,
    credentials: HawkCredentials,
}

impl StorageClient {
    /// A client for the node and credentials in `token`.
    pub fn new(http: HttpClient, token: &Token) -> Result<Self, Error> {
        Self::with_credentials(http, &token.api_endpoint, token.hawk_credentials()?)
    }

    /// A client for an endpoint and credentials obtained some other way.
    pub fn with_credentials(
        http: HttpClient,
        api_endpoint: &str,
        credentials: HawkCredentials,
    ) -> Result<Self, Error> {
        let mut endpoint = Url::parse(api_endpoint).map_err(|e| Error::InvalidUrl {
            url: api_endpoint.to_owned(),
            reason: e.to_string(),
        })?;
        if endpoint.cannot_be_a_base() || !matches!(endpoint.scheme(), "http" | "https") {
            return Err(Error::InvalidUrl {
                url: api_endpoint.to_owned(),
                reason: "the storage endpoint must be an http(s) URL".into(),
            });
        }
        if !endpoint.path().ends_with('/') {
            let path = format!("{}/", endpoint.path());
            endpoint.set_path(&path);
        }
        endpoint.set_query(None);
        Ok(StorageClient {
            http,
            endpoint,
            credentials,
        })
    }

    /// The storage endpoint (with a trailing `/`).
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// The transport, for request counts and backoff.
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.endpoint.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    fn collection_url(&self, collection: &str) -> Result<Url, Error> {
        check_collection_name(collection)?;
        Ok(self.url(&["storage", collection]))
    }

    fn record_url(&self, collection: &str, id: &Guid) -> Result<Url, Error> {
        check_collection_name(collection)?;
        if !id.is_valid_for_sync_server() {
            return Err(Error::InvalidUrl {
                url: id.to_string(),
                reason: "not a valid record id".into(),
            });
        }
        Ok(self.url(&["storage", collection, id.as_str()]))
    }

    fn send(
        &self,
        method: Method,
        url: Url,
        precondition: Precondition,
        body: Option<(Vec<u8>, &'static str)>,
    ) -> Result<RawResponse, Error> {
        let authorization = self
            .credentials
            .authorization(method.as_str(), &url, self.http.server_now())?;
        let mut request = self
            .http
            .request(method, url)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .header(reqwest::header::ACCEPT, JSON);
        request = precondition.apply(request);
        if let Some((body, content_type)) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body);
        }
        self.http.execute(ServerKind::Storage, request)
    }

    fn get_json<T: DeserializeOwned>(
        &self,
        url: Url,
        precondition: Precondition,
        what: &str,
    ) -> Result<Fetched<T>, Error> {
        let response = self.send(Method::GET, url, precondition, None)?;
        Ok(Fetched {
            value: parse_json(&response.body, what)?,
            last_modified: last_modified(&response)?,
        })
    }

    /// `GET info/collections`: every collection's last-modified time. With
    /// [`Precondition::IfModifiedSince`], an unchanged account answers
    /// [`Error::NotModified`].
    pub fn info_collections(&self, precondition: Precondition) -> Result<Fetched<InfoCollections>, Error> {
        self.get_json(
            self.url(&["info", "collections"]),
            precondition,
            "info/collections",
        )
    }

    /// `GET info/configuration`: the server's limits. Servers that predate
    /// it answer 404; that yields the defaults of [`InfoConfiguration`].
    pub fn info_configuration(&self) -> Result<InfoConfiguration, Error> {
        match self.get_json(
            self.url(&["info", "configuration"]),
            Precondition::None,
            "info/configuration",
        ) {
            Ok(fetched) => Ok(fetched.value),
            Err(Error::NotFound) => Ok(InfoConfiguration::default()),
            Err(e) => Err(e),
        }
    }

    /// `GET info/quota`.
    pub fn info_quota(&self) -> Result<InfoQuota, Error> {
        Ok(self
            .get_json(self.url(&["info", "quota"]), Precondition::None, "info/quota")?
            .value)
    }

    /// `GET info/collection_usage`: KB per collection.
    pub fn info_collection_usage(&self) -> Result<InfoCollectionUsage, Error> {
        Ok(self
            .get_json(
                self.url(&["info", "collection_usage"]),
                Precondition::None,
                "info/collection_usage",
            )?
            .value)
    }

    /// `GET info/collection_counts`: records per collection.
    pub fn info_collection_counts(&self) -> Result<InfoCollectionCounts, Error> {
        Ok(self
            .get_json(
                self.url(&["info", "collection_counts"]),
                Precondition::None,
                "info/collection_counts",
            )?
            .value)
    }

    /// `GET storage/<collection>?full=1&…`: one page of full records. For
    /// more than one page, or more than 100 ids, use the
    /// [`DownloadPager`](crate::DownloadPager).
    pub fn get_collection(
        &self,
        request: &CollectionRequest,
        precondition: Precondition,
    ) -> Result<CollectionPage, Error> {
        let mut url = self.collection_url(&request.collection)?;
        request.apply_to(&mut url, true)?;
        let response = self.send(Method::GET, url, precondition, None)?;
        let what = format!("storage/{}", request.collection);
        Ok(CollectionPage {
            records: parse_list(&response, &what)?,
            last_modified: last_modified(&response)?,
            next_offset: header_str(&response.headers, X_WEAVE_NEXT_OFFSET).map(str::to_owned),
            total_records: header_str(&response.headers, X_WEAVE_RECORDS).and_then(|v| v.trim().parse().ok()),
        })
    }

    /// `GET storage/<collection>?…` without `full`: one page of ids.
    pub fn get_collection_ids(
        &self,
        request: &CollectionRequest,
        precondition: Precondition,
    ) -> Result<IdsPage, Error> {
        let mut url = self.collection_url(&request.collection)?;
        request.apply_to(&mut url, false)?;
        let response = self.send(Method::GET, url, precondition, None)?;
        let what = format!("storage/{} (ids)", request.collection);
        Ok(IdsPage {
            ids: parse_list(&response, &what)?,
            last_modified: last_modified(&response)?,
            next_offset: header_str(&response.headers, X_WEAVE_NEXT_OFFSET).map(str::to_owned),
        })
    }

    /// `GET storage/<collection>/<id>`. A missing record is [`Error::NotFound`].
    pub fn get_record(
        &self,
        collection: &str,
        id: &Guid,
        precondition: Precondition,
    ) -> Result<Fetched<IncomingBso>, Error> {
        let url = self.record_url(collection, id)?;
        self.get_json(url, precondition, &format!("storage/{collection}/{id}"))
    }

    /// `PUT storage/<collection>/<id>` of one record.
    pub fn put_record(
        &self,
        collection: &str,
        bso: &OutgoingBso,
        precondition: Precondition,
    ) -> Result<WriteResult, Error> {
        let url = self.record_url(collection, &bso.envelope.id)?;
        let body = serde_json::to_vec(bso).map_err(|source| Error::Serialize {
            id: bso.envelope.id.clone(),
            source,
        })?;
        let response = self.send(Method::PUT, url, precondition, Some((body, JSON)))?;
        write_result(&response)
    }

    /// `POST storage/<collection>` of a list of records. The caller keeps
    /// within the server's limits; the [`Uploader`](crate::Uploader) does
    /// that for any number of records.
    pub fn post_records(
        &self,
        collection: &str,
        records: &[OutgoingBso],
        batch: &BatchParam,
        precondition: Precondition,
    ) -> Result<PostResponse, Error> {
        let body = serde_json::to_vec(records).map_err(|source| Error::Serialize {
            id: records
                .first()
                .map(|r| r.envelope.id.clone())
                .unwrap_or_else(|| Guid::new("")),
            source,
        })?;
        self.post_body(collection, body, batch, precondition)
    }

    /// POST of an already-serialized JSON array of BSOs.
    pub(crate) fn post_body(
        &self,
        collection: &str,
        body: Vec<u8>,
        batch: &BatchParam,
        precondition: Precondition,
    ) -> Result<PostResponse, Error> {
        let mut url = self.collection_url(collection)?;
        {
            let mut query = url.query_pairs_mut();
            match batch {
                BatchParam::None => {}
                BatchParam::Start { commit } => {
                    query.append_pair("batch", "true");
                    if *commit {
                        query.append_pair("commit", "true");
                    }
                }
                BatchParam::Append { id, commit } => {
                    query.append_pair("batch", id);
                    if *commit {
                        query.append_pair("commit", "true");
                    }
                }
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let response = self.send(Method::POST, url, precondition, Some((body, JSON)))?;
        let parsed: PostBody = parse_json(&response.body, &format!("POST storage/{collection}"))?;
        Ok(PostResponse {
            status: response.status,
            batch: parsed.batch,
            modified: parsed.modified,
            last_modified: last_modified(&response)?,
            success: parsed.success,
            failed: parsed
                .failed
                .into_iter()
                .map(|(id, reason)| (id, reason.into_string()))
                .collect(),
            quota_remaining_kb: quota_remaining(&response),
        })
    }

    /// `DELETE storage/<collection>/<id>`. A missing record is [`Error::NotFound`].
    pub fn delete_record(
        &self,
        collection: &str,
        id: &Guid,
        precondition: Precondition,
    ) -> Result<WriteResult, Error> {
        let url = self.record_url(collection, id)?;
        let response = self.send(Method::DELETE, url, precondition, None)?;
        write_result(&response)
    }

    /// `DELETE storage/<collection>?ids=…`, 100 ids per request. Returns the
    /// collection's time after the last request.
    pub fn delete_records(
        &self,
        collection: &str,
        ids: &[Guid],
        precondition: Precondition,
    ) -> Result<WriteResult, Error> {
        let mut result = None;
        let mut precondition = precondition;
        for chunk in ids.chunks(MAX_IDS_PER_REQUEST) {
            let mut url = self.collection_url(collection)?;
            let joined = chunk.iter().map(|id| id.as_str()).collect::<Vec<_>>().join(",");
            url.query_pairs_mut().append_pair("ids", &joined);
            let response = self.send(Method::DELETE, url, precondition, None)?;
            let written = write_result(&response)?;
            // Our own earlier chunk moved the collection's time forward.
            if let Precondition::IfUnmodifiedSince(_) = precondition {
                precondition = Precondition::IfUnmodifiedSince(written.modified);
            }
            result = Some(written);
        }
        match result {
            Some(r) => Ok(r),
            None => Ok(WriteResult {
                modified: ServerTimestamp::ZERO,
                quota_remaining_kb: None,
            }),
        }
    }

    /// `DELETE storage/<collection>`: the whole collection.
    pub fn delete_collection(
        &self,
        collection: &str,
        precondition: Precondition,
    ) -> Result<WriteResult, Error> {
        let url = self.collection_url(collection)?;
        let response = self.send(Method::DELETE, url, precondition, None)?;
        write_result(&response)
    }

    /// `DELETE <endpoint>`: every collection of the user.
    pub fn delete_everything(&self) -> Result<ServerTimestamp, Error> {
        // The endpoint itself, as the token named it: `/1.5/<uid>`, no trailing slash.
        let mut url = self.endpoint.clone();
        let path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&path);
        let response = self.send(Method::DELETE, url, Precondition::None, None)?;
        Ok(write_result(&response)?.modified)
    }

    /// `DELETE storage`: the older spelling of [`StorageClient::delete_everything`].
    pub fn delete_storage(&self) -> Result<ServerTimestamp, Error> {
        let response = self.send(Method::DELETE, self.url(&["storage"]), Precondition::None, None)?;
        Ok(write_result(&response)?.modified)
    }
}

fn parse_json<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|source| Error::MalformedResponse {
        what: what.to_owned(),
        source,
    })
}

/// A multi-record body: a JSON array, or one JSON value per line when the
/// server answers `application/newlines`.
fn parse_list<T: DeserializeOwned>(response: &RawResponse, what: &str) -> Result<Vec<T>, Error> {
    let newlines = header_str(&response.headers, reqwest::header::CONTENT_TYPE.as_str())
        .is_some_and(|ct| ct.trim_start().starts_with(NEWLINES));
    if !newlines {
        return parse_json(&response.body, what);
    }
    response
        .body
        .split(|b| *b == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .map(|line| parse_json(line, what))
        .collect()
}

fn last_modified(response: &RawResponse) -> Result<ServerTimestamp, Error> {
    Ok(header_timestamp(&response.headers, X_LAST_MODIFIED)?
        .or(header_timestamp(&response.headers, X_WEAVE_TIMESTAMP)?)
        .unwrap_or(ServerTimestamp::ZERO))
}

fn quota_remaining(response: &RawResponse) -> Option<f64> {
    header_str(&response.headers, X_WEAVE_QUOTA_REMAINING).and_then(|v| v.trim().parse().ok())
}

/// PUT and DELETE answer with the new time, in `X-Last-Modified` and
/// (for PUT, and some servers' DELETE) a JSON body `{"modified": …}` or a
/// bare number. The header is authoritative.
fn write_result(response: &RawResponse) -> Result<WriteResult, Error> {
    let from_header = header_timestamp(&response.headers, X_LAST_MODIFIED)?;
    let modified = match from_header {
        Some(ts) => ts,
        None => {
            #[derive(Deserialize)]
            #[serde(untagged)]
            enum Body {
                Object { modified: ServerTimestamp },
                Bare(ServerTimestamp),
            }
            match serde_json::from_slice::<Body>(&response.body) {
                Ok(Body::Object { modified } | Body::Bare(modified)) => modified,
                Err(_) => {
                    header_timestamp(&response.headers, X_WEAVE_TIMESTAMP)?.unwrap_or(ServerTimestamp::ZERO)
                }
            }
        }
    };
    Ok(WriteResult {
        modified,
        quota_remaining_kb: quota_remaining(response),
    })
}
