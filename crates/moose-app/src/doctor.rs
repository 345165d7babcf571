//! `moose doctor`: are the settings a host needs present, and does every service it talks to
//! answer? One check per dependency, each with a deadline, each saying what to do when it fails.
//!
//! The checks build their clients exactly as [`crate::App`] does (same settings, same code), so
//! a passing doctor means the host would reach the same servers. Unconfigured optional services
//! are skipped, not failed; a configured one that does not answer fails — it is configured
//! because it is wanted.

use std::time::Duration;

use moose_config::Config;
use moose_notify::{EmailSender, SnsSender};
use moose_store::Store;
use moose_store_dynamodb::DynamoStore;
use serde::Serialize;

use crate::{StoreLocation, store_location};

/// Deadline of one live check.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// What a host is checked for: `moose serve`, or one Lambda function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// `moose serve`: everything.
    Serve,
    /// `solar-data-polling`.
    SolarDataPolling,
    /// `device-status-polling`.
    DeviceStatusPolling,
    /// `notify-user`.
    NotifyUser,
    /// `solar-data-service`.
    SolarDataService,
    /// `user-management`.
    UserManagement,
    /// `chat-service`.
    ChatService,
}

impl Target {
    /// The target a function name (or `serve`) means; a prefixed deployment name
    /// (`prod-chat-service`) means its function, as on Lambda.
    pub fn parse(name: &str) -> Option<Self> {
        let all = [
            ("solar-data-polling", Self::SolarDataPolling),
            ("device-status-polling", Self::DeviceStatusPolling),
            ("notify-user", Self::NotifyUser),
            ("solar-data-service", Self::SolarDataService),
            ("user-management", Self::UserManagement),
            ("chat-service", Self::ChatService),
        ];
        if name == "serve" {
            return Some(Self::Serve);
        }
        all.iter()
            .find(|(n, _)| name == *n || name.ends_with(&format!("-{n}")))
            .map(|(_, t)| *t)
    }

    fn needs(self, dep: Dep) -> bool {
        use Dep::{Model, Pinecone, Smtp, Sns, SolarWeb, Store, Supabase};
        match self {
            Self::Serve => true,
            Self::SolarDataPolling => matches!(dep, Store | SolarWeb),
            Self::DeviceStatusPolling => matches!(dep, Store | SolarWeb | Sns),
            Self::NotifyUser => matches!(dep, Store | Smtp | Sns),
            Self::SolarDataService | Self::UserManagement => matches!(dep, Store | Supabase),
            Self::ChatService => matches!(dep, Store | Supabase | Model | Pinecone),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dep {
    Store,
    SolarWeb,
    Model,
    Pinecone,
    Supabase,
    Sns,
    Smtp,
}

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// It works.
    Pass,
    /// It does not; see the remedy.
    Fail,
    /// Works, with a caveat worth knowing.
    Warn,
    /// Not configured (optional) or not needed by this target.
    Skip,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked (`store`, `solarweb`, …).
    pub name: &'static str,
    /// Its outcome.
    pub status: Status,
    /// Whether a failure makes the doctor fail.
    pub required: bool,
    /// What was found.
    pub detail: String,
    /// What to do about a failure.
    pub remedy: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Pass,
            required: true,
            detail: detail.into(),
            remedy: None,
        }
    }

    fn fail(name: &'static str, detail: impl Into<String>, remedy: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Fail,
            required: true,
            detail: detail.into(),
            remedy: Some(remedy.into()),
        }
    }

    fn skip(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Skip,
            required: false,
            detail: detail.into(),
            remedy: None,
        }
    }

    fn warn(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Warn,
            required: false,
            detail: detail.into(),
            remedy: None,
        }
    }
}

/// The report: every check, and whether all required ones passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// What was checked for.
    pub target: Target,
    /// The checks, in order.
    pub checks: Vec<Check>,
    /// No required check failed.
    pub ok: bool,
}

async fn timed<T>(fut: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::time::timeout(CHECK_TIMEOUT, fut).await.ok()
}

/// Runs every check `target` needs against the services `config` names.
pub async fn run(config: &Config, target: Target) -> Report {
    let mut checks = Vec::new();
    let deps = [
        Dep::Store,
        Dep::SolarWeb,
        Dep::Supabase,
        Dep::Model,
        Dep::Pinecone,
        Dep::Sns,
        Dep::Smtp,
    ];
    for dep in deps {
        if !target.needs(dep) {
            continue;
        }
        checks.push(match dep {
            Dep::Store => store(config).await,
            Dep::SolarWeb => solarweb(config, target).await,
            Dep::Supabase => supabase(config).await,
            Dep::Model => model(config).await,
            Dep::Pinecone => pinecone(config).await,
            Dep::Sns => sns(config).await,
            Dep::Smtp => smtp(config).await,
        });
    }
    let ok = !checks
        .iter()
        .any(|c| c.required && c.status == Status::Fail);
    Report { target, checks, ok }
}

async fn store(config: &Config) -> Check {
    match store_location(config) {
        StoreLocation::Sqlite(dir) => {
            let db = dir.join(moose_store_sqlite::DATABASE_FILE);
            if !dir.exists() {
                let parent = dir
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(std::path::Path::new("."));
                return match std::fs::metadata(parent) {
                    Ok(m) if !m.permissions().readonly() => Check::pass(
                        "store",
                        format!(
                            "sqlite: {} does not exist yet; Moose creates it at first start",
                            dir.display()
                        ),
                    ),
                    _ => Check::fail(
                        "store",
                        format!(
                            "sqlite: {} does not exist and {} cannot be written",
                            dir.display(),
                            parent.display()
                        ),
                        "set MOOSE_DATA_DIR (or --data-dir) to a directory Moose may create and write",
                    ),
                };
            }
            match timed(moose_store_sqlite::SqliteStore::open(&dir)).await {
                Some(Ok(s)) => {
                    let ok = s.ping().await;
                    let _ = s.close().await;
                    match ok {
                        Ok(()) => Check::pass(
                            "store",
                            format!("sqlite: {} opens and is writable", db.display()),
                        ),
                        Err(e) => Check::fail(
                            "store",
                            format!("sqlite: {e}"),
                            "check the file's owner and mode (chmod 600) and the disk",
                        ),
                    }
                }
                Some(Err(e)) => Check::fail(
                    "store",
                    format!("sqlite: {e}"),
                    "fix what the message says, or choose another MOOSE_DATA_DIR",
                ),
                None => Check::fail(
                    "store",
                    "sqlite: the database did not open in time",
                    "another process may hold it locked; stop it",
                ),
            }
        }
        StoreLocation::Dynamodb(settings) => {
            let store = DynamoStore::connect(&settings).await;
            let described = match timed(store.describe()).await {
                Some(Ok(d)) => d,
                Some(Err(e)) => {
                    return Check::fail(
                        "store",
                        format!("dynamodb: table {}: {e}", settings.table),
                        "create it with `moose table create`, or check DYNAMODB_TABLE_NAME, the region, the credentials and MOOSE_DYNAMODB_ENDPOINT",
                    );
                }
                None => {
                    return Check::fail(
                        "store",
                        format!("dynamodb: no answer about table {} in time", settings.table),
                        "check the network path to DynamoDB and MOOSE_DYNAMODB_ENDPOINT",
                    );
                }
            };
            let status = described["status"].as_str().unwrap_or("?").to_owned();
            let has_index = described["indexes"]
                .as_array()
                .is_some_and(|i| i.iter().any(|x| x == "GSI1"));
            if status != "ACTIVE" || !has_index {
                return Check::fail(
                    "store",
                    format!(
                        "dynamodb: table {} is {status}{}",
                        settings.table,
                        if has_index {
                            ""
                        } else {
                            " and has no GSI1 index"
                        }
                    ),
                    "wait until the table is ACTIVE; a table without GSI1 is not Moose's: `moose table create` makes one",
                );
            }
            let pitr = match timed(store.point_in_time_recovery()).await {
                Some(Ok(true)) => "point-in-time recovery on",
                Some(Ok(false)) => "point-in-time recovery OFF (turn it on for production)",
                _ => "point-in-time recovery unknown",
            };
            Check::pass(
                "store",
                format!(
                    "dynamodb: table {} ACTIVE with GSI1, {} items; {pitr}",
                    settings.table, described["items"]
                ),
            )
        }
    }
}

async fn solarweb(config: &Config, target: Target) -> Check {
    let sw = &config.solarweb;
    let (Some(id), Some(value)) = (&sw.access_key_id, &sw.access_key_value) else {
        return if target == Target::Serve {
            Check::warn(
                "solarweb",
                "no Solar.web access keys: nothing will be polled (`moose serve --demo` polls a simulated fleet)",
            )
        } else {
            Check::fail(
                "solarweb",
                "SOLAR_WEB_ACCESS_KEY_ID and SOLAR_WEB_ACCESS_KEY_VALUE are not set",
                "set both (Solar.web → Settings → API access keys)",
            )
        };
    };
    let login = sw.user_id.clone().zip(sw.password.clone());
    let credentials = moose_solarweb::Credentials {
        access_key_id: id.clone(),
        access_key_value: value.clone(),
        login,
    };
    let mut cc = moose_solarweb::ClientConfig::new(sw.base_url.clone(), credentials);
    cc.retry.max_attempts = 1;
    let client = match moose_solarweb::SolarWebClient::new(cc) {
        Ok(c) => c,
        Err(e) => return Check::fail("solarweb", e.to_string(), "fix MOOSE_SOLARWEB_BASE_URL"),
    };
    match timed(client.pv_systems_count()).await {
        Some(Ok(n)) => Check::pass(
            "solarweb",
            format!(
                "{}: keys accepted, {n} PV systems ({} redacted)",
                sw.base_url,
                moose_domain::REDACTED
            ),
        ),
        Some(Err(e)) => {
            let text = e.to_string();
            let remedy = if text.contains("401")
                || text.contains("403")
                || text.to_lowercase().contains("unauthor")
            {
                "the access keys were refused: check SOLAR_WEB_ACCESS_KEY_ID and SOLAR_WEB_ACCESS_KEY_VALUE"
            } else {
                "check MOOSE_SOLARWEB_BASE_URL, the network, and Solar.web's status"
            };
            Check::fail("solarweb", format!("{}: {text}", sw.base_url), remedy)
        }
        None => Check::fail(
            "solarweb",
            format!("{}: no answer in time", sw.base_url),
            "check the network path to Solar.web",
        ),
    }
}

async fn supabase(config: &Config) -> Check {
    let s = &config.supabase;
    let Some(url) = &s.url else {
        return Check::skip(
            "supabase",
            "not configured: only Moose's own sign-in and API keys are accepted",
        );
    };
    if s.jwt_secret.is_some() {
        return Check::pass(
            "supabase",
            format!(
                "{url}: tokens checked with the HS256 secret ({})",
                moose_domain::REDACTED
            ),
        );
    }
    let jwks = format!(
        "{}/auth/v1/.well-known/jwks.json",
        url.trim_end_matches('/')
    );
    let http = reqwest::Client::new();
    match timed(http.get(&jwks).send()).await {
        Some(Ok(r)) if r.status().is_success() => match r.json::<serde_json::Value>().await {
            Ok(v) if v["keys"].as_array().is_some_and(|k| !k.is_empty()) => Check::pass(
                "supabase",
                format!(
                    "{jwks}: {} signing key(s)",
                    v["keys"].as_array().map_or(0, Vec::len)
                ),
            ),
            _ => Check::fail(
                "supabase",
                format!("{jwks}: no signing keys"),
                "a project still on HS256 needs MOOSE_SUPABASE_JWT_SECRET",
            ),
        },
        Some(Ok(r)) => Check::fail(
            "supabase",
            format!("{jwks}: HTTP {}", r.status()),
            "check SUPABASE_URL (the project URL, https://<ref>.supabase.co)",
        ),
        Some(Err(_)) => Check::fail(
            "supabase",
            format!("{jwks}: cannot connect"),
            "check SUPABASE_URL and the network",
        ),
        None => Check::fail(
            "supabase",
            format!("{jwks}: no answer in time"),
            "check the network path to Supabase",
        ),
    }
}

async fn model(config: &Config) -> Check {
    let a = &config.assistant;
    if !a.has_model() {
        return Check::skip(
            "model",
            "no language model configured: the assistant answers offline (set OPENAI_API_KEY or MOOSE_OPENAI_BASE_URL)",
        );
    }
    let url = format!("{}/models", a.openai_base_url.trim_end_matches('/'));
    let key = a
        .openai_api_key
        .as_ref()
        .map_or("moose-no-key", moose_domain::Secret::expose);
    let http = reqwest::Client::new();
    match timed(http.get(&url).bearer_auth(key).send()).await {
        Some(Ok(r)) if r.status().is_success() => {
            let v: serde_json::Value = r.json().await.unwrap_or_default();
            let ids: Vec<&str> = v["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["id"].as_str())
                .collect();
            if ids.contains(&a.model.as_str()) {
                Check::pass(
                    "model",
                    format!("{}: model {} available", a.openai_base_url, a.model),
                )
            } else {
                Check::fail(
                    "model",
                    format!(
                        "{}: no model {} among {} listed",
                        a.openai_base_url,
                        a.model,
                        ids.len()
                    ),
                    "set MOOSE_ASSISTANT_MODEL to a model the server has",
                )
            }
        }
        Some(Ok(r)) if r.status().as_u16() == 401 || r.status().as_u16() == 403 => Check::fail(
            "model",
            format!(
                "{}: the key was refused (HTTP {})",
                a.openai_base_url,
                r.status().as_u16()
            ),
            "check OPENAI_API_KEY",
        ),
        Some(Ok(r)) if r.status().as_u16() == 404 => Check::warn(
            "model",
            format!(
                "{}: the server lists no models; the model is checked on first use",
                a.openai_base_url
            ),
        ),
        Some(Ok(r)) => Check::fail(
            "model",
            format!("{}: HTTP {}", a.openai_base_url, r.status()),
            "check MOOSE_OPENAI_BASE_URL; answers are offline meanwhile",
        ),
        Some(Err(_)) => Check::fail(
            "model",
            format!("{}: cannot connect", a.openai_base_url),
            "check MOOSE_OPENAI_BASE_URL and the network; answers are offline meanwhile",
        ),
        None => Check::fail(
            "model",
            format!("{}: no answer in time", a.openai_base_url),
            "check the server's load and the network",
        ),
    }
}

async fn pinecone(config: &Config) -> Check {
    let a = &config.assistant;
    let (Some(key), Some(name)) = (&a.pinecone_api_key, &a.pinecone_index_name) else {
        return Check::skip(
            "pinecone",
            "not configured: knowledge vectors (if any) live in the store",
        );
    };
    let client = moose_assistant::pinecone::PineconeClient::new(
        moose_assistant::pinecone::PineconeSettings {
            api_key: key.clone(),
            index_name: name.clone(),
            control_url: a.pinecone_controller_url.clone(),
            index_host: a.pinecone_index_host.clone(),
            namespace: a.pinecone_namespace.clone(),
            timeout: CHECK_TIMEOUT,
        },
    );
    // The dimension the index must have: what the embeddings model gives.
    let mut s = moose_assistant::llm::LlmSettings::new(
        a.openai_base_url.clone(),
        a.openai_api_key.clone(),
        a.model.clone(),
    );
    s.embedding_model = a.embeddings().map(str::to_owned);
    s.timeout = CHECK_TIMEOUT;
    s.max_retries = 0;
    let dim = match timed(
        moose_assistant::llm::LlmClient::new(s).embed(&["moose doctor".to_owned()]),
    )
    .await
    {
        Some(Ok(v)) => v.first().map_or(0, Vec::len),
        Some(Err(e)) => {
            return Check::fail(
                "pinecone",
                format!(
                    "index {name}: the embeddings model cannot be reached to learn its dimension: {e}"
                ),
                "fix the model check first (MOOSE_OPENAI_BASE_URL, MOOSE_EMBEDDING_MODEL)",
            );
        }
        None => {
            return Check::fail(
                "pinecone",
                "the embeddings model did not answer in time",
                "check the model server",
            );
        }
    };
    match timed(client.check(dim)).await {
        Some(Ok(info)) => Check::pass(
            "pinecone",
            format!(
                "index {name}: dense, dimension {}, {}, ready",
                info.dimension, info.metric
            ),
        ),
        Some(Err(e)) => Check::fail(
            "pinecone",
            e.to_string(),
            "check PINECONE_API_KEY and PINECONE_INDEX_NAME; the index must be a dense vector index of the embeddings' dimension (then `moose kb ingest`)",
        ),
        None => Check::fail(
            "pinecone",
            format!("index {name}: no answer in time"),
            "check the network path to Pinecone",
        ),
    }
}

async fn sns(config: &Config) -> Check {
    let n = &config.notify;
    let Some(arn) = &n.sns_topic_arn else {
        return Check::skip(
            "sns",
            "no operations topic (MOOSE_SNS_TOPIC_ARN): no SMS, no ops topic",
        );
    };
    let sender = SnsSender::connect(&moose_notify::SnsSettings {
        endpoint: n.aws_endpoint.clone(),
        region: None,
    })
    .await;
    match timed(sender.check_topic(arn)).await {
        Some(Ok(())) => Check::pass("sns", format!("topic {arn} exists")),
        Some(Err(e)) => Check::fail(
            "sns",
            format!("topic {arn}: {e}"),
            "check MOOSE_SNS_TOPIC_ARN, the region and the role's sns:GetTopicAttributes/Publish rights",
        ),
        None => Check::fail(
            "sns",
            format!("topic {arn}: no answer in time"),
            "check the network path to SNS and MOOSE_AWS_ENDPOINT",
        ),
    }
}

async fn smtp(config: &Config) -> Check {
    let n = &config.notify;
    let Some(host) = &n.smtp_host else {
        return Check::skip("smtp", "no SMTP relay (MOOSE_SMTP_HOST): no e-mail");
    };
    let settings = moose_notify::SmtpSettings {
        host: host.clone(),
        port: u16::try_from(n.smtp_port).unwrap_or(587),
        username: n.smtp_username.clone(),
        password: n.smtp_password.clone(),
        from: n.smtp_from.clone(),
        tls: match n.smtp_tls.as_str() {
            "none" => moose_notify::SmtpTls::None,
            "tls" => moose_notify::SmtpTls::Tls,
            _ => moose_notify::SmtpTls::StartTls,
        },
    };
    let sender = match EmailSender::new(&settings) {
        Ok(s) => s,
        Err(e) => {
            return Check::fail(
                "smtp",
                e.to_string(),
                "fix MOOSE_SMTP_HOST / MOOSE_SMTP_FROM",
            );
        }
    };
    match timed(sender.check()).await {
        Some(Ok(())) => Check::pass(
            "smtp",
            format!(
                "{host}:{} accepts connections ({})",
                n.smtp_port, n.smtp_tls
            ),
        ),
        Some(Err(e)) => Check::fail(
            "smtp",
            format!("{host}:{}: {e}", n.smtp_port),
            "check MOOSE_SMTP_HOST, MOOSE_SMTP_PORT, MOOSE_SMTP_TLS and the credentials",
        ),
        None => Check::fail(
            "smtp",
            format!("{host}:{}: no answer in time", n.smtp_port),
            "check the network path to the relay",
        ),
    }
}
