//! The CHANGELOG section a release publishes (`moose_release::changelog`): the version's own
//! `## [x.y.z]` section when it has one, else `## [Unreleased]` retitled with the version and
//! date; sections end at the next `## ` heading (not at `### ` sub-headings); and the tag
//! commands.

use moose_release::changelog::{section, tag_commands};

/// A changelog in Keep a Changelog form, built from its parts so each part can be checked.
const UNRELEASED_BODY: &str = "### Added\n- the PreTraffic hook\n\n### Fixed\n- freshness at dusk";
const V010_BODY: &str = "### Changed\n- faster fleet summary";
const V009_BODY: &str = "### Fixed\n- a bug\n- another";

fn changelog() -> String {
    format!(
        "# Changelog\n\nAll notable changes.\n\n## [Unreleased]\n{UNRELEASED_BODY}\n\n## [0.1.0] - 2026-11-01\n{V010_BODY}\n\n## [0.0.9] - 2026-10-01\n{V009_BODY}\n\n\n"
    )
}

#[test]
fn a_version_with_its_own_heading_gets_its_section_up_to_the_next_one() {
    let log = changelog();
    let (s, own) = section(&log, "0.1.0", "2099-01-01").unwrap();
    assert!(own);
    assert_eq!(s, format!("## [0.1.0] - 2026-11-01\n{V010_BODY}"));
    // The last section runs to the end, trailing blank lines dropped.
    let (s, own) = section(&log, "0.0.9", "2099-01-01").unwrap();
    assert!(own);
    assert_eq!(s, format!("## [0.0.9] - 2026-10-01\n{V009_BODY}"));
}

#[test]
fn an_unreleased_section_is_retitled_as_the_version_of_the_date() {
    let log = changelog();
    let (s, own) = section(&log, "0.2.0", "2026-11-27").unwrap();
    assert!(!own);
    // `### ` sub-headings stay inside the section.
    assert_eq!(s, format!("## [0.2.0] - 2026-11-27\n{UNRELEASED_BODY}"));
    assert!(!s.contains("Unreleased"));
    assert!(!s.contains("faster fleet summary"));
    // The heading is recognised whatever its case.
    let lower = log.replace("## [Unreleased]", "## [unreleased]");
    assert_eq!(section(&lower, "0.2.0", "2026-11-27").unwrap().0, s);
}

#[test]
fn a_version_is_matched_whole_and_an_empty_unreleased_section_gives_a_bare_heading() {
    let log = "## [Unreleased]\n\n## [0.1.0] - 2026-11-01\n- x\n";
    // `0.1` is not `0.1.0`, and `0.1.0` is not `0.1.0-rc.1`.
    let (s, own) = section(log, "0.1", "2026-11-27").unwrap();
    assert!(!own);
    assert_eq!(s, "## [0.1] - 2026-11-27\n");
    let rc = "## [0.1.0-rc.1] - 2026-10-01\n- rc\n";
    assert!(
        section(rc, "0.1.0", "d").is_none(),
        "neither own nor unreleased"
    );
    // Without either heading there is nothing to publish.
    assert!(section("# Changelog\n\nnothing yet\n", "1.0.0", "d").is_none());
    assert!(section("", "1.0.0", "d").is_none());
}

#[test]
fn the_tag_is_the_version_with_a_v_and_is_pushed() {
    let version = "1.2.3";
    let cmds = tag_commands(version);
    let (tag, push) = cmds.split_once(" && ").unwrap();
    assert_eq!(tag, format!("git tag -a v{version} -m \"Moose {version}\""));
    assert_eq!(push, format!("git push origin v{version}"));
}
