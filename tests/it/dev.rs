//! `cargo dev` around the server: the dev front's pages exist only there (the real
//! `chathub serve` answers 404 on every one of them), its FastAdmin sign-in and payment
//! stand-ins, the demo tenants, and a log file without colour codes.

use std::collections::BTreeMap;

use crate::support::{CHATHUB_BIN, SESSION_SECRET, TestApp, TestDb, free_port, location};
use chathub::config::ConfigSources;
use chathub_tools::devstack::{self, DevSite};

/// The dev stack on a fresh database (its own FastAdmin tables, schema, demo data), keys and
/// secrets in a temporary `var/`, the front on a free port. Stops when dropped.
pub struct DevStack {
    pub site_url: String,
    pub db: TestDb,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _var: tempfile::TempDir,
    _front: chathub_tools::devfront::DevFront,
    _stub: Option<chathub_tools::provision_stub::ProvisionStub>,
}

impl DevStack {
    pub async fn start() -> DevStack {
        let db = TestDb::empty().await;
        let var = tempfile::tempdir().unwrap();
        let env: BTreeMap<String, String> = [
            ("CHATHUB_DATABASE_URL", db.url.as_str()),
            ("CHATHUB_DEV_LISTEN", "127.0.0.1:0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let DevSite {
            app, front, stub, ..
        } = devstack::start(&ConfigSources::default(), var.path(), env, false)
            .await
            .expect("dev stack starts");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        DevStack {
            site_url: front.url(),
            db,
            stop: Some(tx),
            _var: var,
            _front: front,
            _stub: stub,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.site_url)
    }
}

impl Drop for DevStack {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// The dev-only paths: the front's own pages and the gateways' stand-ins.
const DEV_PATHS: [&str; 8] = [
    "/",
    "/admin",
    "/favicon.ico",
    "/index/login/url/%2Faddons%2Fchathub%2Findex%2Findex.html",
    "/admin.php/index/login",
    "/dev/alipay/gateway.do?app_id=1",
    "/dev/wechat",
    "/v3/pay/transactions/native",
];

#[tokio::test]
async fn serve_answers_404_on_every_dev_only_path_and_logs_without_colour_codes() {
    let db = TestDb::with_schema().await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("chathub.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = tokio::process::Command::new(CHATHUB_BIN)
        .arg("serve")
        .env_clear()
        .env("CHATHUB_DATABASE_URL", &db.url)
        .env("CHATHUB_SESSION_SECRET", SESSION_SECRET)
        .env("CHATHUB_LISTEN", format!("127.0.0.1:{port}"))
        .env("CHATHUB_FASTADMIN_TOKEN_KEY", "a-token-key")
        .env("CHATHUB_PROVISION_WORKER", "0")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = TestApp::new_client();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(std::time::Instant::now() < deadline, "serve did not start");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for path in DEV_PATHS {
        for post in [false, true] {
            let url = format!("{base}{path}");
            let req = if post {
                client.post(&url).body("username=admin&password=x")
            } else {
                client.get(&url)
            };
            let r = req.send().await.unwrap();
            assert_eq!(
                r.status(),
                404,
                "{} {path}",
                if post { "POST" } else { "GET" }
            );
            assert!(
                r.headers().get("set-cookie").is_none(),
                "{path} sets no cookie"
            );
        }
    }
    child.kill().await.unwrap();
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        text.contains("listening"),
        "the log has the start-up line: {text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "no ANSI escapes in a log file: {text:?}"
    );
}

#[tokio::test]
async fn dev_front_links_sign_in_and_gateway_checks() {
    let dev = DevStack::start().await;
    let c = TestApp::new_client();
    let get = |p: &str| c.get(dev.url(p)).send();
    // `/` is the landing page, `/admin` the console via FastAdmin's sign-in, a favicon.
    let r = get("/").await.unwrap();
    assert_eq!(
        (r.status().as_u16(), location(&r)),
        (302, "/addons/chathub/index/landing".into())
    );
    let r = get("/admin").await.unwrap();
    assert_eq!(location(&r), "/index/login?url=/addons/chathub/index/index");
    let r = get("/favicon.ico").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().starts_with("<svg"));
    // Forwarded like nginx: the member pages come from the server.
    let landing = get("/addons/chathub/index/landing").await.unwrap();
    assert_eq!(landing.status(), 200);

    // A wrong password is refused with FastAdmin's message and no cookie; the printed one
    // signs in with the keeplogin cookie the server accepts.
    let login = dev.url("/index/login");
    let wrong = c
        .post(&login)
        .form(&[
            ("username", "admin"),
            ("password", "nope"),
            ("url", "/addons/chathub/index/index"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    assert!(wrong.text().await.unwrap().contains("密码不正确"));
    let console = get("/addons/chathub/index/index").await.unwrap();
    assert!(console.text().await.unwrap().contains("请登录后再操作"));
    let ok = c
        .post(&login)
        // An address elsewhere is never a place to be sent to.
        .form(&[
            ("username", "admin"),
            ("password", "chathub-admin-1"),
            ("url", "//evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&ok), "/addons/chathub/index/index");
    let set_cookie = ok.headers()["set-cookie"].to_str().unwrap();
    let cookie = set_cookie
        .split_once(';')
        .map_or(set_cookie, |(pair, _)| pair);
    assert!(cookie.starts_with("keeplogin=1%7C86400%7C"), "{cookie}");
    let console = c
        .get(dev.url("/addons/chathub/index/index"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(console.status(), 200);
    assert!(console.text().await.unwrap().contains("<title>租户列表"));

    // The Alipay stand-in refuses a redirect that is not signed by the merchant key, and the
    // WeChat one an unsigned order.
    let r = get("/dev/alipay/gateway.do?app_id=9021000100000001&sign=AAAA&sign_type=RSA2")
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("验签出错"));
    let r = c
        .post(dev.url("/v3/pay/transactions/native"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn demo_member_owns_a_tenant_in_every_state_with_orders_and_logs() {
    let dev = DevStack::start().await;
    let mut conn = dev.db.conn().await;
    use mysql_async::prelude::*;
    let states: Vec<(String, String)> = conn
        .query(
            "SELECT t.status, IF(t.expire_at IS NULL, 'none', IF(t.expire_at < NOW() - INTERVAL 1 DAY, 'past', \
             IF(t.expire_at < NOW() + INTERVAL 8 DAY, 'soon', 'later'))) \
             FROM fa_chathub_tenant t JOIN fa_user u ON u.id = t.user_id \
             WHERE u.email = 'demo@example.com' ORDER BY t.id",
        )
        .await
        .unwrap();
    let pairs: Vec<(&str, &str)> = states
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    for want in [
        ("active", "later"),
        ("active", "soon"),
        ("active", "past"),
        ("suspended", "later"),
        ("provisioning", "later"),
        ("pending", "none"),
        ("disabled", "past"),
    ] {
        assert!(pairs.contains(&want), "{want:?} in {pairs:?}");
    }
    let orders: i64 = conn
        .query_first("SELECT COUNT(*) FROM fa_chathub_order")
        .await
        .unwrap()
        .unwrap();
    let logs: i64 = conn
        .query_first("SELECT COUNT(*) FROM fa_chathub_log")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(orders, 7);
    assert!(logs >= 7 + 6, "{logs}");
}
