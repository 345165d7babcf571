//! Every environment variable Moose reads, declared once.
//!
//! `docs/configuration.md` is generated from [`VARIABLES`] (`moose config env-docs`), and a
//! test fails when the two drift apart.

/// How an environment variable's text becomes a configuration value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Taken as is.
    Text,
    /// A non-negative integer.
    Integer,
    /// A secret: taken as is, never printed. `<NAME>_FILE` may name a file holding it.
    Secret,
    /// `true`/`false` (also `1`/`0`, `yes`/`no`).
    Boolean,
}

/// One environment variable.
#[derive(Debug, Clone, Copy)]
pub struct Variable {
    /// The variable's name.
    pub name: &'static str,
    /// The setting it sets, as a dotted path (`http.bind`); also the `moose.toml` key.
    pub path: &'static str,
    /// How its value is read.
    pub kind: Kind,
    /// The default, as shown in the documentation.
    pub default: &'static str,
    /// What it does.
    pub doc: &'static str,
    /// Where it takes effect.
    pub applies: Applies,
}

/// A host Moose runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// `moose serve`.
    Serve,
    /// The one-shot commands of the `moose` binary (`poll`, `backfill`, `status`, `notify`,
    /// `users`, `table`).
    Commands,
    /// The AWS Lambda functions (`bootstrap`).
    Lambda,
}

/// Every host.
pub const ALL_HOSTS: &[Host] = &[Host::Serve, Host::Commands, Host::Lambda];

/// Where a setting takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    /// On these hosts (a test observes it on each).
    On(&'static [Host]),
    /// Nowhere yet, and why it is declared anyway.
    Reserved(&'static str),
}

impl Applies {
    /// The hosts, as `docs/configuration.md` shows them.
    pub fn describe(self) -> String {
        match self {
            Self::On(hosts) if hosts == ALL_HOSTS => "all".to_owned(),
            Self::On(hosts) => hosts
                .iter()
                .map(|h| match h {
                    Host::Serve => "serve",
                    Host::Commands => "commands",
                    Host::Lambda => "Lambda",
                })
                .collect::<Vec<_>>()
                .join(", "),
            Self::Reserved(_) => "none yet".to_owned(),
        }
    }
}

/// The variable naming the configuration file (read before the others).
pub const CONFIG_FILE_VAR: &str = "MOOSE_CONFIG";

/// Prefix of variables reserved for the test harness; they are never warned about.
pub const TEST_PREFIX: &str = "MOOSE_TEST_";

/// The old Python system's variables, under their exact names: the compatibility contract.
/// Every one must be declared in [`VARIABLES`] and passed to every Lambda function.
pub const OLD_SYSTEM_VARIABLES: &[&str] = &[
    "DYNAMODB_TABLE_NAME",
    "OPENAI_API_KEY",
    "PINECONE_API_KEY",
    "PINECONE_INDEX_NAME",
    "SOLAR_WEB_ACCESS_KEY_ID",
    "SOLAR_WEB_ACCESS_KEY_VALUE",
    "SOLAR_WEB_USERID",
    "SOLAR_WEB_PASSWORD",
    "SUPABASE_URL",
    "SUPABASE_ANON_KEY",
];

/// Every variable, in documentation order.
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "MOOSE_BIND",
        path: "http.bind",
        kind: Kind::Text,
        default: "127.0.0.1:8080",
        doc: "Address and port the HTTP API listens on.",
        applies: Applies::On(&[Host::Serve]),
    },
    Variable {
        name: "MOOSE_REQUEST_TIMEOUT_SECS",
        path: "http.request_timeout_secs",
        kind: Kind::Integer,
        default: "30",
        doc: "Requests running longer are cancelled and answered 503 (1-300).",
        applies: Applies::On(&[Host::Serve, Host::Lambda]),
    },
    Variable {
        name: "MOOSE_BODY_LIMIT_BYTES",
        path: "http.body_limit_bytes",
        kind: Kind::Integer,
        default: "1048576",
        doc: "Largest accepted request body; larger ones get 413 (1 KiB-64 MiB).",
        applies: Applies::On(&[Host::Serve, Host::Lambda]),
    },
    Variable {
        name: "MOOSE_SHUTDOWN_GRACE_SECS",
        path: "http.shutdown_grace_secs",
        kind: Kind::Integer,
        default: "20",
        doc: "On SIGINT/SIGTERM, how long in-flight requests and jobs may take to finish (0-300).",
        applies: Applies::On(&[Host::Serve]),
    },
    Variable {
        name: "MOOSE_HEADER_TIMEOUT_SECS",
        path: "http.header_timeout_secs",
        kind: Kind::Integer,
        default: "10",
        doc: "A connection that has not sent a complete request head in this time is closed, idle keep-alive connections included (1-300).",
        applies: Applies::On(&[Host::Serve]),
    },
    Variable {
        name: "MOOSE_BODY_TIMEOUT_SECS",
        path: "http.body_timeout_secs",
        kind: Kind::Integer,
        default: "30",
        doc: "A request body that has not fully arrived this long after the request started fails, and its connection is closed (1-3600).",
        applies: Applies::On(&[Host::Serve]),
    },
    Variable {
        name: "MOOSE_MAX_CONNECTIONS",
        path: "http.max_connections",
        kind: Kind::Integer,
        default: "1024",
        doc: "Connections served at once; more wait in the kernel's backlog. Keep it below the open-file limit (1-1000000).",
        applies: Applies::On(&[Host::Serve]),
    },
    Variable {
        name: "MOOSE_MAX_CONNECTIONS_PER_CLIENT",
        path: "http.max_connections_per_client",
        kind: Kind::Integer,
        default: "256",
        doc: "Connections one client address may hold at once; more are closed at once. Behind a reverse proxy the proxy is the client (1-1000000).",
        applies: Applies::On(&[Host::Serve]),
    },
    Variable {
        name: "MOOSE_METRICS_TOKEN",
        path: "http.metrics_token",
        kind: Kind::Secret,
        default: "",
        doc: "Bearer token a Prometheus scraper presents to `GET /metrics`; unset, only loopback clients may scrape.",
        applies: Applies::On(&[Host::Serve]),
    },
    Variable {
        name: "MOOSE_TRUSTED_PROXIES",
        path: "http.trusted_proxies",
        kind: Kind::Text,
        default: "",
        doc: "Reverse proxies in front of `moose serve` whose `X-Forwarded-For` is believed, as addresses and networks (`127.0.0.1, 10.0.0.0/8`): the client is then the nearest address in it that is not one of them (sign-in throttling, activity log). Unset, the client is the TCP peer and the header is ignored.",
        applies: Applies::On(&[Host::Serve]),
    },
    Variable {
        name: "MOOSE_STORE",
        path: "store.backend",
        kind: Kind::Text,
        default: "sqlite",
        doc: "Store backend: `sqlite` (embedded, the default) or `dynamodb` (the table named by DYNAMODB_TABLE_NAME).",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "MOOSE_DATA_DIR",
        path: "store.data_dir",
        kind: Kind::Text,
        default: "./moose-data",
        doc: "Directory of the embedded store (created if missing; must be writable).",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "DYNAMODB_TABLE_NAME",
        path: "store.dynamodb_table",
        kind: Kind::Text,
        default: "Moose-DDB",
        doc: "DynamoDB table of the DynamoDB backend (the old system's variable).",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "MOOSE_DYNAMODB_ENDPOINT",
        path: "store.dynamodb_endpoint",
        kind: Kind::Text,
        default: "",
        doc: "DynamoDB endpoint override for a local DynamoDB-compatible server (e.g. `http://127.0.0.1:5000`); AWS when unset.",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "MOOSE_LOG_FORMAT",
        path: "log.format",
        kind: Kind::Text,
        default: "text",
        doc: "`text` for people, `json` for log shippers and CloudWatch.",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "MOOSE_LOG",
        path: "log.filter",
        kind: Kind::Text,
        default: "info",
        doc: "Log filter in `tracing` syntax, e.g. `info,moose_api=debug`.",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "MOOSE_STORE_CHECK_INTERVAL_SECS",
        path: "jobs.store_check_interval_secs",
        kind: Kind::Integer,
        default: "60",
        doc: "How often `moose serve` checks the store and logs when it fails or recovers (5-86400).",
        applies: Applies::On(&[Host::Serve]),
    },
    Variable {
        name: "MOOSE_POLL_INTERVAL_SECS",
        path: "poll.interval_secs",
        kind: Kind::Integer,
        default: "300",
        doc: "Seconds between `solar-data-polling` passes in `moose serve` (30-86400).",
        applies: Applies::On(&[Host::Serve]),
    },
    Variable {
        name: "MOOSE_POLL_CONCURRENCY",
        path: "poll.concurrency",
        kind: Kind::Integer,
        default: "8",
        doc: "Systems polled at once (1-64).",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "MOOSE_POLL_SUN_AWARE",
        path: "poll.sun_aware",
        kind: Kind::Boolean,
        default: "true",
        doc: "Skip systems whose sun has been down since their last poll (night records then arrive after sunrise).",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "MOOSE_SOLARWEB_REQUESTS_PER_SECOND",
        path: "poll.requests_per_second",
        kind: Kind::Integer,
        default: "10",
        doc: "Most Solar.web requests per second, so a fleet poll stays inside the quota (1-1000).",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "MOOSE_POLL_INITIAL_LOOKBACK_HOURS",
        path: "poll.initial_lookback_hours",
        kind: Kind::Integer,
        default: "24",
        doc: "Hours of history a newly seen system is polled for; older history comes from `moose backfill` (1-720).",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "MOOSE_SOLARWEB_BASE_URL",
        path: "solarweb.base_url",
        kind: Kind::Text,
        default: "https://api.solarweb.com/swqapi",
        doc: "Base URL of the Solar.web Query API (point it at `moose sim` to use the simulator).",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "SOLAR_WEB_ACCESS_KEY_ID",
        path: "solarweb.access_key_id",
        kind: Kind::Secret,
        default: "",
        doc: "Solar.web Query API access key id (`AccessKeyId` header).",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "SOLAR_WEB_ACCESS_KEY_VALUE",
        path: "solarweb.access_key_value",
        kind: Kind::Secret,
        default: "",
        doc: "Solar.web Query API access key value (`AccessKeyValue` header).",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "SOLAR_WEB_USERID",
        path: "solarweb.user_id",
        kind: Kind::Text,
        default: "",
        doc: "Solar.web login for JWT authentication (optional; needs the password too).",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "SOLAR_WEB_PASSWORD",
        path: "solarweb.password",
        kind: Kind::Secret,
        default: "",
        doc: "Solar.web password for JWT authentication.",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "MOOSE_CONSOLE_TILE_URL",
        path: "console.tile_url",
        kind: Kind::Text,
        default: "",
        doc: "Map tiles under the console's fleet map: an http(s) URL template with `{z}`, `{x}` and `{y}`, e.g. `https://tile.openstreetmap.org/{z}/{x}/{y}.png` (its origin is added to the console's Content-Security-Policy). Unset, the map is drawn without tiles and works offline.",
        applies: Applies::On(&[Host::Serve]),
    },
    Variable {
        name: "MOOSE_CONSOLE_TILE_ATTRIBUTION",
        path: "console.tile_attribution",
        kind: Kind::Text,
        default: "",
        doc: "Attribution text the tile provider requires, shown under the map (e.g. `© OpenStreetMap contributors`); unset, the tile host's name is shown.",
        applies: Applies::On(&[Host::Serve]),
    },
    Variable {
        name: "SUPABASE_URL",
        path: "supabase.url",
        kind: Kind::Text,
        default: "",
        doc: "Supabase project URL; when set, bearer tokens are Supabase access tokens.",
        applies: Applies::On(&[Host::Serve, Host::Lambda]),
    },
    Variable {
        name: "SUPABASE_ANON_KEY",
        path: "supabase.anon_key",
        kind: Kind::Secret,
        default: "",
        doc: "Supabase anon key of the project: with SUPABASE_URL, the web console offers Supabase sign-in (the server calls the project's Auth with it). Verifying Supabase tokens needs no anon key.",
        applies: Applies::On(&[Host::Serve]),
    },
    Variable {
        name: "MOOSE_SUPABASE_JWT_SECRET",
        path: "supabase.jwt_secret",
        kind: Kind::Secret,
        default: "",
        doc: "Supabase legacy JWT secret; set it only if the project still signs tokens with HS256.",
        applies: Applies::On(&[Host::Serve, Host::Lambda]),
    },
    Variable {
        name: "MOOSE_ACCESS_TOKEN_TTL_SECS",
        path: "auth.access_token_ttl_secs",
        kind: Kind::Integer,
        default: "900",
        doc: "Lifetime of Moose-issued access tokens (60-86400).",
        applies: Applies::On(&[Host::Serve, Host::Lambda]),
    },
    Variable {
        name: "MOOSE_REFRESH_TOKEN_TTL_SECS",
        path: "auth.refresh_token_ttl_secs",
        kind: Kind::Integer,
        default: "2592000",
        doc: "Lifetime of a sign-in session, i.e. of its refresh token (3600-31536000).",
        applies: Applies::On(&[Host::Serve, Host::Lambda]),
    },
    Variable {
        name: "OPENAI_API_KEY",
        path: "assistant.openai_api_key",
        kind: Kind::Secret,
        default: "",
        doc: "API key of the assistant's OpenAI-compatible model server; with it (or with MOOSE_OPENAI_BASE_URL) `chat-service` answers with the language model, otherwise offline.",
        applies: Applies::On(&[Host::Serve, Host::Lambda]),
    },
    Variable {
        name: "MOOSE_OPENAI_BASE_URL",
        path: "assistant.openai_base_url",
        kind: Kind::Text,
        default: "https://api.openai.com/v1",
        doc: "Base URL of the OpenAI-compatible server (e.g. `http://127.0.0.1:11434/v1` for Ollama); a URL other than OpenAI's turns the language model on without a key.",
        applies: Applies::On(&[Host::Serve, Host::Lambda]),
    },
    Variable {
        name: "MOOSE_ASSISTANT_MODEL",
        path: "assistant.model",
        kind: Kind::Text,
        default: "gpt-4.1-mini",
        doc: "Chat model of the assistant.",
        applies: Applies::On(&[Host::Serve, Host::Lambda]),
    },
    Variable {
        name: "MOOSE_EMBEDDING_MODEL",
        path: "assistant.embedding_model",
        kind: Kind::Text,
        default: "",
        doc: "Embeddings model for dense retrieval; empty: `text-embedding-3-small` when a Pinecone index is configured, otherwise BM25 only.",
        applies: Applies::On(&[Host::Serve, Host::Commands, Host::Lambda]),
    },
    Variable {
        name: "MOOSE_ASSISTANT_TIMEOUT_SECS",
        path: "assistant.timeout_secs",
        kind: Kind::Integer,
        default: "30",
        doc: "Deadline of one model call, retries included; then the answer is offline (1-120).",
        applies: Applies::On(&[Host::Serve, Host::Lambda]),
    },
    Variable {
        name: "MOOSE_ASSISTANT_DAILY_TOKENS",
        path: "assistant.daily_tokens_per_user",
        kind: Kind::Integer,
        default: "200000",
        doc: "Language-model tokens one user may use per UTC day; then answers are offline (0-100000000).",
        applies: Applies::On(&[Host::Serve, Host::Lambda]),
    },
    Variable {
        name: "MOOSE_CHAT_RETENTION_DAYS",
        path: "assistant.retention_days",
        kind: Kind::Integer,
        default: "90",
        doc: "Days a conversation is kept after its last message (1-3650).",
        applies: Applies::On(&[Host::Serve, Host::Lambda]),
    },
    Variable {
        name: "MOOSE_KNOWLEDGE_DIR",
        path: "assistant.knowledge_dir",
        kind: Kind::Text,
        default: "",
        doc: "Folder of Markdown articles used instead of the built-in knowledge base (`knowledge/` of the build).",
        applies: Applies::On(&[Host::Serve, Host::Commands, Host::Lambda]),
    },
    Variable {
        name: "PINECONE_API_KEY",
        path: "assistant.pinecone_api_key",
        kind: Kind::Secret,
        default: "",
        doc: "Pinecone API key of the assistant's knowledge base (with PINECONE_INDEX_NAME and an embeddings model, vectors live in Pinecone; otherwise in the store).",
        applies: Applies::On(&[Host::Serve, Host::Commands, Host::Lambda]),
    },
    Variable {
        name: "PINECONE_INDEX_NAME",
        path: "assistant.pinecone_index_name",
        kind: Kind::Text,
        default: "",
        doc: "Pinecone index of the knowledge base's vectors: a dense vector index of the embeddings' dimension.",
        applies: Applies::On(&[Host::Serve, Host::Commands, Host::Lambda]),
    },
    Variable {
        name: "MOOSE_PINECONE_CONTROLLER_URL",
        path: "assistant.pinecone_controller_url",
        kind: Kind::Text,
        default: "https://api.pinecone.io",
        doc: "Pinecone's control plane, where the index's host is looked up.",
        applies: Applies::On(&[Host::Serve, Host::Commands, Host::Lambda]),
    },
    Variable {
        name: "MOOSE_PINECONE_INDEX_HOST",
        path: "assistant.pinecone_index_host",
        kind: Kind::Text,
        default: "",
        doc: "The index's data-plane host; set it to skip the lookup.",
        applies: Applies::On(&[Host::Serve, Host::Commands, Host::Lambda]),
    },
    Variable {
        name: "MOOSE_PINECONE_NAMESPACE",
        path: "assistant.pinecone_namespace",
        kind: Kind::Text,
        default: "",
        doc: "Namespace of the knowledge vectors; empty: the index's default namespace.",
        applies: Applies::On(&[Host::Serve, Host::Commands, Host::Lambda]),
    },
    Variable {
        name: "MOOSE_STATUS_INTERVAL_SECS",
        path: "jobs.status_interval_secs",
        kind: Kind::Integer,
        default: "300",
        doc: "Seconds between `device-status-polling` passes in `moose serve` (30-86400).",
        applies: Applies::On(&[Host::Serve]),
    },
    Variable {
        name: "MOOSE_NOTIFY_INTERVAL_SECS",
        path: "jobs.notify_interval_secs",
        kind: Kind::Integer,
        default: "30",
        doc: "Seconds between `notify-user` dispatch rounds in `moose serve` (1-3600).",
        applies: Applies::On(&[Host::Serve, Host::Commands]),
    },
    Variable {
        name: "MOOSE_NOTIFY_LEASE_SECS",
        path: "jobs.notify_lease_secs",
        kind: Kind::Integer,
        default: "120",
        doc: "How long a dispatcher holds a notification it is delivering; after a crash, another (or the restarted) dispatcher takes it over after this (5-3600).",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "MOOSE_PUBLIC_URL",
        path: "notify.public_url",
        kind: Kind::Text,
        default: "",
        doc: "Moose's public base URL, for links in notifications (`https://moose.example.com`).",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "MOOSE_SMTP_HOST",
        path: "notify.smtp_host",
        kind: Kind::Text,
        default: "",
        doc: "SMTP server for e-mail notifications; e-mail is off when unset.",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "MOOSE_SMTP_PORT",
        path: "notify.smtp_port",
        kind: Kind::Integer,
        default: "587",
        doc: "SMTP port.",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "MOOSE_SMTP_TLS",
        path: "notify.smtp_tls",
        kind: Kind::Text,
        default: "starttls",
        doc: "`starttls`, `tls` (implicit, port 465) or `none` (only for a relay on the same host).",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "MOOSE_SMTP_USERNAME",
        path: "notify.smtp_username",
        kind: Kind::Text,
        default: "",
        doc: "SMTP user name, if the server requires authentication.",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "MOOSE_SMTP_PASSWORD",
        path: "notify.smtp_password",
        kind: Kind::Secret,
        default: "",
        doc: "SMTP password.",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "MOOSE_SMTP_FROM",
        path: "notify.smtp_from",
        kind: Kind::Text,
        default: "Moose <alerts@moose.invalid>",
        doc: "Sender of notification e-mails.",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "MOOSE_SNS_TOPIC_ARN",
        path: "notify.sns_topic_arn",
        kind: Kind::Text,
        default: "",
        doc: "SNS topic that receives every incident event once (operators subscribe to it); also enables SMS through SNS.",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "MOOSE_AWS_ENDPOINT",
        path: "notify.aws_endpoint",
        kind: Kind::Text,
        default: "",
        doc: "SNS endpoint override, for a local AWS-compatible server; AWS when unset.",
        applies: Applies::On(ALL_HOSTS),
    },
    Variable {
        name: "MOOSE_ALLOW_PRIVATE_WEBHOOKS",
        path: "notify.allow_private_webhooks",
        kind: Kind::Boolean,
        default: "false",
        doc: "Allow webhook URLs that resolve to loopback, private or link-local addresses (refused by default: SSRF).",
        applies: Applies::On(ALL_HOSTS),
    },
];

/// Looks a variable up by the setting it sets.
pub fn for_path(path: &str) -> Option<&'static Variable> {
    VARIABLES.iter().find(|v| v.path == path)
}

/// The known name closest to `name`, if it is a plausible typo of it.
pub fn suggest(name: &str) -> Option<&'static str> {
    VARIABLES
        .iter()
        .map(|v| v.name)
        .chain([CONFIG_FILE_VAR])
        .map(|known| (edit_distance(name, known), known))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, known)| known)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev + usize::from(ca != *cb);
            prev = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(prev + 1);
        }
    }
    row[b.len()]
}

/// The environment-variable table of `docs/configuration.md`.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| variable | setting (`moose.toml`) | default | applies to | meaning |\n|---|---|---|---|---|\n",
    );
    out.push_str(&format!(
        "| `{CONFIG_FILE_VAR}` | (flag `--config`) | `moose.toml` if present | all | Path of the configuration file; an explicitly named file must exist. |\n"
    ));
    for v in VARIABLES {
        let default = if v.default.is_empty() {
            "unset".to_owned()
        } else {
            format!("`{}`", v.default)
        };
        let secret = if v.kind == Kind::Secret {
            " Secret: never printed; `{name}_FILE` may name a file holding it."
        } else {
            ""
        };
        let reserved = match v.applies {
            Applies::Reserved(why) => format!(" Read by no host yet: {why}."),
            Applies::On(_) => String::new(),
        };
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {} | {}{}{} |\n",
            v.name,
            v.path,
            default,
            v.applies.describe(),
            v.doc,
            secret.replace("{name}", v.name),
            reserved
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths_are_unique() {
        for (i, a) in VARIABLES.iter().enumerate() {
            for b in &VARIABLES[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(a.path, b.path);
            }
        }
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(suggest("MOOSE_BINDD"), Some("MOOSE_BIND"));
        assert_eq!(suggest("MOOSE_DATADIR"), Some("MOOSE_DATA_DIR"));
        assert_eq!(suggest("MOOSE_SOMETHING_ELSE_ENTIRELY"), None);
    }

    #[test]
    fn every_old_system_variable_is_declared() {
        for &name in OLD_SYSTEM_VARIABLES {
            assert!(
                VARIABLES.iter().any(|v| v.name == name),
                "{name} is not declared"
            );
        }
    }
}
