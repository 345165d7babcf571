//! `moose backup` and `moose restore`: a portable archive of every item in the store, from
//! either backend into either backend (`moose-backup`), and DynamoDB's own backups.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use moose_config::StoreBackend;
use moose_store_dynamodb::DynamoStore;

use crate::cli::{Cli, Failure};
use crate::setup::Setup;

#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// Archive to write (default: moose-backup-<UTC time>.jsonl); an existing file is not
    /// overwritten.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// On DynamoDB: ask DynamoDB for an on-demand backup (CreateBackup) instead, and list the
    /// table's backups.
    #[arg(long)]
    native: bool,
    /// Directory of the embedded store [env: MOOSE_DATA_DIR]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// The archive `moose backup` wrote.
    file: PathBuf,
    /// Write into a store that already holds items (items with the same keys are replaced).
    #[arg(long)]
    force: bool,
    /// Directory of the embedded store [env: MOOSE_DATA_DIR]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// One updating line on a terminal; a log line now and then otherwise.
fn progress_line(tty: bool, line: &str, last: bool) {
    if tty {
        eprint!("\r{line}   ");
        if last {
            eprintln!();
        }
    } else if last {
        tracing::info!("{line}");
    }
}

fn bar(done: u64, total: u64) -> String {
    let width = 30u64;
    let filled = (done * width)
        .checked_div(total)
        .unwrap_or(width)
        .min(width);
    format!(
        "[{}{}]",
        "#".repeat(filled as usize),
        ".".repeat((width - filled) as usize)
    )
}

/// A DynamoDB on-demand backup of the configured table (`CreateBackup`), named by the time;
/// prints it and the table's backups, and returns its ARN.
pub(crate) fn native_backup(cli: &Cli, data_dir: Option<&PathBuf>) -> Result<String, Failure> {
    Setup::with_data_dir(cli, data_dir)?.block_on(async |config| {
        anyhow::ensure!(
            config.store.backend == StoreBackend::Dynamodb,
            "--native needs the DynamoDB store (MOOSE_STORE=dynamodb); the embedded store is backed up to a file: moose backup --out FILE"
        );
        let table = DynamoStore::connect(&moose_app::dynamo_settings(&config)).await;
        let name = format!("moose-{}", jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ"));
        let made = table.create_backup(&name).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        println!("created DynamoDB backup {} ({})", made["name"].as_str().unwrap_or("?"), made["status"].as_str().unwrap_or("?"));
        println!("  {}", made["arn"].as_str().unwrap_or("?"));
        println!("backups of table {}:", table.table());
        for b in table.list_backups().await.map_err(|e| anyhow::anyhow!("{e}"))? {
            println!("  {} {} {}", b["name"].as_str().unwrap_or("?"), b["status"].as_str().unwrap_or("?"), b["arn"].as_str().unwrap_or("?"));
        }
        Ok(made["arn"].as_str().unwrap_or("?").to_owned())
    })
}

pub(crate) fn backup(cli: &Cli, args: &BackupArgs) -> Result<(), Failure> {
    if args.native {
        native_backup(cli, args.data_dir.as_ref())?;
        return Ok(());
    }
    let path = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "moose-backup-{}.jsonl",
            jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ")
        ))
    });
    Setup::with_data_dir(cli, args.data_dir.as_ref())?.run(async |app| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("cannot create {} (an existing archive is never overwritten)", path.display()))?;
        let mut out = std::io::BufWriter::new(&mut file);
        let tty = std::io::stderr().is_terminal();
        let started = Instant::now();
        let report = moose_backup::backup(app.store().as_ref(), &mut out, &path, |n| {
            progress_line(tty, &format!("backup: {n} items"), false);
        })
        .await;
        drop(out);
        let report = match report {
            Ok(r) => r,
            Err(e) => {
                // A partial archive is useless and would be refused anyway: remove it.
                let _ = std::fs::remove_file(&path);
                return Err(e.into());
            }
        };
        let secs = started.elapsed().as_secs_f64().max(1e-6);
        progress_line(tty, &format!("backup: {} items", report.manifest.items), true);
        println!(
            "backed up {} items ({:.1} MB) from the {} store to {} in {secs:.1} s ({:.0} items/s, {:.1} MB/s); sha256 {}",
            report.manifest.items,
            report.bytes as f64 / 1e6,
            app.store().backend(),
            path.display(),
            report.manifest.items as f64 / secs,
            report.bytes as f64 / 1e6 / secs,
            report.manifest.sha256
        );
        for (kind, n) in &report.manifest.counts {
            println!("  {kind}: {n}");
        }
        Ok(())
    })
}

pub(crate) fn restore(cli: &Cli, args: &RestoreArgs) -> Result<(), Failure> {
    // Checked before the store is even opened: a damaged archive touches nothing.
    let checked = moose_backup::verify(&args.file)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    println!(
        "{}: {} items, checksum verified",
        args.file.display(),
        checked.manifest.items
    );
    Setup::with_data_dir(cli, args.data_dir.as_ref())?.run(async |app| {
        let tty = std::io::stderr().is_terminal();
        let started = Instant::now();
        let report = moose_backup::restore(
            app.store().as_ref(),
            &args.file,
            args.force,
            |done, total| {
                progress_line(
                    tty,
                    &format!("restore {} {done}/{total} items", bar(done, total)),
                    false,
                );
            },
        )
        .await?;
        let n = report.manifest.items;
        progress_line(tty, &format!("restore {} {n}/{n} items", bar(n, n)), true);
        let secs = started.elapsed().as_secs_f64().max(1e-6);
        println!(
            "restored {n} items into the {} store in {secs:.1} s ({:.0} items/s){}",
            app.store().backend(),
            (n - report.resumed_from) as f64 / secs,
            if report.resumed_from > 0 {
                format!(
                    "; resumed after {} items written by an interrupted restore",
                    report.resumed_from
                )
            } else {
                String::new()
            }
        );
        Ok(())
    })
}
