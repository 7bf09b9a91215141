//! The FastAdmin admin console: who counts as an admin (PHP session, keeplogin cookie,
//! permissions) and what every admin action does, against a real MariaDB and the stub
//! provision server.

use std::path::Path;

use crate::support::html::body_text;
use crate::support::{PROVISION_KEY, TestApp, TestDb, spawn_app_on};
use chathub_tools::provision_stub::{ProvisionStub, StubMode};
use mysql_async::prelude::*;

const TOKEN_KEY: &str = "i3d6o32wo8fvs1fvdpwens";
const ADMIN_TOKEN: &str = "8c3d6f3e-1b1a-4d4c-9e0e-6d1f0c2a9b7e";
const SID: &str = "ce7jl30isfkjk61mrckpn13vln";

/// PHP's `serialize()` for the value shapes a FastAdmin session holds.
enum Php<'a> {
    I(i64),
    S(&'a str),
    A(Vec<(&'a str, Php<'a>)>),
}

fn serialize(v: &Php) -> String {
    match v {
        Php::I(i) => format!("i:{i};"),
        Php::S(s) => format!("s:{}:\"{s}\";", s.len()),
        Php::A(items) => {
            let body: String = items
                .iter()
                .map(|(k, v)| format!("{}{}", serialize(&Php::S(k)), serialize(v)))
                .collect();
            format!("a:{}:{{{body}}}", items.len())
        }
    }
}

/// A session file as FastAdmin writes it after `Session::set("admin", $admin->toArray())`.
fn fastadmin_session(id: i64, username: &str, token: &str, loginip: &str) -> String {
    let admin = Php::A(vec![
        ("id", Php::I(id)),
        ("username", Php::S(username)),
        ("nickname", Php::S("Admin")),
        ("avatar", Php::S("/assets/img/avatar.png")),
        ("email", Php::S("admin@admin.com")),
        ("loginfailure", Php::I(0)),
        ("logintime", Php::I(1795561647)),
        ("loginip", Php::S(loginip)),
        ("token", Php::S(token)),
        ("status", Php::S("normal")),
    ]);
    format!(
        "think|{}",
        serialize(&Php::A(vec![
            ("referer", Php::S("/pGTnXkhdmy.php")),
            ("admin", admin)
        ]))
    )
}

fn md5(s: &str) -> String {
    format!("{:x}", md5::compute(s.as_bytes()))
}

/// The `keeplogin` cookie FastAdmin's `Auth::keeplogin()` sets (value percent-encoded by PHP).
fn keeplogin_cookie(id: u32, keeptime: i64, expiretime: i64, token: &str, key: &str) -> String {
    let k = md5(&format!(
        "{}{}{}{token}{key}",
        md5(&id.to_string()),
        md5(&keeptime.to_string()),
        md5(&expiretime.to_string())
    ));
    format!("keeplogin={id}%7C{keeptime}%7C{expiretime}%7C{k}")
}

struct Console {
    app: TestApp,
    stub: ProvisionStub,
    dir: tempfile::TempDir,
    http: reqwest::Client,
}

const FIXTURES: &str = r#"
INSERT INTO fa_admin (id, username, nickname, password, salt, loginip, token, status) VALUES
 (1, 'admin', 'Admin', 'x', 'y', '127.0.0.1', '8c3d6f3e-1b1a-4d4c-9e0e-6d1f0c2a9b7e', 'normal'),
 (2, 'editor', 'Editor', 'x', 'y', '127.0.0.1', 'tok-editor', 'normal'),
 (3, 'hidden', 'Hidden', 'x', 'y', '127.0.0.1', 'tok-hidden', 'hidden');
INSERT INTO fa_auth_group (id, pid, name, rules, status) VALUES
 (1, 0, 'Admin group', '*', 'normal'),
 (2, 1, 'Editors', '10,11', 'normal');
INSERT INTO fa_auth_group_access (uid, group_id) VALUES (1, 1), (2, 2), (3, 1);
INSERT INTO fa_auth_rule (id, type, pid, name, title, ismenu, status) VALUES
 (10, 'menu', 0, 'chathub', 'ChatHub', 1, 'normal'),
 (11, 'file', 10, 'chathub/index/dashboard', '控制面板', 0, 'normal');
INSERT INTO fa_chathub_tenant (id, user_id, tenant_name, domain, email, inbox_id, inbox_token, team_id, agent_cw_id, agent_cw_password, agent_name, max_agents, channel_type, status, config, embed_code, provisioned_at, expire_at, createtime, updatetime) VALUES
 (11, 2, 'Alice Shop', 'alice-shop', 'alice@example.com', 111, 'tok111', 211, 311, 'pw111', 'Alice Shop', 2, 'web_widget', 'active', '{"plan":"pro","price":60}', '<script>x</script>', '2026-05-01 10:00:00', '2026-12-15 12:00:00', 1779000000, 1779000000),
 (12, 2, 'Alice Outlet', 'alice-outlet', 'alice@example.com', 112, 'tok112', 212, 312, 'pw112', 'Alice Outlet', 1, 'web_widget', 'active', '{"plan":"basic","price":50}', '<script>y</script>', '2026-05-01 10:00:00', '2026-11-28 12:00:00', 1779000000, 1779000000),
 (13, 2, 'Alice Pending', 'alice-pending', 'alice@example.com', NULL, NULL, NULL, NULL, NULL, NULL, 1, 'web_widget', 'pending', '{"plan":"basic","price":50}', NULL, NULL, '2026-12-20 12:00:00', 1779000000, 1779000000),
 (14, 2, 'Alice Provisioning', 'alice-prov', 'alice@example.com', NULL, NULL, NULL, NULL, NULL, NULL, 2, 'web_widget', 'provisioning', '"{\\"plan\\":\\"pro\\",\\"price\\":60}"', NULL, NULL, NULL, 1779000000, 1779000000),
 (15, 2, 'Alice Suspended', 'alice-susp', 'alice@example.com', 115, 'tok115', 215, 315, 'pw115', 'Alice Suspended', 1, 'web_widget', 'suspended', '{"plan":"basic","price":50}', '<script>z</script>', '2026-05-01 10:00:00', '2026-11-23 12:00:00', 1779000000, 1779000000),
 (22, 3, 'Bob Pending', 'bob-pending', 'bob@example.com', NULL, NULL, NULL, NULL, NULL, NULL, 1, 'web_widget', 'pending', '{"plan":"basic","price":50,"notes":"","registered_at":"2026-05-01 10:00:00","initial_password":null}', NULL, NULL, '2026-12-25 12:00:00', 1779000000, 1779000000);
INSERT INTO fa_chathub_log (id, tenant_id, action, detail, status, operator, createtime) VALUES
 (1, 11, 'register', 'ok', 'success', 'website', 1779000000),
 (2, 13, 'register', 'x', 'failed', 'website', 1779000060),
 (3, 0, 'pay_notify_alipay', '<script>alert(1)</script>', 'success', 'system', 1779000120);
"#;

async fn console() -> Console {
    let db = TestDb::with_schema().await;
    db.run_sql(FIXTURES).await;
    let stub = crate::support::start_stub(PROVISION_KEY).await;
    let dir = tempfile::tempdir().unwrap();
    let url = stub.url();
    let app = spawn_app_on(
        db,
        &[
            ("CHATHUB_ADDON_PROVISION_SERVER_URL", url.as_str()),
            ("CHATHUB_PHP_SESSION_DIR", dir.path().to_str().unwrap()),
            ("CHATHUB_FASTADMIN_TOKEN_KEY", TOKEN_KEY),
        ],
        None,
    )
    .await;
    write_session(
        dir.path(),
        SID,
        &fastadmin_session(1, "admin", ADMIN_TOKEN, "127.0.0.1"),
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Console {
        app,
        stub,
        dir,
        http,
    }
}

fn write_session(dir: &Path, sid: &str, content: &str) {
    std::fs::write(dir.join(format!("sess_{sid}")), content).unwrap();
}

impl Console {
    fn url(&self, path: &str) -> String {
        self.app.url(path)
    }

    /// A request carrying FastAdmin's admin session cookie.
    fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.as_cookie(method, path, &format!("PHPSESSID={SID}"))
    }

    fn as_cookie(
        &self,
        method: reqwest::Method,
        path: &str,
        cookie: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("Cookie", cookie.to_string())
    }

    /// An AJAX POST as the list page's script sends it.
    async fn ajax_post(&self, path: &str, form: &str) -> (u16, String) {
        let r = self
            .admin(reqwest::Method::POST, path)
            .header("X-Requested-With", "XMLHttpRequest")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form.to_string())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn ajax_get(&self, path: &str) -> (u16, String) {
        let r = self
            .admin(reqwest::Method::GET, path)
            .header("X-Requested-With", "XMLHttpRequest")
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn page(&self, path: &str) -> (u16, String) {
        let r = self.admin(reqwest::Method::GET, path).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn tenant(&self, id: u32) -> Option<(String, Option<String>, Option<i64>)> {
        let mut c = self.app.db.conn().await;
        c.exec_first(
            "SELECT status, DATE_FORMAT(expire_at, '%Y-%m-%d %H:%i:%s'), updatetime FROM fa_chathub_tenant WHERE id = ?",
            (id,),
        )
        .await
        .unwrap()
    }

    async fn logs_for(&self, tenant: u32) -> Vec<(String, String, String, String)> {
        let mut c = self.app.db.conn().await;
        c.exec(
            "SELECT action, detail, status, operator FROM fa_chathub_log WHERE tenant_id = ? ORDER BY id",
            (tenant,),
        )
        .await
        .unwrap()
    }

    async fn tenant_count(&self) -> i64 {
        let mut c = self.app.db.conn().await;
        c.query_first("SELECT COUNT(*) FROM fa_chathub_tenant")
            .await
            .unwrap()
            .unwrap()
    }
}

fn title(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("title").unwrap();
    doc.select(&sel)
        .next()
        .map(|t| t.inner_html())
        .unwrap_or_default()
}

const LOGIN_JSON_SUSPEND: &str = r#"{"code":0,"msg":"请登录后再操作","data":"","url":"\/index\/login\/url\/%2Faddons%2Fchathub%2Findex%2Fsuspend.html","wait":3}"#;

fn is_login_jump(body: &str) -> bool {
    body.contains("请登录后再操作")
}

// ---------------------------------------------------------------- who is an admin

#[tokio::test]
async fn visitors_get_fastadmins_login_answer_and_change_nothing() {
    let c = console().await;
    let r = c
        .http
        .get(c.url("/addons/chathub/index/index"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert_eq!(title(&body), "温馨提示");
    assert!(body.contains("href=\"/index/login/url/%2Faddons%2Fchathub%2Findex%2Findex.html\""));
    let r = c
        .http
        .post(c.url("/addons/chathub/index/suspend"))
        .header("X-Requested-With", "XMLHttpRequest")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("ids=11")
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), LOGIN_JSON_SUSPEND);
    assert_eq!(c.tenant(11).await.unwrap().0, "active");
    assert!(c.stub.calls().is_empty());
}

#[tokio::test]
async fn fastadmins_php_session_signs_the_admin_in() {
    let c = console().await;
    let (status, body) = c.page("/addons/chathub/index/index").await;
    assert_eq!(status, 200);
    assert_eq!(title(&body), "租户列表");
    let text = body_text(&body);
    assert!(
        text.starts_with("租户管理 控制面板 租户 域名 邮箱 通道 席位 状态 到期时间 操作 暂无租户"),
        "{text}"
    );
    assert!(body.contains("href=\"/pGTnXkhdmy.php/addons/chathub/index/dashboard\""));
    assert!(!body.contains("cdn.jsdelivr.net"));
    assert!(
        !body.contains("innerHTML"),
        "rows are built from text nodes"
    );
}

#[tokio::test]
async fn a_chathub_member_session_is_not_an_admin() {
    let c = console().await;
    let data = chathub::services::sessions::SessionData::signed_in(
        chathub::domain::ids::UserId(2),
        "alice@example.com",
        "Alice",
        "h",
        c.app.app.clock.epoch(),
    );
    let cookie = c.app.app.sessions.set_cookie(&data, false);
    let cookie = cookie
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let r = c
        .as_cookie(reqwest::Method::GET, "/addons/chathub/index/index", &cookie)
        .send()
        .await
        .unwrap();
    assert!(is_login_jump(&r.text().await.unwrap()));
}

#[tokio::test]
async fn forged_stale_and_foreign_php_sessions_are_refused() {
    let c = console().await;
    let cases: Vec<(&str, String)> = vec![
        (
            "wrongtoken",
            fastadmin_session(1, "admin", "not-the-token", "127.0.0.1"),
        ),
        (
            "otherip",
            fastadmin_session(1, "admin", ADMIN_TOKEN, "10.0.0.9"),
        ),
        (
            "hiddenadmin",
            fastadmin_session(3, "hidden", "tok-hidden", "127.0.0.1"),
        ),
        (
            "noadmin",
            fastadmin_session(99, "ghost", ADMIN_TOKEN, "127.0.0.1"),
        ),
        ("garbage", "think|a:1:{s:5:\"admin\";a:9:{".to_string()),
        (
            "lengthlie",
            fastadmin_session(1, "admin", ADMIN_TOKEN, "127.0.0.1")
                .replace("s:5:\"admin\";a", "s:9:\"admin\";a"),
        ),
    ];
    for (sid, content) in &cases {
        write_session(c.dir.path(), sid, content);
        let r = c
            .as_cookie(
                reqwest::Method::GET,
                "/addons/chathub/index/dashboard",
                &format!("PHPSESSID={sid}"),
            )
            .send()
            .await
            .unwrap();
        assert!(is_login_jump(&r.text().await.unwrap()), "{sid}");
    }
    // No file for the id.
    let r = c
        .as_cookie(
            reqwest::Method::GET,
            "/addons/chathub/index/dashboard",
            "PHPSESSID=nosuchsession",
        )
        .send()
        .await
        .unwrap();
    assert!(is_login_jump(&r.text().await.unwrap()));
}

#[tokio::test]
async fn session_ids_cannot_walk_the_filesystem() {
    let c = console().await;
    // `sess_x/../sess_<SID>` would name the valid session file if the id were used as a path.
    std::fs::create_dir(c.dir.path().join("sess_x")).unwrap();
    for sid in [format!("x/../sess_{SID}"), format!("x%2F..%2Fsess_{SID}")] {
        let r = c
            .as_cookie(
                reqwest::Method::GET,
                "/addons/chathub/index/dashboard",
                &format!("PHPSESSID={sid}"),
            )
            .send()
            .await
            .unwrap();
        assert!(is_login_jump(&r.text().await.unwrap()), "{sid}");
    }
}

#[tokio::test]
async fn fastadmin_logout_ends_the_admin_here_too() {
    let c = console().await;
    assert_eq!(
        title(&c.page("/addons/chathub/index/dashboard").await.1),
        "控制面板"
    );
    // FastAdmin's Auth::logout() blanks the token.
    let mut conn = c.app.db.conn().await;
    conn.query_drop("UPDATE fa_admin SET token = '' WHERE id = 1")
        .await
        .unwrap();
    assert!(is_login_jump(
        &c.page("/addons/chathub/index/dashboard").await.1
    ));
}

#[tokio::test]
async fn keeplogin_cookie_signs_the_admin_in_until_it_expires() {
    let c = console().await;
    let now = c.app.app.clock.epoch();
    let ok = keeplogin_cookie(1, 86400, now + 86400, ADMIN_TOKEN, TOKEN_KEY);
    let r = c
        .as_cookie(reqwest::Method::GET, "/addons/chathub/index/dashboard", &ok)
        .send()
        .await
        .unwrap();
    assert_eq!(title(&r.text().await.unwrap()), "控制面板");
    let refused = [
        keeplogin_cookie(1, 86400, now - 10, ADMIN_TOKEN, TOKEN_KEY),
        keeplogin_cookie(1, 86400, now + 86400, "old-token", TOKEN_KEY),
        keeplogin_cookie(1, 86400, now + 86400, ADMIN_TOKEN, "another-sites-key"),
        keeplogin_cookie(3, 86400, now + 86400, "tok-hidden", TOKEN_KEY),
        format!("keeplogin=1%7C86400%7C{}%7C{}", now + 86400, "0".repeat(32)),
        "keeplogin=1|86400".to_string(),
    ];
    for cookie in refused {
        let r = c
            .as_cookie(
                reqwest::Method::GET,
                "/addons/chathub/index/dashboard",
                &cookie,
            )
            .send()
            .await
            .unwrap();
        assert!(is_login_jump(&r.text().await.unwrap()), "{cookie}");
    }
    // Another address than the one FastAdmin recorded at login.
    let mut conn = c.app.db.conn().await;
    conn.query_drop("UPDATE fa_admin SET loginip = '10.1.2.3' WHERE id = 1")
        .await
        .unwrap();
    let r = c
        .as_cookie(reqwest::Method::GET, "/addons/chathub/index/dashboard", &ok)
        .send()
        .await
        .unwrap();
    assert!(is_login_jump(&r.text().await.unwrap()));
}

#[tokio::test]
async fn admins_without_the_rule_are_refused_and_rules_grant_actions() {
    let c = console().await;
    write_session(
        c.dir.path(),
        "editor",
        &fastadmin_session(2, "editor", "tok-editor", "127.0.0.1"),
    );
    let get = |path: &'static str, ajax: bool| {
        let mut rb = c.as_cookie(reqwest::Method::GET, path, "PHPSESSID=editor");
        if ajax {
            rb = rb.header("X-Requested-With", "XMLHttpRequest");
        }
        rb.send()
    };
    // The editors' group has `chathub/index/dashboard` only.
    let r = get("/addons/chathub/index/dashboard", false).await.unwrap();
    assert_eq!(title(&r.text().await.unwrap()), "控制面板");
    let r = get("/addons/chathub/index/index", true).await.unwrap();
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"code":0,"msg":"你没有权限访问","data":"","url":"","wait":3}"#
    );
    let r = get("/addons/chathub/index/logs", false).await.unwrap();
    assert!(body_text(&r.text().await.unwrap()).contains("你没有权限访问"));
    // FastAdmin's own rule name for the addon route (`index/<action>`) grants it too.
    let mut conn = c.app.db.conn().await;
    conn.query_drop(
        "INSERT INTO fa_auth_rule (id, type, pid, name, title, ismenu, status) VALUES (12, 'file', 10, 'index/logs', 'logs', 0, 'normal');
         UPDATE fa_auth_group SET rules = '10,11,12' WHERE id = 2",
    )
    .await
    .unwrap();
    let r = get("/addons/chathub/index/logs", false).await.unwrap();
    assert_eq!(title(&r.text().await.unwrap()), "操作日志");
    // A disabled group grants nothing.
    conn.query_drop("UPDATE fa_auth_group SET status = 'hidden' WHERE id = 2")
        .await
        .unwrap();
    let r = get("/addons/chathub/index/dashboard", false).await.unwrap();
    assert!(body_text(&r.text().await.unwrap()).contains("你没有权限访问"));
}

#[tokio::test]
async fn unknown_actions_are_404_for_admins_and_login_jumps_for_visitors() {
    let c = console().await;
    let (status, body) = c.page("/addons/chathub/index/render").await;
    assert_eq!(status, 404);
    assert!(body.contains("你所浏览的页面暂时无法访问"));
    let r = c
        .http
        .get(c.url("/addons/chathub/index/render"))
        .send()
        .await
        .unwrap();
    assert!(is_login_jump(&r.text().await.unwrap()));
}

// ---------------------------------------------------------------- list

#[tokio::test]
async fn list_json_has_every_column_and_the_models_extra_fields() {
    let c = console().await;
    let (status, body) = c
        .ajax_get("/addons/chathub/index/index?page=1&filter=%7B%7D")
        .await;
    assert_eq!(status, 200);
    // Tenant 22 as the original's model serialised it (admin/019), without the credentials
    // no column shows (COMPAT.md#admin-list-secrets).
    let expected_22 = r#"{"id":22,"user_id":3,"tenant_name":"Bob Pending","domain":"bob-pending","email":"bob@example.com","inbox_id":null,"team_id":null,"agent_id":null,"agent_cw_id":null,"agent_name":null,"max_agents":1,"channel_type":"web_widget","status":"pending","config":{"plan":"basic","price":50,"notes":"","registered_at":"2026-05-01 10:00:00","initial_password":null},"embed_code":null,"provisioned_at":null,"expire_at":"2026-12-25 12:00:00","last_active_at":null,"createtime":1779000000,"updatetime":1779000000,"status_text":"待开通","channel_type_text":"网页组件","team_id_text":"-","email_text":"bo*@example.com"}"#;
    assert!(
        body.starts_with(&format!(r#"{{"total":6,"rows":[{expected_22},"#)),
        "{body}"
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<i64> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![22, 15, 14, 13, 12, 11], "newest first");
    for secret in ["pw111", "tok111", "pw115", "tok115"] {
        assert!(!body.contains(secret), "{secret} in the list JSON: {body}");
    }
    for row in v["rows"].as_array().unwrap() {
        for key in ["agent_cw_password", "inbox_token", "api_credentials"] {
            assert!(row.get(key).is_none(), "{key} in {row}");
        }
    }
    let t14 = &v["rows"][2];
    assert_eq!(
        t14["status_text"], "",
        "no label for provisioning, as the original"
    );
    assert_eq!(
        t14["config"], r#"{"plan":"pro","price":60}"#,
        "double-encoded config decodes once"
    );
    assert_eq!(v["rows"][5]["team_id_text"], "#211");
    assert_eq!(v["rows"][5]["email_text"], "al***@example.com");
    assert!(
        body.contains(r#"<\/script>"#),
        "slashes escaped as ThinkPHP's json()"
    );
}

#[tokio::test]
async fn list_filters_search_and_pages() {
    let c = console().await;
    let total = |body: &str| {
        serde_json::from_str::<serde_json::Value>(body).unwrap()["total"]
            .as_i64()
            .unwrap()
    };
    let (_, b) = c
        .ajax_get("/addons/chathub/index/index?filter=%7B%22status%22%3A%22active%22%7D")
        .await;
    assert_eq!(total(&b), 2);
    let (_, b) = c
        .ajax_get("/addons/chathub/index/index?filter=%7B%22channel_type%22%3A%22api%22%7D")
        .await;
    assert_eq!(b, r#"{"total":0,"rows":[]}"#);
    let (_, b) = c
        .ajax_get("/addons/chathub/index/index?filter=%7B%22search%22%3A%22alice-%22%7D")
        .await;
    assert_eq!(total(&b), 5);
    let (_, b) = c.ajax_get("/addons/chathub/index/index?filter=%7B%22search%22%3A%22bob%22%2C%22status%22%3A%22pending%22%7D").await;
    assert_eq!(total(&b), 1);
    // Malformed filter JSON filters nothing.
    let (s, b) = c
        .ajax_get("/addons/chathub/index/index?filter=%7Bnot-json")
        .await;
    assert_eq!((s, total(&b)), (200, 6));
    let (_, b) = c
        .ajax_get("/addons/chathub/index/index?page=2&filter=%7B%7D")
        .await;
    assert_eq!(b, r#"{"total":6,"rows":[]}"#);
    // 15 per page, as ThinkPHP's paginate default.
    let mut conn = c.app.db.conn().await;
    for i in 0..14 {
        conn.exec_drop(
            "INSERT INTO fa_chathub_tenant (tenant_name, domain, email) VALUES (?, ?, 'x@y.z')",
            (format!("T{i}"), format!("t{i}")),
        )
        .await
        .unwrap();
    }
    let (_, b) = c.ajax_get("/addons/chathub/index/index?page=2").await;
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(
        (v["total"].as_i64(), v["rows"].as_array().unwrap().len()),
        (Some(20), 5)
    );
    let (_, b) = c.ajax_get("/addons/chathub/index/index?page=-4").await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&b).unwrap()["rows"]
            .as_array()
            .unwrap()
            .len(),
        15
    );
}

#[tokio::test]
async fn admin_entry_paths_serve_the_console() {
    let c = console().await;
    let (status, body) = c.page("/pGTnXkhdmy.php/addons/chathub/index/index").await;
    assert_eq!(status, 200);
    assert!(body.contains("data-base=\"/pGTnXkhdmy.php/addons/chathub/index\""));
    let (status, body) = c
        .ajax_get("/pGTnXkhdmy.php/addons/chathub/index/index")
        .await;
    assert_eq!(status, 200);
    assert!(body.starts_with(r#"{"total":6,"#));
}

// ---------------------------------------------------------------- add

#[tokio::test]
async fn add_shows_the_form_and_saves_rows() {
    let c = console().await;
    let (_, body) = c.page("/addons/chathub/index/add").await;
    assert_eq!(title(&body), "添加租户");
    for field in [
        "row[tenant_name]",
        "row[domain]",
        "row[email]",
        "row[channel_type]",
        "row[max_agents]",
        "row[agent_name]",
        "row[status]",
    ] {
        assert!(body.contains(&format!("name=\"{field}\"")), "{field}");
    }
    assert!(body.contains("value=\"3\""));
    let (_, b) = c.ajax_post("/addons/chathub/index/add", "x=1").await;
    assert_eq!(
        b,
        r#"{"code":0,"msg":"参数不能为空","data":"","url":"","wait":3}"#
    );
    let before = c.tenant_count().await;
    let (_, b) = c
        .ajax_post(
            "/addons/chathub/index/add",
            "row%5Btenant_name%5D=Admin+Ajax&row%5Bdomain%5D=admin-ajax&row%5Bemail%5D=ops2%40example.com&row%5Bchannel_type%5D=web_widget&row%5Bmax_agents%5D=3&row%5Bagent_name%5D=Bot&row%5Bstatus%5D=pending&row%5Bunknown_col%5D=zzz",
        )
        .await;
    assert_eq!(
        b,
        r#"{"code":1,"msg":"添加成功！","data":"","url":"\/pGTnXkhdmy.php\/addons\/chathub\/index\/index","wait":3}"#
    );
    assert_eq!(c.tenant_count().await, before + 1);
    let mut conn = c.app.db.conn().await;
    let row: (String, String, i64, String, Option<String>, i64, i64) = conn
        .query_first("SELECT tenant_name, agent_name, max_agents, status, config, createtime, updatetime FROM fa_chathub_tenant ORDER BY id DESC LIMIT 1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.0.as_str(), row.1.as_str(), row.2, row.3.as_str(), row.4),
        ("Admin Ajax", "Bot", 3, "pending", None)
    );
    assert!((row.5 - c.app.app.clock.epoch()).abs() <= 2 && row.5 == row.6);
}

#[tokio::test]
async fn add_rejects_bad_values_with_a_clear_message_and_writes_nothing() {
    let c = console().await;
    let before = c.tenant_count().await;
    let (_, b) = c
        .ajax_post("/addons/chathub/index/add", "row%5Btenant_name%5D=Bad+Enum&row%5Bdomain%5D=bad&row%5Bemail%5D=b%40example.com&row%5Bstatus%5D=bogus")
        .await;
    assert_eq!(
        b,
        r#"{"code":0,"msg":"状态无效","data":"","url":"","wait":3}"#
    );
    assert!(!b.contains("SQLSTATE"));
    let (_, b) = c
        .ajax_post("/addons/chathub/index/add", "row%5Bmax_agents%5D=lots")
        .await;
    assert!(b.contains("客服席位必须是整数"));
    let (s, _) = c
        .ajax_post("/addons/chathub/index/add", "row%5Btenant_name%5D=%FF")
        .await;
    assert_eq!(s, 400, "bad UTF-8 is a clear 400");
    assert_eq!(c.tenant_count().await, before);
}

#[tokio::test]
async fn html_form_posts_need_to_come_from_our_own_pages() {
    let c = console().await;
    let before = c.tenant_count().await;
    let form = "row%5Btenant_name%5D=Admin+Added&row%5Bdomain%5D=admin-added&row%5Bemail%5D=ops%40example.com&row%5Bchannel_type%5D=api&row%5Bmax_agents%5D=4&row%5Bagent_name%5D=&row%5Bstatus%5D=active";
    let send = |origin: Option<&'static str>| {
        let host = c.app.addr.to_string();
        let mut rb = c
            .admin(reqwest::Method::POST, "/addons/chathub/index/add")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form);
        if let Some(o) = origin {
            rb = rb.header("Origin", o.replace("HOST", &host));
        }
        rb.send()
    };
    // An empty form writes nothing, so it gets the original's answer whatever its origin.
    let r = c
        .admin(reqwest::Method::POST, "/addons/chathub/index/add")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("x=1")
        .send()
        .await
        .unwrap();
    let body = r.text().await.unwrap();
    assert!(body_text(&body).contains("参数不能为空"));
    assert!(body.contains("href=\"javascript:history.back(-1);\""));
    // Same host on another port or scheme is another origin (issue 15 #10: the host alone
    // used to be compared).
    for origin in [
        Some("https://evil.example"),
        Some("null"),
        Some("http://127.0.0.1:9999"),
        Some("https://HOST"),
    ] {
        let body = send(origin).await.unwrap().text().await.unwrap();
        assert!(body_text(&body).contains("请求来源无效"), "{origin:?}");
    }
    assert_eq!(c.tenant_count().await, before);
    // A cross-site GET has no Origin and its Referer can be suppressed: refused.
    let r = c
        .admin(reqwest::Method::GET, "/addons/chathub/index/del/ids/11")
        .send()
        .await
        .unwrap();
    assert!(body_text(&r.text().await.unwrap()).contains("请求来源无效"));
    assert_eq!(c.tenant_count().await, before);
    // A POST with neither header is no browser's cross-site request (the recorded form posts).
    let body = send(None).await.unwrap().text().await.unwrap();
    assert!(body_text(&body).contains("添加成功！"), "{body}");
    let before = before + 1;
    let body = send(Some("http://HOST"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body_text(&body).contains("添加成功！"));
    assert!(body.contains("href=\"/pGTnXkhdmy.php/addons/chathub/index/index\""));
    assert_eq!(c.tenant_count().await, before + 1);
}

// ---------------------------------------------------------------- del

#[tokio::test]
async fn del_removes_listed_tenants() {
    let c = console().await;
    let (_, b) = c.ajax_post("/addons/chathub/index/del", "").await;
    assert_eq!(
        b,
        r#"{"code":0,"msg":"参数不能为空","data":"","url":"","wait":3}"#
    );
    let (_, b) = c.ajax_post("/addons/chathub/index/del", "ids=999").await;
    assert_eq!(
        b,
        r#"{"code":0,"msg":"没有删除任何记录","data":"","url":"","wait":3}"#
    );
    let (_, b) = c.ajax_post("/addons/chathub/index/del", "ids=22").await;
    assert_eq!(
        b,
        r#"{"code":1,"msg":"删除成功！","data":"","url":"\/index\/del.html","wait":3}"#
    );
    assert!(c.tenant(22).await.is_none());
    let (_, b) = c
        .ajax_post("/addons/chathub/index/del", "ids=13,14,abc")
        .await;
    assert!(b.contains("删除成功！"));
    assert!(c.tenant(13).await.is_none() && c.tenant(14).await.is_none());
    let (_, b) = c.ajax_get("/addons/chathub/index/del/ids/15").await;
    assert!(b.contains("删除成功！"));
    assert!(c.tenant(15).await.is_none());
    // A cross-site link or image (no AJAX header, no same-origin Origin) deletes nothing.
    let r = c
        .admin(reqwest::Method::GET, "/addons/chathub/index/del/ids/12")
        .send()
        .await
        .unwrap();
    assert!(body_text(&r.text().await.unwrap()).contains("请求来源无效"));
    assert!(c.tenant(12).await.is_some());
}

// ---------------------------------------------------------------- suspend / activate

#[tokio::test]
async fn suspend_checks_its_input_and_the_tenants_state() {
    let c = console().await;
    let (_, b) = c.ajax_post("/addons/chathub/index/suspend", "").await;
    assert_eq!(
        b,
        r#"{"code":0,"msg":"参数不能为空","data":"","url":"","wait":3}"#
    );
    // `?ids=` is never read (golden README bug 28).
    let (_, b) = c
        .ajax_post("/addons/chathub/index/suspend?ids=11", "")
        .await;
    assert!(b.contains("参数不能为空"));
    let (_, b) = c.ajax_get("/addons/chathub/index/suspend?ids=11").await;
    assert!(b.contains("参数不能为空"));
    let (_, b) = c
        .ajax_post("/addons/chathub/index/suspend", "ids=999")
        .await;
    assert_eq!(
        b,
        r#"{"code":0,"msg":"记录不存在","data":"","url":"","wait":3}"#
    );
    let (_, b) = c.ajax_post("/addons/chathub/index/suspend", "ids=13").await;
    assert_eq!(
        b,
        r#"{"code":0,"msg":"只能暂停已开通的租户","data":"","url":"","wait":3}"#
    );
    assert!(c.stub.calls().is_empty());
}

#[tokio::test]
async fn suspend_tells_the_provision_server_then_records_it() {
    let c = console().await;
    let (_, b) = c.ajax_post("/addons/chathub/index/suspend", "ids=11").await;
    assert_eq!(
        b,
        r#"{"code":1,"msg":"已暂停","data":"","url":"\/index\/suspend.html","wait":3}"#
    );
    let calls = c.stub.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].path, "/suspend");
    assert_eq!(calls[0].header("X-API-Key"), Some(PROVISION_KEY));
    assert_eq!(
        calls[0].body,
        r#"{"inbox_id":111,"tenant_name":"Alice Shop","domain":"alice-shop"}"#
    );
    let (status, _, updatetime) = c.tenant(11).await.unwrap();
    assert_eq!(status, "suspended");
    assert!((updatetime.unwrap() - c.app.app.clock.epoch()).abs() <= 2);
    let logs = c.logs_for(11).await;
    assert_eq!(
        logs.last().unwrap(),
        &(
            "suspend".to_string(),
            r#"{"success": true, "message": "Inbox 111 suspended"}"#.to_string(),
            "success".to_string(),
            "admin".to_string()
        )
    );
}

#[tokio::test]
async fn suspend_failures_leave_the_tenant_alone() {
    let c = console().await;
    // Down first: a pooled keep-alive connection would outlive the stub's closed socket.
    c.stub.set_mode(StubMode::Down).await;
    let (_, b) = c.ajax_post("/addons/chathub/index/suspend", "ids=12").await;
    let port = c.stub.addr().port();
    assert!(
        b.starts_with(&format!(r#"{{"code":0,"msg":"暂停失败：无法连接 Provision 服务（Failed to connect to 127.0.0.1 port {port} after "#)),
        "{b}"
    );
    // The browser form variant: FastAdmin's jump page, back in history.
    let r = c
        .admin(reqwest::Method::POST, "/addons/chathub/index/suspend")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Origin", format!("http://{}", c.app.addr))
        .body("ids=12")
        .send()
        .await
        .unwrap();
    let body = r.text().await.unwrap();
    assert_eq!(title(&body), "温馨提示");
    assert!(
        body_text(&body)
            .contains("暂停失败：无法连接 Provision 服务（Failed to connect to 127.0.0.1")
    );
    assert!(body.contains("href=\"javascript:history.back(-1);\""));
    c.stub.set_mode(StubMode::Http500).await;
    let (_, b) = c.ajax_post("/addons/chathub/index/suspend", "ids=12").await;
    assert_eq!(
        b,
        r#"{"code":0,"msg":"暂停失败：Chatwoot API error: simulated internal failure","data":"","url":"","wait":3}"#
    );
    c.stub.set_mode(StubMode::BadJson).await;
    let (_, b) = c.ajax_post("/addons/chathub/index/suspend", "ids=12").await;
    let msg = serde_json::from_str::<serde_json::Value>(&b).unwrap()["msg"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.starts_with("暂停失败：") && !msg.contains('<'),
        "no raw body: {msg}"
    );
    assert_eq!(
        c.stub.calls().len(),
        2,
        "both answered calls reached the stub"
    );
    assert_eq!(c.tenant(12).await.unwrap().0, "active");
    assert!(c.logs_for(12).await.is_empty());
}

#[tokio::test]
async fn activate_sends_the_api_key_and_resumes_suspended_tenants() {
    let c = console().await;
    let (_, b) = c
        .ajax_post("/addons/chathub/index/activate", "ids=12")
        .await;
    assert_eq!(
        b,
        r#"{"code":0,"msg":"只能恢复已暂停的租户","data":"","url":"","wait":3}"#
    );
    let (_, b) = c
        .ajax_post("/addons/chathub/index/activate", "ids=15")
        .await;
    assert_eq!(
        b,
        r#"{"code":1,"msg":"已恢复","data":"","url":"\/index\/activate.html","wait":3}"#
    );
    let calls = c.stub.calls();
    assert_eq!(calls[0].path, "/activate");
    assert_eq!(calls[0].header("X-API-Key"), Some(PROVISION_KEY));
    assert_eq!(calls[0].body, r#"{"inbox_id":115}"#);
    assert_eq!(c.tenant(15).await.unwrap().0, "active");
    assert_eq!(c.logs_for(15).await[0].0, "activate");
}

#[tokio::test]
async fn two_admins_suspending_at_once_change_and_log_it_once() {
    let c = console().await;
    let (a, b) = tokio::join!(
        c.ajax_post("/addons/chathub/index/suspend", "ids=11"),
        c.ajax_post("/addons/chathub/index/suspend", "ids=11")
    );
    let oks = [&a.1, &b.1].iter().filter(|x| x.contains("已暂停")).count();
    assert_eq!(oks, 1, "{a:?} {b:?}");
    assert_eq!(
        c.logs_for(11)
            .await
            .iter()
            .filter(|l| l.0 == "suspend")
            .count(),
        1
    );
}

// ---------------------------------------------------------------- setExpire

#[tokio::test]
async fn set_expire_validates_and_records_the_date() {
    let c = console().await;
    let (_, b) = c.ajax_post("/addons/chathub/index/setExpire", "").await;
    assert!(b.contains("参数不能为空"));
    let (_, b) = c
        .ajax_post("/addons/chathub/index/setExpire", "ids=13")
        .await;
    assert_eq!(
        b,
        r#"{"code":0,"msg":"请输入到期时间","data":"","url":"","wait":3}"#
    );
    let (_, b) = c
        .ajax_post(
            "/addons/chathub/index/setExpire",
            "ids=999&expire_at=2026-12-31",
        )
        .await;
    assert!(b.contains("记录不存在"));
    let (s, b) = c
        .ajax_post(
            "/addons/chathub/index/setExpire",
            "ids=13&expire_at=not-a-date",
        )
        .await;
    assert_eq!(s, 200);
    assert!(b.contains("到期时间格式错误"), "{b}");
    assert_eq!(
        c.tenant(13).await.unwrap().1.as_deref(),
        Some("2026-12-20 12:00:00")
    );
    let (_, b) = c
        .ajax_post(
            "/addons/chathub/index/setExpire",
            "ids=13&expire_at=2026-12-31",
        )
        .await;
    assert_eq!(
        b,
        r#"{"code":1,"msg":"到期时间已设置","data":"","url":"\/index\/setexpire.html","wait":3}"#
    );
    let (_, expire, updatetime) = c.tenant(13).await.unwrap();
    assert_eq!(expire.as_deref(), Some("2026-12-31 00:00:00"));
    assert!((updatetime.unwrap() - c.app.app.clock.epoch()).abs() <= 2);
    let logs = c.logs_for(13).await;
    assert_eq!(logs.last().unwrap().1, "设置到期: 2026-12-31");
    assert_eq!(logs.last().unwrap().3, "admin");
    // The browser variant from our own page.
    let r = c
        .admin(reqwest::Method::POST, "/addons/chathub/index/setExpire")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header(
            "Referer",
            format!("http://{}/addons/chathub/index/index", c.app.addr),
        )
        .body("ids=14&expire_at=2027-01-31+08%3A00%3A00")
        .send()
        .await
        .unwrap();
    assert!(body_text(&r.text().await.unwrap()).contains("到期时间已设置"));
    assert_eq!(
        c.tenant(14).await.unwrap().1.as_deref(),
        Some("2027-01-31 08:00:00")
    );
}

// ---------------------------------------------------------------- dashboard / logs

#[tokio::test]
async fn dashboard_and_logs_show_counts_and_escaped_rows() {
    let c = console().await;
    let mut conn = c.app.db.conn().await;
    conn.query_drop("INSERT INTO fa_chathub_log (tenant_id, action, detail, status, operator, createtime) VALUES (11, '<b>evil</b>', 'd', 'failed', '<i>op</i>', 1779000180)")
        .await
        .unwrap();
    let (_, body) = c.page("/addons/chathub/index/dashboard").await;
    assert_eq!(title(&body), "控制面板");
    let text = body_text(&body);
    assert!(
        text.starts_with(
            "租户列表 添加租户 6 总租户 2 已开通 2 待开通 24/7 AI 在线 最近操作 操作 状态 时间"
        ),
        "{text}"
    );
    assert!(text.contains("<b>evil</b> failed 2026-05-17 14:43 pay_notify_alipay success 2026-05-17 14:42 register failed 2026-05-17 14:41"), "{text}");
    assert!(!body.contains("<b>evil"), "stored values are escaped");
    assert!(!body.contains("alert(1)"), "details are not shown");
    let (_, body) = c.page("/addons/chathub/index/logs").await;
    assert_eq!(title(&body), "操作日志");
    let text = body_text(&body);
    assert!(text.contains("← 控制面板 操作日志 租户ID 操作 状态 操作人 时间 11 <b>evil</b> failed <i>op</i> 2026-05-17 14:43:00 0 pay_notify_alipay success system 2026-05-17 14:42:00"), "{text}");
    assert!(!body.contains("<i>op"));
    // 20 per page.
    for i in 0..20 {
        conn.exec_drop("INSERT INTO fa_chathub_log (tenant_id, action, status, operator, createtime) VALUES (1, 'bulk', 'success', 'system', ?)", (1780000000 + i,))
            .await
            .unwrap();
    }
    let (_, body) = c.page("/addons/chathub/index/logs?page=2").await;
    let text = body_text(&body);
    assert!(text.contains("register success website"), "{text}");
    assert!(!text.contains("bulk"));
    let (_, body) = c.page("/addons/chathub/index/logs?page=9").await;
    assert!(body_text(&body).contains("暂无记录"));
}
