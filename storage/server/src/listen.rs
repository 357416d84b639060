//! The connection layer: serving clients up to a cap, HTTP/1.1 with a
//! header-read timeout (which also ends idle keep-alive connections), a
//! read/write inactivity timeout, and a graceful stop. `axum::serve` has
//! none of these limits, so slow or idle clients could hold connections
//! (and file descriptors) for as long as they liked. A client over the cap
//! is answered at once with a 503 and `Retry-After` and counted, rather
//! than left waiting in the listen backlog, where it could only time out.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};

use crate::config::Connections;
use crate::metrics::Metrics;

/// Largest request head (start line and headers). Sync clients send a few
/// hundred bytes; hyper answers 431 above this.
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// How long a stop waits for requests in flight.
const DRAIN_FOR: Duration = Duration::from_secs(30);

/// What a client over the connection cap is told. `Connection: close`: it
/// may try again after `Retry-After` seconds, on a new connection.
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Type: application/json\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}";

/// The longest a refused client is spent on.
const REFUSE_WITHIN: Duration = Duration::from_secs(2);

/// Refusals in progress at most; past this a client over the cap is closed
/// without an answer, so that a flood cannot turn refusals into the load.
const MAX_REFUSING: usize = 256;

/// Serves `router` on `listener` until `shutdown` completes, then lets the
/// requests in flight finish (for at most [`DRAIN_FOR`]).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &Connections,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let max = usize::try_from(limits.max)
        .unwrap_or(usize::MAX)
        .min(Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(max));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout())
        .max_header_size(MAX_HEADER_BYTES)
        .keep_alive(true);
    let idle = limits.idle_timeout();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = stream;
        let _ = stream.set_nodelay(true);
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            metrics.connection_refused();
            match refusing.clone().try_acquire_owned() {
                Ok(slot) => {
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(REFUSE_WITHIN, refuse(stream)).await;
                        drop(slot);
                    });
                }
                Err(_) => drop(stream),
            }
            continue;
        };
        metrics.set_connections_open(max - permits.available_permits());
        let io = TokioIo::new(IdleTimeout::new(stream, idle));
        // The peer's address rides on each request, as axum's own `serve`
        // with `ConnectInfo` gives it (the accounts service throttles by it).
        let service = tower::ServiceExt::map_request(
            router.clone(),
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                request
            },
        );
        let connection = graceful.watch(builder.serve_connection(io, TowerToHyperService::new(service)));
        let (permits, metrics) = (permits.clone(), metrics.clone());
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended");
            }
            drop(permit);
            metrics.set_connections_open(max - permits.available_permits());
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_FOR) => tracing::warn!("stopped with requests still in flight"),
    }
    Ok(())
}

/// Answers a client over the connection cap: reads the start of its
/// request (so that closing does not reset the connection under it), says
/// 503 with `Retry-After`, and closes once the client has read it.
async fn refuse(mut stream: tokio::net::TcpStream) -> io::Result<()> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await;
    stream.write_all(OVER_CAPACITY).await?;
    stream.shutdown().await?;
    while stream.read(&mut buf).await? > 0 {}
    Ok(())
}

/// A stream that fails with `TimedOut` when a read or write has waited
/// `idle` with nothing moving. Time spent while nobody polls it (a handler
/// working) does not count.
pub struct IdleTimeout<S> {
    inner: S,
    idle: Duration,
    last_progress: Instant,
    timer: Pin<Box<Sleep>>,
}

impl<S> IdleTimeout<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, idle: Duration) -> Self {
        let now = Instant::now();
        IdleTimeout {
            inner,
            idle,
            last_progress: now,
            timer: Box::pin(tokio::time::sleep_until(now + idle)),
        }
    }

    fn progressed(&mut self) {
        // The timer is not reset here (that would cost a timer-wheel update
        // per read); when it fires early it is moved to the real deadline.
        self.last_progress = Instant::now();
    }

    /// Called when the inner stream is not ready: `Ready(Err)` once the
    /// connection has waited too long.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let deadline = self.last_progress + self.idle;
            if Instant::now() >= deadline {
                return Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "connection idle"));
            }
            self.timer.as_mut().reset(deadline);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleTimeout<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.progressed();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.poll_deadline(cx).map(Err),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, data) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.progressed();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.poll_deadline(cx).map(Err),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending => this.poll_deadline(cx).map(Err),
            ready => ready,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.progressed();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.poll_deadline(cx).map(Err),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[tokio::test(start_paused = true)]
    async fn a_stalled_read_times_out_and_progress_keeps_it_alive() {
        let (client, server) = tokio::io::duplex(64);
        let mut server = IdleTimeout::new(server, Duration::from_secs(5));
        let mut client = client;
        let writer = tokio::spawn(async move {
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_secs(4)).await;
                client.write_all(b"x").await.unwrap();
            }
            // Then nothing more, with the stream still open.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            drop(client);
        });
        let started = Instant::now();
        let mut byte = [0u8; 1];
        for _ in 0..3 {
            server.read_exact(&mut byte).await.unwrap();
        }
        // 12 s in, each gap 4 s: no timeout so far.
        assert_eq!(started.elapsed(), Duration::from_secs(12));
        let err = server.read_exact(&mut byte).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(17));
        writer.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_reading_is_dropped() {
        let (_client, server) = tokio::io::duplex(16);
        let mut server = IdleTimeout::new(server, Duration::from_secs(5));
        let started = Instant::now();
        let err = server.write_all(&[0u8; 1024]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }
}
