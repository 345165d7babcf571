//! The built `moose` binary, run as an operator would run it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_moose");

/// A `moose` command with a clean environment, so the developer's variables cannot leak in.
fn moose(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear().env("NO_COLOR", "1").current_dir(dir);
    cmd
}

/// `moose serve --demo` on a free loopback port, storing in `./data`.
const DEMO: &[&str] = &[
    "serve",
    "--demo",
    "--bind",
    "127.0.0.1:0",
    "--data-dir",
    "data",
];

struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
}

impl Server {
    /// Starts `moose` with `args` and collects its stderr lines.
    fn spawn(dir: &Path, args: &[&str]) -> Self {
        Self::spawn_with_env(dir, args, &[])
    }

    /// Starts `moose` with `args` and these environment variables.
    fn spawn_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = moose(dir)
            .args(args)
            .envs(env.iter().copied())
            .env("MOOSE_SHUTDOWN_GRACE_SECS", "5")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start moose");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            log: Vec::new(),
        }
    }

    /// Waits for the "listening" line and returns the address.
    fn address(&mut self) -> String {
        let line = self.wait_for("moose is listening on http://");
        line.split("http://")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    }

    fn start(dir: &Path) -> (Self, String) {
        let mut server = Self::spawn(
            dir,
            &["serve", "--bind", "127.0.0.1:0", "--data-dir", "data"],
        );
        let addr = server.address();
        (server, addr)
    }

    fn wait_for(&mut self, needle: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(90))
                .unwrap_or_else(|_| {
                    panic!(
                        "no log line containing {needle:?}; log so far:\n{}",
                        self.log.join("\n")
                    )
                });
            self.log.push(line.clone());
            if line.contains(needle) {
                return line;
            }
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn wait_exit(mut self) -> (i32, String) {
        let status = self.child.wait().unwrap();
        self.log.extend(self.lines.iter());
        (status.code().unwrap_or(-1), self.log.join("\n"))
    }
}

#[test]
fn version_is_printed() {
    let dir = tempfile::tempdir().unwrap();
    let out = moose(dir.path()).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("moose {}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn serve_answers_health_and_stops_cleanly_on_each_signal() {
    for signal in ["TERM", "INT"] {
        let dir = tempfile::tempdir().unwrap();
        let (server, addr) = Server::start(dir.path());
        let body: serde_json::Value = reqwest::get(format!("http://{addr}/health"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["status"], "healthy");
        let ready = reqwest::get(format!("http://{addr}/health/ready"))
            .await
            .unwrap();
        assert_eq!(ready.status(), 200);

        server.signal(signal);
        let (code, log) = server.wait_exit();
        assert_eq!(code, 0, "clean exit after SIG{signal}:\n{log}");
        assert!(
            log.contains(&format!("moose stopped cleanly after SIG{signal}")),
            "reports why:\n{log}"
        );
        let db = dir.path().join("data/moose.db");
        assert!(db.is_file(), "the store lives in the data directory");
        let wal = dir.path().join("data/moose.db-wal");
        assert!(
            !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
            "the store was checkpointed and closed"
        );
    }
}

#[test]
fn an_unwritable_data_dir_is_refused_in_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("occupied"), b"a file, not a directory").unwrap();
    for data_dir in ["occupied/data", "/proc/moose-data"] {
        let out = moose(dir.path())
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir", data_dir])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{data_dir}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        let last = stderr.lines().last().unwrap_or_default();
        assert!(last.starts_with("moose: "), "{stderr}");
        assert!(
            last.contains("data directory") && last.contains("--data-dir"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{stderr}"
        );
    }
}

#[test]
fn config_check_validates_and_never_prints_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("moose.toml"),
        "[http]\nbind = \"127.0.0.1:9999\"\n",
    )
    .unwrap();
    let out = moose(dir.path())
        .args(["config", "check"])
        .env("SOLAR_WEB_ACCESS_KEY_ID", "FKIA-visible-nowhere")
        .env("SOLAR_WEB_ACCESS_KEY_VALUE", "key-value-3141")
        .env("OPENAI_API_KEY", "sk-proj-2718")
        .env("SUPABASE_ANON_KEY", "anon-1618")
        .env("MOOSE_DATADIR", "typo")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for secret in [
        "FKIA-visible-nowhere",
        "key-value-3141",
        "sk-proj-2718",
        "anon-1618",
    ] {
        assert!(!all.contains(secret), "{secret} printed:\n{all}");
    }
    assert!(
        all.contains("bind = \"127.0.0.1:9999\""),
        "reads moose.toml:\n{all}"
    );
    assert!(all.contains("[redacted]"));
    assert!(
        all.contains("did you mean MOOSE_DATA_DIR?"),
        "warns about the typo:\n{all}"
    );
}

#[test]
fn a_bad_setting_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = moose(dir.path())
        .args(["config", "check"])
        .env("MOOSE_REQUEST_TIMEOUT_SECS", "ten")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("http.request_timeout_secs")
            && stderr.contains("MOOSE_REQUEST_TIMEOUT_SECS"),
        "{stderr}"
    );

    let out = moose(dir.path())
        .args(["serve", "--config", "missing.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("missing.toml")
    );
}

#[test]
fn a_taken_port_is_reported_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = moose(dir.path())
        .args(["serve", "--bind", &addr, "--data-dir", "data"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")) && stderr.contains("--bind"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_user_created_on_the_command_line_can_sign_in() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let mut child = moose(dir.path())
        .args([
            "users",
            "create",
            "--email",
            "Ops@Example.com",
            "--role",
            "admin",
            "--password-stdin",
            "--data-dir",
            "data",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("created admin user ops@example.com"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("a long enough password"),
        "a chosen password is not echoed"
    );

    let out = moose(dir.path())
        .args([
            "users",
            "create",
            "--email",
            "t@example.com",
            "--role",
            "technician",
            "--data-dir",
            "data",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let generated = stdout
        .lines()
        .find_map(|l| l.strip_prefix("initial password (shown once): "))
        .expect("a generated password is shown once")
        .to_owned();

    let out = moose(dir.path())
        .args([
            "users",
            "create",
            "--email",
            "ops@example.com",
            "--role",
            "viewer",
            "--data-dir",
            "data",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("already exists")
    );
    let out = moose(dir.path())
        .args([
            "users",
            "create",
            "--email",
            "x@example.com",
            "--role",
            "emperor",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("fleet_manager"),
        "the valid roles are listed"
    );

    let (server, addr) = Server::start(dir.path());
    let client = reqwest::Client::new();
    for (email, password, role) in [
        ("ops@example.com", "a long enough password", "admin"),
        ("t@example.com", generated.as_str(), "technician"),
    ] {
        let token = sign_in(&client, &addr, email, password).await;
        let me = get_json(&client, &format!("http://{addr}/api/users/me"), &token).await;
        assert_eq!(me["role"], role);
    }
    server.signal("TERM");
    assert_eq!(server.wait_exit().0, 0);
}

/// The serve host passes every poll setting to the job it runs (the per-host half of the
/// settings test in `moose-app`).
#[test]
fn serve_runs_polling_with_the_configured_settings() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::spawn_with_env(
        dir.path(),
        DEMO,
        &[
            ("MOOSE_POLL_CONCURRENCY", "3"),
            ("MOOSE_POLL_SUN_AWARE", "false"),
            ("MOOSE_POLL_INITIAL_LOOKBACK_HOURS", "48"),
            ("MOOSE_SOLARWEB_REQUESTS_PER_SECOND", "4"),
        ],
    );
    let line = server.wait_for("solar-data-polling scheduled");
    for expected in [
        "concurrency=3",
        "initial_lookback_hours=48",
        "sun_aware=false",
        "requests_per_second=4",
        "requests_in_flight=6",
    ] {
        assert!(line.contains(expected), "{expected} in {line}");
    }
    server.signal("TERM");
    let (code, log) = server.wait_exit();
    assert_eq!(code, 0, "{log}");
}

#[test]
fn link_supabase_links_an_existing_account_once() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        moose(dir.path())
            .args(args)
            .args(["--data-dir", "data"])
            .output()
            .unwrap()
    };
    let out = run(&[
        "users",
        "create",
        "--email",
        "ann@example.com",
        "--role",
        "technician",
    ]);
    assert!(out.status.success(), "{out:?}");
    let sub = "6f1b2c3d-0000-4000-8000-000000000030";
    let out = run(&[
        "users",
        "link-supabase",
        "--email",
        "ann@example.com",
        "--supabase-id",
        sub,
    ]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains(&format!(
            "Supabase user {sub} now signs in as ann@example.com"
        )),
        "{stdout}"
    );
    let again = run(&[
        "users",
        "link-supabase",
        "--email",
        "ann@example.com",
        "--supabase-id",
        sub,
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8(again.stderr)
            .unwrap()
            .contains("already linked")
    );
    let unknown = run(&[
        "users",
        "link-supabase",
        "--email",
        "nobody@example.com",
        "--supabase-id",
        sub,
    ]);
    assert_eq!(unknown.status.code(), Some(1));
}

/// Signs in over HTTP; returns the access token.
async fn sign_in(client: &reqwest::Client, addr: &str, email: &str, password: &str) -> String {
    let r = client
        .post(format!("http://{addr}/api/auth/login"))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{email} signs in");
    r.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> serde_json::Value {
    let r = client.get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 200, "GET {url}");
    r.json().await.unwrap()
}

#[tokio::test]
async fn serve_demo_shows_real_data_within_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::spawn(dir.path(), DEMO);
    let password = server
        .wait_for("demo: sign in as")
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
    let addr = server.address();
    let pass = server.wait_for("solar-data-polling pass finished");
    assert!(pass.contains("systems=20"), "{pass}");

    let client = reqwest::Client::new();
    let token = sign_in(&client, &addr, "demo@moose.invalid", &password).await;
    let systems = get_json(&client, &format!("http://{addr}/api/systems"), &token).await;
    let list = systems["systems"].as_array().unwrap();
    assert_eq!(list.len(), 20);
    let id = list[0]["id"].as_str().unwrap();
    assert!(
        list[0]["last_data_at"].is_string(),
        "data arrived: {}",
        list[0]
    );
    let from = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(20);
    let day = get_json(
        &client,
        &format!("http://{addr}/api/systems/{id}/production?resolution=1h&from={from}"),
        &token,
    )
    .await;
    let records: u64 = day["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["records"].as_u64().unwrap())
        .sum();
    assert!(
        records > 100,
        "the last 20 hours hold 5-minute records: {records}"
    );
    demo_assistant_answers(&client, &addr, &token, &list[0]).await;
    server.signal("TERM");
    assert_eq!(server.wait_exit().0, 0);
}

async fn post_json(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let r = client
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.unwrap()
}

/// The assistant in the demo, as a new user would ask it (no language model configured).
async fn demo_assistant_answers(
    client: &reqwest::Client,
    addr: &str,
    token: &str,
    system: &serde_json::Value,
) {
    let (id, name) = (
        system["id"].as_str().unwrap(),
        system["name"].as_str().unwrap(),
    );
    let tz = jiff::tz::TimeZone::get(system["time_zone"].as_str().unwrap()).unwrap();
    let yesterday = jiff::Timestamp::now()
        .to_zoned_datetime(tz)
        .date()
        .yesterday()
        .unwrap();
    let energy = get_json(
        client,
        &format!(
            "http://{addr}/api/systems/{id}/energy?period=day&from={yesterday}&to={yesterday}"
        ),
        token,
    )
    .await;
    let chat = format!("http://{addr}/api/chat");
    let r = post_json(
        client,
        &chat,
        token,
        serde_json::json!({"message": format!("How much did {name} produce yesterday?")}),
    )
    .await;
    let text = r["response"].as_str().unwrap();
    match energy["energy"][0]["energy"]["produced_wh"].as_f64() {
        Some(wh) => assert!(
            text.contains(&format!("{:.2} kWh", wh / 1000.0)),
            "the energy API says {wh} Wh: {text}"
        ),
        None => assert!(text.starts_with("Moose has no data"), "{text}"),
    }
    assert_eq!(r["mode"], "offline");
    let r = post_json(
        client,
        &chat,
        token,
        serde_json::json!({"message": "what does state code 447 mean?"}),
    )
    .await;
    assert!(
        r["citations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["article"] == "fronius-state-codes-4xx-insulation"),
        "{r}"
    );
    let open = get_json(
        client,
        &format!("http://{addr}/api/incidents?state=open"),
        token,
    )
    .await;
    let r = post_json(
        client,
        &chat,
        token,
        serde_json::json!({"message": "acknowledge the open incident"}),
    )
    .await;
    match open["incidents"].as_array().unwrap().first() {
        Some(incident) => {
            let confirm = r["proposed_actions"][0]["confirm"].as_str().unwrap();
            assert!(incident["acked_by"].is_null());
            post_json(
                client,
                &format!("http://{addr}{confirm}"),
                token,
                serde_json::json!({}),
            )
            .await;
            let after = get_json(
                client,
                &format!(
                    "http://{addr}/api/incidents/{}",
                    incident["id"].as_str().unwrap()
                ),
                token,
            )
            .await;
            assert!(after["acked_by"].is_string(), "{after}");
        }
        None => assert!(
            r["response"]
                .as_str()
                .unwrap()
                .starts_with("You have no open"),
            "{r}"
        ),
    }
}

/// `moose verify --env URL --json`, run as CI/CD would.
fn verify(dir: &Path, url: &str, token: &str) -> (i32, serde_json::Value) {
    json_command(
        dir,
        &[
            "verify",
            "--env",
            url,
            "--token",
            token,
            "--json",
            "--metrics-token",
            "verify-metrics-token",
        ],
    )
}

/// Runs `moose ARGS` in `dir` and reads its standard output as one JSON document; (exit code,
/// document). Panics with both outputs when it is not JSON.
fn json_command(dir: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    // The command exits by itself (never killed), so its coverage profile is complete.
    let out = moose(dir)
        .envs(std::env::var_os("LLVM_PROFILE_FILE").map(|p| ("LLVM_PROFILE_FILE", p)))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let v = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "not JSON: {stdout} / {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

fn failing(report: &serde_json::Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_against_the_demo_and_names_what_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::spawn_with_env(
        dir.path(),
        DEMO,
        &[("MOOSE_METRICS_TOKEN", "verify-metrics-token")],
    );
    let password = server
        .wait_for("demo: sign in as")
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
    let addr = server.address();
    server.wait_for("solar-data-polling pass finished");
    let client = reqwest::Client::new();
    let token = sign_in(&client, &addr, "demo@moose.invalid", &password).await;
    let url = format!("http://{addr}");
    let (d, u, t) = (dir.path().to_owned(), url.clone(), token.clone());
    let (code, report) = tokio::task::spawn_blocking(move || verify(&d, &u, &t))
        .await
        .unwrap();
    assert_eq!(code, 0, "{report:#}");
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for n in [
        "health",
        "ready",
        "polling",
        "auth",
        "systems",
        "production",
        "incidents",
        "notifications",
        "chat",
        "freshness",
        "delivery",
    ] {
        assert!(names.contains(&n), "{n}: {report:#}");
    }
    // The chat probe left nothing behind.
    let convs = get_json(&client, &format!("{url}/api/chat/conversations"), &token).await;
    assert_eq!(convs["conversations"], serde_json::json!([]), "{convs}");
    server.signal("TERM");
    assert_eq!(server.wait_exit().0, 0);

    // The same store served without a data source: polling is not running.
    let (server, addr) = Server::start(dir.path());
    let url = format!("http://{addr}");
    let (d, u, t) = (dir.path().to_owned(), url.clone(), token.clone());
    let (code, report) = tokio::task::spawn_blocking(move || verify(&d, &u, &t))
        .await
        .unwrap();
    assert_ne!(code, 0);
    assert_eq!(failing(&report), ["polling"], "{report:#}");
    // The store gone from under the server: readiness fails, and verify names it.
    std::fs::remove_file(dir.path().join("data").join("moose.db")).unwrap();
    let (d, u, t) = (dir.path().to_owned(), url.clone(), token.clone());
    let (code, report) = tokio::task::spawn_blocking(move || verify(&d, &u, &t))
        .await
        .unwrap();
    assert_ne!(code, 0);
    assert!(failing(&report).contains(&"ready".to_owned()), "{report:#}");
    server.signal("KILL");
    let _ = server.wait_exit();
    // Nothing listening: one line, fast.
    let started = std::time::Instant::now();
    let (code, report) = verify(dir.path(), &url, &token);
    assert_ne!(code, 0);
    assert_eq!(failing(&report), ["health"], "{report:#}");
    assert_eq!(report["checks"].as_array().unwrap().len(), 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// `moose release report ARGS --json` in `dir`; (exit code, report).
fn release_report(dir: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    let all = [
        &["release", "report", "--json", "--dir", "releases"][..],
        args,
    ]
    .concat();
    json_command(dir, &all)
}

/// Starts the demo with a metrics token; (server, address, access token, password) once it has
/// polled. The password is printed only when the account is created: give it for a restart.
async fn demo_for_release(
    dir: &Path,
    password: Option<String>,
) -> (Server, String, String, String) {
    let mut server = Server::spawn_with_env(
        dir,
        DEMO,
        &[("MOOSE_METRICS_TOKEN", "release-metrics-token")],
    );
    let password = match password {
        Some(p) => {
            server.wait_for("demo: the account demo@moose.invalid exists");
            p
        }
        None => server
            .wait_for("demo: sign in as")
            .rsplit(' ')
            .next()
            .unwrap()
            .to_owned(),
    };
    let addr = server.address();
    server.wait_for("solar-data-polling pass finished");
    let token = sign_in(
        &reqwest::Client::new(),
        &addr,
        "demo@moose.invalid",
        &password,
    )
    .await;
    (server, addr, token, password)
}

/// A self-hosted upgrade, reported: a first report becomes the baseline; the server is
/// stopped and started again on the same store (the upgrade) and the second report carries the
/// measured figures — sampled response times against the baseline's, the server's own error
/// counters, the duration from the recorded start, the gates — in JSON and Markdown, with the
/// CHANGELOG section and the tag command; failed gates fail the release.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_report_measures_a_self_hosted_upgrade_against_the_previous_release() {
    let dir = tempfile::tempdir().unwrap();
    let gates = dir.path().join("gates.json");
    std::fs::write(
        &gates,
        serde_json::json!({"commit": "abc123", "passed": true,
            "steps": {"fmt": true, "clippy": true, "tests": true, "coverage": true, "licences": true, "advisories": true},
            "coverage_pct": 84.2, "coverage_per_crate": {"moose-api": 88.0},
            "advisories": 0, "advisory_snapshot": "2026-08-21"})
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("CHANGELOG.md"),
        "# Changelog\n\n## [Unreleased]\n### Added\n- canary deploys\n\n## [0.0.9] - 2026-10-01\n- older\n",
    )
    .unwrap();
    let (server, addr, token, password) = demo_for_release(dir.path(), None).await;
    let url = format!("http://{addr}");
    let common = |samples: &'static str| {
        vec![
            "--env".to_owned(),
            url.clone(),
            "--token".to_owned(),
            token.clone(),
            "--metrics-token".to_owned(),
            "release-metrics-token".to_owned(),
            "--samples".to_owned(),
            samples.to_owned(),
        ]
    };
    let first_args = [
        common("20"),
        vec![
            "--version".into(),
            "0.0.9".into(),
            "--gates".into(),
            gates.to_string_lossy().into_owned(),
        ],
    ]
    .concat();
    let d = dir.path().to_owned();
    let (_, first) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = first_args.iter().map(String::as_str).collect();
        release_report(&d, &args)
    })
    .await
    .unwrap();
    assert!(
        first["baseline"].is_null(),
        "nothing before the first: {first:#}"
    );
    assert_eq!(first["measured"]["latency"]["samples"], 20);
    server.signal("TERM");
    server.wait_exit();

    // The upgrade: stopped, started again on the same store.
    let started = jiff::Timestamp::now();
    let upgrade_began = std::time::Instant::now();
    let (server, addr, token, _) = demo_for_release(dir.path(), Some(password)).await;
    let url = format!("http://{addr}");
    let second_args: Vec<String> = vec![
        "--env",
        &url,
        "--token",
        &token,
        "--metrics-token",
        "release-metrics-token",
        "--samples",
        "30",
        "--version",
        "0.1.0",
        "--started",
        &started.to_string(),
        "--backup",
        "moose-backup-before-0.1.0.jsonl",
        "--gates",
        gates.to_str().unwrap(),
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let d = dir.path().to_owned();
    let args = second_args.clone();
    let (code, report) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        release_report(&d, &args)
    })
    .await
    .unwrap();
    let elapsed = upgrade_began.elapsed().as_secs_f64();
    assert_eq!(
        code == 0,
        report["success"] == true,
        "the exit code follows the verdict: {report:#}"
    );

    // The baseline is the first report's measurement, and the change is computed from it.
    let base_avg = first["measured"]["latency"]["avg_ms"].as_f64().unwrap();
    assert_eq!(report["baseline"]["version"], "0.0.9");
    assert_eq!(report["baseline"]["avg_ms"].as_f64().unwrap(), base_avg);
    let latency = &report["measured"]["latency"];
    assert_eq!(latency["samples"], 30);
    let (avg, p99) = (
        latency["avg_ms"].as_f64().unwrap(),
        latency["p99_ms"].as_f64().unwrap(),
    );
    assert!(avg > 0.0 && p99 >= avg, "{latency}");
    let change = report["avg_change_pct"].as_f64().unwrap();
    assert!(
        (change - (avg - base_avg) / base_avg * 100.0).abs() < 1e-6,
        "{change}"
    );
    // The error rate is the server's own count, which includes the 30 samples.
    let server_errors = &report["measured"]["server_errors"];
    let requests = server_errors["requests"].as_f64().unwrap();
    assert!(requests >= 30.0, "{server_errors}");
    assert_eq!(
        report["error_rate"].as_f64().unwrap(),
        server_errors["errors"].as_f64().unwrap() / requests
    );
    assert!(
        report["error_rate_source"]
            .as_str()
            .unwrap()
            .contains("server's counters")
    );
    // The duration runs from the recorded start to the report.
    let duration = report["release_duration_s"].as_f64().unwrap();
    assert!(
        duration >= 1.0 && duration <= elapsed + 1.0,
        "{duration} of {elapsed}"
    );
    let component = &report["deployment"]["components"][0];
    assert_eq!(component["name"], "moose serve");
    assert_eq!(component["from"], "0.0.9");
    assert_eq!(component["to"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        report["deployment"]["backup"],
        "moose-backup-before-0.1.0.jsonl"
    );
    assert_eq!(report["rolled_back"], false);
    let criterion = |name: &str| {
        report["criteria"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        criterion("all health checks passing")["met"],
        true,
        "{report:#}"
    );
    assert_eq!(criterion("release gates passed")["met"], true);
    // The Markdown for people, with the same figures.
    let md = std::fs::read_to_string(dir.path().join("releases/v0.1.0.md")).unwrap();
    assert!(md.starts_with("# Backend Release Report - v0.1.0"), "{md}");
    assert!(
        md.contains(&format!("{avg:.1} ms (p99 {p99:.1} ms, 30 samples)")),
        "{md}"
    );
    assert!(
        md.contains("coverage 84.2 %, advisories 0 (snapshot 2026-08-21)"),
        "{md}"
    );
    assert!(md.contains("**Rollback Required**: No"), "{md}");

    // Without --json: the CHANGELOG section for the version and the tag command.
    let out = moose(dir.path())
        .args(["release", "report", "--dir", "releases"])
        .args(&second_args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("## [0.1.0] - "), "{text}");
    assert!(
        text.contains("- canary deploys") && !text.contains("- older"),
        "{text}"
    );
    assert!(
        text.contains("git tag -a v0.1.0 -m \"Moose 0.1.0\""),
        "{text}"
    );

    // Failed gates fail the release.
    std::fs::write(
        &gates,
        serde_json::json!({"passed": false, "steps": {"coverage": false}, "coverage_pct": 71.0})
            .to_string(),
    )
    .unwrap();
    let args: Vec<String> = [
        "--env",
        &url,
        "--token",
        &token,
        "--samples",
        "5",
        "--version",
        "0.1.1",
        "--gates",
        gates.to_str().unwrap(),
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let d = dir.path().to_owned();
    let (code, failed) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        release_report(&d, &args)
    })
    .await
    .unwrap();
    assert_ne!(code, 0);
    assert_eq!(failed["success"], false);
    server.signal("TERM");
    server.wait_exit();
}
