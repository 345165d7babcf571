//! Benchmark: BM25 search latency over a knowledge base of 5,000 chunks.
//!
//! `cargo bench -p moose-knowledge --bench retrieval`. The embedded articles are repeated with
//! varied wording until the base holds `BENCH_CHUNKS` (default 5,000) chunks; the evaluation's
//! questions are asked in turn. Prints the build time and the p50/p99 of one search (goal:
//! p99 ≤ 5 ms).

use std::time::Instant;

use moose_knowledge::{Chunk, KnowledgeBase};

fn main() {
    let target: usize = std::env::var("BENCH_CHUNKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let base = KnowledgeBase::builtin().chunks().to_vec();
    let mut articles: Vec<(String, String)> = Vec::new();
    let mut n = 0;
    let mut round = 0;
    while n < target {
        for c in &base {
            if n >= target {
                break;
            }
            // A distinct article per copy, with a few words of its own.
            articles.push((
                format!("{}-{round}", c.article),
                format!(
                    "# {} {round}\n\n## {}\n\n{} Plant {round} site note {n}.\n",
                    c.title, c.heading, c.text
                ),
            ));
            n += 1;
        }
        round += 1;
    }
    let started = Instant::now();
    let kb = KnowledgeBase::from_articles(articles.iter().map(|(a, t)| (a.as_str(), t.as_str())))
        .expect("articles parse");
    let build = started.elapsed();
    let questions = [
        "inverter 2 shows 447, what now?",
        "the system sends no data, what should I check first?",
        "how often should thermography be done?",
        "why can't I switch off the PV array in daylight?",
        "what does the data quality score mean?",
        "set up webhook notifications",
        "is it worth cleaning dirty panels?",
        "what is specific yield in kWh/kWp?",
    ];
    let mut times = Vec::new();
    for i in 0..2_000 {
        let q = questions[i % questions.len()];
        let t = Instant::now();
        let hits = kb.search(q, 5);
        times.push(t.elapsed());
        assert!(!hits.is_empty());
    }
    times.sort();
    let p = |q: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let i = ((times.len() as f64 * q) as usize).min(times.len() - 1);
        times[i].as_secs_f64() * 1000.0
    };
    let chunks: &[Chunk] = kb.chunks();
    println!(
        "retrieval: {} chunks indexed in {:.0} ms; search p50 {:.3} ms, p99 {:.3} ms (goal p99 ≤ 5 ms)",
        chunks.len(),
        build.as_secs_f64() * 1000.0,
        p(0.5),
        p(0.99)
    );
}
