//! `GET /metrics` on `moose serve`: the process metrics in Prometheus text format.
//!
//! Served only where the host enables it ([`crate::AppState::metrics`]; Lambda functions print
//! EMF lines instead), and only to a scraper that presents the configured token as a bearer
//! token — or, with no token configured, to clients on the loopback interface.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::routes::ClientIp;
use crate::{ApiError, AppState};

/// Who may scrape `/metrics`.
#[derive(Debug, Clone)]
pub struct MetricsAccess {
    /// The bearer token a scraper must present; `None`: loopback clients only.
    pub token: Option<moose_domain::Secret>,
}

pub(crate) async fn metrics(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Response {
    let Some(access) = &state.metrics else {
        return ApiError::NotFound("no such route".into()).into_response();
    };
    let allowed = match &access.token {
        Some(token) => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| {
                // Constant-time enough for a static token: compare digests.
                let a = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, given.as_bytes());
                let b = aws_lc_rs::digest::digest(
                    &aws_lc_rs::digest::SHA256,
                    token.expose().as_bytes(),
                );
                a.as_ref() == b.as_ref()
            }),
        None => ip
            .as_deref()
            .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
            .is_some_and(|ip| ip.is_loopback()),
    };
    if !allowed {
        return ApiError::Unauthorized(
            "GET /metrics needs the metrics token (MOOSE_METRICS_TOKEN) as a bearer token, or a loopback client when none is set".into(),
        )
        .into_response();
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        moose_metrics::render_prometheus(),
    )
        .into_response()
}
