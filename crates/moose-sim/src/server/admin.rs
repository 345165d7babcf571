//! Simulator-only endpoints under `/sim/` (not part of the Query API): ground truth, counters,
//! injected chaos for tests, and the manual clock.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::guard::{Chaos, lock};
use super::params::format_time;
use crate::Simulator;

pub(super) fn routes() -> Router<Arc<Simulator>> {
    Router::new()
        .route("/sim/ground-truth", get(ground_truth))
        .route("/sim/stats", get(stats))
        .route("/sim/chaos", post(chaos))
        .route("/sim/clock", get(clock).post(set_clock))
}

async fn ground_truth(State(sim): State<Arc<Simulator>>) -> Json<Value> {
    Json(sim.ground_truth_json())
}

async fn stats(State(sim): State<Arc<Simulator>>) -> Json<Value> {
    let stats = lock(&sim.api.stats).clone();
    Json(json!({"now": format_time(sim.now()), "systems": sim.fleet.systems.len(), "stats": stats}))
}

async fn chaos(State(sim): State<Arc<Simulator>>, Json(chaos): Json<Chaos>) -> StatusCode {
    *lock(&sim.api.chaos) = chaos;
    StatusCode::NO_CONTENT
}

async fn clock(State(sim): State<Arc<Simulator>>) -> Json<Value> {
    Json(json!({"now": format_time(sim.now())}))
}

#[derive(Debug, Deserialize)]
struct SetClock {
    now: jiff::Timestamp,
}

async fn set_clock(
    State(sim): State<Arc<Simulator>>,
    Json(body): Json<SetClock>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    if !matches!(sim.clock, crate::SimClock::Manual(_)) {
        return Err((
            StatusCode::CONFLICT,
            Json(json!({"error": "the clock is not manual (start with --speed 0)"})),
        ));
    }
    sim.clock.set(body.now);
    Ok(Json(json!({"now": format_time(sim.now())})))
}
