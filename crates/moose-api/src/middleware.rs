//! Request context (id, span, access log), timeout and panic containment.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
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

/// The route template a response was produced by (`/api/systems/{system}`), set by the route's
/// middleware.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteTemplate(pub(crate) &'static str);

/// Counts a finished request and its latency by route template, method and status.
fn record(response: &Response, method: &str, path: &str, seconds: f64) {
    let route = match response.extensions().get::<RouteTemplate>() {
        Some(t) => t.0,
        None if path == "/health" || path == "/health/ready" || path == "/metrics" => {
            path_static(path)
        }
        None => "unmatched",
    };
    let status = response.status().as_u16().to_string();
    moose_metrics::count(
        "moose_http_requests_total",
        "HTTP requests by route template, method and status.",
        &[("route", route), ("method", method), ("status", &status)],
        1,
    );
    moose_metrics::observe(
        "moose_http_request_duration_seconds",
        "HTTP request latency by route template.",
        &[("route", route)],
        seconds,
    );
}

fn path_static(path: &str) -> &'static str {
    match path {
        "/health" => "/health",
        "/health/ready" => "/health/ready",
        _ => "/metrics",
    }
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
    let (method, path) = (req.method().to_string(), req.uri().path().to_owned());
    async move {
        let mut response = next.run(req).await;
        let status = response.status();
        let elapsed = started.elapsed().as_secs_f64();
        record(&response, &method, &path, elapsed);
        let latency_ms = (elapsed * 10_000.0).round() / 10.0;
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

/// Turns any error response that is not JSON (a rejection of axum's own, a layer's) into the
/// usual `{"error": {"code", "message"}}` body, so that every error a client sees has one shape.
/// Handlers' own errors are [`ApiError`]s and pass through untouched.
pub(crate) async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if status.is_server_error() || text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    } else {
        text
    };
    let body = serde_json::json!({"error": {"code": status_code_name(status), "message": message}});
    let mut out = (status, Json(body)).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// The machine-readable code for a status without a more specific one.
fn status_code_name(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        s if s.is_client_error() => "bad_request",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        _ => "internal",
    }
}
