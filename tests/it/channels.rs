//! Channel credentials (channelList, channelAuth, channelCallback) and reprovision, as a
//! member and as an attacker sees them. Expected texts and Locations come from the
//! recordings of the original (golden `member/035`–`063`, `public/018`).

use std::time::{Duration, Instant};

use crate::support::html::{select, title_and_body_text};
use crate::support::{PROVISION_KEY, TestApp, location, tenant_status};
use base64::Engine as _;
use chathub::clients::crypto::GatewayKey;
use chathub::domain::channel::AccountChannel;
use chathub::domain::php::Params;
use chathub::services::channels::Credentials;
use chathub::services::sessions::SessionData;
use chathub_tools::provision_stub::{ProvisionStub, StubMode};
use mysql_async::prelude::*;

const BASE: &str = "/addons/chathub/index";
const ALICE: u32 = 2;
const BOB: u32 = 3;
const CAROL: u32 = 4;

/// The recorded fixture members (salted md5 passwords, as on a stock FastAdmin schema).
const USERS: &str = "INSERT INTO fa_user (id, username, nickname, password, salt, email, status, jointime, createtime, updatetime) VALUES
(2, 'alice@example.com', 'Alice Trading Co', 'a6f5e1b0c8d4a3b2c1d0e9f8a7b6c5d4', 'legacy1', 'alice@example.com', 'normal', 1779000000, 1779000000, 1779000000),
(3, 'bob@example.com', 'Bob', 'b6f5e1b0c8d4a3b2c1d0e9f8a7b6c5d4', 'legacy2', 'bob@example.com', 'normal', 1779000000, 1779000000, 1779000000),
(4, 'carol@example.com', 'Carol', 'c6f5e1b0c8d4a3b2c1d0e9f8a7b6c5d4', 'legacy3', 'carol@example.com', 'normal', 1779000000, 1779000000, 1779000000)";

/// The recorded fixture tenants the channel pages touch (alice 11/13/14/17, bob 21/22), with
/// expiry dates moved out of the system clock's reach (expired tenants cannot be reprovisioned).
const TENANTS_SQL: &str = "INSERT INTO fa_chathub_tenant (id, user_id, tenant_name, domain, email, max_agents, channel_type, status, config, embed_code, expire_at, createtime, updatetime) VALUES
(11, 2, 'Alice Shop', 'alice-shop', 'alice@example.com', 2, 'web_widget', 'active', '{\"plan\":\"pro\",\"price\":60}', '<script>old</script>', '2031-12-15 12:00:00', 1779000000, 1779000000),
(13, 2, 'Alice Pending', 'alice-pending', 'alice@example.com', 1, 'web_widget', 'pending', '{\"plan\":\"basic\",\"price\":50}', NULL, '2031-12-20 12:00:00', 1779000000, 1779000000),
(14, 2, 'Alice Provisioning', 'alice-prov', 'alice@example.com', 2, 'web_widget', 'provisioning', '{\"plan\":\"pro\",\"price\":60}', NULL, '2031-11-30 12:00:00', 1779000000, 1779000000),
(17, 2, 'Alice <b>Bold</b> & \"Co\"', 'alice-bold', 'alice@example.com', 8, 'web_widget', 'active', '{\"plan\":\"<i>gold</i>\",\"price\":90}', '<script>x</script>', '2032-01-04 12:00:00', 1779000000, 1779000000),
(21, 3, 'Bob Store', 'bob-store', 'bob@example.com', 2, 'web_widget', 'active', '{\"plan\":\"pro\",\"price\":60}', '<script>b</script>', '2031-12-05 12:00:00', 1779000000, 1779000000),
(22, 3, 'Bob Pending', 'bob-pending', 'bob@example.com', 1, 'web_widget', 'pending', '{\"plan\":\"basic\",\"price\":50}', NULL, NULL, 1779000000, 1779000000)";

struct Fixture {
    app: TestApp,
    stub: ProvisionStub,
}

async fn fixture(extra_env: &[(&str, &str)]) -> Fixture {
    let stub = crate::support::start_stub(PROVISION_KEY).await;
    let url = stub.url();
    let mut env: Vec<(&str, &str)> = vec![
        ("CHATHUB_ADDON_SITE_NAME", "Acme客服"),
        ("CHATHUB_ADDON_PROVISION_SERVER_URL", url.as_str()),
        // These tests count provision calls and log rows of the request alone; the
        // background worker would pick up the fixture's `provisioning` tenant too.
        ("CHATHUB_PROVISION_WORKER", "0"),
    ];
    env.extend_from_slice(extra_env);
    let app = TestApp::init()
        .with_sql(USERS)
        .with_sql(TENANTS_SQL)
        .with_envs(&env)
        .spawn()
        .await;
    Fixture { app, stub }
}

/// A browser signed in as `uid`: its session cookie and CSRF token.
#[derive(Clone)]
struct Browser {
    cookie: String,
    csrf: String,
    client: reqwest::Client,
    base: String,
}

impl Browser {
    fn signed_in(app: &TestApp, uid: u32) -> Browser {
        let (email, password) = match uid {
            ALICE => ("alice@example.com", "a6f5e1b0c8d4a3b2c1d0e9f8a7b6c5d4"),
            BOB => ("bob@example.com", "b6f5e1b0c8d4a3b2c1d0e9f8a7b6c5d4"),
            _ => ("carol@example.com", "c6f5e1b0c8d4a3b2c1d0e9f8a7b6c5d4"),
        };
        let data = SessionData::signed_in(
            chathub::domain::ids::UserId(uid),
            email,
            "Member",
            password,
            app.app.clock.epoch(),
        );
        let header = app.app.sessions.set_cookie(&data, false);
        let cookie = header.to_str().unwrap().split(';').next().unwrap();
        // What a browser sends back, decoded (base64 has no `%`, so decoding is harmless
        // whether or not the server decodes too).
        let (name, value) = cookie.split_once('=').unwrap();
        let value = value
            .replace("%2B", "+")
            .replace("%2F", "/")
            .replace("%3D", "=");
        let cookie = format!("{name}={value}");
        Browser {
            cookie,
            csrf: data.csrf,
            client: TestApp::new_client(),
            base: app.url(""),
        }
    }

    fn anonymous(app: &TestApp) -> Browser {
        Browser {
            cookie: String::new(),
            csrf: String::new(),
            client: TestApp::new_client(),
            base: app.url(""),
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// The member center's 重新开通 form as the browser submits it.
    async fn reprovision(&self, ids: &str) -> reqwest::Response {
        self.post(
            &format!("{BASE}/reprovision"),
            &[("ids", ids), ("__token__", self.csrf.as_str())],
        )
        .await
    }

    /// The channelAuth form as the page submits it (with the hidden token).
    async fn save(&self, channel: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form = vec![("__token__", self.csrf.as_str())];
        form.extend_from_slice(fields);
        self.post(&format!("{BASE}/channelAuth?channel={channel}"), &form)
            .await
    }
}

#[derive(Debug, PartialEq)]
struct AccountRow {
    id: u32,
    tenant_id: u32,
    channel: String,
    credentials: Vec<u8>,
    status: Option<String>,
    createtime: Option<i64>,
    updatetime: Option<i64>,
}

async fn accounts(app: &TestApp) -> Vec<AccountRow> {
    let mut c = app.db.conn().await;
    type Raw = (
        u32,
        u32,
        String,
        Vec<u8>,
        Option<String>,
        Option<i64>,
        Option<i64>,
    );
    let rows: Vec<Raw> = c
        .query("SELECT id, tenant_id, channel, credentials_encrypted, status, createtime, updatetime FROM fa_chathub_channel_account ORDER BY id")
        .await
        .unwrap();
    rows.into_iter()
        .map(
            |(id, tenant_id, channel, credentials, status, createtime, updatetime)| AccountRow {
                id,
                tenant_id,
                channel,
                credentials,
                status,
                createtime,
                updatetime,
            },
        )
        .collect()
}

async fn logs(app: &TestApp) -> Vec<(u32, String, String, String, String)> {
    let mut c = app.db.conn().await;
    c.query("SELECT tenant_id, action, detail, status, operator FROM fa_chathub_log ORDER BY id")
        .await
        .unwrap()
}

// ---------------------------------------------------------------- sessions and tenants

#[tokio::test]
async fn member_pages_without_a_session_go_to_the_addon_login() {
    let f = fixture(&[]).await;
    let anon = Browser::anonymous(&f.app);
    for path in [
        "/channelList",
        "/channelAuth?channel=amazon",
        "/reprovision?ids=13",
    ] {
        let r = anon.get(&format!("{BASE}{path}")).await;
        assert_eq!(r.status(), 302, "{path}");
        assert_eq!(location(&r), "/addons/chathub/index/login", "{path}");
    }
    let r = anon
        .post(
            &format!("{BASE}/channelAuth?channel=jd"),
            &[("app_id", "x"), ("app_secret", "y")],
        )
        .await;
    assert_eq!(location(&r), "/addons/chathub/index/login");
    assert!(accounts(&f.app).await.is_empty());
    assert!(f.stub.calls().is_empty());
}

/// The channel pages check the account on every request like `my`
/// (COMPAT.md#inactive-users-refused): a locked or deleted account's session ends there too,
/// and nothing is written or provisioned for it.
#[tokio::test]
async fn locked_and_deleted_accounts_lose_the_channel_pages() {
    let f = fixture(&[]).await;
    let alice = Browser::signed_in(&f.app, ALICE);
    let bob = Browser::signed_in(&f.app, BOB);
    assert_eq!(
        alice.get(&format!("{BASE}/channelList")).await.status(),
        200
    );
    {
        let mut c = f.app.db.conn().await;
        c.query_drop("UPDATE fa_user SET status = 'hidden' WHERE id = 2")
            .await
            .unwrap();
        c.query_drop("DELETE FROM fa_user WHERE id = 3")
            .await
            .unwrap();
    }
    let r = alice.get(&format!("{BASE}/channelList")).await;
    assert_eq!(location(&r), "/addons/chathub/index/login");
    let r = alice
        .save("jd", &[("app_id", "a"), ("app_secret", "s")])
        .await;
    assert_eq!(location(&r), "/addons/chathub/index/login");
    let r = alice.reprovision("13").await;
    assert_eq!(location(&r), "/addons/chathub/index/login");
    let r = bob.get(&format!("{BASE}/channelAuth?channel=jd")).await;
    assert_eq!(
        location(&r),
        "/addons/chathub/index/login?error=%E8%B4%A6%E5%8F%B7%E4%B8%8D%E5%AD%98%E5%9C%A8"
    );
    assert!(accounts(&f.app).await.is_empty());
    assert_eq!(tenant_status(&f.app.db, 13).await, "pending");
    assert!(f.stub.calls().is_empty());
}

#[tokio::test]
async fn a_member_without_a_tenant_is_sent_to_the_member_center() {
    let f = fixture(&[]).await;
    let carol = Browser::signed_in(&f.app, CAROL);
    for path in ["/channelList", "/channelAuth?channel=amazon"] {
        let r = carol.get(&format!("{BASE}{path}")).await;
        assert_eq!(r.status(), 302);
        // Recorded: member/009, member/010.
        assert_eq!(
            location(&r),
            "/addons/chathub/index/my?error=%E8%AF%B7%E5%85%88%E5%BC%80%E9%80%9A%E7%A7%9F%E6%88%B7"
        );
    }
    let r = carol
        .save("jd", &[("app_id", "x"), ("app_secret", "y")])
        .await;
    assert_eq!(r.status(), 302);
    assert!(accounts(&f.app).await.is_empty());
}

// ---------------------------------------------------------------- channelList

#[tokio::test]
async fn channel_list_shows_the_six_channels_of_the_newest_tenant_only() {
    let f = fixture(&[]).await;
    f.app
        .db
        .run_sql(
            "INSERT INTO fa_chathub_channel_account (tenant_id, channel, credentials_encrypted, status, last_refresh_at, createtime, updatetime) VALUES
             (17, 'amazon', '{\"access_token\":\"t3\"}', 'paused', '2026-06-01 08:00:00', 1, 1),
             (17, 'jd', '{\"app_id\":\"jd-app-2\",\"app_secret\":\"jd-secret-2\"}', 'active', NULL, 1, 1),
             (11, 'taobao', '{\"app_id\":\"old\"}', 'active', NULL, 1, 1),
             (21, 'pdd', '{\"app_id\":\"bob\"}', 'active', NULL, 1, 1)",
        )
        .await;
    let alice = Browser::signed_in(&f.app, ALICE);
    let r = alice.get(&format!("{BASE}/channelList")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let body = r.text().await.unwrap();
    let doc = scraper::Html::parse_document(&body);
    assert_eq!(select(&doc, "title")[0].inner_html(), "渠道管理 - Acme客服");
    let rows: Vec<String> = select(&doc, "tbody tr")
        .into_iter()
        .map(|tr| tr.text().collect::<Vec<_>>().join("|"))
        .collect();
    // Recorded: member/048 (amazon paused with a refresh time, jd active, the rest unbound).
    assert_eq!(
        rows,
        vec![
            "web_widget|未配置|-|去绑定",
            "amazon|已停用|2026-06-01 08:00:00|管理",
            "jd|已绑定|-|管理",
            "taobao|未配置|-|去绑定",
            "pdd|未配置|-|去绑定",
            "tiktok|未配置|-|去绑定",
        ]
    );
    let links: Vec<String> = select(&doc, "tbody a")
        .into_iter()
        .map(|a| a.value().attr("href").unwrap().to_string())
        .collect();
    for (link, ch) in links
        .iter()
        .zip(["web_widget", "amazon", "jd", "taobao", "pdd", "tiktok"])
    {
        assert_eq!(
            link,
            &format!("/addons/chathub/index/channelAuth?channel={ch}")
        );
    }
    let text = title_and_body_text(&body);
    assert!(
        text.starts_with("渠道管理 - Acme客服 渠道管理 管理您已开通的客服渠道凭证。"),
        "{text}"
    );
    assert!(text.ends_with("← 返回会员中心"));
    assert!(
        !body.contains("jd-secret-2"),
        "credentials never reach the page"
    );
    assert!(!body.contains("cdn.jsdelivr.net"));
}

#[tokio::test]
async fn the_list_shows_only_known_error_notices() {
    let f = fixture(&[]).await;
    let alice = Browser::signed_in(&f.app, ALICE);
    let r = alice
        .get(&format!("{BASE}/channelAuth?channel=bogus"))
        .await;
    // Recorded: member/039.
    assert_eq!(
        location(&r),
        "/addons/chathub/index/channelList?error=%E4%B8%8D%E6%94%AF%E6%8C%81%E7%9A%84%E6%B8%A0%E9%81%93"
    );
    let body = alice.get(&location(&r)).await.text().await.unwrap();
    assert!(title_and_body_text(&body).contains("不支持的渠道"));
    let body = alice
        .get(&format!(
            "{BASE}/channelList?error=%E8%AF%B7%E8%81%94%E7%B3%BB%20evil"
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !title_and_body_text(&body).contains("evil"),
        "foreign text is not shown"
    );
}

// ---------------------------------------------------------------- channelAuth GET

#[tokio::test]
async fn channel_auth_shows_the_amazon_form_by_default() {
    let f = fixture(&[]).await;
    let alice = Browser::signed_in(&f.app, ALICE);
    for path in ["/channelAuth", "/channelAuth?channel=amazon"] {
        let r = alice.get(&format!("{BASE}{path}")).await;
        assert_eq!(r.status(), 200);
        let body = r.text().await.unwrap();
        let doc = scraper::Html::parse_document(&body);
        assert_eq!(select(&doc, "title")[0].inner_html(), "绑定渠道 - Acme客服");
        assert_eq!(select(&doc, "h1")[0].inner_html(), "绑定 amazon");
        let form = select(&doc, "form")[0];
        assert_eq!(form.value().attr("method"), Some("post"));
        assert_eq!(
            form.value().attr("action"),
            Some("/addons/chathub/index/channelAuth?channel=amazon")
        );
        let names: Vec<&str> = select(&doc, "form input, form select")
            .into_iter()
            .map(|e| e.value().attr("name").unwrap())
            .collect();
        assert_eq!(
            names,
            ["__token__", "access_token", "partner_tag", "marketplace"]
        );
        let token = select(&doc, "input[name=__token__]")[0];
        assert_eq!(token.value().attr("type"), Some("hidden"));
        assert_eq!(token.value().attr("value"), Some(alice.csrf.as_str()));
        let options: Vec<(String, String)> = select(&doc, "option")
            .into_iter()
            .map(|o| (o.value().attr("value").unwrap().to_string(), o.inner_html()))
            .collect();
        assert_eq!(options.len(), 13);
        assert_eq!(options[0], ("us".into(), "US (amazon.com)".into()));
        assert_eq!(options[12], ("sg".into(), "SG (amazon.sg)".into()));
        let text = title_and_body_text(&body);
        // Recorded: member/036, member/037.
        assert!(text.contains("Access Token (LWA 登录后获取)"));
        assert!(text.contains("Partner Tag (Associates 标签, 形如 mytag-20)"));
        assert!(text.contains("保存 取消"));
        assert!(
            text.ends_with("Marketplace 决定商品数据所在站点。"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn channel_auth_shows_the_app_form_for_other_channels() {
    let f = fixture(&[]).await;
    let alice = Browser::signed_in(&f.app, ALICE);
    for ch in ["jd", "taobao", "pdd", "tiktok"] {
        let body = alice
            .get(&format!("{BASE}/channelAuth?channel={ch}"))
            .await
            .text()
            .await
            .unwrap();
        let doc = scraper::Html::parse_document(&body);
        assert_eq!(select(&doc, "h1")[0].inner_html(), format!("绑定 {ch}"));
        let fields: Vec<(String, Option<String>)> = select(&doc, "form input")
            .into_iter()
            .map(|e| {
                (
                    e.value().attr("name").unwrap().to_string(),
                    e.value().attr("type").map(str::to_string),
                )
            })
            .collect();
        assert_eq!(
            fields,
            vec![
                ("__token__".into(), Some("hidden".into())),
                ("app_id".into(), None),
                ("app_secret".into(), Some("password".into())),
                ("refresh_token".into(), None),
            ]
        );
        let text = title_and_body_text(&body);
        assert!(
            text.contains("App ID App Secret Refresh Token (可选) 保存 取消"),
            "{text}"
        );
        assert!(text.contains("Worker 通过 GATEWAY_AES_KEY 解密后调用对应平台 API。"));
    }
}

#[tokio::test]
async fn unknown_or_empty_channels_are_refused() {
    let f = fixture(&[]).await;
    let alice = Browser::signed_in(&f.app, ALICE);
    for q in ["bogus", "", "JD", "web_widget%00", "%3Cscript%3E"] {
        let r = alice.get(&format!("{BASE}/channelAuth?channel={q}")).await;
        assert_eq!(r.status(), 302, "{q}");
        assert!(
            location(&r).starts_with("/addons/chathub/index/channelList?error="),
            "{q}"
        );
        let r = alice
            .post(
                &format!("{BASE}/channelAuth?channel={q}"),
                &[
                    ("__token__", alice.csrf.as_str()),
                    ("app_id", "a"),
                    ("app_secret", "b"),
                ],
            )
            .await;
        assert_eq!(r.status(), 302, "{q}");
    }
    assert!(accounts(&f.app).await.is_empty());
}

#[tokio::test]
async fn web_widget_explains_that_it_needs_no_credentials_and_stores_nothing() {
    let f = fixture(&[]).await;
    let alice = Browser::signed_in(&f.app, ALICE);
    let r = alice
        .get(&format!("{BASE}/channelAuth?channel=web_widget"))
        .await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    let text = title_and_body_text(&body);
    assert!(text.contains("绑定 web_widget"));
    assert!(text.contains("无需绑定凭证"));
    assert!(body.contains("href=\"/addons/chathub/index/my\""));
    // The original answered this POST with a 500 (member/046).
    let r = alice
        .save("web_widget", &[("app_id", "w"), ("app_secret", "s")])
        .await;
    assert_eq!(r.status(), 302);
    assert_eq!(
        location(&r),
        "/addons/chathub/index/channelAuth?channel=web_widget"
    );
    assert!(accounts(&f.app).await.is_empty());
}

// ---------------------------------------------------------------- channelAuth POST

#[tokio::test]
async fn saving_credentials_inserts_one_row_and_then_updates_it() {
    let f = fixture(&[]).await;
    let alice = Browser::signed_in(&f.app, ALICE);
    let before = f.app.app.clock.epoch();
    // Recorded: member/041.
    let r = alice
        .save(
            "amazon",
            &[
                ("access_token", " Atza|tok-abc "),
                ("partner_tag", "mytag-20"),
                ("marketplace", "jp"),
            ],
        )
        .await;
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), "/addons/chathub/index/channelList");
    let after = f.app.app.clock.epoch();
    let rows = accounts(&f.app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].id, rows[0].tenant_id, rows[0].channel.as_str()),
        (1, 17, "amazon")
    );
    assert_eq!(
        String::from_utf8(rows[0].credentials.clone()).unwrap(),
        r#"{"access_token":"Atza|tok-abc","partner_tag":"mytag-20","marketplace":"jp"}"#
    );
    assert_eq!(rows[0].status.as_deref(), Some("active"));
    let created = rows[0].createtime.unwrap();
    assert!((before..=after).contains(&created));
    assert_eq!(rows[0].updatetime, Some(created));

    // Recorded: member/042 (unknown marketplace → us, same row updated, createtime kept).
    f.app
        .db
        .run_sql("UPDATE fa_chathub_channel_account SET status = 'paused', createtime = 5, updatetime = 5")
        .await;
    let r = alice
        .save(
            "amazon",
            &[
                ("access_token", "tok-2"),
                ("partner_tag", "tag-2"),
                ("marketplace", "zz"),
            ],
        )
        .await;
    assert_eq!(location(&r), "/addons/chathub/index/channelList");
    let rows = accounts(&f.app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        String::from_utf8(rows[0].credentials.clone()).unwrap(),
        r#"{"access_token":"tok-2","partner_tag":"tag-2","marketplace":"us"}"#
    );
    assert_eq!(rows[0].status.as_deref(), Some("active"));
    assert_eq!(rows[0].createtime, Some(5));
    assert!(rows[0].updatetime.unwrap() >= before);

    // Recorded: member/044, member/045.
    alice
        .save(
            "jd",
            &[
                ("app_id", "jd-app-1"),
                ("app_secret", "jd-secret-1"),
                ("refresh_token", ""),
            ],
        )
        .await;
    alice
        .save(
            "jd",
            &[
                ("app_id", "jd-app-2"),
                ("app_secret", "jd-secret-2"),
                ("refresh_token", "rt-2"),
            ],
        )
        .await;
    let rows = accounts(&f.app).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[1].id, rows[1].tenant_id, rows[1].channel.as_str()),
        (2, 17, "jd")
    );
    assert_eq!(
        String::from_utf8(rows[1].credentials.clone()).unwrap(),
        r#"{"app_id":"jd-app-2","app_secret":"jd-secret-2","refresh_token":"rt-2"}"#
    );

    // The list now shows both as bound; no page echoes the secret.
    let list = alice
        .get(&format!("{BASE}/channelList"))
        .await
        .text()
        .await
        .unwrap();
    assert!(title_and_body_text(&list).contains("jd 已绑定 - 管理"));
    let manage = alice
        .get(&format!("{BASE}/channelAuth?channel=jd"))
        .await
        .text()
        .await
        .unwrap();
    for body in [&list, &manage] {
        assert!(!body.contains("jd-secret-2") && !body.contains("rt-2") && !body.contains("tok-2"));
    }
}

#[tokio::test]
async fn missing_fields_redirect_with_the_originals_message_and_write_nothing() {
    let f = fixture(&[]).await;
    let alice = Browser::signed_in(&f.app, ALICE);
    // Recorded: member/040.
    let r = alice.save("amazon", &[("access_token", "tok-abc")]).await;
    assert_eq!(r.status(), 302);
    assert_eq!(
        location(&r),
        "/addons/chathub/index/channelAuth?channel=amazon&error=Access+Token+%E5%92%8C+Partner+Tag+%E5%BF%85%E5%A1%AB"
    );
    let r = alice
        .save("taobao", &[("app_id", "x"), ("app_secret", "  ")])
        .await;
    assert_eq!(
        location(&r),
        "/addons/chathub/index/channelAuth?channel=taobao&error=App+ID+%E5%92%8C+App+Secret+%E5%BF%85%E5%A1%AB"
    );
    // The member sees why on the form they are sent back to.
    let body = alice.get(&location(&r)).await.text().await.unwrap();
    assert!(title_and_body_text(&body).contains("绑定 taobao App ID 和 App Secret 必填"));
    assert!(accounts(&f.app).await.is_empty());
}

#[tokio::test]
async fn the_channel_is_taken_from_the_query_only() {
    let f = fixture(&[]).await;
    let alice = Browser::signed_in(&f.app, ALICE);
    // Recorded: member/047 (body channel=jd is ignored; the default amazon is saved).
    let r = alice
        .post(
            &format!("{BASE}/channelAuth"),
            &[
                ("__token__", alice.csrf.as_str()),
                ("channel", "jd"),
                ("access_token", "t3"),
                ("partner_tag", "p3"),
            ],
        )
        .await;
    assert_eq!(location(&r), "/addons/chathub/index/channelList");
    let rows = accounts(&f.app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].channel, "amazon");
    assert_eq!(
        String::from_utf8(rows[0].credentials.clone()).unwrap(),
        r#"{"access_token":"t3","partner_tag":"p3","marketplace":"us"}"#
    );
}

#[tokio::test]
async fn forged_credential_posts_change_nothing() {
    let f = fixture(&[]).await;
    let alice = Browser::signed_in(&f.app, ALICE);
    let bob = Browser::signed_in(&f.app, BOB);
    let fields = [("app_id", "evil"), ("app_secret", "attacker-secret")];
    // No token (a cross-site form), a wrong one, and another member's.
    let no_token = alice
        .post(&format!("{BASE}/channelAuth?channel=jd"), &fields)
        .await;
    let wrong = alice
        .post(
            &format!("{BASE}/channelAuth?channel=jd"),
            &[
                ("__token__", "0000"),
                ("app_id", "evil"),
                ("app_secret", "s"),
            ],
        )
        .await;
    let bobs = alice
        .post(
            &format!("{BASE}/channelAuth?channel=jd"),
            &[
                ("__token__", bob.csrf.as_str()),
                ("app_id", "evil"),
                ("app_secret", "s"),
            ],
        )
        .await;
    for r in [&no_token, &wrong, &bobs] {
        assert_eq!(r.status(), 302);
        assert_eq!(
            location(r),
            "/addons/chathub/index/channelAuth?channel=jd&error=%E9%A1%B5%E9%9D%A2%E5%B7%B2%E8%BF%87%E6%9C%9F%EF%BC%8C%E8%AF%B7%E9%87%8D%E6%96%B0%E6%8F%90%E4%BA%A4"
        );
    }
    assert!(accounts(&f.app).await.is_empty());
    let body = alice.get(&location(&no_token)).await.text().await.unwrap();
    assert!(title_and_body_text(&body).contains("页面已过期，请重新提交"));
}

#[tokio::test]
async fn credentials_land_on_the_members_newest_tenant_only() {
    let f = fixture(&[]).await;
    let alice = Browser::signed_in(&f.app, ALICE);
    let bob = Browser::signed_in(&f.app, BOB);
    alice
        .save("pdd", &[("app_id", "alice-app"), ("app_secret", "a")])
        .await;
    bob.save("pdd", &[("app_id", "bob-app"), ("app_secret", "b")])
        .await;
    let rows = accounts(&f.app).await;
    let owners: Vec<(u32, &str)> = rows
        .iter()
        .map(|r| (r.tenant_id, r.channel.as_str()))
        .collect();
    assert_eq!(owners, vec![(17, "pdd"), (22, "pdd")]);
    // Bob's list shows his binding, not Alice's and vice versa.
    let list = bob
        .get(&format!("{BASE}/channelList"))
        .await
        .text()
        .await
        .unwrap();
    assert!(title_and_body_text(&list).contains("pdd 已绑定"));
    f.app
        .db
        .run_sql("DELETE FROM fa_chathub_channel_account WHERE tenant_id = 22")
        .await;
    let list = bob
        .get(&format!("{BASE}/channelList"))
        .await
        .text()
        .await
        .unwrap();
    assert!(title_and_body_text(&list).contains("pdd 未配置"));
}

#[tokio::test]
async fn concurrent_first_saves_leave_one_row() {
    let f = fixture(&[]).await;
    let alice = Browser::signed_in(&f.app, ALICE);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let alice = alice.clone();
        tasks.push(tokio::spawn(async move {
            let secret = format!("secret-{i}");
            alice
                .save(
                    "tiktok",
                    &[("app_id", "tt"), ("app_secret", secret.as_str())],
                )
                .await
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 302);
    }
    let rows = accounts(&f.app).await;
    assert_eq!(rows.len(), 1, "exactly one row for (tenant, channel)");
}

#[tokio::test]
async fn oversized_credentials_get_a_clear_error_not_a_500() {
    let f = fixture(&[]).await;
    let alice = Browser::signed_in(&f.app, ALICE);
    let huge = "x".repeat(3000);
    let r = alice
        .save("jd", &[("app_id", "a"), ("app_secret", huge.as_str())])
        .await;
    assert_eq!(r.status(), 302);
    assert!(location(&r).starts_with("/addons/chathub/index/channelAuth?channel=jd&error="));
    let body = alice.get(&location(&r)).await.text().await.unwrap();
    assert!(title_and_body_text(&body).contains("凭证内容过长，请检查后重新填写"));
    assert!(accounts(&f.app).await.is_empty());
    // Multi-byte text counts in bytes, as the column does.
    let wide = "凭".repeat(700);
    let r = alice
        .save("jd", &[("app_id", "a"), ("app_secret", wide.as_str())])
        .await;
    assert!(location(&r).contains("&error="));
    assert!(accounts(&f.app).await.is_empty());
    // Broken UTF-8 in the form: a clear 400, not a 500.
    let r = f
        .app
        .client
        .post(f.app.url(&format!("{BASE}/channelAuth?channel=jd")))
        .header("cookie", &alice.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "__token__={}&app_id=%FF%FE&app_secret=x",
            alice.csrf
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(accounts(&f.app).await.is_empty());
}

// ---------------------------------------------------------------- encryption for the gateway

#[derive(serde::Deserialize)]
struct Vectors {
    vectors: Vec<Vector>,
}

#[derive(serde::Deserialize)]
struct Vector {
    name: String,
    key_base64: String,
    nonce_hex: String,
    plaintext: String,
    blob_hex: String,
}

fn vectors() -> Vec<Vector> {
    let v: Vectors =
        serde_json::from_str(include_str!("../fixtures/gateway_vectors.json")).unwrap();
    v.vectors
}

#[test]
fn python_cryptography_vectors_open_and_reseal_to_the_same_bytes() {
    let all = vectors();
    assert!(all.len() >= 4);
    for v in all {
        let key = GatewayKey::from_bytes(
            &base64::engine::general_purpose::STANDARD
                .decode(&v.key_base64)
                .unwrap(),
        )
        .unwrap();
        let blob = hex::decode(&v.blob_hex).unwrap();
        let opened = key.open(&blob).unwrap();
        assert_eq!(
            String::from_utf8(opened).unwrap(),
            v.plaintext,
            "{}",
            v.name
        );
        let nonce: [u8; 12] = hex::decode(&v.nonce_hex).unwrap().try_into().unwrap();
        assert_eq!(
            key.seal_with_nonce(&nonce, v.plaintext.as_bytes()),
            blob,
            "{}",
            v.name
        );
        // A flipped bit anywhere is refused.
        let mut bad = blob.clone();
        bad[13] ^= 0x80;
        assert!(key.open(&bad).is_err(), "{}", v.name);
    }
}

#[test]
fn the_vector_plaintexts_are_what_the_forms_produce() {
    let form = |pairs: &[(&str, &str)]| {
        Params(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    };
    let produced = [
        Credentials::from_form(
            AccountChannel::Amazon,
            &form(&[
                ("access_token", " Atza|tok-abc "),
                ("partner_tag", "mytag-20"),
                ("marketplace", "jp"),
            ]),
        ),
        Credentials::from_form(
            AccountChannel::Jd,
            &form(&[
                ("app_id", "jd-app-2"),
                ("app_secret", "jd-secret-2"),
                ("refresh_token", "rt-2"),
            ]),
        ),
        Credentials::from_form(
            AccountChannel::Taobao,
            &form(&[("app_id", "淘宝应用"), ("app_secret", "s/e\"c<&>")]),
        ),
    ];
    for (c, v) in produced.iter().zip(vectors()) {
        assert_eq!(c.as_ref().unwrap().to_json(), v.plaintext, "{}", v.name);
    }
}

#[tokio::test]
async fn with_a_gateway_key_credentials_are_sealed_for_the_gateway() {
    let raw_key = [0x42u8; 32];
    let b64 = base64::engine::general_purpose::STANDARD.encode(raw_key);
    let f = fixture(&[("CHATHUB_GATEWAY_AES_KEY", b64.as_str())]).await;
    let alice = Browser::signed_in(&f.app, ALICE);
    let r = alice
        .save(
            "jd",
            &[
                ("app_id", "jd-app-2"),
                ("app_secret", "jd-secret-2"),
                ("refresh_token", "rt-2"),
            ],
        )
        .await;
    assert_eq!(location(&r), "/addons/chathub/index/channelList");
    let rows = accounts(&f.app).await;
    assert_eq!(rows.len(), 1);
    let blob = &rows[0].credentials;
    let plain = r#"{"app_id":"jd-app-2","app_secret":"jd-secret-2","refresh_token":"rt-2"}"#;
    assert_eq!(
        blob.len(),
        12 + plain.len() + 16,
        "nonce || ciphertext || tag, raw bytes"
    );
    assert!(
        std::str::from_utf8(blob).is_err(),
        "the gateway treats UTF-8 column values as plain JSON"
    );
    assert!(!blob.windows(11).any(|w| w == b"jd-secret-2"));
    let key = GatewayKey::from_bytes(&raw_key).unwrap();
    assert_eq!(key.open(blob).unwrap(), plain.as_bytes());

    // The limit accounts for the 28 bytes sealing adds.
    let fixed = r#"{"app_id":"a","app_secret":"","refresh_token":""}"#.len();
    let just_fits = "s".repeat(2048 - 28 - fixed);
    let r = alice
        .save(
            "pdd",
            &[("app_id", "a"), ("app_secret", just_fits.as_str())],
        )
        .await;
    assert_eq!(location(&r), "/addons/chathub/index/channelList");
    let too_long = "s".repeat(2048 - 28 - fixed + 1);
    let r = alice
        .save(
            "tiktok",
            &[("app_id", "a"), ("app_secret", too_long.as_str())],
        )
        .await;
    assert!(location(&r).contains("&error="));
    let rows = accounts(&f.app).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].credentials.len(), 2048);
}

// ---------------------------------------------------------------- channelCallback

#[tokio::test]
async fn channel_callback_answers_the_originals_text_to_anyone() {
    let f = fixture(&[]).await;
    for browser in [
        Browser::anonymous(&f.app),
        Browser::signed_in(&f.app, ALICE),
    ] {
        let r = browser
            .get(&format!("{BASE}/channelCallback?code=x&state=y"))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
        // Recorded: member/051.
        assert_eq!(
            r.text().await.unwrap(),
            "未启用 OAuth 回调。请使用 /addons/chathub/index/channelAuth 表单直接绑定 App Secret。"
        );
    }
}

// ---------------------------------------------------------------- reprovision

#[tokio::test]
async fn reprovision_refuses_missing_and_foreign_tenants() {
    let f = fixture(&[]).await;
    let alice = Browser::signed_in(&f.app, ALICE);
    let t = alice.csrf.clone();
    for path in [
        "/reprovision".to_string(),
        "/reprovision?ids=".to_string(),
        "/reprovision?ids=0".to_string(),
        format!("/reprovision?token={t}"),
    ] {
        let r = alice.get(&format!("{BASE}{path}")).await;
        // Recorded: member/052.
        assert_eq!(
            location(&r),
            "/addons/chathub/index/my?error=%E7%BC%BA%E5%B0%91%E7%A7%9F%E6%88%B7+ID",
            "{path}"
        );
    }
    for path in [
        "/reprovision?ids=22".to_string(),
        format!("/reprovision?ids=22&token={t}"),
        format!("/reprovision?ids=21&token={t}"),
        format!("/reprovision?ids=999&token={t}"),
        format!("/reprovision?ids=13abc&token={t}"),
        format!("/reprovision?ids=-13&token={t}"),
    ] {
        let r = alice.get(&format!("{BASE}{path}")).await;
        // Recorded: member/053.
        assert_eq!(
            location(&r),
            "/addons/chathub/index/my?error=%E7%A7%9F%E6%88%B7%E4%B8%8D%E5%AD%98%E5%9C%A8%E6%88%96%E6%97%A0%E6%9D%83%E6%93%8D%E4%BD%9C",
            "{path}"
        );
    }
    assert!(f.stub.calls().is_empty());
    assert_eq!(tenant_status(&f.app.db, 22).await, "pending");
    assert_eq!(tenant_status(&f.app.db, 21).await, "active");
    assert!(logs(&f.app).await.is_empty());
}

#[tokio::test]
async fn reprovision_without_a_post_of_the_sessions_token_does_nothing() {
    let f = fixture(&[]).await;
    let alice = Browser::signed_in(&f.app, ALICE);
    let bob = Browser::signed_in(&f.app, BOB);
    let expect_confirmation = |body: String| {
        let doc = scraper::Html::parse_document(&body);
        let text = title_and_body_text(&body);
        assert!(text.contains("确认重新开通资源"));
        assert!(text.contains("Alice Pending"));
        // One click submits the member center's form.
        let form = select(&doc, "form")[0];
        assert_eq!(form.value().attr("method"), Some("post"));
        assert_eq!(
            form.value().attr("action"),
            Some("/addons/chathub/index/reprovision")
        );
        let hidden: Vec<(String, String)> = select(&doc, "form input[type=hidden]")
            .into_iter()
            .map(|e| {
                (
                    e.value().attr("name").unwrap().to_string(),
                    e.value().attr("value").unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            hidden,
            vec![
                ("ids".to_string(), "13".to_string()),
                ("__token__".to_string(), alice.csrf.clone())
            ]
        );
    };
    // Links, including one carrying the right token: a GET never acts.
    for path in [
        "/reprovision?ids=13".to_string(),
        "/reprovision?ids=13&token=".to_string(),
        format!("/reprovision?ids=13&token={}", bob.csrf),
        format!("/reprovision?ids=13&token={}", alice.csrf),
        format!("/reprovision?ids=13&__token__={}", alice.csrf),
    ] {
        let r = alice.get(&format!("{BASE}{path}")).await;
        assert_eq!(r.status(), 403, "{path}");
        expect_confirmation(r.text().await.unwrap());
    }
    // Forged or token-less POSTs are refused the same way.
    let bob_token = bob.csrf.clone();
    let alice_token = alice.csrf.clone();
    for form in [
        vec![("ids", "13")],
        vec![("ids", "13"), ("__token__", bob_token.as_str())],
        vec![("ids", "13"), ("__token__", "")],
    ] {
        let r = alice.post(&format!("{BASE}/reprovision"), &form).await;
        assert_eq!(r.status(), 403, "{form:?}");
        expect_confirmation(r.text().await.unwrap());
    }
    // The token in the URL of a POST does not count either.
    let r = alice
        .post(
            &format!("{BASE}/reprovision?__token__={alice_token}"),
            &[("ids", "13")],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(f.stub.calls().is_empty());
    assert_eq!(tenant_status(&f.app.db, 13).await, "pending");
    assert!(logs(&f.app).await.is_empty());
}

#[tokio::test]
async fn the_member_center_offers_reprovision_as_a_form_with_no_token_in_any_url() {
    let f = fixture(&[]).await;
    let alice = Browser::signed_in(&f.app, ALICE);
    let body = alice.get(&format!("{BASE}/my")).await.text().await.unwrap();
    let doc = scraper::Html::parse_document(&body);
    for a in select(&doc, "a[href]") {
        let href = a.value().attr("href").unwrap();
        assert!(
            !href.contains(&alice.csrf) && !href.contains("token"),
            "{href}"
        );
    }
    // One form per tenant without resources (13 and 14), each with the session's token.
    let forms: Vec<_> = select(&doc, "form[action='/addons/chathub/index/reprovision']");
    assert_eq!(forms.len(), 2, "{body}");
    let ids: Vec<&str> = select(
        &doc,
        "form[action='/addons/chathub/index/reprovision'] input[name=ids]",
    )
    .into_iter()
    .map(|e| e.value().attr("value").unwrap())
    .collect();
    assert_eq!(ids, ["14", "13"]);
    for form in &forms {
        assert_eq!(form.value().attr("method"), Some("post"));
    }
    let tokens: Vec<&str> = select(
        &doc,
        "form[action='/addons/chathub/index/reprovision'] input[name=__token__]",
    )
    .into_iter()
    .map(|e| e.value().attr("value").unwrap())
    .collect();
    assert_eq!(tokens, [alice.csrf.as_str(), alice.csrf.as_str()]);
    let buttons = select(
        &doc,
        "form[action='/addons/chathub/index/reprovision'] button[type=submit]",
    );
    assert_eq!(buttons[0].text().collect::<String>(), "重新开通");
    assert_eq!(
        buttons[0].value().attr("data-confirm"),
        Some("确认重新开通资源？")
    );
    // Submitting it does what the original's link did.
    let r = alice.reprovision("13").await;
    assert_eq!(location(&r), "/addons/chathub/index/my?just_paid=1");
    assert_eq!(tenant_status(&f.app.db, 13).await, "active");
}

#[tokio::test]
async fn the_confirmation_page_escapes_the_tenant_name() {
    let f = fixture(&[]).await;
    let alice = Browser::signed_in(&f.app, ALICE);
    let body = alice
        .get(&format!("{BASE}/reprovision?ids=17"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!body.contains("<b>Bold</b>"));
    assert!(title_and_body_text(&body).contains(r#"Alice <b>Bold</b> & "Co""#));
}

#[tokio::test]
async fn reprovision_with_the_token_provisions_the_tenant() {
    let f = fixture(&[]).await;
    let alice = Browser::signed_in(&f.app, ALICE);
    let r = alice.reprovision("13").await;
    // Recorded: member/054.
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), "/addons/chathub/index/my?just_paid=1");
    let calls = f.stub.take_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].path, "/provision");
    assert_eq!(
        calls[0].header("Idempotency-Key"),
        Some("reprov-13-a148c55c31978ea0cfc489e9a1d71c74")
    );
    assert_eq!(
        calls[0].body,
        r#"{"name":"Alice Pending","domain":"alice-pending","email":"alice@example.com","type":"web_widget","max_agents":1}"#
    );
    let mut c = f.app.db.conn().await;
    let row: (String, Option<i64>, Option<String>, Option<i64>, i64) = c
        .query_first("SELECT status, inbox_id, agent_cw_password, team_id, updatetime FROM fa_chathub_tenant WHERE id = 13")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row,
        (
            "active".into(),
            Some(101),
            Some("Cw9fa2c9345bbd!".into()),
            Some(201),
            1779000000
        )
    );
    assert_eq!(
        logs(&f.app).await,
        vec![(
            13,
            "reprovision".into(),
            "补建资源成功 (inbox_id=101)".into(),
            "success".into(),
            "system".into()
        )]
    );

    // Recorded: member/055 — the same key again returns the cached resources; `ids` in the
    // path form.
    let r = alice
        .post(
            &format!("{BASE}/reprovision/ids/13"),
            &[("__token__", alice.csrf.as_str())],
        )
        .await;
    assert_eq!(location(&r), "/addons/chathub/index/my?just_paid=1");
    assert_eq!(
        f.stub.take_calls()[0].header("Idempotency-Key"),
        Some("reprov-13-a148c55c31978ea0cfc489e9a1d71c74")
    );
    assert_eq!(logs(&f.app).await.len(), 2);

    // Recorded: member/060 — ids in a POST body.
    let r = alice.reprovision("14").await;
    assert_eq!(location(&r), "/addons/chathub/index/my?just_paid=1");
    assert_eq!(tenant_status(&f.app.db, 14).await, "active");
}

#[tokio::test]
async fn suspended_disabled_and_expired_tenants_are_refused_with_a_clear_message() {
    let f = fixture(&[]).await;
    f.app
        .db
        .run_sql(
            "INSERT INTO fa_chathub_tenant (id, user_id, tenant_name, domain, email, max_agents, channel_type, status, config, embed_code, expire_at, createtime, updatetime) VALUES
(31, 2, 'Alice Suspended', 'alice-susp', 'alice@example.com', 1, 'web_widget', 'suspended', '{}', NULL, '2031-01-01 12:00:00', 1779000000, 1779000000),
(32, 2, 'Alice Disabled', 'alice-dis', 'alice@example.com', 1, 'web_widget', 'disabled', '{}', NULL, '2031-01-01 12:00:00', 1779000000, 1779000000),
(33, 2, 'Alice Lapsed', 'alice-lapsed', 'alice@example.com', 1, 'web_widget', 'pending', '{}', NULL, '2020-01-01 12:00:00', 1779000000, 1779000000),
(34, 2, 'Alice Lapsed Active', 'alice-lapsed2', 'alice@example.com', 1, 'web_widget', 'active', '{}', '<script>e</script>', '2020-01-01 12:00:00', 1779000000, 1779000000)",
        )
        .await;
    let alice = Browser::signed_in(&f.app, ALICE);
    for (id, status, message) in [
        (
            "31",
            "suspended",
            "该租户已被暂停，无法重新开通，请联系客服",
        ),
        ("32", "disabled", "该租户已停用，无法重新开通，请联系客服"),
        ("33", "pending", "该租户已过期，请先续费"),
        ("34", "active", "该租户已过期，请先续费"),
    ] {
        let expected = format!(
            "/addons/chathub/index/my?error={}",
            chathub::domain::php::php_urlencode(message)
        );
        let r = alice.reprovision(id).await;
        assert_eq!(location(&r), expected, "tenant {id}");
        // A link is refused the same way (no confirmation offered for it).
        let r = alice.get(&format!("{BASE}/reprovision?ids={id}")).await;
        assert_eq!(location(&r), expected, "tenant {id}");
        assert_eq!(tenant_status(&f.app.db, id.parse().unwrap()).await, status);
        // The member center shows the message.
        let page = alice.get(&expected).await.text().await.unwrap();
        assert!(title_and_body_text(&page).contains(message));
    }
    assert!(f.stub.calls().is_empty());
    assert!(logs(&f.app).await.is_empty());
}

#[tokio::test]
async fn a_failed_reprovision_leaves_the_tenant_provisioning() {
    let f = fixture(&[]).await;
    let alice = Browser::signed_in(&f.app, ALICE);
    // Recorded: member/058 (connection refused). First, while no kept-alive connection to
    // the stub exists: its `down` mode closes only the listening socket.
    f.stub.set_mode(StubMode::Down).await;
    let r = alice.reprovision("13").await;
    assert_eq!(location(&r), "/addons/chathub/index/my?provisioning=1");
    assert_eq!(tenant_status(&f.app.db, 13).await, "provisioning");
    let l = logs(&f.app).await;
    assert_eq!((l[0].0, l[0].3.as_str()), (13, "failed"));
    assert!(l[0].2.starts_with("重试 provision 失败: "), "{:?}", l[0]);
    // Recorded: member/056 (HTTP 500); an active tenant is re-provisioned too (member/059).
    f.stub.set_mode(StubMode::Http500).await;
    let r = alice.reprovision("11").await;
    assert_eq!(location(&r), "/addons/chathub/index/my?provisioning=1");
    assert_eq!(tenant_status(&f.app.db, 11).await, "provisioning");
    assert_eq!(
        logs(&f.app).await[1],
        (
            11,
            "reprovision".into(),
            "重试 provision 失败: HTTP 500".into(),
            "failed".into(),
            "system".into()
        )
    );
    // Recorded: member/057 (not JSON).
    f.stub.set_mode(StubMode::BadJson).await;
    let r = alice.reprovision("14").await;
    assert_eq!(location(&r), "/addons/chathub/index/my?provisioning=1");
    let l = logs(&f.app).await;
    assert!(l[2].2.starts_with("响应无效: <html>"), "{:?}", l[2]);
    assert_eq!(tenant_status(&f.app.db, 14).await, "provisioning");
    // The server answered 11's call with a failure (which it caches under the key), so the
    // next try asks with a new key; 13's call was never answered, so it keeps its key.
    f.stub.set_mode(StubMode::Ok).await;
    f.stub.take_calls();
    assert_eq!(
        location(&alice.reprovision("11").await),
        "/addons/chathub/index/my?just_paid=1"
    );
    assert_eq!(
        location(&alice.reprovision("13").await),
        "/addons/chathub/index/my?just_paid=1"
    );
    let keys: Vec<String> = f
        .stub
        .take_calls()
        .iter()
        .map(|c| c.header("idempotency-key").unwrap().to_string())
        .collect();
    assert!(keys[0].starts_with("reprov-11-"));
    assert_ne!(keys[0], "reprov-11-9cc04b1647b44ee4a73adf787b8cf1cd");
    assert_eq!(keys[1], "reprov-13-a148c55c31978ea0cfc489e9a1d71c74");
}

#[tokio::test]
async fn a_hanging_provision_server_holds_the_request_only_for_the_configured_bound() {
    let f = fixture(&[("CHATHUB_PROVISION_CALL_TIMEOUT_SECS", "3")]).await;
    let alice = Browser::signed_in(&f.app, ALICE);
    f.stub.set_hang_for(Duration::from_secs(90));
    f.stub.set_mode(StubMode::Hang).await;
    let started = Instant::now();
    let r = alice.reprovision("13").await;
    let took = started.elapsed();
    assert_eq!(location(&r), "/addons/chathub/index/my?provisioning=1");
    assert!(took < Duration::from_secs(15), "answered after {took:?}");
    assert!(
        took >= Duration::from_millis(2500),
        "answered after {took:?}"
    );
    assert_eq!(tenant_status(&f.app.db, 13).await, "provisioning");
    assert_eq!(logs(&f.app).await[0].3, "failed");
}

#[tokio::test]
async fn a_json_body_is_read_like_a_form() {
    let f = fixture(&[]).await;
    let alice = Browser::signed_in(&f.app, ALICE);
    let body = serde_json::json!({
        "__token__": alice.csrf,
        "app_id": "json-app",
        "app_secret": "json-secret",
    });
    let r = alice
        .client
        .post(f.app.url(&format!("{BASE}/channelAuth?channel=pdd")))
        .header("cookie", &alice.cookie)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/addons/chathub/index/channelList");
    let rows = accounts(&f.app).await;
    assert_eq!(
        String::from_utf8(rows[0].credentials.clone()).unwrap(),
        r#"{"app_id":"json-app","app_secret":"json-secret","refresh_token":""}"#
    );
    // Malformed JSON: nothing to read, the required-field message, no write.
    let r = alice
        .client
        .post(f.app.url(&format!("{BASE}/channelAuth?channel=jd")))
        .header("cookie", &alice.cookie)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(accounts(&f.app).await.len(), 1);
}
