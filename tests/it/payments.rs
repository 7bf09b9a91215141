//! Renewal and payments, end to end against the real server and MariaDB, with fake gateways
//! speaking the real wire formats.

use crate::support::pay::*;
use crate::support::{TestApp, count, location, row};

// ---------------------------------------------------------------- renew

#[tokio::test]
async fn renew_without_session_goes_to_login() {
    let app = gateway_app(&[]).await;
    let r = app.get("/addons/chathub/index/renew?id=11").await;
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), "/addons/chathub/index/login");
    assert_eq!(
        count(&app.db, "SELECT COUNT(*) FROM fa_chathub_order").await,
        6
    );
}

#[tokio::test]
async fn renew_of_someone_elses_or_unknown_tenant_is_refused() {
    let app = gateway_app(&[]).await;
    let cookie = alice_cookie(&app);
    for path in [
        "/addons/chathub/index/renew?id=21",
        "/addons/chathub/index/renew?id=999",
        "/addons/chathub/index/renew",
        "/addons/chathub/index/renew?id=abc",
    ] {
        let r = app.get_with_cookie(path, &cookie).await;
        assert_eq!(r.status(), 302, "{path}");
        assert_eq!(
            location(&r),
            "/addons/chathub/index/my?error=%E7%A7%9F%E6%88%B7%E4%B8%8D%E5%AD%98%E5%9C%A8"
        );
    }
    assert_eq!(
        count(&app.db, "SELECT COUNT(*) FROM fa_chathub_order").await,
        6
    );
}

#[tokio::test]
async fn renew_creates_one_order_and_reloading_reuses_it() {
    let app = gateway_app(&[]).await;
    let cookie = alice_cookie(&app);
    let first = app
        .get_with_cookie("/addons/chathub/index/renew?id=11", &cookie)
        .await;
    assert_eq!(first.status(), 200);
    let page = first.text().await.unwrap();
    let order_no = row(
        &app.db,
        "SELECT order_no FROM fa_chathub_order WHERE tenant_id = 11 AND id > 6",
    )
    .await[0]
        .clone();
    // COMPAT.md#random-order-numbers: `CH` + YmdHis + 16 random digits, 32 characters (WeChat
    // Pay's limit), not the original's guessable 3.
    let stamp = app.app.clock.now().format("%Y%m%d%H%M%S").to_string();
    assert_eq!(order_no.len(), 32, "{order_no}");
    assert!(order_no.starts_with("CH"), "{order_no}");
    assert!(
        order_no[2..].bytes().all(|b| b.is_ascii_digit()),
        "{order_no}"
    );
    assert!(
        (order_no[2..16]).parse::<u64>().unwrap() + 2 >= stamp.parse::<u64>().unwrap(),
        "{order_no} made at {stamp}"
    );
    assert!(page.contains("<title>续费 - ChatHub</title>"));
    assert!(page.contains(&format!("订单号：{order_no}")));
    assert!(page.contains("Alice Shop") && page.contains("专业版"));
    assert!(page.contains("2030-01-10") && page.contains("¥60 /月"));
    assert!(page.contains(&format!(
        "href=\"/addons/chathub/index/payAlipay?order={order_no}\""
    )));
    assert!(page.contains("💰 支付宝支付 ¥60") && page.contains("💚 微信支付 ¥60"));
    assert!(page.contains("← 返回会员中心"));
    let r = row(
        &app.db,
        &format!("SELECT user_id, plan, amount, status, pay_method FROM fa_chathub_order WHERE order_no = '{order_no}'"),
    )
    .await;
    assert_eq!(r, ["2", "pro", "60.00", "pending", "NULL"]);

    for _ in 0..3 {
        let again = app
            .get_with_cookie("/addons/chathub/index/renew?id=11", &cookie)
            .await;
        assert!(again.text().await.unwrap().contains(&order_no));
    }
    assert_eq!(
        count(
            &app.db,
            "SELECT COUNT(*) FROM fa_chathub_order WHERE tenant_id = 11 AND id > 6"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn renew_reads_double_encoded_config_and_never_makes_a_free_order() {
    let app = gateway_app(&[
        ("CHATHUB_ADDON_ALIPAY_ENABLED", "0".into()),
        ("CHATHUB_ADDON_WECHAT_ENABLED", "0".into()),
    ])
    .await;
    let cookie = alice_cookie(&app);
    let page = app
        .get_with_cookie("/addons/chathub/index/renew?id=16", &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("企业版") && page.contains("¥120 /月"));
    assert!(page.contains("⚠️ 支付功能未开通，请联系客服手动续费"));
    assert!(!page.contains("payAlipay"));
    assert_eq!(
        row(
            &app.db,
            "SELECT plan, amount FROM fa_chathub_order WHERE tenant_id = 16 AND id > 6"
        )
        .await,
        ["enterprise", "120.00"]
    );
    // No price at all: the page shows, no 0.00 order is made.
    let page = app
        .get_with_cookie("/addons/chathub/index/renew?id=18", &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Alice Free") && page.contains("¥0 /月"));
    assert_eq!(
        count(
            &app.db,
            "SELECT COUNT(*) FROM fa_chathub_order WHERE tenant_id = 18"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn renew_escapes_tenant_name_and_plan() {
    let app = gateway_app(&[]).await;
    let cookie = alice_cookie(&app);
    let page = app
        .get_with_cookie("/addons/chathub/index/renew?id=17", &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Alice &lt;b&gt;Bold&lt;/b&gt; &amp; &quot;Co&quot;"));
    assert!(page.contains("&lt;i&gt;gold&lt;/i&gt;"));
    assert!(!page.contains("<i>gold</i>"));
    assert!(page.contains("¥90 /月"));
}

// ---------------------------------------------------------------- payAlipay

#[tokio::test]
async fn pay_alipay_messages_match_the_original() {
    let app = gateway_app(&[]).await;
    let r = app.get("/addons/chathub/index/payAlipay?order=NOPE").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "订单不存在");
    let paid = app
        .get("/addons/chathub/index/payAlipay?order=CHTEST0003")
        .await;
    assert_eq!(paid.text().await.unwrap(), "订单已支付，无需重复支付");
    let zero = app
        .get("/addons/chathub/index/payAlipay?order=CHTEST0006")
        .await;
    assert_eq!(
        zero.text().await.unwrap(),
        "订单金额无效，请联系客服手动续费"
    );

    let off = gateway_app(&[("CHATHUB_ADDON_ALIPAY_ENABLED", "0".into())]).await;
    let r = off
        .get("/addons/chathub/index/payAlipay?order=CHTEST0001")
        .await;
    assert_eq!(r.text().await.unwrap(), "支付宝未启用");

    let unconfigured =
        gateway_app(&[("CHATHUB_ADDON_ALIPAY_MERCHANT_PRIVATE_KEY", "".into())]).await;
    let r = unconfigured
        .get("/addons/chathub/index/payAlipay?order=CHTEST0001")
        .await;
    assert_eq!(
        r.text().await.unwrap(),
        "支付宝未配置完成，请在后台「插件管理 → ChatHub → 配置」填写 APPID 和私钥"
    );
    let broken = gateway_app(&[(
        "CHATHUB_ADDON_ALIPAY_MERCHANT_PRIVATE_KEY",
        "MIIEnot-a-key".into(),
    )])
    .await;
    let r = broken
        .get("/addons/chathub/index/payAlipay?order=CHTEST0001")
        .await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("私钥格式无效") && !text.contains("MIIE"));
    assert_eq!(
        row(
            &broken.db,
            "SELECT pay_method FROM fa_chathub_order WHERE id = 1"
        )
        .await,
        ["NULL"]
    );
}

#[tokio::test]
async fn pay_alipay_redirect_is_signed_with_the_merchant_key() {
    let app = gateway_app(&[]).await;
    let r = app
        .get("/addons/chathub/index/payAlipay?order=CHTEST0001")
        .await;
    assert_eq!(r.status(), 302);
    let loc = location(&r);
    let (gateway, query) = loc.split_once('?').unwrap();
    assert_eq!(gateway, "https://openapi.alipaydev.com/gateway.do");
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    let get = |k: &str| params.iter().find(|(pk, _)| pk == k).unwrap().1.clone();
    assert_eq!(get("app_id"), ALIPAY_APP_ID);
    assert_eq!(get("method"), "alipay.trade.page.pay");
    assert_eq!(
        get("notify_url"),
        "https://hub.example.com/addons/chathub/index/payNotify/pay_method/alipay"
    );
    assert_eq!(
        get("return_url"),
        "https://hub.example.com/addons/chathub/index/payReturn/order/CHTEST0001"
    );
    let biz: serde_json::Value = serde_json::from_str(&get("biz_content")).unwrap();
    assert_eq!(biz["total_amount"], "60.00");
    assert_eq!(biz["subject"], "ChatHub 续费 - 订单 CHTEST0001");
    let key = chathub::clients::pay::parse_public_key(MERCHANT_PUBLIC).unwrap();
    let content = chathub::clients::pay::alipay::sign_content(&params);
    assert!(chathub::clients::pay::rsa_sha256_verify(
        &key,
        content.as_bytes(),
        &get("sign")
    ));
    // Anyone with the number gets the redirect, as in the original, but the order is not
    // written (COMPAT.md#random-order-numbers).
    let order = row(
        &app.db,
        "SELECT pay_method, status, updatetime IS NOT NULL FROM fa_chathub_order WHERE id = 1",
    )
    .await;
    assert_eq!(order, ["NULL", "pending", "0"]);
}

#[tokio::test]
async fn renewals_in_the_same_second_get_numbers_that_cannot_be_guessed() {
    let app = gateway_app(&[]).await;
    let cookie = alice_cookie(&app);
    for id in [11, 13, 17] {
        let r = app
            .get_with_cookie(&format!("/addons/chathub/index/renew?id={id}"), &cookie)
            .await;
        assert_eq!(r.status(), 200);
    }
    let mut conn = app.db.conn().await;
    let numbers: Vec<String> = mysql_async::prelude::Queryable::query(
        &mut conn,
        "SELECT order_no FROM fa_chathub_order WHERE id > 6 ORDER BY id",
    )
    .await
    .unwrap();
    assert_eq!(numbers.len(), 3);
    // Made within a second or two: the random part tells them apart, and it is wide enough
    // that its digits differ in more than a handful of places.
    let tails: Vec<&str> = numbers.iter().map(|n| &n[16..]).collect();
    for (i, a) in tails.iter().enumerate() {
        for b in &tails[i + 1..] {
            let differing = a.bytes().zip(b.bytes()).filter(|(x, y)| x != y).count();
            assert!(differing >= 4, "{numbers:?}");
        }
    }
    // A number one off from a real one is nobody's order.
    let real = &numbers[0];
    let last = real.as_bytes()[31];
    let guess = format!(
        "{}{}",
        &real[..31],
        if last == b'9' {
            '0'
        } else {
            (last + 1) as char
        }
    );
    let r = app
        .get(&format!("/addons/chathub/index/payAlipay?order={guess}"))
        .await;
    assert_eq!(r.text().await.unwrap(), "订单不存在");
}

#[test]
fn alipay_redirect_matches_the_recording_byte_for_byte() {
    // payments/017: same key, order, time and (recorded) domain give the same signature.
    let url =
        chathub::clients::pay::alipay::page_pay_url(&chathub::clients::pay::alipay::PagePay {
            gateway: chathub::clients::pay::alipay::SANDBOX_GATEWAY,
            app_id: ALIPAY_APP_ID,
            private_key: MERCHANT_PRIVATE,
            public_base_url: "https://hub.275763.xyz",
            order_no: "CHTEST0001",
            amount: chathub::domain::money::Money::from_cents(6000),
            timestamp: "2026-11-25 07:07:04",
            time_expire: None,
            cert_sns: None,
        })
        .unwrap();
    assert_eq!(
        url,
        include_str!("../fixtures/payalipay_sandbox_location.txt").trim_end()
    );
}

#[test]
fn merchant_keys_load_in_every_form_alipay_hands_out() {
    use rsa::pkcs1::EncodeRsaPrivateKey as _;
    use rsa::pkcs1::EncodeRsaPublicKey as _;
    use rsa::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _};
    let key = chathub::clients::pay::parse_private_key(MERCHANT_PRIVATE).unwrap();
    let pkcs1_pem = key
        .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap()
        .to_string();
    let pkcs8_pem = key
        .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap()
        .to_string();
    let bare = |pem: &str| {
        pem.lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>()
    };
    let public = chathub::clients::pay::parse_public_key(MERCHANT_PUBLIC).unwrap();
    for form in [
        pkcs1_pem.clone(),
        pkcs8_pem.clone(),
        bare(&pkcs1_pem),
        bare(&pkcs8_pem),
    ] {
        let k = chathub::clients::pay::parse_private_key(&form).unwrap();
        let sig = chathub::clients::pay::rsa_sha256_sign(&k, b"a=1&b=2");
        assert!(chathub::clients::pay::rsa_sha256_verify(
            &public, b"a=1&b=2", &sig
        ));
        assert!(!chathub::clients::pay::rsa_sha256_verify(
            &public, b"a=1&b=3", &sig
        ));
    }
    let pub_pkcs1 = public.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    let pub_spki = public
        .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap();
    for form in [
        pub_pkcs1.clone(),
        pub_spki.clone(),
        bare(&pub_pkcs1),
        bare(&pub_spki),
        MERCHANT_CERT.to_string(),
    ] {
        assert_eq!(
            chathub::clients::pay::parse_public_key(&form).unwrap(),
            public
        );
    }
    assert!(chathub::clients::pay::parse_private_key("garbage!").is_err());
    assert!(chathub::clients::pay::parse_private_key("").is_err());
    assert_eq!(
        chathub::clients::pay::wechat::cert_serial(MERCHANT_CERT).unwrap(),
        MERCHANT_CERT_SERIAL
    );
}

// ---------------------------------------------------------------- Alipay notifications

async fn tenant_row(app: &TestApp, id: u32) -> Vec<String> {
    row(
        &app.db,
        &format!("SELECT status, expire_at FROM fa_chathub_tenant WHERE id = {id}"),
    )
    .await
}

fn plus_30_days(app: &TestApp, from: &str) -> String {
    let clock = &app.app.clock;
    let base = clock
        .parse_local(from)
        .unwrap()
        .timestamp()
        .max(clock.epoch());
    clock.format_epoch(base + 30 * 86400, "%Y-%m-%d %H:%M:%S")
}

#[tokio::test]
async fn valid_alipay_notification_pays_once_and_extends_the_tenant() {
    let app = gateway_app(&[]).await;
    let form = alipay_notification("CHTEST0001", "60.00", "TRADE_SUCCESS", ALIPAY_APP_ID);
    let r = post_alipay(&app, &form).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "success");
    let order = row(&app.db, "SELECT status, pay_method, pay_trade_no, paid_at IS NOT NULL FROM fa_chathub_order WHERE id = 1").await;
    assert_eq!(order, ["paid", "alipay", "T-CHTEST0001", "1"]);
    assert_eq!(
        tenant_row(&app, 11).await,
        [
            "active".to_string(),
            plus_30_days(&app, "2030-01-10 12:00:00")
        ]
    );
    assert_eq!(
        row(
            &app.db,
            "SELECT tenant_id, detail, status, operator FROM fa_chathub_log WHERE action = 'renew'"
        )
        .await,
        [
            "11",
            "续费成功，订单 CHTEST0001，金额 ¥60.00",
            "success",
            "payment"
        ]
    );
    let log = row(&app.db, "SELECT tenant_id, status, operator, detail FROM fa_chathub_log WHERE action = 'pay_notify_alipay'").await;
    assert_eq!(log[..3], ["0", "success", "system"]);
    assert_eq!(log[3], form);

    // Alipay repeats notifications until it reads `success`: a replay changes nothing.
    let again = post_alipay(&app, &form).await;
    assert_eq!(again.text().await.unwrap(), "success");
    assert_eq!(
        count(
            &app.db,
            "SELECT COUNT(*) FROM fa_chathub_log WHERE action = 'renew'"
        )
        .await,
        1
    );
    assert_eq!(
        tenant_row(&app, 11).await[1],
        plus_30_days(&app, "2030-01-10 12:00:00")
    );
}

#[tokio::test]
async fn alipay_payment_for_tenant_without_resources_leaves_it_provisioning() {
    let app = gateway_app(&[]).await;
    let form = alipay_notification("CHTEST0002", "50.00", "TRADE_FINISHED", ALIPAY_APP_ID);
    assert_eq!(
        post_alipay(&app, &form).await.text().await.unwrap(),
        "success"
    );
    // Expired tenant: 30 days from now.
    let t = tenant_row(&app, 13).await;
    assert_eq!(t[0], "provisioning");
    assert_eq!(t[1], plus_30_days(&app, "2020-01-01 12:00:00"));
    assert_eq!(
        row(
            &app.db,
            "SELECT detail FROM fa_chathub_log WHERE action = 'renew'"
        )
        .await,
        ["续费成功，订单 CHTEST0002，金额 ¥50.00（含资源开通）"]
    );
}

async fn assert_untouched(app: &TestApp) {
    assert_eq!(
        row(
            &app.db,
            "SELECT status, pay_trade_no FROM fa_chathub_order WHERE id = 1"
        )
        .await,
        ["pending", "NULL"]
    );
    assert_eq!(tenant_row(app, 11).await, ["active", "2030-01-10 12:00:00"]);
    assert_eq!(
        count(
            &app.db,
            "SELECT COUNT(*) FROM fa_chathub_log WHERE action = 'renew'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn forged_or_mismatched_alipay_notifications_change_nothing() {
    let app = gateway_app(&[]).await;
    let good = alipay_notification("CHTEST0001", "60.00", "TRADE_SUCCESS", ALIPAY_APP_ID);
    let cases = [
        // Signed over what Alipay signs, then the amount changed.
        good.replace("total_amount=60.00", "total_amount=0.01"),
        // Validly signed, wrong amount.
        alipay_notification("CHTEST0001", "0.01", "TRADE_SUCCESS", ALIPAY_APP_ID),
        // Validly signed, another app.
        alipay_notification("CHTEST0001", "60.00", "TRADE_SUCCESS", "2021000000000000"),
        // Validly signed, unknown order.
        alipay_notification("NOPE999", "60.00", "TRADE_SUCCESS", ALIPAY_APP_ID),
        // The original's recorded unsigned shapes.
        "out_trade_no=CHTEST0001&trade_status=TRADE_SUCCESS&trade_no=T5&sign=AAAA".into(),
        "out_trade_no=CHTEST0001&sign=AAAA".into(),
        String::new(),
        "%FF%FE=%FF".into(),
    ];
    for form in &cases {
        let r = post_alipay(&app, form).await;
        assert_eq!(r.status(), 200, "{form}");
        assert_eq!(r.text().await.unwrap(), "fail", "{form}");
    }
    assert_untouched(&app).await;
    // Every notification is logged; only the authentic ones (validly signed) as success.
    assert_eq!(
        count(
            &app.db,
            "SELECT COUNT(*) FROM fa_chathub_log WHERE action = 'pay_notify_alipay'"
        )
        .await,
        cases.len() as i64
    );
    assert_eq!(
        count(&app.db, "SELECT COUNT(*) FROM fa_chathub_log WHERE action = 'pay_notify_alipay' AND status = 'success'").await,
        3
    );
    // A GET (no body) is a failure too.
    let r = app
        .get("/addons/chathub/index/payNotify/pay_method/alipay")
        .await;
    assert_eq!(r.text().await.unwrap(), "fail");
}

#[tokio::test]
async fn waiting_alipay_trade_is_acknowledged_without_paying() {
    let app = gateway_app(&[]).await;
    let form = alipay_notification("CHTEST0001", "60.00", "WAIT_BUYER_PAY", ALIPAY_APP_ID);
    assert_eq!(
        post_alipay(&app, &form).await.text().await.unwrap(),
        "success"
    );
    assert_untouched(&app).await;
}

#[tokio::test]
async fn alipay_notification_without_public_key_fails_cleanly() {
    let app = gateway_app(&[("CHATHUB_ADDON_ALIPAY_PUBLIC_KEY", "".into())]).await;
    let form = alipay_notification("CHTEST0001", "60.00", "TRADE_SUCCESS", ALIPAY_APP_ID);
    let r = post_alipay(&app, &form).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "fail");
    assert_untouched(&app).await;
    assert_eq!(
        row(
            &app.db,
            "SELECT status FROM fa_chathub_log WHERE action = 'pay_notify_alipay'"
        )
        .await,
        ["failed"]
    );
}

#[tokio::test]
async fn fifty_concurrent_duplicate_notifications_extend_once() {
    let app = gateway_app(&[]).await;
    let form = alipay_notification("CHTEST0001", "60.00", "TRADE_SUCCESS", ALIPAY_APP_ID);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let client = TestApp::new_client();
        let url = app.url("/addons/chathub/index/payNotify/pay_method/alipay");
        let form = form.clone();
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), "success");
    }
    assert_eq!(
        count(
            &app.db,
            "SELECT COUNT(*) FROM fa_chathub_log WHERE action = 'renew'"
        )
        .await,
        1
    );
    assert_eq!(
        tenant_row(&app, 11).await[1],
        plus_30_days(&app, "2030-01-10 12:00:00")
    );
    assert_eq!(
        count(
            &app.db,
            "SELECT COUNT(*) FROM fa_chathub_log WHERE action = 'pay_notify_alipay'"
        )
        .await,
        50
    );
}

// ---------------------------------------------------------------- WeChat Pay

#[tokio::test]
async fn pay_wechat_places_a_signed_native_order_and_shows_our_qr_code() {
    let fake = FakeWechatPay::start().await;
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("apiclient_key.pem");
    let cert_path = dir.path().join("apiclient_cert.pem");
    std::fs::write(&key_path, MERCHANT_PRIVATE).unwrap();
    std::fs::write(&cert_path, MERCHANT_CERT).unwrap();
    let app = gateway_app(&[
        ("CHATHUB_WECHAT_API_BASE", fake.url()),
        (
            "CHATHUB_ADDON_WECHAT_KEY_PATH",
            key_path.display().to_string(),
        ),
        (
            "CHATHUB_ADDON_WECHAT_CERT_PATH",
            cert_path.display().to_string(),
        ),
    ])
    .await;
    let r = app
        .get("/addons/chathub/index/payWechat?order=CHTEST0001")
        .await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("<title>微信支付 - ChatHub</title>"));
    assert!(page.contains("订单 CHTEST0001") && page.contains("¥60.00"));
    assert!(page.contains("<svg") && !page.contains("qrserver"));
    assert!(page.contains("使用微信扫描二维码完成支付"));
    assert!(page.contains("data-return-url=\"/addons/chathub/index/payReturn?order=CHTEST0001\""));
    let requests = fake.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&requests[0].1).unwrap();
    assert_eq!(body["amount"]["total"], 6000);
    assert_eq!(body["out_trade_no"], "CHTEST0001");
    assert_eq!(body["description"], "ChatHub 续费");
    assert_eq!(
        body["notify_url"],
        "https://hub.example.com/addons/chathub/index/payNotify/pay_method/wechat"
    );
    assert_eq!(
        row(
            &app.db,
            "SELECT pay_method, status FROM fa_chathub_order WHERE id = 1"
        )
        .await,
        ["wechat", "pending"]
    );

    // The gateway going away gives a clear page and leaves the order payable.
    let down = gateway_app(&[
        ("CHATHUB_WECHAT_API_BASE", "http://127.0.0.1:9".into()),
        (
            "CHATHUB_ADDON_WECHAT_KEY_PATH",
            key_path.display().to_string(),
        ),
        (
            "CHATHUB_ADDON_WECHAT_CERT_PATH",
            cert_path.display().to_string(),
        ),
    ])
    .await;
    let r = down
        .get("/addons/chathub/index/payWechat?order=CHTEST0001")
        .await;
    assert_eq!(r.status(), 502);
    assert!(r.text().await.unwrap().contains("微信支付下单失败"));
    // Nothing is written before WeChat Pay took the order (COMPAT.md#random-order-numbers).
    assert_eq!(
        row(
            &down.db,
            "SELECT status, pay_method, updatetime FROM fa_chathub_order WHERE id = 1"
        )
        .await,
        ["pending", "NULL", "NULL"]
    );
}

#[tokio::test]
async fn pay_wechat_messages_match_the_original() {
    let app = gateway_app(&[]).await;
    let r = app.get("/addons/chathub/index/payWechat?order=NOPE").await;
    assert_eq!(r.text().await.unwrap(), "订单不存在");
    let r = app
        .get("/addons/chathub/index/payWechat?order=CHTEST0001")
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("证书"));
    let off = gateway_app(&[("CHATHUB_ADDON_WECHAT_ENABLED", "0".into())]).await;
    let r = off
        .get("/addons/chathub/index/payWechat?order=CHTEST0001")
        .await;
    assert_eq!(r.text().await.unwrap(), "微信支付未启用");
    let unconfigured = gateway_app(&[("CHATHUB_ADDON_WECHAT_MCH_ID", "".into())]).await;
    let r = unconfigured
        .get("/addons/chathub/index/payWechat?order=CHTEST0001")
        .await;
    assert_eq!(
        r.text().await.unwrap(),
        "微信支付未配置完成，请在后台填写 APPID/商户号/APIv3密钥"
    );
}

#[tokio::test]
async fn valid_wechat_notification_pays_once() {
    let app = gateway_app(&[]).await;
    let n = wechat_notification(
        wechat_transaction("CHTEST0001", 6000),
        app.app.clock.epoch(),
    );
    let r = post_wechat(&app, &n).await;
    assert_eq!(r.status(), 200);
    // The original echoed its JSON answer with PHP's default content type (payments/036).
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "text/html; charset=UTF-8"
    );
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"code":"SUCCESS","message":"\u6210\u529f"}"#
    );
    assert_eq!(
        row(
            &app.db,
            "SELECT status, pay_method, pay_trade_no FROM fa_chathub_order WHERE id = 1"
        )
        .await,
        ["paid", "wechat", "4200CHTEST0001"]
    );
    assert_eq!(
        tenant_row(&app, 11).await[1],
        plus_30_days(&app, "2030-01-10 12:00:00")
    );
    // Replayed within the window: acknowledged, counted once.
    assert_eq!(post_wechat(&app, &n).await.status(), 200);
    assert_eq!(
        count(
            &app.db,
            "SELECT COUNT(*) FROM fa_chathub_log WHERE action = 'renew'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&app.db, "SELECT COUNT(*) FROM fa_chathub_log WHERE action = 'pay_notify_wechat' AND status = 'success'").await,
        2
    );
}

#[tokio::test]
async fn forged_or_mismatched_wechat_notifications_change_nothing() {
    let app = gateway_app(&[]).await;
    let now = app.app.clock.epoch();
    let good = wechat_notification(wechat_transaction("CHTEST0001", 6000), now);

    let mut bad_sig = wechat_notification(wechat_transaction("CHTEST0001", 6000), now);
    bad_sig.signature = good.signature.replace(&good.signature[..4], "AAAA");
    let r = post_wechat(&app, &bad_sig).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["code"], "FAIL");

    let mut tampered = wechat_notification(wechat_transaction("CHTEST0001", 6000), now);
    tampered.body = tampered.body.replace("EV-2026", "EV-2027");
    assert_eq!(post_wechat(&app, &tampered).await.status(), 401);

    let stale = wechat_notification(wechat_transaction("CHTEST0001", 6000), now - 600);
    assert_eq!(post_wechat(&app, &stale).await.status(), 401);

    // Missing headers: the original's unsigned JSON (payments/036).
    let r = app
        .client
        .post(app.url("/addons/chathub/index/payNotify/pay_method/wechat"))
        .header("Content-Type", "application/json")
        .body(r#"{"out_trade_no": "CHTEST0001", "transaction_id": "4200000000202606010000000005"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let mut wrong_mch = wechat_transaction("CHTEST0001", 6000);
    wrong_mch["mchid"] = "1900000002".into();
    assert_eq!(
        post_wechat(&app, &wechat_notification(wrong_mch, now))
            .await
            .status(),
        400
    );
    let mut wrong_app = wechat_transaction("CHTEST0001", 6000);
    wrong_app["appid"] = "wx9999".into();
    assert_eq!(
        post_wechat(&app, &wechat_notification(wrong_app, now))
            .await
            .status(),
        400
    );
    let wrong_amount = wechat_transaction("CHTEST0001", 1);
    assert_eq!(
        post_wechat(&app, &wechat_notification(wrong_amount, now))
            .await
            .status(),
        400
    );
    let unknown = wechat_transaction("NOPE", 6000);
    assert_eq!(
        post_wechat(&app, &wechat_notification(unknown, now))
            .await
            .status(),
        400
    );

    assert_untouched(&app).await;
    assert_eq!(
        count(&app.db, "SELECT COUNT(*) FROM fa_chathub_log WHERE action = 'pay_notify_wechat' AND status = 'failed'").await,
        4
    );
}

#[tokio::test]
async fn unknown_pay_method_is_logged_and_fails() {
    let app = gateway_app(&[]).await;
    let r = app
        .client
        .post(app.url("/addons/chathub/index/payNotify/pay_method/paypal"))
        .header("Content-Type", "application/json")
        .body(r#"{"out_trade_no": "CHTEST0001"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "fail");
    let r = app
        .post_form("/addons/chathub/index/payNotify", &[("a", "1")])
        .await;
    assert_eq!(r.text().await.unwrap(), "fail");
    assert_eq!(
        row(
            &app.db,
            "SELECT action, detail, status, operator FROM fa_chathub_log ORDER BY id LIMIT 1"
        )
        .await,
        [
            "pay_notify_paypal",
            r#"{"out_trade_no": "CHTEST0001"}"#,
            "failed",
            "system"
        ]
    );
    assert_eq!(
        row(
            &app.db,
            "SELECT action, detail FROM fa_chathub_log ORDER BY id DESC LIMIT 1"
        )
        .await,
        ["pay_notify_", "a=1"]
    );
    assert_untouched(&app).await;
}

// ---------------------------------------------------------------- payReturn

#[tokio::test]
async fn pay_return_redirects_as_recorded() {
    let app = gateway_app(&[]).await;
    for (path, expected) in [
        (
            "/addons/chathub/index/payReturn?order=NOPE123",
            "/addons/chathub/index/my?order=NOPE123",
        ),
        (
            "/addons/chathub/index/payReturn",
            "/addons/chathub/index/my?order=",
        ),
        (
            "/addons/chathub/index/payReturn?order=CHTEST0001",
            "/addons/chathub/index/my?order=CHTEST0001&pending=1",
        ),
        (
            "/addons/chathub/index/payReturn?order=CHTEST0003",
            "/addons/chathub/index/my?order=CHTEST0003&just_paid=1",
        ),
        (
            "/addons/chathub/index/payReturn?order=CHTEST0004",
            "/addons/chathub/index/my?order=CHTEST0004&provisioning=1",
        ),
        (
            "/addons/chathub/index/payReturn/order/CHTEST0001",
            "/addons/chathub/index/my?order=CHTEST0001&pending=1",
        ),
        (
            "/addons/chathub/index/payReturn/order/CHTEST0003.html",
            "/addons/chathub/index/my?order=CHTEST0003&just_paid=1",
        ),
        (
            "/addons/chathub/index/payreturn?order=%3Cb%3E",
            "/addons/chathub/index/my?order=%3Cb%3E",
        ),
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 302, "{path}");
        assert_eq!(location(&r), expected, "{path}");
    }
}

// ---------------------------------------------------------------- refusals (issue 14.3)

async fn post_wechat_unsigned(app: &TestApp, body: &str) -> reqwest::Response {
    app.client
        .post(app.url("/addons/chathub/index/payNotify/pay_method/wechat"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn metrics(app: &TestApp) -> String {
    app.get("/metrics").await.text().await.unwrap()
}

/// A refusal as WeChat Pay reads one: a 4xx with `{"code":"FAIL",…}`.
async fn assert_wechat_refused(r: reqwest::Response, status: u16, what: &str) {
    assert_eq!(r.status(), status, "{what}");
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    assert_eq!(body["code"], "FAIL", "{what}: {body}");
}

#[tokio::test]
async fn wechat_notifications_on_a_site_without_wechat_pay_are_refused_not_errors() {
    for (name, env) in [
        (
            "off, no platform key",
            vec![
                ("CHATHUB_ADDON_WECHAT_ENABLED", "0".to_string()),
                ("CHATHUB_WECHAT_PLATFORM_PUBLIC_KEY", String::new()),
            ],
        ),
        (
            "on, no platform key",
            vec![("CHATHUB_WECHAT_PLATFORM_PUBLIC_KEY", String::new())],
        ),
    ] {
        let app = gateway_app(&env).await;
        let now = app.app.clock.epoch();
        let mut sent = 0;
        let genuine = wechat_notification(wechat_transaction("CHTEST0001", 6000), now);
        assert_wechat_refused(post_wechat(&app, &genuine).await, 403, name).await;
        sent += 1;
        for (kind, body) in malformed_wechat_bodies() {
            let r = post_wechat_unsigned(&app, &body).await;
            assert_eq!(r.status(), 403, "{name}: {kind}");
            assert_eq!(
                r.json::<serde_json::Value>().await.unwrap()["message"],
                "验签配置缺失",
                "{name}: {kind}"
            );
            sent += 1;
        }
        assert_untouched(&app).await;
        let text = metrics(&app).await;
        assert!(
            text.contains(&format!(
                "chathub_webhook_refused_total{{method=\"wechat\",reason=\"not_configured\"}} {sent}"
            )),
            "{name}: {text}"
        );
        assert!(
            text.contains(&format!(
                "chathub_requests_total{{route=\"payNotify\",status=\"403\"}} {sent}"
            )),
            "{name}: {text}"
        );
        assert!(
            !text.contains("route=\"payNotify\",status=\"5"),
            "{name}: {text}"
        );
    }
}

#[tokio::test]
async fn malformed_wechat_notifications_are_refused_with_a_4xx_signed_or_not() {
    let app = gateway_app(&[]).await;
    let now = app.app.clock.epoch();
    for (kind, body) in malformed_wechat_bodies() {
        // Unsigned: refused at the signature.
        assert_wechat_refused(post_wechat_unsigned(&app, &body).await, 401, kind).await;
        // Signed by the platform key, so only the body itself is wrong.
        let signed = signed_wechat_body(body, now);
        assert_wechat_refused(post_wechat(&app, &signed).await, 400, kind).await;
    }
    assert_untouched(&app).await;
    let text = metrics(&app).await;
    assert!(!text.contains("route=\"payNotify\",status=\"5"), "{text}");
    let n = malformed_wechat_bodies().len() * 2;
    assert!(
        text.contains(&format!(
            "chathub_webhook_refused_total{{method=\"wechat\",reason=\"unauthentic\"}} {n}"
        )),
        "{text}"
    );
}

#[tokio::test]
async fn alipay_notifications_on_a_site_without_alipay_or_malformed_are_refused() {
    let app = gateway_app(&[
        ("CHATHUB_ADDON_ALIPAY_ENABLED", "0".into()),
        ("CHATHUB_ADDON_ALIPAY_PUBLIC_KEY", "".into()),
    ])
    .await;
    let genuine = alipay_notification("CHTEST0001", "60.00", "TRADE_SUCCESS", ALIPAY_APP_ID);
    let garbage = "x".repeat(1024 * 1024);
    let mut bodies: Vec<(&str, Vec<u8>)> = vec![
        ("genuine", genuine.clone().into_bytes()),
        ("empty", Vec::new()),
        ("not a form", b"{\"json\": true}".to_vec()),
        ("invalid utf-8", b"sign=%FF%FE&out_trade_no=\xff".to_vec()),
        ("1 MiB garbage", garbage.into_bytes()),
    ];
    for (kind, body) in bodies.drain(..) {
        let r = app
            .client
            .post(app.url("/addons/chathub/index/payNotify/pay_method/alipay"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{kind}");
        assert_eq!(r.text().await.unwrap(), "fail", "{kind}");
    }
    assert_untouched(&app).await;
    let text = metrics(&app).await;
    assert!(
        text.contains(
            "chathub_webhook_refused_total{method=\"alipay\",reason=\"not_configured\"} 5"
        ),
        "{text}"
    );
    assert!(!text.contains("route=\"payNotify\",status=\"5"), "{text}");

    // With Alipay configured, malformed bodies are refused as unauthentic.
    let on = gateway_app(&[]).await;
    for body in [&b"garbage"[..], b"sign=%FF", b"sign=&sign_type=RSA2"] {
        let r = on
            .client
            .post(on.url("/addons/chathub/index/payNotify/pay_method/alipay"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.text().await.unwrap(), "fail");
    }
    assert!(
        metrics(&on)
            .await
            .contains("chathub_webhook_refused_total{method=\"alipay\",reason=\"unauthentic\"} 3")
    );
}

// ---------------------------------------------------------------- parameter cap (issue 15.2)

/// A genuine notification inside PHP's `max_input_vars`: the signed parameters padded with
/// signed filler up to the 1001 pieces PHP reads from a form body, then `extra` pieces that
/// PHP ignores. The first ignored piece is a bogus `sign`: read, it would win (last value
/// wins) and the notification would fail.
fn alipay_notification_padded(order_no: &str, amount: &str, extra: usize) -> String {
    let form = alipay_notification(order_no, amount, "TRADE_SUCCESS", ALIPAY_APP_ID);
    let mut params: Vec<(String, String)> = serde_urlencoded::from_str(&form).unwrap();
    params.retain(|(k, _)| k != "sign" && k != "sign_type");
    let fill = 1001 - params.len() - 2;
    params.extend((0..fill).map(|i| (format!("f{i:x}"), "1".to_string())));
    let key = chathub::clients::pay::parse_private_key(PLATFORM_PRIVATE).unwrap();
    let sign = chathub::clients::pay::rsa_sha256_sign(
        &key,
        chathub::clients::pay::alipay::sign_content(&params).as_bytes(),
    );
    params.push(("sign_type".into(), "RSA2".into()));
    params.push(("sign".into(), sign));
    assert_eq!(params.len(), 1001);
    let mut body = serde_urlencoded::to_string(&params).unwrap();
    body.push_str("&sign=AAAA");
    for i in 0..extra {
        body.push_str(&format!("&k{i:x}=1"));
    }
    body
}

#[tokio::test]
async fn alipay_notification_with_120k_parameters_reads_only_the_first_1001() {
    let app = gateway_app(&[]).await;
    let body = alipay_notification_padded("CHTEST0001", "60.00", 120_000);
    assert!(
        body.len() > 900_000 && body.len() < 1024 * 1024,
        "{}",
        body.len()
    );
    let r = tokio::time::timeout(std::time::Duration::from_secs(60), post_alipay(&app, &body))
        .await
        .expect("answered");
    assert_eq!(r.text().await.unwrap(), "success");
    assert_eq!(
        row(&app.db, "SELECT status FROM fa_chathub_order WHERE id = 1").await,
        ["paid"]
    );
}
