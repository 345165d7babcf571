//! The CHANGELOG section of a version and the tag that marks it.

/// The section of `changelog` (Keep a Changelog format) for `version`: `## [version]…` up to
/// the next `## `. Before the version has its own heading, the `## [Unreleased]` section,
/// retitled as the version of `date`, is what the release will publish; the flag says which.
pub fn section(changelog: &str, version: &str, date: &str) -> Option<(String, bool)> {
    let find = |title: &dyn Fn(&str) -> bool| -> Option<String> {
        let mut lines = changelog
            .lines()
            .skip_while(|l| !(l.starts_with("## ") && title(l)));
        let heading = lines.next()?;
        let body: Vec<&str> = lines.take_while(|l| !l.starts_with("## ")).collect();
        Some(format!("{heading}\n{}", body.join("\n").trim_end()))
    };
    let own = format!("## [{version}]");
    if let Some(s) = find(&|l: &str| l.starts_with(&own)) {
        return Some((s, true));
    }
    find(&|l: &str| l.to_ascii_lowercase().starts_with("## [unreleased]")).map(|s| {
        let body = s.split_once('\n').map_or("", |(_, b)| b);
        (format!("## [{version}] - {date}\n{body}"), false)
    })
}

/// The commands that tag the released commit.
pub fn tag_commands(version: &str) -> String {
    format!("git tag -a v{version} -m \"Moose {version}\" && git push origin v{version}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "# Changelog\n\n## [Unreleased]\n### Added\n- the hook\n\n## [0.0.9] - 2026-10-01\n### Fixed\n- a bug\n";

    #[test]
    fn the_versions_own_section_or_the_unreleased_one_retitled() {
        let (s, own) = section(LOG, "0.0.9", "x").unwrap();
        assert!(own);
        assert!(
            s.starts_with("## [0.0.9] - 2026-10-01\n### Fixed\n- a bug"),
            "{s}"
        );
        let (s, own) = section(LOG, "0.1.0", "2026-11-27").unwrap();
        assert!(!own);
        assert!(
            s.starts_with("## [0.1.0] - 2026-11-27\n### Added\n- the hook"),
            "{s}"
        );
        assert!(!s.contains("a bug"));
        assert!(section("# nothing", "1.0.0", "x").is_none());
        assert_eq!(
            tag_commands("0.1.0"),
            "git tag -a v0.1.0 -m \"Moose 0.1.0\" && git push origin v0.1.0"
        );
    }
}
