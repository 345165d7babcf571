//! The demo data source: the simulated fleet running inside `moose serve --demo`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use moose_app::App;
use moose_domain::Secret;
use moose_sim::{ScenarioSource, SimConfig, Simulator};
use moose_solarweb::{ClientConfig, Credentials, SolarWebClient};
use tokio_util::sync::CancellationToken;

/// Starts the demo fleet on a loopback port (real-time clock, the `demo` fault scenario) and
/// returns a client of it, paced like the configured one. It stops with `shutdown`.
pub(crate) async fn start_demo(
    app: &App,
    shutdown: &CancellationToken,
) -> anyhow::Result<DemoSource> {
    let sim = Arc::new(
        Simulator::new(SimConfig {
            systems: 20,
            seed: 7,
            scenario: ScenarioSource::Builtin("demo".into()),
            ..SimConfig::default()
        })
        .context("cannot build the demo fleet")?,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot start the demo fleet")?;
    let url = format!(
        "http://{}",
        listener.local_addr().context("demo fleet address")?
    );
    let token = shutdown.clone();
    tokio::spawn(async move {
        let app = moose_sim::router(sim);
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(token.cancelled_owned())
            .await
        {
            tracing::error!(error = %e, "the demo fleet stopped");
        }
    });
    tracing::info!(%url, "demo: a simulated fleet of 20 systems serves the Solar.web API");
    let credentials = Credentials {
        access_key_id: Secret::new(moose_sim::DEFAULT_ACCESS_KEY_ID),
        access_key_value: Secret::new(moose_sim::DEFAULT_ACCESS_KEY_VALUE),
        login: None,
    };
    let live = app.solarweb_at(&url, credentials.clone())?;
    // The month of history comes from this process's own simulator: no need to pace it like
    // Solar.web, and a separate client keeps the live polling from waiting behind it.
    let mut history = ClientConfig::new(url, credentials);
    history.requests_per_second = 10_000.0;
    history.max_concurrency = 8;
    Ok(DemoSource {
        live,
        history: SolarWebClient::new(history).context("the demo's history client")?,
    })
}

/// The demo's clients of its simulated fleet.
pub(crate) struct DemoSource {
    /// Paced like the configured Solar.web client: the live polling.
    pub(crate) live: SolarWebClient,
    /// Unpaced: the month of history loaded at start.
    pub(crate) history: SolarWebClient,
}

/// Makes the demo account an owner of every demo system, so the incidents of the scenario
/// reach it as notifications (system incidents go to the system's members) and every owner
/// control shows in the console. Existing memberships stay.
async fn own_demo_fleet(
    systems: &[moose_solardata::SystemMeta],
    auth: &moose_auth::AuthService,
    owner: moose_auth::User,
) {
    let granted = async {
        let actor = moose_auth::Principal {
            credential: moose_auth::Credential::Session {
                session: "demo-setup".into(),
            },
            user: owner,
        };
        for meta in systems {
            if auth.membership(&actor.user.id, &meta.id).await?.is_none() {
                let membership = moose_auth::Membership {
                    system: meta.id.clone(),
                    user: actor.user.id.clone(),
                    role: moose_auth::SystemRole::Owner,
                };
                auth.grant(&actor, membership).await?;
            }
        }
        Ok::<_, anyhow::Error>(systems.len())
    }
    .await;
    match granted {
        Ok(n) => tracing::info!(systems = n, "demo: the demo account owns every demo system"),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "demo: the demo account could not be made an owner of the fleet");
        }
    }
}

/// Days of history the demo loads at its first start.
const DEMO_HISTORY_DAYS: i64 = 30;

/// Readies the demo's store once at start: discovers the simulated fleet, makes the demo
/// account its owner, then loads the month of history.
pub(crate) async fn prepare_demo(
    client: &SolarWebClient,
    repo: &moose_solardata::SolarRepo,
    auth: &moose_auth::AuthService,
    owner: moose_auth::User,
    cancel: &CancellationToken,
) {
    let discovered = async {
        moose_solardata::discover(client, repo).await?;
        Ok::<_, anyhow::Error>(repo.all_systems().await?)
    }
    .await;
    match discovered {
        Ok(systems) => {
            own_demo_fleet(&systems, auth, owner).await;
            backfill_demo_month(client, repo, &systems, cancel).await;
        }
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "demo: the simulated fleet could not be discovered; live polling will retry");
        }
    }
}

/// Loads the last month of the simulated fleet's history into the store, so a new user sees
/// charts, KPIs and the incidents of the month at once; a progress line now and then. Days
/// already stored are skipped, so a restart costs nothing.
async fn backfill_demo_month(
    client: &SolarWebClient,
    repo: &moose_solardata::SolarRepo,
    systems: &[moose_solardata::SystemMeta],
    cancel: &CancellationToken,
) {
    let loaded = async {
        let today = jiff::Timestamp::now()
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .date();
        let from = today
            .checked_sub(jiff::Span::new().days(DEMO_HISTORY_DAYS))
            .unwrap_or(today);
        let to = today.yesterday().unwrap_or(today);
        eprintln!("demo: loading {DEMO_HISTORY_DAYS} days of history of the simulated fleet ({from} to {to}) …");
        let started = std::time::Instant::now();
        let mut last_line = std::time::Instant::now();
        let done = moose_solardata::backfill(client, repo, systems, from, to, cancel, |p| {
            if last_line.elapsed() >= Duration::from_secs(5) {
                last_line = std::time::Instant::now();
                eprintln!(
                    "demo: history {}/{} system-days, {} records",
                    p.days_done, p.days_total, p.records_written
                );
            }
        })
        .await?;
        eprintln!(
            "demo: {DEMO_HISTORY_DAYS} days of history loaded ({} system-days, {} records) in {:.0} s",
            done.days_done,
            done.records_written,
            started.elapsed().as_secs_f64()
        );
        Ok::<_, anyhow::Error>(())
    }
    .await;
    if let Err(e) = loaded {
        tracing::warn!(error = %format!("{e:#}"), "demo: the month of history could not be loaded; live data continues");
    }
}
