//! `moose sim`: the simulated Solar.web fleet on its own, for any Query API client.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use moose_sim::{ScenarioSource, SimConfig, Simulator};
use tokio::net::TcpListener;

use crate::cli::{Cli, Failure, init_telemetry};
use crate::signals;

#[derive(Debug, Args)]
pub(crate) struct SimArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8081", value_name = "ADDR")]
    pub bind: std::net::SocketAddr,
    /// Number of PV systems
    #[arg(long, default_value_t = 50)]
    pub systems: usize,
    /// Seed of the fleet, weather and noise
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Simulated start time (RFC 3339); default: now, in real time
    #[arg(long, value_name = "TIME")]
    pub start: Option<jiff::Timestamp>,
    /// Simulated seconds per real second (with --start); 0 keeps the clock still (POST /sim/clock moves it)
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Fault scenario: `none`, `demo`, `faults`, or a TOML file
    #[arg(long, default_value = "none", value_name = "NAME|FILE")]
    pub scenario: String,
    /// Accepted AccessKeyId
    #[arg(long, default_value = moose_sim::DEFAULT_ACCESS_KEY_ID)]
    pub access_key_id: String,
    /// Accepted AccessKeyValue
    #[arg(long, default_value = moose_sim::DEFAULT_ACCESS_KEY_VALUE)]
    pub access_key_value: String,
    /// Write the scenario's ground truth (injected faults) as JSON to this file and continue
    #[arg(long, value_name = "FILE")]
    pub ground_truth: Option<PathBuf>,
}

pub(crate) fn run(cli: &Cli, args: &SimArgs) -> Result<(), Failure> {
    let loaded = cli.load_config(None)?;
    init_telemetry(&loaded)?;
    if args.start.is_none() && (args.speed - 1.0).abs() > f64::EPSILON {
        return Err(Failure::Run(anyhow::anyhow!(
            "--speed needs --start: a real-time clock cannot run faster"
        )));
    }
    let scenario = ScenarioSource::from_arg(&args.scenario)
        .with_context(|| format!("cannot read scenario {}", args.scenario))?;
    let config = SimConfig {
        systems: args.systems,
        seed: args.seed,
        start: args.start,
        speed: if args.start.is_some() {
            args.speed
        } else {
            1.0
        },
        scenario,
        access_key_id: args.access_key_id.clone(),
        access_key_value: args.access_key_value.clone(),
        ..SimConfig::default()
    };
    let sim = Arc::new(Simulator::new(config).context("cannot build the simulation")?);
    if let Some(path) = &args.ground_truth {
        let json = serde_json::to_string_pretty(&sim.ground_truth_json())
            .context("cannot encode the ground truth")?;
        std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = TcpListener::bind(args.bind)
            .await
            .with_context(|| format!("cannot listen on {}; choose another address with --bind", args.bind))?;
        let addr = listener.local_addr().context("cannot read the listening address")?;
        tracing::info!(
            systems = args.systems,
            seed = args.seed,
            now = %sim.now(),
            "simulated Solar.web Query API listening on http://{addr}"
        );
        eprintln!(
            "Solar.web settings for a client of this simulator:\n  MOOSE_SOLARWEB_BASE_URL=http://{addr}\n  SOLAR_WEB_ACCESS_KEY_ID={}\n  SOLAR_WEB_ACCESS_KEY_VALUE={}",
            args.access_key_id, args.access_key_value
        );
        let (shutdown, reason) = signals::shutdown_on_signal();
        axum::serve(listener, moose_sim::router(Arc::clone(&sim)))
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
            .context("the simulator's HTTP server failed")?;
        tracing::info!(signal = reason.get().copied().unwrap_or("unknown"), "simulator stopped");
        anyhow::Ok(())
    })?;
    Ok(())
}
