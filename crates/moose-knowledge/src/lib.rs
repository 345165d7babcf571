//! The O&M knowledge base the assistant cites.
//!
//! The team's Markdown articles in the repository's `knowledge/` folder are embedded at build
//! time ([`KnowledgeBase::builtin`]) or read from a folder ([`KnowledgeBase::from_dir`]), split
//! into chunks by `##` heading ([`article`]), and searched with an in-process BM25 index
//! ([`bm25`]); dense retrieval, when an embeddings endpoint is configured, is fused with it by
//! reciprocal rank ([`bm25::fuse`]). Citations name the article and the heading.

pub mod article;
pub mod bm25;

use std::sync::OnceLock;

pub use article::{ArticleError, Chunk};
use bm25::Bm25;

include!(concat!(env!("OUT_DIR"), "/articles.rs"));

/// Why a knowledge base cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    /// An article is malformed.
    #[error(transparent)]
    Article(#[from] ArticleError),
    /// The folder cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// What was read.
        path: String,
        /// Why not.
        source: std::io::Error,
    },
    /// The folder holds no article.
    #[error("{0} holds no Markdown article")]
    Empty(String),
}

/// A passage found for a query.
#[derive(Debug, Clone, Copy)]
pub struct Hit<'a> {
    /// The passage.
    pub chunk: &'a Chunk,
    /// Its score (BM25, or fused).
    pub score: f64,
}

/// Articles, their chunks and the index over them.
#[derive(Debug, Clone)]
pub struct KnowledgeBase {
    chunks: Vec<Chunk>,
    index: Bm25,
}

impl KnowledgeBase {
    /// From `(article, markdown)` pairs.
    pub fn from_articles<'a>(
        articles: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ArticleError> {
        let mut chunks = Vec::new();
        for (name, md) in articles {
            chunks.extend(article::parse(name, md)?);
        }
        let index = Bm25::build(&chunks);
        Ok(Self { chunks, index })
    }

    /// The articles embedded in this build (the repository's `knowledge/` folder).
    pub fn builtin() -> &'static Self {
        static KB: OnceLock<KnowledgeBase> = OnceLock::new();
        KB.get_or_init(|| {
            // The build embeds only articles the tests parse; a malformed one fails them.
            Self::from_articles(ARTICLES.iter().copied()).unwrap_or_else(|e| {
                tracing_free_warning(&e);
                Self {
                    chunks: Vec::new(),
                    index: Bm25::default(),
                }
            })
        })
    }

    /// Every `*.md` article of a folder (its `README.md` excepted).
    pub fn from_dir(dir: &std::path::Path) -> Result<Self, KnowledgeError> {
        let io = |source| KnowledgeError::Io {
            path: dir.display().to_string(),
            source,
        };
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|e| e == "md")
                    && p.file_name().is_some_and(|n| n != "README.md")
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(KnowledgeError::Empty(dir.display().to_string()));
        }
        let mut texts = Vec::new();
        for f in &files {
            let text = std::fs::read_to_string(f).map_err(|source| KnowledgeError::Io {
                path: f.display().to_string(),
                source,
            })?;
            let stem = f
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned();
            texts.push((stem, text));
        }
        Ok(Self::from_articles(
            texts.iter().map(|(a, t)| (a.as_str(), t.as_str())),
        )?)
    }

    /// Every chunk.
    pub fn chunks(&self) -> &[Chunk] {
        &self.chunks
    }

    /// The `k` best passages for `query`, best first (BM25).
    pub fn search(&self, query: &str, k: usize) -> Vec<Hit<'_>> {
        self.index
            .search(query, k)
            .into_iter()
            .map(|(i, score)| Hit {
                chunk: &self.chunks[i],
                score: f64::from(score),
            })
            .collect()
    }

    /// The `k` best passages fusing BM25 with a dense ranking (chunk indices, best first) by
    /// reciprocal rank.
    pub fn search_hybrid(&self, query: &str, dense: &[usize], k: usize) -> Vec<Hit<'_>> {
        let lexical: Vec<usize> = self
            .index
            .search(query, k.max(20))
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        bm25::fuse(&[lexical, dense.to_vec()], k)
            .into_iter()
            .filter(|(i, _)| *i < self.chunks.len())
            .map(|(i, score)| Hit {
                chunk: &self.chunks[i],
                score,
            })
            .collect()
    }
}

/// The embedded articles failed to parse: say so on stderr once (no logging dependency here).
fn tracing_free_warning(e: &ArticleError) {
    eprintln!("moose-knowledge: the embedded knowledge base is unusable: {e}");
}
