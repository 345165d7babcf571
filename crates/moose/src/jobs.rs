//! Background jobs of `moose serve`. Every job takes the one shutdown token and returns soon
//! after it is cancelled, finishing the item it is working on first.

use std::sync::Arc;
use std::time::Duration;

use moose_store::Store;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// A job's name and how it ended.
pub(crate) type JobExit = (&'static str, anyhow::Result<()>);

/// Starts every job of `moose serve`.
pub(crate) fn spawn_all(
    set: &mut JoinSet<JobExit>,
    app: &moose_app::App,
    shutdown: &CancellationToken,
) {
    let interval = app.store_check_interval();
    let (store, token) = (Arc::clone(app.store()), shutdown.clone());
    set.spawn(async move {
        (
            "store-watchdog",
            store_watchdog(store, interval, token).await,
        )
    });
}

/// Checks the store periodically and logs when it starts failing and when it recovers, so an
/// operator learns of a broken disk before the first failed write does.
async fn store_watchdog(
    store: Arc<dyn Store>,
    interval: Duration,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut healthy = true;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(interval) => {}
        }
        match store.ping().await {
            Ok(()) if !healthy => {
                healthy = true;
                tracing::info!(backend = store.backend(), "store recovered");
            }
            Ok(()) => {}
            Err(err) if healthy => {
                healthy = false;
                tracing::error!(backend = store.backend(), error = %err, "store check failed");
            }
            Err(_) => {}
        }
    }
}
