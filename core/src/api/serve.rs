//! The daemons' HTTP/h2c server: one accept loop per port, serving the axum router
//! (v1 APIs, operator endpoints, the agents' gRPC) over HTTP/1.1 and h2c, with the limits
//! an exposed port needs (issue 11, defect 4 d). Both daemons and `local` serve through it;
//! [`listen`] binds their ports.
//!
//! Mesos's libprocess keeps every accepted socket until its peer closes it and has no
//! header timeout; its operators raise `ulimit -n` by hand. Here:
//!
//! - [`raise_nofile_limit`] lifts the soft `RLIMIT_NOFILE` to the hard limit at start and
//!   logs both values (what Mesos's packaging does with `LimitNOFILE=infinity`).
//! - HTTP/1 connections must send a request head within [`HEADER_READ_TIMEOUT`] — both the
//!   first one and each next one on a kept-alive connection (hyper starts the timer when
//!   it waits for a head), so a slowloris client or an idle keep-alive connection ends.
//!   Streaming responses (framework and operator event streams) are not affected: no head
//!   is awaited while a response is in flight.
//! - h2c peers (agents' gRPC sessions) get keep-alive pings; a peer that does not answer
//!   within [`H2_KEEP_ALIVE_TIMEOUT`] is disconnected.
//! - At most [`Limits::connections`] connections (the fd limit minus a reserve for the
//!   daemon's own files) are served normally. Beyond that a bounded number of *overflow*
//!   connections is still accepted, from the reserve: each may make one request, answered
//!   only for `/health` (anything else gets `503 Service Unavailable`), with a short header
//!   timeout and no keep-alive, so the fds come back within seconds. Beyond that, new
//!   connections wait in the kernel's accept queue until an overflow slot is free.
//!   Hence `/health` answers while the daemon is full of connections.
//! - When `accept` itself fails for lack of descriptors (EMFILE/ENFILE: files, not
//!   connections, filled the table), the loop backs off (doubling from 10 ms to 1 s) instead
//!   of spinning, and logs once per episode.
//!
//! TLS (`LIBPROCESS_SSL_ENABLED`, [`crate::security::tls`]): each connection is TLS, with
//! ALPN `h2` (the agents' gRPC) or `http/1.1` on the same port. As libprocess's
//! `OpenSSLSocketImpl::accept` does with `LIBPROCESS_SSL_SUPPORT_DOWNGRADE`, the server
//! peeks at the first byte: `0x16` (a TLS handshake record) starts TLS, anything else is
//! served as plain HTTP when downgrades are supported and closed otherwise. The first byte
//! and the handshake must arrive within [`TLS_HANDSHAKE_TIMEOUT`], inside the connection's
//! slot (so the limits above hold for TLS connections too). With the `legacy` hostname
//! scheme and required client certificates, the client's certificate must then name the
//! peer ([`Tls::verify_client_name`]).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::security::tls::{TLS_HANDSHAKE_RECORD, Tls};

/// How long an HTTP/1 client has to send a request head (also the keep-alive idle limit).
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The header timeout of an overflow connection (see the module doc).
const OVERFLOW_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// h2 keep-alive: ping an idle peer this often, drop it if no answer within the timeout.
const H2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
const H2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// hyper's per-connection buffer cap (reads, and queued writes of a streaming body): a
/// reader that does not read holds at most this much here beyond the kernel's buffers.
const MAX_BUF_SIZE: usize = 64 * 1024;
/// How long a new connection has to send its first byte and, for TLS, finish the handshake.
pub(crate) const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for open connections (event streams never end by themselves).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Listen backlog for the daemons' ports (the kernel caps it at `net.core.somaxconn`).
/// After a master failover every agent reconnects at once; with tokio's default of 1,024
/// a burst of a thousand agents overflowed the accept queue here, and each dropped SYN
/// costs its agent the kernel's 1 s retransmission timeout.
const LISTEN_BACKLOG: u32 = 65535;

/// Binds a daemon's listening socket (with `SO_REUSEADDR`, as a restarted daemon needs).
pub(crate) fn listen(addr: std::net::SocketAddr) -> Result<tokio::net::TcpListener, String> {
    let bind = || -> std::io::Result<tokio::net::TcpListener> {
        let socket = match addr {
            std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(LISTEN_BACKLOG)
    };
    bind().map_err(|e| format!("failed to bind {addr}: {e}"))
}

/// Connection limits derived from the process's descriptor limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Connections served normally.
    pub connections: usize,
    /// Further connections served only for `/health` (see the module doc).
    pub overflow: usize,
}

impl Limits {
    /// Keeps a reserve of descriptors for the daemon's own files (registry, sandboxes,
    /// executors' pipes, ZooKeeper): an eighth of the limit, at least 64 and at most 4,096;
    /// half of the reserve may hold overflow connections.
    pub(crate) fn for_nofile(nofile: u64) -> Limits {
        let nofile = usize::try_from(nofile).unwrap_or(usize::MAX);
        let reserve = (nofile / 8).clamp(64, 4096);
        let connections = nofile.saturating_sub(reserve).max(1);
        Limits {
            connections,
            overflow: (reserve / 2).max(1),
        }
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; logs the old and new values and
/// returns the soft limit in force.
pub(crate) fn raise_nofile_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    // `None` is RLIM_INFINITY, which the kernel reports as the largest value.
    let limit = getrlimit(Resource::Nofile);
    let old = limit.current.unwrap_or(u64::MAX);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    if old < hard {
        // Raising the soft limit up to the hard one needs no privilege.
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => {
                tracing::info!(
                    old = old,
                    new = hard,
                    "raised the soft limit on open files (RLIMIT_NOFILE) to the hard limit"
                );
                return hard;
            }
            Err(e) => {
                let e = std::io::Error::from(e);
                tracing::warn!(error = %e, soft = old, hard = hard, "failed to raise RLIMIT_NOFILE");
                return old;
            }
        }
    }
    tracing::info!(
        old = old,
        new = old,
        "the soft limit on open files (RLIMIT_NOFILE) is already the hard limit"
    );
    old
}

/// The limits for this process: raises `RLIMIT_NOFILE` on the first call (see
/// [`raise_nofile_limit`]) and derives [`Limits`] from it. Each listener of the process
/// (`remesos local` has several) applies them to its own connections.
pub(crate) fn process_limits() -> Limits {
    static NOFILE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    Limits::for_nofile(*NOFILE.get_or_init(raise_nofile_limit))
}

/// Counts one class of live connections; the guard gives its slot back when dropped and
/// wakes the accept loop if it waits for one.
#[derive(Clone)]
struct Gauge {
    count: Arc<AtomicUsize>,
    freed: Arc<tokio::sync::Notify>,
}

struct Slot(Gauge);

impl Gauge {
    fn new(freed: Arc<tokio::sync::Notify>) -> Gauge {
        Gauge {
            count: Arc::default(),
            freed,
        }
    }

    fn try_take(&self, max: usize) -> Option<Slot> {
        self.count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(self.clone()))
    }

    fn get(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, Ordering::AcqRel);
        self.0.freed.notify_one();
    }
}

fn is_fd_exhaustion(e: &std::io::Error) -> bool {
    use rustix::io::Errno;
    let code = e.raw_os_error();
    code == Some(Errno::MFILE.raw_os_error()) || code == Some(Errno::NFILE.raw_os_error())
}

/// Serves `app` on `listener` until `shutdown` completes (then each connection is asked to
/// finish, and the server waits at most [`SHUTDOWN_GRACE`] for them).
/// With `tls`, connections are TLS (and plain too when it supports downgrades).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<Arc<Tls>>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let acceptor = tls
        .as_ref()
        .map(|tls| tokio_rustls::TlsAcceptor::from(tls.server.clone()));
    let freed = Arc::new(tokio::sync::Notify::new());
    let normal = Gauge::new(freed.clone());
    let overflow = Gauge::new(freed.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    // Out of file descriptors: 10 ms, doubling up to a second, until an accept succeeds.
    let mut backoff = crate::common::backoff::Backoff::deterministic(
        Duration::from_millis(10),
        Duration::from_secs(1),
    );
    tokio::pin!(shutdown);
    'accept: loop {
        // Full, overflow included: leave new connections in the kernel's accept queue
        // until a slot is free (overflow connections end within seconds), rather than
        // accepting and closing them unanswered.
        while normal.get() >= limits.connections && overflow.get() >= limits.overflow {
            tokio::select! {
                _ = freed.notified() => {}
                _ = &mut shutdown => break 'accept,
            }
        }
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => break 'accept,
        };
        let (stream, peer) = match accepted {
            Ok(ok) => ok,
            Err(e) if is_fd_exhaustion(&e) => {
                if backoff.attempts() == 0 {
                    tracing::error!(
                        error = %e,
                        connections = normal.get(),
                        overflow = overflow.get(),
                        "out of file descriptors: backing off from accepting connections"
                    );
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff.next_delay()) => continue,
                    _ = &mut shutdown => break 'accept,
                }
            }
            // Connection errors (reset/aborted before accept) concern one peer only.
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                continue;
            }
        };
        backoff.reset();
        let _ = stream.set_nodelay(true);
        let (slot, is_overflow) = match normal.try_take(limits.connections) {
            Some(slot) => (slot, false),
            None => match overflow.try_take(limits.overflow) {
                Some(slot) => (slot, true),
                // Taken meanwhile (a slot is only taken here, so not expected).
                None => {
                    tracing::debug!(%peer, "too many connections: closing a new one");
                    drop(stream);
                    continue;
                }
            },
        };
        if is_overflow {
            tracing::debug!(%peer, limit = limits.connections, "connection limit reached: serving /health only");
        }
        let app = app.clone();
        let stop = stop_rx.clone();
        let tls = tls.clone().zip(acceptor.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let Some((tls, acceptor)) = tls else {
                return serve_connection(stream, peer, app, is_overflow, stop).await;
            };
            match tokio::time::timeout(
                TLS_HANDSHAKE_TIMEOUT,
                accept_tls(stream, peer, &tls, &acceptor),
            )
            .await
            {
                Ok(Some(Accepted::Tls(stream))) => {
                    serve_connection(stream, peer, app, is_overflow, stop).await
                }
                Ok(Some(Accepted::Plain(stream))) => {
                    serve_connection(stream, peer, app, is_overflow, stop).await
                }
                Ok(None) => {}
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    while normal.get() + overflow.get() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A connection after its first byte: TLS (handshake done) or plain (a downgrade).
enum Accepted {
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    Plain(TcpStream),
}

/// Peeks at the first byte and completes the TLS handshake, or takes the connection as
/// plain HTTP when `tls` supports downgrades; `None` when the connection is refused.
async fn accept_tls(
    stream: TcpStream,
    peer: std::net::SocketAddr,
    tls: &Arc<Tls>,
    acceptor: &tokio_rustls::TlsAcceptor,
) -> Option<Accepted> {
    let mut first = [0u8; 1];
    match stream.peek(&mut first).await {
        Ok(1) => {}
        // Closed (or failed) before a byte.
        _ => return None,
    }
    if first[0] != TLS_HANDSHAKE_RECORD {
        if tls.config.support_downgrade {
            tracing::debug!(%peer, "serving a plain connection (LIBPROCESS_SSL_SUPPORT_DOWNGRADE)");
            return Some(Accepted::Plain(stream));
        }
        tracing::debug!(%peer, "refusing a plain connection: TLS is required");
        return None;
    }
    let stream = match acceptor.accept(stream).await {
        Ok(stream) => stream,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return None;
        }
    };
    let certificate = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|c| c.clone().into_owned());
    if let Err(e) = tls.verify_client_name(certificate, peer.ip()).await {
        tracing::warn!(%peer, error = %e, "refusing a TLS connection");
        return None;
    }
    Some(Accepted::Tls(Box::new(stream)))
}

/// Serves one connection (plain or TLS) until it ends or the server stops.
async fn serve_connection<I>(
    io: I,
    peer: std::net::SocketAddr,
    app: Router,
    is_overflow: bool,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .max_buf_size(MAX_BUF_SIZE)
        .keep_alive(!is_overflow)
        .header_read_timeout(if is_overflow {
            OVERFLOW_HEADER_READ_TIMEOUT
        } else {
            HEADER_READ_TIMEOUT
        });
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(H2_KEEP_ALIVE_TIMEOUT);
    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
        let app = app.clone();
        async move {
            let (parts, body) = request.into_parts();
            let body = Arc::new(std::sync::Mutex::new(body));
            let mut request = Request::from_parts(parts, Body::new(SharedBody(body.clone())));
            // The peer's address, as axum's `ConnectInfo`: the agent's executor
            // API serves its own host only (agent/http.rs).
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            let response = if is_overflow && !is_health(request.uri().path()) {
                drop(request);
                too_many_connections()
            } else {
                match app.oneshot(request).await {
                    Ok(response) => response,
                    Err(infallible) => match infallible {},
                }
            };
            drain_unread_body(body).await;
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            return;
        }
        _ = stop.wait_for(|stop| *stop) => conn.as_mut().graceful_shutdown(),
    }
    let _ = conn.await;
}

/// The request body as the app sees it: the connection keeps a second handle so that
/// it can read what the app left unread ([`drain_unread_body`]). A `std::sync::Mutex`
/// because it is only held inside one `poll_frame`, never across an `.await`.
struct SharedBody(Arc<std::sync::Mutex<hyper::body::Incoming>>);

impl hyper::body::Body for SharedBody {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let mut body = self.0.lock().unwrap_or_else(|e| e.into_inner());
        std::pin::Pin::new(&mut *body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).size_hint()
    }
}

/// How much of a request body the server reads, after the app answered without it,
/// before it sends the answer ([`drain_unread_body`]); and for how long.
const DRAIN_LIMIT: u64 = 64 * 1024;
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// Reads (and drops) what the app left unread of a request body, at most [`DRAIN_LIMIT`]
/// bytes within [`DRAIN_TIMEOUT`], before the response goes out: an early answer (401 from
/// the headers, 413, 503) must reach a client that is still sending its body.
///
/// Without this, over HTTP/2 the dropped body made h2 reset the stream (`RST_STREAM`),
/// and curl (7.88) reported "Stream error in the HTTP/2 framing layer" instead of the
/// 401; over HTTP/1 hyper closed the connection with the body unread, and a close with
/// unread bytes makes the kernel send a RST that can discard the answer at the client
/// (the "lingering close" Apache httpd does). A body the app still holds (a stream it
/// reads in a task) is left alone; a body declared larger than the limit is not waited
/// for (that client loses the early answer rather than the server reading without bound).
async fn drain_unread_body(body: Arc<std::sync::Mutex<hyper::body::Incoming>>) {
    use http_body_util::BodyExt;
    use hyper::body::Body as _;
    let Ok(body) = Arc::try_unwrap(body) else {
        return;
    };
    let mut body = body.into_inner().unwrap_or_else(|e| e.into_inner());
    if body.is_end_stream() || body.size_hint().lower() > DRAIN_LIMIT {
        return;
    }
    let drain = async {
        let mut read = 0u64;
        while read <= DRAIN_LIMIT {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        read = read.saturating_add(data.len() as u64);
                    }
                }
                Some(Err(_)) | None => return,
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain).await;
}

fn is_health(path: &str) -> bool {
    path == "/health" || path.ends_with("/health")
}

fn too_many_connections() -> Response<Body> {
    let mut response = Response::new(Body::from("Too many connections"));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_keep_a_reserve_of_descriptors_for_the_daemons_own_files() {
        // The default soft limit: an eighth (128) kept back, half of it for /health-only
        // connections.
        assert_eq!(
            Limits::for_nofile(1024),
            Limits {
                connections: 896,
                overflow: 64
            }
        );
        // A low limit keeps at least 64.
        assert_eq!(
            Limits::for_nofile(256),
            Limits {
                connections: 192,
                overflow: 32
            }
        );
        // A raised limit: an eighth, capped at 4,096.
        assert_eq!(Limits::for_nofile(1 << 20).connections, (1 << 20) - 4096);
        // Absurdly low limits still serve something.
        assert_eq!(Limits::for_nofile(10).connections, 1);
    }

    #[test]
    fn a_gauge_gives_its_slot_back_when_the_connection_ends() {
        let gauge = Gauge::new(Arc::default());
        let a = gauge.try_take(1);
        assert!(a.is_some());
        assert!(gauge.try_take(1).is_none(), "the limit holds");
        drop(a);
        assert!(gauge.try_take(1).is_some());
    }

    #[test]
    fn only_health_is_served_beyond_the_limit() {
        assert!(is_health("/health"));
        assert!(is_health("/slave(1)/health"));
        assert!(!is_health("/api/v1"));
        assert!(!is_health("/healthz"));
    }
}
