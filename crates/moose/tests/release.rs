//! `moose release status|plan|rollback` against Lambda on the local AWS emulator (moto), whose
//! functions, versions and aliases are set up and read back with boto3, apart from Moose.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_moose");

fn endpoint() -> String {
    std::env::var("MOOSE_TEST_AWS_ENDPOINT")
        .expect("MOOSE_TEST_AWS_ENDPOINT: run ./scripts/test, which starts moto_server")
}

fn python() -> String {
    std::env::var("MOOSE_TEST_PYTHON")
        .expect("MOOSE_TEST_PYTHON: run ./scripts/test, which installs moto (and boto3) there")
}

/// Runs the boto3 fixture script.
fn fixture(args: &[&str]) -> serde_json::Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/lambda_fixture.py"
    );
    let out = Command::new(python())
        .arg(script)
        .arg(endpoint())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "fixture {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or(serde_json::Value::Null)
}

/// `moose release ARGS --endpoint-url moto --functions …`, in a clean environment.
fn release(dir: &Path, args: &[&str], functions: &[String]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .env_clear()
        .envs(std::env::var_os("LLVM_PROFILE_FILE").map(|p| ("LLVM_PROFILE_FILE", p)))
        .env("AWS_ACCESS_KEY_ID", "moose-test")
        .env("AWS_SECRET_ACCESS_KEY", "moose-test")
        .env("AWS_REGION", "us-east-1")
        .current_dir(dir)
        .arg("release")
        .args(args)
        .args([
            "--endpoint-url",
            &endpoint(),
            "--functions",
            &functions.join(","),
        ])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn unique_prefix(tag: &str) -> String {
    format!(
        "{tag}{}{}-",
        std::process::id(),
        jiff::Timestamp::now().as_millisecond() % 100_000
    )
}

/// After a release (every alias on the newest version, one still mid-canary), `rollback` points
/// each alias at its previous version at once, and clears the canary's weights, as read back
/// through the emulator's own client; a function with no earlier version is named, and the
/// others are still moved.
#[test]
fn rollback_moves_every_alias_back_and_names_what_it_cannot_move() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("rb");
    let spec = serde_json::json!({
        "solar-data-service": {"versions": 3, "live": "3"},
        "user-management": {"versions": 2, "live": "2"},
        "chat-service": {"versions": 2, "live": "1", "canary": {"2": 0.1}},
        "notify-user": {"versions": 1, "live": "1"},
    });
    fixture(&["setup", &prefix, &spec.to_string()]);
    let names = [
        "solar-data-service",
        "user-management",
        "chat-service",
        "notify-user",
    ];
    let functions: Vec<String> = names.iter().map(|n| format!("{prefix}{n}")).collect();

    let (code, out, err) = release(dir.path(), &["status", "--json"], &functions);
    assert_eq!(code, 0, "{out}{err}");
    let status: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let chat = &status["aliases"][2];
    assert_eq!(chat["version"], "1");
    assert_eq!(chat["weights"]["2"], 0.1, "the canary shows: {chat}");
    assert_eq!(
        status["aliases"][0]["versions"],
        serde_json::json!([1, 2, 3])
    );

    let (code, out, err) = release(
        dir.path(),
        &[
            "rollback",
            "--json",
            "--reason",
            "error rate after the canary window",
        ],
        &functions,
    );
    assert_ne!(code, 0, "notify-user has nowhere to go: {out}{err}");
    let result: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(result["failed"][0]["function"], functions[3]);
    assert!(
        result["failed"][0]["error"]
            .as_str()
            .unwrap()
            .contains("no version older than 1"),
        "{result}"
    );
    let aliases = fixture(&[&["aliases", &prefix][..], &names[..]].concat());
    assert_eq!(aliases["solar-data-service"]["version"], "2", "{aliases}");
    assert_eq!(aliases["user-management"]["version"], "1", "{aliases}");
    assert_eq!(
        aliases["chat-service"],
        serde_json::json!({"version": "1", "weights": {}}),
        "mid-canary, all traffic goes back to the old version: {aliases}"
    );
    assert_eq!(aliases["notify-user"]["version"], "1");
    let moved = result["moved"].as_array().unwrap();
    assert_eq!(moved.len(), 3);
    assert_eq!(moved[2]["from"], "1 (+2 at 10 %)", "{result}");

    // An explicit version, for going back further.
    let (code, out, err) = release(dir.path(), &["rollback", "--to", "1"], &functions[..1]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 → 1"), "{out}");
    let aliases = fixture(&["aliases", &prefix, "solar-data-service"]);
    assert_eq!(aliases["solar-data-service"]["version"], "1");
}

/// `plan` compares the packaged binary with each function's deployed code (Lambda's
/// `CodeSha256`) and lists the deployed settings by name.
#[test]
fn plan_tells_which_functions_get_new_code() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("pl");
    fixture(&[
        "setup",
        &prefix,
        &serde_json::json!({"solar-data-service": {"versions": 1, "live": "1"}}).to_string(),
    ]);
    let functions = vec![
        format!("{prefix}solar-data-service"),
        format!("{prefix}chat-service"),
    ];
    // Not the deployed code: a different artifact.
    let zip = dir.path().join("bootstrap.zip");
    std::fs::write(&zip, b"PK\x05\x06 not the deployed build").unwrap();
    let (code, out, err) = release(
        dir.path(),
        &["plan", "--json", "--zip", zip.to_str().unwrap()],
        &functions,
    );
    assert_eq!(code, 0, "{out}{err}");
    let plan: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let rows = plan["functions"].as_array().unwrap();
    assert_eq!(rows[0]["live_version"], "1");
    assert_eq!(rows[0]["code_changes"], true);
    assert_eq!(rows[1]["code_changes"], true);
    assert!(
        rows[1]["note"]
            .as_str()
            .unwrap()
            .contains("not deployed yet"),
        "{plan}"
    );
    let deployed = rows[0]["deployed_sha256"].as_str().unwrap().to_owned();
    assert_ne!(plan["binary_sha256"], deployed.as_str());
    // A missing artifact is named with its remedy.
    let (code, _, err) = release(dir.path(), &["plan", "--zip", "missing.zip"], &functions);
    assert_ne!(code, 0);
    assert!(err.contains("deploy/package-lambda"), "{err}");
}
