//! Hybrid retrieval over the knowledge base: BM25 always (in-process, on every host), plus dense
//! vectors when an embeddings model is configured — in Pinecone when an index is configured,
//! otherwise in the store — fused by reciprocal rank. A dense side that fails falls back to BM25
//! alone for that query (and says so in the log), never failing the answer.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use moose_domain::keys;
use moose_knowledge::KnowledgeBase;
use moose_store::{BatchOp, Item, Key, Query, Store, StoreExt};
use serde::Serialize;
use serde_json::json;
use tokio::sync::OnceCell;

use crate::llm::{LlmClient, LlmError};
use crate::pinecone::{PineconeClient, PineconeError};

/// A passage found for a query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Passage {
    /// `<article>#<heading slug>`.
    pub id: String,
    /// The article's file stem.
    pub article: String,
    /// The article's title.
    pub title: String,
    /// The section's heading.
    pub heading: String,
    /// The section's text.
    pub text: String,
}

/// Where the dense vectors live.
#[derive(Debug)]
pub enum VectorIndex {
    /// A Pinecone index (production).
    Pinecone(PineconeClient),
    /// The store's `Knowledge` partition, loaded into memory on first use.
    Store(Arc<dyn Store>),
}

#[derive(Debug)]
struct Dense {
    embedder: LlmClient,
    index: VectorIndex,
    loaded: OnceCell<Vec<(usize, Vec<f32>)>>,
}

/// Why an ingest failed.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// No embeddings model is configured.
    #[error("no embeddings model is configured (set MOOSE_EMBEDDING_MODEL)")]
    NoEmbeddings,
    /// Embedding failed.
    #[error(transparent)]
    Embed(#[from] LlmError),
    /// Pinecone failed.
    #[error(transparent)]
    Pinecone(#[from] PineconeError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] moose_store::StoreError),
}

/// What an ingest did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    /// Articles.
    pub articles: usize,
    /// Chunks indexed.
    pub chunks: usize,
    /// Vectors written (0 without an embeddings model).
    pub vectors: usize,
    /// Their dimension.
    pub dimension: usize,
    /// Where they went (`pinecone`, `store` or `none`).
    pub target: &'static str,
}

/// Where the articles come from.
#[derive(Debug, Clone)]
pub enum KnowledgeSource {
    /// The articles embedded in this build.
    Builtin,
    /// A folder of Markdown articles, read on first use (the built-in ones if it cannot be read).
    Dir(std::path::PathBuf),
    /// Articles already loaded.
    Given(Arc<KnowledgeBase>),
}

#[derive(Debug)]
struct Loaded {
    kb: Arc<KnowledgeBase>,
    by_id: HashMap<String, usize>,
}

/// The knowledge base with its retrievers. Nothing is read or indexed until the first search,
/// so that building one costs a Lambda function's cold start nothing.
#[derive(Debug)]
pub struct Retriever {
    source: KnowledgeSource,
    loaded: std::sync::OnceLock<Loaded>,
    dense: Option<Dense>,
    dense_failures: AtomicU64,
}

/// Candidates taken from each ranking before fusion.
const CANDIDATES: usize = 20;
/// Texts per embeddings request at ingest.
const EMBED_BATCH: usize = 64;

fn vector_id(chunk: &str) -> String {
    format!("kb:{chunk}")
}

fn encode(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn decode(s: &str) -> Option<Vec<f32>> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
    (bytes.len() % 4 == 0).then(|| {
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    })
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

impl Retriever {
    /// BM25 only.
    pub fn lexical(source: KnowledgeSource) -> Self {
        Self {
            source,
            loaded: std::sync::OnceLock::new(),
            dense: None,
            dense_failures: AtomicU64::new(0),
        }
    }

    /// BM25 fused with dense vectors embedded by `embedder` and kept in `index`.
    pub fn hybrid(source: KnowledgeSource, embedder: LlmClient, index: VectorIndex) -> Self {
        let mut r = Self::lexical(source);
        r.dense = Some(Dense {
            embedder,
            index,
            loaded: OnceCell::new(),
        });
        r
    }

    fn loaded(&self) -> &Loaded {
        self.loaded.get_or_init(|| {
            let kb = match &self.source {
                KnowledgeSource::Builtin => Arc::new(KnowledgeBase::builtin().clone()),
                KnowledgeSource::Given(kb) => Arc::clone(kb),
                KnowledgeSource::Dir(dir) => match KnowledgeBase::from_dir(dir) {
                    Ok(kb) => Arc::new(kb),
                    Err(e) => {
                        tracing::error!(error = %e, "the knowledge folder cannot be used; the built-in articles answer instead");
                        Arc::new(KnowledgeBase::builtin().clone())
                    }
                },
            };
            let by_id = kb
                .chunks()
                .iter()
                .enumerate()
                .map(|(i, c)| (c.id.clone(), i))
                .collect();
            Loaded { kb, by_id }
        })
    }

    /// The knowledge base (loaded on first use).
    pub fn kb(&self) -> &KnowledgeBase {
        &self.loaded().kb
    }

    /// Where the articles come from.
    pub fn source(&self) -> &KnowledgeSource {
        &self.source
    }

    /// The embeddings client and the vector index, when dense retrieval is configured.
    pub fn dense(&self) -> Option<(&LlmClient, &VectorIndex)> {
        self.dense.as_ref().map(|d| (&d.embedder, &d.index))
    }

    /// Whether dense retrieval is configured.
    pub fn is_hybrid(&self) -> bool {
        self.dense.is_some()
    }

    /// Dense lookups that failed and fell back to BM25 alone.
    pub fn dense_failures(&self) -> u64 {
        self.dense_failures.load(Ordering::Relaxed)
    }

    fn passage(&self, i: usize) -> Passage {
        let c = &self.kb().chunks()[i];
        Passage {
            id: c.id.clone(),
            article: c.article.clone(),
            title: c.title.clone(),
            heading: c.heading.clone(),
            text: c.text.clone(),
        }
    }

    /// The `k` best passages for `query`, best first.
    pub async fn search(&self, query: &str, k: usize) -> Vec<Passage> {
        let by_id = &self.loaded().by_id;
        let Some(dense) = &self.dense else {
            return self
                .kb()
                .search(query, k)
                .iter()
                .filter_map(|h| by_id.get(&h.chunk.id).map(|i| self.passage(*i)))
                .collect();
        };
        let ranking = match self.dense_ranking(dense, query).await {
            Ok(r) => r,
            Err(e) => {
                self.dense_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "dense retrieval failed; BM25 alone for this query");
                Vec::new()
            }
        };
        self.kb()
            .search_hybrid(query, &ranking, k)
            .iter()
            .filter_map(|h| by_id.get(&h.chunk.id).map(|i| self.passage(*i)))
            .collect()
    }

    async fn dense_ranking(&self, dense: &Dense, query: &str) -> Result<Vec<usize>, IngestError> {
        let q = dense
            .embedder
            .embed(&[query.to_owned()])
            .await?
            .pop()
            .unwrap_or_default();
        match &dense.index {
            VectorIndex::Pinecone(p) => Ok(p
                .query(&q, CANDIDATES)
                .await?
                .into_iter()
                .filter_map(|m| {
                    m.id.strip_prefix("kb:")
                        .and_then(|id| self.loaded().by_id.get(id).copied())
                })
                .collect()),
            VectorIndex::Store(store) => {
                let vectors = dense
                    .loaded
                    .get_or_try_init(|| self.load(store.as_ref()))
                    .await?;
                let mut scored: Vec<(usize, f32)> =
                    vectors.iter().map(|(i, v)| (*i, cosine(&q, v))).collect();
                scored.sort_by(|a, b| b.1.total_cmp(&a.1));
                Ok(scored
                    .into_iter()
                    .take(CANDIDATES)
                    .map(|(i, _)| i)
                    .collect())
            }
        }
    }

    async fn load(&self, store: &dyn Store) -> Result<Vec<(usize, Vec<f32>)>, IngestError> {
        let q = Query::partition(keys::KNOWLEDGE_PK).begins_with(keys::KNOWLEDGE_VECTOR_PREFIX);
        let items = store.query_all(&q).await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let chunk = item.key.sk.strip_prefix(keys::KNOWLEDGE_VECTOR_PREFIX)?;
                let i = *self.loaded().by_id.get(chunk)?;
                Some((i, decode(item.str_attr("values")?)?))
            })
            .collect())
    }

    /// Embeds every chunk and writes the vectors to the dense index, reporting progress as
    /// `(done, total)`. Re-running it overwrites the same ids.
    pub async fn ingest(
        &self,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<IngestReport, IngestError> {
        let chunks = self.kb().chunks();
        let articles = {
            let mut a: Vec<&str> = chunks.iter().map(|c| c.article.as_str()).collect();
            a.dedup();
            a.len()
        };
        let Some(dense) = &self.dense else {
            return Err(IngestError::NoEmbeddings);
        };
        let mut written = 0;
        let mut dimension = 0;
        progress(0, chunks.len());
        for batch in chunks.chunks(EMBED_BATCH) {
            let texts: Vec<String> = batch
                .iter()
                .map(|c| format!("{} — {}\n{}", c.title, c.heading, c.text))
                .collect();
            let vectors = dense.embedder.embed(&texts).await?;
            dimension = vectors.first().map_or(0, Vec::len);
            match &dense.index {
                VectorIndex::Pinecone(p) => {
                    if written == 0 {
                        p.check(dimension).await?;
                    }
                    let rows: Vec<_> = batch
                        .iter()
                        .zip(vectors)
                        .map(|(c, v)| {
                            let meta = json!({"source": "kb", "article": c.article, "title": c.title, "heading": c.heading});
                            (vector_id(&c.id), v, meta)
                        })
                        .collect();
                    p.upsert(&rows).await?;
                }
                VectorIndex::Store(store) => {
                    let model = dense.embedder.settings().embedding_model.clone();
                    let at = moose_domain::time::now_utc().to_string();
                    let ops: Vec<BatchOp> = batch
                        .iter()
                        .zip(&vectors)
                        .map(|(c, v)| {
                            let attrs = json!({"values": encode(v), "dim": v.len(), "model": model, "ingested_at": at});
                            BatchOp::Put(Item::new(
                                Key::new(keys::KNOWLEDGE_PK, keys::knowledge_vector_sk(&c.id)),
                                attrs.as_object().cloned().unwrap_or_default(),
                            ))
                        })
                        .collect();
                    for part in ops.chunks(25) {
                        store.batch_write(part.to_vec()).await?;
                    }
                }
            }
            written += batch.len();
            progress(written, chunks.len());
        }
        Ok(IngestReport {
            articles,
            chunks: chunks.len(),
            vectors: written,
            dimension,
            target: match dense.index {
                VectorIndex::Pinecone(_) => "pinecone",
                VectorIndex::Store(_) => "store",
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_survive_the_store_encoding() {
        let v = vec![0.5f32, -1.25, 3.0e-7, 0.0];
        assert_eq!(decode(&encode(&v)), Some(v));
        assert_eq!(decode("AAA"), None);
        assert!((cosine(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }

    #[tokio::test]
    async fn bm25_alone_finds_the_state_code_article() {
        let r = Retriever::lexical(KnowledgeSource::Builtin);
        let hits = r.search("insulation fault 447", 3).await;
        assert!(!hits.is_empty());
        assert!(!r.is_hybrid());
    }
}
