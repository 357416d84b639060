//! `GET storage/<collection>`: one page when the client asks for a `limit`,
//! the whole collection, streamed, when it does not.

use std::io::{self, Write as _};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use hyper::body::Frame;
use tokio::sync::{mpsc, oneshot};

use super::auth::Authenticated;
use super::escape::write_json_str;
use super::params::{self, Conditions};
use super::{ApiError, AppState, JsonTimestamp, ReplyFormat, X_LAST_MODIFIED, reply_format, ts_header};
use crate::db::{Bso, CollectionQuery, CollectionSink, DbError};
use sync15::ServerTimestamp;

type Result<T> = std::result::Result<T, ApiError>;

/// Bytes of a streamed answer handed to the connection at a time.
const CHUNK_BYTES: usize = 64 * 1024;

/// Chunks queued between the database read and the connection: with
/// [`CHUNK_BYTES`], what a streamed answer holds besides what it read ahead.
const CHUNKS_IN_FLIGHT: usize = 4;

/// `GET storage/<collection>`.
pub async fn get_collection(
    State(state): State<Arc<AppState>>,
    Path((_, collection)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    Authenticated(claims): Authenticated,
    headers: HeaderMap,
) -> Result<Response> {
    params::check_collection(&collection)?;
    let format = reply_format(&headers, true)?;
    let conditions = Conditions::from_headers(&headers)?;
    let (query, full) = params::collection_query(&params::query_pairs(query.as_deref()))?;
    let writer = ListingWriter::new(full, format == ReplyFormat::Newlines);
    if query.limit.is_none() {
        return get_whole_collection(state, claims, collection, query, conditions, writer).await;
    }

    // A client that asks for a limit pages with X-Weave-Next-Offset, and
    // each page is also bounded in bytes (`PAGE_BYTES`).
    let page = state
        .with_db(claims, move |db, uid| {
            let page = db.get_collection(uid, &collection, &query)?;
            conditions.check_read(page.collection_modified.unwrap_or(0))?;
            Ok(page)
        })
        .await?;
    let mut writer = writer;
    for bso in &page.bsos {
        writer.push(bso);
    }
    let content_type = writer.content_type();
    let mut response = listing_response(
        Body::from(writer.finish()),
        content_type,
        page.collection_modified,
        page.bsos.len() as u64,
    );
    if let Some(next) = page.next_offset {
        response
            .headers_mut()
            .insert("x-weave-next-offset", HeaderValue::from(next));
    }
    Ok(response)
}

/// Everything the query selects, without `X-Weave-Next-Offset` (see
/// `db::unpaged` for why). A small answer goes out whole; a large one is
/// streamed from the read's snapshot, [`CHUNK_BYTES`] at a time, so the
/// server holds a bounded part of it however large the collection. If the
/// read fails mid-stream the body is cut off before its end (the chunked
/// encoding never completes), so a client sees an error, never a short list.
async fn get_whole_collection(
    state: Arc<AppState>,
    claims: crate::auth::TokenPayload,
    collection: String,
    query: CollectionQuery,
    conditions: Conditions,
    writer: ListingWriter,
) -> Result<Response> {
    let (head_tx, mut head_rx) = oneshot::channel();
    let content_type = writer.content_type();
    let mut sink = StreamingSink {
        conditions,
        writer,
        head: Some(head_tx),
        chunks: None,
    };
    let read = state.with_db(claims, move |db, uid| {
        let read = db.read_collection(uid, &collection, &query, &mut sink);
        sink.end(read)
    });
    tokio::pin!(read);
    // The read runs on the blocking pool; once its head is here, dropping
    // this future leaves it streaming the rest.
    let head = tokio::select! {
        biased;
        head = &mut head_rx => head.ok(),
        ended = &mut read => {
            ended?;
            head_rx.try_recv().ok()
        }
    };
    match head {
        Some(Ok(Head::Whole {
            modified,
            records,
            body,
        })) => Ok(listing_response(
            Body::from(body),
            content_type,
            modified,
            records,
        )),
        Some(Ok(Head::Streaming {
            modified,
            records,
            chunks,
        })) => Ok(listing_response(
            Body::new(ChannelBody(chunks)),
            content_type,
            modified,
            records,
        )),
        Some(Err(e)) => Err(e),
        None => Err(ApiError::Internal(
            "the collection read ended without an answer".into(),
        )),
    }
}

fn listing_response(body: Body, content_type: &'static str, modified: Option<i64>, records: u64) -> Response {
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(X_LAST_MODIFIED, ts_header(modified.unwrap_or(0)));
    h.insert("x-weave-records", HeaderValue::from(records));
    response
}

/// What the handler learns when a whole-collection read begins.
enum Head {
    /// The answer fitted in the read-ahead: here it is.
    Whole {
        modified: Option<i64>,
        records: u64,
        body: Vec<u8>,
    },
    /// The answer follows on `chunks`.
    Streaming {
        modified: Option<i64>,
        records: u64,
        chunks: mpsc::Receiver<io::Result<Bytes>>,
    },
}

/// Runs on the database thread: serializes records as they are read and
/// hands them to the connection in chunks, waiting while it is
/// [`CHUNKS_IN_FLIGHT`] behind. A client that stops reading is closed by
/// the connection's idle timeout, which drops the receiver and ends the read.
struct StreamingSink {
    conditions: Conditions,
    writer: ListingWriter,
    head: Option<oneshot::Sender<Result<Head>>>,
    /// Where a streamed answer's chunks go, once it began as one.
    chunks: Option<mpsc::Sender<io::Result<Bytes>>>,
}

impl StreamingSink {
    fn send_chunk(&mut self) -> bool {
        let chunk = std::mem::take(&mut self.writer.out);
        self.chunks
            .as_ref()
            .is_some_and(|c| c.blocking_send(Ok(Bytes::from(chunk))).is_ok())
    }

    /// After the read: the end of the stream, or its error — for the
    /// handler when no answer began, in the body when one did.
    fn end(mut self, read: std::result::Result<(), DbError>) -> Result<()> {
        match (read, self.chunks.take()) {
            (Ok(()), Some(chunks)) => {
                self.writer.close();
                let last = std::mem::take(&mut self.writer.out);
                let _ = chunks.blocking_send(Ok(Bytes::from(last)));
                Ok(())
            }
            // Answered whole, or refused by a precondition.
            (Ok(()), None) => Ok(()),
            (Err(e), Some(chunks)) => {
                tracing::error!(error = %e, "a streamed collection read failed; the answer is cut off");
                let _ = chunks.blocking_send(Err(io::Error::other("the collection read failed")));
                Ok(())
            }
            (Err(e), None) => Err(e.into()),
        }
    }
}

impl CollectionSink for StreamingSink {
    fn begin(&mut self, modified: Option<i64>, total: u64, first: Vec<Bso>) -> bool {
        let Some(head) = self.head.take() else {
            return false;
        };
        if let Err(e) = self.conditions.check_read(modified.unwrap_or(0)) {
            let _ = head.send(Err(e));
            return false;
        }
        let whole = first.len() as u64 == total;
        for bso in &first {
            self.writer.push(bso);
        }
        drop(first);
        if whole {
            self.writer.close();
            let body = std::mem::take(&mut self.writer.out);
            let _ = head.send(Ok(Head::Whole {
                modified,
                records: total,
                body,
            }));
            return false;
        }
        // Only a streamed answer needs the channel (most answers fit).
        let (chunks, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
        let began = head.send(Ok(Head::Streaming {
            modified,
            records: total,
            chunks: receiver,
        }));
        if began.is_err() {
            return false;
        }
        self.chunks = Some(chunks);
        self.send_chunk()
    }

    fn record(&mut self, bso: Bso) -> bool {
        self.writer.push(&bso);
        self.writer.out.len() < CHUNK_BYTES || self.send_chunk()
    }
}

/// A response body fed by the database thread.
struct ChannelBody(mpsc::Receiver<io::Result<Bytes>>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| c.map(Frame::data)))
    }
}

/// A BSO as the API shows it, borrowing from the stored one.
#[derive(serde::Serialize)]
pub(super) struct BsoOut<'a> {
    id: &'a str,
    modified: JsonTimestamp,
    payload: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sortindex: Option<i64>,
}

impl<'a> BsoOut<'a> {
    pub(super) fn of(b: &'a Bso) -> Self {
        BsoOut {
            id: &b.id,
            modified: JsonTimestamp(b.modified),
            payload: &b.payload,
            sortindex: b.sortindex,
        }
    }
}

/// Writes a listing — a JSON list, or one JSON value per line, of BSOs
/// (`full`) or ids — straight from the stored records.
struct ListingWriter {
    out: Vec<u8>,
    full: bool,
    newlines: bool,
    empty: bool,
}

impl ListingWriter {
    fn new(full: bool, newlines: bool) -> Self {
        ListingWriter {
            out: if newlines { Vec::new() } else { b"[".to_vec() },
            full,
            newlines,
            empty: true,
        }
    }

    fn content_type(&self) -> &'static str {
        if self.newlines {
            "application/newlines"
        } else {
            "application/json"
        }
    }

    fn push(&mut self, bso: &Bso) {
        if !self.empty && !self.newlines {
            self.out.push(b',');
        }
        self.empty = false;
        // `BsoOut` as serde_json writes it (the tests compare them), by
        // hand: its timestamp goes without a string and a JSON check per
        // record, its strings through the word-at-a-time escaper. Every
        // newline inside a string is escaped, so each value stays on its
        // own line.
        if self.full {
            self.out.extend_from_slice(b"{\"id\":");
            write_json_str(&mut self.out, &bso.id);
            // Writing into a Vec cannot fail.
            let _ = write!(
                self.out,
                ",\"modified\":{}",
                ServerTimestamp::from_millis(bso.modified)
            );
            self.out.extend_from_slice(b",\"payload\":");
            write_json_str(&mut self.out, &bso.payload);
            if let Some(sortindex) = bso.sortindex {
                let _ = write!(self.out, ",\"sortindex\":{sortindex}");
            }
            self.out.push(b'}');
        } else {
            write_json_str(&mut self.out, &bso.id);
        }
        if self.newlines {
            self.out.push(b'\n');
        }
    }

    fn close(&mut self) {
        if !self.newlines {
            self.out.push(b']');
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.close();
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written listing against serde_json's serialization of
    /// `BsoOut`, in both formats, full and ids only.
    #[test]
    fn a_listing_is_what_serde_json_writes_for_the_same_records() {
        let bsos = [
            Bso {
                id: "abcdefghijkl".into(),
                modified: 1_700_000_000_120,
                sortindex: Some(-7),
                payload: r#"{"ciphertext":"q83vEjRWeJ+/==","IV":"AAECAw==","hmac":"00ff"}"#.into(),
            },
            Bso {
                id: "with \"quote\" and \\".into(),
                modified: 0,
                sortindex: None,
                payload: "line\nbreak\ttab \u{1} é日本\u{1f600}".into(),
            },
            Bso {
                id: "x".into(),
                modified: 1_700_000_000_000,
                sortindex: Some(i64::MAX),
                payload: String::new(),
            },
        ];
        for newlines in [false, true] {
            for full in [false, true] {
                let mut writer = ListingWriter::new(full, newlines);
                for bso in &bsos {
                    writer.push(bso);
                }
                let ours = String::from_utf8(writer.finish()).expect("UTF-8");
                let values: Vec<String> = bsos
                    .iter()
                    .map(|b| {
                        if full {
                            serde_json::to_string(&BsoOut::of(b))
                        } else {
                            serde_json::to_string(&b.id)
                        }
                        .expect("serializable")
                    })
                    .collect();
                let expected = if newlines {
                    values.iter().map(|v| format!("{v}\n")).collect::<String>()
                } else {
                    format!("[{}]", values.join(","))
                };
                assert_eq!(ours, expected, "full {full}, newlines {newlines}");
            }
        }
    }
}
