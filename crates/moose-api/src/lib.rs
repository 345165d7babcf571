//! Moose's HTTP API.
//!
//! One axum [`Router`] for every host: `moose serve` runs it with [`serve`] on a TCP listener,
//! the Lambda host hands the same router to `lambda_http`. Handlers only see [`AppState`];
//! cross-cutting behaviour (request ids, access logs, timeouts, panics, body limits, JSON
//! errors) is applied once by [`router`].

mod access;
mod error;
mod extract;
mod health;
pub mod metrics;
mod middleware;
mod openapi;
mod params;
mod routes;
mod schema;
mod server;
mod table;

pub use routes::fleet::ExpectedCache;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use moose_auth::AuthService;
use moose_store::Store;

pub use error::{ApiError, ApiResult};
pub use extract::{ApiJson, ApiPath, ApiQuery};
pub use middleware::REQUEST_ID_HEADER;
pub use moose_auth::AuthSettings;
pub use openapi::openapi;
pub use server::{ConnectionLimits, serve};
pub use table::{Doc, ROUTES, RouteSpec};

/// Everything a handler may use. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Authentication, users and access.
    pub auth: AuthService,
    /// The running Moose version, reported by `/health`.
    pub version: &'static str,
    /// The O&M assistant of `chat-service`.
    pub assistant: Arc<moose_assistant::Assistant>,
    /// How the assistant's conversations and budgets are kept.
    pub chat: ChatSettings,
    /// When this process last swept expired conversations.
    pub chat_swept: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
    /// The background jobs this process runs, reported by `/health/ready` (`None`: this host
    /// runs none, as on Lambda, where each job is its own scheduled function).
    pub jobs: Option<Vec<String>>,
    /// Whether and to whom `GET /metrics` is served (`None`: not on this host).
    pub metrics: Option<metrics::MetricsAccess>,
    /// Each system's clear-sky curve of the day, for the fleet summary.
    pub expected: ExpectedCache,
}

/// How `chat-service` keeps conversations and spends tokens.
#[derive(Debug, Clone, Copy)]
pub struct ChatSettings {
    /// Days a conversation is kept after its last message.
    pub retention_days: u32,
    /// Language-model tokens one user may use per UTC day (then answers are offline).
    pub daily_tokens_per_user: u64,
}

impl Default for ChatSettings {
    fn default() -> Self {
        Self {
            retention_days: 90,
            daily_tokens_per_user: 200_000,
        }
    }
}

/// The assistant with no language model: BM25 over the built-in knowledge base.
pub fn offline_assistant() -> moose_assistant::Assistant {
    moose_assistant::Assistant::new(
        None,
        moose_assistant::retrieval::Retriever::lexical(
            moose_assistant::retrieval::KnowledgeSource::Builtin,
        ),
        moose_assistant::Limits::default(),
    )
}

impl AppState {
    /// State over `store` with authentication configured by `auth`.
    pub fn new(store: Arc<dyn Store>, auth: AuthSettings) -> Self {
        Self {
            auth: AuthService::new(Arc::clone(&store), auth),
            store,
            version: env!("CARGO_PKG_VERSION"),
            assistant: Arc::new(offline_assistant()),
            chat: ChatSettings::default(),
            chat_swept: Arc::default(),
            jobs: None,
            metrics: None,
            expected: ExpectedCache::default(),
        }
    }
}

/// Limits applied to every request.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Requests running longer are cancelled and answered 503.
    pub request_timeout: Duration,
    /// Largest accepted request body in bytes.
    pub body_limit: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            body_limit: 1024 * 1024,
        }
    }
}

/// The complete API.
pub fn router(state: AppState, limits: HttpLimits) -> Router {
    router_with(state, limits, Router::new())
}

/// The complete API and `extra` routes (the web console of `moose serve`) behind the same
/// edge: request ids, access logs, timeouts, limits and JSON errors apply to both.
pub fn router_with(state: AppState, limits: HttpLimits, extra: Router) -> Router {
    let routes = Router::new()
        .merge(health::routes())
        .route("/metrics", axum::routing::get(metrics::metrics))
        .merge(access::api_router(&state));
    with_edge(routes.with_state(state).merge(extra), limits)
}

/// Applies the cross-cutting layers and JSON fallbacks to a finished router.
///
/// Public so that tests (and later, other route sets) get exactly the production edge.
pub fn with_edge(routes: Router, limits: HttpLimits) -> Router {
    routes
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.body_limit))
        .layer(axum::Extension(extract::BodyLimit(limits.body_limit)))
        .layer(axum::middleware::from_fn_with_state(
            limits.request_timeout,
            middleware::timeout,
        ))
        .layer(axum::middleware::from_fn(middleware::catch_panic))
        .layer(axum::middleware::from_fn(middleware::json_errors))
        .layer(axum::middleware::from_fn(middleware::request_context))
}
