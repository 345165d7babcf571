//! The O&M assistant behind `chat-service`.
//!
//! This first part is the **offline answerer** ([`offline`]): with no language model
//! configured it still answers, from the explained state-code table and the knowledge base,
//! in plain sentences with citations (article and heading), and says that no language model
//! is configured; questions about a system's production are answered from facts the host reads
//! under the caller's access ([`data`]). Answers are values ([`Answer`]); reading data, storing
//! conversations and serving them is the API's business.

pub mod data;
pub mod offline;

use serde::Serialize;

/// A source an answer rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Citation {
    /// A knowledge-base passage.
    Knowledge {
        /// The article's file stem.
        article: String,
        /// The article's title.
        title: String,
        /// The section's heading.
        heading: String,
        /// `<article>#<heading slug>`.
        id: String,
    },
    /// A figure from Moose's own data, under the caller's access.
    Data {
        /// Which query (as the HTTP API names it).
        query: String,
        /// Which system.
        system: String,
        /// Which period (site-local dates).
        period: String,
    },
    /// An entry of the explained state-code table.
    StateCode {
        /// The code.
        code: i64,
        /// The table's version.
        table_version: String,
    },
}

/// How an answer was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Without a language model, from the tools and the knowledge base.
    Offline,
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[must_use]
pub struct Answer {
    /// The answer in plain text.
    pub text: String,
    /// What it rests on.
    pub citations: Vec<Citation>,
    /// How it was made.
    pub mode: Mode,
    /// Said alongside (e.g. that no language model is configured).
    pub notice: Option<String>,
}

impl Answer {
    /// An answer made without a language model, saying so.
    pub fn offline(text: String, citations: Vec<Citation>) -> Self {
        Self {
            text,
            citations,
            mode: Mode::Offline,
            notice: Some(offline::NOTICE.to_owned()),
        }
    }
}
