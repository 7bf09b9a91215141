//! Public sign-up (registerPage, register) against real MariaDB and the provision stub.
//!
//! Facts compared with the recordings of the original are copied here (tests never read the
//! recordings themselves).

use std::time::{Duration, Instant};

use crate::support::html::visible_text;
use crate::support::{PROVISION_KEY, TestApp, TestDb, spawn_app_on};
use chathub::services::sessions::SessionData;
use chathub_tools::provision_stub::{ProvisionStub, StubMode};
use mysql_async::prelude::*;
use serde_json::{Value, json};

const REGISTER: &str = "/addons/chathub/index/register";

/// The recordings' members: alice (id 2) and bob (id 3), "salted" rows as on a stock site.
const MEMBERS_SQL: &str = "INSERT INTO fa_user (id, group_id, username, nickname, password, salt, email, level, joinip, jointime, createtime, updatetime, status) VALUES \
(2, 1, 'alice@example.com', 'Alice Trading Co', '8a2552332d39695709a007fbcef16e49', 'legacy1', 'alice@example.com', 1, '127.0.0.1', 1779000000, 1779000000, 1779000000, 'normal'), \
(3, 1, 'bob@example.com', 'Bob Ltd', '1f96efdf3b7947ee9fa84aae7fda3cf5', 'legacy2', 'bob@example.com', 1, '127.0.0.1', 1779000000, 1779000000, 1779000000, 'normal')";

/// What `chathub migrate` does to `fa_user` (COMPAT.md#fa-user-column-widths).
const WIDEN_SQL: &str = "ALTER TABLE fa_user MODIFY `password` varchar(255) DEFAULT '' COMMENT '密码', \
MODIFY `username` varchar(100) DEFAULT '' COMMENT '用户名'";

struct Site {
    app: TestApp,
    stub: ProvisionStub,
}

async fn site_with(widened: bool, key: &str, extra_env: &[(&str, &str)]) -> Site {
    let stub = crate::support::start_stub(key).await;
    let db = TestDb::with_schema().await;
    db.run_sql(MEMBERS_SQL).await;
    if widened {
        db.run_sql(WIDEN_SQL).await;
    }
    let url = stub.url();
    let mut env: Vec<(&str, &str)> = vec![("CHATHUB_ADDON_PROVISION_SERVER_URL", &url)];
    env.extend_from_slice(extra_env);
    let app = spawn_app_on(db, &env, None).await;
    Site { app, stub }
}

async fn site() -> Site {
    site_with(true, PROVISION_KEY, &[]).await
}

impl Site {
    fn post(&self) -> reqwest::RequestBuilder {
        self.app.client.post(self.app.url(REGISTER))
    }

    async fn form(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.post().form(form).send().await.unwrap()
    }

    async fn ajax(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.post()
            .header("X-Requested-With", "XMLHttpRequest")
            .form(form)
            .send()
            .await
            .unwrap()
    }

    async fn json_body(&self, body: &str) -> reqwest::Response {
        self.post()
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    async fn rows(&self, table: &str) -> Vec<serde_json::Map<String, Value>> {
        let mut conn = self.app.db.conn().await;
        let rows: Vec<mysql_async::Row> = conn
            .query(format!("SELECT * FROM `{table}` ORDER BY id"))
            .await
            .unwrap();
        rows.iter().map(chathub::db::row_to_json).collect()
    }

    async fn tenants(&self) -> Vec<serde_json::Map<String, Value>> {
        self.rows("fa_chathub_tenant").await
    }

    async fn logs(&self) -> Vec<serde_json::Map<String, Value>> {
        self.rows("fa_chathub_log").await
    }

    async fn users(&self) -> Vec<serde_json::Map<String, Value>> {
        self.rows("fa_user").await
    }

    /// A browser signed in as `uid` (login itself belongs to another module).
    fn signed_in_cookie(&self, uid: u32, email: &str, nick: &str, hash: &str) -> String {
        let data = SessionData::signed_in(
            chathub::domain::ids::UserId(uid),
            email,
            nick,
            hash,
            self.app.app.clock.epoch(),
        );
        let v = self.app.app.sessions.set_cookie(&data, false);
        v.to_str().unwrap().split(';').next().unwrap().to_string()
    }
}

fn assert_cors(r: &reqwest::Response) {
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(h["access-control-allow-methods"], "POST, OPTIONS");
    assert_eq!(h["access-control-allow-headers"], "Content-Type");
}

fn config_of(t: &serde_json::Map<String, Value>) -> Value {
    let raw = t["config"].as_str().expect("config text");
    let v: Value = serde_json::from_str(raw).expect("config is JSON");
    assert!(v.is_object(), "config is written once, as an object: {raw}");
    v
}

fn today_plus_30(app: &TestApp) -> String {
    let c = &app.app.clock;
    c.format_epoch(c.epoch() + 30 * 86_400, "%Y-%m-%d")
}

const EMBED_102: &str = "<script>\n  (function(d,t) {\n    var g=d.createElement(t),s=d.getElementsByTagName(t)[0];\n    g.src=\"https://chatwoot.275763.xyz/packs/js/sdk.js\";\n    g.defer=1;g.async=1;\n    s.parentNode.insertBefore(g,s);\n    g.onload=function(){\n      window.chatwootSettings={\n        position:\"right\",\n        type:\"standard\",\n        launcherTitle:\"Chat\"\n      };\n      window.chatwootSDK.run({\n        websiteToken:\"3d816ed6839b48e51b6f1a74\",\n        baseUrl:\"https://chatwoot.275763.xyz\"\n      });\n    };\n  })(document,\"script\");\n</script>";

// ---------------------------------------------------------------- registerPage

#[tokio::test]
async fn register_page_preselects_the_plan_and_follows_site_name() {
    let s = site_with(
        true,
        PROVISION_KEY,
        &[("CHATHUB_ADDON_SITE_NAME", "Acme客服")],
    )
    .await;
    for (query, plan, seats_shown) in [
        ("", "basic", false),
        ("?plan=pro", "pro", false),
        ("?plan=enterprise", "enterprise", true),
        ("?plan=bogus", "basic", false),
        ("?plan=%3Cscript%3E", "basic", false),
    ] {
        // A new browser each time: it gets a session cookie, as the original's PHPSESSID.
        let r = TestApp::new_client()
            .get(
                s.app
                    .url(&format!("/addons/chathub/index/registerpage{query}")),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(cookie.starts_with("chathub_session="), "{cookie}");
        assert_eq!(
            r.headers()["cache-control"],
            "no-store, no-cache, must-revalidate"
        );
        let body = r.text().await.unwrap();
        let doc = scraper::Html::parse_document(&body);
        let sel = |q: &str| scraper::Selector::parse(q).unwrap();
        // Marked server-side; the page's script checks its radio (see the script tests).
        let selected: Vec<_> = doc
            .select(&sel(".plan-option.selected"))
            .map(|e| e.value().attr("data-plan").unwrap().to_string())
            .collect();
        assert_eq!(selected, vec![plan.to_string()], "{query}");
        assert!(doc.select(&sel("input[checked]")).next().is_none());
        let seats_row = doc.select(&sel("#seats-row")).next().unwrap();
        assert_eq!(
            seats_row.value().classes().any(|c| c == "show"),
            seats_shown,
            "{query}"
        );
        let title = doc.select(&sel("title")).next().unwrap().inner_html();
        assert_eq!(title, "注册 Acme客服 - AI 智能客服");
        let text = visible_text(&body);
        assert!(text.contains("注册 Acme客服 账号"), "{text}");
        assert!(!body.contains("ChatHub"));
        // The form the original had, posting to register; no external scripts.
        let form = doc.select(&sel("form#chathub-register")).next().unwrap();
        assert_eq!(form.value().attr("action"), Some(REGISTER));
        assert_eq!(form.value().attr("method"), Some("POST"));
        let names: Vec<_> = doc
            .select(&sel("form [name]"))
            .map(|e| e.value().attr("name").unwrap().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "plan",
                "plan",
                "plan",
                "seats",
                "company_name",
                "email",
                "domain",
                "notes"
            ]
        );
        assert!(doc.select(&sel("script[src]")).next().is_none());
    }
}

#[tokio::test]
async fn register_page_keeps_a_signed_in_members_session() {
    let s = site().await;
    let cookie = s.signed_in_cookie(2, "alice@example.com", "Alice", "8a25");
    let r = s
        .app
        .client
        .get(s.app.url("/addons/chathub/index/registerPage"))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A fresh session is not replaced by an anonymous one.
    assert!(r.headers().get("set-cookie").is_none());
}

// ---------------------------------------------------------------- preflight and missing fields

#[tokio::test]
async fn options_answers_the_preflight() {
    let s = site().await;
    let r = s
        .app
        .client
        .request(reqwest::Method::OPTIONS, s.app.url(REGISTER))
        .header("Origin", "https://example.org")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_cors(&r);
    assert_eq!(r.headers()["content-type"], "text/html; charset=UTF-8");
    assert_eq!(r.text().await.unwrap(), r#"{"code":1}"#);
}

#[tokio::test]
async fn missing_fields_write_nothing() {
    let s = site().await;
    let missing_json = r#"{"code":0,"msg":"\u8bf7\u586b\u5199\u5fc5\u586b\u5b57\u6bb5"}"#;

    let r = s.app.get(REGISTER).await;
    assert_eq!(r.status(), 200);
    assert_cors(&r);
    assert_eq!(r.headers()["content-type"], "text/html; charset=UTF-8");
    assert_eq!(
        visible_text(&r.text().await.unwrap()),
        "注册结果 - ChatHub ✗ 注册失败 请填写必填字段（公司名称、邮箱、网站域名） 立即登录 返回首页"
    );

    let r = s.form(&[("company_name", "Acme")]).await;
    assert_cors(&r);
    assert!(
        visible_text(&r.text().await.unwrap())
            .contains("请填写必填字段（公司名称、邮箱、网站域名）")
    );

    for body in [
        r#"{"company_name": "Acme", "email": "x@example.com"}"#,
        "{}",
        "[1]",
        r#"{"company_name": "  ", "email": " ", "domain": "0"}"#,
        "{not json",
    ] {
        let r = s.json_body(body).await;
        assert_cors(&r);
        assert_eq!(
            r.headers()["content-type"],
            "application/json; charset=utf-8"
        );
        assert_eq!(r.text().await.unwrap(), missing_json, "{body}");
    }

    let r = s.ajax(&[("plan", "pro")]).await;
    assert_eq!(r.text().await.unwrap(), missing_json);

    assert!(s.tenants().await.is_empty());
    assert!(s.logs().await.is_empty());
    assert_eq!(s.users().await.len(), 2);
    assert!(s.stub.calls().is_empty());
}

// ---------------------------------------------------------------- new members

#[tokio::test]
async fn new_email_by_form_creates_the_member_and_an_active_tenant() {
    let s = site().await;
    let r = s
        .form(&[
            ("plan", "pro"),
            ("company_name", "Newco Ltd"),
            ("email", "newco@example.com"),
            ("domain", "newco"),
            ("notes", "hello"),
        ])
        .await;
    assert_eq!(r.status(), 200);
    assert_cors(&r);
    assert_eq!(r.headers()["content-type"], "text/html; charset=UTF-8");
    let text = visible_text(&r.text().await.unwrap());

    // The password is shown once, on the page, and nowhere in the database but as a hash.
    let users = s.users().await;
    assert_eq!(users.len(), 3);
    let u = &users[2];
    assert_eq!(u["username"], "newco@example.com");
    assert_eq!(u["nickname"], "Newco Ltd");
    assert_eq!(u["email"], "newco@example.com");
    assert_eq!(u["salt"], "");
    assert_eq!(u["status"], "normal");
    assert_eq!(u["joinip"], "127.0.0.1");
    assert_eq!(u["group_id"], 0);
    assert_eq!(u["jointime"], u["createtime"]);
    let hash = u["password"].as_str().unwrap();
    assert!(hash.starts_with("$2y$10$"), "{hash}");
    let shown = text
        .split("⚠️ 您的登录密码（请保存，登录后可修改）： ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .expect("password shown")
        .to_string();
    assert_eq!(shown.len(), 10);
    assert!(chathub::domain::password::verify(&shown, hash, ""));

    let expected = format!(
        "注册结果 - ChatHub ✓ 注册成功 注册成功！AI 客服已开通，请查收邮件获取嵌入代码。 公司名称 Newco Ltd 套餐 专业版（¥60/月） 席位 2 到期时间 {} 嵌入代码（复制到您的网站）： ",
        today_plus_30(&s.app)
    );
    assert!(text.starts_with(&expected), "{text}");
    // The email, not the company name, is the login (COMPAT.md#register-result-email).
    assert!(
        text.ends_with(&format!(
            "⚠️ 您的登录密码（请保存，登录后可修改）： {shown} 登录邮箱：newco@example.com 立即登录 返回首页"
        )),
        "{text}"
    );

    let tenants = s.tenants().await;
    assert_eq!(tenants.len(), 1);
    let t = &tenants[0];
    assert_eq!(t["user_id"], u["id"]);
    assert_eq!(t["tenant_name"], "Newco Ltd");
    assert_eq!(t["domain"], "newco");
    assert_eq!(t["email"], "newco@example.com");
    assert_eq!(t["status"], "active");
    assert_eq!(t["max_agents"], 2);
    assert_eq!(t["inbox_id"], 101);
    assert_eq!(t["team_id"], 201);
    assert_eq!(t["agent_cw_id"], 301);
    assert_eq!(t["inbox_token"], "6c3c62f023e7bb9d224c4211");
    assert_eq!(t["agent_name"], "Newco Ltd");
    assert_eq!(t["agent_cw_password"], "Cwab6c28bbc648!");
    assert_eq!(t["agent_id"], Value::Null);
    assert_eq!(t["channel_type"], "web_widget");
    assert!(
        t["embed_code"]
            .as_str()
            .unwrap()
            .contains("eaf6a3e42895ccc2e58c05fb")
    );
    assert!(t["provisioned_at"].is_string());
    assert!(
        t["expire_at"]
            .as_str()
            .unwrap()
            .starts_with(&today_plus_30(&s.app))
    );
    let cfg = config_of(t);
    assert_eq!(
        cfg.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "plan",
            "price",
            "notes",
            "registered_at",
            "initial_password"
        ]
    );
    assert_eq!(cfg["plan"], "pro");
    assert_eq!(cfg["price"], 60);
    assert_eq!(cfg["notes"], "hello");
    // Never stored (COMPAT.md#initial-password-not-stored).
    assert_eq!(cfg["initial_password"], Value::Null);
    assert!(!t["config"].as_str().unwrap().contains(&shown));

    let logs = s.logs().await;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["tenant_id"], t["id"]);
    assert_eq!(logs[0]["action"], "register");
    assert_eq!(
        logs[0]["detail"],
        "注册开通: Newco Ltd, 方案: pro, 席位: 2, 价格: ¥60/月"
    );
    assert_eq!(logs[0]["status"], "success");
    assert_eq!(logs[0]["operator"], "website");

    let calls = s.stub.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].path, "/provision");
    assert_eq!(calls[0].header("x-api-key"), Some(PROVISION_KEY));
    let key = calls[0].header("idempotency-key").unwrap();
    assert!(key.starts_with("reg-") && key.len() == 20, "{key}");
    assert_eq!(
        calls[0].body,
        r#"{"name":"Newco Ltd","domain":"newco","email":"newco@example.com","type":"web_widget","max_agents":2}"#
    );

    // The shown password signs in (the check login uses).
    let login_ok = chathub::domain::password::verify(&shown, hash, "");
    assert!(login_ok);
}

#[tokio::test]
async fn new_email_by_ajax_and_json_body_answers_json() {
    let s = site().await;
    let r = s
        .ajax(&[
            ("plan", "enterprise"),
            ("seats", "2"),
            ("company_name", "Newco AJAX"),
            ("email", "newco-ajax@example.com"),
            ("domain", "newco-ajax"),
        ])
        .await;
    assert_cors(&r);
    assert_eq!(
        r.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let raw = r.text().await.unwrap();
    let v: Value = serde_json::from_str(&raw).unwrap();
    let pw = v["initial_password"].as_str().unwrap().to_string();
    assert_eq!(
        v.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "code",
            "msg",
            "company_name",
            "plan",
            "price",
            "seats",
            "embed_code",
            "initial_password",
            "expire_at"
        ]
    );
    assert_eq!(v["code"], 1);
    assert_eq!(
        v["msg"],
        "注册成功！AI 客服已开通，请查收邮件获取嵌入代码。"
    );
    assert_eq!(v["price"], 90);
    assert_eq!(v["seats"], 5);
    assert_eq!(v["expire_at"], today_plus_30(&s.app));
    // PHP's json_encode escaping.
    assert!(raw.contains(r#""msg":"\u6ce8\u518c\u6210\u529f"#), "{raw}");
    assert!(raw.contains(r#"<\/script>"#));
    let users = s.users().await;
    assert!(chathub::domain::password::verify(
        &pw,
        users[2]["password"].as_str().unwrap(),
        ""
    ));

    let r = s
        .json_body(r#"{"company_name": "Newco JSON", "email": "newco-json@example.com", "domain": "newco-json", "plan": "basic"}"#)
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], 1);
    assert_eq!(v["company_name"], "Newco JSON");
    assert_eq!(
        (v["plan"].clone(), v["price"].clone(), v["seats"].clone()),
        (json!("basic"), json!(50), json!(1))
    );
    assert_eq!(v["initial_password"].as_str().unwrap().len(), 10);
    assert_eq!(s.tenants().await.len(), 2);
    assert_eq!(s.users().await.len(), 4);
}

#[tokio::test]
async fn new_email_on_an_unmigrated_schema_is_a_clear_error_with_nothing_written() {
    let s = site_with(false, PROVISION_KEY, &[]).await;
    let r = s
        .ajax(&[
            ("plan", "pro"),
            ("company_name", "Newco Ltd"),
            ("email", "newco@example.com"),
            ("domain", "newco"),
        ])
        .await;
    assert_eq!(r.status(), 200);
    assert_cors(&r);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        json!({"code": 0, "msg": "暂时无法创建新账号，请联系网站管理员"})
    );

    let r = s
        .form(&[
            ("company_name", "Newco Ltd"),
            ("email", "newco@example.com"),
            ("domain", "newco"),
        ])
        .await;
    assert_eq!(r.status(), 200);
    let text = visible_text(&r.text().await.unwrap());
    assert!(
        text.contains("注册失败 暂时无法创建新账号，请联系网站管理员"),
        "{text}"
    );

    assert_eq!(s.users().await.len(), 2);
    assert!(s.tenants().await.is_empty());
    assert!(s.stub.calls().is_empty());
}

// ---------------------------------------------------------------- existing emails

#[tokio::test]
async fn someone_elses_email_is_refused_without_sign_in() {
    let s = site().await;
    let fields = [
        ("plan", "pro"),
        ("company_name", "Alice Second Shop"),
        ("email", "alice@example.com"),
        ("domain", "alice2"),
    ];
    let r = s.form(&fields).await;
    assert_eq!(r.status(), 200);
    assert_cors(&r);
    let body = r.text().await.unwrap();
    assert_eq!(
        visible_text(&body),
        "注册结果 - ChatHub ✗ 注册失败 该邮箱已注册，请先登录后再开通 立即登录 返回首页"
    );
    assert!(body.contains(r#"href="/addons/chathub/index/login""#));

    let r = s.ajax(&fields).await;
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"code":0,"msg":"\u8be5\u90ae\u7bb1\u5df2\u6ce8\u518c\uff0c\u8bf7\u5148\u767b\u5f55\u540e\u518d\u5f00\u901a"}"#
    );

    // Signed in as somebody else does not help; neither does the email in another case.
    let bob = s.signed_in_cookie(
        3,
        "bob@example.com",
        "Bob Ltd",
        "1f96efdf3b7947ee9fa84aae7fda3cf5",
    );
    let r = s
        .post()
        .header("Cookie", bob)
        .header("X-Requested-With", "XMLHttpRequest")
        .form(&[
            ("company_name", "X"),
            ("email", "ALICE@example.com"),
            ("domain", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 0);

    assert!(s.tenants().await.is_empty());
    assert!(s.logs().await.is_empty());
    assert!(s.stub.calls().is_empty());
}

#[tokio::test]
async fn a_signed_in_member_gets_the_recorded_result() {
    let s = site().await;
    let alice = s.signed_in_cookie(
        2,
        "alice@example.com",
        "Alice Trading Co",
        "8a2552332d39695709a007fbcef16e49",
    );
    // register/003: form, existing alice, pro.
    let r = s
        .post()
        .header("Cookie", &alice)
        .form(&[
            ("plan", "pro"),
            ("company_name", "Alice Second Shop"),
            ("email", "alice@example.com"),
            ("domain", "alice2"),
            ("notes", "备注 <b>x</b>"),
        ])
        .send()
        .await
        .unwrap();
    assert_cors(&r);
    let text = visible_text(&r.text().await.unwrap());
    assert_eq!(
        text,
        format!(
            "注册结果 - ChatHub ✓ 注册成功 注册成功！AI 客服已开通，请查收邮件获取嵌入代码。 公司名称 Alice Second Shop 套餐 专业版（¥60/月） 席位 2 到期时间 {} 嵌入代码（复制到您的网站）： <script> (function(d,t) {{ var g=d.createElement(t),s=d.getElementsByTagName(t)[0]; g.src=\"https://chatwoot.275763.xyz/packs/js/sdk.js\"; g.defer=1;g.async=1; s.parentNode.insertBefore(g,s); g.onload=function(){{ window.chatwootSettings={{ position:\"right\", type:\"standard\", launcherTitle:\"Chat\" }}; window.chatwootSDK.run({{ websiteToken:\"eaf6a3e42895ccc2e58c05fb\", baseUrl:\"https://chatwoot.275763.xyz\" }}); }}; }})(document,\"script\"); </script> 立即登录 返回首页",
            today_plus_30(&s.app)
        )
    );
    let t = &s.tenants().await[0];
    assert_eq!(t["user_id"], 2);
    assert_eq!(t["agent_cw_password"], "Cw9fa2c9345bbd!");
    assert_eq!(t["createtime"], t["updatetime"]);
    let cfg = config_of(t);
    assert_eq!(cfg["notes"], "备注 <b>x</b>");
    assert!(
        t["config"]
            .as_str()
            .unwrap()
            .contains(r#""notes":"\u5907\u6ce8 <b>x<\/b>""#)
    );
    assert_eq!(s.users().await.len(), 2, "no new account");

    // register/004: AJAX, bob, enterprise with 2 extra seats; the stub's second provision.
    let bob = s.signed_in_cookie(
        3,
        "bob@example.com",
        "Bob Ltd",
        "1f96efdf3b7947ee9fa84aae7fda3cf5",
    );
    let r = s
        .post()
        .header("Cookie", &bob)
        .header("X-Requested-With", "XMLHttpRequest")
        .form(&[
            ("plan", "enterprise"),
            ("seats", "2"),
            ("company_name", "Bob Enterprise"),
            ("email", "bob@example.com"),
            ("domain", "bob-ent"),
        ])
        .send()
        .await
        .unwrap();
    let expected = chathub::domain::php::php_json_encode(&json!({
        "code": 1,
        "msg": "注册成功！AI 客服已开通，请查收邮件获取嵌入代码。",
        "company_name": "Bob Enterprise",
        "plan": "enterprise",
        "price": 90,
        "seats": 5,
        "embed_code": EMBED_102,
        "initial_password": null,
        "expire_at": today_plus_30(&s.app),
    }));
    assert_eq!(r.text().await.unwrap(), expected);
    let logs = s.logs().await;
    assert_eq!(
        logs.iter().map(|l| l["detail"].clone()).collect::<Vec<_>>(),
        [
            "注册开通: Alice Second Shop, 方案: pro, 席位: 2, 价格: ¥60/月",
            "注册开通: Bob Enterprise, 方案: enterprise, 席位: 5, 价格: ¥90/月"
        ]
    );

    // register/007 and 008: unknown plan priced as basic with seats added; pro ignores
    // seats in the price.
    for (plan, seats, price, total) in [("bogus", "5", 50, 6), ("pro", "3", 60, 5)] {
        let r = s
            .post()
            .header("Cookie", &alice)
            .header("X-Requested-With", "XMLHttpRequest")
            .form(&[
                ("plan", plan),
                ("seats", seats),
                ("company_name", "Alice Plan"),
                ("email", "alice@example.com"),
                ("domain", "aplan"),
            ])
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            (
                v["plan"].as_str().unwrap(),
                v["price"].as_i64().unwrap(),
                v["seats"].as_i64().unwrap()
            ),
            (plan, price, total)
        );
    }
    let tenants = s.tenants().await;
    assert_eq!(config_of(&tenants[2])["plan"], "bogus");
    assert_eq!(tenants[2]["max_agents"], 6);
}

// ---------------------------------------------------------------- provisioning failures

async fn signed_in_alice_ajax(
    s: &Site,
    company: &str,
    domain: &str,
) -> (reqwest::Response, Duration) {
    let alice = s.signed_in_cookie(
        2,
        "alice@example.com",
        "Alice",
        "8a2552332d39695709a007fbcef16e49",
    );
    let started = Instant::now();
    let r = s
        .post()
        .header("Cookie", alice)
        .header("X-Requested-With", "XMLHttpRequest")
        .form(&[
            ("plan", "pro"),
            ("company_name", company),
            ("email", "alice@example.com"),
            ("domain", domain),
        ])
        .send()
        .await
        .unwrap();
    (r, started.elapsed())
}

#[tokio::test]
async fn provision_http_500_is_retried_three_times_with_backoff() {
    let s = site().await;
    s.stub.set_mode(StubMode::Http500).await;
    let (r, elapsed) = signed_in_alice_ajax(&s, "Alice P500", "p500").await;
    assert_cors(&r);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], 1);
    assert_eq!(v["msg"], "注册成功！正在为您开通，请稍候...");
    assert_eq!(v["embed_code"], "");
    // 1 s + 2 s back-off.
    assert!(elapsed >= Duration::from_secs(3), "{elapsed:?}");

    let calls = s.stub.calls();
    assert_eq!(calls.len(), 3);
    let key = calls[0].header("idempotency-key").unwrap();
    assert!(
        calls
            .iter()
            .all(|c| c.header("idempotency-key") == Some(key))
    );
    assert!(
        calls
            .iter()
            .all(|c| c.header("x-api-key") == Some(PROVISION_KEY))
    );

    let t = &s.tenants().await[0];
    assert_eq!(t["status"], "pending");
    assert_eq!(t["inbox_id"], Value::Null);
    assert_eq!(t["embed_code"], Value::Null);
    let cfg = config_of(t);
    assert_eq!(cfg["provision_retry"], 3);
    assert_eq!(cfg["last_error"], "HTTP 500");
    assert!(t["updatetime"].as_i64().unwrap() >= t["createtime"].as_i64().unwrap() + 3);
    let l = &s.logs().await[0];
    assert_eq!(l["detail"], "注册失败（3次重试）: HTTP 500");
    assert_eq!(l["status"], "failed");
    assert_eq!(l["operator"], "website");
}

#[tokio::test]
async fn a_retry_that_succeeds_is_logged_with_the_retry_count() {
    let s = site().await;
    s.stub.set_mode(StubMode::Http500).await;
    let flip = async {
        // After the first (failed) attempt, within the 1 s back-off.
        while s.stub.calls().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        s.stub.set_mode(StubMode::Ok).await;
    };
    let ((r, _), ()) = tokio::join!(signed_in_alice_ajax(&s, "Alice Retry", "retry"), flip);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["msg"],
        "注册成功！AI 客服已开通，请查收邮件获取嵌入代码。"
    );
    assert!(v["embed_code"].as_str().unwrap().starts_with("<script>"));
    let calls = s.stub.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[0].header("idempotency-key"),
        calls[1].header("idempotency-key")
    );
    let t = &s.tenants().await[0];
    assert_eq!(t["status"], "active");
    assert_eq!(config_of(t)["provision_retry"], 1);
    assert_eq!(
        s.logs().await[0]["detail"],
        "注册开通: Alice Retry, 方案: pro, 席位: 2, 价格: ¥60/月 (重试2次后成功)"
    );
}

#[tokio::test]
async fn an_invalid_provision_response_leaves_the_tenant_pending() {
    let s = site().await;
    s.stub.set_mode(StubMode::BadJson).await;
    let r = s
        .form(&[
            ("plan", "basic"),
            ("company_name", "BadJSON Co"),
            ("email", "badjson@example.com"),
            ("domain", "badjsonco"),
        ])
        .await;
    let text = visible_text(&r.text().await.unwrap());
    assert!(
        text.starts_with("注册结果 - ChatHub ✓ 注册成功 注册成功！正在为您开通，请稍候联系客服获取嵌入代码。 公司名称 BadJSON Co 套餐 基础版（¥50/月） 席位 1"),
        "{text}"
    );
    assert!(!text.contains("嵌入代码（复制到您的网站）"));
    assert!(text.contains("登录邮箱：badjson@example.com"));
    assert_eq!(s.stub.calls().len(), 1);
    let t = &s.tenants().await[0];
    assert_eq!(t["status"], "pending");
    let cfg = config_of(t);
    assert!(cfg.get("provision_retry").is_none());
    assert_eq!(s.logs().await[0]["detail"], "注册响应无效（1次重试）");
}

#[tokio::test]
async fn a_refused_connection_is_retried_and_logged_like_curl() {
    let s = site().await;
    s.stub.set_mode(StubMode::Down).await;
    let (r, elapsed) = signed_in_alice_ajax(&s, "Alice Refused", "refused").await;
    assert!(elapsed >= Duration::from_secs(3), "{elapsed:?}");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["msg"], "注册成功！正在为您开通，请稍候...");
    let port = s.stub.addr().port();
    let t = &s.tenants().await[0];
    assert_eq!(t["status"], "pending");
    let cfg = config_of(t);
    assert_eq!(cfg["provision_retry"], 3);
    let prefix = format!("Failed to connect to 127.0.0.1 port {port} after ");
    assert!(
        cfg["last_error"].as_str().unwrap().starts_with(&prefix),
        "{cfg}"
    );
    let detail = s.logs().await[0]["detail"].as_str().unwrap().to_string();
    assert!(
        detail.starts_with(&format!("注册失败（3次重试）: {prefix}")),
        "{detail}"
    );
    assert!(
        detail.ends_with(" ms: Couldn't connect to server"),
        "{detail}"
    );
}

#[tokio::test]
async fn a_hanging_provision_server_is_bounded_by_register_timeout() {
    let s = site_with(
        true,
        PROVISION_KEY,
        &[("CHATHUB_REGISTER_TIMEOUT_SECS", "2")],
    )
    .await;
    s.stub.set_hang_for(Duration::from_secs(10));
    s.stub.set_mode(StubMode::Hang).await;
    let (r, elapsed) = signed_in_alice_ajax(&s, "Alice Hang", "hang").await;
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_cors(&r);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], 1);
    assert_eq!(v["msg"], "注册成功！正在为您开通，请稍候...");
    let t = &s.tenants().await[0];
    // Left for the worker: pending, no embed code, provision_retry present.
    assert_eq!(t["status"], "pending");
    assert_eq!(t["embed_code"], Value::Null);
    let cfg = config_of(t);
    assert_eq!(cfg["provision_retry"], 1);
    let last = cfg["last_error"].as_str().unwrap();
    assert!(last.starts_with("Operation timed out after "), "{last}");
    let detail = s.logs().await[0]["detail"].as_str().unwrap().to_string();
    assert!(
        detail.starts_with("注册失败（1次重试）: Operation timed out after "),
        "{detail}"
    );
}

#[tokio::test]
async fn the_configured_provision_api_key_is_sent() {
    let s = site_with(
        true,
        "site-own-key-42",
        &[("CHATHUB_ADDON_PROVISION_API_KEY", "site-own-key-42")],
    )
    .await;
    let r = s
        .ajax(&[
            ("company_name", "Keyed Co"),
            ("email", "keyed@example.com"),
            ("domain", "keyed"),
        ])
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["msg"],
        "注册成功！AI 客服已开通，请查收邮件获取嵌入代码。"
    );
    assert_eq!(
        s.stub.calls()[0].header("x-api-key"),
        Some("site-own-key-42")
    );
}

// ---------------------------------------------------------------- bad input

#[tokio::test]
async fn bad_input_gets_a_clear_answer_and_writes_nothing() {
    let s = site().await;
    let long_name = "公".repeat(101);
    let nickname_name = "公".repeat(51);
    let long_domain = "d".repeat(256);
    let long_email = format!("{}@example.com", "a".repeat(90));
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("email", "not-an-email")], "邮箱格式不正确"),
        (vec![("email", "a@b")], "邮箱格式不正确"),
        (vec![("email", &long_email)], "邮箱过长（最多 100 个字符）"),
        (vec![("seats", "101")], "额外席位数必须在 0 到 100 之间"),
        (vec![("seats", "-1")], "额外席位数必须在 0 到 100 之间"),
        (
            vec![("company_name", &long_name)],
            "公司名称过长（最多 100 个字符）",
        ),
        (
            vec![("company_name", &nickname_name)],
            "公司名称过长：新账号的昵称最多 50 个字符",
        ),
        (
            vec![("domain", &long_domain)],
            "网站域名过长（最多 255 个字符）",
        ),
        (vec![("domain", "my site")], "网站域名包含无效字符"),
    ];
    for (overrides, msg) in cases {
        let mut fields = vec![
            ("plan", "enterprise"),
            ("company_name", "Acme"),
            ("email", "acme@example.com"),
            ("domain", "acme"),
        ];
        for (k, v) in overrides {
            fields.retain(|(fk, _)| *fk != k);
            fields.push((k, v));
        }
        let r = s.ajax(&fields).await;
        assert_eq!(r.status(), 200, "{msg}");
        assert_cors(&r);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v, json!({"code": 0, "msg": msg}));
    }

    // Not UTF-8: a form and a JSON body.
    let r = s
        .post()
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Requested-With", "XMLHttpRequest")
        .body(b"company_name=%FF%FE&email=a%40example.com&domain=x".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_cors(&r);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 0);
    let r = s
        .post()
        .header("Content-Type", "application/json")
        .body(b"{\"company_name\": \"\xff\"}".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 0);

    // Arrays and nested objects where strings are expected.
    let r = s
        .json_body(r#"{"company_name": ["a"], "email": {"x": 1}, "domain": "d"}"#)
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 0);

    // A page for browsers.
    let r = s
        .form(&[
            ("company_name", "Acme"),
            ("email", "bad"),
            ("domain", "acme"),
        ])
        .await;
    assert_eq!(r.headers()["content-type"], "text/html; charset=UTF-8");
    assert!(visible_text(&r.text().await.unwrap()).contains("注册失败 邮箱格式不正确"));

    assert!(s.tenants().await.is_empty());
    assert_eq!(s.users().await.len(), 2);
    assert!(s.stub.calls().is_empty());
}

#[tokio::test]
async fn concurrent_duplicate_sign_ups_make_one_account() {
    let s = site().await;
    let send = || async {
        s.ajax(&[
            ("company_name", "Twice Co"),
            ("email", "twice@example.com"),
            ("domain", "twice"),
        ])
        .await
        .json::<Value>()
        .await
        .unwrap()
    };
    let (a, b) = tokio::join!(send(), send());
    let mut codes = [a["code"].as_i64().unwrap(), b["code"].as_i64().unwrap()];
    codes.sort();
    assert_eq!(codes, [0, 1], "{a} {b}");
    let refused = if a["code"] == 0 { &a } else { &b };
    assert_eq!(refused["msg"], "该邮箱已注册，请先登录后再开通");
    let users = s.users().await;
    assert_eq!(
        users
            .iter()
            .filter(|u| u["email"] == "twice@example.com")
            .count(),
        1
    );
    assert_eq!(s.tenants().await.len(), 1);
    assert_eq!(s.stub.calls().len(), 1);
}

// ---------------------------------------------------------------- the page's script

/// Runs the served page's inline script in Node with a minimal DOM made from the served form
/// (no browser on the test machines); the script's request reaches the real server.
async fn run_page_script(
    s: &Site,
    query: &str,
    fill: &[(&str, &str)],
    choose: Option<&str>,
) -> Option<Value> {
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("node not installed: skipping the register page script test");
        return None;
    }
    let body = s
        .app
        .get(&format!("/addons/chathub/index/registerpage{query}"))
        .await
        .text()
        .await
        .unwrap();
    let doc = scraper::Html::parse_document(&body);
    let sel = |q: &str| scraper::Selector::parse(q).unwrap();
    let script = doc
        .select(&sel("script"))
        .flat_map(|e| e.text())
        .collect::<String>();
    let options: Vec<Value> = doc
        .select(&sel(".plan-option"))
        .map(|o| {
            let radio = o.select(&sel("input")).next().unwrap();
            json!({
                "plan": o.value().attr("data-plan"),
                "class": o.value().attr("class"),
                "checked": radio.value().attr("checked").is_some(),
            })
        })
        .collect();
    let fields: Vec<Value> = doc
        .select(&sel("form input:not([type=radio]), form textarea"))
        .map(|e| {
            json!({
                "tag": e.value().name(),
                "name": e.value().attr("name"),
                "type": e.value().attr("type"),
                "value": e.value().attr("value"),
            })
        })
        .collect();
    let form = doc.select(&sel("form")).next().unwrap();
    let input = json!({
        "base": s.app.url(""),
        "action": form.value().attr("action"),
        "script": script,
        "options": options,
        "seatsRowClass": doc.select(&sel("#seats-row")).next().unwrap().value().attr("class"),
        "fields": fields,
        "fill": fill.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "choose": choose,
    });
    let harness = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/it/support/register_page_harness.js"
    );
    let out = tokio::process::Command::new("node")
        .arg(harness)
        .arg(input.to_string())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// Every text of the card, in document order.
fn card_texts(node: &Value, out: &mut Vec<String>) {
    if let Some(t) = node["text"].as_str().filter(|t| !t.is_empty()) {
        out.push(t.to_string());
    }
    for c in node["children"].as_array().into_iter().flatten() {
        card_texts(c, out);
    }
}

#[tokio::test]
async fn the_register_page_script_shows_embed_code_and_password() {
    let s = site().await;
    let Some(result) = run_page_script(
        &s,
        "",
        &[
            ("company_name", "Script <b>Co</b>"),
            ("email", "script@example.com"),
            ("domain", "scriptco"),
        ],
        Some("enterprise"),
    )
    .await
    else {
        return;
    };
    let req = &result["request"];
    assert_eq!(req["headers"]["X-Requested-With"], "XMLHttpRequest");
    assert_eq!(req["url"], REGISTER);
    assert_eq!(
        req["body"],
        "plan=enterprise&seats=3&company_name=Script+%3Cb%3ECo%3C%2Fb%3E&email=script%40example.com&domain=scriptco&notes="
    );
    assert_eq!(result["submitDisabled"], true);
    let mut texts = Vec::new();
    card_texts(&result["card"], &mut texts);
    let users = s.users().await;
    let hash = users[2]["password"].as_str().unwrap();
    let pw_index = texts
        .iter()
        .position(|t| t == "⚠️ 您的登录密码（请保存，登录后可修改）：")
        .expect("password box");
    let password = &texts[pw_index + 1];
    assert!(chathub::domain::password::verify(password, hash, ""));
    let embed = s.tenants().await[0]["embed_code"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        texts,
        [
            "✓",
            "注册成功",
            "注册成功！AI 客服已开通，请查收邮件获取嵌入代码。",
            &embed,
            "公司名称",
            "Script <b>Co</b>",
            "套餐",
            "enterprise",
            "席位",
            "6",
            "到期时间",
            &today_plus_30(&s.app),
            "⚠️ 您的登录密码（请保存，登录后可修改）：",
            password,
            "登录邮箱：script@example.com",
            "继续注册",
            "返回首页",
        ]
    );
}

#[tokio::test]
async fn the_register_page_script_shows_a_refusal() {
    let s = site().await;
    // `?plan=pro` preselects pro: the script checks its radio.
    let Some(result) = run_page_script(
        &s,
        "?plan=pro",
        &[
            ("company_name", "Not Alice"),
            ("email", "alice@example.com"),
            ("domain", "x"),
        ],
        None,
    )
    .await
    else {
        return;
    };
    let mut texts = Vec::new();
    card_texts(&result["card"], &mut texts);
    assert_eq!(
        texts,
        [
            "✗",
            "注册失败",
            "该邮箱已注册，请先登录后再开通",
            "继续注册",
            "返回首页"
        ]
    );
    assert!(s.tenants().await.is_empty());
}

#[tokio::test]
async fn the_worker_leaves_a_tenant_register_is_still_provisioning_alone() {
    let s = site().await;
    s.stub.set_mode(StubMode::Http500).await;
    let id = chathub::domain::tenant::TenantId(1);
    let probe = async {
        // Inside register's 1 s + 2 s back-off: after its first attempt.
        while s.stub.calls().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let during = s.tenants().await;
        let attempt = chathub::services::worker::attempt(&s.app.app, id, None)
            .await
            .unwrap();
        (during, attempt)
    };
    let ((r, _), (during, attempt)) =
        tokio::join!(signed_in_alice_ajax(&s, "Alice Busy", "busy"), probe);
    assert_eq!(during[0]["status"], "pending");
    assert!(
        config_of(&during[0]).get("provision_retry").is_none(),
        "nothing the worker picks while register works on it"
    );
    assert_eq!(attempt, chathub::services::worker::Attempt::NotNeeded);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 1);
    let t = &s.tenants().await[0];
    assert_eq!(t["status"], "pending");
    let cfg = config_of(t);
    assert_eq!(cfg["provision_retry"], 3);
    assert!(
        cfg.get(chathub::services::signup::REGISTER_LEASE_KEY)
            .is_none(),
        "the lease goes with the outcome: {cfg}"
    );
    let calls = s.stub.calls();
    assert_eq!(
        calls.len(),
        3,
        "register's three attempts, none by the worker"
    );
    assert!(calls.iter().all(|c| {
        c.header("idempotency-key")
            .is_some_and(|k| k.starts_with("reg-"))
    }));
}

/// A sign-up whose process died between writing its rows and recording the outcome is
/// handed to the worker once its lease is over, and only then.
#[tokio::test]
async fn an_abandoned_sign_up_is_handed_to_the_worker_after_its_lease() {
    let s = site().await;
    let now = s.app.app.clock.epoch();
    s.app
        .db
        .run_sql(&format!(
            "INSERT INTO fa_chathub_tenant (id, user_id, tenant_name, domain, email, channel_type, max_agents, status, config, createtime, updatetime) VALUES \
             (7, 2, 'Live', 'live', 'alice@example.com', 'web_widget', 3, 'pending', '{{\"plan\":\"basic\",\"register_lease_until\":{live}}}', {now}, {now}), \
             (8, 2, 'Dead', 'dead', 'alice@example.com', 'web_widget', 3, 'pending', '{{\"plan\":\"basic\",\"register_lease_until\":{dead}}}', {now}, {now});\n",
            live = now + 30,
            dead = now - 1,
        ))
        .await;
    assert_eq!(
        chathub::services::signup::release_abandoned(&s.app.app)
            .await
            .unwrap(),
        1
    );
    let rows = s.tenants().await;
    assert_eq!(rows[0]["status"], "pending", "lease still running");
    assert_eq!(rows[1]["status"], "provisioning");
    assert_eq!(rows[1]["config"], r#"{"plan":"basic"}"#);
    assert_eq!(
        chathub::services::signup::release_abandoned(&s.app.app)
            .await
            .unwrap(),
        0
    );
    // The worker now finishes it.
    let attempt =
        chathub::services::worker::attempt(&s.app.app, chathub::domain::tenant::TenantId(8), None)
            .await
            .unwrap();
    assert_eq!(
        attempt,
        chathub::services::worker::Attempt::Done(
            chathub::services::provisioning::Outcome::Provisioned
        )
    );
}

/// Sign-ups waiting on a hanging provision server hold no pooled connection: with a pool of
/// two, sign-in and the member center keep answering (they used to wait for the sign-ups'
/// whole 25 s budget).
#[tokio::test]
async fn sign_ups_waiting_on_the_provision_server_leave_the_pool_to_others() {
    let s = site_with(true, PROVISION_KEY, &[("CHATHUB_DB_POOL_MAX", "2")]).await;
    s.stub.set_hang_for(Duration::from_secs(60));
    s.stub.set_mode(StubMode::Hang).await;
    let mut signups = Vec::new();
    for n in 0..2 {
        let client = reqwest::Client::new();
        let target = s.app.url(REGISTER);
        signups.push(tokio::spawn(async move {
            client
                .post(target)
                .header("X-Requested-With", "XMLHttpRequest")
                .form(&[
                    ("company_name", format!("Hang {n}")),
                    ("email", format!("hang{n}@example.com")),
                    ("domain", format!("hang{n}")),
                ])
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }));
    }
    // Both sign-ups are waiting on the provision server.
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.stub.calls().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "sign-ups never reached the provision server"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let started = Instant::now();
    let login = TestApp::new_client()
        .post(s.app.url("/addons/chathub/index/doLogin"))
        .form(&[("email", "bob@example.com"), ("password", "wrong-password")])
        .send()
        .await
        .unwrap();
    let login_took = started.elapsed();
    assert!(
        login.status().is_success() || login.status().is_redirection(),
        "{}",
        login.status()
    );
    let bob = s.signed_in_cookie(
        3,
        "bob@example.com",
        "Bob",
        "1f96efdf3b7947ee9fa84aae7fda3cf5",
    );
    let started = Instant::now();
    let my = s
        .app
        .client
        .get(s.app.url("/addons/chathub/index/my"))
        .header("Cookie", bob)
        .send()
        .await
        .unwrap();
    let my_took = started.elapsed();
    assert_eq!(my.status(), 200);
    assert!(my.text().await.unwrap().contains("Bob"));
    // The sign-ups hang for register_timeout_secs (25 s); these answered long before.
    assert!(
        login_took < Duration::from_secs(8),
        "doLogin waited {login_took:?}"
    );
    assert!(my_took < Duration::from_secs(8), "my waited {my_took:?}");
    for h in signups {
        assert!(h.await.unwrap().starts_with(r#"{"code":1,"#));
    }
}

#[tokio::test]
async fn one_address_gets_a_bounded_number_of_sign_up_attempts() {
    let s = site_with(
        true,
        PROVISION_KEY,
        &[("CHATHUB_REGISTER_ATTEMPTS_PER_ADDRESS", "3")],
    )
    .await;
    let mut answers = Vec::new();
    for email in [
        "alice@example.com",
        "bob@example.com",
        "new1@example.com",
        "bob@example.com",
    ] {
        let r = s
            .ajax(&[
                ("company_name", "Probe"),
                ("email", email),
                ("domain", "probe"),
            ])
            .await;
        assert_eq!(r.status(), 200);
        assert_cors(&r);
        answers.push(r.json::<Value>().await.unwrap());
    }
    assert_eq!(answers[0]["msg"], "该邮箱已注册，请先登录后再开通");
    assert_eq!(answers[1]["msg"], "该邮箱已注册，请先登录后再开通");
    assert_eq!(answers[2]["code"], 1);
    assert_eq!(
        answers[3],
        json!({"code": 0, "msg": "注册过于频繁，请稍后再试"}),
        "the fourth attempt is refused without looking at the email"
    );
    // Forms that fail validation are answered without spending the budget... and without
    // revealing anything either.
    assert_eq!(s.tenants().await.len(), 1);
}

/// A stranger learns whether an address is registered only from a form that would have
/// created the account: every other check comes first.
#[tokio::test]
async fn an_existing_email_is_revealed_only_after_the_whole_form_is_valid() {
    let s = site().await;
    let long_name = "公".repeat(51);
    for email in ["alice@example.com", "nobody@example.com"] {
        let r = s
            .ajax(&[
                ("company_name", &long_name),
                ("email", email),
                ("domain", "x"),
            ])
            .await;
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"code": 0, "msg": "公司名称过长：新账号的昵称最多 50 个字符"}),
            "{email}"
        );
    }
    assert!(s.tenants().await.is_empty());
    // The signed-in owner needs no nickname: the long name is fine for them.
    let alice = s.signed_in_cookie(
        2,
        "alice@example.com",
        "Alice",
        "8a2552332d39695709a007fbcef16e49",
    );
    let r = s
        .post()
        .header("Cookie", alice)
        .header("X-Requested-With", "XMLHttpRequest")
        .form(&[
            ("company_name", long_name.as_str()),
            ("email", "alice@example.com"),
            ("domain", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 1);
}

/// Each sign-up holds at most one pooled connection, so a burst larger than the pool waits its
/// turn instead of starving itself (it used to take a second connection while holding one).
#[tokio::test]
async fn a_burst_of_sign_ups_larger_than_the_pool_completes() {
    let stub = crate::support::start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    let url = stub.url();
    let app = crate::support::spawn_app(&[
        ("CHATHUB_ADDON_PROVISION_SERVER_URL", url.as_str()),
        ("CHATHUB_DB_POOL_MAX", "2"),
    ])
    .await;
    app.db
        .run_sql(
            "ALTER TABLE fa_user MODIFY password varchar(255) DEFAULT '' COMMENT '密码', \
             MODIFY username varchar(100) DEFAULT '' COMMENT '用户名';\n",
        )
        .await;
    let mut pending = Vec::new();
    for n in 0..6 {
        let client = reqwest::Client::new();
        let target = app.url("/addons/chathub/index/register");
        pending.push(tokio::spawn(async move {
            let form = [
                ("plan", "basic".to_string()),
                ("company_name", format!("Burst {n}")),
                ("email", format!("burst{n}@example.com")),
                ("domain", format!("burst{n}")),
            ];
            client
                .post(target)
                .header("X-Requested-With", "XMLHttpRequest")
                .form(&form)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }));
    }
    let all = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        let mut out = Vec::new();
        for p in pending {
            out.push(p.await.unwrap());
        }
        out
    })
    .await
    .expect("every sign-up answers");
    for body in all {
        assert!(body.starts_with(r#"{"code":1,"#), "{body}");
    }
    let mut conn = app.db.conn().await;
    let active: u64 = mysql_async::prelude::Queryable::query_first(
        &mut conn,
        "SELECT COUNT(*) FROM fa_chathub_tenant WHERE status = 'active'",
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(active, 6);
}
