//! Request descriptions: which records of a collection to fetch, and the
//! conditional headers.

use url::Url;

use crate::error::Error;
use crate::guid::Guid;
use crate::timestamp::ServerTimestamp;

/// The most ids one `ids=` parameter may carry.
pub const MAX_IDS_PER_REQUEST: usize = 100;

/// The order of records in a collection GET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOrder {
    /// Newest `modified` first.
    Newest,
    /// Oldest `modified` first.
    Oldest,
    /// Highest `sortindex` first.
    Index,
}

impl RequestOrder {
    /// The `sort=` value.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestOrder::Newest => "newest",
            RequestOrder::Oldest => "oldest",
            RequestOrder::Index => "index",
        }
    }
}

/// Which records of a collection to fetch: every query parameter of
/// `GET storage/<collection>` but `full`, which the client method decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionRequest {
    /// The collection name.
    pub collection: String,
    /// Only these ids (the pager splits lists longer than 100).
    pub ids: Option<Vec<Guid>>,
    /// Only records modified strictly after this.
    pub newer: Option<ServerTimestamp>,
    /// Only records modified strictly before this.
    pub older: Option<ServerTimestamp>,
    /// The order.
    pub sort: Option<RequestOrder>,
    /// At most this many records in total.
    pub limit: Option<usize>,
    /// Continue after a previous page (the server's `X-Weave-Next-Offset`).
    pub offset: Option<String>,
}

impl CollectionRequest {
    /// Everything in `collection`.
    pub fn new(collection: impl Into<String>) -> Self {
        CollectionRequest {
            collection: collection.into(),
            ids: None,
            newer: None,
            older: None,
            sort: None,
            limit: None,
            offset: None,
        }
    }

    /// What an engine downloads each sync: the records of `collection`
    /// modified after its `last_sync`, or nothing when the collection
    /// (last modified at `server_modified`) has not changed since.
    pub fn changes_since(
        collection: &str,
        last_sync: ServerTimestamp,
        server_modified: ServerTimestamp,
    ) -> Option<Self> {
        (server_modified > last_sync).then(|| CollectionRequest::new(collection).newer_than(last_sync))
    }

    /// Only these ids.
    pub fn ids(mut self, ids: impl IntoIterator<Item = Guid>) -> Self {
        self.ids = Some(ids.into_iter().collect());
        self
    }

    /// Only records modified after `ts`.
    pub fn newer_than(mut self, ts: ServerTimestamp) -> Self {
        self.newer = Some(ts);
        self
    }

    /// Only records modified before `ts`.
    pub fn older_than(mut self, ts: ServerTimestamp) -> Self {
        self.older = Some(ts);
        self
    }

    /// In this order.
    pub fn sort_by(mut self, order: RequestOrder) -> Self {
        self.sort = Some(order);
        self
    }

    /// At most `n` records.
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// Starting from a previous page's next offset.
    pub fn offset(mut self, offset: impl Into<String>) -> Self {
        self.offset = Some(offset.into());
        self
    }

    /// Adds the query parameters to `url`.
    pub(crate) fn apply_to(&self, url: &mut Url, full: bool) -> Result<(), Error> {
        if let Some(ids) = &self.ids {
            if ids.len() > MAX_IDS_PER_REQUEST {
                return Err(Error::InvalidUrl {
                    url: url.to_string(),
                    reason: format!("at most {MAX_IDS_PER_REQUEST} ids per request, got {}", ids.len()),
                });
            }
        }
        let mut query = url.query_pairs_mut();
        if full {
            query.append_pair("full", "1");
        }
        if let Some(ids) = &self.ids {
            let joined = ids.iter().map(|id| id.as_str()).collect::<Vec<_>>().join(",");
            query.append_pair("ids", &joined);
        }
        if let Some(ts) = self.newer {
            query.append_pair("newer", &ts.to_string());
        }
        if let Some(ts) = self.older {
            query.append_pair("older", &ts.to_string());
        }
        if let Some(order) = self.sort {
            query.append_pair("sort", order.as_str());
        }
        if let Some(n) = self.limit {
            query.append_pair("limit", &n.to_string());
        }
        if let Some(offset) = &self.offset {
            query.append_pair("offset", offset);
        }
        drop(query);
        if url.query() == Some("") {
            url.set_query(None);
        }
        Ok(())
    }
}

/// A conditional header for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precondition {
    /// Unconditional.
    #[default]
    None,
    /// `X-If-Modified-Since`: answer 304 ([`Error::NotModified`]) if the
    /// target has not changed since. GET only.
    IfModifiedSince(ServerTimestamp),
    /// `X-If-Unmodified-Since`: fail with 412 ([`Error::PreconditionFailed`])
    /// if the target changed since. Use 0 to mean "only if it does not exist".
    IfUnmodifiedSince(ServerTimestamp),
}

impl Precondition {
    pub(crate) fn apply(self, req: reqwest::blocking::RequestBuilder) -> reqwest::blocking::RequestBuilder {
        match self {
            Precondition::None => req,
            Precondition::IfModifiedSince(ts) => req.header("X-If-Modified-Since", ts.to_string()),
            Precondition::IfUnmodifiedSince(ts) => req.header("X-If-Unmodified-Since", ts.to_string()),
        }
    }
}

/// Checks a collection name against the server's rule: 1 to 32 characters
/// of letters, digits, `-`, `_` and `.`.
pub(crate) fn check_collection_name(name: &str) -> Result<(), Error> {
    // "." and ".." would be path traversal, not collections.
    let ok = !name.is_empty()
        && name.len() <= 32
        && !name.bytes().all(|b| b == b'.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidUrl {
            url: name.chars().take(64).collect(),
            reason: "collection names are 1-32 characters of letters, digits, '-', '_' and '.'".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(req: &CollectionRequest, full: bool) -> Option<String> {
        let mut url = Url::parse("http://127.0.0.1/1.5/1/storage/history").unwrap();
        req.apply_to(&mut url, full).unwrap();
        url.query().map(str::to_owned)
    }

    #[test]
    fn every_parameter() {
        let req = CollectionRequest::new("history")
            .ids([Guid::new("aaaaaaaaaaaa"), Guid::new("bbbbbbbbbbbb")])
            .newer_than(ServerTimestamp::from_millis(1_500))
            .older_than(ServerTimestamp::from_millis(9_990))
            .sort_by(RequestOrder::Index)
            .limit(50)
            .offset("abc-_");
        assert_eq!(
            query(&req, true).unwrap(),
            "full=1&ids=aaaaaaaaaaaa%2Cbbbbbbbbbbbb&newer=1.50&older=9.99&sort=index&limit=50&offset=abc-_"
        );
        assert_eq!(query(&CollectionRequest::new("history"), false), None);
        assert_eq!(RequestOrder::Newest.as_str(), "newest");
        assert_eq!(RequestOrder::Oldest.as_str(), "oldest");
    }

    #[test]
    fn odd_ids_are_encoded() {
        let req = CollectionRequest::new("c").ids([Guid::new("{a b}&c=d")]);
        assert_eq!(query(&req, false).unwrap(), "ids=%7Ba+b%7D%26c%3Dd");
    }

    #[test]
    fn too_many_ids_is_refused() {
        let req = CollectionRequest::new("c").ids((0..101).map(|i| Guid::new(&format!("id{i}"))));
        let mut url = Url::parse("http://127.0.0.1/").unwrap();
        assert!(matches!(
            req.apply_to(&mut url, true),
            Err(Error::InvalidUrl { .. })
        ));
    }

    #[test]
    fn collection_names() {
        for good in ["bookmarks", "meta", "a.b-c_d", &"x".repeat(32)] {
            assert!(check_collection_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "..%2f", &"x".repeat(33), "é"] {
            assert!(check_collection_name(bad).is_err(), "{bad}");
        }
    }
}
