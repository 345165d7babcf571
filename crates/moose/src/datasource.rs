//! The demo data source: the simulated fleet running inside `moose serve --demo`.

use std::sync::Arc;

use anyhow::Context;
use moose_app::App;
use moose_domain::Secret;
use moose_sim::{ScenarioSource, SimConfig, Simulator};
use moose_solarweb::{Credentials, SolarWebClient};
use tokio_util::sync::CancellationToken;

/// Starts the demo fleet on a loopback port (real-time clock, the `demo` fault scenario) and
/// returns a client of it, paced like the configured one. It stops with `shutdown`.
pub(crate) async fn start_demo(
    app: &App,
    shutdown: &CancellationToken,
) -> anyhow::Result<SolarWebClient> {
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
    Ok(app.solarweb_at(&url, credentials)?)
}
