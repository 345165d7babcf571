//! A map tile URL template (`https://tile.example.org/{z}/{x}/{y}.png`), parsed once where it
//! enters (configuration), so that the console can put its origin into a
//! Content-Security-Policy header and its template into a page without checking again.

use std::fmt;

/// Why a tile URL template was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TileUrlError(String);

/// An `http(s)` URL template with the placeholders `{z}`, `{x}` and `{y}` (zoom, column, row of
/// a Web Mercator "slippy map" tile) and no other; its host is letters, digits, `.`, `-` and
/// an optional port, and it holds no character that could end a header value or an attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileUrl {
    template: String,
    origin_len: usize,
}

impl TileUrl {
    /// Checks `template`.
    pub fn parse(template: &str) -> Result<Self, TileUrlError> {
        let fail = |why: &str| Err(TileUrlError(format!("{template:?}: {why}")));
        let Some((scheme, rest)) = template.split_once("://") else {
            return fail("not an http:// or https:// URL");
        };
        if scheme != "http" && scheme != "https" {
            return fail("not an http:// or https:// URL");
        }
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if host.is_empty()
            || host.starts_with(['.', '-', ':'])
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        {
            return fail("the host may hold only letters, digits, '.', '-' and a port");
        }
        if template
            .chars()
            .any(|c| !c.is_ascii_graphic() || "\"'<>;,`\\".contains(c))
        {
            return fail("only printable ASCII, without spaces, quotes, ';', ',' or '<>'");
        }
        for placeholder in ["{z}", "{x}", "{y}"] {
            if !template.contains(placeholder) {
                return fail(&format!(
                    "has no {placeholder}; e.g. https://tile.example.org/{{z}}/{{x}}/{{y}}.png"
                ));
            }
        }
        let bare = template
            .replace("{z}", "")
            .replace("{x}", "")
            .replace("{y}", "");
        if bare.contains(['{', '}']) {
            return fail("only {z}, {x} and {y} are understood");
        }
        Ok(Self {
            template: template.to_owned(),
            origin_len: scheme.len() + 3 + host.len(),
        })
    }

    /// The template, as given.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// `scheme://host[:port]`: what a Content-Security-Policy must allow for the tiles to load.
    pub fn origin(&self) -> &str {
        &self.template[..self.origin_len]
    }
}

impl fmt::Display for TileUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.template)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_gives_its_origin() {
        let t = TileUrl::parse("https://tile.openstreetmap.org/{z}/{x}/{y}.png").unwrap();
        assert_eq!(t.origin(), "https://tile.openstreetmap.org");
        let t = TileUrl::parse("http://127.0.0.1:8099/tiles/{z}/{x}/{y}.png?key=abc").unwrap();
        assert_eq!(t.origin(), "http://127.0.0.1:8099");
        assert_eq!(
            t.template(),
            "http://127.0.0.1:8099/tiles/{z}/{x}/{y}.png?key=abc"
        );
    }

    #[test]
    fn refuses_what_could_break_a_header_or_a_page() {
        for (bad, why) in [
            ("ftp://t.example/{z}/{x}/{y}.png", "http"),
            ("tile.example/{z}/{x}/{y}.png", "http"),
            ("https:///{z}/{x}/{y}", "host"),
            ("https://t.example;script-src */{z}/{x}/{y}", "host"),
            (
                "https://t.example/{z}/{x}/{y}.png; script-src *",
                "printable",
            ),
            (
                "https://t.example/{z}/{x}/{y}\r\nSet-Cookie: a",
                "printable",
            ),
            ("https://t.example/\"{z}/{x}/{y}", "printable"),
            ("https://t.example/{z}/{x}.png", "{y}"),
            ("https://{s}.t.example/{z}/{x}/{y}.png", "host"),
            ("https://t.example/{z}/{x}/{y}/{r}.png", "only {z}"),
        ] {
            let e = TileUrl::parse(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
