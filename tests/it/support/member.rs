//! Fixture accounts and tenants for the member-area tests, copied from the recordings of the
//! original (golden groups `auth`, `member`, `widened-schema`): the same ids, emails,
//! password hashes as PHP wrote them, tenant names, plans, prices and expiry dates.

use chathub::clock::Clock;
use chrono::{DateTime, FixedOffset, Utc};
use mysql_async::prelude::*;

use super::{CHATHUB_BIN, SESSION_SECRET, TestApp, TestDb, free_port};

/// The instant `member/013-my-all-statuses` was recorded (site time +08:00).
pub const RECORDED_AT: &str = "2026-11-25T07:06:38+08:00";

pub fn recorded_clock() -> Clock {
    let tz = FixedOffset::east_opt(8 * 3600).unwrap();
    let t = DateTime::parse_from_rfc3339(RECORDED_AT).unwrap();
    Clock::fake(tz, t.with_timezone(&Utc))
}

/// FastAdmin's own default user: FastAdmin's scheme md5(md5(password) . salt).
pub const FA_ADMIN_EMAIL: &str = "admin@163.com";
pub const FA_ADMIN_PASSWORD: &str = "fa-admin-pw";
pub const FA_ADMIN_HASH: &str = "f92ad8ee3bcc28ea4487af25c228c6a5";
/// The original addon's salted users: password = md5(plain), salt non-empty.
pub const ALICE_HASH: &str = "8a2552332d39695709a007fbcef16e49";
pub const BOB_HASH: &str = "1f96efdf3b7947ee9fa84aae7fda3cf5";
/// PHP `password_hash('erin-pass-5', PASSWORD_BCRYPT)`, from `widened-schema`.
pub const ERIN_HASH: &str = "$2y$10$UKGik.I5OjTnQ/5YMQ2a4OiEidWFn6/E.cqGgaUHvHS8k1TzOSAWe";

pub async fn seed_users(db: &TestDb) {
    let mut c = db.conn().await;
    let users: [(u32, &str, &str, &str, &str); 5] = [
        (1, "admin", FA_ADMIN_HASH, "k3Yq9z", FA_ADMIN_EMAIL),
        (
            2,
            "Alice Trading Co",
            ALICE_HASH,
            "legacy1",
            "alice@example.com",
        ),
        (3, "Bob Ltd", BOB_HASH, "legacy2", "bob@example.com"),
        (
            4,
            "Carol Studio",
            "8b851a40da3a41b37a80e7995b37ce7e",
            "legacy3",
            "carol@example.com",
        ),
        (
            5,
            "Dave Temp",
            "90279066719df0ef37b91bad8fda0c2f",
            "legacy4",
            "dave@example.com",
        ),
    ];
    for (id, nick, hash, salt, email) in users {
        insert_user(&mut c, id, nick, hash, salt, email).await;
    }
}

/// Erin, the bcrypt user of `widened-schema`: needs the widened password column.
pub async fn seed_erin(db: &TestDb) {
    widen_password_column(db).await;
    let mut c = db.conn().await;
    insert_user(&mut c, 6, "Erin Bcrypt", ERIN_HASH, "", "erin@example.com").await;
}

async fn insert_user(
    c: &mut mysql_async::Conn,
    id: u32,
    nick: &str,
    hash: &str,
    salt: &str,
    email: &str,
) {
    let username = if id == 1 { "admin" } else { email };
    {
        c.exec_drop(
            "INSERT INTO fa_user (id, username, nickname, password, salt, email, status, successions, \
             maxsuccessions, loginfailure, jointime, createtime, updatetime) \
             VALUES (?, ?, ?, ?, ?, ?, 'normal', 1, 1, 0, 1779000000, 1779000000, 1779000000)",
            (id, username, nick, hash, salt, email),
        )
        .await
        .unwrap();
    }
}

/// `fa_user.password` as the schema migration leaves it (bcrypt fits).
pub async fn widen_password_column(db: &TestDb) {
    let mut c = db.conn().await;
    c.query_drop("ALTER TABLE fa_user MODIFY `password` varchar(255) DEFAULT ''")
        .await
        .unwrap();
}

pub fn embed(token: &str) -> String {
    format!(
        "<script>\n  (function(d,t) {{\n    var g=d.createElement(t),s=d.getElementsByTagName(t)[0];\n    \
         g.src=\"https://chatwoot.275763.xyz/packs/js/sdk.js\";\n    g.defer=1;g.async=1;\n    \
         s.parentNode.insertBefore(g,s);\n    g.onload=function(){{\n      window.chatwootSDK.run({{\n        \
         websiteToken:\"{token}\",\n        baseUrl:\"https://chatwoot.275763.xyz\"\n      }});\n    }};\n  \
         }})(document,\"script\");\n</script>"
    )
}

pub struct TenantFixture {
    pub id: u32,
    pub user_id: u32,
    pub name: &'static str,
    pub domain: &'static str,
    pub status: &'static str,
    pub plan: &'static str,
    pub price: i64,
    pub seats: i64,
    pub expire_at: Option<&'static str>,
    pub with_embed: bool,
}

/// The recorded fixture tenants (expiry dates as they were at `RECORDED_AT`).
pub const TENANTS: [TenantFixture; 9] = [
    TenantFixture {
        id: 11,
        user_id: 2,
        name: "Alice Shop",
        domain: "alice-shop",
        status: "active",
        plan: "pro",
        price: 60,
        seats: 2,
        expire_at: Some("2026-12-15 12:00:00"),
        with_embed: true,
    },
    TenantFixture {
        id: 12,
        user_id: 2,
        name: "Alice Outlet",
        domain: "alice-outlet",
        status: "active",
        plan: "basic",
        price: 50,
        seats: 1,
        expire_at: Some("2026-11-28 12:00:00"),
        with_embed: true,
    },
    TenantFixture {
        id: 13,
        user_id: 2,
        name: "Alice Pending",
        domain: "alice-pending",
        status: "pending",
        plan: "basic",
        price: 50,
        seats: 1,
        expire_at: Some("2026-12-20 12:00:00"),
        with_embed: false,
    },
    TenantFixture {
        id: 14,
        user_id: 2,
        name: "Alice Provisioning",
        domain: "alice-prov",
        status: "provisioning",
        plan: "pro",
        price: 60,
        seats: 2,
        expire_at: Some("2026-11-30 12:00:00"),
        with_embed: false,
    },
    TenantFixture {
        id: 15,
        user_id: 2,
        name: "Alice Suspended",
        domain: "alice-susp",
        status: "suspended",
        plan: "basic",
        price: 50,
        seats: 1,
        expire_at: Some("2026-11-23 12:00:00"),
        with_embed: true,
    },
    TenantFixture {
        id: 16,
        user_id: 2,
        name: "Alice Disabled",
        domain: "alice-dis",
        status: "disabled",
        plan: "basic",
        price: 50,
        seats: 1,
        expire_at: None,
        with_embed: false,
    },
    TenantFixture {
        id: 17,
        user_id: 2,
        name: "Alice <b>Bold</b> & \"Co\"",
        domain: "alice-bold",
        status: "active",
        plan: "<i>gold</i>",
        price: 90,
        seats: 8,
        expire_at: Some("2027-01-04 12:00:00"),
        with_embed: true,
    },
    TenantFixture {
        id: 21,
        user_id: 3,
        name: "Bob Store",
        domain: "bob-store",
        status: "active",
        plan: "pro",
        price: 60,
        seats: 2,
        expire_at: Some("2026-12-05 12:00:00"),
        with_embed: true,
    },
    TenantFixture {
        id: 22,
        user_id: 3,
        name: "Bob Pending",
        domain: "bob-pending",
        status: "pending",
        plan: "basic",
        price: 50,
        seats: 1,
        expire_at: Some("2026-12-25 12:00:00"),
        with_embed: false,
    },
];

pub async fn insert_tenant(db: &TestDb, t: &TenantFixture, config: &str, embed_code: Option<&str>) {
    let mut c = db.conn().await;
    c.exec_drop(
        "INSERT INTO fa_chathub_tenant (id, user_id, tenant_name, domain, email, max_agents, channel_type, \
         status, config, embed_code, expire_at, createtime, updatetime) \
         VALUES (?, ?, ?, ?, 'x@example.com', ?, 'web_widget', ?, ?, ?, ?, 1779000000, 1779000000)",
        mysql_async::Params::Positional(vec![
            t.id.into(),
            t.user_id.into(),
            t.name.into(),
            t.domain.into(),
            t.seats.into(),
            t.status.into(),
            config.into(),
            embed_code.into(),
            t.expire_at.into(),
        ]),
    )
    .await
    .unwrap();
}

pub async fn seed_tenants(db: &TestDb) {
    for t in &TENANTS {
        let config = serde_json::json!({
            "plan": t.plan, "price": t.price, "notes": "",
            "registered_at": "2026-05-01 10:00:00", "initial_password": null
        })
        .to_string();
        let code = t.with_embed.then(|| embed(&format!("WT_t{}", t.id)));
        insert_tenant(db, t, &config, code.as_deref()).await;
    }
}

/// Users and tenants as the recordings had them, the app on the recorded clock.
pub async fn spawn_seeded(env: &[(&str, &str)]) -> TestApp {
    TestApp::init()
        .with_members()
        // Sign-in bursts (81 bcrypt checks at once) on a loaded CI machine must not meet the
        // request bound: these tests count attempts, not time. A test's own `env` wins.
        .with_envs(&[
            ("CHATHUB_REQUEST_TIMEOUT_MS", "60000"),
            ("CHATHUB_DB_CHECKOUT_TIMEOUT_MS", "30000"),
        ])
        .with_envs(env)
        .spawn()
        .await
}

/// The pages of the member area.
pub const MY: &str = "/addons/chathub/index/my";
pub const LOGIN: &str = "/addons/chathub/index/login";

/// POST doLogin as a browser form.
pub async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.post_form(
        "/addons/chathub/index/doLogin",
        &[("email", email), ("password", password)],
    )
    .await
}

pub async fn user_row(db: &TestDb, id: u32) -> Option<mysql_async::Row> {
    let mut c = db.conn().await;
    c.exec_first(
        "SELECT password, salt, logintime, prevtime, loginip, successions, loginfailure, updatetime \
         FROM fa_user WHERE id = ?",
        (id,),
    )
    .await
    .unwrap()
}

/// The real `chathub serve` binary on `db` (a separate process, as on a site with several
/// instances or after a restart); killed when dropped.
pub struct ServerProcess {
    pub base: String,
    _child: tokio::process::Child,
}

impl ServerProcess {
    pub async fn start(db: &TestDb) -> ServerProcess {
        let port = free_port();
        let child = tokio::process::Command::new(CHATHUB_BIN)
            .arg("serve")
            .env_clear()
            .env("CHATHUB_DATABASE_URL", &db.url)
            .env("CHATHUB_SESSION_SECRET", SESSION_SECRET)
            .env("CHATHUB_LISTEN", format!("127.0.0.1:{port}"))
            .env("CHATHUB_PROVISION_WORKER", "0")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chathub serve");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Ok(r) = reqwest::get(format!("{base}/healthz")).await
                && r.status() == 200
            {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "chathub serve did not come up"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        ServerProcess {
            base,
            _child: child,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// `name=value` of our session cookie in a response, if it sets one.
pub fn session_cookie(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("chathub_session="))
}
