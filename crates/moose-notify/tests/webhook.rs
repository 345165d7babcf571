//! Webhook delivery against a real HTTP receiver (axum on loopback) that checks signatures the
//! way a customer's endpoint would, with `verify_signature`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use moose_domain::Secret;
use moose_notify::channels::webhook::verify_signature;
use moose_notify::{DeliveryError, OutgoingMessage, WebhookSender, WebhookSettings};
use serde_json::{Value, json};

const SECRET: &str = "whsec_moose_test";

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    idempotency_key: Option<String>,
    event: Option<String>,
    signature_valid: bool,
    query: Option<String>,
    body: Value,
}

#[derive(Clone)]
struct Receiver {
    seen: Arc<Mutex<Vec<Received>>>,
    /// What to answer once the signature checks out.
    status: StatusCode,
    extra_headers: Vec<(&'static str, &'static str)>,
    delay: Duration,
}

async fn hook(
    State(receiver): State<Receiver>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let now = jiff::Timestamp::now().as_second();
    let signature_valid = header("x-moose-signature")
        .is_some_and(|sig| verify_signature(&Secret::new(SECRET), &sig, &body, now, 300));
    receiver.seen.lock().unwrap().push(Received {
        idempotency_key: header("x-moose-idempotency-key"),
        event: header("x-moose-event"),
        signature_valid,
        query: uri.query().map(str::to_owned),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    tokio::time::sleep(receiver.delay).await;
    if !signature_valid {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let mut response = receiver.status.into_response();
    for (name, value) in &receiver.extra_headers {
        response.headers_mut().insert(*name, value.parse().unwrap());
    }
    response
}

/// Starts a receiver answering `status`; returns its port and what it records.
async fn receiver(
    status: StatusCode,
    extra_headers: Vec<(&'static str, &'static str)>,
    delay: Duration,
) -> (u16, Arc<Mutex<Vec<Received>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let state = Receiver {
        seen: seen.clone(),
        status,
        extra_headers,
        delay,
    };
    let app = Router::new().route("/hook", post(hook)).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, seen)
}

async fn ok_receiver() -> (u16, Arc<Mutex<Vec<Received>>>) {
    receiver(StatusCode::NO_CONTENT, vec![], Duration::ZERO).await
}

fn sender(allow_private: bool) -> WebhookSender {
    WebhookSender::new(WebhookSettings {
        allow_private,
        timeout: Duration::from_secs(10),
    })
}

fn message() -> OutgoingMessage {
    OutgoingMessage {
        idempotency_key: "incident:42:opened:hook-1".to_owned(),
        event: "incident.opened".to_owned(),
        severity: "warning".to_owned(),
        subject: "Low yield at Farm North".to_owned(),
        text: "Farm North produced 38 % of expected energy today.".to_owned(),
        link: Some("https://moose.example.com/incidents/42".to_owned()),
        payload: json!({"incident_id": 42, "site": "farm-north", "ratio": 0.38}),
    }
}

#[tokio::test]
async fn delivers_signed_json() {
    let (port, seen) = ok_receiver().await;
    let url = format!("http://127.0.0.1:{port}/hook?token=abc");
    let before = jiff::Timestamp::now();
    sender(true)
        .send(&url, &Secret::new(SECRET), &message())
        .await
        .expect("delivered");

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let got = &seen[0];
    assert!(got.signature_valid, "signature did not verify");
    assert_eq!(
        got.idempotency_key.as_deref(),
        Some("incident:42:opened:hook-1")
    );
    assert_eq!(got.event.as_deref(), Some("incident.opened"));
    // The query is the receiver's to use (often its token), so it is sent unchanged.
    assert_eq!(got.query.as_deref(), Some("token=abc"));
    let body = &got.body;
    assert_eq!(body["id"], "incident:42:opened:hook-1");
    assert_eq!(body["event"], "incident.opened");
    assert_eq!(body["severity"], "warning");
    assert_eq!(body["subject"], "Low yield at Farm North");
    assert_eq!(
        body["text"],
        "Farm North produced 38 % of expected energy today."
    );
    assert_eq!(body["link"], "https://moose.example.com/incidents/42");
    assert_eq!(body["data"], message().payload);
    let sent_at: jiff::Timestamp = body["sent_at"].as_str().unwrap().parse().unwrap();
    assert!(
        sent_at
            >= before.round(jiff::Unit::Millisecond).unwrap()
                - jiff::SignedDuration::from_millis(1)
    );
}

#[tokio::test]
async fn host_names_are_resolved_and_pinned() {
    let (port, seen) = ok_receiver().await;
    let url = format!("http://localhost:{port}/hook");
    sender(true)
        .send(&url, &Secret::new(SECRET), &message())
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn wrong_secret_fails_verification() {
    let (port, seen) = ok_receiver().await;
    let url = format!("http://127.0.0.1:{port}/hook");
    let err = sender(true)
        .send(&url, &Secret::new("not-the-secret"), &message())
        .await
        .unwrap_err();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(!seen[0].signature_valid);
    // The receiver answered 401, which no retry can fix.
    assert!(
        matches!(&err, DeliveryError::Permanent(m) if m.contains("401")),
        "{err}"
    );
}

#[tokio::test]
async fn service_unavailable_is_transient_with_retry_after() {
    let (port, _) = receiver(
        StatusCode::SERVICE_UNAVAILABLE,
        vec![("retry-after", "7")],
        Duration::ZERO,
    )
    .await;
    let url = format!("http://127.0.0.1:{port}/hook?token=s3cret");
    let err = sender(true)
        .send(&url, &Secret::new(SECRET), &message())
        .await
        .unwrap_err();
    match &err {
        DeliveryError::Transient {
            reason,
            retry_after,
        } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(7)));
            assert!(reason.contains("503"), "{reason}");
        }
        other => panic!("expected transient, got {other:?}"),
    }
    assert!(!err.to_string().contains("s3cret"), "{err}");
}

#[tokio::test]
async fn gone_and_redirect_are_permanent() {
    for (status, headers) in [
        (StatusCode::GONE, vec![]),
        (
            StatusCode::FOUND,
            vec![("location", "http://127.0.0.1:1/elsewhere")],
        ),
    ] {
        let (port, seen) = receiver(status, headers, Duration::ZERO).await;
        let url = format!("http://127.0.0.1:{port}/hook");
        let err = sender(true)
            .send(&url, &Secret::new(SECRET), &message())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, DeliveryError::Permanent(m) if m.contains(status.as_str())),
            "{err}"
        );
        assert_eq!(
            seen.lock().unwrap().len(),
            1,
            "redirect must not be followed"
        );
    }
}

#[tokio::test]
async fn slow_receiver_times_out_transiently() {
    let (port, _) = receiver(StatusCode::OK, vec![], Duration::from_secs(5)).await;
    let sender = WebhookSender::new(WebhookSettings {
        allow_private: true,
        timeout: Duration::from_millis(300),
    });
    let url = format!("http://127.0.0.1:{port}/hook?token=s3cret");
    let started = Instant::now();
    let err = sender
        .send(&url, &Secret::new(SECRET), &message())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(err.is_transient(), "{err}");
    let text = err.to_string();
    assert!(!text.contains("s3cret"), "{text}");
}

/// Credentials in a webhook URL are refused (they would travel in the clear, and `user@host`
/// disguises the real host), without being repeated in the error.
#[tokio::test]
async fn urls_with_credentials_are_refused_permanently() {
    let (port, seen) = ok_receiver().await;
    for url in [
        format!("http://user:pw@127.0.0.1:{port}/hook"),
        format!("http://localhost:1@127.0.0.1:{port}/hook"),
    ] {
        let err = sender(true)
            .send(&url, &Secret::new(SECRET), &message())
            .await
            .unwrap_err();
        assert!(!err.is_transient(), "{err}");
        let text = err.to_string();
        assert!(text.contains("user name or password"), "{text}");
        assert!(!text.contains("pw@") && !text.contains(":1@"), "{text}");
    }
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn closed_port_is_transient_and_redacted() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/hook?token=s3cret");
    let err = sender(true)
        .send(&url, &Secret::new(SECRET), &message())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(!format!("{err} {err:?}").contains("s3cret"), "{err}");
    assert!(err.to_string().contains("/[redacted]"), "{err}");
}

#[tokio::test]
async fn internal_addresses_are_refused_before_connecting() {
    let (port, seen) = ok_receiver().await;
    let sender = WebhookSender::new(WebhookSettings {
        allow_private: false,
        // Long enough that a real connection attempt to 10.1.2.3 would show in the timing.
        timeout: Duration::from_secs(30),
    });
    for (url, reason) in [
        (
            format!("http://127.0.0.1:{port}/hook?token=s3cret"),
            "loopback",
        ),
        (
            format!("http://localhost:{port}/hook?token=s3cret"),
            "loopback",
        ),
        (format!("http://[::1]:{port}/hook"), "loopback"),
        (format!("http://[::ffff:127.0.0.1]:{port}/hook"), "loopback"),
        ("http://10.1.2.3/hook?token=s3cret".to_owned(), "private"),
        ("https://192.168.0.10/hook".to_owned(), "private"),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "link-local",
        ),
        ("http://100.64.0.1/hook".to_owned(), "carrier-grade NAT"),
        ("http://0.0.0.0:8080/hook".to_owned(), "unspecified"),
    ] {
        let started = Instant::now();
        let err = sender
            .send(&url, &Secret::new(SECRET), &message())
            .await
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{url} took a connection attempt"
        );
        let text = err.to_string();
        assert!(matches!(err, DeliveryError::Permanent(_)), "{url}: {text}");
        assert!(text.contains(reason), "{url}: {text}");
        assert!(
            text.contains("notify.allow_private_webhooks"),
            "{url}: {text}"
        );
        assert!(!text.contains("s3cret"), "{url}: {text}");
    }
    assert!(seen.lock().unwrap().is_empty(), "receiver was contacted");
}

#[tokio::test]
async fn only_http_and_https() {
    for url in [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "not a url",
    ] {
        let err = sender(true)
            .send(url, &Secret::new(SECRET), &message())
            .await
            .unwrap_err();
        assert!(matches!(err, DeliveryError::Permanent(_)), "{url}: {err}");
    }
    let err = sender(true)
        .send(
            "ftp://example.com/hook?token=s3cret",
            &Secret::new(SECRET),
            &message(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("http or https"), "{err}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
}
