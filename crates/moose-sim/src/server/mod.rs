//! The Query API over HTTP: the same paths, headers, auth, paging, limits and error bodies as
//! Solar.web (see `../shared/reference/solarweb-query-api.md` §7), served at `/` and `/swqapi`.

mod admin;
mod guard;
mod iam;
mod live;
mod meta;
mod params;
mod series;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub(crate) use guard::ApiState;

use crate::Simulator;

/// An error as the Query API answers it: `{"responseError": code, "responseMessage": text}`.
#[derive(Debug)]
pub(crate) struct ApiFailure {
    pub(crate) status: StatusCode,
    pub(crate) code: i64,
    pub(crate) message: String,
}

impl ApiFailure {
    pub(crate) fn new(status: u16, code: i64, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            message: message.into(),
        }
    }

    pub(crate) fn bad_input(message: impl Into<String>) -> Self {
        Self::new(400, 1004, message)
    }

    pub(crate) fn system_not_found() -> Self {
        Self::new(404, 1015, "PV system not found.")
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"responseError": self.code, "responseMessage": self.message});
        (self.status, axum::Json(body)).into_response()
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiFailure>;

/// The simulator's HTTP API, at `/` and under `/swqapi` (the production base path).
pub fn router(sim: Arc<Simulator>) -> Router {
    // Registered twice rather than nested, so handlers see the path the client used (paging
    // links must point back to it).
    let api = Router::new()
        .merge(api_routes(""))
        .merge(api_routes("/swqapi"))
        .fallback(|| async { ApiFailure::new(404, 1004, "Unknown resource.") })
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&sim),
            guard::guard,
        ));
    Router::new()
        .merge(api)
        .merge(admin::routes())
        .with_state(sim)
}

fn api_routes(prefix: &str) -> Router<Arc<Simulator>> {
    let p = |path: &str| format!("{prefix}{path}");
    Router::new()
        .route(&p("/info/release"), get(meta::release))
        .route(&p("/pvsystems"), get(meta::systems))
        .route(&p("/pvsystems-list"), get(meta::system_ids))
        .route(&p("/pvsystems-count"), get(meta::system_count))
        .route(&p("/pvsystems/{system}"), get(meta::system))
        .route(&p("/pvsystems/{system}/devices"), get(meta::devices))
        .route(
            &p("/pvsystems/{system}/devices-list"),
            get(meta::device_ids),
        )
        .route(
            &p("/pvsystems/{system}/devices-count"),
            get(meta::device_count),
        )
        .route(
            &p("/pvsystems/{system}/devices/{device}"),
            get(meta::device),
        )
        .route(&p("/pvsystems/{system}/flowdata"), get(live::system_flow))
        .route(
            &p("/pvsystems/{system}/devices/{device}/flowdata"),
            get(live::device_flow),
        )
        .route(&p("/pvsystems/{system}/histdata"), get(series::system_hist))
        .route(
            &p("/pvsystems/{system}/devices/{device}/histdata"),
            get(series::device_hist),
        )
        .route(&p("/pvsystems/{system}/aggrdata"), get(series::system_aggr))
        .route(
            &p("/pvsystems/{system}/devices/{device}/aggrdata"),
            get(series::device_aggr),
        )
        .route(
            &p("/pvsystems/{system}/messages/{lang}"),
            get(live::system_messages),
        )
        .route(
            &p("/pvsystems/{system}/devices/{device}/messages/{lang}"),
            get(live::device_messages),
        )
        .route(&p("/iam/jwt"), post(iam::login))
        .route(
            &p("/iam/jwt/{refresh}"),
            axum::routing::patch(iam::refresh).delete(iam::revoke),
        )
}
