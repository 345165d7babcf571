//! The composition root: the one place that reads [`Config`] to build Moose's components.
//!
//! Every host builds from here: `moose serve`, each one-shot command of the `moose` binary and
//! each Lambda role. [`App::open`] opens the configured store and the authentication service;
//! the other parts (the router and its limits, the Solar.web client with its pacing, the poll
//! settings, the `device-status-polling` job, the `notify-user` dispatcher) are made from the
//! same configuration on demand, so a setting means the same on every host.

pub mod doctor;

use std::sync::Arc;
use std::time::Duration;

use moose_api::ChatSettings;
use moose_api::{AppState, ConnectionLimits, HttpLimits};
use moose_assistant::llm::{LlmClient, LlmSettings};
use moose_assistant::pinecone::{PineconeClient, PineconeSettings};
use moose_assistant::retrieval::{KnowledgeSource, Retriever, VectorIndex};
use moose_assistant::{Assistant, Limits};
use moose_auth::{AuthService, AuthSettings};
use moose_config::{Config, StoreBackend};
use moose_incidents::IncidentRepo;
use moose_notify::{
    DeliveryError, DispatchSettings, Dispatcher, EmailSender, NotifyRepo, OutboxPlanner, Senders,
    SmtpSettings, SmtpTls, SnsSender, SnsSettings, WebhookSender, WebhookSettings,
};
use moose_solardata::{PollSettings, SolarRepo};
use moose_solarweb::{ClientConfig, Credentials, SolarWebClient, SolarWebError};
use moose_status::{Rules, StatusJob};
use moose_store::{Store, StoreError};
use moose_store_dynamodb::{DynamoSettings, DynamoStore};
use moose_store_sqlite::SqliteStore;

/// What can go wrong while building Moose; each says what to change.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The store cannot be opened or reached.
    #[error("{message}")]
    Store {
        /// What failed and how to fix it.
        message: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// The Solar.web client cannot be built from the configuration.
    #[error("cannot build the Solar.web client: {0}")]
    SolarWeb(#[from] SolarWebError),
    /// A notification channel cannot be set up.
    #[error("cannot set up the notification channels: {0}")]
    Channels(#[from] DeliveryError),
}

/// How every host says that no Solar.web account is configured.
pub const NO_SOURCE: &str = "no data source is configured, so nothing will be polled: set SOLAR_WEB_ACCESS_KEY_ID and \
SOLAR_WEB_ACCESS_KEY_VALUE (and MOOSE_SOLARWEB_BASE_URL to use a simulator started with `moose sim`), \
or run `moose serve --demo` for a simulated fleet";

/// Moose, built from one configuration. Cheap to clone.
#[derive(Debug, Clone)]
pub struct App {
    config: Arc<Config>,
    store: Arc<dyn Store>,
    auth: AuthService,
    assistant: Arc<Assistant>,
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl App {
    /// Opens the configured store and builds Moose over it.
    pub async fn open(config: Config) -> Result<Self, AppError> {
        let store = open_store(&config).await?;
        Ok(Self::with_store(config, store))
    }

    /// Builds Moose over a store that is already open (tests, and hosts that share one).
    pub fn with_store(config: Config, store: Arc<dyn Store>) -> Self {
        let auth = AuthService::new(Arc::clone(&store), auth_settings(&config));
        let assistant = Arc::new(build_assistant(&config, &store));
        Self {
            config: Arc::new(config),
            store,
            auth,
            assistant,
        }
    }

    /// The configuration everything was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Authentication, users and access.
    pub fn auth(&self) -> &AuthService {
        &self.auth
    }

    /// Authentication settings the service was built with.
    pub fn auth_settings(&self) -> AuthSettings {
        auth_settings(&self.config)
    }

    /// Where `moose serve` listens.
    pub fn bind(&self) -> std::net::SocketAddr {
        self.config.http.bind
    }

    /// How long `moose serve` waits for in-flight work at shutdown.
    pub fn shutdown_grace(&self) -> Duration {
        secs(self.config.http.shutdown_grace_secs)
    }

    /// What the HTTP handlers get.
    pub fn api_state(&self) -> AppState {
        AppState {
            store: Arc::clone(&self.store),
            auth: self.auth.clone(),
            version: env!("CARGO_PKG_VERSION"),
            assistant: Arc::clone(&self.assistant),
            chat: ChatSettings {
                retention_days: u32::try_from(self.config.assistant.retention_days)
                    .unwrap_or(u32::MAX),
                daily_tokens_per_user: self.config.assistant.daily_tokens_per_user,
            },
            chat_swept: Arc::default(),
            jobs: None,
            metrics: None,
            expected: moose_api::ExpectedCache::default(),
        }
    }

    /// The O&M assistant of `chat-service` (built cheaply; its knowledge base loads on first use).
    pub fn assistant(&self) -> &Arc<Assistant> {
        &self.assistant
    }

    /// Per-request limits of the HTTP API.
    pub fn http_limits(&self) -> HttpLimits {
        let http = &self.config.http;
        HttpLimits {
            request_timeout: secs(http.request_timeout_secs),
            body_limit: count(http.body_limit_bytes),
        }
    }

    /// Per-connection limits of `moose serve` and the proxies it believes (on Lambda, API
    /// Gateway holds connections).
    pub fn connection_limits(&self) -> ConnectionLimits {
        let http = &self.config.http;
        ConnectionLimits {
            header_read_timeout: secs(http.header_timeout_secs),
            body_read_timeout: secs(http.body_timeout_secs),
            max_connections: count(http.max_connections),
            max_connections_per_client: count(http.max_connections_per_client),
            // Checked when the configuration was loaded.
            trusted_proxies: http
                .trusted_proxies
                .as_deref()
                .map(|list| {
                    moose_domain::TrustedProxies::parse(list).expect("validated proxy list")
                })
                .unwrap_or_default(),
        }
    }

    /// The HTTP API, the same on every host.
    pub fn router(&self) -> axum::Router {
        moose_api::router(self.api_state(), self.http_limits())
    }

    /// How the web console of `moose serve` signs people in (local accounts, and Supabase when
    /// both `SUPABASE_URL` and `SUPABASE_ANON_KEY` are set) and where its map's tiles come from.
    pub fn console_settings(&self) -> moose_console::ConsoleSettings {
        let sb = &self.config.supabase;
        moose_console::ConsoleSettings {
            supabase: sb
                .url
                .clone()
                .zip(sb.anon_key.clone())
                .map(|(url, anon_key)| moose_console::SupabaseProject { url, anon_key }),
            tiles: self.config.console.tile_url.as_deref().map(|url| {
                moose_console::TileLayer {
                    // Checked when the configuration was loaded.
                    url: moose_domain::TileUrl::parse(url).expect("validated tile URL"),
                    attribution: self.config.console.tile_attribution.clone(),
                }
            }),
        }
    }

    /// Who may scrape `GET /metrics` on `moose serve`.
    pub fn metrics_access(&self) -> moose_api::metrics::MetricsAccess {
        moose_api::metrics::MetricsAccess {
            token: self.config.http.metrics_token.clone(),
        }
    }

    /// The HTTP API of `moose serve`, which runs `jobs` in the background: readiness lists
    /// them (so that `moose verify` can tell a server that polls from one that does not),
    /// `GET /metrics` is served, and so is the web console at `/`.
    pub fn router_with_jobs(&self, jobs: &[&str]) -> axum::Router {
        let mut state = self.api_state();
        state.jobs = Some(jobs.iter().map(|j| (*j).to_owned()).collect());
        state.metrics = Some(self.metrics_access());
        let console = moose_console::router(state.auth.clone(), self.console_settings());
        moose_api::router_with(state, self.http_limits(), console)
    }

    /// A Solar.web client of the configured account, if access keys are set.
    pub fn solarweb(&self) -> Result<Option<SolarWebClient>, AppError> {
        let sw = &self.config.solarweb;
        let (Some(id), Some(value)) = (&sw.access_key_id, &sw.access_key_value) else {
            return Ok(None);
        };
        let credentials = Credentials {
            access_key_id: id.clone(),
            access_key_value: value.clone(),
            login: sw.user_id.clone().zip(sw.password.clone()),
        };
        self.solarweb_at(&sw.base_url, credentials).map(Some)
    }

    /// A Solar.web client of another endpoint (the demo fleet), paced as configured.
    pub fn solarweb_at(
        &self,
        base_url: &str,
        credentials: Credentials,
    ) -> Result<SolarWebClient, AppError> {
        let poll = &self.config.poll;
        let mut cc = ClientConfig::new(base_url, credentials);
        #[allow(clippy::cast_precision_loss)]
        {
            cc.requests_per_second = poll.requests_per_second as f64;
        }
        // Each system in flight may have a system and an inverter request out at once.
        cc.max_concurrency = count(poll.concurrency).saturating_mul(2);
        Ok(SolarWebClient::new(cc)?)
    }

    /// Settings of `solar-data-polling`.
    pub fn poll_settings(&self) -> PollSettings {
        let poll = &self.config.poll;
        PollSettings {
            concurrency: count(poll.concurrency),
            initial_lookback: jiff::SignedDuration::from_hours(
                i64::try_from(poll.initial_lookback_hours).unwrap_or(24),
            ),
            sun_aware: poll.sun_aware,
            ..PollSettings::default()
        }
    }

    /// The ingested solar data.
    pub fn solar_repo(&self) -> SolarRepo {
        SolarRepo::new(Arc::clone(&self.store))
    }

    /// How often `moose serve` polls Solar.web.
    pub fn poll_interval(&self) -> Duration {
        secs(self.config.poll.interval_secs)
    }

    /// How often `moose serve` runs `device-status-polling`.
    pub fn status_interval(&self) -> Duration {
        secs(self.config.jobs.status_interval_secs)
    }

    /// How often `moose serve` (and `moose notify run`) deliver notifications.
    pub fn notify_interval(&self) -> Duration {
        secs(self.config.jobs.notify_interval_secs)
    }

    /// How often `moose serve` checks the store.
    pub fn store_check_interval(&self) -> Duration {
        secs(self.config.jobs.store_check_interval_secs)
    }

    /// The outbox planner every incident change goes through.
    pub fn planner(&self) -> OutboxPlanner {
        let notify = &self.config.notify;
        OutboxPlanner {
            auth: self.auth.clone(),
            repo: NotifyRepo::new(Arc::clone(&self.store)),
            public_url: notify.public_url.clone(),
            ops_topic: notify.sns_topic_arn.is_some(),
        }
    }

    /// The `device-status-polling` job over `client`.
    pub fn status_job(&self, client: SolarWebClient) -> StatusJob {
        StatusJob {
            client,
            solar: self.solar_repo(),
            incidents: IncidentRepo::new(Arc::clone(&self.store)),
            rules: Rules::default(),
            planner: Arc::new(self.planner()),
            concurrency: count(self.config.poll.concurrency),
        }
    }

    /// The `notify-user` dispatcher with the channels the configuration enables.
    pub async fn dispatcher(&self) -> Result<Dispatcher, AppError> {
        Ok(Dispatcher {
            repo: NotifyRepo::new(Arc::clone(&self.store)),
            incidents: IncidentRepo::new(Arc::clone(&self.store)),
            auth: self.auth.clone(),
            senders: self.senders().await?,
            settings: self.dispatch_settings(),
        })
    }

    /// The dispatcher's lease and retry settings.
    pub fn dispatch_settings(&self) -> DispatchSettings {
        DispatchSettings {
            lease: jiff::SignedDuration::from_secs(
                i64::try_from(self.config.jobs.notify_lease_secs).unwrap_or(120),
            ),
            ..DispatchSettings::default()
        }
    }

    /// The SMTP relay, if e-mail is configured.
    pub fn smtp_settings(&self) -> Option<SmtpSettings> {
        let notify = &self.config.notify;
        notify.smtp_host.as_ref().map(|host| SmtpSettings {
            host: host.clone(),
            port: u16::try_from(notify.smtp_port).unwrap_or(587),
            username: notify.smtp_username.clone(),
            password: notify.smtp_password.clone(),
            from: notify.smtp_from.clone(),
            tls: match notify.smtp_tls.as_str() {
                "none" => SmtpTls::None,
                "tls" => SmtpTls::Tls,
                _ => SmtpTls::StartTls,
            },
        })
    }

    /// Where SNS is reached, if an SNS topic is configured (SMS and the operations topic).
    pub fn sns_settings(&self) -> Option<SnsSettings> {
        let notify = &self.config.notify;
        notify.sns_topic_arn.as_ref().map(|_| SnsSettings {
            endpoint: notify.aws_endpoint.clone(),
            region: None,
        })
    }

    /// The operations topic every incident is also published to, if configured.
    pub fn ops_topic_arn(&self) -> Option<&str> {
        self.config.notify.sns_topic_arn.as_deref()
    }

    /// How webhooks are sent.
    pub fn webhook_settings(&self) -> WebhookSettings {
        WebhookSettings {
            allow_private: self.config.notify.allow_private_webhooks,
            timeout: Duration::from_secs(10),
        }
    }

    /// The channels the configuration enables. E-mail needs an SMTP host; SMS and the
    /// operations topic need an SNS topic ARN; webhooks are always available (each user sets
    /// their own URL).
    async fn senders(&self) -> Result<Senders, DeliveryError> {
        let email = self
            .smtp_settings()
            .map(|s| EmailSender::new(&s))
            .transpose()?;
        let sns = match self.sns_settings() {
            Some(settings) => Some(SnsSender::connect(&settings).await),
            None => None,
        };
        Ok(Senders {
            email,
            webhook: Some(WebhookSender::new(self.webhook_settings())),
            sns,
            ops_topic_arn: self.ops_topic_arn().map(str::to_owned),
        })
    }
}

/// The assistant the configuration describes: the language model if one is configured, and
/// hybrid retrieval (Pinecone, or vectors in the store) if an embeddings model is.
fn build_assistant(config: &Config, store: &Arc<dyn Store>) -> Assistant {
    let a = &config.assistant;
    let mut settings = LlmSettings::new(
        a.openai_base_url.clone(),
        a.openai_api_key.clone(),
        a.model.clone(),
    );
    settings.timeout = secs(a.timeout_secs);
    settings.embedding_model = a.embeddings().map(str::to_owned);
    let client = LlmClient::new(settings);
    let source = match &a.knowledge_dir {
        Some(dir) => KnowledgeSource::Dir(dir.clone()),
        None => KnowledgeSource::Builtin,
    };
    let retriever = match a.embeddings() {
        Some(_) => Retriever::hybrid(source, client.clone(), vector_index(config, store)),
        None => Retriever::lexical(source),
    };
    Assistant::new(
        a.has_model().then_some(client),
        retriever,
        Limits::default(),
    )
}

/// Where the knowledge vectors live: the Pinecone index when one is configured, the store
/// otherwise.
pub fn vector_index(config: &Config, store: &Arc<dyn Store>) -> VectorIndex {
    let a = &config.assistant;
    match (&a.pinecone_api_key, &a.pinecone_index_name) {
        (Some(key), Some(name)) => VectorIndex::Pinecone(PineconeClient::new(PineconeSettings {
            api_key: key.clone(),
            index_name: name.clone(),
            control_url: a.pinecone_controller_url.clone(),
            index_host: a.pinecone_index_host.clone(),
            namespace: a.pinecone_namespace.clone(),
            timeout: secs(a.timeout_secs.min(10)),
        })),
        _ => VectorIndex::Store(Arc::clone(store)),
    }
}

/// Where the store is.
#[derive(Debug, Clone)]
pub enum StoreLocation {
    /// The embedded SQLite store in this data directory.
    Sqlite(std::path::PathBuf),
    /// The DynamoDB table.
    Dynamodb(DynamoSettings),
}

/// Where the configuration puts the store.
pub fn store_location(config: &Config) -> StoreLocation {
    match config.store.backend {
        StoreBackend::Sqlite => StoreLocation::Sqlite(config.store.data_dir.clone()),
        StoreBackend::Dynamodb => StoreLocation::Dynamodb(dynamo_settings(config)),
    }
}

/// The log format and filter every host installs (`moose_telemetry::init`).
pub fn telemetry(config: &Config) -> (moose_telemetry::Format, &str) {
    let format = match config.log.format {
        moose_config::LogFormat::Text => moose_telemetry::Format::Text,
        moose_config::LogFormat::Json => moose_telemetry::Format::Json,
    };
    (format, config.log.filter.as_str())
}

/// Authentication settings from the configuration.
fn auth_settings(config: &Config) -> AuthSettings {
    AuthSettings {
        supabase_url: config.supabase.url.clone(),
        supabase_jwt_secret: config.supabase.jwt_secret.clone(),
        access_ttl: secs(config.auth.access_token_ttl_secs),
        refresh_ttl: secs(config.auth.refresh_token_ttl_secs),
        ..AuthSettings::default()
    }
}

/// DynamoDB settings from the configuration (also for `moose table`).
pub fn dynamo_settings(config: &Config) -> DynamoSettings {
    DynamoSettings {
        table: config.store.dynamodb_table.clone(),
        endpoint: config.store.dynamodb_endpoint.clone(),
        region: None,
    }
}

/// Opens the configured store: the SQLite file in the data directory, or the DynamoDB table
/// (checked with one call, so a wrong table or endpoint fails at start).
async fn open_store(config: &Config) -> Result<Arc<dyn Store>, AppError> {
    match store_location(config) {
        StoreLocation::Sqlite(dir) => {
            let store = SqliteStore::open(&dir)
                .await
                .map_err(|source| AppError::Store {
                    message: format!(
                        "{source}; choose another directory with --data-dir or MOOSE_DATA_DIR"
                    ),
                    source,
                })?;
            tracing::info!(path = %store.path().display(), "opened the embedded store");
            Ok(Arc::new(store))
        }
        StoreLocation::Dynamodb(settings) => {
            let store = DynamoStore::connect(&settings).await;
            store.ping().await.map_err(|source| AppError::Store {
                message: source.to_string(),
                source,
            })?;
            tracing::info!(table = store.table(), "using the DynamoDB store");
            Ok(Arc::new(store))
        }
    }
}
