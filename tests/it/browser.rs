//! A real browser signs up: headless Chromium (Debian's `chromium`) loads registerPage, a person's
//! actions are replayed through the DevTools protocol (type into the fields, click the button),
//! and the page's own script submits over AJAX and shows the result card.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::spawn_app;
use futures_util::{SinkExt, StreamExt};
use mysql_async::prelude::*;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

fn chromium() -> Option<&'static str> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
}

/// A minimal DevTools client on one page target.
struct Page {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl Page {
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"id": id, "method": method, "params": params}).to_string();
        self.ws
            .send(Message::Text(msg))
            .await
            .expect("send to chromium");
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(20), self.ws.next())
                .await
                .expect("chromium answers")
                .expect("socket open")
                .expect("frame");
            if let Message::Text(t) = frame {
                let v: Value = serde_json::from_str(&t).expect("json");
                if v["id"] == json!(id) {
                    return v;
                }
            }
        }
    }

    /// Evaluate an expression in the page and return its value.
    async fn eval(&mut self, expr: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        r["result"]["result"]["value"].clone()
    }

    async fn wait_for(&mut self, expr: &str, what: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self.eval(expr).await;
            if v.as_bool() == Some(true) || (v.is_string() && !v.as_str().unwrap_or("").is_empty())
            {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Type text the way a keyboard does (focus, then key events with the characters).
    async fn type_into(&mut self, selector: &str, text: &str) {
        self.eval(&format!(
            "document.querySelector({}).focus()",
            json!(selector)
        ))
        .await;
        self.call("Input.insertText", json!({"text": text})).await;
    }

    /// Click the centre of an element with the mouse.
    async fn click(&mut self, selector: &str) {
        let rect = self
            .eval(&format!(
                "(()=>{{const r=document.querySelector({}).getBoundingClientRect();return [r.x+r.width/2,r.y+r.height/2]}})()",
                json!(selector)
            ))
            .await;
        let (x, y) = (rect[0].as_f64().unwrap(), rect[1].as_f64().unwrap());
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            )
            .await;
        }
    }
}

async fn open_page(browser: &str, profile: &std::path::Path) -> (tokio::process::Child, Page) {
    let mut child = tokio::process::Command::new(browser)
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
            "--window-size=1200,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start chromium");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let port = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.split("ws://127.0.0.1:").nth(1) {
                return rest.split('/').next().unwrap_or("").to_string();
            }
        }
        String::new()
    })
    .await
    .expect("chromium prints its DevTools address");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let targets: Value = reqwest::get(format!("http://127.0.0.1:{port}/json/list"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ws_url = targets
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "page")
        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        .expect("a page target")
        .to_string();
    let (ws, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .expect("devtools socket");
    (child, Page { ws, next_id: 0 })
}

#[tokio::test]
async fn a_visitor_signs_up_in_a_real_browser_and_sees_the_result_card() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have chromium (scripts/test.sh installs it)"
        );
        eprintln!("skipped: chromium is not installed");
        return;
    };
    let stub = crate::support::start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    let app = spawn_app(&[("CHATHUB_ADDON_PROVISION_SERVER_URL", &stub.url())]).await;
    app.db
        .run_sql(
            "ALTER TABLE fa_user MODIFY password varchar(255) DEFAULT '' COMMENT '密码', \
             MODIFY username varchar(100) DEFAULT '' COMMENT '用户名';\n",
        )
        .await;
    let profile = tempfile::tempdir().unwrap();
    let (_chromium, mut page) = open_page(browser, profile.path()).await;
    page.call("Page.enable", json!({})).await;
    page.call(
        "Page.navigate",
        json!({"url": app.url("/addons/chathub/index/registerPage?plan=enterprise")}),
    )
    .await;
    page.wait_for(
        "document.readyState === 'complete' && !!document.querySelector('#submit-btn')",
        "the form",
    )
    .await;
    // The plan from the link is preselected and the seats row is visible for enterprise.
    assert_eq!(
        page.eval("document.querySelector('input[name=plan]:checked').value")
            .await,
        json!("enterprise")
    );
    assert_eq!(
        page.eval("getComputedStyle(document.querySelector('#seats-row')).display !== 'none'")
            .await,
        json!(true)
    );
    page.type_into("input[name=company_name]", "Browser & Co")
        .await;
    page.type_into("input[name=email]", "browser@example.com")
        .await;
    page.type_into("input[name=domain]", "browserco").await;
    page.click("#submit-btn").await;
    let text = page
        .wait_for(
            "(()=>{const t=document.querySelector('#form-card').innerText;return t.includes('注册成功')?t:''})()",
            "the result card",
        )
        .await;
    let text = text.as_str().unwrap().to_string();
    assert!(text.contains("Browser & Co"), "{text}");
    assert!(
        text.contains("websiteToken"),
        "the embed code is shown: {text}"
    );
    // The initial password on the card is the one that signs in.
    let mut conn = app.db.conn().await;
    let hash: String = conn
        .exec_first(
            "SELECT password FROM fa_user WHERE email = 'browser@example.com'",
            (),
        )
        .await
        .unwrap()
        .expect("the member was created");
    let shown = text
        .split_whitespace()
        .find(|w| {
            w.len() == 10
                && w.chars().all(|c| c.is_ascii_hexdigit())
                && chathub::domain::password::verify(w, &hash, "")
        })
        .map(str::to_string);
    assert!(
        shown.is_some(),
        "the card shows the initial password: {text}"
    );
    let tenants: Vec<(String, String)> = conn
        .query("SELECT tenant_name, status FROM fa_chathub_tenant")
        .await
        .unwrap();
    assert_eq!(
        tenants,
        vec![("Browser & Co".to_string(), "active".to_string())]
    );
}
