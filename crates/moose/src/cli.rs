//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use moose_config::{ConfigError, Loaded, Overrides, Sources};

/// Moose: monitoring and O&M for fleets of Fronius PV systems.
#[derive(Debug, Parser)]
#[command(name = "moose", version, about, long_about = None)]
pub(crate) struct Cli {
    /// Configuration file (default: ./moose.toml if present) [env: MOOSE_CONFIG]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log line format [env: MOOSE_LOG_FORMAT]
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormatArg>,
    /// Log filter, e.g. `info` or `debug,hyper=info` [env: MOOSE_LOG]
    #[arg(long, global = true, value_name = "FILTER")]
    pub log: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum LogFormatArg {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the HTTP API and background jobs on the configured store.
    Serve(ServeArgs),
    /// Serve a simulated fleet over the Solar.web Query API (no credentials needed).
    Sim(crate::sim_cmd::SimArgs),
    /// Run one solar-data-polling pass now and print its summary.
    Poll(crate::poll_cmd::PollArgs),
    /// Import history from Solar.web, day by day (resumable).
    Backfill(crate::poll_cmd::BackfillArgs),
    /// Run one device-status-polling pass now (statuses and incidents) and print its summary.
    Status(crate::alerts_cmd::StatusArgs),
    /// Deliver notifications (notify-user) or print the delivery report.
    Notify {
        #[command(subcommand)]
        command: crate::alerts_cmd::NotifyCommand,
    },
    /// Manage local user accounts.
    Users {
        #[command(subcommand)]
        command: crate::users_cmd::UsersCommand,
    },
    /// Check the settings and every service this host (or --function) needs, one line each.
    Doctor(crate::doctor_cmd::DoctorArgs),
    /// Smoke-test a running Moose (moose serve or API Gateway): health, sign-in, the critical
    /// read routes, a chat probe, data freshness, delivery rate. Writes nothing it keeps.
    Verify(crate::verify_cmd::VerifyArgs),
    /// Release Moose: plan, deploy (canary with automatic rollback), status, rollback, report.
    Release {
        #[command(subcommand)]
        command: crate::release_cmd::ReleaseCommand,
    },
    /// Write every item of the store to a portable archive (or, with --native, a DynamoDB backup).
    Backup(crate::backup_cmd::BackupArgs),
    /// Restore an archive written by `moose backup` into the configured store (either backend).
    Restore(crate::backup_cmd::RestoreArgs),
    /// The assistant's knowledge base: index it for dense retrieval, or search it.
    Kb {
        #[command(subcommand)]
        command: crate::kb_cmd::KbCommand,
    },
    /// Print the OpenAPI document of the HTTP API.
    Openapi,
    /// Create or describe the DynamoDB table.
    Table {
        #[command(subcommand)]
        command: crate::table_cmd::TableCommand,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on [env: MOOSE_BIND] [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<SocketAddr>,
    /// Directory of the embedded store [env: MOOSE_DATA_DIR] [default: ./moose-data]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Run a simulated fleet inside this process, poll it every minute, and create a demo account
    #[arg(long)]
    pub demo: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Validate the configuration and print it, secrets redacted.
    Check,
    /// Print the environment-variable reference (the table in docs/configuration.md).
    EnvDocs,
}

/// Why a command failed, and the exit code that says so.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The configuration is invalid (exit 2).
    Config(ConfigError),
    /// Something failed while running (exit 1).
    Run(anyhow::Error),
}

impl Failure {
    pub(crate) fn exit_code(&self) -> std::process::ExitCode {
        match self {
            Self::Config(_) => std::process::ExitCode::from(2),
            Self::Run(_) => std::process::ExitCode::FAILURE,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Config(e) => write!(f, "{e}"),
            // `{:#}` prints the context chain on one line.
            Self::Run(e) => write!(f, "{e:#}"),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self::Run(e)
    }
}

impl Cli {
    /// Loads the configuration: defaults < file < environment < these flags.
    pub(crate) fn load_config(&self, serve: Option<&ServeArgs>) -> Result<Loaded, Failure> {
        let mut overrides = Overrides::default();
        if let Some(format) = self.log_format {
            let value = match format {
                LogFormatArg::Text => "text",
                LogFormatArg::Json => "json",
            };
            overrides.set("log.format", value, "--log-format");
        }
        if let Some(filter) = &self.log {
            overrides.set("log.filter", filter.as_str(), "--log");
        }
        if let Some(args) = serve {
            if let Some(bind) = args.bind {
                overrides.set("http.bind", bind.to_string(), "--bind");
            }
            if let Some(dir) = &args.data_dir {
                overrides.set("store.data_dir", dir.display().to_string(), "--data-dir");
            }
        }
        let sources = Sources {
            config_file: self.config.clone(),
            env: std::env::vars().collect(),
            overrides,
        };
        moose_config::load(&sources).map_err(Failure::Config)
    }
}

/// Installs logging as configured and reports the configuration warnings through it.
pub(crate) fn init_telemetry(loaded: &Loaded) -> anyhow::Result<()> {
    let (format, filter) = moose_app::telemetry(&loaded.config);
    moose_telemetry::init(format, filter)?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    Ok(())
}
