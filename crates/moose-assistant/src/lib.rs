//! The O&M assistant behind `chat-service`.
//!
//! [`engine::Assistant`] answers a turn: with a language model (any OpenAI-compatible server,
//! [`llm`]) that reaches Moose's data only through [`tools`] the host implements under the
//! caller's identity, or — with no model, when the model fails, is out of quota or the caller's
//! token budget is spent, or when its answer states a figure no tool gave ([`grounding`]) — with
//! the **offline answerer** ([`offline`]), which routes the question to the same tools and
//! answers in plain sentences with the exact figures. Knowledge passages come from hybrid
//! retrieval ([`retrieval`]: BM25, plus dense vectors in Pinecone ([`pinecone`]) or the store).
//! Actions are only ever proposed. Answers are values ([`Answer`]); storing conversations and
//! serving them is the API's business.

pub mod data;
pub mod engine;
pub mod grounding;
pub mod llm;
pub mod metrics;
pub mod offline;
pub mod pinecone;
pub mod retrieval;
pub mod tools;

pub use engine::{Assistant, Limits, Turn};
pub use tools::{ToolError, Toolbox};

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
    /// By the language model, with the tools.
    Model,
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
    /// Tokens the language model used this turn.
    pub usage: Option<llm::Usage>,
    /// The tool calls of the turn and what they returned.
    pub consulted: Vec<tools::ToolRecord>,
    /// Actions proposed this turn, waiting for the user's confirmation.
    pub proposed: Vec<serde_json::Value>,
    /// Time spent waiting for the language model this turn.
    #[serde(skip)]
    pub model_time: std::time::Duration,
}

impl Answer {
    /// An answer made without a language model, saying so.
    pub fn offline(text: String, citations: Vec<Citation>) -> Self {
        Self {
            text,
            citations,
            mode: Mode::Offline,
            notice: Some(offline::NOTICE.to_owned()),
            usage: None,
            consulted: Vec::new(),
            proposed: Vec::new(),
            model_time: std::time::Duration::ZERO,
        }
    }
}
