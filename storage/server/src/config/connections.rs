//! `[connections]`: what one client connection may take.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Limits on connections, so slow or idle clients cannot pin the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Connections {
    /// Connections served at once; a further client is answered at once
    /// with 503 and `Retry-After` and closed. Keep it under the process's
    /// open-file limit (`ulimit -n`), which the database needs a few of too.
    pub max: u64,
    /// A request's head must arrive within this long of the server
    /// starting to wait for it — which also ends keep-alive connections
    /// that stay idle this long between requests.
    pub header_read_timeout_secs: u64,
    /// A request's whole body must arrive within this long of its head
    /// (408 otherwise).
    pub body_read_timeout_secs: u64,
    /// A connection on which nothing moves either way for this long while
    /// the server waits on the network (a stalled upload, a client that
    /// stopped reading its answer) is closed.
    pub idle_timeout_secs: u64,
}

impl Default for Connections {
    fn default() -> Self {
        Connections {
            max: 512,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 60,
            idle_timeout_secs: 30,
        }
    }
}

impl Connections {
    /// The header-read timeout.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }

    /// The body-read timeout.
    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_secs(self.body_read_timeout_secs)
    }

    /// The idle timeout.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    /// Why these limits cannot work, if they cannot.
    pub fn problem(&self) -> Option<&'static str> {
        if self.max == 0 {
            return Some("connections.max must be at least 1");
        }
        if self.header_read_timeout_secs == 0
            || self.body_read_timeout_secs == 0
            || self.idle_timeout_secs == 0
        {
            return Some("connection timeouts must be at least 1 second");
        }
        None
    }
}
