//! The configuration types. Every field has a default, so an empty file is a valid file.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::Secret;

/// The whole configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The HTTP server.
    pub http: HttpConfig,
    /// Where data lives.
    pub store: StoreConfig,
    /// Logging.
    pub log: LogConfig,
    /// Background jobs of `moose serve`.
    pub jobs: JobsConfig,
    /// `solar-data-polling`.
    pub poll: PollConfig,
    /// The Fronius Solar.web Query API.
    pub solarweb: SolarWebConfig,
    /// Supabase authentication.
    pub supabase: SupabaseConfig,
    /// Moose's own sign-in tokens.
    pub auth: AuthConfig,
    /// The chat assistant's model and knowledge base.
    pub assistant: AssistantConfig,
    /// `notify-user`: channels and links.
    pub notify: NotifyConfig,
    /// The web console of `moose serve`.
    pub console: ConsoleConfig,
}

/// The web console of `moose serve`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Map tiles under the fleet map: an `http(s)` URL template with `{z}`, `{x}` and `{y}`
    /// (e.g. `https://tile.openstreetmap.org/{z}/{x}/{y}.png`). Unset, the map is drawn
    /// without tiles and needs no network.
    pub tile_url: Option<String>,
    /// The attribution the tile provider requires, shown under the map.
    pub tile_attribution: Option<String>,
}

/// The HTTP server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address and port to listen on.
    pub bind: SocketAddr,
    /// A request taking longer than this is answered with 503 and cancelled.
    pub request_timeout_secs: u64,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: u64,
    /// How long shutdown waits for in-flight requests and jobs before giving up on them.
    pub shutdown_grace_secs: u64,
    /// Time a client has to send a complete request head (slowloris protection).
    pub header_timeout_secs: u64,
    /// Time a request body has to arrive completely.
    pub body_timeout_secs: u64,
    /// Connections served at once; further ones wait in the kernel's backlog.
    pub max_connections: u64,
    /// Connections one client address may hold at once; further ones are closed.
    pub max_connections_per_client: u64,
    /// Bearer token a Prometheus scraper presents to `GET /metrics` (unset: loopback only).
    pub metrics_token: Option<Secret>,
    /// Reverse proxies whose `X-Forwarded-For` is believed: comma-separated addresses and
    /// networks (`127.0.0.1, 10.0.0.0/8`). Unset: none; the client is the TCP peer.
    pub trusted_proxies: Option<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            request_timeout_secs: 30,
            body_limit_bytes: 1024 * 1024,
            shutdown_grace_secs: 20,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            max_connections: 1024,
            max_connections_per_client: 256,
            metrics_token: None,
            trusted_proxies: None,
        }
    }
}

/// Which store backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// The embedded SQLite file in `data_dir`.
    #[default]
    Sqlite,
    /// The DynamoDB table `dynamodb_table` (the old system's `Moose-DDB`).
    Dynamodb,
}

/// Where data lives.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// The backend.
    pub backend: StoreBackend,
    /// Directory of the embedded store.
    pub data_dir: PathBuf,
    /// The DynamoDB table (used by the DynamoDB backend; the old system's `Moose-DDB`).
    pub dynamodb_table: String,
    /// A DynamoDB endpoint override, for a local DynamoDB-compatible server; AWS when unset.
    pub dynamodb_endpoint: Option<String>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Sqlite,
            data_dir: PathBuf::from("./moose-data"),
            dynamodb_table: "Moose-DDB".into(),
            dynamodb_endpoint: None,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (CloudWatch, log shippers).
    Json,
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Line format.
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info` or `info,moose_api=debug`.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".into(),
        }
    }
}

/// Background jobs of `moose serve`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// How often the store watchdog checks the store, in seconds.
    pub store_check_interval_secs: u64,
    /// Seconds between `device-status-polling` passes.
    pub status_interval_secs: u64,
    /// Seconds between `notify-user` dispatch rounds.
    pub notify_interval_secs: u64,
    /// Seconds a dispatcher holds a notification it is delivering.
    pub notify_lease_secs: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            store_check_interval_secs: 60,
            status_interval_secs: 300,
            notify_interval_secs: 30,
            notify_lease_secs: 120,
        }
    }
}

/// `notify-user`: channels and links.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Base URL for links in messages.
    pub public_url: Option<String>,
    /// SMTP server; e-mail is off when unset.
    pub smtp_host: Option<String>,
    /// SMTP port.
    pub smtp_port: u64,
    /// `starttls`, `tls` or `none`.
    pub smtp_tls: String,
    /// SMTP user.
    pub smtp_username: Option<String>,
    /// SMTP password.
    pub smtp_password: Option<Secret>,
    /// Sender address.
    pub smtp_from: String,
    /// The operations SNS topic (also enables SMS through SNS).
    pub sns_topic_arn: Option<String>,
    /// SNS endpoint override.
    pub aws_endpoint: Option<String>,
    /// Allow webhooks to private addresses.
    pub allow_private_webhooks: bool,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            smtp_host: None,
            smtp_port: 587,
            smtp_tls: "starttls".into(),
            smtp_username: None,
            smtp_password: None,
            smtp_from: "Moose <alerts@moose.invalid>".into(),
            sns_topic_arn: None,
            aws_endpoint: None,
            allow_private_webhooks: false,
        }
    }
}

/// `solar-data-polling`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PollConfig {
    /// Seconds between passes in `moose serve`.
    pub interval_secs: u64,
    /// Systems polled at once.
    pub concurrency: u64,
    /// Solar.web requests per second, at most.
    pub requests_per_second: u64,
    /// Hours of history a newly seen system starts with.
    pub initial_lookback_hours: u64,
    /// Skip systems whose sun has been down since their last poll.
    pub sun_aware: bool,
}

impl Default for PollConfig {
    fn default() -> Self {
        Self {
            interval_secs: 300,
            concurrency: 8,
            requests_per_second: 10,
            initial_lookback_hours: 24,
            sun_aware: true,
        }
    }
}

/// The Fronius Solar.web Query API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SolarWebConfig {
    /// Base URL of the Query API.
    pub base_url: String,
    /// `AccessKeyId` header value.
    pub access_key_id: Option<Secret>,
    /// `AccessKeyValue` header value.
    pub access_key_value: Option<Secret>,
    /// Solar.web login for JWT authentication (optional).
    pub user_id: Option<String>,
    /// Solar.web password for JWT authentication (optional).
    pub password: Option<Secret>,
}

impl Default for SolarWebConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.solarweb.com/swqapi".into(),
            access_key_id: None,
            access_key_value: None,
            user_id: None,
            password: None,
        }
    }
}

/// Supabase authentication. When `url` is set, bearer tokens are Supabase access tokens.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SupabaseConfig {
    /// Project URL, e.g. `https://abcd.supabase.co`.
    pub url: Option<String>,
    /// The project's anon (public API) key.
    pub anon_key: Option<Secret>,
    /// The project's legacy JWT secret; enables HS256 Supabase tokens.
    pub jwt_secret: Option<Secret>,
}

/// Moose's own sign-in tokens (local accounts).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Lifetime of access tokens, seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of a session (refresh token), seconds.
    pub refresh_token_ttl_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 30 * 24 * 3600,
        }
    }
}

/// The chat assistant's model and knowledge base.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AssistantConfig {
    /// OpenAI API key.
    pub openai_api_key: Option<Secret>,
    /// Base URL of the OpenAI-compatible server.
    pub openai_base_url: String,
    /// Chat model.
    pub model: String,
    /// Embeddings model for dense retrieval (empty: BM25 only).
    pub embedding_model: String,
    /// Deadline of one model call, retries included, seconds.
    pub timeout_secs: u64,
    /// Language-model tokens one user may use per UTC day.
    pub daily_tokens_per_user: u64,
    /// Days a conversation is kept after its last message.
    pub retention_days: u64,
    /// A folder of Markdown articles replacing the built-in knowledge base.
    pub knowledge_dir: Option<std::path::PathBuf>,
    /// Pinecone API key.
    pub pinecone_api_key: Option<Secret>,
    /// Pinecone index holding the maintenance knowledge base.
    pub pinecone_index_name: Option<String>,
    /// Pinecone's control plane.
    pub pinecone_controller_url: String,
    /// The index's data-plane host (skips the describe call).
    pub pinecone_index_host: Option<String>,
    /// Namespace of the knowledge vectors (empty: the default namespace).
    pub pinecone_namespace: String,
}

/// OpenAI's API, the default model server.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

impl Default for AssistantConfig {
    fn default() -> Self {
        Self {
            openai_api_key: None,
            openai_base_url: OPENAI_BASE_URL.into(),
            model: "gpt-4.1-mini".into(),
            embedding_model: String::new(),
            timeout_secs: 30,
            daily_tokens_per_user: 200_000,
            retention_days: 90,
            knowledge_dir: None,
            pinecone_api_key: None,
            pinecone_index_name: None,
            pinecone_controller_url: "https://api.pinecone.io".into(),
            pinecone_index_host: None,
            pinecone_namespace: String::new(),
        }
    }
}

impl AssistantConfig {
    /// Whether a language model is configured: an API key, or a server of its own (Ollama,
    /// llama.cpp and vLLM need no key).
    pub fn has_model(&self) -> bool {
        self.openai_api_key.is_some() || self.openai_base_url != OPENAI_BASE_URL
    }

    /// The embeddings model: the configured one, or `text-embedding-3-small` (the old system's
    /// 1,536-dimension vectors) when a Pinecone index is configured without one.
    pub fn embeddings(&self) -> Option<&str> {
        if !self.embedding_model.is_empty() {
            Some(&self.embedding_model)
        } else if self.pinecone_index_name.is_some() {
            Some("text-embedding-3-small")
        } else {
            None
        }
    }
}
