//! One collection held in memory, answering just enough of the storage
//! protocol (paged GET, POST with or without batches, `X-If-Unmodified-Since`)
//! for the pager, uploader and driver tests to run against something that
//! behaves like a server. The full protocol is `storage/server`'s job.

use std::collections::{HashMap, HashSet};

use parking_lot::Mutex;
use serde_json::{Value, json};
use sync15::ServerTimestamp;

use super::{ENDPOINT_PATH, Recorded, Reply};

/// A record as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub id: String,
    pub modified_ms: i64,
    pub payload: String,
    pub sortindex: Option<i64>,
}

#[derive(Debug, Default)]
struct State {
    clock_ms: i64,
    modified_ms: i64,
    records: Vec<Stored>,
    batches: HashMap<String, Vec<Value>>,
    next_batch: u64,
    /// Ids the server refuses, reporting them in `failed`.
    refuse: HashSet<String>,
    /// Ids the server silently leaves out of its answer.
    ignore: HashSet<String>,
}

/// See the module docs.
pub struct MemoryCollection {
    collection: String,
    batching: bool,
    state: Mutex<State>,
}

impl MemoryCollection {
    pub fn new(collection: &str, batching: bool) -> Self {
        MemoryCollection {
            collection: collection.to_owned(),
            batching,
            state: Mutex::new(State {
                // The real time: clients learn the server's clock from
                // X-Weave-Timestamp and sign with it.
                clock_ms: ServerTimestamp::now().as_millis() / 10 * 10,
                ..State::default()
            }),
        }
    }

    /// Stores a record as another client would, at a new time.
    pub fn insert(&self, id: &str, payload: &str) -> i64 {
        let mut state = self.state.lock();
        state.clock_ms += 10;
        let now = state.clock_ms;
        store(&mut state, id, payload.to_owned(), None, now);
        state.modified_ms = now;
        now
    }

    pub fn refuse(&self, id: &str) {
        self.state.lock().refuse.insert(id.to_owned());
    }

    pub fn ignore(&self, id: &str) {
        self.state.lock().ignore.insert(id.to_owned());
    }

    pub fn records(&self) -> Vec<Stored> {
        self.state.lock().records.clone()
    }

    pub fn get(&self, id: &str) -> Option<Stored> {
        self.state.lock().records.iter().find(|r| r.id == id).cloned()
    }

    pub fn modified(&self) -> ServerTimestamp {
        ServerTimestamp::from_millis(self.state.lock().modified_ms)
    }

    pub fn open_batches(&self) -> usize {
        self.state.lock().batches.len()
    }

    pub fn respond(&self, request: &Recorded) -> Reply {
        let mut state = self.state.lock();
        let now = state.clock_ms;
        let reply = self.answer(&mut state, request);
        reply.header(
            "X-Weave-Timestamp",
            &ServerTimestamp::from_millis(now).to_string(),
        )
    }

    fn answer(&self, state: &mut State, request: &Recorded) -> Reply {
        let expected = format!("{ENDPOINT_PATH}/storage/{}", self.collection);
        if request.path != expected {
            return Reply::status(404);
        }
        if let Some(since) = request.header("x-if-unmodified-since") {
            match ServerTimestamp::parse(since) {
                Ok(ts) if ts.as_millis() < state.modified_ms => return Reply::status(412),
                Ok(_) => {}
                Err(_) => return Reply::text(400, "1"),
            }
        }
        match request.method.as_str() {
            "GET" => self.get_collection(state, request),
            "POST" => self.post(state, request),
            _ => Reply::status(405),
        }
    }

    fn get_collection(&self, state: &State, request: &Recorded) -> Reply {
        let newer = request
            .param("newer")
            .map(|n| ServerTimestamp::parse(&n).unwrap().as_millis())
            .unwrap_or(i64::MIN);
        let ids: Option<HashSet<String>> = request
            .param("ids")
            .map(|ids| ids.split(',').map(str::to_owned).collect());
        let mut matching: Vec<&Stored> = state
            .records
            .iter()
            .filter(|r| r.modified_ms > newer)
            .filter(|r| ids.as_ref().is_none_or(|ids| ids.contains(&r.id)))
            .collect();
        matching.sort_by_key(|r| r.modified_ms);
        if request.param("sort").as_deref() == Some("newest") {
            matching.reverse();
        }
        let total = matching.len();
        let offset: usize = request.param("offset").map(|o| o.parse().unwrap()).unwrap_or(0);
        let limit: usize = request
            .param("limit")
            .map(|l| l.parse().unwrap())
            .unwrap_or(usize::MAX);
        let page: Vec<&Stored> = matching.iter().skip(offset).take(limit).copied().collect();
        let body: Vec<Value> = if request.param("full").is_some() {
            page.iter().map(|r| bso_json(r)).collect()
        } else {
            page.iter().map(|r| json!(r.id)).collect()
        };
        let mut reply = Reply::json(200, Value::Array(body))
            .header(
                "X-Last-Modified",
                &ServerTimestamp::from_millis(state.modified_ms).to_string(),
            )
            .header("X-Weave-Records", &total.to_string());
        if offset + page.len() < total {
            reply = reply.header("X-Weave-Next-Offset", &(offset + page.len()).to_string());
        }
        reply
    }

    fn post(&self, state: &mut State, request: &Recorded) -> Reply {
        let Ok(Value::Array(records)) = serde_json::from_slice::<Value>(&request.body) else {
            return Reply::text(400, "6");
        };
        let mut success = Vec::new();
        let mut failed = serde_json::Map::new();
        let mut valid = Vec::new();
        for record in records {
            let id = record["id"].as_str().unwrap_or_default().to_owned();
            if state.ignore.contains(&id) {
                continue;
            }
            if state.refuse.contains(&id) || record["payload"].as_str().is_none() {
                failed.insert(id, json!("invalid record"));
                continue;
            }
            success.push(json!(id));
            valid.push(record);
        }

        let batch = request.param("batch").filter(|_| self.batching);
        let commit = request.param("commit").is_some();
        let batch_id = match batch.as_deref() {
            None => None,
            Some("true") => {
                state.next_batch += 1;
                let id = format!("b{}", state.next_batch);
                state.batches.insert(id.clone(), Vec::new());
                Some(id)
            }
            Some(id) if state.batches.contains_key(id) => Some(id.to_owned()),
            Some(_) => return Reply::text(400, "\"batch not found\""),
        };
        match batch_id {
            Some(id) if !commit => {
                state.batches.get_mut(&id).unwrap().extend(valid);
                Reply::json(202, json!({"batch": id, "success": success, "failed": failed}))
            }
            Some(id) => {
                let mut all = state.batches.remove(&id).unwrap();
                all.extend(valid);
                self.commit(state, all, success, failed)
            }
            None => self.commit(state, valid, success, failed),
        }
    }

    fn commit(
        &self,
        state: &mut State,
        records: Vec<Value>,
        success: Vec<Value>,
        failed: serde_json::Map<String, Value>,
    ) -> Reply {
        state.clock_ms += 10;
        let now = state.clock_ms;
        for record in records {
            store(
                state,
                record["id"].as_str().unwrap(),
                record["payload"].as_str().unwrap().to_owned(),
                record["sortindex"].as_i64(),
                now,
            );
        }
        state.modified_ms = now;
        let modified = ServerTimestamp::from_millis(now);
        Reply::json(
            200,
            json!({"modified": modified, "success": success, "failed": failed}),
        )
        .header("X-Last-Modified", &modified.to_string())
    }
}

fn store(state: &mut State, id: &str, payload: String, sortindex: Option<i64>, now: i64) {
    state.records.retain(|r| r.id != id);
    state.records.push(Stored {
        id: id.to_owned(),
        modified_ms: now,
        payload,
        sortindex,
    });
}

fn bso_json(r: &Stored) -> Value {
    let mut bso = json!({
        "id": r.id,
        "modified": ServerTimestamp::from_millis(r.modified_ms),
        "payload": r.payload,
    });
    if let Some(s) = r.sortindex {
        bso["sortindex"] = json!(s);
    }
    bso
}
