//! The assistant's counters: turns by mode, latency, tool calls, tokens, fallbacks to the
//! offline answerer by reason, and errors. Process-local; the release tooling reads a snapshot.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::{Answer, Mode};

/// Upper bounds of the latency histogram's buckets, milliseconds.
const BUCKETS_MS: [u64; 10] = [5, 10, 25, 50, 100, 250, 500, 1000, 5000, 30000];

/// Counters of one process.
#[derive(Debug, Default)]
pub struct Counters {
    turns_model: AtomicU64,
    turns_offline: AtomicU64,
    tool_calls: AtomicU64,
    tokens: AtomicU64,
    errors: AtomicU64,
    latency_ms_sum: AtomicU64,
    latency: [AtomicU64; BUCKETS_MS.len() + 1],
    fallbacks: Mutex<BTreeMap<&'static str, u64>>,
}

/// A copy of the counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// Chat turns answered (both modes).
    pub requests: u64,
    /// Turns answered by the language model.
    pub model_turns: u64,
    /// Turns answered offline (no model, or a fallback).
    pub offline_turns: u64,
    /// Tool calls the model made.
    pub tool_calls: u64,
    /// Tokens used.
    pub tokens: u64,
    /// Requests that failed (answered 5xx).
    pub errors: u64,
    /// Fallbacks to the offline answerer, by reason.
    pub fallbacks: BTreeMap<String, u64>,
    /// Sum of turn latencies, ms.
    pub latency_ms_sum: u64,
    /// Turns per latency bucket: `le_<ms>` and `le_inf`.
    pub latency_buckets: BTreeMap<String, u64>,
}

impl Counters {
    /// Counts a finished turn.
    pub fn turn(&self, answer: &Answer, took: Duration) {
        let mode = match answer.mode {
            Mode::Model => "model",
            Mode::Offline => "offline",
        };
        match answer.mode {
            Mode::Model => &self.turns_model,
            Mode::Offline => &self.turns_offline,
        }
        .fetch_add(1, Ordering::Relaxed);
        moose_metrics::count(
            "moose_chat_requests_total",
            "Assistant turns by mode.",
            &[("mode", mode)],
            1,
        );
        if let Some(u) = answer.usage {
            self.tokens.fetch_add(u.total_tokens, Ordering::Relaxed);
            moose_metrics::count(
                "moose_chat_tokens_total",
                "Language-model tokens used.",
                &[],
                u.total_tokens,
            );
        }
        moose_metrics::observe(
            "moose_chat_duration_seconds",
            "Assistant turn latency.",
            &[],
            took.as_secs_f64(),
        );
        let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        self.latency_ms_sum.fetch_add(ms, Ordering::Relaxed);
        let slot = BUCKETS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(BUCKETS_MS.len());
        self.latency[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a tool call made by the model.
    pub fn tool_call(&self) {
        self.tool_calls.fetch_add(1, Ordering::Relaxed);
        moose_metrics::count(
            "moose_chat_tool_calls_total",
            "Tool calls made by the model.",
            &[],
            1,
        );
    }

    /// Counts a fallback to the offline answerer.
    pub fn fallback(&self, why: &'static str) {
        moose_metrics::count(
            "moose_chat_fallbacks_total",
            "Turns answered offline instead of by the model, by reason.",
            &[("reason", why)],
            1,
        );
        if let Ok(mut m) = self.fallbacks.lock() {
            *m.entry(why).or_default() += 1;
        }
    }

    /// Counts a failed request.
    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        moose_metrics::count(
            "moose_chat_errors_total",
            "Chat requests that failed.",
            &[],
            1,
        );
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> Snapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut buckets = BTreeMap::new();
        for (i, b) in self.latency.iter().enumerate() {
            let name = BUCKETS_MS
                .get(i)
                .map_or_else(|| "le_inf".to_owned(), |ms| format!("le_{ms:05}"));
            buckets.insert(name, get(b));
        }
        let model = get(&self.turns_model);
        let offline = get(&self.turns_offline);
        Snapshot {
            requests: model + offline,
            model_turns: model,
            offline_turns: offline,
            tool_calls: get(&self.tool_calls),
            tokens: get(&self.tokens),
            errors: get(&self.errors),
            fallbacks: self
                .fallbacks
                .lock()
                .map(|m| m.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect())
                .unwrap_or_default(),
            latency_ms_sum: get(&self.latency_ms_sum),
            latency_buckets: buckets,
        }
    }
}
