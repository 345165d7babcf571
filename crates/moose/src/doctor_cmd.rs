//! `moose doctor [--function NAME] [--json]`: settings and live checks of every service a host
//! needs, one line each (`moose_app::doctor`).

use std::path::PathBuf;

use clap::Args;
use moose_app::doctor::{self, Check, Status, Target};

use crate::cli::{Cli, Failure, ServeArgs};

#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// Check for one Lambda function (solar-data-polling, device-status-polling, notify-user,
    /// solar-data-service, user-management, chat-service; a prefixed name such as
    /// prod-chat-service works) instead of `moose serve`.
    #[arg(long, value_name = "NAME")]
    function: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Also check each system's stored data: newest data, daylight slots missing in the last
    /// day, and agreement with Solar.web's day totals.
    #[arg(long)]
    data: bool,
    /// Directory of the embedded store [env: MOOSE_DATA_DIR]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

fn line(c: &Check) -> String {
    let mark = match c.status {
        Status::Pass => "✓",
        Status::Fail => "✗",
        Status::Warn => "!",
        Status::Skip => "–",
    };
    let mut s = format!("{mark} {:<9} {}", c.name, c.detail);
    if let Some(r) = &c.remedy {
        s.push_str(&format!("\n  → {r}"));
    }
    s
}

pub(crate) fn run(cli: &Cli, args: &DoctorArgs) -> Result<(), Failure> {
    let target = match &args.function {
        None => Target::Serve,
        Some(name) => Target::parse(name).ok_or_else(|| {
            anyhow::anyhow!("--function {name}: not one of Moose's six functions (solar-data-polling, device-status-polling, notify-user, solar-data-service, user-management, chat-service)")
        })?,
    };
    let serve = ServeArgs {
        bind: None,
        data_dir: args.data_dir.clone(),
        demo: false,
    };
    // An invalid configuration is the first finding, not a crash.
    let loaded = match cli.load_config(Some(&serve)) {
        Ok(l) => l,
        Err(Failure::Config(e)) => {
            if args.json {
                let problems: Vec<String> = e.to_string().lines().map(str::to_owned).collect();
                println!(
                    "{}",
                    serde_json::json!({"target": target, "ok": false, "settings": {"valid": false, "problems": problems}, "checks": []})
                );
            } else {
                println!("✗ settings  the configuration is invalid:");
                for l in e.to_string().lines() {
                    println!("  {l}");
                }
            }
            return Err(Failure::Run(anyhow::anyhow!(
                "moose doctor: the configuration is invalid"
            )));
        }
        Err(other) => return Err(other),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    let report = runtime.block_on(doctor::run(&loaded.config, target));
    let data = if args.data && report.ok {
        runtime.block_on(data_checks(&loaded.config))?
    } else {
        Vec::new()
    };
    if args.json {
        let mut v = serde_json::to_value(&report).unwrap_or_default();
        v["settings"] = serde_json::json!({"valid": true, "warnings": loaded.warnings});
        if args.data {
            v["data"] = serde_json::to_value(&data).unwrap_or_default();
        }
        println!("{v}");
    } else {
        println!(
            "moose doctor for {}",
            serde_json::to_value(target)
                .unwrap_or_default()
                .as_str()
                .unwrap_or("serve")
        );
        println!(
            "✓ settings  valid{}",
            if loaded.warnings.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} warning(s): {})",
                    loaded.warnings.len(),
                    loaded.warnings.join("; ")
                )
            }
        );
        for c in &report.checks {
            println!("{}", line(c));
        }
        for i in &data {
            let mark = if i.consistent == Some(false) {
                "✗"
            } else {
                "✓"
            };
            println!(
                "{mark} data      {}: newest {} ({} min ago); daylight slots missing in the last day: {}; {} vs Solar.web: {}",
                i.system,
                i.last_data_at
                    .map_or_else(|| "never".to_owned(), |t| t.to_string()),
                i.data_age_minutes
                    .map_or_else(|| "-".to_owned(), |m| m.to_string()),
                i.missing_daylight_slots.map_or_else(
                    || "position unknown".to_owned(),
                    |m| format!("{m} of {}", i.daylight_slots.unwrap_or(0))
                ),
                i.checked_day
                    .map_or_else(|| "no day".to_owned(), |d| d.to_string()),
                match i.consistent {
                    Some(true) => "consistent",
                    Some(false) => "DIFFERENT",
                    None => "no Solar.web total yet",
                }
            );
        }
    }
    let different: Vec<&str> = data
        .iter()
        .filter(|i| i.consistent == Some(false))
        .map(|i| i.system.as_str())
        .collect();
    if !different.is_empty() {
        return Err(Failure::Run(anyhow::anyhow!(
            "moose doctor: stored energy disagrees with Solar.web's day total for {}",
            different.join(", ")
        )));
    }
    if report.ok {
        Ok(())
    } else {
        let failed: Vec<&str> = report
            .checks
            .iter()
            .filter(|c| c.required && c.status == Status::Fail)
            .map(|c| c.name)
            .collect();
        Err(Failure::Run(anyhow::anyhow!(
            "moose doctor: failed: {}",
            failed.join(", ")
        )))
    }
}

/// The integrity of every system's stored data (`--data`).
async fn data_checks(
    config: &moose_config::Config,
) -> anyhow::Result<Vec<moose_solardata::integrity::Integrity>> {
    let app = moose_app::App::open(config.clone()).await?;
    let repo = app.solar_repo();
    let now = jiff::Timestamp::now();
    let mut out = Vec::new();
    for meta in repo.all_systems().await? {
        out.push(moose_solardata::integrity::integrity(&repo, &meta, now).await?);
    }
    let _ = app.store().close().await;
    Ok(out)
}
