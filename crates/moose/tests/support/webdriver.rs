//! A small W3C WebDriver client driving Debian's headless Chromium through `chromedriver`, for
//! the console's browser tests and benchmark. Only the calls they need; every failure panics
//! with what the browser answered.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

/// The key under which WebDriver returns an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// `chromedriver` on a free loopback port; killed on drop.
pub struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    /// Starts `chromedriver` (`MOOSE_TEST_CHROMEDRIVER`, else the one on `PATH`, as Debian's
    /// `chromium-driver` installs it; `./scripts/test` installs the package).
    pub fn start() -> Self {
        let program =
            std::env::var("MOOSE_TEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let port = super::free_port();
        let child = Command::new(&program)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            // Its own process group, which the browsers it starts join: a test that panics
            // before closing its session leaves no Chromium behind (see `Drop`).
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {program} ({e}): install Debian's chromium and chromium-driver, or run ./scripts/test")
            });
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            url: format!("http://{addr}"),
        }
    }

    /// A new headless Chromium window of `width`×`height` CSS pixels.
    pub async fn browser(&self, width: u32, height: u32) -> Browser {
        let binary =
            std::env::var("MOOSE_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-default-apps", "--disable-sync", "--no-first-run",
                    "--disable-extensions", "--metrics-recording-only", "--mute-audio",
                    "--hide-scrollbars", "--force-device-scale-factor=1",
                    format!("--window-size={width},{height}"),
                ],
            },
        }}});
        let http = reqwest::Client::new();
        let v = call(
            &http,
            reqwest::Method::POST,
            &format!("{}/session", self.url),
            Some(caps),
        )
        .await;
        let id = v["sessionId"].as_str().expect("a session id").to_owned();
        let browser = Browser {
            http,
            base: format!("{}/session/{id}", self.url),
        };
        browser.viewport(width, height).await;
        browser
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and every Chromium process it started.
        // `--` before the negative id: without it procps' kill reads `-<pgid>` as an option and
        // signals every process it may (-1).
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--"])
            .arg(format!("-{}", self.child.id()))
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Value {
    let mut req = http.request(method.clone(), url);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = res.status();
    let v: Value = res.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {url}: {status} {v}");
    v["value"].clone()
}

/// One browser session.
pub struct Browser {
    http: reqwest::Client,
    base: String,
}

impl Browser {
    async fn post(&self, path: &str, body: Value) -> Value {
        call(
            &self.http,
            reqwest::Method::POST,
            &format!("{}{path}", self.base),
            Some(body),
        )
        .await
    }

    async fn get(&self, path: &str) -> Value {
        call(
            &self.http,
            reqwest::Method::GET,
            &format!("{}{path}", self.base),
            None,
        )
        .await
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({"url": url})).await;
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns its value.
    pub async fn js(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": args}))
            .await
    }

    /// Waits until `script` returns something truthy (up to `secs`), and returns it.
    pub async fn wait_for(&self, what: &str, script: &str, secs: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.js(script, json!([])).await;
            let truthy = match &v {
                Value::Null | Value::Bool(false) => false,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                let text = self
                    .js("return document.body.innerText.slice(0, 2000)", json!([]))
                    .await;
                panic!("timed out waiting for {what}; the page shows:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The first element matching `css`, waiting for it to appear.
    pub async fn find(&self, css: &str) -> String {
        let script = "return document.querySelector(arguments[0]) !== null";
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.js(script, json!([css])).await != Value::Bool(true) {
            if Instant::now() > deadline {
                let text = self
                    .js("return document.body.innerText.slice(0, 2000)", json!([]))
                    .await;
                panic!("no element {css}; the page shows:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let v = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await;
        v[ELEMENT].as_str().expect("an element").to_owned()
    }

    /// Types `text` into the element `css`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.post(&format!("/element/{id}/value"), json!({"text": text}))
            .await;
    }

    /// Clicks the element `css`.
    pub async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.post(&format!("/element/{id}/click"), json!({})).await;
    }

    /// Clicks the first button whose text is `label`.
    pub async fn click_button(&self, label: &str) {
        let found = self
            .js(
                "const b = [...document.querySelectorAll('button')].find(b => b.textContent.trim() === arguments[0] && !b.hidden); if (b) { b.setAttribute('data-test-target', '1'); } return !!b;",
                json!([label]),
            )
            .await;
        assert_eq!(found, Value::Bool(true), "no button {label:?}");
        self.click("[data-test-target]").await;
        self.js(
            "document.querySelector('[data-test-target]')?.removeAttribute('data-test-target')",
            json!([]),
        )
        .await;
    }

    /// Sets the viewport (the inner size of the window) to `width`×`height`.
    pub async fn viewport(&self, width: u32, height: u32) {
        // The window includes the browser's frame: grow it by the difference once measured.
        self.post("/window/rect", json!({"width": width, "height": height}))
            .await;
        let inner = self
            .js("return [window.innerWidth, window.innerHeight]", json!([]))
            .await;
        let (iw, ih) = (
            inner[0].as_u64().unwrap_or(0) as u32,
            inner[1].as_u64().unwrap_or(0) as u32,
        );
        if iw != width || ih != height {
            self.post(
                "/window/rect",
                json!({"width": 2 * width - iw.min(2 * width), "height": 2 * height - ih.min(2 * height)}),
            )
            .await;
        }
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let v = self.get("/screenshot").await;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("base64 PNG"))
            .expect("a PNG")
    }

    /// A PNG of the whole page: the viewport is stretched to the document's height first.
    pub async fn full_page_screenshot(&self, width: u32) -> Vec<u8> {
        let height = self
            .js(
                "return Math.min(document.documentElement.scrollHeight, 4000)",
                json!([]),
            )
            .await
            .as_u64()
            .unwrap_or(900) as u32;
        self.viewport(width, height.max(400)).await;
        self.screenshot().await
    }

    /// Ends the session (closes the browser).
    pub async fn quit(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}
