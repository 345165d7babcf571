//! The TCP server under slow and greedy clients (slowloris), on loopback with bounded
//! connection counts: half-sent requests are cut off, one client cannot take every slot, and
//! `/health` keeps answering.

use std::net::SocketAddr;
use std::time::Duration;

use moose_api::{AppState, AuthSettings, ConnectionLimits, HttpLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_util::sync::CancellationToken;

const LIMITS: ConnectionLimits = ConnectionLimits {
    header_read_timeout: Duration::from_secs(1),
    body_read_timeout: Duration::from_secs(2),
    max_connections: 200,
    max_connections_per_client: 40,
    trusted_proxies: moose_domain::TrustedProxies::none(),
};

async fn server() -> (SocketAddr, CancellationToken, tempfile::TempDir) {
    server_with(LIMITS).await
}

async fn server_with(
    limits: ConnectionLimits,
) -> (SocketAddr, CancellationToken, tempfile::TempDir) {
    moose_telemetry::init_for_tests();
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(
        moose_store_sqlite::SqliteStore::open(dir.path())
            .await
            .unwrap(),
    );
    let app = moose_api::router(
        AppState::new(store, AuthSettings::default()),
        HttpLimits::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(moose_api::serve(
        listener,
        app,
        limits,
        stop.clone().cancelled_owned(),
    ));
    (addr, stop, dir)
}

/// A connection from `source` (another loopback address than the health checker's).
async fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

async fn health(addr: SocketAddr) -> u16 {
    let response = reqwest::Client::new()
        .get(format!("http://{addr}/health"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("/health answers while slow clients hold connections");
    response.status().as_u16()
}

/// Whether the server closes `conn` (EOF or reset) within `within`.
async fn closed_by_server(conn: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            // A response (e.g. 408) may come first; the close follows.
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_cut_off_and_health_keeps_answering() {
    let (addr, stop, _dir) = server().await;
    // 30 connections that send a partial request head and then trickle a byte now and then,
    // and 10 that send nothing at all.
    let mut slow = Vec::new();
    for i in 0..40 {
        let mut conn = connect_from("127.0.0.2", addr).await;
        if i < 30 {
            conn.write_all(b"GET /health HTTP/1.1\r\nHost: moose\r\nX-Slow: ")
                .await
                .unwrap();
        }
        slow.push(conn);
    }
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        for conn in slow.iter_mut().take(30) {
            let _ = conn.write_all(b"a").await;
        }
        assert_eq!(health(addr).await, 200);
    }
    // Each is closed by the server: the header timeout is 1 s; 10 s is a generous bound for a
    // loaded machine, and none of them ever finished a request head.
    for (i, conn) in slow.iter_mut().enumerate() {
        assert!(
            closed_by_server(conn, Duration::from_secs(10)).await,
            "slow connection {i} is still open"
        );
    }
    assert_eq!(health(addr).await, 200);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_cannot_take_every_connection() {
    let (addr, stop, _dir) = server().await;
    let mut held = Vec::new();
    for _ in 0..LIMITS.max_connections_per_client {
        held.push(connect_from("127.0.0.3", addr).await);
    }
    // One more from the same address is closed at once, before any byte is read.
    let mut extra = connect_from("127.0.0.3", addr).await;
    assert!(
        closed_by_server(&mut extra, Duration::from_secs(5)).await,
        "a connection over the per-client cap is closed"
    );
    // Another client is served meanwhile.
    assert_eq!(health(addr).await, 200);
    drop(held);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_is_cut_off() {
    let (addr, stop, _dir) = server().await;
    let mut conn = connect_from("127.0.0.4", addr).await;
    conn.write_all(
        b"POST /api/auth/login HTTP/1.1\r\nHost: moose\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
    )
    .await
    .unwrap();
    let trickle = async {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if conn.write_all(b" ").await.is_err() {
                break;
            }
        }
    };
    // 40 × 250 ms = 10 s of trickling; the body timeout is 2 s.
    trickle.await;
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut rest)).await;
    let text = String::from_utf8_lossy(&rest);
    assert!(
        text.is_empty() || !text.starts_with("HTTP/1.1 200"),
        "the request did not succeed: {text}"
    );
    assert!(
        closed_by_server(&mut conn, Duration::from_secs(5)).await,
        "the connection is closed"
    );
    stop.cancel();
}

/// Wrong passwords for `n` different accounts, each sent with `X-Forwarded-For: <its own
/// address>`; the statuses.
async fn wrong_sign_ins(addr: SocketAddr, n: usize) -> Vec<u16> {
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for i in 0..n {
        let r = http
            .post(format!("http://{addr}/api/auth/login"))
            .header("x-forwarded-for", format!("198.51.100.{}", i + 1))
            .json(&serde_json::json!({"email": format!("user{i}@example.com"), "password": "not-the-password"}))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    statuses
}

/// Sign-in throttling counts 20 attempts per client address. Behind a trusted proxy the client
/// is the address it forwards, so 25 clients behind one proxy are not locked out together;
/// without that trust a client's own `X-Forwarded-For` is ignored, so it cannot dodge the limit
/// by making up addresses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_names_the_client_and_a_forged_header_names_nobody() {
    let per_address = moose_auth::PER_ADDRESS;
    let (addr, stop, _dir) = server_with(ConnectionLimits {
        trusted_proxies: moose_domain::TrustedProxies::parse("127.0.0.1").unwrap(),
        ..LIMITS
    })
    .await;
    let statuses = wrong_sign_ins(addr, per_address + 5).await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    stop.cancel();

    let (addr, stop, _dir) = server().await;
    let statuses = wrong_sign_ins(addr, per_address + 5).await;
    assert!(
        statuses[..per_address].iter().all(|s| *s == 401),
        "{statuses:?}"
    );
    assert!(
        statuses[per_address..].iter().all(|s| *s == 429),
        "{statuses:?}"
    );
    stop.cancel();
}
