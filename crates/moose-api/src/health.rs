//! `GET /health` (liveness, cheap) and readiness (`/health?deep=true`, `/health/ready`).

use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ApiQuery, AppState};

/// How long one dependency check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/health/ready", get(ready))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HealthQuery {
    #[serde(default)]
    deep: bool,
}

/// Liveness: answers without touching any dependency, so it stays cheap enough for every
/// load-balancer probe. The body keeps the old system's `{"status":"healthy"}` shape.
async fn health(State(state): State<AppState>, ApiQuery(query): ApiQuery<HealthQuery>) -> Response {
    if query.deep {
        return ready(State(state)).await;
    }
    Json(json!({"status": "healthy", "version": state.version})).into_response()
}

/// Readiness: checks every dependency and answers 503 naming the ones that fail.
async fn ready(State(state): State<AppState>) -> Response {
    let started = Instant::now();
    let store = match tokio::time::timeout(CHECK_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => {
            tracing::warn!(error = %crate::error::chain(&err), "readiness: store check failed");
            Err(if err.is_retryable() {
                "unavailable"
            } else {
                "error"
            })
        }
        Err(_) => {
            tracing::warn!("readiness: store check timed out");
            Err("timeout")
        }
    };
    let latency_ms = (started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0;
    let mut checks = serde_json::Map::new();
    checks.insert(
        "store".into(),
        check_body(state.store.backend(), store, latency_ms),
    );
    let failing: Vec<&String> = checks
        .iter()
        .filter(|(_, c)| c["status"] != "ok")
        .map(|(k, _)| k)
        .collect();
    let (status, word) = if failing.is_empty() {
        (StatusCode::OK, "healthy")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unhealthy")
    };
    let mut body =
        json!({"status": word, "version": state.version, "failing": failing, "checks": checks});
    if let Some(jobs) = &state.jobs {
        body["jobs"] = jobs.iter().map(|name| json!({"name": name})).collect();
    }
    (status, Json(body)).into_response()
}

fn check_body(backend: &str, outcome: Result<(), &str>, latency_ms: f64) -> Value {
    match outcome {
        Ok(()) => json!({"status": "ok", "backend": backend, "latency_ms": latency_ms}),
        Err(reason) => {
            json!({"status": "failing", "backend": backend, "error": reason, "latency_ms": latency_ms})
        }
    }
}
