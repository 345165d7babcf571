//! `moose users create`: local accounts from the command line (the first administrator, and
//! installations without Supabase); `moose users link-supabase`: lets a Supabase user sign in as
//! the local account that already holds their e-mail address.

use std::io::Read;

use anyhow::Context;
use clap::{Args, Subcommand};
use moose_auth::OrgRole;

use crate::cli::{Cli, Failure};
use crate::setup::Setup;

#[derive(Debug, Subcommand)]
pub(crate) enum UsersCommand {
    /// Create a local account.
    Create(CreateArgs),
    /// Link a Supabase user to the existing local account with the same e-mail, so that their
    /// Supabase sign-in acts as that account (its role, memberships and history).
    LinkSupabase(LinkArgs),
}

#[derive(Debug, Args)]
pub(crate) struct LinkArgs {
    /// E-mail of the existing local account
    #[arg(long)]
    pub email: String,
    /// The Supabase user id (the `sub` of their tokens; logged when they were refused)
    #[arg(long)]
    pub supabase_id: String,
    /// Directory of the embedded store [env: MOOSE_DATA_DIR]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Sign-in e-mail
    #[arg(long)]
    pub email: String,
    /// Organisation role: admin, fleet_manager, technician or viewer
    #[arg(long, value_parser = |s: &str| s.parse::<OrgRole>())]
    pub role: OrgRole,
    /// Display name
    #[arg(long)]
    pub name: Option<String>,
    /// Read the password from standard input instead of generating one
    #[arg(long)]
    pub password_stdin: bool,
    /// Directory of the embedded store [env: MOOSE_DATA_DIR]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
}

pub(crate) fn run(cli: &Cli, command: &UsersCommand) -> Result<(), Failure> {
    match command {
        UsersCommand::Create(args) => create(cli, args),
        UsersCommand::LinkSupabase(args) => link(cli, args),
    }
}

fn link(cli: &Cli, args: &LinkArgs) -> Result<(), Failure> {
    Setup::with_data_dir(cli, args.data_dir.as_ref())?.run(async |app| {
        let user = app
            .auth()
            .link_supabase(&args.email, &args.supabase_id)
            .await
            .map_err(|e| anyhow::anyhow!("cannot link the accounts: {e}"))?;
        println!(
            "Supabase user {} now signs in as {} ({}, {})",
            args.supabase_id, user.email, user.id, user.role
        );
        Ok(())
    })
}

fn create(cli: &Cli, args: &CreateArgs) -> Result<(), Failure> {
    let setup = Setup::with_data_dir(cli, args.data_dir.as_ref())?;
    let password = if args.password_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the password from standard input")?;
        Some(text.trim_end_matches(['\r', '\n']).to_owned())
    } else {
        None
    };
    setup.run(async |app| {
        let (user, generated) = app
            .auth()
            .create_user(
                &args.email,
                args.role,
                args.name.clone(),
                password.as_deref(),
                None,
            )
            .await
            .map_err(|e| anyhow::anyhow!("cannot create the user: {e}"))?;
        println!("created {} user {} ({})", user.role, user.email, user.id);
        if let Some(password) = generated {
            println!("initial password (shown once): {password}");
        }
        Ok(())
    })
}
