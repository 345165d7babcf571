//! The one shutdown signal of a `moose` process.

use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;

/// A token cancelled on SIGINT or SIGTERM, and the name of the signal that cancelled it.
pub(crate) fn shutdown_on_signal() -> (CancellationToken, Arc<OnceLock<&'static str>>) {
    let token = CancellationToken::new();
    let received: Arc<OnceLock<&'static str>> = Arc::default();
    tokio::spawn(watch(token.clone(), Arc::clone(&received)));
    (token, received)
}

async fn watch(shutdown: CancellationToken, received: Arc<OnceLock<&'static str>>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop moose with SIGKILL");
        return;
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
        () = shutdown.cancelled() => return,
    };
    let _ = received.set(name);
    shutdown.cancel();
}
