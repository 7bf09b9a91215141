//! Fixtures shared by the payment and worker tests: the recorded site's users, tenants and
//! orders, the throw-away gateway keys; signed notifications and the fake WeChat Pay server
//! come from `chathub_tools::sandbox` (the same stand-ins `cargo dev` serves).

use base64::Engine as _;
use chathub::clients::pay;
use chathub_tools::sandbox::{self, GatewayKeys};

use super::{TestApp, TestDb};

pub const MERCHANT_PRIVATE: &str = include_str!("../../fixtures/keys/merchant_private.pem");
pub const MERCHANT_PUBLIC: &str = include_str!("../../fixtures/keys/merchant_public.pem");
pub const MERCHANT_CERT: &str = include_str!("../../fixtures/keys/merchant_cert.pem");
pub const MERCHANT_CERT_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
pub const PLATFORM_PRIVATE: &str = include_str!("../../fixtures/keys/alipay_platform_private.pem");
pub const PLATFORM_PUBLIC: &str = include_str!("../../fixtures/keys/alipay_platform_public.pem");

pub use chathub_tools::sandbox::{ALIPAY_APP_ID, WECHAT_APP_ID, WECHAT_MCH_ID};
pub const WECHAT_V3_KEY: &str = "0123456789abcdef0123456789abcdef";

/// The recorded site: alice (2) and bob (3), their tenants and the fixture orders.
pub const FIXTURE_SQL: &str = r#"
INSERT INTO fa_user (id, username, nickname, password, salt, email, status) VALUES
 (2, 'alice', 'Alice Trading Co', 'c5e9a7d0d1b5d3a4d3f5b4a1b2c3d4e5', 'legacy1', 'alice@example.com', 'normal'),
 (3, 'bob', 'Bob Ltd', 'a5e9a7d0d1b5d3a4d3f5b4a1b2c3d4e5', 'legacy2', 'bob@example.com', 'normal');
INSERT INTO fa_chathub_tenant (id, user_id, tenant_name, domain, email, max_agents, channel_type, status, config, embed_code, expire_at, createtime) VALUES
 (11, 2, 'Alice Shop', 'alice-shop', 'alice@example.com', 2, 'web_widget', 'active', '{"plan":"pro","price":60}', '<script>w</script>', '2030-01-10 12:00:00', 1779000000),
 (13, 2, 'Alice Pending', 'alice-pending', 'alice@example.com', 1, 'web_widget', 'pending', '{"plan":"basic","price":50}', NULL, '2020-01-01 12:00:00', 1779000000),
 (16, 2, 'Alice Registered', 'alice-reg', 'alice@example.com', 3, 'web_widget', 'active', '"{\\"plan\\":\\"enterprise\\",\\"price\\":120}"', '<script>x</script>', NULL, 1779000000),
 (17, 2, 'Alice <b>Bold</b> & "Co"', 'alice-bold', 'alice@example.com', 8, 'web_widget', 'active', '{"plan":"<i>gold</i>","price":90}', '<script>y</script>', '2030-02-03 12:00:00', 1779000000),
 (18, 2, 'Alice Free', 'alice-free', 'alice@example.com', 1, 'web_widget', 'active', '{"plan":"basic"}', '<script>z</script>', NULL, 1779000000),
 (21, 3, 'Bob Store', 'bob-store', 'bob@example.com', 1, 'web_widget', 'active', '{"plan":"pro","price":60}', '<script>b</script>', '2030-01-01 12:00:00', 1779000000);
INSERT INTO fa_chathub_order (id, order_no, tenant_id, user_id, plan, amount, pay_method, pay_trade_no, status, paid_at, createtime, updatetime) VALUES
 (1, 'CHTEST0001', 11, 2, 'pro', 60.00, NULL, NULL, 'pending', NULL, 1779000000, NULL),
 (2, 'CHTEST0002', 13, 2, 'basic', 50.00, NULL, NULL, 'pending', NULL, 1779000000, NULL),
 (3, 'CHTEST0003', 11, 2, 'basic', 50.00, 'alipay', '2026060122001400000000000003', 'paid', '2026-06-01 10:00:00', 1779000000, 1779000000),
 (4, 'CHTEST0004', 13, 2, 'pro', 60.00, 'wechat', '4200000000202606010000000004', 'paid', '2026-06-01 10:00:00', 1779000000, 1779000100),
 (5, 'CHTEST0005', 21, 3, 'pro', 60.00, NULL, NULL, 'pending', NULL, 1779000000, NULL),
 (6, 'CHTEST0006', 16, 2, 'basic', 0.00, NULL, NULL, 'pending', NULL, 1779000000, NULL)
"#;

pub async fn seeded_db() -> TestDb {
    let db = TestDb::with_schema().await;
    db.run_sql(FIXTURE_SQL).await;
    db
}

/// Env for an app with both gateways configured; `extra` adds or overrides.
pub fn gateway_env(extra: &[(&str, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("CHATHUB_ADDON_ALIPAY_ENABLED".into(), "1".into()),
        ("CHATHUB_ADDON_ALIPAY_APP_ID".into(), ALIPAY_APP_ID.into()),
        (
            "CHATHUB_ADDON_ALIPAY_MERCHANT_PRIVATE_KEY".into(),
            MERCHANT_PRIVATE.into(),
        ),
        (
            "CHATHUB_ADDON_ALIPAY_PUBLIC_KEY".into(),
            PLATFORM_PUBLIC.into(),
        ),
        ("CHATHUB_ADDON_ALIPAY_SANDBOX".into(), "1".into()),
        ("CHATHUB_ADDON_WECHAT_ENABLED".into(), "1".into()),
        ("CHATHUB_ADDON_WECHAT_APP_ID".into(), WECHAT_APP_ID.into()),
        ("CHATHUB_ADDON_WECHAT_MCH_ID".into(), WECHAT_MCH_ID.into()),
        (
            "CHATHUB_ADDON_WECHAT_API_V3_KEY".into(),
            WECHAT_V3_KEY.into(),
        ),
        (
            "CHATHUB_WECHAT_PLATFORM_PUBLIC_KEY".into(),
            PLATFORM_PUBLIC.into(),
        ),
        (
            "CHATHUB_PUBLIC_BASE_URL".into(),
            "https://hub.example.com".into(),
        ),
        // Payment tests look at payment rows only; worker tests turn it on themselves.
        ("CHATHUB_PROVISION_WORKER".into(), "0".into()),
    ];
    for (k, v) in extra {
        env.retain(|(ek, _)| ek != k);
        env.push((k.to_string(), v.clone()));
    }
    env
}

/// The app with both gateways configured (`gateway_env(extra)`) on `db`.
pub async fn gateway_app_on(db: TestDb, extra: &[(&str, String)]) -> TestApp {
    TestApp::init()
        .on(db)
        .with_envs(&gateway_env(extra))
        .spawn()
        .await
}

/// As [`gateway_app_on`], on the recorded site ([`seeded_db`]).
pub async fn gateway_app(extra: &[(&str, String)]) -> TestApp {
    gateway_app_on(seeded_db().await, extra).await
}

/// The `Cookie` header of a signed-in member session.
pub fn member_cookie(app: &TestApp, uid: u32, email: &str, password_hash: &str) -> String {
    let now = app.app.clock.epoch();
    let data = chathub::services::sessions::SessionData::signed_in(
        chathub::domain::ids::UserId(uid),
        email,
        "",
        password_hash,
        now,
    );
    let set = app.app.sessions.set_cookie(&data, false);
    let pair = set.to_str().unwrap().split(';').next().unwrap().to_string();
    // Sent back as a browser would store it: the percent-encoded value decoded (base64
    // characters are all legal in a Cookie header).
    let (name, value) = pair.split_once('=').unwrap();
    let decoded: String = serde_urlencoded::from_str::<Vec<(String, String)>>(&format!(
        "v={}",
        value.replace('+', "%2B")
    ))
    .unwrap()
    .remove(0)
    .1;
    format!("{name}={decoded}")
}

pub fn alice_cookie(app: &TestApp) -> String {
    member_cookie(
        app,
        2,
        "alice@example.com",
        "c5e9a7d0d1b5d3a4d3f5b4a1b2c3d4e5",
    )
}

/// The fixture keys as one sandbox (`chathub_tools::sandbox`, the gateways' side that the
/// dev stack serves too).
pub fn fixture_keys() -> GatewayKeys {
    static KEYS: std::sync::OnceLock<GatewayKeys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        GatewayKeys::from_parts(
            MERCHANT_PRIVATE,
            MERCHANT_CERT,
            PLATFORM_PRIVATE,
            WECHAT_V3_KEY,
        )
        .expect("fixture keys")
    })
    .clone()
}

/// Alipay's notification form for an order, signed with the platform key.
pub fn alipay_notification(
    order_no: &str,
    amount: &str,
    trade_status: &str,
    app_id: &str,
) -> String {
    sandbox::alipay::notification(&fixture_keys(), order_no, amount, trade_status, app_id)
}

pub use chathub_tools::sandbox::wechat::WechatNotification;

pub fn wechat_notification(transaction: serde_json::Value, timestamp: i64) -> WechatNotification {
    sandbox::wechat::notification(&fixture_keys(), &transaction, timestamp)
}

/// Any body with a valid platform signature: what a notification that passes the signature
/// check but is not a usable notification looks like.
pub fn signed_wechat_body(body: String, timestamp: i64) -> WechatNotification {
    sandbox::wechat::signed_body(&fixture_keys(), body, timestamp)
}

/// Bodies that are not notifications, of every kind a sender can get wrong: not JSON, no
/// `resource`, wrong types, bad base64, a wrong GCM tag, 1 MiB of garbage.
pub fn malformed_wechat_bodies() -> Vec<(&'static str, String)> {
    let good_ct = pay::wechat::encrypt_resource(
        &wechat_transaction("CHTEST0001", 6000).to_string(),
        WECHAT_V3_KEY,
        "r4nd0mn0nce1",
        "transaction",
    )
    .unwrap();
    // Flip the last byte: the GCM tag no longer matches.
    let mut raw = base64::engine::general_purpose::STANDARD
        .decode(&good_ct)
        .unwrap();
    *raw.last_mut().unwrap() ^= 1;
    let wrong_tag = base64::engine::general_purpose::STANDARD.encode(raw);
    let resource = |ct: serde_json::Value, nonce: serde_json::Value| {
        serde_json::json!({"id": "EV", "resource": {"algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ct, "associated_data": "transaction", "nonce": nonce}})
        .to_string()
    };
    // Printable garbage, so the body survives as text in the log row.
    let garbage: String = (0..1024 * 1024)
        .map(|i| char::from(b'!' + (i * 7 % 90) as u8))
        .collect();
    vec![
        ("not json", "this is not json".to_string()),
        ("empty", String::new()),
        (
            "no resource",
            r#"{"id":"EV","event_type":"TRANSACTION.SUCCESS"}"#.to_string(),
        ),
        ("resource not an object", r#"{"resource":"x"}"#.to_string()),
        (
            "ciphertext a number",
            resource(42.into(), "r4nd0mn0nce1".into()),
        ),
        (
            "nonce null",
            resource(good_ct.clone().into(), serde_json::Value::Null),
        ),
        (
            "bad base64",
            resource("***not base64***".into(), "r4nd0mn0nce1".into()),
        ),
        (
            "wrong gcm tag",
            resource(wrong_tag.into(), "r4nd0mn0nce1".into()),
        ),
        ("short nonce", resource(good_ct.into(), "abc".into())),
        ("json array", "[1,2,3]".to_string()),
        ("1 MiB garbage", garbage),
    ]
}

pub fn wechat_transaction(order_no: &str, total_cents: i64) -> serde_json::Value {
    sandbox::wechat::transaction(&fixture_keys(), order_no, total_cents)
}

pub async fn post_wechat(app: &TestApp, n: &WechatNotification) -> reqwest::Response {
    let url = app.url("/addons/chathub/index/payNotify/pay_method/wechat");
    sandbox::wechat::send(&app.client, &url, n).await.unwrap()
}

pub async fn post_alipay(app: &TestApp, form: &str) -> reqwest::Response {
    app.client
        .post(app.url("/addons/chathub/index/payNotify/pay_method/alipay"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form.to_string())
        .send()
        .await
        .unwrap()
}

/// A fake WeChat Pay API on the fixture keys (`sandbox::wechat::FakeWechatPay`).
pub struct FakeWechatPay;

impl FakeWechatPay {
    pub async fn start() -> sandbox::wechat::FakeWechatPay {
        sandbox::wechat::FakeWechatPay::start(fixture_keys()).await
    }
}

/// Both gateways' stand-ins (`sandbox::alipay::FakeAlipay`, `sandbox::wechat::FakeWechatPay`)
/// on the fixture keys, the merchant key files, and the env that points a server at them.
pub struct FakeGateways {
    pub alipay: sandbox::alipay::FakeAlipay,
    pub wechat: sandbox::wechat::FakeWechatPay,
    _dir: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
}

impl FakeGateways {
    pub async fn start() -> FakeGateways {
        let alipay = sandbox::alipay::FakeAlipay::start(fixture_keys()).await;
        let wechat = sandbox::wechat::FakeWechatPay::start(fixture_keys()).await;
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("apiclient_key.pem");
        let cert_path = dir.path().join("apiclient_cert.pem");
        std::fs::write(&key_path, MERCHANT_PRIVATE).unwrap();
        std::fs::write(&cert_path, MERCHANT_CERT).unwrap();
        let env = vec![
            ("CHATHUB_ALIPAY_GATEWAY_URL", alipay.gateway_url()),
            ("CHATHUB_WECHAT_API_BASE", wechat.url()),
            (
                "CHATHUB_ADDON_WECHAT_KEY_PATH",
                key_path.display().to_string(),
            ),
            (
                "CHATHUB_ADDON_WECHAT_CERT_PATH",
                cert_path.display().to_string(),
            ),
            (
                "CHATHUB_WECHAT_PLATFORM_SERIAL",
                sandbox::wechat::PLATFORM_SERIAL.to_string(),
            ),
            // Tests run the sweep themselves unless they turn it on.
            ("CHATHUB_PAY_SWEEP", "0".into()),
            ("CHATHUB_PAY_QUERY_FIRST_SECS", "1".into()),
        ];
        FakeGateways {
            alipay,
            wechat,
            _dir: dir,
            env,
        }
    }

    /// The env for a server on these gateways, `extra` added or overriding.
    pub fn env(&self, extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
        let mut env = self.env.clone();
        for (k, v) in extra {
            env.retain(|(ek, _)| ek != k);
            env.push((k, v.clone()));
        }
        env
    }
}
