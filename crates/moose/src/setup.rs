//! The one setup every command of the binary shares: configuration (with `--data-dir` where a
//! command takes it), logging, an async runtime, and the [`App`] built from them.

use std::path::PathBuf;

use anyhow::Context;
use moose_app::App;
use moose_config::Config;

use crate::cli::{Cli, Failure, ServeArgs, init_telemetry};

/// A command's configuration, with logging installed and a runtime ready.
pub(crate) struct Setup {
    pub(crate) config: Config,
    runtime: tokio::runtime::Runtime,
}

impl Setup {
    /// Loads the configuration (flags of `serve`, or only `--data-dir` for one-shot commands),
    /// installs logging and starts a multi-threaded runtime.
    pub(crate) fn new(cli: &Cli, serve: &ServeArgs) -> Result<Self, Failure> {
        let loaded = cli.load_config(Some(serve))?;
        init_telemetry(&loaded)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        Ok(Self {
            config: loaded.config,
            runtime,
        })
    }

    /// For a one-shot command with an optional `--data-dir`.
    pub(crate) fn with_data_dir(cli: &Cli, data_dir: Option<&PathBuf>) -> Result<Self, Failure> {
        Self::new(
            cli,
            &ServeArgs {
                bind: None,
                data_dir: data_dir.cloned(),
                demo: false,
            },
        )
    }

    /// Runs `work` on the runtime without opening anything (`moose table`, `moose serve`).
    pub(crate) fn block_on<T>(
        self,
        work: impl AsyncFnOnce(Config) -> anyhow::Result<T>,
    ) -> Result<T, Failure> {
        let Self { config, runtime } = self;
        Ok(runtime.block_on(work(config))?)
    }

    /// Opens the configured store, builds the [`App`], runs `work` with it and closes the store,
    /// whatever `work` returned.
    pub(crate) fn run<T>(
        self,
        work: impl AsyncFnOnce(&App) -> anyhow::Result<T>,
    ) -> Result<T, Failure> {
        self.block_on(async move |config| {
            let app = App::open(config).await?;
            let result = work(&app).await;
            if let Err(e) = app.store().close().await {
                tracing::warn!(error = %e, "the store did not close cleanly");
            }
            result
        })
    }
}
