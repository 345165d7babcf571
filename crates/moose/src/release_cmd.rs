//! `moose release plan|deploy|status|rollback|report`: the operator's front door to a release
//! (docs/releasing.md). The AWS side rides on SAM's `AutoPublishAlias` + `DeploymentPreference`
//! (CodeDeploy moves traffic, runs the PreTraffic hook, watches the alarms and rolls back);
//! these commands prepare, start and follow that, roll back at once when a problem shows after
//! the canary window, and write the report from measured figures.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use moose_release::aliases::{self, FUNCTIONS};
use moose_release::aws::Aws;
use moose_release::checks::{self, HttpTarget, Options, Scope, Target as _};
use moose_release::deployments::{self, Follow};
use moose_release::report::{Baseline, Component, DeploymentRecord, Gates, Measured, Report};
use serde_json::json;

use crate::cli::{Cli, Failure};

#[derive(Debug, Subcommand)]
pub(crate) enum ReleaseCommand {
    /// What a release would change: the packaged binary against each function's deployed code,
    /// the alias versions, the deployed settings (names only), the template since the last tag.
    Plan(PlanArgs),
    /// Gates passed → native table backup → package → sam deploy (canary) → follow the CodeDeploy
    /// deployments → moose verify → the report.
    Deploy(DeployArgs),
    /// Where each function's alias points (and a canary's weights), and the stack's recent
    /// deployments.
    Status(AwsArgs),
    /// Point every function's alias back at its previous version at once (or at --to).
    Rollback(RollbackArgs),
    /// Measure the environment now and write the release report (Markdown and JSON), then print
    /// the version's CHANGELOG section and tag command.
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub(crate) struct AwsArgs {
    /// AWS endpoint override for every service (a local emulator) [env: AWS_ENDPOINT_URL is
    /// honoured too, as by every AWS SDK]
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// AWS region (default: the SDK's chain, AWS_REGION)
    #[arg(long)]
    region: Option<String>,
    /// The alias SAM publishes.
    #[arg(long, default_value = "live")]
    alias: String,
    /// The functions, comma-separated (default: the six).
    #[arg(long, value_delimiter = ',')]
    functions: Vec<String>,
    /// The CloudFormation stack (its CodeDeploy application is `<stack>-ServerlessDeploymentApplication-…`).
    #[arg(long)]
    stack: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

impl AwsArgs {
    fn functions(&self) -> Vec<String> {
        if self.functions.is_empty() {
            FUNCTIONS.iter().map(|f| (*f).to_owned()).collect()
        } else {
            self.functions.clone()
        }
    }

    async fn connect(&self) -> anyhow::Result<Aws> {
        Ok(Aws::connect(self.endpoint_url.as_deref(), self.region.as_deref()).await?)
    }
}

#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    #[command(flatten)]
    aws: AwsArgs,
    /// The packaged artifact (deploy/package-lambda writes it).
    #[arg(long, default_value = "target/lambda/moose-lambda/bootstrap.zip")]
    zip: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct RollbackArgs {
    #[command(flatten)]
    aws: AwsArgs,
    /// The version to point every alias at (default: each alias's previous version).
    #[arg(long)]
    to: Option<String>,
    /// Why (goes into the release record and report).
    #[arg(long)]
    reason: Option<String>,
    /// Where release records and reports are kept.
    #[arg(long, default_value = "releases")]
    dir: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct ProbeArgs {
    /// Base URL of the environment (moose serve, or the API Gateway stage URL).
    #[arg(long = "env", value_name = "URL")]
    url: Option<String>,
    /// A bearer token [env: MOOSE_VERIFY_TOKEN]
    #[arg(long, env = "MOOSE_VERIFY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// An API key [env: MOOSE_VERIFY_API_KEY]
    #[arg(long, env = "MOOSE_VERIFY_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// The token of GET /metrics (moose serve's MOOSE_METRICS_TOKEN) [env: MOOSE_VERIFY_METRICS_TOKEN]
    #[arg(long, env = "MOOSE_VERIFY_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    probe: ProbeArgs,
    /// The version released (default: this binary's).
    #[arg(long)]
    version: Option<String>,
    /// Read requests to sample for the response times.
    #[arg(long, default_value_t = 60)]
    samples: usize,
    /// The deployment record (default: <dir>/v<version>.deployment.json when present).
    #[arg(long)]
    deployment: Option<PathBuf>,
    /// scripts/release-check's result (default: ~/.cache/moose/release-check.json).
    #[arg(long)]
    gates: Option<PathBuf>,
    /// The previous release's report (default: the newest other report in <dir>).
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Where release records and reports are kept.
    #[arg(long, default_value = "releases")]
    dir: PathBuf,
    /// The changelog to take the version's section from.
    #[arg(long, default_value = "CHANGELOG.md")]
    changelog: PathBuf,
    /// A self-hosted upgrade without a deployment record: when it started (RFC 3339), for its
    /// duration; the component is `moose serve`, from the baseline's version to the running one.
    #[arg(long, value_name = "TIME")]
    started: Option<jiff::Timestamp>,
    /// The backup taken before a self-hosted upgrade (its archive path), for the record.
    #[arg(long, value_name = "FILE")]
    backup: Option<String>,
    /// Print the JSON report instead of the Markdown.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    #[command(flatten)]
    aws: AwsArgs,
    #[command(flatten)]
    probe: ProbeArgs,
    /// CodeDeploy's traffic shifting (the template's DeploymentType).
    #[arg(long, default_value = "Canary10Percent5Minutes")]
    deployment_type: String,
    /// Another template parameter, KEY=VALUE (repeat it), passed to `sam deploy
    /// --parameter-overrides` with DeploymentType.
    #[arg(long = "parameter", value_name = "KEY=VALUE")]
    parameters: Vec<String>,
    /// Deploy without a passed scripts/release-check for this commit (recorded in the report).
    #[arg(long)]
    skip_gates: bool,
    /// scripts/release-check's result (default: ~/.cache/moose/release-check.json).
    #[arg(long)]
    gates: Option<PathBuf>,
    /// Skip the DynamoDB backup before deploying.
    #[arg(long)]
    no_backup: bool,
    /// The SAM CLI [env: MOOSE_SAM]
    #[arg(long, env = "MOOSE_SAM", default_value = "sam")]
    sam: String,
    /// Give up following the deployments after this many minutes.
    #[arg(long, default_value_t = 45)]
    timeout_min: u64,
    /// Where release records and reports are kept.
    #[arg(long, default_value = "releases")]
    dir: PathBuf,
}

pub(crate) fn run(cli: &Cli, command: &ReleaseCommand) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match command {
        ReleaseCommand::Plan(args) => runtime.block_on(plan(args)),
        ReleaseCommand::Status(args) => runtime.block_on(status(args)),
        ReleaseCommand::Rollback(args) => runtime.block_on(rollback(args)),
        ReleaseCommand::Report(args) => runtime.block_on(report(args)),
        ReleaseCommand::Deploy(args) => deploy(cli, &runtime, args),
    }
}

/// Lambda's `CodeSha256` of a file: base64 of its SHA-256.
fn code_sha256(path: &Path) -> anyhow::Result<String> {
    use base64::Engine as _;
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "cannot read {} (build it with deploy/package-lambda)",
            path.display()
        )
    })?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
    Ok(base64::engine::general_purpose::STANDARD.encode(digest.as_ref()))
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

async fn plan(args: &PlanArgs) -> Result<(), Failure> {
    let local = code_sha256(&args.zip)?;
    let aws = args.aws.connect().await?;
    let mut rows = Vec::new();
    for f in args.aws.functions() {
        let got = aws
            .lambda
            .get_function()
            .function_name(&f)
            .qualifier(&args.aws.alias)
            .send()
            .await;
        let row = match got {
            Ok(g) => {
                let c = g.configuration();
                let deployed = c.and_then(|c| c.code_sha256()).unwrap_or("").to_owned();
                let mut settings: Vec<String> = c
                    .and_then(|c| c.environment())
                    .and_then(|e| e.variables())
                    .map(|v| v.keys().cloned().collect())
                    .unwrap_or_default();
                settings.sort();
                json!({
                    "function": f,
                    "live_version": c.and_then(|c| c.version()),
                    "deployed_sha256": deployed,
                    "code_changes": deployed != local,
                    "settings": settings,
                })
            }
            Err(e) => json!({
                "function": f, "live_version": null, "deployed_sha256": null, "code_changes": true,
                "settings": [], "note": format!("not deployed yet ({})", aws_sdk_lambda_error(&e)),
            }),
        };
        rows.push(row);
    }
    let last_tag = git(&["describe", "--tags", "--abbrev=0", "--match", "v*"]);
    let template_diff = match &last_tag {
        Some(tag) => git(&[
            "diff",
            "--stat",
            &format!("{tag}..HEAD"),
            "--",
            "deploy/template.yaml",
        ])
        .unwrap_or_default(),
        None => "no earlier release tag: the whole template is new".to_owned(),
    };
    let plan = json!({
        "binary_sha256": local, "functions": rows, "since_tag": last_tag,
        "template_diff": template_diff,
    });
    if args.aws.json {
        println!("{plan}");
        return Ok(());
    }
    println!("binary {} sha256 {local}", args.zip.display());
    for r in &rows {
        println!(
            "  {:<22} live {:<4} {}",
            r["function"].as_str().unwrap_or("?"),
            r["live_version"].as_str().unwrap_or("—"),
            if r["code_changes"] == true {
                "code changes: a new version will be published"
            } else {
                "unchanged"
            }
        );
        if let Some(s) = r["settings"].as_array().filter(|s| !s.is_empty()) {
            let names: Vec<&str> = s.iter().filter_map(|v| v.as_str()).collect();
            println!("    settings: {}", names.join(", "));
        }
        if let Some(n) = r["note"].as_str() {
            println!("    {n}");
        }
    }
    println!(
        "template since {}: {}",
        last_tag.as_deref().unwrap_or("the beginning"),
        if template_diff.is_empty() {
            "unchanged"
        } else {
            &template_diff
        }
    );
    Ok(())
}

fn aws_sdk_lambda_error(e: &(impl std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s = format!("{s}: {inner}");
        source = inner.source();
    }
    s
}

async fn status(args: &AwsArgs) -> Result<(), Failure> {
    let aws = args.connect().await?;
    let mut states = Vec::new();
    for f in args.functions() {
        states.push(
            aliases::alias_state(&aws.lambda, &f, &args.alias)
                .await
                .map_err(anyhow::Error::from)?,
        );
    }
    let mut recent = Vec::new();
    if let Some(stack) = &args.stack
        && let Some(app) = deployments::find_application(&aws.codedeploy, stack)
            .await
            .map_err(anyhow::Error::from)?
    {
        let since = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24);
        recent = deployments::deployments_since(&aws.codedeploy, &app, since)
            .await
            .map_err(anyhow::Error::from)?;
    }
    if args.json {
        println!("{}", json!({"aliases": states, "deployments": recent}));
        return Ok(());
    }
    for s in &states {
        let canary: Vec<String> = s
            .weights
            .iter()
            .map(|(v, w)| format!("version {v} at {:.0} %", w * 100.0))
            .collect();
        println!(
            "{:<22} {}:{} → version {}{}  (versions {})",
            s.function,
            s.function,
            s.alias,
            s.version,
            if canary.is_empty() {
                String::new()
            } else {
                format!(", canary {}", canary.join(", "))
            },
            s.versions
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    for d in &recent {
        println!(
            "deployment {} {}: {}{}",
            d.id,
            d.group,
            d.status,
            d.reason
                .as_ref()
                .map_or_else(String::new, |r| format!(" — {r}"))
        );
    }
    Ok(())
}

async fn rollback(args: &RollbackArgs) -> Result<(), Failure> {
    let aws = args.aws.connect().await?;
    let mut moved = Vec::new();
    let mut failed = Vec::new();
    // Every alias, even when one fails: a half rollback is worse than a full one.
    for f in args.aws.functions() {
        match aliases::rollback_one(&aws.lambda, &f, &args.aws.alias, args.to.as_deref()).await {
            Ok(m) => {
                if !args.aws.json {
                    println!("✓ {:<22} {} → {}", m.function, m.from, m.to);
                }
                moved.push(m);
            }
            Err(e) => {
                if !args.aws.json {
                    println!("✗ {f:<22} {e}");
                }
                failed.push(json!({"function": f, "error": e.to_string()}));
            }
        }
    }
    let reason = args
        .reason
        .clone()
        .unwrap_or_else(|| "moose release rollback".to_owned());
    record_rollback(&args.dir, &reason)?;
    if args.aws.json {
        println!(
            "{}",
            json!({"moved": moved, "failed": failed, "reason": reason})
        );
    } else if failed.is_empty() {
        println!(
            "all {} aliases moved. CloudFormation still describes the new versions: deploy the previous release's commit to make the stack agree (docs/releasing.md).",
            moved.len()
        );
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::Run(anyhow::anyhow!(
            "moose release rollback: {} alias(es) could not be moved",
            failed.len()
        )))
    }
}

/// Marks this version's deployment record as rolled back, so its report says so and why.
fn record_rollback(dir: &Path, reason: &str) -> anyhow::Result<()> {
    let path = dir.join(format!("v{}.deployment.json", env!("CARGO_PKG_VERSION")));
    if let Ok(text) = std::fs::read_to_string(&path) {
        let mut record: DeploymentRecord = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a deployment record", path.display()))?;
        record.rollback = Some(reason.to_owned());
        std::fs::write(&path, serde_json::to_string_pretty(&record)?)?;
    }
    Ok(())
}

fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"))
        .join("moose")
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a {what}", path.display()))
}

/// The newest report in `dir` of another version than `version`.
fn newest_other_report(dir: &Path, version: &str) -> Option<Report> {
    let mut reports: Vec<Report> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p.to_string_lossy().ends_with(".deployment.json")
        })
        .filter_map(|p| read_json::<Report>(&p, "report").ok())
        .filter(|r| r.version != version)
        .collect();
    reports.sort_by_key(|r| r.generated_at);
    reports.pop()
}

/// Measures the environment: the smoke checks, sampled latency, the server's error counters,
/// freshness and delivery.
async fn measure(probe: &ProbeArgs, samples: usize) -> anyhow::Result<(String, Measured)> {
    let url = probe
        .url
        .clone()
        .context("--env URL: the environment to measure")?;
    let target = HttpTarget::new(&url);
    let credential = probe.token.clone().or_else(|| probe.api_key.clone());
    let options = Options {
        credential: credential.clone(),
        metrics_token: probe.metrics_token.clone(),
        scope: Scope::Environment,
        ..Options::default()
    };
    let checks = checks::run(&target, &options).await;
    let latency = checks::sample_latency(&target, credential.as_deref(), samples).await;
    let server_errors = match &probe.metrics_token {
        Some(t) => checks::server_error_rate(&target, t).await.ok(),
        None => None,
    };
    let (freshness, delivery_rate) = match &credential {
        Some(c) => {
            let systems = target
                .send(checks::Probe {
                    method: checks::Method::Get,
                    path: "/api/systems",
                    body: None,
                    bearer: Some(c),
                })
                .await
                .map(|a| a.json["systems"].as_array().cloned().unwrap_or_default())
                .unwrap_or_default();
            (
                checks::Freshness::of(&systems, 60, jiff::Timestamp::now()),
                checks::delivery_rate(&target, c).await.ok().flatten(),
            )
        }
        None => (checks::Freshness::default(), None),
    };
    Ok((
        url,
        Measured {
            latency,
            server_errors,
            freshness,
            delivery_rate,
            checks,
        },
    ))
}

async fn report(args: &ReportArgs) -> Result<(), Failure> {
    let version = args
        .version
        .clone()
        .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned());
    let record_path = args
        .deployment
        .clone()
        .unwrap_or_else(|| args.dir.join(format!("v{version}.deployment.json")));
    let record: Option<DeploymentRecord> = if record_path.exists() {
        Some(read_json(&record_path, "deployment record")?)
    } else if args.deployment.is_some() {
        return Err(Failure::Run(anyhow::anyhow!(
            "no deployment record at {}",
            record_path.display()
        )));
    } else {
        None
    };
    let gates_path = args
        .gates
        .clone()
        .unwrap_or_else(|| cache_dir().join("release-check.json"));
    let gates: Option<Gates> = read_json(&gates_path, "release-check result").ok();
    let baseline = match &args.baseline {
        Some(p) => Some(Baseline::of(&read_json::<Report>(p, "report")?)),
        None => newest_other_report(&args.dir, &version).map(|r| Baseline::of(&r)),
    };
    let (url, measured) = measure(&args.probe, args.samples).await?;
    let environment = record
        .as_ref()
        .map_or_else(|| url.clone(), |r| r.environment.clone());
    let mut record = record;
    if let (None, Some(started)) = (&record, args.started) {
        // A self-hosted upgrade: the server, from the baseline's version to the one answering
        // now, timed from when the operator started it.
        let answering = measured
            .checks
            .first()
            .filter(|c| c.ok)
            .and_then(|c| c.detail.rsplit("version ").next())
            .map(str::to_owned);
        record = Some(DeploymentRecord {
            version: version.clone(),
            host: "self-hosted".into(),
            environment: url,
            started,
            finished: jiff::Timestamp::now(),
            components: vec![Component {
                name: "moose serve".into(),
                from: baseline.as_ref().map(|b| b.version.clone()),
                to: answering,
            }],
            deployments: Vec::new(),
            rollback: None,
            backup: args.backup.clone(),
        });
    }
    let report = Report::new(
        &version,
        &environment,
        record,
        measured,
        baseline,
        gates,
        jiff::Timestamp::now(),
    );
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let json_path = args.dir.join(format!("v{version}.json"));
    let md_path = args.dir.join(format!("v{version}.md"));
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&report).context("report")?,
    )
    .with_context(|| format!("cannot write {}", json_path.display()))?;
    std::fs::write(&md_path, report.to_markdown())
        .with_context(|| format!("cannot write {}", md_path.display()))?;
    if args.json {
        println!("{}", serde_json::to_string(&report).context("report")?);
    } else {
        println!("{}", report.to_markdown());
        println!(
            "(written to {} and {})\n",
            md_path.display(),
            json_path.display()
        );
        let date = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
        let changelog = std::fs::read_to_string(&args.changelog).unwrap_or_default();
        match moose_release::changelog::section(&changelog, &version, &date) {
            Some((section, own)) => {
                if !own {
                    println!(
                        "CHANGELOG: {} has no section for {version} yet; rename [Unreleased] to:\n",
                        args.changelog.display()
                    );
                }
                println!("{section}\n");
            }
            None => println!(
                "CHANGELOG: no section for {version} or [Unreleased] in {}\n",
                args.changelog.display()
            ),
        }
        println!("tag: {}", moose_release::changelog::tag_commands(&version));
    }
    if report.success {
        Ok(())
    } else {
        Err(Failure::Run(anyhow::anyhow!(
            "the release did not meet its success criteria: {}",
            report
                .criteria
                .iter()
                .filter(|c| c.met == Some(false))
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

fn deploy(cli: &Cli, runtime: &tokio::runtime::Runtime, args: &DeployArgs) -> Result<(), Failure> {
    let stack = args
        .aws
        .stack
        .clone()
        .context("--stack NAME: the CloudFormation stack to deploy")?;
    let version = env!("CARGO_PKG_VERSION");
    let started = jiff::Timestamp::now();
    // 1. The gates, for this very commit.
    let gates_path = args
        .gates
        .clone()
        .unwrap_or_else(|| cache_dir().join("release-check.json"));
    let head = git(&["rev-parse", "HEAD"]);
    match read_json::<Gates>(&gates_path, "release-check result") {
        Ok(g) if g.passed && g.commit == head => {
            println!("✓ gates passed for {}", head.as_deref().unwrap_or("?"));
        }
        _ if args.skip_gates => println!("! gates skipped (--skip-gates): the report will say so"),
        Ok(g) if !g.passed => {
            return Err(Failure::Run(anyhow::anyhow!(
                "scripts/release-check failed for this commit; fix it or pass --skip-gates"
            )));
        }
        Ok(_) => {
            return Err(Failure::Run(anyhow::anyhow!(
                "{} is for another commit than HEAD: run scripts/release-check",
                gates_path.display()
            )));
        }
        Err(e) => return Err(Failure::Run(e.context("run scripts/release-check first"))),
    }
    let aws = runtime.block_on(args.aws.connect())?;
    let before = runtime.block_on(alias_versions(&aws, &args.aws));
    // 2. A backup of the table, before anything changes.
    let backup = if args.no_backup {
        None
    } else {
        Some(crate::backup_cmd::native_backup(cli, None)?)
    };
    // 3. Package, 4. deploy through CloudFormation (SAM), which starts CodeDeploy.
    step(
        "deploy/package-lambda",
        Command::new("deploy/package-lambda"),
    )?;
    let mut sam = Command::new(&args.sam);
    sam.args([
        "deploy",
        "--template-file",
        "deploy/template.yaml",
        "--stack-name",
        &stack,
        "--capabilities",
        "CAPABILITY_IAM",
        "--resolve-s3",
        "--no-confirm-changeset",
        "--no-fail-on-empty-changeset",
        "--parameter-overrides",
        &format!("DeploymentType={}", args.deployment_type),
    ]);
    sam.args(&args.parameters);
    let deployed = step("sam deploy", sam);
    // 5. Follow CodeDeploy (also when sam failed: a rolled-back canary fails the stack update).
    let followed = runtime.block_on(async {
        let Some(app) = deployments::find_application(&aws.codedeploy, &stack).await? else {
            return Ok::<_, moose_release::ReleaseError>(Vec::new());
        };
        deployments::follow(
            &aws.codedeploy,
            &app,
            started,
            Follow {
                poll: Duration::from_secs(10),
                timeout: Duration::from_secs(args.timeout_min * 60),
                none_after: Duration::from_secs(60),
            },
            |d| println!("  {} {}: {}", d.id, d.group, d.status),
        )
        .await
    });
    let views = followed.map_err(anyhow::Error::from)?;
    let after = runtime.block_on(alias_versions(&aws, &args.aws));
    let components = before
        .iter()
        .zip(&after)
        .map(|((name, from), (_, to))| Component {
            name: name.clone(),
            from: from.clone(),
            to: to.clone(),
        })
        .collect();
    let record = DeploymentRecord {
        version: version.to_owned(),
        host: "aws".into(),
        environment: stack.clone(),
        started,
        finished: jiff::Timestamp::now(),
        components,
        rollback: views
            .iter()
            .find(|d| d.rolled_back)
            .map(|d| format!("{}: {}", d.group, d.reason.clone().unwrap_or_default())),
        deployments: views,
        backup,
    };
    std::fs::create_dir_all(&args.dir).context("releases directory")?;
    let path = args.dir.join(format!("v{version}.deployment.json"));
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&record).context("record")?,
    )
    .with_context(|| format!("cannot write {}", path.display()))?;
    println!("deployment record: {}", path.display());
    deployed?;
    if let Some(why) = &record.rollback {
        return Err(Failure::Run(anyhow::anyhow!(
            "CodeDeploy rolled the release back: {why}"
        )));
    }
    // 6. Verify and report, when the environment's URL is known.
    if args.probe.url.is_some() {
        let report_args = ReportArgs {
            probe: ProbeArgs {
                url: args.probe.url.clone(),
                token: args.probe.token.clone(),
                api_key: args.probe.api_key.clone(),
                metrics_token: args.probe.metrics_token.clone(),
            },
            version: Some(version.to_owned()),
            samples: 60,
            deployment: Some(path),
            gates: Some(gates_path),
            baseline: None,
            dir: args.dir.clone(),
            changelog: PathBuf::from("CHANGELOG.md"),
            started: None,
            backup: None,
            json: false,
        };
        return runtime.block_on(report(&report_args));
    }
    println!("no --env URL: run `moose release report --env URL` to verify and write the report");
    Ok(())
}

/// Each function's alias version, or `None` where there is none yet.
async fn alias_versions(aws: &Aws, args: &AwsArgs) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for f in args.functions() {
        let v = aliases::alias_state(&aws.lambda, &f, &args.alias)
            .await
            .ok()
            .map(|s| s.version);
        out.push((f, v));
    }
    out
}

/// Runs one external step, echoing it; its failure names it.
fn step(name: &str, mut command: Command) -> anyhow::Result<()> {
    println!("→ {name}");
    let status = command
        .status()
        .with_context(|| format!("cannot run {name} (is it installed?)"))?;
    anyhow::ensure!(status.success(), "{name} failed ({status})");
    Ok(())
}
