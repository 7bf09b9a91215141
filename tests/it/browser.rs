//! A real browser signs up: headless Chromium (Debian's `chromium`) loads registerPage, a person's
//! actions are replayed through the DevTools protocol (type into the fields, click the button),
//! and the page's own script submits over AJAX and shows the result card.

use std::time::{Duration, Instant};

use crate::support::spawn_app;
use futures_util::{SinkExt, StreamExt};
use mysql_async::prelude::*;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

fn chromium() -> Option<&'static str> {
    chathub_tools::chromium::find_browser()
}
/// A minimal DevTools client on one page target.
struct Page {
    ws: chathub_tools::chromium::Socket,
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
    let mut command = tokio::process::Command::new(browser);
    command.arg("--window-size=1200,2000");
    let (child, ws) = chathub_tools::chromium::start(command, profile)
        .await
        .expect("start chromium");
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

/// Screenshots of every step of a tour, written under `target/browser-dev/` only when the
/// test fails (the guard is dropped while panicking).
struct Shots {
    taken: Vec<(String, String)>,
}

impl Drop for Shots {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        use base64::Engine as _;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-dev");
        let _ = std::fs::create_dir_all(&dir);
        for (i, (step, png)) in self.taken.iter().enumerate() {
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(png) {
                let _ = std::fs::write(dir.join(format!("{i:02}-{step}.png")), bytes);
            }
        }
        eprintln!("screenshots of each step in {}", dir.display());
    }
}

impl Page {
    async fn shot(&mut self, shots: &mut Shots, step: &str) {
        let r = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        if let Some(png) = r["result"]["data"].as_str() {
            shots.taken.push((step.to_string(), png.to_string()));
        }
    }

    async fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.wait_for("document.readyState === 'complete'", url)
            .await;
    }

    /// Click the element a script expression finds (a button chosen by its row's text).
    async fn click_found(&mut self, find: &str) {
        self.eval(&format!(
            "(()=>{{const e=({find});e.setAttribute('data-click','1')}})()"
        ))
        .await;
        self.click("[data-click='1']").await;
        self.eval("document.querySelector('[data-click]')?.removeAttribute('data-click')")
            .await;
    }
}

async fn tenant_id(db: &crate::support::TestDb, name: &str) -> u32 {
    let mut c = db.conn().await;
    c.exec_first(
        "SELECT id FROM fa_chathub_tenant WHERE tenant_name = ?",
        (name,),
    )
    .await
    .unwrap()
    .unwrap()
}

async fn expire_date(db: &crate::support::TestDb, id: u32) -> String {
    let mut c = db.conn().await;
    let at: Option<String> = c
        .exec_first(
            "SELECT DATE_FORMAT(expire_at, '%Y-%m-%d') FROM fa_chathub_tenant WHERE id = ?",
            (id,),
        )
        .await
        .unwrap();
    at.unwrap_or_default()
}

/// The README's tour in a real browser on `cargo dev`: the demo member renews through the
/// Alipay 收银台 and sees the new expiry, pays another tenant by WeChat "scan", and the admin
/// signs in on the dev login page, suspends and activates a tenant and finds both in the log.
#[tokio::test]
async fn the_dev_stack_tour_in_a_real_browser() {
    let Some(browser) = chromium() else {
        assert!(std::env::var_os("CI").is_none(), "CI must have chromium");
        eprintln!("skipped: chromium is not installed");
        return;
    };
    let dev = crate::dev::DevStack::start().await;
    let profile = tempfile::tempdir().unwrap();
    let (_chromium, mut page) = open_page(browser, profile.path()).await;
    let mut shots = Shots { taken: Vec::new() };
    page.call("Page.enable", json!({})).await;

    // The member signs in.
    page.goto(&dev.url("/addons/chathub/index/login")).await;
    page.type_into("input[name=email]", "demo@example.com")
        .await;
    page.type_into("input[name=password]", "chathub-demo-1")
        .await;
    page.click("button[type=submit]").await;
    page.wait_for("location.pathname.endsWith('/my')", "the member center")
        .await;
    page.shot(&mut shots, "my").await;

    // Renew the expiring tenant, pay in the Alipay stand-in, see the new expiry in `my`.
    let expiring = tenant_id(&dev.db, "Demo Expiring").await;
    let before = expire_date(&dev.db, expiring).await;
    page.click(&format!(
        "a[href='/addons/chathub/index/renew?id={expiring}']"
    ))
    .await;
    page.wait_for(
        "!!document.querySelector('a[href*=payAlipay]')",
        "the renew page",
    )
    .await;
    page.shot(&mut shots, "renew").await;
    page.click("a[href*=payAlipay]").await;
    page.wait_for(
        "!!document.querySelector('#alipay-pay')",
        "the Alipay 收银台",
    )
    .await;
    page.shot(&mut shots, "alipay").await;
    page.click("#alipay-pay").await;
    page.wait_for(
        "location.search.includes('just_paid=1')",
        "back in my after paying",
    )
    .await;
    let after = expire_date(&dev.db, expiring).await;
    assert_ne!(after, before, "the expiry moved");
    page.wait_for(
        &format!("document.body.innerText.includes({})", json!(after)),
        "the new expiry in my",
    )
    .await;
    page.shot(&mut shots, "paid-alipay").await;

    // Pay the pending tenant through the WeChat stand-in: QR page, then the "scan".
    let pending = tenant_id(&dev.db, "Demo Pending").await;
    page.goto(&dev.url(&format!("/addons/chathub/index/renew?id={pending}")))
        .await;
    page.click("a[href*=payWechat]").await;
    page.wait_for(
        "!!document.querySelector('#wxpay svg')",
        "the WeChat QR page",
    )
    .await;
    page.shot(&mut shots, "wechat-qr").await;
    page.goto(&dev.url("/dev/wechat")).await;
    page.click("a[href^='/dev/wechat/']").await;
    page.wait_for("!!document.querySelector('#wechat-pay')", "the scan page")
        .await;
    page.click("#wechat-pay").await;
    page.wait_for(
        "document.body.innerText.includes('支付成功')",
        "WeChat paid",
    )
    .await;
    page.shot(&mut shots, "wechat-paid").await;
    page.click("#wechat-back").await;
    page.wait_for("location.pathname.endsWith('/my')", "back in my")
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while crate::support::tenant_status(&dev.db, pending).await != "active" {
        assert!(
            Instant::now() < deadline,
            "the paid pending tenant is provisioned"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The admin signs in on the dev login page and suspends, then activates, a tenant.
    page.goto(&dev.url("/admin")).await;
    page.wait_for("!!document.querySelector('#login-btn')", "the admin login")
        .await;
    page.shot(&mut shots, "admin-login").await;
    page.type_into("input[name=username]", "admin").await;
    page.type_into("input[name=password]", "chathub-admin-1")
        .await;
    page.click("#login-btn").await;
    let row = "[...document.querySelectorAll('tr')].find(r=>r.innerText.includes('Demo Shop'))";
    page.wait_for(&format!("!!{row}"), "the tenant list").await;
    page.eval("window.confirm=()=>true; window.alert=()=>{}")
        .await;
    page.shot(&mut shots, "console").await;
    page.click_found(&format!(
        "[...{row}.querySelectorAll('button')].find(b=>b.innerText==='暂停')"
    ))
    .await;
    page.wait_for(
        &format!("[...{row}.querySelectorAll('button')].some(b=>b.innerText==='恢复')"),
        "suspended",
    )
    .await;
    let shop = tenant_id(&dev.db, "Demo Shop").await;
    assert_eq!(
        crate::support::tenant_status(&dev.db, shop).await,
        "suspended"
    );
    page.click_found(&format!(
        "[...{row}.querySelectorAll('button')].find(b=>b.innerText==='恢复')"
    ))
    .await;
    page.wait_for(
        &format!("[...{row}.querySelectorAll('button')].some(b=>b.innerText==='暂停')"),
        "active again",
    )
    .await;
    assert_eq!(crate::support::tenant_status(&dev.db, shop).await, "active");
    page.goto(&dev.url("/addons/chathub/index/logs")).await;
    let logs = page.eval("document.body.innerText").await;
    page.shot(&mut shots, "logs").await;
    let logs = logs.as_str().unwrap_or_default();
    for action in ["suspend", "activate"] {
        assert!(
            logs.lines().any(|l| l.contains(action)
                && l.contains("admin")
                && l.contains(&shop.to_string())),
            "{action} by admin in the log:\n{logs}"
        );
    }
}
