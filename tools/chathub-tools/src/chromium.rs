//! Headless Chromium (Debian's `chromium`) driven over the DevTools protocol, for full-page
//! screenshots of HTML we already hold: a recorded body of the original or a body our server
//! answered. Both go through the same path: the page is opened at its real URL, the document
//! request is answered with the given body, and every other request (CDN styles, images,
//! scripts) is refused, so neither side sees anything the other does not.
//!
//! Fonts: Chromium gets a fontconfig file of its own that lists only the fixed font package
//! (`fonts-wqy-zenhei`), so every family a page asks for falls back to the same face on every
//! machine.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

/// Where Debian's `fonts-wqy-zenhei` puts its face.
pub const FONT_DIR: &str = "/usr/share/fonts/truetype/wqy";

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The browser binary, when one is installed.
pub fn find_browser() -> Option<&'static str> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
}

/// Whether the fixed font is installed (the pictures are only comparable with it).
pub fn font_installed() -> bool {
    Path::new(FONT_DIR).join("wqy-zenhei.ttc").exists()
}

/// One headless browser with one page target; dropped = killed.
pub struct Browser {
    _child: tokio::process::Child,
    _profile: tempfile::TempDir,
    ws: Socket,
    next_id: u64,
}

/// A page as a browser would load it: the URL it is at and the HTML that URL answered.
pub struct Document<'a> {
    pub url: &'a str,
    pub html: &'a str,
}

fn fonts_conf(dir: &Path) -> std::io::Result<PathBuf> {
    let path = dir.join("fonts.conf");
    let cache = dir.join("fontcache");
    std::fs::write(
        &path,
        format!(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE fontconfig SYSTEM \"fonts.dtd\">\n<fontconfig>\n\
             <dir>{FONT_DIR}</dir>\n<cachedir>{}</cachedir>\n</fontconfig>\n",
            cache.display()
        ),
    )?;
    Ok(path)
}

impl Browser {
    pub async fn launch(program: &str) -> Result<Browser, String> {
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let conf = fonts_conf(profile.path()).map_err(|e| e.to_string())?;
        let mut command = tokio::process::Command::new(program);
        command
            .args(["--hide-scrollbars", "--font-render-hinting=none"])
            .env("FONTCONFIG_FILE", &conf);
        let (child, ws) = start(command, &profile.path().join("p")).await?;
        let mut b = Browser {
            _child: child,
            _profile: profile,
            ws,
            next_id: 0,
        };
        b.call("Page.enable", json!({})).await?;
        // Every request pauses here; `answer_requests` serves the document and refuses the rest.
        b.call("Fetch.enable", json!({"patterns": [{"urlPattern": "*"}]}))
            .await?;
        Ok(b)
    }

    async fn send(&mut self, method: &str, params: Value) -> Result<u64, String> {
        self.next_id += 1;
        let msg = json!({"id": self.next_id, "method": method, "params": params});
        self.ws
            .send(Message::Text(msg.to_string()))
            .await
            .map_err(|e| format!("send {method}: {e}"))?;
        Ok(self.next_id)
    }

    async fn next_message(&mut self) -> Result<Value, String> {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(30), self.ws.next())
                .await
                .map_err(|_| "chromium stopped answering".to_string())?
                .ok_or("devtools socket closed")?
                .map_err(|e| e.to_string())?;
            if let Message::Text(t) = frame {
                return serde_json::from_str(&t).map_err(|e| e.to_string());
            }
        }
    }

    /// One command and its result; events arriving meanwhile are dropped.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.send(method, params).await?;
        loop {
            let v = self.next_message().await?;
            if v["id"] == json!(id) {
                if let Some(e) = v.get("error") {
                    return Err(format!("{method}: {e}"));
                }
                return Ok(v["result"].clone());
            }
        }
    }

    /// Open `doc` in a window `width` CSS pixels wide (scale 1; a phone below 600) and take the
    /// whole page as PNG.
    pub async fn screenshot(&mut self, doc: &Document<'_>, width: u32) -> Result<Vec<u8>, String> {
        let mobile = width < 600;
        let height = if mobile { 844 } else { 800 };
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        )
        .await?;
        let nav = self.send("Page.navigate", json!({"url": doc.url})).await?;
        self.answer_requests(doc, nav).await?;
        // Fonts and layout settle after the load event.
        self.call(
            "Runtime.evaluate",
            json!({"expression": "document.fonts.ready.then(() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))))", "awaitPromise": true}),
        )
        .await?;
        let metrics = self.call("Page.getLayoutMetrics", json!({})).await?;
        let full = metrics["cssContentSize"]["height"]
            .as_f64()
            .unwrap_or(height as f64)
            .ceil()
            .max(1.0);
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true,
                       "clip": {"x": 0, "y": 0, "width": width, "height": full, "scale": 1}}),
            )
            .await?;
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .map_err(|e| e.to_string())
    }

    /// Until the page fires `load`: the first document request (the URL navigated to) gets
    /// `doc.html`, anything else fails as a blocked request would.
    async fn answer_requests(&mut self, doc: &Document<'_>, nav: u64) -> Result<(), String> {
        let body = base64::engine::general_purpose::STANDARD.encode(doc.html);
        let mut served = false;
        loop {
            let v = self.next_message().await?;
            if v["id"] == json!(nav)
                && let Some(e) = v.get("error")
            {
                return Err(format!("navigate: {e}"));
            }
            match v["method"].as_str() {
                Some("Fetch.requestPaused") => {
                    let id = v["params"]["requestId"].clone();
                    if !served && v["params"]["resourceType"] == "Document" {
                        served = true;
                        let headers =
                            [json!({"name": "Content-Type", "value": "text/html; charset=utf-8"})];
                        self.send(
                            "Fetch.fulfillRequest",
                            json!({"requestId": id, "responseCode": 200, "responseHeaders": headers, "body": body}),
                        )
                        .await?;
                    } else {
                        self.send(
                            "Fetch.failRequest",
                            json!({"requestId": id, "errorReason": "BlockedByClient"}),
                        )
                        .await?;
                    }
                }
                Some("Page.loadEventFired") => return Ok(()),
                _ => {}
            }
        }
    }
}

/// Start a headless Chromium from `command` (the program and any flags or environment of the
/// caller's own) with a fresh profile in `profile`, and connect to its page target. The flags
/// every use needs: no sandbox as root, and no background connections, which this machine's
/// closed network refuses many at a time.
pub async fn start(
    mut command: tokio::process::Command,
    profile: &Path,
) -> Result<(tokio::process::Child, Socket), String> {
    let mut child = command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("start {:?}: {e}", command.as_std().get_program()))?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let port = devtools_port(stderr).await?;
    let ws_url = page_target(port).await?;
    let (ws, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .map_err(|e| format!("devtools socket: {e}"))?;
    Ok((child, ws))
}

async fn devtools_port(stderr: tokio::process::ChildStderr) -> Result<String, String> {
    let mut lines = BufReader::new(stderr).lines();
    let port = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.split("ws://127.0.0.1:").nth(1) {
                return rest.split('/').next().unwrap_or("").to_string();
            }
        }
        String::new()
    })
    .await
    .map_err(|_| "chromium did not print its DevTools address".to_string())?;
    // Keep draining so a chatty browser never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    if port.is_empty() {
        return Err("chromium exited before DevTools listened".into());
    }
    Ok(port)
}

async fn page_target(port: String) -> Result<String, String> {
    let targets: Value = reqwest::get(format!("http://127.0.0.1:{port}/json/list"))
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    targets
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["type"] == "page")
        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        .map(str::to_string)
        .ok_or_else(|| "no page target".to_string())
}
