//! Every setting of the environment-variable registry does what it says: set to a value that is
//! not its default, it shows in the component the composition root builds for the hosts it
//! applies to. A registry entry that applies somewhere but no built component reads fails here,
//! and so does one that applies nowhere without saying why (`Applies::Reserved`).
//!
//! The hosts take every part from `App` (`moose serve`, the one-shot commands and the Lambda
//! roles build nothing from `Config` themselves), so what `App` builds is what they run with.
//! Where a host could still pick a part and ignore the rest, a host test checks the behaviour
//! (the Lambda Runtime-API test sets `MOOSE_POLL_INITIAL_LOOKBACK_HOURS`).

use std::collections::BTreeMap;
use std::sync::Arc;

use moose_app::{App, StoreLocation, store_location, telemetry};
use moose_assistant::retrieval::{KnowledgeSource, VectorIndex};
use moose_config::env::{ALL_HOSTS, Applies, Host, VARIABLES};
use moose_config::{Config, Sources, StoreBackend};

/// A valid value for each setting that is not its default, and how it shows when observed.
fn non_default(name: &str) -> Option<&'static str> {
    Some(match name {
        "MOOSE_BIND" => "127.0.0.1:9191",
        "MOOSE_REQUEST_TIMEOUT_SECS" => "77",
        "MOOSE_BODY_LIMIT_BYTES" => "4096",
        "MOOSE_SHUTDOWN_GRACE_SECS" => "7",
        "MOOSE_HEADER_TIMEOUT_SECS" => "3",
        "MOOSE_BODY_TIMEOUT_SECS" => "9",
        "MOOSE_MAX_CONNECTIONS" => "99",
        "MOOSE_MAX_CONNECTIONS_PER_CLIENT" => "7",
        "MOOSE_STORE" => "dynamodb",
        "MOOSE_DATA_DIR" => "/var/lib/moose-elsewhere",
        "DYNAMODB_TABLE_NAME" => "Other-Table",
        "MOOSE_DYNAMODB_ENDPOINT" => "http://127.0.0.1:1",
        "MOOSE_LOG_FORMAT" => "json",
        "MOOSE_LOG" => "debug",
        "MOOSE_STORE_CHECK_INTERVAL_SECS" => "61",
        "MOOSE_POLL_INTERVAL_SECS" => "123",
        "MOOSE_POLL_CONCURRENCY" => "3",
        "MOOSE_POLL_SUN_AWARE" => "false",
        "MOOSE_SOLARWEB_REQUESTS_PER_SECOND" => "4",
        "MOOSE_POLL_INITIAL_LOOKBACK_HOURS" => "48",
        "MOOSE_SOLARWEB_BASE_URL" => "http://127.0.0.1:9/swqapi",
        "SOLAR_WEB_ACCESS_KEY_ID" => "FKIA-test-id",
        "SOLAR_WEB_ACCESS_KEY_VALUE" => "test-key-value",
        "SOLAR_WEB_USERID" => "ops@example.com",
        "SOLAR_WEB_PASSWORD" => "solar-web-password",
        "SUPABASE_URL" => "https://project.supabase.co",
        "SUPABASE_ANON_KEY" => "anon-public-key",
        "MOOSE_SUPABASE_JWT_SECRET" => "a-jwt-secret-of-at-least-32-characters!!",
        "MOOSE_ACCESS_TOKEN_TTL_SECS" => "600",
        "MOOSE_REFRESH_TOKEN_TTL_SECS" => "7200",
        "MOOSE_STATUS_INTERVAL_SECS" => "310",
        "MOOSE_NOTIFY_INTERVAL_SECS" => "31",
        "MOOSE_NOTIFY_LEASE_SECS" => "121",
        "MOOSE_PUBLIC_URL" => "https://moose.example.com",
        "MOOSE_SMTP_HOST" => "smtp.example.com",
        "MOOSE_SMTP_PORT" => "2525",
        "MOOSE_SMTP_TLS" => "tls",
        "MOOSE_SMTP_USERNAME" => "mailer",
        "MOOSE_SMTP_PASSWORD" => "smtp-password",
        "MOOSE_SMTP_FROM" => "Ops <ops@example.com>",
        "MOOSE_SNS_TOPIC_ARN" => "arn:aws:sns:us-east-1:123456789012:moose-ops",
        "MOOSE_AWS_ENDPOINT" => "http://127.0.0.1:2",
        "MOOSE_ALLOW_PRIVATE_WEBHOOKS" => "true",
        "MOOSE_METRICS_TOKEN" => "scrape-me-please",
        "MOOSE_TRUSTED_PROXIES" => "10.0.0.0/8",
        "MOOSE_CONSOLE_TILE_URL" => "https://tiles.example.org/osm/{z}/{x}/{y}.png",
        "MOOSE_CONSOLE_TILE_ATTRIBUTION" => "© OpenStreetMap contributors",
        "OPENAI_API_KEY" => "sk-test-key",
        "MOOSE_OPENAI_BASE_URL" => "http://127.0.0.1:3/v1",
        "MOOSE_ASSISTANT_MODEL" => "llama3.1:8b",
        "MOOSE_EMBEDDING_MODEL" => "nomic-embed-text",
        "MOOSE_ASSISTANT_TIMEOUT_SECS" => "45",
        "MOOSE_ASSISTANT_DAILY_TOKENS" => "5000",
        "MOOSE_CHAT_RETENTION_DAYS" => "30",
        "MOOSE_KNOWLEDGE_DIR" => "/srv/moose-knowledge",
        "PINECONE_API_KEY" => "pc-test-key",
        "PINECONE_INDEX_NAME" => "moose-om",
        "MOOSE_PINECONE_CONTROLLER_URL" => "http://127.0.0.1:4",
        "MOOSE_PINECONE_INDEX_HOST" => "127.0.0.1:5",
        "MOOSE_PINECONE_NAMESPACE" => "kb",
        _ => return None,
    })
}

/// The setting `name` as the built components have it, or `None` if nothing built reads it.
fn observe(app: &App, name: &str) -> Option<String> {
    let llm = || app.assistant().llm().map(|c| c.settings().clone());
    let pinecone = || match app.assistant().retriever().dense()?.1 {
        VectorIndex::Pinecone(p) => Some(p.settings().clone()),
        VectorIndex::Store(_) => None,
    };
    let solarweb = || app.solarweb().expect("the client builds");
    let client_config = || solarweb().map(|c| c.config().clone());
    let credentials = || {
        client_config().map(|c| {
            let login = c
                .credentials
                .login
                .as_ref()
                .map(|(u, p)| (u.clone(), p.expose().to_owned()));
            (
                c.credentials.access_key_id.expose().to_owned(),
                c.credentials.access_key_value.expose().to_owned(),
                login,
            )
        })
    };
    let smtp = || app.smtp_settings();
    let dynamo = |c: &Config| match store_location(c) {
        StoreLocation::Dynamodb(s) => Some((s.table, s.endpoint)),
        StoreLocation::Sqlite(_) => None,
    };
    let as_dynamo = || {
        let mut c = app.config().clone();
        c.store.backend = StoreBackend::Dynamodb;
        dynamo(&c)
    };
    let value = match name {
        "MOOSE_BIND" => app.bind().to_string(),
        "MOOSE_REQUEST_TIMEOUT_SECS" => app.http_limits().request_timeout.as_secs().to_string(),
        "MOOSE_BODY_LIMIT_BYTES" => app.http_limits().body_limit.to_string(),
        "MOOSE_SHUTDOWN_GRACE_SECS" => app.shutdown_grace().as_secs().to_string(),
        "MOOSE_HEADER_TIMEOUT_SECS" => app
            .connection_limits()
            .header_read_timeout
            .as_secs()
            .to_string(),
        "MOOSE_BODY_TIMEOUT_SECS" => app
            .connection_limits()
            .body_read_timeout
            .as_secs()
            .to_string(),
        "MOOSE_MAX_CONNECTIONS" => app.connection_limits().max_connections.to_string(),
        "MOOSE_MAX_CONNECTIONS_PER_CLIENT" => app
            .connection_limits()
            .max_connections_per_client
            .to_string(),
        "MOOSE_STORE" => match store_location(app.config()) {
            StoreLocation::Sqlite(_) => "sqlite".into(),
            StoreLocation::Dynamodb(_) => "dynamodb".into(),
        },
        "MOOSE_DATA_DIR" => {
            let mut c = app.config().clone();
            c.store.backend = StoreBackend::Sqlite;
            match store_location(&c) {
                StoreLocation::Sqlite(dir) => dir.display().to_string(),
                StoreLocation::Dynamodb(_) => return None,
            }
        }
        "DYNAMODB_TABLE_NAME" => as_dynamo()?.0,
        "MOOSE_DYNAMODB_ENDPOINT" => as_dynamo()?.1.unwrap_or_default(),
        "MOOSE_LOG_FORMAT" => format!("{:?}", telemetry(app.config()).0).to_lowercase(),
        "MOOSE_LOG" => telemetry(app.config()).1.to_owned(),
        "MOOSE_STORE_CHECK_INTERVAL_SECS" => app.store_check_interval().as_secs().to_string(),
        "MOOSE_POLL_INTERVAL_SECS" => app.poll_interval().as_secs().to_string(),
        "MOOSE_POLL_CONCURRENCY" => {
            let polled = app.poll_settings().concurrency;
            // The status job and the client's request slots follow it too.
            if let Some(client) = solarweb() {
                assert_eq!(app.status_job(client.clone()).concurrency, polled);
                assert_eq!(client.config().max_concurrency, polled * 2);
            }
            polled.to_string()
        }
        "MOOSE_POLL_SUN_AWARE" => app.poll_settings().sun_aware.to_string(),
        "MOOSE_SOLARWEB_REQUESTS_PER_SECOND" => client_config()?.requests_per_second.to_string(),
        "MOOSE_POLL_INITIAL_LOOKBACK_HOURS" => {
            app.poll_settings().initial_lookback.as_hours().to_string()
        }
        "MOOSE_SOLARWEB_BASE_URL" => client_config()?.base_url,
        "SOLAR_WEB_ACCESS_KEY_ID" => credentials()?.0,
        "SOLAR_WEB_ACCESS_KEY_VALUE" => credentials()?.1,
        "SOLAR_WEB_USERID" => credentials()?.2?.0,
        "SOLAR_WEB_PASSWORD" => credentials()?.2?.1,
        "SUPABASE_URL" => app.auth_settings().supabase_url?,
        "SUPABASE_ANON_KEY" => app
            .console_settings()
            .supabase?
            .anon_key
            .expose()
            .to_owned(),
        "MOOSE_SUPABASE_JWT_SECRET" => app.auth_settings().supabase_jwt_secret?.expose().to_owned(),
        "MOOSE_ACCESS_TOKEN_TTL_SECS" => app.auth_settings().access_ttl.as_secs().to_string(),
        "MOOSE_REFRESH_TOKEN_TTL_SECS" => app.auth_settings().refresh_ttl.as_secs().to_string(),
        "MOOSE_STATUS_INTERVAL_SECS" => app.status_interval().as_secs().to_string(),
        "MOOSE_NOTIFY_INTERVAL_SECS" => app.notify_interval().as_secs().to_string(),
        "MOOSE_NOTIFY_LEASE_SECS" => app.dispatch_settings().lease.as_secs().to_string(),
        "MOOSE_PUBLIC_URL" => app.planner().public_url?,
        "MOOSE_SMTP_HOST" => smtp()?.host,
        "MOOSE_SMTP_PORT" => smtp()?.port.to_string(),
        "MOOSE_SMTP_TLS" => format!("{:?}", smtp()?.tls).to_lowercase(),
        "MOOSE_SMTP_USERNAME" => smtp()?.username?,
        "MOOSE_SMTP_PASSWORD" => smtp()?.password?.expose().to_owned(),
        "MOOSE_SMTP_FROM" => smtp()?.from,
        "MOOSE_SNS_TOPIC_ARN" => {
            assert_eq!(app.planner().ops_topic, app.ops_topic_arn().is_some());
            app.ops_topic_arn()?.to_owned()
        }
        "MOOSE_AWS_ENDPOINT" => app.sns_settings()?.endpoint?,
        "MOOSE_ALLOW_PRIVATE_WEBHOOKS" => app.webhook_settings().allow_private.to_string(),
        "MOOSE_METRICS_TOKEN" => app.metrics_access().token?.expose().to_owned(),
        "MOOSE_TRUSTED_PROXIES" => {
            let proxies = app.connection_limits().trusted_proxies;
            let behind = "10.9.8.7".parse().unwrap();
            // The configured network's forwarded-for is believed: it is a proxy.
            (proxies.client(behind, ["192.0.2.1"])
                == "192.0.2.1".parse::<std::net::IpAddr>().unwrap())
            .then(|| "10.0.0.0/8".to_owned())?
        }
        "MOOSE_CONSOLE_TILE_URL" => app.console_settings().tiles?.url.template().to_owned(),
        "MOOSE_CONSOLE_TILE_ATTRIBUTION" => app.console_settings().tiles?.attribution?,
        "OPENAI_API_KEY" => llm()?.api_key?.expose().to_owned(),
        "MOOSE_OPENAI_BASE_URL" => llm()?.base_url,
        "MOOSE_ASSISTANT_MODEL" => llm()?.model,
        "MOOSE_EMBEDDING_MODEL" => app
            .assistant()
            .retriever()
            .dense()?
            .0
            .settings()
            .embedding_model
            .clone()?,
        "MOOSE_ASSISTANT_TIMEOUT_SECS" => llm()?.timeout.as_secs().to_string(),
        "MOOSE_ASSISTANT_DAILY_TOKENS" => app.api_state().chat.daily_tokens_per_user.to_string(),
        "MOOSE_CHAT_RETENTION_DAYS" => app.api_state().chat.retention_days.to_string(),
        "MOOSE_KNOWLEDGE_DIR" => match app.assistant().retriever().source() {
            KnowledgeSource::Dir(dir) => dir.display().to_string(),
            _ => return None,
        },
        "PINECONE_API_KEY" => pinecone()?.api_key.expose().to_owned(),
        "PINECONE_INDEX_NAME" => pinecone()?.index_name,
        "MOOSE_PINECONE_CONTROLLER_URL" => pinecone()?.control_url,
        "MOOSE_PINECONE_INDEX_HOST" => pinecone()?.index_host?,
        "MOOSE_PINECONE_NAMESPACE" => Some(pinecone()?.namespace).filter(|n| !n.is_empty())?,
        _ => return None,
    };
    Some(value)
}

fn config(env: BTreeMap<String, String>) -> Config {
    moose_config::load(&Sources {
        env,
        ..Sources::default()
    })
    .expect("the test's values are valid")
    .config
}

async fn app(config: Config) -> (App, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = moose_store_sqlite::SqliteStore::open(dir.path())
        .await
        .unwrap();
    (App::with_store(config, Arc::new(store)), dir)
}

#[test]
fn every_setting_says_where_it_applies() {
    for v in VARIABLES {
        match v.applies {
            Applies::On(hosts) => {
                assert!(!hosts.is_empty(), "{} applies nowhere", v.name);
                assert!(
                    hosts.iter().all(|h| ALL_HOSTS.contains(h)),
                    "{}: unknown host",
                    v.name
                );
            }
            Applies::Reserved(why) => {
                assert!(!why.is_empty(), "{} is reserved without a reason", v.name);
                assert!(
                    non_default(v.name).is_none(),
                    "{} is observed by this test, so it applies somewhere: say where",
                    v.name
                );
            }
        }
    }
    // The server-only settings are not claimed for the Lambda functions, whose connections
    // API Gateway holds.
    for name in [
        "MOOSE_BIND",
        "MOOSE_HEADER_TIMEOUT_SECS",
        "MOOSE_MAX_CONNECTIONS",
    ] {
        let v = VARIABLES.iter().find(|v| v.name == name).unwrap();
        assert_eq!(v.applies, Applies::On(&[Host::Serve]), "{name}");
    }
}

#[tokio::test]
async fn every_applicable_setting_reaches_the_components_built_from_it() {
    let defaults = BTreeMap::from([
        // A Solar.web account, so that the client is built in both configurations.
        ("SOLAR_WEB_ACCESS_KEY_ID".to_owned(), "id".to_owned()),
        ("SOLAR_WEB_ACCESS_KEY_VALUE".to_owned(), "value".to_owned()),
    ]);
    let mut changed = BTreeMap::new();
    for v in VARIABLES {
        if let Some(value) = non_default(v.name) {
            changed.insert(v.name.to_owned(), value.to_owned());
        }
    }
    let (default_app, _d1) = app(config(defaults)).await;
    let (changed_app, _d2) = app(config(changed)).await;
    let mut checked = 0;
    for v in VARIABLES {
        let Applies::On(_) = v.applies else {
            continue;
        };
        let value = non_default(v.name)
            .unwrap_or_else(|| panic!("{}: give the test a non-default value", v.name));
        let seen = observe(&changed_app, v.name).unwrap_or_else(|| {
            panic!(
                "{} is declared for {:?} but no component built by moose_app::App reads it",
                v.name, v.applies
            )
        });
        assert_eq!(
            seen, value,
            "{}: the built component has another value",
            v.name
        );
        assert_ne!(
            observe(&default_app, v.name),
            Some(seen),
            "{}: the default would have given the same, so the test proves nothing",
            v.name
        );
        checked += 1;
    }
    assert!(checked >= 40, "{checked} settings checked");
}
