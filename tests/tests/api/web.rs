//! The browser the page tests drive: Debian's Chromium, headless, through chromedriver and the
//! `thirtyfour` WebDriver client; axe-core injected to check each page; screenshots at a phone's
//! and a school computer's size written under `target/screenshots/` for a person to look at.
use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use thirtyfour::{extensions::cdp::ChromeDevTools, prelude::*};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn required() -> bool {
    std::env::var("HOCTHI_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// One browser (its own profile: its own cookies and IndexedDB, as a second computer would be).
pub struct Browser {
    pub driver: WebDriver,
    devtools: ChromeDevTools,
    chromedriver: Child,
    profile: PathBuf,
}

impl Browser {
    /// A headless Chromium, or `None` (a skip) when it is not installed and the environment does
    /// not require it (CI does).
    pub async fn launch() -> Option<Browser> {
        let installed =
            std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
        if !installed {
            assert!(
                !required(),
                "Chromium and chromedriver are required (apt-get install chromium chromium-driver)"
            );
            eprintln!("skipped: Chromium not installed");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let chromedriver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile =
            std::env::temp_dir().join(format!("hocthi-chromium-{}", uuid::Uuid::new_v4()));
        let mut caps = DesiredCapabilities::chrome();
        caps.insert_browser_option("binary", CHROMIUM).unwrap();
        for arg in [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--lang=vi-VN",
            "--window-size=1366,768",
            &format!("--user-data-dir={}", profile.display()),
        ] {
            caps.add_arg(arg).unwrap();
        }
        // chromedriver takes a moment to listen: try until it answers (its readiness, not a
        // condition of the test).
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let driver = loop {
            match WebDriver::new(&url, caps.clone()).await {
                Ok(driver) => break driver,
                Err(e) if started.elapsed() < Duration::from_secs(20) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("no WebDriver session: {e}"),
            }
        };
        let devtools = ChromeDevTools::new(driver.handle.clone());
        Some(Browser {
            driver,
            devtools,
            chromedriver,
            profile,
        })
    }

    pub async fn open(&self, url: &str) {
        self.driver.goto(url).await.expect("the page opens");
    }

    pub async fn element(&self, css: &str) -> WebElement {
        self.driver
            .query(By::Css(css))
            .wait(Duration::from_secs(10), Duration::from_millis(50))
            .first()
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    pub async fn click(&self, css: &str) {
        let element = self.element(css).await;
        // In the middle of the window, as a person would have it, clear of the sticky bar.
        self.driver
            .execute(
                "arguments[0].scrollIntoView({ block: 'center' });",
                vec![element.to_json().unwrap()],
            )
            .await
            .unwrap();
        if let Err(e) = element.click().await {
            // What was in the way, for the person reading the failure.
            let shot = screenshot_folder().join("failed-click.png");
            let _ = std::fs::create_dir_all(screenshot_folder());
            let _ = self.driver.screenshot(&shot).await;
            panic!("cannot click {css}: {e} (see {})", shot.display());
        }
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css).await;
        element.clear().await.unwrap();
        element.send_keys(text).await.unwrap();
    }

    pub async fn text(&self, css: &str) -> String {
        self.element(css).await.text().await.unwrap()
    }

    /// Runs a script in the page and gives back what it returns.
    pub async fn run(&self, script: &str) -> Value {
        self.driver
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
            .json()
            .clone()
    }

    /// Waits until `condition` (a JavaScript expression) holds in the page, up to 20 s.
    pub async fn wait_for(&self, condition: &str, what: &str) {
        let started = Instant::now();
        loop {
            let holds = self
                .driver
                .execute(&format!("return Boolean({condition});"), Vec::new())
                .await
                .map(|r| r.json().as_bool() == Some(true))
                .unwrap_or(false);
            if holds {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "waited 20 s for {what} ({condition})"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A DevTools command on the current tab.
    pub async fn devtools(&self, cmd: &str, params: Value) -> Value {
        self.devtools
            .execute_cdp_with_params(cmd, params)
            .await
            .unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }

    /// Cuts the network (as DevTools' "Offline") or brings it back.
    pub async fn offline(&self, offline: bool) {
        self.devtools("Network.enable", json!({})).await;
        self.devtools(
            "Network.emulateNetworkConditions",
            json!({ "offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1 }),
        )
        .await;
    }

    /// Checks the page with axe-core (WCAG 2.1 A and AA): no serious or critical violation.
    /// axe-core comes from npm (`.ci/run` installs it); where it is missing the check is skipped
    /// unless the environment requires every tool.
    pub async fn check_accessibility(&self, page: &str) {
        let Some(axe) = axe_source() else {
            assert!(
                !required(),
                "axe-core is required (npm install axe-core, see .ci/run)"
            );
            eprintln!("skipped accessibility check of {page}: axe-core not installed");
            return;
        };
        self.run(&format!("{axe}\nreturn true;")).await;
        let result = self
            .driver
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
                   .then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => ({ id: v.id, impact: v.impact, help: v.help,
                                  nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ')) }))),
                         e => done([{ id: 'axe-error', help: String(e) }]));",
                Vec::new(),
            )
            .await
            .expect("axe runs")
            .json()
            .clone();
        assert_eq!(
            result,
            json!([]),
            "axe-core found serious or critical violations on the {page} page"
        );
    }

    /// Screenshots of the page at 390x844 (a phone) and 1366x768 (a school computer), into
    /// `target/screenshots/<page>-<width>.png`; the window goes back to 1366x768.
    pub async fn screenshots(&self, page: &str) {
        let folder = screenshot_folder();
        std::fs::create_dir_all(&folder).unwrap();
        for (width, height) in [(390, 844), (1366, 768)] {
            self.driver
                .set_window_rect(0, 0, width, height)
                .await
                .unwrap();
            self.driver
                .screenshot(&folder.join(format!("{page}-{width}.png")))
                .await
                .unwrap();
        }
    }

    pub async fn quit(self) {
        let _ = self.driver.quit().await;
        let mut chromedriver = self.chromedriver;
        let _ = chromedriver.kill();
        let _ = chromedriver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// The workspace's `target/screenshots`.
fn screenshot_folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots")
}

/// axe-core's script: `AXE_CORE_JS`, or where `.ci/run` installs it.
fn axe_source() -> Option<String> {
    let path = std::env::var("AXE_CORE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../target/axe/node_modules/axe-core/axe.min.js")
        });
    std::fs::read_to_string(path).ok()
}
