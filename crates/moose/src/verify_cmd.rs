//! `moose verify --env URL`: smoke tests against a running Moose (`moose serve`, or API Gateway
//! in front of the Lambda functions). Reads only, except the chat probe's own conversation,
//! which it deletes. Each check passes or fails with a reason; the exit code says whether all
//! passed, for CI/CD. The checks themselves live in `moose_release::checks`, shared with the
//! PreTraffic hook that runs them against a new Lambda version.

use clap::Args;
use moose_release::checks::{self, Check, HttpTarget, Method, Options, Probe, Scope, Target};
use serde_json::json;

use crate::cli::{Cli, Failure};

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Base URL of the environment, e.g. http://127.0.0.1:8080 or the API Gateway stage URL.
    #[arg(long = "env", value_name = "URL")]
    url: String,
    /// A bearer token (a Moose or Supabase access token) [env: MOOSE_VERIFY_TOKEN]
    #[arg(long, env = "MOOSE_VERIFY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// An API key (created with POST /api/api-keys) [env: MOOSE_VERIFY_API_KEY]
    #[arg(long, env = "MOOSE_VERIFY_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// The token for `GET /metrics` (MOOSE_METRICS_TOKEN of the server): adds the error-rate
    /// check [env: MOOSE_VERIFY_METRICS_TOKEN]
    #[arg(long, env = "MOOSE_VERIFY_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Newest data may be this old for a system in daylight, minutes.
    #[arg(long, default_value_t = 60)]
    max_data_age: i64,
    /// Another function's health URL to check (repeat it), for deployments where each
    /// function has its own endpoint, e.g. `--health https://…/prod/chat/health`.
    #[arg(long = "health", value_name = "URL")]
    extra_health: Vec<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Another function's health URL, for deployments where each function has its own endpoint.
async fn extra_health(url: &str) -> Check {
    let answer = HttpTarget::new(url)
        .send(Probe {
            method: Method::Get,
            path: "",
            body: None,
            bearer: None,
        })
        .await;
    let (ok, detail) = match answer {
        Ok(a) if a.status == 200 && a.json["status"] == "healthy" => {
            (true, format!("{url}: healthy"))
        }
        Ok(a) if a.status == 200 => (false, format!("{url}: not the health payload")),
        Ok(a) => (false, format!("{url}: HTTP {}", a.status)),
        Err(e) => (false, format!("{url}: {e}")),
    };
    Check {
        name: "health".into(),
        ok,
        detail,
    }
}

async fn run_checks(args: &VerifyArgs) -> Vec<Check> {
    let target = HttpTarget::new(&args.url);
    let options = Options {
        credential: args.token.clone().or_else(|| args.api_key.clone()),
        require_credential: true,
        metrics_token: args.metrics_token.clone(),
        max_data_age_min: args.max_data_age,
        scope: Scope::Environment,
    };
    let mut found = checks::run(&target, &options).await;
    // An unreachable environment has failed already, with one line.
    if found.first().is_some_and(|c| c.ok) {
        for (i, url) in args.extra_health.iter().enumerate() {
            found.insert(1 + i, extra_health(url).await);
        }
    }
    found
}

pub(crate) fn run(_cli: &Cli, args: &VerifyArgs) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    let checks = runtime.block_on(run_checks(args));
    let passed = checks.iter().all(|c| c.ok);
    if args.json {
        println!(
            "{}",
            json!({"env": args.url, "ok": passed, "checks": checks})
        );
    } else {
        for c in &checks {
            println!(
                "{} {:<13} {}",
                if c.ok { "✓" } else { "✗" },
                c.name,
                c.detail
            );
        }
    }
    if passed {
        Ok(())
    } else {
        let failed: Vec<&str> = checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name.as_str())
            .collect();
        Err(Failure::Run(anyhow::anyhow!(
            "moose verify: failed: {}",
            failed.join(", ")
        )))
    }
}
