//! Answers without a language model.
//!
//! A question that names a state code the table knows gets the table's explanation — what it
//! means, the probable cause, who can act and what to do — and the knowledge article about its
//! family. Any other question gets the best knowledge passages, quoted, with their article and
//! heading. Nothing is made up: every sentence is the table's or an article's.

use moose_incidents::codes::{CodeTable, WhoActs};
use moose_knowledge::KnowledgeBase;

use crate::{Answer, Citation};

/// What an offline answer says about itself.
pub const NOTICE: &str = "No language model is configured on this Moose: this answer was put together from Moose's state-code table and knowledge base.";

/// Passages quoted at most.
const PASSAGES: usize = 2;
/// Passages cited at most.
const CITED: usize = 3;

/// Answers `question` from `table` and `kb`.
pub fn answer(question: &str, table: &CodeTable, kb: &KnowledgeBase) -> Answer {
    let mut text = String::new();
    let mut citations = Vec::new();
    for code in codes_in(question) {
        let Some(info) = table.get(code) else {
            continue;
        };
        let who = match info.who {
            WhoActs::Owner => "The owner can check this.",
            WhoActs::Technician => "A qualified technician is needed.",
            WhoActs::GridOperator => "This is a matter for the grid operator.",
            WhoActs::None => "Nobody needs to act.",
        };
        text.push_str(&format!(
            "State code {code} ({}): {} Probable cause: {} {who}",
            info.title, info.meaning, info.cause
        ));
        if let Some(todo) = &info.todo {
            text.push_str(&format!(" What to do: {todo}"));
        }
        text.push_str("\n\n");
        citations.push(Citation::StateCode {
            code,
            table_version: table.version.clone(),
        });
    }
    let hits = kb.search(question, CITED);
    if hits.is_empty() && text.is_empty() {
        text.push_str("I found nothing about this in Moose's knowledge base. Try naming the symptom, the state code or the incident kind (for example \"no data\", \"447\" or \"underperformance\").");
    }
    for hit in hits.iter().take(PASSAGES) {
        text.push_str(&format!(
            "From \"{}\" — {}:\n{}\n\n",
            hit.chunk.title,
            hit.chunk.heading,
            first_sentences(&hit.chunk.text, 3)
        ));
    }
    for hit in &hits {
        citations.push(Citation::Knowledge {
            article: hit.chunk.article.clone(),
            title: hit.chunk.title.clone(),
            heading: hit.chunk.heading.clone(),
            id: hit.chunk.id.clone(),
        });
    }
    Answer::offline(text.trim_end().to_owned(), citations)
}

/// Whether the question names a state code the table knows (then it is a code question, not
/// a status one).
pub fn names_a_state_code(question: &str) -> bool {
    codes_in(question)
        .iter()
        .any(|c| CodeTable::builtin().get(*c).is_some())
}

/// Three-digit numbers in the question that could be state codes, in order, without repeats.
fn codes_in(question: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for word in question.split(|c: char| !c.is_ascii_digit()) {
        if word.len() == 3
            && let Ok(n) = word.parse::<i64>()
            && !out.contains(&n)
        {
            out.push(n);
        }
    }
    out
}

/// The first `n` sentences of a passage, on one line.
fn first_sentences(text: &str, n: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut end = flat.len();
    let mut count = 0;
    for (i, c) in flat.char_indices() {
        if matches!(c, '.' | '!' | '?') && flat[i + 1..].starts_with(' ') {
            count += 1;
            if count == n {
                end = i + 1;
                break;
            }
        }
    }
    flat[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mode;

    #[test]
    fn a_state_code_is_explained_from_the_table_and_its_article_cited() {
        let a = answer(
            "what does state code 447 mean?",
            CodeTable::builtin(),
            KnowledgeBase::builtin(),
        );
        let info = CodeTable::builtin().get(447).unwrap();
        assert!(a.text.starts_with("State code 447"), "{}", a.text);
        assert!(a.text.contains(&info.meaning), "{}", a.text);
        assert!(a.citations.contains(&Citation::StateCode {
            code: 447,
            table_version: CodeTable::builtin().version.clone()
        }));
        assert!(
            a.citations.iter().any(|c| matches!(c, Citation::Knowledge { article, .. } if article.contains("4xx") || article.contains("insulation"))),
            "{:?}",
            a.citations
        );
        assert_eq!(a.mode, Mode::Offline);
        assert_eq!(a.notice.as_deref(), Some(NOTICE));
    }

    #[test]
    fn a_knowledge_question_quotes_the_article_it_cites() {
        let kb = KnowledgeBase::builtin();
        let a = answer("how do I snooze a system?", CodeTable::builtin(), kb);
        let Some(Citation::Knowledge { id, .. }) = a.citations.first() else {
            panic!("{:?}", a.citations)
        };
        let chunk = kb.chunks().iter().find(|c| &c.id == id).unwrap();
        assert!(
            a.text.contains(&first_sentences(&chunk.text, 3)),
            "{}",
            a.text
        );
        assert!(chunk.article.contains("snooze"), "{id}");
    }

    #[test]
    fn unknown_numbers_and_nonsense_are_not_invented_into_answers() {
        let a = answer(
            "zzqx vvkp 999",
            CodeTable::builtin(),
            KnowledgeBase::builtin(),
        );
        assert!(a.citations.is_empty(), "{:?}", a.citations);
        assert!(a.text.starts_with("I found nothing"), "{}", a.text);
        assert_eq!(
            codes_in("codes 102, 447 and 102 again, 12345"),
            vec![102, 447]
        );
    }
}
