//! Where solar data comes from: Solar.web (configured credentials) or, in demo mode, the
//! simulated fleet running inside this process.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use moose_config::Config;
use moose_domain::Secret;
use moose_sim::{ScenarioSource, SimConfig, Simulator};
use moose_solardata::PollSettings;
use moose_solarweb::{ClientConfig, Credentials, SolarWebClient};
use tokio_util::sync::CancellationToken;

/// How `moose serve --demo` tells people what to do when nothing is configured.
pub(crate) const NO_SOURCE: &str = "no data source is configured, so nothing will be polled: set SOLAR_WEB_ACCESS_KEY_ID and \
SOLAR_WEB_ACCESS_KEY_VALUE (and MOOSE_SOLARWEB_BASE_URL to use a simulator started with `moose sim`), \
or run `moose serve --demo` for a simulated fleet";

fn client(
    config: &Config,
    base_url: &str,
    credentials: Credentials,
) -> anyhow::Result<SolarWebClient> {
    let mut cc = ClientConfig::new(base_url, credentials);
    #[allow(clippy::cast_precision_loss)]
    {
        cc.requests_per_second = config.poll.requests_per_second as f64;
    }
    cc.max_concurrency = usize::try_from(config.poll.concurrency)
        .unwrap_or(8)
        .saturating_mul(2);
    SolarWebClient::new(cc).context("cannot build the Solar.web client")
}

/// A client of the configured Solar.web account, if access keys are set.
pub(crate) fn from_config(config: &Config) -> anyhow::Result<Option<SolarWebClient>> {
    let sw = &config.solarweb;
    let (Some(id), Some(value)) = (&sw.access_key_id, &sw.access_key_value) else {
        return Ok(None);
    };
    let login = sw.user_id.clone().zip(sw.password.clone());
    let credentials = Credentials {
        access_key_id: id.clone(),
        access_key_value: value.clone(),
        login,
    };
    client(config, &sw.base_url, credentials).map(Some)
}

/// Starts the demo fleet on a loopback port (real-time clock, the `demo` fault scenario) and
/// returns a client of it. It stops with `shutdown`.
pub(crate) async fn start_demo(
    config: &Config,
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
    client(config, &url, credentials)
}

/// Polling settings from the configuration.
pub(crate) fn poll_settings(config: &Config) -> PollSettings {
    PollSettings {
        concurrency: usize::try_from(config.poll.concurrency).unwrap_or(8),
        initial_lookback: jiff::SignedDuration::from_hours(
            i64::try_from(config.poll.initial_lookback_hours).unwrap_or(24),
        ),
        ..PollSettings::default()
    }
}

/// The poll interval: the configured one, or a minute in demo mode so data shows up quickly.
pub(crate) fn interval(config: &Config, demo: bool) -> Duration {
    if demo {
        Duration::from_secs(60)
    } else {
        Duration::from_secs(config.poll.interval_secs)
    }
}
