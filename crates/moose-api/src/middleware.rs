//! Request context (id, span, access log), timeout and panic containment.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use tracing::Instrument;

use crate::ApiError;

/// The header carrying the request id, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Accepts a caller's request id if it is short and printable (so it is safe in logs),
/// otherwise makes a new one.
fn request_id(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// Gives every request an id (echoed in `x-request-id`), a span carrying it, and one access
/// log line when it completes.
pub(crate) async fn request_context(req: Request, next: Next) -> Response {
    let id = request_id(&req);
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
    );
    let started = Instant::now();
    async move {
        let mut response = next.run(req).await;
        let status = response.status();
        let latency_ms = (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), latency_ms, "request failed");
        } else {
            tracing::info!(status = status.as_u16(), latency_ms, "request");
        }
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        response
    }
    .instrument(span)
    .await
}

/// Cancels requests that run longer than the configured timeout with a 503.
pub(crate) async fn timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout(limit.as_secs()).into_response(),
    }
}

/// Turns a panicking handler into a 500 with the usual JSON body instead of a dropped connection.
pub(crate) async fn catch_panic(req: Request, next: Next) -> Response {
    match AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            ApiError::Internal(format!("handler panicked: {what}").into()).into_response()
        }
    }
}
