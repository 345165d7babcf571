//! The web console in a real browser: Debian's headless Chromium, driven over WebDriver by
//! `chromedriver`, against `moose serve --demo` on loopback. One demo serves every step (it
//! takes a minute to have its first incident): sign-in, the fleet, a system's chart, an
//! incident acknowledged, the assistant, the notification and admin pages, a viewer who sees
//! no write controls, the phone width, and where the tokens are (not in storage).
//!
//! Screenshots of every page are written to `$CARGO_TARGET_TMPDIR/console/`, and with
//! `MOOSE_UPDATE_DOCS=1` to `docs/console/` for `docs/console.md`.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use support::tiles::TileServer;
use support::webdriver::{Browser, Driver};

const BIN: &str = env!("CARGO_BIN_EXE_moose");
const WIDTH: u32 = 1280;
const TILE_CREDIT: &str = "Test tiles © nobody";

/// `moose serve --demo` on a free port; killed on drop.
struct Demo {
    child: Child,
    url: String,
    password: String,
}

impl Demo {
    /// With the fleet map's tiles from `tiles`.
    fn start(dir: &Path, tiles: &str) -> Self {
        let mut child = Command::new(BIN)
            .env_clear()
            .env("NO_COLOR", "1")
            .env("MOOSE_CONSOLE_TILE_URL", tiles)
            .env("MOOSE_CONSOLE_TILE_ATTRIBUTION", TILE_CREDIT)
            .args([
                "serve",
                "--demo",
                "--bind",
                "127.0.0.1:0",
                "--data-dir",
                "data",
            ])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut url, mut password) = (None, None);
        while url.is_none() || password.is_none() {
            let line = rx
                .recv_timeout(Duration::from_secs(90))
                .expect("the demo did not start");
            if let Some(rest) = line.split("with password ").nth(1) {
                password = Some(rest.trim().to_owned());
            }
            if let Some(rest) = line.split("moose is listening on ").nth(1) {
                url = rest.split_whitespace().next().map(str::to_owned);
            }
        }
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || while rx.recv().is_ok() {});
        Self {
            child,
            url: url.unwrap(),
            password: password.unwrap(),
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The API as a client other than the browser (to set up users and to check what the console
/// did).
struct Api {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    async fn sign_in(url: &str, email: &str, password: &str) -> Self {
        let http = reqwest::Client::new();
        let v: Value = http
            .post(format!("{url}/api/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Self {
            http,
            url: url.to_owned(),
            token: v["access_token"].as_str().expect("signed in").to_owned(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().await.unwrap_or(Value::Null)
    }
}

fn screenshot_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console")];
    if std::env::var_os("MOOSE_UPDATE_DOCS").is_some() {
        dirs.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/console"));
    }
    dirs
}

async fn save(browser: &Browser, name: &str, full_page: bool) {
    let png = if full_page {
        browser.full_page_screenshot(WIDTH).await
    } else {
        browser.screenshot().await
    };
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    for dir in screenshot_dirs() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
    }
    browser.viewport(WIDTH, 900).await;
}

async fn sign_in(browser: &Browser, url: &str, email: &str, password: &str) {
    browser.goto(&format!("{url}/")).await;
    browser.type_into("input[name=email]", email).await;
    browser.type_into("input[name=password]", password).await;
    browser.click("form button[type=submit]").await;
    browser
        .wait_for(
            "the fleet page",
            "return document.querySelector('#fleet-table tbody tr') !== null",
            30,
        )
        .await;
}

/// The fleet map over the test tile server: drawn at one zoom level, with each system's dot on
/// the image of the very tile that holds its position (the page's Web Mercator agrees with the
/// tiles'), each such tile fetched from the server, and the provider credited.
async fn map_stands_on_its_tiles(browser: &Browser, summary: &Value, tiles: &TileServer) {
    let drawn = browser
        .wait_for(
            "the map's tiles",
            "const svg = document.querySelector('svg.map'); const imgs = svg && svg.querySelectorAll('image.tile'); \
             if (!imgs || !imgs.length) return null; \
             return { zoom: +svg.dataset.zoom, \
               credit: document.querySelector('.map-figure figcaption').textContent, \
               tiles: [...imgs].map(i => [i.getAttribute('href'), +i.getAttribute('x'), +i.getAttribute('y'), +i.getAttribute('width')]), \
               dots: [...svg.querySelectorAll('a')].map(a => [decodeURIComponent(a.getAttribute('href').split('/').pop()), \
                 +a.firstChild.getAttribute('cx'), +a.firstChild.getAttribute('cy')]) }",
            20,
        )
        .await;
    assert_eq!(drawn["credit"], TILE_CREDIT);
    let zoom = drawn["zoom"].as_u64().unwrap() as u32;
    assert!((1..=18).contains(&zoom), "{drawn}");
    let n = f64::from(1u32 << zoom);
    for system in summary["systems"].as_array().unwrap() {
        let (lat, lon) = (
            system["location"]["latitude"].as_f64().unwrap(),
            system["location"]["longitude"].as_f64().unwrap(),
        );
        // The slippy-map tile holding (lat, lon) at this zoom.
        let phi = lat.to_radians();
        let tx = ((lon + 180.0) / 360.0 * n).floor() as u32;
        let ty = ((1.0 - phi.tan().asinh() / std::f64::consts::PI) / 2.0 * n).floor() as u32;
        let href = tiles
            .template
            .replace("{z}", &zoom.to_string())
            .replace("{x}", &tx.to_string())
            .replace("{y}", &ty.to_string());
        let image = drawn["tiles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t[0] == href.as_str())
            .unwrap_or_else(|| panic!("no tile {href} under {system}"));
        let dot = drawn["dots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d[0] == system["id"])
            .unwrap_or_else(|| panic!("no dot for {}", system["id"]));
        let (x, y, size) = (
            image[1].as_f64().unwrap(),
            image[2].as_f64().unwrap(),
            image[3].as_f64().unwrap(),
        );
        let (cx, cy) = (dot[1].as_f64().unwrap(), dot[2].as_f64().unwrap());
        assert!(
            (x - 0.1..=x + size + 0.1).contains(&cx) && (y - 0.1..=y + size + 0.1).contains(&cy),
            "{} at ({cx}, {cy}) is not on its tile {href} at ({x}, {y})",
            system["name"]
        );
        // The browser fetched it (the CSP let it through).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !tiles.asked().contains(&(zoom, tx, ty)) {
            assert!(
                std::time::Instant::now() < deadline,
                "tile {href} was never fetched; asked: {:?}",
                tiles.asked()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Rows of the fleet table, as the user sees them (status, name).
const FLEET_ROWS: &str = "return [...document.querySelectorAll('#fleet-table tbody tr')].map(r => [r.cells[0].innerText.trim(), r.cells[1].innerText.trim()])";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_real_browser_from_sign_in_to_the_assistant() {
    let dir = tempfile::tempdir().unwrap();
    let mut tiles = TileServer::start();
    let demo = Demo::start(dir.path(), &tiles.template);
    let driver = Driver::start();
    let browser = driver.browser(WIDTH, 900).await;
    let url = demo.url.clone();
    let admin = Api::sign_in(&url, "demo@moose.invalid", &demo.password).await;

    // Sign-in: a wrong password is refused with a message; the right one opens the fleet.
    browser.goto(&format!("{url}/")).await;
    browser
        .type_into("input[name=email]", "demo@moose.invalid")
        .await;
    browser
        .type_into("input[name=password]", "not the password")
        .await;
    browser.click("form button[type=submit]").await;
    let refused = browser
        .wait_for(
            "the refusal",
            "return document.querySelector('form [role=alert]').textContent",
            15,
        )
        .await;
    assert!(refused.as_str().unwrap().contains("not right"), "{refused}");
    save(&browser, "sign-in", false).await;
    sign_in(&browser, &url, "demo@moose.invalid", &demo.password).await;

    // The fleet lists every demo system the API lists, with its state.
    let summary = admin
        .call(reqwest::Method::GET, "/api/fleet/summary?limit=500", None)
        .await;
    let names: Vec<&str> = summary["systems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    let rows = browser.js(FLEET_ROWS, json!([])).await;
    let shown: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[1].as_str().unwrap())
        .collect();
    assert_eq!(shown.len(), names.len(), "{shown:?}");
    for name in &names {
        assert!(shown.contains(name), "{name} is missing from {shown:?}");
    }
    // Filtering narrows the list to matching names.
    browser.type_into("input[type=search]", "Wels").await;
    let filtered = browser.js(FLEET_ROWS, json!([])).await;
    let expected = names.iter().filter(|n| n.contains("Wels")).count();
    assert_eq!(filtered.as_array().unwrap().len(), expected, "{filtered}");
    assert!(expected > 0);
    browser.goto(&format!("{url}/#/fleet")).await;
    browser
        .wait_for(
            "the map",
            "return document.querySelectorAll('svg.map circle').length",
            20,
        )
        .await;
    let dots = browser
        .js(
            "return document.querySelectorAll('svg.map circle').length",
            json!([]),
        )
        .await;
    assert_eq!(dots.as_u64().unwrap() as usize, names.len());
    map_stands_on_its_tiles(&browser, &summary, &tiles).await;
    save(&browser, "fleet-map-tiles", true).await;

    // With the tile server gone (no network), the reloaded page still maps every system.
    tiles.stop();
    let asked = tiles.asked().len();
    browser
        .js("window.beforeReload = true; location.reload()", json!([]))
        .await;
    let dots = browser
        .wait_for(
            "the map without tiles",
            "const n = document.querySelectorAll('svg.map circle').length; \
             return !window.beforeReload && n > 0 ? n : null",
            20,
        )
        .await;
    assert_eq!(dots.as_u64().unwrap() as usize, names.len());
    assert_eq!(tiles.asked().len(), asked, "a stopped server answered");
    // The tiles that could not load are taken away (no broken-image icons over the map).
    browser
        .wait_for(
            "the failed tiles to go",
            "return document.querySelectorAll('svg.map image.tile').length === 0",
            20,
        )
        .await;

    // A system page draws today's production as bars, with the clear-sky curve.
    let first = summary["systems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["today"]["produced_wh"].as_f64().unwrap_or(0.0) > 0.0)
        .expect("a system that produced today");
    let id = first["id"].as_str().unwrap();
    browser.goto(&format!("{url}/#/systems/{id}")).await;
    let bars = browser
        .wait_for("the chart's bars", "return [...document.querySelectorAll('svg.chart rect.bar')].filter(b => Number(b.getAttribute('height')) > 0).length", 30)
        .await;
    assert!(bars.as_u64().unwrap() > 0);
    // The bars add up to what the API says was produced today.
    let drawn = browser.js("return [...document.querySelectorAll('svg.chart rect.bar')].reduce((a, b) => a + Number(b.dataset.wh), 0)", json!([])).await;
    let produced = first["today"]["produced_wh"].as_f64().unwrap();
    assert!(
        (drawn.as_f64().unwrap() - produced).abs() < 1.0,
        "chart {drawn} vs API {produced}"
    );
    let curve = browser
        .js(
            "return document.querySelector('svg.chart polyline.expected') !== null",
            json!([]),
        )
        .await;
    assert_eq!(curve, Value::Bool(true), "the clear-sky curve is drawn");
    let controls = browser
        .js(
            "return [...document.querySelectorAll('h2')].some(h => h.textContent === 'Controls')",
            json!([]),
        )
        .await;
    assert_eq!(
        controls,
        Value::Bool(true),
        "an administrator sees the controls"
    );
    save(&browser, "system", true).await;

    // An incident of the demo scenario opens within its first minutes; it is acknowledged from
    // the console, and the API agrees.
    let mut incident = Value::Null;
    for _ in 0..180 {
        let list = admin
            .call(reqwest::Method::GET, "/api/incidents?state=open", None)
            .await;
        if let Some(first) = list["incidents"].as_array().and_then(|l| l.first()) {
            incident = first.clone();
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let incident_id = incident["id"]
        .as_str()
        .expect("an open incident within three minutes")
        .to_owned();
    // The fleet shows it: the system's state and its open incident.
    browser.goto(&format!("{url}/#/fleet")).await;
    browser
        .wait_for("the incident in the fleet", "return [...document.querySelectorAll('#fleet-table tbody tr')].some(r => r.cells[5].innerText.trim() !== '0')", 20)
        .await;
    save(&browser, "fleet", true).await;
    browser.goto(&format!("{url}/#/incidents")).await;
    browser
        .wait_for(
            "the incident list",
            "return document.querySelector('main table tbody tr') !== null",
            20,
        )
        .await;
    save(&browser, "incidents", true).await;
    browser
        .goto(&format!("{url}/#/incidents/{incident_id}"))
        .await;
    browser
        .type_into("main input[type=text]", "crew on the way")
        .await;
    save(&browser, "incident", true).await;
    browser.click_button("Acknowledge").await;
    browser
        .wait_for(
            "the acknowledgement",
            "return document.body.innerText.includes('Acknowledged')",
            20,
        )
        .await;
    let after = admin
        .call(
            reqwest::Method::GET,
            &format!("/api/incidents/{incident_id}"),
            None,
        )
        .await;
    assert!(after["acked_at"].is_string(), "{after}");

    // The assistant answers, streaming, with its sources.
    browser.goto(&format!("{url}/#/assistant")).await;
    browser
        .type_into(
            "textarea",
            "How do I troubleshoot an inverter that reports an insulation fault?",
        )
        .await;
    browser.click("form.chat button[type=submit]").await;
    let answer = browser
        .wait_for("the answer's sources", "const c = document.querySelector('.msg.assistant .cites'); return c && document.querySelector('.msg.assistant').innerText", 60)
        .await;
    let answer = answer.as_str().unwrap();
    assert!(answer.len() > 80, "{answer}");
    assert!(answer.contains("Sources:"), "{answer}");
    // The new conversation has its address and is listed; it is the API's latest one.
    let opened = browser
        .wait_for(
            "the conversation's address",
            "return location.hash.startsWith('#/assistant/') && decodeURIComponent(location.hash.slice(12))",
            10,
        )
        .await;
    let conversations = admin
        .call(reqwest::Method::GET, "/api/chat/conversations", None)
        .await;
    assert_eq!(
        conversations["conversations"][0]["id"], opened,
        "{conversations}"
    );
    save(&browser, "assistant", true).await;
    // Started afresh, the page lists it; opened from the list, it shows the question and the
    // answer with its sources again, and a follow-up continues it.
    browser.goto(&format!("{url}/#/incidents")).await;
    browser.goto(&format!("{url}/#/assistant")).await;
    browser
        .wait_for(
            "an empty conversation",
            "return location.hash === '#/assistant' && document.querySelector('nav.conversations li a') !== null && document.querySelectorAll('.msg').length === 0",
            20,
        )
        .await;
    browser.click("nav.conversations li a").await;
    let shown = browser
        .wait_for(
            "the earlier conversation",
            "const m = [...document.querySelectorAll('.msg')]; return m.length === 2 && m[1].querySelector('.cites') && m.map(x => x.innerText)",
            20,
        )
        .await;
    assert!(
        shown[0].as_str().unwrap().contains("insulation fault"),
        "{shown}"
    );
    assert!(shown[1].as_str().unwrap().contains("Sources:"), "{shown}");
    browser
        .type_into("textarea", "And after a rain shower?")
        .await;
    browser.click("form.chat button[type=submit]").await;
    browser
        .wait_for(
            "the follow-up answer",
            "const m = document.querySelectorAll('.msg.assistant'); return m.length === 2 && m[1].querySelector('.cites') !== null",
            60,
        )
        .await;
    let conversation = admin
        .call(
            reqwest::Method::GET,
            &format!("/api/chat/conversations/{}", opened.as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(
        conversation["messages"].as_array().map(Vec::len),
        Some(4),
        "the follow-up did not continue the conversation: {conversation}"
    );
    // Deleted from the page, it is gone from the API and the list.
    browser.click_button("Delete this conversation").await;
    browser
        .wait_for(
            "the list without it",
            "return location.hash === '#/assistant' && document.querySelector('nav.conversations') !== null && document.querySelector('nav.conversations li') === null",
            20,
        )
        .await;
    let conversations = admin
        .call(reqwest::Method::GET, "/api/chat/conversations", None)
        .await;
    assert_eq!(conversations["conversations"], json!([]), "{conversations}");

    // The demo account owns the demo systems, so the incident reached its in-app feed; the
    // notifications page lists what the API lists.
    let mut feed = Value::Null;
    for _ in 0..120 {
        feed = admin
            .call(reqwest::Method::GET, "/api/notifications", None)
            .await;
        if feed["notifications"]
            .as_array()
            .is_some_and(|l| !l.is_empty())
        {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let listed = feed["notifications"]
        .as_array()
        .expect("a notification within two minutes")
        .len();
    assert!(listed > 0, "{feed}");
    browser.goto(&format!("{url}/#/notifications")).await;
    browser
        .wait_for(
            "the settings form",
            "return document.querySelector('input[name=email]') !== null",
            20,
        )
        .await;
    let items = browser
        .js(
            "return document.querySelectorAll('main ul li').length",
            json!([]),
        )
        .await;
    assert_eq!(items.as_u64().unwrap() as usize, listed, "{feed}");
    // Settings are saved through the console: quiet hours and the least severity.
    browser
        .js("document.querySelector('input[name=quiet_start]').value = '22:00'; document.querySelector('input[name=quiet_end]').value = '06:30'; document.querySelector('select[name=min_severity]').value = 'critical';", json!([]))
        .await;
    browser.click_button("Save settings").await;
    browser
        .wait_for(
            "the confirmation",
            "return document.querySelector('#alert').textContent === 'Settings saved.'",
            20,
        )
        .await;
    let saved = admin
        .call(
            reqwest::Method::GET,
            "/api/users/me/notification-settings",
            None,
        )
        .await;
    assert_eq!(
        saved["quiet_hours"],
        json!({"start": "22:00", "end": "06:30"}),
        "{saved}"
    );
    assert_eq!(saved["min_severity"], "critical");
    // A manager's control: snoozing the incident's system from its page reaches its status.
    let incident_system = incident["system"].as_str().unwrap().to_owned();
    browser
        .goto(&format!("{url}/#/systems/{incident_system}"))
        .await;
    browser.find("svg.chart").await;
    browser.click_button("Snooze notifications").await;
    browser
        .wait_for(
            "the snooze",
            "return document.body.innerText.includes('Notifications are snoozed until')",
            20,
        )
        .await;
    let status = admin
        .call(
            reqwest::Method::GET,
            &format!("/api/systems/{incident_system}/status"),
            None,
        )
        .await;
    assert!(status["snoozed_until"].is_string(), "{status}");
    save(&browser, "notifications", true).await;
    browser.goto(&format!("{url}/#/admin")).await;
    let users = browser
        .wait_for(
            "the users table",
            "return document.querySelectorAll('main table tbody tr').length",
            20,
        )
        .await;
    assert!(users.as_u64().unwrap() >= 1);
    save(&browser, "admin", true).await;

    // Tokens: the refresh token is an httpOnly cookie script cannot read, and nothing is in
    // web storage.
    let stored = browser
        .js("return [document.cookie, JSON.stringify(localStorage), JSON.stringify(sessionStorage)]", json!([]))
        .await;
    assert_eq!(
        stored,
        json!(["", "{}", "{}"]),
        "no token reachable from script"
    );

    // A viewer of one system: the fleet shows just it, and no page offers a write.
    let invited = admin
        .call(
            reqwest::Method::POST,
            "/api/users",
            Some(json!({"email": "viewer@moose.invalid", "name": "Vera Viewer", "role": "viewer"})),
        )
        .await;
    let viewer_id = invited["user"]["id"].as_str().unwrap();
    let viewer_password = invited["initial_password"].as_str().unwrap();
    admin
        .call(
            reqwest::Method::PUT,
            &format!("/api/systems/{incident_system}/members/{viewer_id}"),
            Some(json!({"role": "viewer"})),
        )
        .await;
    browser.click("#signout").await;
    browser
        .wait_for(
            "the sign-in page",
            "return document.querySelector('input[name=password]') !== null",
            20,
        )
        .await;
    sign_in(&browser, &url, "viewer@moose.invalid", viewer_password).await;
    let rows = browser.js(FLEET_ROWS, json!([])).await;
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    let nav = browser
        .js("return document.querySelector('#nav').innerText", json!([]))
        .await;
    assert!(!nav.as_str().unwrap().contains("Admin"), "{nav}");
    browser
        .goto(&format!("{url}/#/systems/{incident_system}"))
        .await;
    browser
        .wait_for(
            "the viewer's system page",
            "return document.querySelector('svg.chart, figure') !== null",
            30,
        )
        .await;
    let writes = browser
        .js("return [...document.querySelectorAll('main button')].map(b => b.textContent).filter(t => !['Ask'].includes(t))", json!([]))
        .await;
    assert_eq!(
        writes,
        json!([]),
        "a viewer sees no write controls on a system"
    );
    browser
        .goto(&format!("{url}/#/incidents/{incident_id}"))
        .await;
    browser.wait_for("the viewer's incident page", "return document.querySelector('main h1') && !document.body.innerText.includes('Loading')", 20).await;
    let ack = browser.js("return [...document.querySelectorAll('main button')].some(b => b.textContent === 'Acknowledge')", json!([])).await;
    assert_eq!(ack, Value::Bool(false), "a viewer cannot acknowledge");
    save(&browser, "viewer-system", false).await;

    // A phone: 375 px wide, nothing wider than the screen but the tables' own scroll boxes.
    browser.viewport(375, 812).await;
    browser.goto(&format!("{url}/#/fleet")).await;
    browser
        .wait_for(
            "the fleet at 375 px",
            "return document.querySelector('#fleet-table tbody tr') !== null",
            20,
        )
        .await;
    let overflow = browser
        .js(
            "return [document.documentElement.scrollWidth, window.innerWidth]",
            json!([]),
        )
        .await;
    assert!(
        overflow[0].as_u64() <= overflow[1].as_u64(),
        "the page scrolls sideways at 375 px: {overflow}"
    );
    let png = browser.screenshot().await;
    for dir in screenshot_dirs() {
        std::fs::write(dir.join("phone.png"), &png).unwrap();
    }
    browser.quit().await;
}
