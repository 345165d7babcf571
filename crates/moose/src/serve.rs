//! `moose serve`: the HTTP API and the background jobs, under one shutdown signal.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use moose_api::{AppState, HttpLimits};
use moose_auth::AuthSettings;
use moose_config::{Config, StoreBackend};
use moose_store::Store;
use moose_store_dynamodb::{DynamoSettings, DynamoStore};
use moose_store_sqlite::SqliteStore;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::cli::{Cli, Failure, ServeArgs, init_telemetry};
use crate::{datasource, jobs, signals};

/// Why the server stopped. The first reason recorded wins.
#[derive(Debug, Clone)]
enum StopReason {
    Signal(&'static str),
    ServerFailed(String),
    JobFailed(String),
}

pub(crate) fn run(cli: &Cli, args: &ServeArgs) -> Result<(), Failure> {
    let loaded = cli.load_config(Some(args))?;
    init_telemetry(&loaded)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(loaded.config, args.demo))?;
    Ok(())
}

/// Opens the configured store.
pub(crate) async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    match config.store.backend {
        StoreBackend::Sqlite => {
            let dir = &config.store.data_dir;
            let store = SqliteStore::open(dir).await.map_err(|e| {
                anyhow::anyhow!("{e}; choose another directory with --data-dir or MOOSE_DATA_DIR")
            })?;
            tracing::info!(path = %store.path().display(), "opened the embedded store");
            Ok(Arc::new(store))
        }
        StoreBackend::Dynamodb => {
            let store = DynamoStore::connect(&dynamo_settings(config)).await;
            store.ping().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            tracing::info!(table = store.table(), "using the DynamoDB store");
            Ok(Arc::new(store))
        }
    }
}

/// DynamoDB settings from the configuration.
pub(crate) fn dynamo_settings(config: &Config) -> DynamoSettings {
    DynamoSettings {
        table: config.store.dynamodb_table.clone(),
        endpoint: config.store.dynamodb_endpoint.clone(),
        region: None,
    }
}

/// The demo account: created on the first `--demo` start, with its sign-in printed.
async fn announce_demo_account(state: &AppState, addr: std::net::SocketAddr) -> anyhow::Result<()> {
    const EMAIL: &str = "demo@moose.invalid";
    match state
        .auth
        .create_user(
            EMAIL,
            moose_auth::OrgRole::Admin,
            Some("Demo".into()),
            None,
            None,
        )
        .await
    {
        Ok((_, Some(password))) => {
            eprintln!("demo: sign in as {EMAIL} with password {password}");
            eprintln!(
                "demo: curl -s http://{addr}/api/auth/login -H 'content-type: application/json' -d '{{\"email\":\"{EMAIL}\",\"password\":\"{password}\"}}'"
            );
            Ok(())
        }
        Ok((_, None)) => Ok(()),
        Err(moose_auth::AuthError::Conflict(_)) => {
            eprintln!(
                "demo: the account {EMAIL} exists; its password was printed when it was created (remove the data directory to start over)"
            );
            Ok(())
        }
        Err(e) => Err(anyhow::anyhow!("cannot create the demo account: {e}")),
    }
}

/// Authentication settings from the configuration.
pub(crate) fn auth_settings(config: &Config) -> AuthSettings {
    AuthSettings {
        supabase_url: config.supabase.url.clone(),
        supabase_jwt_secret: config.supabase.jwt_secret.clone(),
        access_ttl: Duration::from_secs(config.auth.access_token_ttl_secs),
        refresh_ttl: Duration::from_secs(config.auth.refresh_token_ttl_secs),
    }
}

/// Connection limits from the configuration.
fn connection_limits(config: &Config) -> moose_api::ConnectionLimits {
    let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    moose_api::ConnectionLimits {
        header_read_timeout: Duration::from_secs(config.http.header_timeout_secs),
        body_read_timeout: Duration::from_secs(config.http.body_timeout_secs),
        max_connections: count(config.http.max_connections),
        max_connections_per_client: count(config.http.max_connections_per_client),
    }
}

async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let bind = config.http.bind;
    let listener = TcpListener::bind(bind).await.with_context(|| {
        format!("cannot listen on {bind}; choose another address with --bind or MOOSE_BIND")
    })?;
    let addr = listener
        .local_addr()
        .context("cannot read the listening address")?;

    let (shutdown, signal) = signals::shutdown_on_signal();
    let reason: Arc<OnceLock<StopReason>> = Arc::default();

    let limits = HttpLimits {
        request_timeout: Duration::from_secs(config.http.request_timeout_secs),
        body_limit: usize::try_from(config.http.body_limit_bytes).unwrap_or(usize::MAX),
    };
    let state = AppState::new(Arc::clone(&store), auth_settings(&config));
    let source = if demo {
        announce_demo_account(&state, addr).await?;
        Some(datasource::start_demo(&config, &shutdown).await?)
    } else {
        let client = datasource::from_config(&config)?;
        if client.is_none() {
            tracing::warn!("{}", datasource::NO_SOURCE);
        }
        client
    };
    let app = moose_api::router(state.clone(), limits);
    let mut server = tokio::spawn(moose_api::serve(
        listener,
        app,
        connection_limits(&config),
        shutdown.clone().cancelled_owned(),
    ));
    let mut job_set = JoinSet::new();
    jobs::spawn_all(&mut job_set, &config, &store, &shutdown);
    let dispatcher = moose_notify::setup::dispatcher(&config, &store, &state.auth)
        .await
        .context("cannot set up the notification channels")?;
    let every = Duration::from_secs(config.jobs.notify_interval_secs);
    let token = shutdown.clone();
    job_set.spawn(async move {
        moose_notify::dispatch::run_schedule(dispatcher, every, token).await;
        ("notify-user", Ok(()))
    });
    if let Some(client) = source {
        let job = moose_notify::setup::status_job(&config, &store, client.clone(), &state.auth);
        let every = Duration::from_secs(if demo {
            60
        } else {
            config.jobs.status_interval_secs
        });
        let token = shutdown.clone();
        job_set.spawn(async move {
            moose_incidents::run_schedule(job, every, token).await;
            ("device-status-polling", Ok(()))
        });
        let (repo, settings, every, token) = (
            moose_solardata::SolarRepo::new(Arc::clone(&store)),
            datasource::poll_settings(&config),
            datasource::interval(&config, demo),
            shutdown.clone(),
        );
        job_set.spawn(async move {
            moose_solardata::run_schedule(client, repo, settings, every, token).await;
            ("solar-data-polling", Ok(()))
        });
    }
    tracing::info!(%addr, version = env!("CARGO_PKG_VERSION"), "moose is listening on http://{addr}");

    // Run until a signal arrives, the server dies, or a job fails.
    let mut server_done = false;
    tokio::select! {
        // Biased: when a signal both cancels the token and lets the server finish draining,
        // the signal is the reason, not the server's exit.
        biased;
        () = shutdown.cancelled() => {}
        result = &mut server => {
            server_done = true;
            let why = match result {
                Ok(Ok(())) if shutdown.is_cancelled() => None,
                Ok(Ok(())) => Some("the HTTP server stopped unexpectedly".to_owned()),
                Ok(Err(e)) => Some(format!("the HTTP server failed: {e}")),
                Err(e) => Some(format!("the HTTP server task failed: {e}")),
            };
            if let Some(why) = why {
                let _ = reason.set(StopReason::ServerFailed(why));
            }
        }
        Some(joined) = job_set.join_next() => {
            let why = match joined {
                Ok((name, Ok(()))) => format!("job {name} stopped unexpectedly"),
                Ok((name, Err(e))) => format!("job {name} failed: {e:#}"),
                Err(e) => format!("a job panicked: {e}"),
            };
            let _ = reason.set(StopReason::JobFailed(why));
        }
    }
    shutdown.cancel();
    let reason = reason
        .get()
        .cloned()
        .unwrap_or_else(|| StopReason::Signal(signal.get().copied().unwrap_or("unknown")));
    tracing::info!(
        ?reason,
        "shutting down: no new connections; draining in-flight requests and jobs"
    );

    let grace = Duration::from_secs(config.http.shutdown_grace_secs);
    let drain = async {
        if !server_done && let Ok(Err(e)) = (&mut server).await {
            tracing::warn!(error = %e, "the HTTP server reported an error while draining");
        }
        while let Some(joined) = job_set.join_next().await {
            if let Ok((name, Err(e))) = joined {
                tracing::warn!(job = name, error = %format!("{e:#}"), "job failed while stopping");
            }
        }
    };
    if tokio::time::timeout(grace, drain).await.is_err() {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "in-flight work did not finish in time; abandoning it"
        );
        server.abort();
        job_set.abort_all();
    }
    if let Err(e) = store.close().await {
        tracing::error!(error = %e, "the store did not close cleanly");
    }
    match reason {
        StopReason::Signal(signal) => {
            tracing::info!(signal, "moose stopped cleanly after {signal}");
            Ok(())
        }
        StopReason::ServerFailed(why) | StopReason::JobFailed(why) => {
            tracing::error!("moose stopped: {why}");
            Err(anyhow::anyhow!(why))
        }
    }
}
