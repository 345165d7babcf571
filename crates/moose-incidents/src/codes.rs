//! The explained state-code table (`codes/fronius-state-codes.toml`, versioned with the code).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::model::Severity;

/// Who can act on a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhoActs {
    /// The owner can do something themselves.
    Owner,
    /// A qualified technician is needed.
    Technician,
    /// The grid operator.
    GridOperator,
    /// Nobody: it is routine.
    None,
}

/// What Moose does with a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeAction {
    /// Routine (dawn and dusk): never an incident.
    Ignore,
    /// Kept as evidence on the system; not an incident by itself.
    Context,
    /// Opens, or adds to, the system's device-error incident.
    Incident,
}

/// One explained code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeInfo {
    /// Short name.
    pub title: String,
    /// What it means, in plain words.
    pub meaning: String,
    /// The probable cause.
    pub cause: String,
    /// Who can act.
    pub who: WhoActs,
    /// What Moose does with it.
    pub action: CodeAction,
    /// How serious it is.
    pub severity: Severity,
    /// What to do.
    #[serde(default)]
    pub todo: Option<String>,
    /// Notes on inverter families that number it differently.
    #[serde(default)]
    pub families: Option<String>,
}

/// The table and its version.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeTable {
    /// Version of the table (recorded on every device-error incident).
    pub version: String,
    codes: BTreeMap<String, CodeInfo>,
}

impl CodeTable {
    /// The table compiled into Moose.
    pub fn builtin() -> &'static Self {
        static TABLE: OnceLock<CodeTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            // The file is part of the source tree and checked by a unit test, so a parse
            // failure here is a build defect, not a runtime condition.
            #[allow(clippy::expect_used)]
            toml::from_str(include_str!("../codes/fronius-state-codes.toml"))
                .expect("codes/fronius-state-codes.toml is valid (unit-tested)")
        })
    }

    /// The explanation of `code`, if the table has one.
    pub fn get(&self, code: i64) -> Option<&CodeInfo> {
        self.codes.get(&code.to_string())
    }

    /// What to do with `code`: unknown codes are treated as incidents, because a fault nobody
    /// has explained yet is exactly what a technician should look at.
    pub fn action(&self, code: i64) -> CodeAction {
        self.get(code).map_or(CodeAction::Incident, |c| c.action)
    }

    /// Every code, in numeric order (for the docs).
    pub fn all(&self) -> Vec<(i64, &CodeInfo)> {
        let mut all: Vec<_> = self
            .codes
            .iter()
            .filter_map(|(k, v)| k.parse::<i64>().ok().map(|k| (k, v)))
            .collect();
        all.sort_by_key(|(k, _)| *k);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_routine_codes_are_ignored() {
        let t = CodeTable::builtin();
        assert!(!t.version.is_empty());
        assert_eq!(t.action(306), CodeAction::Ignore);
        assert_eq!(t.action(307), CodeAction::Ignore);
        assert_eq!(t.action(447), CodeAction::Incident);
        assert_eq!(t.action(567), CodeAction::Context);
        assert_eq!(
            t.action(99_999),
            CodeAction::Incident,
            "unknown codes are incidents"
        );
        let insulation = t.get(475).unwrap();
        assert_eq!(insulation.who, WhoActs::Technician);
        assert_eq!(insulation.severity, Severity::Critical);
        for (code, info) in t.all() {
            assert!(!info.meaning.is_empty() && !info.cause.is_empty(), "{code}");
            if info.action == CodeAction::Incident {
                assert!(
                    info.todo.is_some(),
                    "code {code} opens incidents but says nothing to do"
                );
            }
        }
    }
}
