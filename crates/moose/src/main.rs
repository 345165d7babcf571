//! `moose`: the self-hosted Moose binary and its operator commands.
//!
//! Kept thin: parse the command line, run the command, turn failures into one clear line on
//! stderr and an exit code (0 success, 1 failure at run time, 2 invalid configuration or usage).

mod alerts_cmd;
mod backup_cmd;
mod cli;
mod config_cmd;
mod datasource;
mod doctor_cmd;
mod jobs;
mod kb_cmd;
mod poll_cmd;
mod release_cmd;
mod serve;
mod setup;
mod signals;
mod sim_cmd;
mod table_cmd;
mod users_cmd;
mod verify_cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match &cli.command {
        cli::Command::Serve(args) => serve::run(&cli, args),
        cli::Command::Config { command } => config_cmd::run(&cli, command),
        cli::Command::Sim(args) => sim_cmd::run(&cli, args),
        cli::Command::Poll(args) => poll_cmd::poll(&cli, args),
        cli::Command::Table { command } => table_cmd::run(&cli, command),
        cli::Command::Kb { command } => kb_cmd::run(&cli, command),
        cli::Command::Backup(args) => backup_cmd::backup(&cli, args),
        cli::Command::Doctor(args) => doctor_cmd::run(&cli, args),
        cli::Command::Verify(args) => verify_cmd::run(&cli, args),
        cli::Command::Release { command } => release_cmd::run(&cli, command),
        cli::Command::Restore(args) => backup_cmd::restore(&cli, args),
        cli::Command::Openapi => {
            println!(
                "{}",
                serde_json::to_string_pretty(&moose_api::openapi()).unwrap_or_default()
            );
            Ok(())
        }
        cli::Command::Backfill(args) => poll_cmd::backfill(&cli, args),
        cli::Command::Users { command } => users_cmd::run(&cli, command),
        cli::Command::Status(args) => alerts_cmd::status(&cli, args),
        cli::Command::Notify { command } => alerts_cmd::notify(&cli, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("moose: {failure}");
            failure.exit_code()
        }
    }
}
