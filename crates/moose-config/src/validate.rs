//! Checks that need more than a type: ranges, pairs of settings that go together, URL shapes.

use crate::Config;
use crate::env;
use crate::load::Problem;

/// Every problem with `config`; `origin` says where a setting came from.
pub(crate) fn check(config: &Config, origin: impl Fn(&str) -> String) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut fail = |path: &str, message: String| {
        let hint = env::for_path(path)
            .map(|v| format!(" (set it with {} or `{path}` in moose.toml)", v.name));
        problems.push(Problem {
            setting: path.to_owned(),
            origin: origin(path),
            message: format!("{message}{}", hint.unwrap_or_default()),
        });
    };

    let ranges: [(&str, u64, u64, u64); 21] = [
        (
            "assistant.timeout_secs",
            config.assistant.timeout_secs,
            1,
            120,
        ),
        (
            "assistant.daily_tokens_per_user",
            config.assistant.daily_tokens_per_user,
            0,
            100_000_000,
        ),
        (
            "assistant.retention_days",
            config.assistant.retention_days,
            1,
            3650,
        ),
        (
            "jobs.notify_lease_secs",
            config.jobs.notify_lease_secs,
            5,
            3600,
        ),
        (
            "jobs.status_interval_secs",
            config.jobs.status_interval_secs,
            30,
            86_400,
        ),
        (
            "jobs.notify_interval_secs",
            config.jobs.notify_interval_secs,
            1,
            3600,
        ),
        ("notify.smtp_port", config.notify.smtp_port, 1, 65_535),
        ("poll.interval_secs", config.poll.interval_secs, 30, 86_400),
        ("poll.concurrency", config.poll.concurrency, 1, 64),
        (
            "poll.requests_per_second",
            config.poll.requests_per_second,
            1,
            1000,
        ),
        (
            "poll.initial_lookback_hours",
            config.poll.initial_lookback_hours,
            1,
            720,
        ),
        (
            "auth.access_token_ttl_secs",
            config.auth.access_token_ttl_secs,
            60,
            86_400,
        ),
        (
            "auth.refresh_token_ttl_secs",
            config.auth.refresh_token_ttl_secs,
            3600,
            31_536_000,
        ),
        (
            "http.request_timeout_secs",
            config.http.request_timeout_secs,
            1,
            300,
        ),
        (
            "http.body_limit_bytes",
            config.http.body_limit_bytes,
            1024,
            64 * 1024 * 1024,
        ),
        (
            "http.shutdown_grace_secs",
            config.http.shutdown_grace_secs,
            0,
            300,
        ),
        (
            "http.header_timeout_secs",
            config.http.header_timeout_secs,
            1,
            300,
        ),
        (
            "http.body_timeout_secs",
            config.http.body_timeout_secs,
            1,
            3600,
        ),
        (
            "http.max_connections",
            config.http.max_connections,
            1,
            1_000_000,
        ),
        (
            "http.max_connections_per_client",
            config.http.max_connections_per_client,
            1,
            1_000_000,
        ),
        (
            "jobs.store_check_interval_secs",
            config.jobs.store_check_interval_secs,
            5,
            86_400,
        ),
    ];
    for (path, value, min, max) in ranges {
        if !(min..=max).contains(&value) {
            fail(
                path,
                format!("must be between {min} and {max}, got {value}"),
            );
        }
    }

    if let Some(url) = &config.store.dynamodb_endpoint
        && let Err(e) = check_url(url)
    {
        fail("store.dynamodb_endpoint", e);
    }
    if config.store.data_dir.as_os_str().is_empty() {
        fail("store.data_dir", "must not be empty".into());
    }
    let table = &config.store.dynamodb_table;
    if !(3..=255).contains(&table.len())
        || !table
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        fail(
            "store.dynamodb_table",
            format!(
                "{table:?} is not a DynamoDB table name (3-255 letters, digits, '_', '-', '.')"
            ),
        );
    }
    if let Err(e) = config.log.filter.parse::<LogFilterShape>() {
        fail("log.filter", e);
    }

    let notify = &config.notify;
    if !["starttls", "tls", "none"].contains(&notify.smtp_tls.as_str()) {
        fail(
            "notify.smtp_tls",
            format!("{:?} is not one of starttls, tls, none", notify.smtp_tls),
        );
    }
    for (path, url) in [
        ("notify.public_url", &notify.public_url),
        ("notify.aws_endpoint", &notify.aws_endpoint),
    ] {
        if let Some(url) = url
            && let Err(e) = check_url(url)
        {
            fail(path, e);
        }
    }
    if let Some(arn) = &notify.sns_topic_arn
        && !arn.starts_with("arn:")
    {
        fail(
            "notify.sns_topic_arn",
            format!("{arn:?} is not an ARN (arn:aws:sns:<region>:<account>:<topic>)"),
        );
    }
    if notify.smtp_username.is_some() != notify.smtp_password.is_some() {
        fail(
            "notify.smtp_password",
            "the SMTP user name and password come in pairs: set both or neither".into(),
        );
    }

    if let Err(e) = check_url(&config.solarweb.base_url) {
        fail("solarweb.base_url", e);
    }
    let sw = &config.solarweb;
    if sw.access_key_id.is_some() != sw.access_key_value.is_some() {
        let missing = if sw.access_key_id.is_some() {
            "solarweb.access_key_value"
        } else {
            "solarweb.access_key_id"
        };
        fail(
            missing,
            "Solar.web access keys come in pairs: set both the key id and the key value".into(),
        );
    }
    if sw.user_id.is_some() != sw.password.is_some() {
        let missing = if sw.user_id.is_some() {
            "solarweb.password"
        } else {
            "solarweb.user_id"
        };
        fail(
            missing,
            "Solar.web JWT login needs both the user id and the password".into(),
        );
    }
    if let Some(url) = &config.supabase.url
        && let Err(e) = check_url(url)
    {
        fail("supabase.url", e);
    }
    if let Some(list) = &config.http.trusted_proxies
        && let Err(e) = moose_domain::TrustedProxies::parse(list)
    {
        fail("http.trusted_proxies", e.to_string());
    }
    if let Some(url) = &config.console.tile_url
        && let Err(e) = moose_domain::TileUrl::parse(url)
    {
        fail("console.tile_url", e.to_string());
    }
    if let Some(text) = &config.console.tile_attribution
        && (text.chars().count() > 300 || text.chars().any(char::is_control))
    {
        fail(
            "console.tile_attribution",
            "must be one line of at most 300 characters".into(),
        );
    }
    let a = &config.assistant;
    for (path, url) in [
        ("assistant.openai_base_url", Some(&a.openai_base_url)),
        (
            "assistant.pinecone_controller_url",
            Some(&a.pinecone_controller_url),
        ),
    ] {
        if let Some(url) = url
            && let Err(e) = check_url(url)
        {
            fail(path, e);
        }
    }
    if a.pinecone_api_key.is_some() != a.pinecone_index_name.is_some() {
        fail(
            "assistant.pinecone_index_name",
            "Pinecone needs both PINECONE_API_KEY and PINECONE_INDEX_NAME".into(),
        );
    }
    problems
}

fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("{url:?} is not an http:// or https:// URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(format!("{url:?} has no valid host"));
    }
    Ok(())
}

/// A cheap syntactic check of a `tracing` filter (the telemetry crate parses it for real);
/// it catches the common mistakes (spaces, empty directives) before logging is set up.
struct LogFilterShape;

impl std::str::FromStr for LogFilterShape {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim().is_empty() {
            return Err("must not be empty; use e.g. `info`".into());
        }
        for directive in s.split(',') {
            let level = directive.rsplit('=').next().unwrap_or_default().trim();
            let ok_level = ["trace", "debug", "info", "warn", "error", "off"]
                .iter()
                .any(|l| l.eq_ignore_ascii_case(level));
            if directive.trim().is_empty()
                || directive.contains(' ')
                || (directive.contains('=') && !ok_level)
            {
                return Err(format!(
                    "{directive:?} is not a log directive like `info` or `moose_api=debug`"
                ));
            }
        }
        Ok(Self)
    }
}
