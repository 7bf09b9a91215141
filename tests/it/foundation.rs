//! The base every route stands on: landing page, URL rules, HTTP hygiene.

use crate::support::html::document_text;
use crate::support::spawn_app;

#[tokio::test]
async fn landing_shows_the_plans_and_follows_site_name() {
    let app = spawn_app(&[("CHATHUB_ADDON_SITE_NAME", "Acme客服")]).await;
    let r = app.get("/addons/chathub/index/landing").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let body = r.text().await.unwrap();
    let doc = scraper::Html::parse_document(&body);
    let title = doc
        .select(&scraper::Selector::parse("title").unwrap())
        .next()
        .unwrap()
        .inner_html();
    assert_eq!(title, "Acme客服 - AI 智能客服多租户平台");
    let text = document_text(&body);
    assert!(
        text.contains("© 2026 Acme客服. Powered by Chatwoot + QwenPaw"),
        "{text}"
    );
    assert!(!text.contains("ChatHub"));
    for plan in ["基础版", "专业版", "企业版", "¥50", "¥60", "¥70"] {
        assert!(text.contains(plan), "{plan}");
    }
    assert!(body.contains("href=\"/addons/chathub/index/registerpage?plan=enterprise\""));
    assert!(!body.contains("cdn.jsdelivr.net"), "no external CDN");
}

#[tokio::test]
async fn url_rules_reach_the_same_action() {
    let app = spawn_app(&[]).await;
    for path in [
        "/addons/chathub/index/landing",
        "/addons/chathub/index/LANDING",
        "/addons/chathub/index/landing.html",
        "/addons/chathub/index/landing/",
        "/addons/chathub/Index/landing",
        "/addons/chathub/index/landing/extra/param",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert!(r.text().await.unwrap().contains("AI 智能客服"), "{path}");
    }
}

#[tokio::test]
async fn unknown_paths_get_fastadmins_404_and_unknown_actions_its_login_jump() {
    let app = spawn_app(&[]).await;
    let r = app.get("/addons/chathub/nosuch/landing").await;
    assert_eq!(r.status(), 404);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("你所浏览的页面暂时无法访问")
    );
    let r = app.get("/addons/chathub/index/nosuchaction").await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.contains("请登录后再操作"));
    assert!(body.contains("/index/login/url/%2Faddons%2Fchathub%2Findex%2Fnosuchaction.html"));
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let app = spawn_app(&[]).await;
    let r = app
        .client
        .head(app.url("/addons/chathub/index/landing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    assert!(r.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let app = spawn_app(&[("CHATHUB_MAX_BODY_BYTES", "1024")]).await;
    let r = app
        .client
        .post(app.url("/addons/chathub/index/landing"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().contains("请求过大"));
}

#[tokio::test]
async fn forwarded_headers_count_only_from_trusted_proxies() {
    let app = spawn_app(&[]).await;
    let r = app
        .client
        .get(app.url("/addons/chathub/index/landing"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn probes_and_prometheus_metrics() {
    let app = spawn_app(&[]).await;
    assert_eq!(app.get("/healthz").await.text().await.unwrap(), "ok");
    assert_eq!(app.get("/readyz").await.text().await.unwrap(), "ready");
    app.get("/addons/chathub/index/landing").await;
    app.get("/addons/chathub/index/landing").await;
    app.get("/addons/chathub/nosuch/x").await;
    let mut conn = app.db.conn().await;
    mysql_async::prelude::Queryable::query_drop(
        &mut conn,
        "INSERT INTO fa_chathub_tenant (tenant_name, domain, email, status, config) \
         VALUES ('Q', 'q', 'q@example.com', 'provisioning', '{}')",
    )
    .await
    .unwrap();
    mysql_async::prelude::Queryable::query_drop(
        &mut conn,
        "INSERT INTO fa_chathub_log (tenant_id, action, detail, status, operator, createtime) \
         VALUES (0, 'pay_notify_alipay', 'x', 'failed', 'system', 1)",
    )
    .await
    .unwrap();
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains("chathub_requests_total{route=\"landing\",status=\"200\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("chathub_requests_total{route=\"not_found\",status=\"404\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("chathub_request_duration_seconds_count "),
        "{text}"
    );
    assert!(text.contains("chathub_provisioning_queue 1"), "{text}");
    assert!(
        text.contains("chathub_webhook_notifications{method=\"alipay\",status=\"failed\"} 1"),
        "{text}"
    );
}
