//! Dense and hybrid retrieval against the fake Pinecone and the fake embeddings server on
//! loopback, and against vectors kept in a real SQLite store; the retrieval evaluation for BM25
//! alone and for hybrid.

use std::sync::Arc;
use std::time::Duration;

use moose_assistant::llm::{LlmClient, LlmSettings};
use moose_assistant::pinecone::{PineconeClient, PineconeError, PineconeSettings};
use moose_assistant::retrieval::{KnowledgeSource, Retriever, VectorIndex};
use moose_domain::Secret;
use moose_fakes::openai::FakeOpenAi;
use moose_fakes::pinecone::{FakePinecone, Kind};
use serde::Deserialize;

const DIM: usize = 256;

fn embedder(fake: &FakeOpenAi) -> LlmClient {
    let mut s = LlmSettings::new(fake.base_url(), Some(Secret::new("sk")), "m");
    s.embedding_model = Some("text-embedding-3-small".into());
    s.timeout = Duration::from_secs(5);
    LlmClient::new(s)
}

fn pinecone(fake: &FakePinecone, name: &str, host: Option<&str>) -> PineconeClient {
    PineconeClient::new(PineconeSettings {
        api_key: Secret::new("pc-key"),
        index_name: name.into(),
        control_url: fake.url().into(),
        index_host: host.map(str::to_owned),
        namespace: "kb".into(),
        timeout: Duration::from_secs(5),
    })
}

#[tokio::test]
async fn an_index_that_is_not_a_dense_index_of_the_right_dimension_is_refused() {
    let good = FakePinecone::start("pc-key", "moose-om", Kind::Vectors(DIM)).await;
    let info = pinecone(&good, "moose-om", None).check(DIM).await.unwrap();
    assert_eq!(info.dimension, DIM as u64);
    let e = pinecone(&good, "moose-om", None)
        .check(1536)
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("dimension is 256 but the embeddings have 1536"),
        "{e}"
    );
    let e = pinecone(&good, "other", None).check(DIM).await.unwrap_err();
    assert!(matches!(e, PineconeError::Http { status: 404, .. }), "{e}");
    let docs = FakePinecone::start("pc-key", "moose-om", Kind::Documents).await;
    let e = pinecone(&docs, "moose-om", None)
        .check(DIM)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not a vector index"), "{e}");
}

#[tokio::test]
async fn ingest_writes_every_chunk_to_pinecone_and_queries_fuse_with_bm25() {
    let ai = FakeOpenAi::start(Some("sk"), DIM).await;
    let pc = FakePinecone::start("pc-key", "moose-om", Kind::Vectors(DIM)).await;
    let r = Retriever::hybrid(
        KnowledgeSource::Builtin,
        embedder(&ai),
        VectorIndex::Pinecone(pinecone(&pc, "moose-om", None)),
    );
    let mut seen = Vec::new();
    let report = r
        .ingest(|done, total| seen.push((done, total)))
        .await
        .unwrap();
    assert_eq!(report.chunks, r.kb().chunks().len());
    assert_eq!(report.vectors, report.chunks);
    assert_eq!(report.dimension, DIM);
    assert_eq!(pc.count("kb"), report.chunks, "one vector per chunk");
    assert_eq!(seen.last(), Some(&(report.chunks, report.chunks)));
    // Re-ingesting overwrites the same ids.
    r.ingest(|_, _| {}).await.unwrap();
    assert_eq!(pc.count("kb"), report.chunks);
    let hits = r.search("inverter 2 shows 447, what now?", 5).await;
    assert!(
        hits.iter().any(|h| h.article.contains("insulation")),
        "{hits:?}"
    );
    assert!(pc.queries() >= 1);
    // Pinecone failing: the query still answers, from BM25 alone.
    pc.fail_next(&[503]);
    let hits = r.search("inverter 2 shows 447, what now?", 5).await;
    assert!(!hits.is_empty());
    assert_eq!(r.dense_failures(), 1);
}

#[derive(Deserialize)]
struct Eval {
    case: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    question: String,
    article: String,
    heading: Option<String>,
}

async fn score(r: &Retriever, eval: &Eval) -> (f64, f64) {
    let (mut found, mut rr) = (0.0, 0.0);
    for c in &eval.case {
        let hits = r.search(&c.question, 5).await;
        if let Some(rank) = hits.iter().position(|h| {
            h.article == c.article && c.heading.as_ref().is_none_or(|x| &h.heading == x)
        }) {
            found += 1.0;
            rr += 1.0 / (rank as f64 + 1.0);
        }
    }
    let n = eval.case.len() as f64;
    (found / n, rr / n)
}

#[tokio::test]
async fn the_retrieval_eval_scores_bm25_and_hybrid_with_vectors_in_the_store() {
    let eval: Eval =
        toml::from_str(include_str!("../../moose-knowledge/eval/retrieval.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn moose_store::Store> = Arc::new(
        moose_store_sqlite::SqliteStore::open(dir.path())
            .await
            .unwrap(),
    );
    let ai = FakeOpenAi::start(Some("sk"), DIM).await;
    let writer = Retriever::hybrid(
        KnowledgeSource::Builtin,
        embedder(&ai),
        VectorIndex::Store(Arc::clone(&store)),
    );
    let report = writer.ingest(|_, _| {}).await.unwrap();
    assert_eq!(report.target, "store");
    // A fresh retriever (another process) reads the vectors from the store.
    let hybrid = Retriever::hybrid(
        KnowledgeSource::Builtin,
        embedder(&ai),
        VectorIndex::Store(Arc::clone(&store)),
    );
    let lexical = Retriever::lexical(KnowledgeSource::Builtin);
    let (r_bm25, mrr_bm25) = score(&lexical, &eval).await;
    let (r_hybrid, mrr_hybrid) = score(&hybrid, &eval).await;
    println!(
        "retrieval eval, {} questions over {} chunks: BM25 recall@5 {r_bm25:.2} MRR {mrr_bm25:.2}; \
         hybrid (BM25 + the fake's hashed bag-of-words vectors, RRF) recall@5 {r_hybrid:.2} MRR {mrr_hybrid:.2}",
        eval.case.len(),
        report.chunks
    );
    assert_eq!(hybrid.dense_failures(), 0, "the dense side answered");
    assert!(r_bm25 >= 0.85 && mrr_bm25 >= 0.6);
    // The fake's vectors are lexical too; fusion must not make retrieval worse than BM25 by much.
    assert!(
        r_hybrid >= r_bm25 - 0.05,
        "hybrid {r_hybrid:.2} vs BM25 {r_bm25:.2}"
    );
}
