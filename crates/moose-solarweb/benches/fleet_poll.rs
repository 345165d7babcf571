//! Benchmark: the simulator and the client together, over real HTTP on loopback.
//!
//! Run with `cargo bench -p moose-solarweb --bench fleet_poll` (release build). Prints:
//! - histdata system-days per second served by the simulator and parsed by the client, cold
//!   (the simulator computes each day) and warm (days cached);
//! - the wall time of one full poll of a 10,000-system fleet: list every system, then fetch each
//!   system's last 24 h, and of an incremental poll (each system's last 15 minutes).
//!
//! Environment: `BENCH_SYSTEMS` (default 10000), `BENCH_CONCURRENCY` (default 16).

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use moose_domain::Secret;
use moose_sim::{SimConfig, Simulator};
use moose_solarweb::{ClientConfig, Credentials, SolarWebClient};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run_all<F, Fut>(items: Vec<String>, concurrency: usize, f: F) -> (Duration, usize)
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = usize> + Send + 'static,
{
    let f = Arc::new(f);
    let queue = Arc::new(std::sync::Mutex::new(items));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (f, queue) = (Arc::clone(&f), Arc::clone(&queue));
            tokio::spawn(async move {
                let mut n = 0;
                loop {
                    let next = queue.lock().unwrap().pop();
                    match next {
                        Some(item) => n += f(item).await,
                        None => return n,
                    }
                }
            })
        })
        .collect();
    let mut total = 0;
    for w in workers {
        total += w.await.unwrap();
    }
    (started.elapsed(), total)
}

fn main() {
    let systems = env_or("BENCH_SYSTEMS", 10_000);
    let concurrency = env_or("BENCH_CONCURRENCY", 16);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let now: Timestamp = "2026-06-12T12:00:00Z".parse().unwrap();
        let build = Instant::now();
        let config = SimConfig { systems, seed: 7, start: Some(now), speed: 0.0, install_days: (30, 60), rate_limit_per_minute: u32::MAX, ..SimConfig::default() };
        let sim = Arc::new(Simulator::new(config).unwrap());
        let fleet_secs = build.elapsed().as_secs_f64();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = moose_sim::router(Arc::clone(&sim));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let creds = Credentials {
            access_key_id: Secret::new(moose_sim::DEFAULT_ACCESS_KEY_ID),
            access_key_value: Secret::new(moose_sim::DEFAULT_ACCESS_KEY_VALUE),
            login: None,
        };
        let mut config = ClientConfig::new(&url, creds);
        config.max_concurrency = concurrency;
        config.requests_per_second = 1.0e6;
        config.page_size = 1000;
        let client = SolarWebClient::new(config).unwrap();

        println!("fleet: {systems} systems generated in {fleet_secs:.2} s; concurrency {concurrency}; {} cores", std::thread::available_parallelism().map_or(1, |n| n.get()));

        // One full poll: discover the fleet, then every system's last 24 h.
        let started = Instant::now();
        let list = client.pv_systems().await.unwrap();
        let listed = started.elapsed();
        let ids: Vec<String> = list.iter().map(|s| s.pv_system_id.clone()).collect();
        let day_ago = now - SignedDuration::from_hours(24);
        let c = client.clone();
        let (elapsed, records) = run_all(ids.clone(), concurrency, move |id| {
            let c = c.clone();
            async move { c.histdata(&id, None, day_ago, now, &[]).await.unwrap().len() }
        })
        .await;
        let full = started.elapsed();
        println!("full poll (list + 24 h histdata per system): {:.2} s total, listing {:.2} s, {records} records", full.as_secs_f64(), listed.as_secs_f64());
        println!(
            "  cold histdata: {:.0} system-days/s ({:.0} records/s) served and parsed",
            ids.len() as f64 / elapsed.as_secs_f64(),
            records as f64 / elapsed.as_secs_f64()
        );

        // The same again for systems whose days are still in the simulator's cache (it holds up
        // to 16,384 system-days and is cleared when full; a 24 h poll touches two local days per
        // system, and the workers took systems from the end of the list, so the first 1,500 were
        // polled last): the HTTP and JSON path on both sides without the physics.
        let cached: Vec<String> = ids.iter().take(1500).cloned().collect();
        let warm_count = cached.len();
        let c = client.clone();
        let (elapsed, records) = run_all(cached, concurrency, move |id| {
            let c = c.clone();
            async move { c.histdata(&id, None, day_ago, now, &[]).await.unwrap().len() }
        })
        .await;
        println!(
            "  warm histdata ({warm_count} systems, days cached): {:.0} system-days/s ({:.0} records/s) served and parsed",
            warm_count as f64 / elapsed.as_secs_f64(),
            records as f64 / elapsed.as_secs_f64()
        );

        // An incremental poll: each system's last 15 minutes (3 records).
        let quarter = now - SignedDuration::from_mins(15);
        let c = client.clone();
        let (elapsed, records) = run_all(ids, concurrency, move |id| {
            let c = c.clone();
            async move { c.histdata(&id, None, quarter, now, &[]).await.unwrap().len() }
        })
        .await;
        println!("incremental poll (15 min per system): {:.2} s, {records} records, {:.0} requests/s", elapsed.as_secs_f64(), systems as f64 / elapsed.as_secs_f64());
        let stats = client.stats().snapshot();
        println!("client counters: {} calls, {} billed data points", stats.total_calls(), stats.total_data_points());
    });
}
