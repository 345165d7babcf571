//! Layering, validation messages and redaction.

use std::collections::BTreeMap;
use std::path::PathBuf;

use moose_config::{LogFormat, Overrides, Sources, load};

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn write_file(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("moose.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn defaults_are_valid_and_documented_values() {
    let loaded = load(&Sources::default()).expect("defaults load");
    let c = loaded.config;
    assert_eq!(c.http.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(c.store.data_dir, PathBuf::from("./moose-data"));
    assert_eq!(c.store.dynamodb_table, "Moose-DDB");
    assert_eq!(c.solarweb.base_url, "https://api.solarweb.com/swqapi");
    assert!(loaded.warnings.is_empty());
}

#[test]
fn file_beats_defaults_env_beats_file_flags_beat_env() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        &dir,
        "[http]\nbind = \"127.0.0.1:9000\"\nrequest_timeout_secs = 11\n[log]\nformat = \"json\"\n[store]\ndata_dir = \"/from/file\"\n",
    );
    let mut overrides = Overrides::default();
    overrides.set("store.data_dir", "/from/flag", "--data-dir");
    let sources = Sources {
        config_file: Some(file.clone()),
        env: env(&[
            ("MOOSE_BIND", "127.0.0.1:9100"),
            ("MOOSE_DATA_DIR", "/from/env"),
        ]),
        overrides,
    };
    let loaded = load(&sources).unwrap();
    let c = loaded.config;
    assert_eq!(loaded.file, Some(file));
    assert_eq!(c.http.request_timeout_secs, 11, "file beats default");
    assert_eq!(c.log.format, LogFormat::Json, "file beats default");
    assert_eq!(c.http.bind.to_string(), "127.0.0.1:9100", "env beats file");
    assert_eq!(
        c.store.data_dir,
        PathBuf::from("/from/flag"),
        "flag beats env"
    );
    assert_eq!(
        c.http.body_limit_bytes,
        1024 * 1024,
        "untouched settings keep defaults"
    );
}

#[test]
fn old_system_variables_are_read_under_their_exact_names() {
    let sources = Sources {
        env: env(&[
            ("DYNAMODB_TABLE_NAME", "Moose-DDB-staging"),
            ("SOLAR_WEB_ACCESS_KEY_ID", "FKIA0123"),
            ("SOLAR_WEB_ACCESS_KEY_VALUE", "kv-secret"),
            ("SOLAR_WEB_USERID", "ops@example.com"),
            ("SOLAR_WEB_PASSWORD", "pw-secret"),
            ("SUPABASE_URL", "https://abcd.supabase.co"),
            ("SUPABASE_ANON_KEY", "anon-secret"),
            ("OPENAI_API_KEY", "sk-secret"),
            ("PINECONE_API_KEY", "pc-secret"),
            ("PINECONE_INDEX_NAME", "moose-om"),
        ]),
        ..Sources::default()
    };
    let c = load(&sources).unwrap().config;
    assert_eq!(c.store.dynamodb_table, "Moose-DDB-staging");
    assert_eq!(c.solarweb.access_key_id.unwrap().expose(), "FKIA0123");
    assert_eq!(c.solarweb.access_key_value.unwrap().expose(), "kv-secret");
    assert_eq!(c.solarweb.user_id.as_deref(), Some("ops@example.com"));
    assert_eq!(c.solarweb.password.unwrap().expose(), "pw-secret");
    assert_eq!(c.supabase.url.as_deref(), Some("https://abcd.supabase.co"));
    assert_eq!(c.supabase.anon_key.unwrap().expose(), "anon-secret");
    assert_eq!(c.assistant.openai_api_key.unwrap().expose(), "sk-secret");
    assert_eq!(c.assistant.pinecone_api_key.unwrap().expose(), "pc-secret");
    assert_eq!(c.assistant.pinecone_index_name.as_deref(), Some("moose-om"));
}

#[test]
fn printing_the_config_never_shows_a_secret() {
    let sources = Sources {
        env: env(&[
            ("SOLAR_WEB_ACCESS_KEY_ID", "id-4f1c"),
            ("SOLAR_WEB_ACCESS_KEY_VALUE", "value-9a8b"),
            ("SOLAR_WEB_USERID", "ops@example.com"),
            ("SOLAR_WEB_PASSWORD", "password-77e2"),
            ("OPENAI_API_KEY", "sk-live-1234"),
        ]),
        ..Sources::default()
    };
    let c = load(&sources).unwrap().config;
    let printed = [
        toml::to_string_pretty(&c).unwrap(),
        format!("{c:?}"),
        format!("{c:#?}"),
    ];
    for text in &printed {
        for secret in ["id-4f1c", "value-9a8b", "password-77e2", "sk-live-1234"] {
            assert!(!text.contains(secret), "{secret} leaked into:\n{text}");
        }
        assert!(
            text.contains("[redacted]"),
            "secrets are shown as redacted:\n{text}"
        );
    }
    assert!(
        printed[0].contains("ops@example.com"),
        "non-secret settings are shown"
    );
}

#[test]
fn a_secret_can_come_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("pw");
    std::fs::write(&secret, "from-file\n").unwrap();
    let sources = Sources {
        env: env(&[
            ("SOLAR_WEB_USERID", "ops"),
            ("SOLAR_WEB_PASSWORD_FILE", secret.to_str().unwrap()),
        ]),
        ..Sources::default()
    };
    let loaded = load(&sources).unwrap();
    assert_eq!(
        loaded.config.solarweb.password.unwrap().expose(),
        "from-file"
    );
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

fn only_problem(sources: &Sources) -> moose_config::Problem {
    let err = load(sources).expect_err("configuration must be rejected");
    assert_eq!(err.problems.len(), 1, "{err}");
    err.problems[0].clone()
}

#[test]
fn a_malformed_env_value_names_the_variable() {
    let p = only_problem(&Sources {
        env: env(&[("MOOSE_REQUEST_TIMEOUT_SECS", "soon")]),
        ..Sources::default()
    });
    assert_eq!(p.setting, "http.request_timeout_secs");
    assert_eq!(p.origin, "MOOSE_REQUEST_TIMEOUT_SECS");
    assert!(p.message.contains("\"soon\""), "{p}");

    let p = only_problem(&Sources {
        env: env(&[("MOOSE_BIND", "localhost")]),
        ..Sources::default()
    });
    assert_eq!(
        (p.setting.as_str(), p.origin.as_str()),
        ("http.bind", "MOOSE_BIND"),
        "{p}"
    );
}

#[test]
fn an_out_of_range_value_says_the_range_and_how_to_set_it() {
    let p = only_problem(&Sources {
        env: env(&[("MOOSE_REQUEST_TIMEOUT_SECS", "0")]),
        ..Sources::default()
    });
    assert_eq!(p.setting, "http.request_timeout_secs");
    assert!(p.message.contains("between 1 and 300"), "{p}");
    assert!(p.message.contains("MOOSE_REQUEST_TIMEOUT_SECS"), "{p}");
}

#[test]
fn a_tile_url_without_its_placeholders_or_with_header_breaking_text_is_refused() {
    for (bad, why) in [
        ("https://tile.example.org/map.png", "has no {z}"),
        ("tile.example.org/{z}/{x}/{y}.png", "not an http"),
        (
            "https://tile.example.org/{z}/{x}/{y}.png; script-src *",
            "printable ASCII",
        ),
    ] {
        let p = only_problem(&Sources {
            env: env(&[("MOOSE_CONSOLE_TILE_URL", bad)]),
            ..Sources::default()
        });
        assert_eq!(p.setting, "console.tile_url");
        assert_eq!(p.origin, "MOOSE_CONSOLE_TILE_URL");
        assert!(p.message.contains(why), "{bad}: {p}");
    }
    let loaded = load(&Sources {
        env: env(&[(
            "MOOSE_CONSOLE_TILE_URL",
            "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        )]),
        ..Sources::default()
    })
    .unwrap();
    assert_eq!(
        loaded.config.console.tile_url.as_deref(),
        Some("https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    );
}

#[test]
fn a_missing_half_of_a_pair_is_named() {
    let p = only_problem(&Sources {
        env: env(&[("SOLAR_WEB_ACCESS_KEY_ID", "x")]),
        ..Sources::default()
    });
    assert_eq!(p.setting, "solarweb.access_key_value");
    let p = only_problem(&Sources {
        env: env(&[("SOLAR_WEB_PASSWORD", "x")]),
        ..Sources::default()
    });
    assert_eq!(p.setting, "solarweb.user_id");
}

#[test]
fn file_errors_name_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(&dir, "[http]\nbnd = \"127.0.0.1:1\"\n");
    let p = only_problem(&Sources {
        config_file: Some(file.clone()),
        ..Sources::default()
    });
    assert!(p.message.contains("bnd"), "an unknown key is named: {p}");
    assert_eq!(p.origin, file.display().to_string());

    let file = write_file(&dir, "[http\nbind=");
    let p = only_problem(&Sources {
        config_file: Some(file),
        ..Sources::default()
    });
    assert!(p.message.contains("not valid TOML"), "{p}");

    let file = write_file(&dir, "[store]\ndynamodb_table = \"a\"\n");
    let p = only_problem(&Sources {
        config_file: Some(file),
        ..Sources::default()
    });
    assert_eq!(p.setting, "store.dynamodb_table");
    assert!(p.origin.ends_with("moose.toml"), "{p}");

    let missing = dir.path().join("absent.toml");
    let p = only_problem(&Sources {
        config_file: Some(missing),
        ..Sources::default()
    });
    assert!(p.message.contains("absent.toml"), "{p}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let sources = Sources {
        env: env(&[
            ("MOOSE_BODY_LIMIT_BYTES", "1"),
            ("SUPABASE_URL", "abcd.supabase.co"),
            ("MOOSE_LOG", "info, debug"),
        ]),
        ..Sources::default()
    };
    let err = load(&sources).unwrap_err();
    let settings: Vec<&str> = err.problems.iter().map(|p| p.setting.as_str()).collect();
    assert_eq!(
        settings,
        ["http.body_limit_bytes", "log.filter", "supabase.url"],
        "{err}"
    );
}

#[test]
fn unknown_moose_variables_are_warned_about_with_a_suggestion() {
    let sources = Sources {
        env: env(&[
            ("MOOSE_BINDD", "x"),
            ("MOOSE_TEST_ENDPOINT", "y"),
            ("HOME", "/root"),
        ]),
        ..Sources::default()
    };
    let loaded = load(&sources).unwrap();
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(loaded.warnings[0].contains("MOOSE_BINDD"));
    assert!(loaded.warnings[0].contains("did you mean MOOSE_BIND?"));
}

#[test]
fn empty_variables_count_as_unset() {
    let c = load(&Sources {
        env: env(&[("MOOSE_BIND", ""), ("OPENAI_API_KEY", "  ")]),
        ..Sources::default()
    })
    .unwrap()
    .config;
    assert_eq!(c.http.bind.to_string(), "127.0.0.1:8080");
    assert!(c.assistant.openai_api_key.is_none());
}

#[test]
fn the_configuration_reference_is_up_to_date() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ))
    .expect("docs/configuration.md exists");
    assert!(
        doc.contains(&moose_config::env::markdown_table()),
        "docs/configuration.md is out of date: regenerate its table with `moose config env-docs`"
    );
}

#[test]
fn every_setting_has_an_environment_variable() {
    fn leaves(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, child) in map {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaves(&path, child, out);
                }
            }
            _ => out.push(prefix.to_owned()),
        }
    }
    let mut paths = Vec::new();
    leaves(
        "",
        &serde_json::to_value(moose_config::Config::default()).unwrap(),
        &mut paths,
    );
    assert!(paths.len() > 15, "{paths:?}");
    for path in paths {
        assert!(
            moose_config::env::for_path(&path).is_some(),
            "setting `{path}` has no environment variable in env.rs"
        );
    }
}
