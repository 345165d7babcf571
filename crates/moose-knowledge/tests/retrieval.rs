//! The retrieval evaluation: questions → the article (and heading) that answers them, over the
//! embedded knowledge base. Prints recall@5 and MRR (BM25; hybrid once an embeddings endpoint
//! is configured for the assistant) and fails below the goals.

use moose_knowledge::KnowledgeBase;
use serde::Deserialize;

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

#[test]
fn the_knowledge_base_finds_the_article_that_answers() {
    let kb = KnowledgeBase::builtin();
    assert!(
        kb.chunks().len() > 100,
        "the embedded articles: {}",
        kb.chunks().len()
    );
    let eval: Eval = toml::from_str(include_str!("../eval/retrieval.toml")).unwrap();
    assert!(eval.case.len() >= 30);
    let (mut found, mut rr, mut misses) = (0usize, 0.0f64, Vec::new());
    for c in &eval.case {
        // Every expected article and heading exists: the eval cannot pass by a typo.
        assert!(
            kb.chunks()
                .iter()
                .any(|k| k.article == c.article
                    && c.heading.as_ref().is_none_or(|h| &k.heading == h)),
            "no chunk {} / {:?}",
            c.article,
            c.heading
        );
        let hits = kb.search(&c.question, 5);
        let rank = hits.iter().position(|h| {
            h.chunk.article == c.article && c.heading.as_ref().is_none_or(|x| &h.chunk.heading == x)
        });
        match rank {
            Some(r) => {
                found += 1;
                #[allow(clippy::cast_precision_loss)]
                {
                    rr += 1.0 / (r as f64 + 1.0);
                }
            }
            None => misses.push(format!(
                "{:?} → {:?}",
                c.question,
                hits.iter()
                    .map(|h| format!("{} / {}", h.chunk.article, h.chunk.heading))
                    .collect::<Vec<_>>()
            )),
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let (recall, mrr) = (
        found as f64 / eval.case.len() as f64,
        rr / eval.case.len() as f64,
    );
    println!(
        "retrieval over {} chunks, {} questions: BM25 recall@5 {recall:.2}, MRR {mrr:.2}; hybrid: no embeddings endpoint in the suite",
        kb.chunks().len(),
        eval.case.len()
    );
    for m in &misses {
        println!("  missed: {m}");
    }
    assert!(recall >= 0.85, "recall@5 {recall:.2}: {misses:#?}");
    assert!(mrr >= 0.6, "MRR {mrr:.2}");
}
