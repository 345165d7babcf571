//! An in-process BM25 index over chunks: no server, no files, the same on every host (the
//! Lambda functions included), built in milliseconds from the embedded articles.

use std::collections::HashMap;

use crate::article::Chunk;

/// BM25's term-frequency saturation.
const K1: f32 = 1.2;
/// BM25's length normalisation.
const B: f32 = 0.75;

/// Words too common to tell passages apart.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "has",
    "have", "how", "i", "if", "in", "is", "it", "its", "me", "my", "of", "on", "or", "our", "so",
    "that", "the", "their", "then", "there", "this", "to", "was", "we", "what", "when", "which",
    "who", "why", "will", "with", "you", "your",
];

/// Lower-case words and numbers, stop words dropped, plural and verb endings folded so that
/// "inverters" finds "inverter" and "cleaning" finds "clean".
pub fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .map(|w| stem(&w))
        .collect()
}

/// A light suffix folding (not a full stemmer: predictable and the same for text and query).
fn stem(word: &str) -> String {
    if word.chars().any(|c| c.is_ascii_digit()) {
        return word.to_owned();
    }
    for (suffix, min, replace) in [
        ("ies", 5, "y"),
        ("ing", 6, ""),
        ("ed", 5, ""),
        ("es", 5, ""),
        ("s", 4, ""),
    ] {
        if word.len() >= min
            && let Some(base) = word.strip_suffix(suffix)
            && !base.ends_with('s')
        {
            return format!("{base}{replace}");
        }
    }
    word.to_owned()
}

/// The index.
#[derive(Debug, Clone, Default)]
pub struct Bm25 {
    /// Term → (chunk, frequency) postings.
    postings: HashMap<String, Vec<(u32, u32)>>,
    /// Token count per chunk.
    lengths: Vec<u32>,
    average: f32,
}

impl Bm25 {
    /// Indexes `chunks`; a chunk's title and heading count twice, as they say what it is about.
    pub fn build(chunks: &[Chunk]) -> Self {
        let mut postings: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
        let mut lengths = Vec::with_capacity(chunks.len());
        for (i, c) in chunks.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let mut counts: HashMap<String, u32> = HashMap::new();
            let head = format!("{} {}", c.title, c.heading);
            let all = tokens(&head)
                .into_iter()
                .chain(tokens(&head))
                .chain(tokens(&c.text));
            let mut n = 0;
            for t in all {
                *counts.entry(t).or_default() += 1;
                n += 1;
            }
            lengths.push(n);
            for (t, f) in counts {
                postings.entry(t).or_default().push((i, f));
            }
        }
        #[allow(clippy::cast_precision_loss)]
        let average = if lengths.is_empty() {
            1.0
        } else {
            lengths.iter().map(|l| *l as f32).sum::<f32>() / lengths.len() as f32
        };
        Self {
            postings,
            lengths,
            average,
        }
    }

    /// The `k` best chunks for `query`, best first, as (chunk index, score); chunks sharing no
    /// word with the query are not returned.
    pub fn search(&self, query: &str, k: usize) -> Vec<(usize, f32)> {
        let n = self.lengths.len();
        let mut scores: HashMap<u32, f32> = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        for term in tokens(query) {
            if !seen.insert(term.clone()) {
                continue;
            }
            let Some(list) = self.postings.get(&term) else {
                continue;
            };
            #[allow(clippy::cast_precision_loss)]
            let (n, df) = (n as f32, list.len() as f32);
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(doc, tf) in list {
                #[allow(clippy::cast_precision_loss)]
                let (tf, len) = (tf as f32, self.lengths[doc as usize] as f32);
                let norm = tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / self.average));
                *scores.entry(doc).or_default() += idf * norm;
            }
        }
        let mut ranked: Vec<(usize, f32)> =
            scores.into_iter().map(|(d, s)| (d as usize, s)).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(k);
        ranked
    }
}

/// Reciprocal-rank fusion of several rankings (chunk indices, best first): each list gives a
/// chunk `1 / (60 + rank)`, so a chunk ranked well by both lexical and dense retrieval wins
/// without their scores having to be comparable.
pub fn fuse(rankings: &[Vec<usize>], k: usize) -> Vec<(usize, f64)> {
    let mut scores: HashMap<usize, f64> = HashMap::new();
    for list in rankings {
        for (rank, doc) in list.iter().enumerate() {
            #[allow(clippy::cast_precision_loss)]
            let add = 1.0 / (60.0 + rank as f64 + 1.0);
            *scores.entry(*doc).or_default() += add;
        }
    }
    let mut fused: Vec<(usize, f64)> = scores.into_iter().collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    fused.truncate(k);
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(heading: &str, text: &str) -> Chunk {
        Chunk {
            id: heading.into(),
            article: "a".into(),
            title: "T".into(),
            heading: heading.into(),
            text: text.into(),
        }
    }

    #[test]
    fn tokens_fold_endings_and_keep_codes() {
        assert_eq!(
            tokens("The inverters' cleaning of Code 447s!"),
            vec!["inverter", "clean", "code", "447s"]
        );
        assert_eq!(tokens("batteries"), vec!["battery"]);
    }

    #[test]
    fn the_passage_about_the_question_ranks_first() {
        let chunks = vec![
            chunk(
                "Insulation fault",
                "Code 447 means an insulation fault on the DC side.",
            ),
            chunk(
                "Cleaning",
                "Clean modules with soft water when soiling costs yield.",
            ),
            chunk("Grid voltage", "Code 102 means the AC voltage is too high."),
        ];
        let index = Bm25::build(&chunks);
        let hits = index.search("what does 447 mean?", 3);
        assert_eq!(hits[0].0, 0, "{hits:?}");
        assert_eq!(
            index.search("how often should I clean my modules", 1)[0].0,
            1
        );
        assert!(index.search("zzz qqq", 3).is_empty());
    }

    #[test]
    fn fusion_rewards_agreement() {
        // 1 and 2 are ranked by both lists and beat 3 and 4, ranked by one each; ties go to
        // the lower index.
        let fused = fuse(&[vec![1, 2, 3], vec![2, 1, 4]], 3);
        let order: Vec<usize> = fused.iter().map(|(d, _)| *d).collect();
        assert_eq!(order, vec![1, 2, 3]);
        assert!(fused[1].1 > fused[2].1 * 1.9, "{fused:?}");
    }
}
