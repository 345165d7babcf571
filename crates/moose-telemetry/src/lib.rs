//! Tracing set-up shared by every Moose host.
//!
//! Logs go to stderr (stdout belongs to command output such as `moose config check`):
//! human-readable text locally, one JSON object per line where a log shipper reads them
//! (CloudWatch on Lambda). Tests stay quiet unless `TEST_LOG` is set.

use std::sync::Once;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

/// The line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The filter could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("invalid log filter {filter:?}: {reason}")]
pub struct FilterError {
    filter: String,
    reason: String,
}

fn parse_filter(filter: &str) -> Result<EnvFilter, FilterError> {
    EnvFilter::builder().parse(filter).map_err(|e| FilterError {
        filter: filter.to_owned(),
        reason: e.to_string(),
    })
}

/// Builds a subscriber writing to `writer`; the caller decides whether it becomes global.
pub fn subscriber<W>(
    format: Format,
    filter: &str,
    writer: W,
) -> Result<Box<dyn tracing::Subscriber + Send + Sync>, FilterError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = parse_filter(filter)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false);
    Ok(match format {
        Format::Text => Box::new(builder.with_target(false).finish()),
        Format::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        ),
    })
}

/// Installs the global subscriber, writing to stderr. Call once, early in `main`.
pub fn init(format: Format, filter: &str) -> Result<(), FilterError> {
    let filter_ok = parse_filter(filter)?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter_ok)
        .with_writer(std::io::stderr);
    let subscriber: Box<dyn tracing::Subscriber + Send + Sync> = match format {
        Format::Text => Box::new(builder.with_ansi(ansi).with_target(false).finish()),
        Format::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        ),
    };
    // A second init (possible in tests) keeps the first subscriber; that is fine.
    let _ = subscriber.try_init();
    Ok(())
}

/// For tests: silent unless `TEST_LOG` is set, then text at that filter (or `debug`).
pub fn init_for_tests() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = std::env::var("TEST_LOG") {
            let filter = if filter.is_empty() || filter == "1" {
                "debug".to_owned()
            } else {
                filter
            };
            if let Ok(sub) = subscriber(
                Format::Text,
                &filter,
                tracing_subscriber::fmt::TestWriter::new,
            ) {
                let _ = sub.try_init();
            }
        }
    });
}
