//! `moose config check` and `moose config env-docs`.

use crate::cli::{Cli, ConfigCommand, Failure};

pub(crate) fn run(cli: &Cli, command: &ConfigCommand) -> Result<(), Failure> {
    match command {
        ConfigCommand::EnvDocs => {
            print!("{}", moose_config::env::markdown_table());
            Ok(())
        }
        ConfigCommand::Check => {
            let loaded = cli.load_config(None)?;
            let source = loaded.file.as_ref().map_or_else(
                || "no configuration file".to_owned(),
                |p| format!("file {}", p.display()),
            );
            let text = toml::to_string_pretty(&loaded.config).map_err(|e| {
                Failure::Run(anyhow::anyhow!("cannot print the configuration: {e}"))
            })?;
            println!("# configuration is valid ({source}; environment and flags applied)");
            println!("# secrets are shown as [redacted]; unset optional settings are omitted");
            for warning in &loaded.warnings {
                println!("# warning: {warning}");
            }
            print!("{text}");
            Ok(())
        }
    }
}
