//! The member center and the password change, as a signed-in member sees them.

use crate::support::html::*;
use crate::support::member::*;
use crate::support::{TestApp, location};
use mysql_async::prelude::*;

const CHANGE: &str = "/addons/chathub/index/changePassword";

async fn signed_in_as(email: &str, password: &str) -> TestApp {
    let app = spawn_seeded(&[]).await;
    assert_eq!(location(&login(&app, email, password).await), MY);
    app
}

async fn my_page(app: &TestApp, path: &str) -> String {
    let r = app.get(path).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(
        r.headers()["cache-control"],
        "no-store, no-cache, must-revalidate"
    );
    r.text().await.unwrap()
}

/// The CSRF token the page put into its forms.
fn token_in(body: &str) -> String {
    attr_all(body, "input[name=csrf_token]", "value")
        .pop()
        .or_else(|| attr_all(body, "input[name=__token__]", "value").pop())
        .expect("a token on the page")
}

#[tokio::test]
async fn member_pages_without_a_session_send_to_the_addons_login() {
    let app = spawn_seeded(&[]).await;
    for path in [MY, "/addons/chathub/index/my?just_paid=1", CHANGE] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 302, "{path}");
        assert_eq!(location(&r), LOGIN, "{path}");
        assert_eq!(r.headers()["content-type"], "text/html; charset=UTF-8");
    }
    let r = app.post_form(CHANGE, &[("old_password", "x")]).await;
    assert_eq!(location(&r), LOGIN);
}

#[tokio::test]
async fn the_member_center_shows_every_status_and_the_figures() {
    let app = signed_in_as("alice@example.com", "alice-pass-1").await;
    let body = my_page(&app, MY).await;
    assert_eq!(
        select_all(&body, "title"),
        vec!["<title>会员中心 - ChatHub</title>"]
    );
    let text = page_text(&body);
    assert!(
        text.starts_with(
            "💬 ChatHub 👤 Alice Trading Co 我的 改密 退出 欢迎回来，Alice Trading Co \
             管理您的 AI 客服订阅、查看嵌入代码、续费套餐 7 租户总数 3 运行中 16 总席位数 ¥410 月费合计 \
             我的租户 租户 状态 套餐 到期 操作"
        ),
        "{text}"
    );
    // Rows newest first, exactly as the recording (member/013) reads.
    let rows: Vec<String> = select_all(&body, "tbody tr")
        .iter()
        .map(|r| page_text(&format!("<body><table>{r}</table></body>")))
        .collect();
    assert_eq!(
        rows,
        vec![
            "Alice <b>Bold</b> & \"Co\" alice-bold 运行中 <i>gold</i> ¥90/月 · 8席 2027-01-04 剩 40 天 嵌入代码",
            "Alice Disabled alice-dis 已停用 基础版 ¥50/月 · 1席 - 剩 0 天 重新开通 嵌入代码 续费",
            "Alice Suspended alice-susp 已暂停 基础版 ¥50/月 · 1席 2026-11-23 剩 0 天 嵌入代码 续费",
            "Alice Provisioning alice-prov 开通中 专业版 ¥60/月 · 2席 2026-11-30 剩 5 天 重新开通 嵌入代码 续费",
            "Alice Pending alice-pending 待开通 基础版 ¥50/月 · 1席 2026-12-20 剩 25 天 重新开通 嵌入代码",
            "Alice Outlet alice-outlet 运行中 基础版 ¥50/月 · 1席 2026-11-28 剩 3 天 嵌入代码 续费",
            "Alice Shop alice-shop 运行中 专业版 ¥60/月 · 2席 2026-12-15 剩 20 天 嵌入代码",
        ]
    );
    // Hostile names and plans are text, never markup (bug 23).
    assert!(select_all(&body, "tbody b, tbody i").is_empty());
    assert!(!body.contains("<i>gold</i>"));
    // Nobody else's tenants.
    assert!(!body.contains("Bob Store") && !body.contains("reprovision?ids=21"));

    // Reprovision (a POST form with the session's CSRF token, COMPAT.md#reprovision-link-token)
    // only without embed code, renew links under 7 days left.
    let token = token_in(&body);
    assert_eq!(token.len(), 32);
    let hrefs = attr_all(&body, "tbody a", "href");
    assert_eq!(
        hrefs,
        vec![
            "/addons/chathub/index/renew?id=16".to_string(),
            "/addons/chathub/index/renew?id=15".to_string(),
            "/addons/chathub/index/renew?id=14".to_string(),
            "/addons/chathub/index/renew?id=12".to_string(),
        ]
    );
    assert_eq!(
        attr_all(&body, "tbody form[method=post] input[name=ids]", "value"),
        vec!["16", "14", "13"]
    );
    assert_eq!(
        attr_all(&body, "tbody form input[name=__token__]", "value"),
        vec![token.clone(); 3]
    );
    assert_eq!(
        attr_all(&body, "form button[data-confirm]", "data-confirm"),
        vec!["确认重新开通资源？"; 3]
    );
    // Embed codes travel in data attributes, verbatim; empty ones say so.
    let embeds = attr_all(&body, "button[data-embed]", "data-embed");
    assert_eq!(embeds.len(), 7);
    assert_eq!(embeds[0], embed("WT_t17"));
    assert_eq!(embeds[1], "暂未生成");
    assert_eq!(embeds[6], embed("WT_t11"));
    // The channel card and the dialog.
    assert!(text.contains(
        "渠道管理 为您的客服租户绑定 Amazon / JD / Taobao / PDD / TikTok 等外部平台凭证。"
    ));
    assert!(
        text.ends_with("前往渠道管理 → × 嵌入代码 复制以下代码到您的网站 </body> 之前："),
        "{text}"
    );
    assert!(
        attr_all(&body, "a", "href").contains(&"/addons/chathub/index/channelList".to_string())
    );
    assert_eq!(select_all(&body, "script").len(), 1, "one constant script");
    assert!(!body.contains("cdn.jsdelivr.net") && !body.contains("onclick"));
}

#[tokio::test]
async fn a_member_without_tenants_sees_the_empty_state() {
    let app = signed_in_as("carol@example.com", "carol-pass-3").await;
    let body = my_page(&app, MY).await;
    let text = page_text(&body);
    assert!(text.contains("欢迎回来，Carol Studio"));
    assert!(
        text.contains("0 租户总数 0 运行中 0 总席位数 ¥0 月费合计"),
        "{text}"
    );
    assert!(
        text.contains("操作 还没有租户， 立即注册 渠道管理"),
        "{text}"
    );
    assert!(attr_all(&body, "tbody a", "href") == vec!["/addons/chathub/index/registerpage"]);
}

#[tokio::test]
async fn the_greeting_falls_back_to_username_then_email_and_is_escaped() {
    let app = signed_in_as("carol@example.com", "carol-pass-3").await;
    let mut c = app.db.conn().await;
    c.query_drop("UPDATE fa_user SET nickname = '' WHERE id = 4")
        .await
        .unwrap();
    assert!(page_text(&my_page(&app, MY).await).contains("欢迎回来，carol@example.com"));
    c.query_drop("UPDATE fa_user SET nickname = '<script>alert(1)</script>' WHERE id = 4")
        .await
        .unwrap();
    let body = my_page(&app, MY).await;
    assert!(page_text(&body).contains("👤 <script>alert(1)</script>"));
    assert_eq!(select_all(&body, "script").len(), 1);
}

#[tokio::test]
async fn flash_messages_follow_the_originals_precedence_and_are_escaped() {
    let app = signed_in_as("alice@example.com", "alice-pass-1").await;
    let flash = |body: &str| {
        select_all(body, ".flash")
            .iter()
            .map(|f| page_text(&format!("<body>{f}</body>")))
            .collect::<Vec<_>>()
    };
    let cases = [
        (
            "/addons/chathub/index/my?just_paid=1",
            "🎉 付款成功！您的 AI 客服已激活。如未显示嵌入代码，请点下方\"嵌入代码\"按钮获取。",
        ),
        (
            "/addons/chathub/index/my?provisioning=1&order=CH123",
            "⚡ 正在为您开通资源（订单 CH123），通常 30 秒内完成，请稍后刷新页面。如长时间未完成，可点\"重新开通\"按钮。",
        ),
        (
            "/addons/chathub/index/my?pending=1&order=CH%3Cb%3E9%3C%2Fb%3E",
            "⏳ 付款确认中（订单 CH<b>9</b>），请稍候 30 秒后刷新页面。",
        ),
        (
            "/addons/chathub/index/my?error=%3Cb%3Ex%3C%2Fb%3E",
            "⚠️ <b>x</b>",
        ),
        (
            "/addons/chathub/index/my?provisioning=1",
            "⚡ 正在为您开通资源（订单 ），通常 30 秒内完成，请稍后刷新页面。如长时间未完成，可点\"重新开通\"按钮。",
        ),
        // just_paid wins over everything, provisioning over pending, pending over error.
        (
            "/addons/chathub/index/my?error=x&pending=1&just_paid=1",
            "🎉 付款成功！您的 AI 客服已激活。如未显示嵌入代码，请点下方\"嵌入代码\"按钮获取。",
        ),
        (
            "/addons/chathub/index/my?error=x&pending=1&order=A",
            "⏳ 付款确认中（订单 A），请稍候 30 秒后刷新页面。",
        ),
        // ThinkPHP param(): PATHINFO pairs count too.
        (
            "/addons/chathub/index/my/error/%E7%A7%9F%E6%88%B7%E4%B8%8D%E5%AD%98%E5%9C%A8",
            "⚠️ 租户不存在",
        ),
    ];
    for (path, want) in cases {
        let body = my_page(&app, path).await;
        assert_eq!(flash(&body), vec![want.to_string()], "{path}");
        assert!(select_all(&body, ".flash b").is_empty(), "{path}");
    }
    for path in [
        MY,
        "/addons/chathub/index/my?just_paid=0&error=",
        "/addons/chathub/index/my?error=0",
    ] {
        assert!(flash(&my_page(&app, path).await).is_empty(), "{path}");
    }
    // A POST body is read too (member/018-style POST flash).
    let r = app.post_form(MY, &[("error", "来自表单")]).await;
    assert_eq!(
        flash(&r.text().await.unwrap()),
        vec!["⚠️ 来自表单".to_string()]
    );
}

#[tokio::test]
async fn tenant_configs_are_read_in_both_encodings_and_odd_values_do_not_break_the_page() {
    let db = crate::support::TestDb::with_schema().await;
    seed_users(&db).await;
    let base = &TENANTS[0];
    let make = |id, name| TenantFixture {
        id,
        name,
        ..TenantFixture { ..*base }
    };
    // The original register's double-encoded config.
    insert_tenant(
        &db,
        &make(40, "Double"),
        r#""{\"plan\":\"enterprise\",\"price\":90}""#,
        None,
    )
    .await;
    insert_tenant(&db, &make(41, "Garbage"), "not json", Some("")).await;
    insert_tenant(&db, &make(42, "NoPlan"), r#"{"price":"12abc"}"#, None).await;
    let app = crate::support::spawn_app_on(db, &[], Some(recorded_clock())).await;
    login(&app, "alice@example.com", "alice-pass-1").await;
    let body = my_page(&app, MY).await;
    let rows: Vec<String> = select_all(&body, "tbody tr")
        .iter()
        .map(|r| page_text(&format!("<body><table>{r}</table></body>")))
        .collect();
    assert_eq!(
        rows[0],
        "NoPlan alice-shop 运行中 - ¥12abc/月 · 2席 2026-12-15 剩 20 天 重新开通 嵌入代码"
    );
    assert_eq!(
        rows[1],
        "Garbage alice-shop 运行中 - ¥0/月 · 2席 2026-12-15 剩 20 天 重新开通 嵌入代码"
    );
    assert_eq!(
        rows[2],
        "Double alice-shop 运行中 企业版 ¥90/月 · 2席 2026-12-15 剩 20 天 重新开通 嵌入代码"
    );
    // Monthly total casts like PHP's (int): 12 + 0 + 90.
    assert!(page_text(&body).contains("¥102 月费合计"));
}

#[tokio::test]
async fn embed_codes_cannot_break_out_of_the_page() {
    let db = crate::support::TestDb::with_schema().await;
    seed_users(&db).await;
    let hostile =
        "</script><script>alert(1)</script>' onclick=\"alert(2)\" \n<img src=x onerror=alert(3)>";
    insert_tenant(
        &db,
        &TENANTS[0],
        r#"{"plan":"pro","price":60}"#,
        Some(hostile),
    )
    .await;
    let app = crate::support::spawn_app_on(db, &[], Some(recorded_clock())).await;
    login(&app, "alice@example.com", "alice-pass-1").await;
    let body = my_page(&app, MY).await;
    assert_eq!(
        attr_all(&body, "button[data-embed]", "data-embed"),
        vec![hostile.to_string()]
    );
    assert_eq!(select_all(&body, "script").len(), 1);
    assert!(select_all(&body, "img").is_empty());
    assert!(attr_all(&body, "[onclick]", "onclick").is_empty());
}

#[tokio::test]
async fn a_deleted_account_ends_its_session() {
    let app = signed_in_as("dave@example.com", "dave-pass-4").await;
    {
        let mut c = app.db.conn().await;
        c.query_drop("DELETE FROM fa_user WHERE id = 5")
            .await
            .unwrap();
    }
    let r = app.get(MY).await;
    assert_eq!(r.status(), 302);
    assert_eq!(
        location(&r),
        "/addons/chathub/index/login?error=%E8%B4%A6%E5%8F%B7%E4%B8%8D%E5%AD%98%E5%9C%A8"
    );
    assert!(session_cookie(&r).unwrap().contains("Max-Age=0"));
    let r = app.get(MY).await;
    assert_eq!(location(&r), LOGIN);
    // The login page shows the reason.
    let body = app
        .get("/addons/chathub/index/login?error=%E8%B4%A6%E5%8F%B7%E4%B8%8D%E5%AD%98%E5%9C%A8")
        .await
        .text()
        .await
        .unwrap();
    assert!(page_text(&body).contains("账号不存在"));
}

#[tokio::test]
async fn a_locked_account_loses_its_session() {
    let app = signed_in_as("bob@example.com", "bob-pass-2").await;
    {
        let mut c = app.db.conn().await;
        c.query_drop("UPDATE fa_user SET status = 'hidden' WHERE id = 3")
            .await
            .unwrap();
    }
    let r = app.get(MY).await;
    assert_eq!(location(&r), LOGIN);
    assert!(session_cookie(&r).unwrap().contains("Max-Age=0"));
}

#[tokio::test]
async fn change_password_form_has_the_originals_fields_and_a_token() {
    let app = signed_in_as("alice@example.com", "alice-pass-1").await;
    let r = app.get(CHANGE).await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert_eq!(
        select_all(&body, "title"),
        vec!["<title>修改密码 - ChatHub</title>"]
    );
    assert_eq!(
        page_text(&body),
        "💬 ChatHub 我的 退出 修改密码 原密码 新密码（至少 6 位） 确认新密码 提交"
    );
    assert_eq!(
        attr_all(&body, "form input", "name"),
        vec![
            "csrf_token",
            "old_password",
            "new_password",
            "confirm_password"
        ]
    );
    assert_eq!(attr_all(&body, "form", "method"), vec!["POST"]);
    let my_body = my_page(&app, MY).await;
    assert_eq!(token_in(&body), token_in(&my_body), "one token per session");
}

async fn post_change(app: &TestApp, token: &str, old: &str, new: &str, confirm: &str) -> String {
    let r = app
        .post_form(
            CHANGE,
            &[
                ("csrf_token", token),
                ("old_password", old),
                ("new_password", new),
                ("confirm_password", confirm),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    select_all(&body, ".alert")
        .iter()
        .map(|a| page_text(&format!("<body>{a}</body>")))
        .collect::<Vec<_>>()
        .join("|")
}

#[tokio::test]
async fn change_password_refusals_use_the_originals_messages() {
    let app = signed_in_as("alice@example.com", "alice-pass-1").await;
    let token = token_in(&app.get(CHANGE).await.text().await.unwrap());
    assert_eq!(
        post_change(&app, &token, "", "", "").await,
        "请填写所有字段"
    );
    assert_eq!(
        post_change(&app, &token, "alice-pass-1", "abcdef1", "abcdef2").await,
        "两次输入的新密码不一致"
    );
    assert_eq!(
        post_change(&app, &token, "alice-pass-1", "abc", "abc").await,
        "新密码至少 6 位"
    );
    // Six bytes is enough, as PHP's strlen counts: two CJK characters.
    assert_eq!(
        post_change(&app, &token, "nope", "密码", "密码").await,
        "原密码错误"
    );
    assert_eq!(
        post_change(&app, &token, "nope", "newpass-123", "newpass-123").await,
        "原密码错误"
    );
    let row = user_row(&app.db, 2).await.unwrap();
    assert_eq!(row.get::<String, _>("password").unwrap(), ALICE_HASH);
}

#[tokio::test]
async fn change_password_without_the_token_changes_nothing() {
    let app = spawn_seeded(&[]).await;
    widen_password_column(&app.db).await;
    login(&app, "alice@example.com", "alice-pass-1").await;
    let r = app
        .post_form(
            CHANGE,
            &[
                ("old_password", "alice-pass-1"),
                ("new_password", "evil-pass-1"),
                ("confirm_password", "evil-pass-1"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(page_text(&r.text().await.unwrap()).contains("页面已过期，请刷新后重试"));
    for bad in ["", "00000000000000000000000000000000", "x"] {
        assert_eq!(
            post_change(&app, bad, "alice-pass-1", "evil-pass-1", "evil-pass-1").await,
            "页面已过期，请刷新后重试"
        );
    }
    let row = user_row(&app.db, 2).await.unwrap();
    assert_eq!(row.get::<String, _>("password").unwrap(), ALICE_HASH);
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session() {
    let app = spawn_seeded(&[]).await;
    widen_password_column(&app.db).await;
    // Another browser signed in as alice before the change.
    let other = TestApp::new_client();
    let r = other
        .post(app.url("/addons/chathub/index/doLogin"))
        .form(&[("email", "alice@example.com"), ("password", "alice-pass-1")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), MY);
    login(&app, "alice@example.com", "alice-pass-1").await;
    let token = token_in(&app.get(CHANGE).await.text().await.unwrap());

    let before = app.app.clock.epoch();
    let r = app
        .post_form(
            CHANGE,
            &[
                ("csrf_token", token.as_str()),
                ("old_password", "alice-pass-1"),
                ("new_password", "alice-new-22"),
                ("confirm_password", "alice-new-22"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(session_cookie(&r).is_some(), "this session is re-issued");
    let body = r.text().await.unwrap();
    assert!(page_text(&body).contains("修改密码 密码修改成功 原密码"));

    // Stored as PHP-compatible bcrypt, salt cleared, updatetime now (widened-schema/018).
    let row = user_row(&app.db, 2).await.unwrap();
    let hash: String = row.get("password").unwrap();
    assert!(hash.starts_with("$2y$10$") && hash.len() == 60, "{hash}");
    assert_eq!(row.get::<String, _>("salt").unwrap(), "");
    let updated: i64 = row.get::<Option<i64>, _>("updatetime").unwrap().unwrap();
    assert!((updated - before).abs() <= 2);

    // This browser stays signed in; the other one is out.
    assert_eq!(app.get(MY).await.status(), 200);
    let r = other.get(app.url(MY)).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), location(&r)),
        (302, LOGIN.to_string())
    );

    // The old password no longer works, the new one does (widened-schema/019).
    let fresh = TestApp::new_client();
    let attempt = |pw: &'static str| {
        fresh
            .post(app.url("/addons/chathub/index/doLogin"))
            .form(&[("email", "alice@example.com"), ("password", pw)])
            .send()
    };
    assert_ne!(location(&attempt("alice-pass-1").await.unwrap()), MY);
    assert_eq!(location(&attempt("alice-new-22").await.unwrap()), MY);
}

#[tokio::test]
async fn on_an_unmigrated_schema_the_change_is_refused_clearly() {
    let app = signed_in_as("alice@example.com", "alice-pass-1").await;
    let token = token_in(&app.get(CHANGE).await.text().await.unwrap());
    let msg = post_change(&app, &token, "alice-pass-1", "newpass-123", "newpass-123").await;
    assert!(msg.starts_with("暂时无法修改密码"), "{msg}");
    let row = user_row(&app.db, 2).await.unwrap();
    assert_eq!(row.get::<String, _>("password").unwrap(), ALICE_HASH);
    assert_eq!(row.get::<String, _>("salt").unwrap(), "legacy1");
    // Still signed in, old password still valid.
    assert_eq!(app.get(MY).await.status(), 200);
}

#[tokio::test]
async fn hostile_change_password_input_never_breaks_the_server() {
    let app = signed_in_as("alice@example.com", "alice-pass-1").await;
    for (ct, body) in [
        (
            "application/x-www-form-urlencoded",
            b"old_password=%FF&new_password=%FE".to_vec(),
        ),
        ("application/json", b"[1]".to_vec()),
        (
            "application/json",
            b"{\"old_password\": {\"x\": 1}}".to_vec(),
        ),
        ("multipart/form-data; boundary=x", b"--x--".to_vec()),
    ] {
        let r = app
            .client
            .post(app.url(CHANGE))
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{ct}");
        assert!(
            page_text(&r.text().await.unwrap()).contains("页面已过期，请刷新后重试"),
            "{ct}"
        );
    }
}

#[tokio::test]
async fn two_simultaneous_changes_with_the_same_old_password_succeed_once() {
    let app = spawn_seeded(&[]).await;
    widen_password_column(&app.db).await;
    login(&app, "alice@example.com", "alice-pass-1").await;
    let token = token_in(&app.get(CHANGE).await.text().await.unwrap());
    // The loser either lost the conditional update (原密码错误) or, if it arrived after the
    // winner committed, found its session ended (302 login). Never two changes.
    let attempt = |new: &'static str| {
        let (app, token) = (&app, token.clone());
        async move {
            let r = app
                .post_form(
                    CHANGE,
                    &[
                        ("csrf_token", token.as_str()),
                        ("old_password", "alice-pass-1"),
                        ("new_password", new),
                        ("confirm_password", new),
                    ],
                )
                .await;
            if r.status() == 302 {
                return format!("redirect {}", location(&r));
            }
            let body = r.text().await.unwrap();
            select_all(&body, ".alert")
                .iter()
                .map(|a| page_text(&format!("<body>{a}</body>")))
                .collect::<Vec<_>>()
                .join("|")
        }
    };
    let (a, b) = tokio::join!(attempt("first-pass-1"), attempt("second-pass-2"));
    let won: Vec<&String> = [&a, &b]
        .into_iter()
        .filter(|o| *o == "密码修改成功")
        .collect();
    assert_eq!(won.len(), 1, "{a} / {b}");
    let loser = if a == "密码修改成功" { &b } else { &a };
    assert!(
        loser == "原密码错误" || loser == &format!("redirect {LOGIN}"),
        "{loser}"
    );
}

/// Issue 14 #4: every member page has the one guard, so a locked account is refused on each
/// (renew used to have its own guard that skipped the account's status).
#[tokio::test]
async fn a_locked_member_is_refused_on_every_member_page() {
    let app = signed_in_as("alice@example.com", "alice-pass-1").await;
    // The browser's cookie, replayed on each page (each refusal also deletes it).
    let r = app.get(MY).await;
    assert_eq!(r.status(), 200);
    let cookie = {
        let probe = TestApp::new_client();
        let r = probe
            .post(app.url("/addons/chathub/index/doLogin"))
            .form(&[("email", "alice@example.com"), ("password", "alice-pass-1")])
            .send()
            .await
            .unwrap();
        session_cookie(&r)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string()
    };
    let pages = [
        "/addons/chathub/index/renew?id=11",
        "/addons/chathub/index/channelList",
        "/addons/chathub/index/channelAuth?channel=amazon",
        "/addons/chathub/index/reprovision?ids=11",
        CHANGE,
        MY,
    ];
    let plain = TestApp::new_client();
    for path in pages {
        let r = plain
            .get(app.url(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_ne!(location(&r), LOGIN, "signed in: {path}");
        assert!(r.status().as_u16() < 500, "signed in: {path}");
    }
    let orders = || async {
        let mut c = app.db.conn().await;
        let n: i64 = c
            .query_first("SELECT COUNT(*) FROM fa_chathub_order WHERE user_id = 2")
            .await
            .unwrap()
            .unwrap();
        n
    };
    let orders_before = orders().await;
    {
        let mut c = app.db.conn().await;
        c.query_drop("UPDATE fa_user SET status = 'hidden' WHERE id = 2")
            .await
            .unwrap();
    }
    for path in pages {
        let r = plain
            .get(app.url(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(
            (r.status().as_u16(), location(&r)),
            (302, LOGIN.to_string()),
            "{path}"
        );
        assert!(
            session_cookie(&r).is_some_and(|c| c.contains("Max-Age=0")),
            "{path}: the session is ended"
        );
    }
    // No order was opened for the locked member.
    assert_eq!(orders().await, orders_before);
}
