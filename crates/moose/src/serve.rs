//! `moose serve`: the HTTP API and the background jobs, under one shutdown signal.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use moose_app::{App, NO_SOURCE};
use moose_config::Config;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::cli::{Cli, Failure, ServeArgs};
use crate::setup::Setup;
use crate::{datasource, jobs, signals};

/// Why the server stopped. The first reason recorded wins.
#[derive(Debug, Clone)]
enum StopReason {
    Signal(&'static str),
    ServerFailed(String),
    JobFailed(String),
}

pub(crate) fn run(cli: &Cli, args: &ServeArgs) -> Result<(), Failure> {
    let demo = args.demo;
    Setup::new(cli, args)?.block_on(async move |config| serve(config, demo).await)
}

/// The demo account: created on the first `--demo` start, with its sign-in printed.
async fn announce_demo_account(
    auth: &moose_auth::AuthService,
    addr: std::net::SocketAddr,
) -> anyhow::Result<moose_auth::User> {
    const EMAIL: &str = "demo@moose.invalid";
    match auth
        .create_user(
            EMAIL,
            moose_auth::OrgRole::Admin,
            Some("Demo".into()),
            None,
            None,
        )
        .await
    {
        Ok((user, Some(password))) => {
            eprintln!("demo: the console is at http://{addr}/");
            eprintln!("demo: sign in as {EMAIL} with password {password}");
            eprintln!(
                "demo: curl -s http://{addr}/api/auth/login -H 'content-type: application/json' -d '{{\"email\":\"{EMAIL}\",\"password\":\"{password}\"}}'"
            );
            Ok(user)
        }
        Ok((user, None)) => Ok(user),
        Err(moose_auth::AuthError::Conflict(_)) => {
            eprintln!(
                "demo: the account {EMAIL} exists; its password was printed when it was created (remove the data directory to start over); the console is at http://{addr}/"
            );
            let users = auth.list_users().await?;
            let id = users
                .iter()
                .find(|u| u["email"] == EMAIL)
                .and_then(|u| u["id"].as_str())
                .and_then(|id| moose_domain::UserId::parse(id).ok())
                .context("the demo account exists but cannot be read")?;
            Ok(auth.user(&id).await?)
        }
        Err(e) => Err(anyhow::anyhow!("cannot create the demo account: {e}")),
    }
}

async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let app = App::open(config).await?;
    let (bind, grace) = (app.bind(), app.shutdown_grace());
    let store = Arc::clone(app.store());
    let listener = TcpListener::bind(bind).await.with_context(|| {
        format!("cannot listen on {bind}; choose another address with --bind or MOOSE_BIND")
    })?;
    let addr = listener
        .local_addr()
        .context("cannot read the listening address")?;

    let (shutdown, signal) = signals::shutdown_on_signal();
    let reason: Arc<OnceLock<StopReason>> = Arc::default();

    let mut history = None;
    let source = if demo {
        let owner = announce_demo_account(app.auth(), addr).await?;
        let clients = datasource::start_demo(&app, &shutdown).await?;
        history = Some((clients.history, owner));
        Some(clients.live)
    } else {
        let client = app.solarweb()?;
        if client.is_none() {
            tracing::warn!("{NO_SOURCE}");
        }
        client
    };
    let jobs: &[&str] = if source.is_some() {
        &["solar-data-polling", "device-status-polling", "notify-user"]
    } else {
        &["notify-user"]
    };
    let mut server = tokio::spawn(moose_api::serve(
        listener,
        app.router_with_jobs(jobs),
        app.connection_limits(),
        shutdown.clone().cancelled_owned(),
    ));
    let mut job_set = JoinSet::new();
    jobs::spawn_all(&mut job_set, &app, &shutdown);
    let dispatcher = app.dispatcher().await?;
    let (every, token) = (app.notify_interval(), shutdown.clone());
    job_set.spawn(async move {
        moose_notify::dispatch::run_schedule(dispatcher, every, token).await;
        ("notify-user", Ok(()))
    });
    if let Some((client, owner)) = history {
        let (repo, token, auth) = (app.solar_repo(), shutdown.clone(), app.auth().clone());
        tokio::spawn(async move {
            datasource::prepare_demo(&client, &repo, &auth, owner, &token).await;
        });
    }
    if let Some(client) = source {
        // In demo mode both passes run every minute, so data and incidents show up quickly.
        let demo_every = demo.then_some(Duration::from_secs(60));
        let job = app.status_job(client.clone());
        let every = demo_every.unwrap_or(app.status_interval());
        let token = shutdown.clone();
        job_set.spawn(async move {
            // The demo's fleet is discovered by the first polling pass, a few seconds in: the
            // first status pass waits for it, so the demo's incident opens in its first
            // minute rather than at the second pass.
            if demo {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(15)) => {}
                    () = token.cancelled() => return ("device-status-polling", Ok(())),
                }
            }
            moose_status::run_schedule(job, every, token).await;
            ("device-status-polling", Ok(()))
        });
        let (repo, settings, token) = (app.solar_repo(), app.poll_settings(), shutdown.clone());
        let every = demo_every.unwrap_or(app.poll_interval());
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
