//! A client of the Fronius Solar.web Query API (SWQAPI).
//!
//! Typed and tolerant responses ([`types`]), typed errors ([`SolarWebError`]), access-key
//! headers on every call, optional JWT login with proactive refresh and one re-login on 401,
//! retries with exponential backoff and jitter that honour `Retry-After` and `X-Rate-Limit-*`,
//! a client-side rate limiter and concurrency cap, and counters of calls and billed data points
//! per endpoint kind ([`Stats`]). Choices where the API's behaviour is undocumented are written
//! down in `docs/solarweb.md`.

mod auth;
mod client;
mod endpoints;
mod error;
mod limiter;
mod retry;
mod stats;
pub mod types;

pub use client::{ClientConfig, Credentials, SolarWebClient};
pub use endpoints::{AggrPeriod, HISTDATA_MAX_WINDOW};
pub use error::SolarWebError;
pub use retry::RetryPolicy;
pub use stats::{EndpointKind, Stats, StatsSnapshot};

/// Result alias of this crate.
pub type Result<T, E = SolarWebError> = std::result::Result<T, E>;

/// The production base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.solarweb.com/swqapi";
