//! `bootstrap`: Moose as AWS Lambda functions.
//!
//! One binary for all six functions; the role comes from `MOOSE_FUNCTION` or the function's
//! name (`AWS_LAMBDA_FUNCTION_NAME`). HTTP functions (`solar-data-service`, `user-management`,
//! `chat-service`) serve the same axum router as `moose serve`, for API Gateway REST (v1) and HTTP
//! API (v2) proxy events — and for the old system's bare health payload
//! `{"httpMethod":"GET","path":"/health"}`, which `lambda_http` alone would reject.
//! `solar-data-polling` and `device-status-polling` run one pass per invocation (EventBridge
//! schedule or direct); `notify-user` delivers the outbox on any event (schedule, SNS, SQS,
//! direct invocation); all three answer `GET /health` events too instead of running a pass.
//! `CodeDeployHook_…` (`MOOSE_FUNCTION=codedeploy-hook`) is the PreTraffic hook of a canary
//! deploy: it checks the new versions and reports to CodeDeploy (`moose_release::hook`).
//! Everything is built once per cold start by `moose_app::App`, the same composition root as
//! `moose serve`, so every setting means the same here. Logs are JSON (CloudWatch).

mod events;

use std::sync::Arc;

use anyhow::Context;
use lambda_http::Service as _;
use lambda_runtime::{LambdaEvent, service_fn};
use moose_app::{App, NO_SOURCE};
use moose_config::Sources;
use serde_json::Value;

/// The six functions of the old system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    ChatService,
    SolarDataService,
    UserManagement,
    DeviceStatusPolling,
    SolarDataPolling,
    NotifyUser,
}

impl Role {
    /// The function's name as the old system called it.
    fn name(self) -> &'static str {
        match self {
            Self::ChatService => "chat-service",
            Self::SolarDataService => "solar-data-service",
            Self::UserManagement => "user-management",
            Self::DeviceStatusPolling => "device-status-polling",
            Self::SolarDataPolling => "solar-data-polling",
            Self::NotifyUser => "notify-user",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        // Deployed names may carry a stack prefix or suffix (`prod-solar-data-service`).
        let known = [
            ("solar-data-service", Self::SolarDataService),
            ("solar-data-polling", Self::SolarDataPolling),
            ("device-status-polling", Self::DeviceStatusPolling),
            ("user-management", Self::UserManagement),
            ("chat-service", Self::ChatService),
            ("notify-user", Self::NotifyUser),
        ];
        known
            .iter()
            .find(|(n, _)| name.contains(n))
            .map(|(_, r)| *r)
    }

    fn is_http(self) -> bool {
        matches!(
            self,
            Self::ChatService | Self::SolarDataService | Self::UserManagement
        )
    }
}

struct Function {
    role: Role,
    app: App,
    /// Built once per cold start, for the HTTP functions.
    router: Option<axum::Router>,
    /// Built once per cold start, for `notify-user` only (SMTP and SNS clients).
    dispatcher: Option<moose_notify::Dispatcher>,
    /// Built once per cold start for the polling functions, when credentials are configured.
    solarweb: Option<moose_solarweb::SolarWebClient>,
}

async fn build() -> anyhow::Result<Function> {
    let name = std::env::var("MOOSE_FUNCTION")
        .or_else(|_| std::env::var("AWS_LAMBDA_FUNCTION_NAME"))
        .unwrap_or_default();
    let role = Role::from_name(&name).with_context(|| {
        format!("cannot tell which Moose function {name:?} is: set MOOSE_FUNCTION to one of solar-data-service, user-management, chat-service, solar-data-polling, device-status-polling, notify-user")
    })?;
    let mut env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    // On Lambda only /tmp is writable and data must outlive the instance: DynamoDB unless told otherwise.
    env.entry("MOOSE_STORE".into())
        .or_insert_with(|| "dynamodb".into());
    env.entry("MOOSE_LOG_FORMAT".into())
        .or_insert_with(|| "json".into());
    let loaded = moose_config::load(&Sources {
        env,
        ..Sources::default()
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (format, filter) = moose_app::telemetry(&loaded.config);
    moose_telemetry::init(format, filter)?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let app = App::open(loaded.config).await?;
    let router = role.is_http().then(|| app.router());
    let dispatcher = if role == Role::NotifyUser {
        Some(app.dispatcher().await?)
    } else {
        None
    };
    let solarweb = if matches!(role, Role::SolarDataPolling | Role::DeviceStatusPolling) {
        app.solarweb()?
    } else {
        None
    };
    tracing::info!(function = %name, role = ?role, backend = app.store().backend(), "Moose Lambda function ready");
    Ok(Function {
        role,
        app,
        router,
        dispatcher,
        solarweb,
    })
}

async fn handle(f: &Function, event: LambdaEvent<Value>) -> anyhow::Result<Value> {
    let (payload, context) = event.into_parts();
    let health_only = f.router.is_none() && events::is_health_request(&payload);
    if f.router.is_some() || health_only {
        let router = match &f.router {
            Some(r) => r.clone(),
            // A background function asked for its health: the same health routes, built for
            // this rare request only.
            None => f.app.router(),
        };
        let request = events::http_request(payload)?;
        let mut adapter = lambda_http::Adapter::from(router);
        let response = adapter
            .call(LambdaEvent::new(request, context))
            .await
            .map_err(|never| match never {})?;
        return Ok(serde_json::to_value(response)?);
    }
    match f.role {
        Role::SolarDataPolling => {
            let client = f
                .solarweb
                .clone()
                .ok_or_else(|| no_source("solar-data-polling"))?;
            let cancel = tokio_util::sync::CancellationToken::new();
            let summary = moose_solardata::poll_once(
                &client,
                &f.app.solar_repo(),
                &f.app.poll_settings(),
                jiff::Timestamp::now(),
                &cancel,
            )
            .await?;
            tracing::info!(request_id = %context.request_id, records = summary.records_written, "solar-data-polling pass finished");
            Ok(serde_json::to_value(summary)?)
        }
        Role::DeviceStatusPolling => {
            let client = f
                .solarweb
                .clone()
                .ok_or_else(|| no_source("device-status-polling"))?;
            let job = f.app.status_job(client);
            let cancel = tokio_util::sync::CancellationToken::new();
            let summary = moose_status::status_pass(&job, jiff::Timestamp::now(), &cancel).await?;
            tracing::info!(request_id = %context.request_id, opened = ?summary.opened, resolved = ?summary.resolved, "device-status-polling pass finished");
            Ok(serde_json::to_value(summary)?)
        }
        Role::NotifyUser => {
            // Whatever woke it (schedule, SNS, SQS, direct invoke), the outbox is the work: the
            // event's records are only logged. Returning normally acknowledges SQS messages.
            let trigger = events::trigger_of(&payload);
            let dispatcher = f
                .dispatcher
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("the notification channels are not set up"))?;
            let total = dispatcher.drain().await?;
            tracing::info!(request_id = %context.request_id, trigger, sent = total.sent, failed = total.failed, "notify-user round finished");
            Ok(serde_json::to_value(total)?)
        }
        other => anyhow::bail!("the {other:?} function is not available in this version of Moose"),
    }
}

fn no_source(function: &str) -> anyhow::Error {
    anyhow::anyhow!("{function}: {NO_SOURCE}")
}

/// Tells the Runtime API that initialisation failed, so the failure shows in the function's
/// logs and metrics as an init error rather than as a silent crash.
async fn report_init_error(message: &str) {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return;
    };
    let body = serde_json::json!({"errorMessage": message, "errorType": "Moose.InitError"});
    let sent = reqwest::Client::new()
        .post(format!("http://{api}/2018-06-01/runtime/init/error"))
        .header("Lambda-Runtime-Function-Error-Type", "Moose.InitError")
        .json(&body)
        .send()
        .await;
    if let Err(e) = sent {
        eprintln!("cannot report the init error to the Runtime API: {e}");
    }
}

/// Whether this process is the CodeDeploy hook rather than one of the six functions.
fn is_hook() -> bool {
    std::env::var("MOOSE_FUNCTION")
        .or_else(|_| std::env::var("AWS_LAMBDA_FUNCTION_NAME"))
        .is_ok_and(|n| n.contains("codedeploy-hook") || n.contains("CodeDeployHook"))
}

/// The PreTraffic hook: no store, no configuration of the functions; the new versions it
/// checks (`MOOSE_HOOK_TARGETS`) and an optional API key (`MOOSE_HOOK_API_KEY`).
async fn run_hook() -> Result<(), lambda_runtime::Error> {
    moose_telemetry::init(moose_telemetry::Format::Json, "info")
        .map_err(|e| lambda_runtime::Error::from(e.to_string()))?;
    let built = async {
        let settings = moose_release::hook::HookSettings::from_env(|k| std::env::var(k).ok())?;
        let aws = moose_release::aws::Aws::connect(None, None).await?;
        Ok::<_, moose_release::ReleaseError>((settings, aws))
    }
    .await;
    let shared = match built {
        Ok(b) => Arc::new(b),
        Err(e) => {
            let message = format!("{e}");
            eprintln!("moose: {message}");
            report_init_error(&message).await;
            return Err(lambda_runtime::Error::from(message));
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let shared = Arc::clone(&shared);
        async move {
            let (settings, aws) = shared.as_ref();
            let lifecycle: moose_release::hook::LifecycleEvent =
                serde_json::from_value(event.payload).map_err(|e| {
                    lambda_runtime::Error::from(format!(
                        "this is the CodeDeploy hook: it expects {{\"DeploymentId\",\"LifecycleEventHookExecutionId\"}}: {e}"
                    ))
                })?;
            let outcome =
                moose_release::hook::pre_traffic(&lifecycle, settings, &aws.lambda, &aws.codedeploy)
                    .await
                    .map_err(|e| lambda_runtime::Error::from(e.to_string()))?;
            Ok::<Value, lambda_runtime::Error>(serde_json::to_value(outcome)?)
        }
    }))
    .await
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    if is_hook() {
        return run_hook().await;
    }
    let function = match build().await {
        Ok(f) => Arc::new(f),
        Err(e) => {
            let message = format!("{e:#}");
            eprintln!("moose: {message}");
            report_init_error(&message).await;
            return Err(lambda_runtime::Error::from(message));
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let function = Arc::clone(&function);
        async move {
            let out = handle(&function, event)
                .await
                .map_err(|e| lambda_runtime::Error::from(format!("{e:#}")));
            // This invocation's metrics, as one CloudWatch Embedded Metric Format line per
            // route: CloudWatch Logs turns them into metrics, no API call needed.
            if let Some(emf) = moose_metrics::take_emf(
                function.role.name(),
                jiff::Timestamp::now().as_millisecond(),
            ) {
                println!("{emf}");
            }
            out
        }
    }))
    .await
}
