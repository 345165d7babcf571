//! Layering: defaults < file < environment < flags, then validation.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::env::{self, CONFIG_FILE_VAR, Kind, TEST_PREFIX, VARIABLES};
use crate::{Config, DEFAULT_CONFIG_FILE, validate};

/// Settings given on the command line, each with the flag that set it (for error messages).
#[derive(Debug, Clone, Default)]
pub struct Overrides(Vec<(&'static str, Value, &'static str)>);

impl Overrides {
    /// Sets the setting at dotted `path` to `value`, as given by `flag`.
    pub fn set(&mut self, path: &'static str, value: impl Into<Value>, flag: &'static str) {
        self.0.push((path, value.into(), flag));
    }
}

/// Where configuration comes from. Built by the binary from its flags and `std::env::vars()`.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// A configuration file named by a flag; overrides `MOOSE_CONFIG`.
    pub config_file: Option<PathBuf>,
    /// The environment variables.
    pub env: BTreeMap<String, String>,
    /// Command-line settings.
    pub overrides: Overrides,
}

/// A loaded, validated configuration and what the operator should hear about it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// The file that was read, if any.
    pub file: Option<PathBuf>,
    /// Non-fatal findings (unknown `MOOSE_*` variables, …), to be logged once logging is up.
    pub warnings: Vec<String>,
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The setting, as a dotted path (`http.bind`), or the variable/file concerned.
    pub setting: String,
    /// Where the bad value came from (`MOOSE_BIND`, `moose.toml`, `--bind`, `default`).
    pub origin: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "setting `{}` (from {}): {}",
            self.setting, self.origin, self.message
        )
    }
}

/// The configuration could not be loaded; every problem found is listed.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError {
    /// The problems, in the order found.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [one] => write!(f, "invalid configuration: {one}"),
            many => {
                write!(f, "invalid configuration ({} problems):", many.len())?;
                for p in many {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
        }
    }
}

/// The merged settings tree and who set each leaf.
#[derive(Default)]
struct Layers {
    tree: Map<String, Value>,
    origins: HashMap<String, String>,
}

impl Layers {
    fn set(&mut self, path: &str, value: Value, origin: &str) {
        let mut node = &mut self.tree;
        let mut parts = path.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                node.insert(part.to_owned(), value);
                break;
            }
            let child = node
                .entry(part.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            node = child.as_object_mut().expect("just made an object");
        }
        self.origins.insert(path.to_owned(), origin.to_owned());
    }

    fn set_tree(&mut self, prefix: &str, value: Value, origin: &str) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let path = if prefix.is_empty() {
                        k
                    } else {
                        format!("{prefix}.{k}")
                    };
                    self.set_tree(&path, v, origin);
                }
            }
            leaf => self.set(prefix, leaf, origin),
        }
    }

    fn origin_of(&self, path: &str) -> String {
        self.origins
            .get(path)
            .cloned()
            .unwrap_or_else(|| "default".into())
    }
}

/// Loads and validates the configuration.
pub fn load(sources: &Sources) -> Result<Loaded, ConfigError> {
    let mut layers = Layers::default();
    let mut problems = Vec::new();
    let mut warnings = Vec::new();

    let file = read_file_layer(sources, &mut layers, &mut problems);
    read_env_layer(&sources.env, &mut layers, &mut problems, &mut warnings);
    for (path, value, flag) in &sources.overrides.0 {
        layers.set(path, value.clone(), flag);
    }
    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }

    let config: Config = match serde_path_to_error::deserialize(Value::Object(layers.tree.clone()))
    {
        Ok(config) => config,
        Err(err) => {
            let path = err.path().to_string();
            let hint = env::for_path(&path)
                .map(|v| format!(" (set it with {} or `{path}` in moose.toml)", v.name))
                .unwrap_or_default();
            let message = format!("{}{hint}", err.into_inner());
            return Err(ConfigError {
                problems: vec![Problem {
                    origin: layers.origin_of(&path),
                    setting: path,
                    message,
                }],
            });
        }
    };
    problems.extend(validate::check(&config, |path| layers.origin_of(path)));
    if problems.is_empty() {
        Ok(Loaded {
            config,
            file,
            warnings,
        })
    } else {
        Err(ConfigError { problems })
    }
}

fn read_file_layer(
    sources: &Sources,
    layers: &mut Layers,
    problems: &mut Vec<Problem>,
) -> Option<PathBuf> {
    let explicit = sources
        .config_file
        .clone()
        .map(|p| (p, "--config".to_owned()))
        .or_else(|| {
            nonempty(&sources.env, CONFIG_FILE_VAR)
                .map(|p| (PathBuf::from(p), CONFIG_FILE_VAR.to_owned()))
        });
    let (path, origin) = match explicit {
        Some(found) => found,
        None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
            (PathBuf::from(DEFAULT_CONFIG_FILE), "default".into())
        }
        None => return None,
    };
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            problems.push(Problem {
                setting: "config file".into(),
                origin,
                message: format!("cannot read {shown}: {e}"),
            });
            return None;
        }
    };
    match toml::from_str::<toml::Table>(&text) {
        Ok(table) => {
            let value = serde_json::to_value(table).expect("TOML maps to JSON");
            layers.set_tree("", value, &shown);
            Some(path)
        }
        Err(e) => {
            problems.push(Problem {
                setting: "config file".into(),
                origin: shown,
                message: format!("not valid TOML: {}", e.to_string().trim()),
            });
            None
        }
    }
}

fn nonempty<'a>(env: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    env.get(name)
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
}

fn read_env_layer(
    env: &BTreeMap<String, String>,
    layers: &mut Layers,
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<String>,
) {
    for var in VARIABLES {
        let file_var = format!("{}_FILE", var.name);
        let raw = match (nonempty(env, var.name), nonempty(env, &file_var)) {
            (Some(value), _) => value.to_owned(),
            (None, Some(path)) if var.kind == Kind::Secret => match std::fs::read_to_string(path) {
                Ok(contents) => contents.trim_end_matches(['\r', '\n']).to_owned(),
                Err(e) => {
                    problems.push(Problem {
                        setting: var.path.into(),
                        origin: file_var,
                        message: format!("cannot read the secret file {path}: {e}"),
                    });
                    continue;
                }
            },
            _ => continue,
        };
        let value = match var.kind {
            Kind::Text | Kind::Secret => Value::String(raw),
            Kind::Boolean => match raw.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Value::Bool(true),
                "false" | "0" | "no" => Value::Bool(false),
                _ => {
                    problems.push(Problem {
                        setting: var.path.into(),
                        origin: var.name.into(),
                        message: format!("expected true or false, got {raw:?}"),
                    });
                    continue;
                }
            },
            Kind::Integer => match raw.trim().parse::<u64>() {
                Ok(n) => Value::from(n),
                Err(_) => {
                    problems.push(Problem {
                        setting: var.path.into(),
                        origin: var.name.into(),
                        message: format!("expected a whole number, got {raw:?}"),
                    });
                    continue;
                }
            },
        };
        layers.set(var.path, value, var.name);
    }
    for name in env.keys() {
        let base = name.strip_suffix("_FILE").unwrap_or(name);
        let known = base == CONFIG_FILE_VAR || VARIABLES.iter().any(|v| v.name == base);
        if name.starts_with("MOOSE_") && !name.starts_with(TEST_PREFIX) && !known {
            let hint = env::suggest(name)
                .map(|s| format!("; did you mean {s}?"))
                .unwrap_or_default();
            warnings.push(format!(
                "ignoring unknown environment variable {name}{hint}"
            ));
        }
    }
}
