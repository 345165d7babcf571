//! Moose's configuration: typed, layered, validated at start.
//!
//! Precedence, lowest first: compiled-in defaults < `moose.toml` (optional) < environment
//! variables < command-line flags. The environment variables are declared once, in
//! [`env::VARIABLES`], which is also where `docs/configuration.md` comes from. The old Python
//! system's variable names (`DYNAMODB_TABLE_NAME`, `SOLAR_WEB_*`, `SUPABASE_*`, `OPENAI_API_KEY`,
//! `PINECONE_*`) are accepted under their exact names; new settings use a `MOOSE_` prefix.
//!
//! Loading never reads the process environment itself: callers pass the variables in, so tests
//! do not have to mutate global state.

pub mod env;
mod load;
mod model;
mod validate;

pub use load::{ConfigError, Loaded, Overrides, Problem, Sources, load};
pub use model::{
    AssistantConfig, AuthConfig, Config, ConsoleConfig, HttpConfig, JobsConfig, LogConfig,
    LogFormat, NotifyConfig, PollConfig, SolarWebConfig, StoreBackend, StoreConfig, SupabaseConfig,
};
pub use moose_domain::{REDACTED, Secret};

/// Default name of the optional configuration file, looked up in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "moose.toml";
