//! `moose kb ingest` and `moose kb search` as an operator runs them, against the fake
//! embeddings server and the fake Pinecone on loopback, and into the embedded store.

use std::path::Path;
use std::process::Command;

use moose_fakes::openai::FakeOpenAi;
use moose_fakes::pinecone::{FakePinecone, Kind};

const BIN: &str = env!("CARGO_BIN_EXE_moose");

fn moose(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    // The command exits by itself, so its coverage profile is complete: let it write one.
    let out = Command::new(BIN)
        .env_clear()
        .envs(std::env::var_os("LLVM_PROFILE_FILE").map(|p| ("LLVM_PROFILE_FILE", p)))
        .env("NO_COLOR", "1")
        .env("MOOSE_DATA_DIR", dir.join("data"))
        .envs(env.iter().copied())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kb_ingest_writes_vectors_to_pinecone_or_the_store_and_search_uses_them() {
    let dir = tempfile::tempdir().unwrap();
    let ai = FakeOpenAi::start(Some("sk-kb"), 128).await;
    let pc = FakePinecone::start("pc-kb", "moose-om", Kind::Vectors(128)).await;
    let base = ai.base_url().to_owned();
    let d = dir.path().to_owned();
    // Without an embeddings model: nothing to write, and it says so.
    let (ok, out, err) = tokio::task::spawn_blocking({
        let d = d.clone();
        move || moose(&d, &[], &["kb", "ingest"])
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert!(out.contains("no embeddings model is configured"), "{out}");

    let store_env = [
        ("OPENAI_API_KEY", "sk-kb"),
        ("MOOSE_OPENAI_BASE_URL", base.as_str()),
        ("MOOSE_EMBEDDING_MODEL", "text-embedding-3-small"),
    ];
    let (ok, out, err) = tokio::task::spawn_blocking({
        let d = d.clone();
        let env: Vec<(String, String)> = store_env
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        move || {
            let env: Vec<(&str, &str)> =
                env.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            moose(&d, &env, &["kb", "ingest"])
        }
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert!(out.contains("written to store"), "{out}");
    assert!(out.contains("of dimension 128"), "{out}");
    assert!(!err.contains("sk-kb"), "the key is never printed");

    // A folder of the operator's own articles, into Pinecone.
    let articles = dir.path().join("articles");
    std::fs::create_dir(&articles).unwrap();
    std::fs::write(
        articles.join("site-rules.md"),
        "# Site rules\n\nRules of our sites.\n\n## Roof access at the depot\n\nThe depot roof key is kept at the gate house; sign the ladder log before climbing.\n",
    )
    .unwrap();
    let pc_url = pc.url().to_owned();
    let pinecone_env: Vec<(String, String)> = store_env
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .chain([
            ("PINECONE_API_KEY".to_owned(), "pc-kb".to_owned()),
            ("PINECONE_INDEX_NAME".to_owned(), "moose-om".to_owned()),
            ("MOOSE_PINECONE_CONTROLLER_URL".to_owned(), pc_url),
            (
                "MOOSE_KNOWLEDGE_DIR".to_owned(),
                articles.display().to_string(),
            ),
        ])
        .collect();
    let (ok, out, err) = tokio::task::spawn_blocking({
        let d = d.clone();
        let env = pinecone_env.clone();
        let dir_arg = articles.display().to_string();
        move || {
            let env: Vec<(&str, &str)> =
                env.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            moose(&d, &env, &["kb", "ingest", &dir_arg])
        }
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert!(
        out.contains("indexed 2 chunks of 1 articles") && out.contains("written to pinecone"),
        "{out}"
    );
    assert_eq!(pc.count(""), 2);
    let (ok, out, err) = tokio::task::spawn_blocking({
        let env = pinecone_env;
        move || {
            let env: Vec<(&str, &str)> =
                env.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            moose(&d, &env, &["kb", "search", "where is the depot roof key?"])
        }
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert!(
        out.starts_with("1. Site rules — Roof access at the depot"),
        "{out}"
    );
    assert!(pc.queries() >= 1, "the search asked Pinecone");

    // A Pinecone index of another dimension is refused with the reason.
    let wrong = FakePinecone::start("pc-kb", "moose-om", Kind::Vectors(1536)).await;
    let wrong_url = wrong.url().to_owned();
    let (ok, _, err) = tokio::task::spawn_blocking({
        let d = dir.path().to_owned();
        move || {
            moose(
                &d,
                &[
                    ("OPENAI_API_KEY", "sk-kb"),
                    ("MOOSE_OPENAI_BASE_URL", base.as_str()),
                    ("MOOSE_EMBEDDING_MODEL", "text-embedding-3-small"),
                    ("PINECONE_API_KEY", "pc-kb"),
                    ("PINECONE_INDEX_NAME", "moose-om"),
                    ("MOOSE_PINECONE_CONTROLLER_URL", wrong_url.as_str()),
                ],
                &["kb", "ingest"],
            )
        }
    })
    .await
    .unwrap();
    assert!(!ok);
    assert!(
        err.contains("dimension is 1536 but the embeddings have 128"),
        "{err}"
    );
}
