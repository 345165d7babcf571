//! Articles and their chunks.
//!
//! An article is one Markdown file: a `# Title` first line, a summary paragraph, then `## `
//! sections. Each section is a chunk — the unit retrieval returns and citations name (article
//! and heading) — and the summary is a chunk under the article's own title.

/// One retrievable passage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// `<article>#<heading slug>`: stable as long as the heading is.
    pub id: String,
    /// The article's file stem, e.g. `troubleshooting-no-data`.
    pub article: String,
    /// The article's title.
    pub title: String,
    /// The section's heading (the title for the summary chunk).
    pub heading: String,
    /// The section's text, Markdown as written.
    pub text: String,
}

/// Why an article cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArticleError {
    /// The first non-empty line is not a `# Title`.
    #[error("{article}: the first line must be a `# Title`")]
    NoTitle {
        /// The article.
        article: String,
    },
    /// Nothing but a title.
    #[error("{article}: no text under the title")]
    Empty {
        /// The article.
        article: String,
    },
}

/// `Working at height!` → `working-at-height`.
pub fn slug(heading: &str) -> String {
    let mut out = String::new();
    for c in heading.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// Splits an article into its chunks.
pub fn parse(article: &str, markdown: &str) -> Result<Vec<Chunk>, ArticleError> {
    let mut lines = markdown.lines().skip_while(|l| l.trim().is_empty());
    let title = lines
        .next()
        .and_then(|l| l.strip_prefix("# "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ArticleError::NoTitle {
            article: article.to_owned(),
        })?
        .to_owned();
    let mut chunks = Vec::new();
    let mut heading = title.clone();
    let mut text = String::new();
    let mut flush = |heading: &str, text: &mut String| {
        let body = text.trim();
        if !body.is_empty() {
            chunks.push(Chunk {
                id: format!("{article}#{}", slug(heading)),
                article: article.to_owned(),
                title: title.clone(),
                heading: heading.to_owned(),
                text: body.to_owned(),
            });
        }
        text.clear();
    };
    for line in lines {
        if let Some(h) = line.strip_prefix("## ") {
            flush(&heading, &mut text);
            h.trim().clone_into(&mut heading);
        } else {
            text.push_str(line);
            text.push('\n');
        }
    }
    flush(&heading, &mut text);
    if chunks.is_empty() {
        return Err(ArticleError::Empty {
            article: article.to_owned(),
        });
    }
    Ok(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_article_is_its_summary_and_one_chunk_per_section() {
        let md = "\n# Safety: DC isolation\n\nWhy it matters.\n\n## Why a PV array cannot simply be switched off\n\nDaylight makes voltage.\n\n## Arcs\nThey burn.\n";
        let chunks = parse("safety-dc", md).unwrap();
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[0].heading, "Safety: DC isolation");
        assert_eq!(chunks[0].text, "Why it matters.");
        assert_eq!(
            chunks[1].id,
            "safety-dc#why-a-pv-array-cannot-simply-be-switched-off"
        );
        assert_eq!(chunks[2].text, "They burn.");
        assert!(chunks.iter().all(|c| c.title == "Safety: DC isolation"));
    }

    #[test]
    fn an_article_without_a_title_or_text_is_refused() {
        assert!(matches!(
            parse("a", "Some text\n## H\nx"),
            Err(ArticleError::NoTitle { .. })
        ));
        assert!(matches!(
            parse("a", "# Title\n\n"),
            Err(ArticleError::Empty { .. })
        ));
    }

    #[test]
    fn slugs_are_lowercase_words_joined_by_dashes() {
        assert_eq!(
            slug("Code 447: insulation fault"),
            "code-447-insulation-fault"
        );
        assert_eq!(slug("  What (not) to do!  "), "what-not-to-do");
    }
}
