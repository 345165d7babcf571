//! `moose kb ingest [DIR]` and `moose kb search QUERY`: the assistant's knowledge base.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Subcommand;
use moose_assistant::llm::{LlmClient, LlmSettings};
use moose_assistant::retrieval::{KnowledgeSource, Retriever};
use moose_knowledge::KnowledgeBase;

use crate::cli::{Cli, Failure};
use crate::setup::Setup;

#[derive(Debug, Subcommand)]
pub(crate) enum KbCommand {
    /// Embed every article's chunks and write the vectors to the Pinecone index
    /// (PINECONE_INDEX_NAME) or, without one, to the store. DIR defaults to the articles built
    /// into this binary; the assistant reads the same folder when MOOSE_KNOWLEDGE_DIR names it.
    Ingest {
        /// A folder of Markdown articles (`# Title`, then `## Heading` sections).
        dir: Option<PathBuf>,
    },
    /// Print the passages the assistant would cite for a question (BM25, or hybrid when an
    /// embeddings model is configured).
    Search {
        /// The question.
        query: String,
    },
}

pub(crate) fn run(cli: &Cli, command: &KbCommand) -> Result<(), Failure> {
    Setup::with_data_dir(cli, None)?.run(async |app| {
        let config = app.config();
        let source = match command {
            KbCommand::Ingest { dir: Some(dir) } => {
                let kb = KnowledgeBase::from_dir(dir)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
                KnowledgeSource::Given(Arc::new(kb))
            }
            _ => match &config.assistant.knowledge_dir {
                Some(dir) => {
                    KnowledgeSource::Given(Arc::new(KnowledgeBase::from_dir(dir).map_err(|e| {
                        anyhow::anyhow!("MOOSE_KNOWLEDGE_DIR {}: {e}", dir.display())
                    })?))
                }
                None => KnowledgeSource::Builtin,
            },
        };
        let retriever = match config.assistant.embeddings() {
            Some(model) => {
                let a = &config.assistant;
                let mut s = LlmSettings::new(
                    a.openai_base_url.clone(),
                    a.openai_api_key.clone(),
                    a.model.clone(),
                );
                s.embedding_model = Some(model.to_owned());
                s.timeout = std::time::Duration::from_secs(a.timeout_secs.max(30));
                Retriever::hybrid(
                    source,
                    LlmClient::new(s),
                    moose_app::vector_index(config, app.store()),
                )
            }
            None => Retriever::lexical(source),
        };
        match command {
            KbCommand::Ingest { .. } => ingest(&retriever).await,
            KbCommand::Search { query } => {
                for (n, p) in retriever.search(query, 5).await.iter().enumerate() {
                    println!("{}. {} — {} [{}]", n + 1, p.title, p.heading, p.id);
                }
                Ok(())
            }
        }
    })
}

async fn ingest(retriever: &Retriever) -> anyhow::Result<()> {
    let kb = retriever.kb();
    if !retriever.is_hybrid() {
        println!(
            "{} chunks checked; no embeddings model is configured (MOOSE_EMBEDDING_MODEL), so retrieval is BM25 over the articles, built in memory at start: nothing to write",
            kb.chunks().len()
        );
        return Ok(());
    }
    let tty = std::io::stderr().is_terminal();
    let report = retriever
        .ingest(|done, total| {
            let width = 30;
            let filled = (done * width)
                .checked_div(total)
                .unwrap_or(width)
                .min(width);
            let line = format!(
                "kb ingest [{}{}] {done}/{total} chunks",
                "#".repeat(filled),
                ".".repeat(width - filled)
            );
            if tty {
                eprint!("\r{line}");
            } else if done == total {
                tracing::info!("{line}");
            }
        })
        .await;
    if tty {
        eprintln!();
    }
    let report = report?;
    println!(
        "indexed {} chunks of {} articles: {} vectors of dimension {} written to {}",
        report.chunks, report.articles, report.vectors, report.dimension, report.target
    );
    Ok(())
}
