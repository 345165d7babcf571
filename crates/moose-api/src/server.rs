//! The TCP server of `moose serve`: HTTP/1.1 connections with limits that keep slow or greedy
//! clients from exhausting the process.
//!
//! - **Header-read timeout**: a connection that has not sent a complete request head within
//!   [`ConnectionLimits::header_read_timeout`] is closed; this includes a new connection that
//!   sends nothing and a keep-alive connection that stays idle (slowloris).
//! - **Body-read timeout**: a request body that has not fully arrived within
//!   [`ConnectionLimits::body_read_timeout`] of the request's start fails, which ends the
//!   request and its connection (a 1 byte/s trickle).
//! - **Connection caps**: at most [`ConnectionLimits::max_connections`] are served at once; a
//!   further connection waits in the kernel's backlog until one closes. One client address may
//!   hold at most [`ConnectionLimits::max_connections_per_client`]; past that its new
//!   connections are closed at once, so one slow client cannot take every slot and `/health`
//!   keeps answering everyone else.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use moose_domain::TrustedProxies;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// Limits on connections (see the module documentation), and which peers are proxies whose
/// `X-Forwarded-For` names the client.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Time a client has to send a complete request head, from the moment the server starts
    /// waiting for it (connection open, or the previous response sent).
    pub header_read_timeout: Duration,
    /// Time a request body has to arrive completely, from the start of the request.
    pub body_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Connections one client address may hold at once (the TCP peer: behind a proxy, the
    /// proxy).
    pub max_connections_per_client: usize,
    /// Peers whose `X-Forwarded-For` is believed: handlers then see the client it names as the
    /// connection's address (sign-in throttling, the activity log).
    pub trusted_proxies: TrustedProxies,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_connections_per_client: 256,
            trusted_proxies: TrustedProxies::none(),
        }
    }
}

/// Open connections per client address.
#[derive(Debug, Default)]
struct PerClient(Mutex<HashMap<IpAddr, usize>>);

impl PerClient {
    /// Counts a connection of `ip` unless it already holds `max`.
    fn enter(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<ClientSlot> {
        let mut open = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = open.entry(ip).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            table: Arc::clone(self),
            ip,
        })
    }
}

/// A counted connection; dropping it frees the slot.
#[derive(Debug)]
struct ClientSlot {
    table: Arc<PerClient>,
    ip: IpAddr,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self
            .table
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting connections
/// and waits for in-flight requests to finish (the caller bounds that wait).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_client = Arc::new(PerClient::default());
    let mut stop = stop_rx.clone();
    loop {
        let permit = tokio::select! {
            biased;
            () = stopped(&mut stop) => break,
            permit = Arc::clone(&slots).acquire_owned() => permit.map_err(std::io::Error::other)?,
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, or a connection reset before accept: back off briefly
                    // instead of spinning or dying.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(client_slot) = per_client.enter(peer.ip(), limits.max_connections_per_client)
        else {
            tracing::warn!(client = %peer.ip(), "too many connections from one client; closing the new one");
            continue;
        };
        let app = app.clone();
        let stop = stop_rx.clone();
        let limits = limits.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, app, limits, stop).await;
            drop(client_slot);
            drop(permit);
        });
    }
    // Refuse new connections at once rather than let them queue unanswered while we drain.
    drop(listener);
    // Wait for open connections to finish their requests: every slot back means all closed.
    let all = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    Ok(())
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let (body_timeout, proxies) = (limits.body_read_timeout, limits.trusted_proxies.clone());
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        // Connection info gives handlers the client address (sign-in throttling, activity log):
        // the peer, or the client a trusted proxy names.
        let client = if proxies.is_empty() {
            peer
        } else {
            let forwarded = req
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok());
            SocketAddr::new(proxies.client(peer.ip(), forwarded), peer.port())
        };
        req.extensions_mut().insert(ConnectInfo(client));
        let req = req.map(|body| Body::new(DeadlineBody::new(body, body_timeout)));
        app.clone().oneshot(req)
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let conn = http.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => log_connection_end(result),
        () = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            log_connection_end(conn.await);
        }
    }
}

/// Completes when shutdown has been signalled (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

fn log_connection_end(result: Result<(), hyper::Error>) {
    if let Err(e) = result {
        // Timeouts and clients that go away are routine; they are not the server failing.
        tracing::debug!(error = %e, "connection closed with an error");
    }
}

/// A request body that fails once its deadline passes before it has fully arrived.
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<Sleep>>,
    limit: Duration,
}

impl DeadlineBody {
    fn new(inner: Incoming, limit: Duration) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep_until(Instant::now() + limit)),
            limit,
        }
    }
}

/// The error a [`DeadlineBody`] ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {} seconds", .0.as_secs())]
struct BodyTimeout(Duration);

impl http_body::Body for DeadlineBody {
    type Data = hyper::body::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            let limit = self.limit;
            return Poll::Ready(Some(Err(Box::new(BodyTimeout(limit)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
