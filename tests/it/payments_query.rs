//! Payments that never get lost: orders sent to a gateway are queried (by `payReturn`, the
//! sweep, the admin), credited through the same exactly-once path as notifications, and
//! closed at the gateway past their deadline. Against both gateways' stand-ins, which sign
//! their answers with the fixture platform key.

use std::time::Duration;

use chathub::domain::ids::OrderNo;
use chathub::services::pay_query::{self, Asker, Checked};
use chathub_tools::sandbox::{self, Behaviour};

use crate::support::pay::*;
use crate::support::{TestApp, TestDb, count, eventually, location, row};

async fn app_with(gw: &FakeGateways, extra: &[(&'static str, String)]) -> TestApp {
    gateway_app(&gw.env(extra)).await
}

async fn order_state(db: &TestDb, id: u32) -> Vec<String> {
    row(
        db,
        &format!(
            "SELECT status, COALESCE(pay_method, 'NULL'), COALESCE(pay_trade_no, 'NULL') FROM fa_chathub_order WHERE id = {id}"
        ),
    )
    .await
}

async fn renewals(db: &TestDb, tenant: u32) -> i64 {
    count(
        db,
        &format!(
            "SELECT COUNT(*) FROM fa_chathub_log WHERE tenant_id = {tenant} AND action = 'renew'"
        ),
    )
    .await
}

/// One `renew` row for Alice Shop (tenant 11), and 30 days on its 2030-01-10 expiry.
async fn assert_alice_shop_renewed_once(db: &TestDb) {
    assert_eq!(renewals(db, 11).await, 1);
    assert_eq!(
        row(db, "SELECT expire_at FROM fa_chathub_tenant WHERE id = 11").await,
        ["2030-02-09 12:00:00"]
    );
}

async fn load(app: &TestApp, no: &str) -> chathub::db::order::Order {
    let mut conn = app.app.db.conn().await.unwrap();
    chathub::db::order::find_by_no(&mut conn, &app.app.db.t, &OrderNo::parse(no).unwrap())
        .await
        .unwrap()
        .unwrap()
}

/// The order asked about now, as the admin's 查询支付状态 does.
async fn admin_check(app: &TestApp, order: &chathub::db::order::Order) -> Checked {
    pay_query::check_order(
        &app.app,
        order,
        Asker::Admin("admin"),
        Duration::from_secs(3),
    )
    .await
    .unwrap()
}

async fn send_to_alipay(app: &TestApp, no: &str) -> serde_json::Value {
    let r = app
        .get(&format!("/addons/chathub/index/payAlipay?order={no}"))
        .await;
    assert_eq!(r.status(), 302);
    let loc = location(&r);
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(loc.split_once('?').unwrap().1).unwrap();
    let biz = &params.iter().find(|(k, _)| k == "biz_content").unwrap().1;
    serde_json::from_str(biz).unwrap()
}

async fn send_to_wechat(app: &TestApp, no: &str) {
    let r = app
        .get(&format!("/addons/chathub/index/payWechat?order={no}"))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

async fn log_details(db: &TestDb, action: &str) -> Vec<String> {
    let mut conn = db.conn().await;
    mysql_async::prelude::Queryable::query(
        &mut conn,
        format!("SELECT detail FROM fa_chathub_log WHERE action = '{action}' ORDER BY id"),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn paid_at_either_gateway_with_no_notification_is_credited_by_the_first_sweep() {
    let gw = FakeGateways::start().await;
    let app = app_with(&gw, &[("CHATHUB_PAY_SWEEP", "1".into())]).await;
    let biz = send_to_alipay(&app, "CHTEST0001").await;
    // The gateway got a deadline: `pay_order_expire_secs` (2 h) from now, site-local.
    let deadline = app
        .app
        .clock
        .format_epoch(app.app.clock.epoch() + 7200, "%Y-%m-%d %H:%M");
    assert!(
        biz["time_expire"].as_str().unwrap().starts_with(&deadline),
        "{biz}"
    );
    send_to_wechat(&app, "CHTEST0005").await;
    let native: serde_json::Value =
        serde_json::from_str(&gw.wechat.requests.lock().unwrap()[0].1).unwrap();
    assert!(native["time_expire"].as_str().unwrap().ends_with("+08:00"));
    // Both buyers pay; no notification reaches us.
    gw.alipay
        .trades
        .pay("CHTEST0001", 6000, "2026120822001400000000000001");
    gw.wechat
        .trades
        .pay("CHTEST0005", 6000, "4200000000202612080000000005");
    let credited = eventually(Duration::from_secs(20), || async {
        order_state(&app.db, 1).await[0] == "paid" && order_state(&app.db, 5).await[0] == "paid"
    })
    .await;
    assert!(
        credited,
        "{:?}",
        log_details(&app.db, "pay_query_alipay").await
    );
    assert_eq!(
        order_state(&app.db, 1).await,
        ["paid", "alipay", "2026120822001400000000000001"]
    );
    assert_eq!(
        order_state(&app.db, 5).await,
        ["paid", "wechat", "4200000000202612080000000005"]
    );
    assert_alice_shop_renewed_once(&app.db).await;
    assert_eq!(renewals(&app.db, 21).await, 1);
    assert!(
        log_details(&app.db, "pay_query_alipay")
            .await
            .contains(&"CHTEST0001 credited".to_string())
    );
    assert!(
        log_details(&app.db, "pay_query_wechat")
            .await
            .contains(&"CHTEST0005 credited".to_string())
    );
    // Nothing left to ask about; the metrics tell query credits from notification ones.
    assert_eq!(
        count(&app.db, "SELECT COUNT(*) FROM fa_chathub_pay_query").await,
        0
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("chathub_payments_credited{method=\"alipay\",by=\"query\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn pay_return_asks_the_gateway_and_lands_on_just_paid() {
    let gw = FakeGateways::start().await;
    let app = app_with(&gw, &[]).await;
    send_to_alipay(&app, "CHTEST0001").await;
    let r = app
        .get("/addons/chathub/index/payReturn/order/CHTEST0001")
        .await;
    assert_eq!(
        location(&r),
        "/addons/chathub/index/my?order=CHTEST0001&pending=1"
    );
    assert_eq!(
        log_details(&app.db, "pay_query_alipay").await,
        ["CHTEST0001 not_paid"]
    );
    gw.alipay.trades.pay("CHTEST0001", 6000, "T-1");
    // The QR page polls every 3 s: the gateway is asked at most every 10 s.
    let r = app
        .get("/addons/chathub/index/payReturn/order/CHTEST0001")
        .await;
    assert!(location(&r).ends_with("&pending=1"));
    assert_eq!(gw.alipay.methods().len(), 1);
    app.db
        .run_sql("UPDATE fa_chathub_pay_query SET updatetime = updatetime - 60")
        .await;
    let r = app
        .get("/addons/chathub/index/payReturn/order/CHTEST0001")
        .await;
    assert_eq!(
        location(&r),
        "/addons/chathub/index/my?order=CHTEST0001&just_paid=1"
    );
    assert_eq!(order_state(&app.db, 1).await, ["paid", "alipay", "T-1"]);
    // The notification arriving afterwards changes nothing.
    let n = alipay_notification("CHTEST0001", "60.00", "TRADE_SUCCESS", ALIPAY_APP_ID);
    assert_eq!(post_alipay(&app, &n).await.text().await.unwrap(), "success");
    assert_eq!(renewals(&app.db, 11).await, 1);
}

#[tokio::test]
async fn notification_and_queries_racing_on_two_instances_renew_once() {
    let gw = FakeGateways::start().await;
    let first = app_with(&gw, &[]).await;
    let db2 = TestDb {
        name: format!("{}_unused", first.db.name),
        url: first.db.url.clone(),
        pool: mysql_async::Pool::new(first.db.url.as_str()),
    };
    let second = gateway_app_on(db2, &gw.env(&[])).await;
    send_to_wechat(&first, "CHTEST0001").await;
    gw.wechat.trades.pay("CHTEST0001", 6000, "4200RACE");
    let tx = sandbox::wechat::query_transaction(
        &fixture_keys(),
        &gw.wechat.trades.get("CHTEST0001").unwrap(),
    );
    let n = wechat_notification(tx, first.app.clock.epoch());
    let order = load(&first, "CHTEST0001").await;
    let (a, b) = (first.app.clone(), second.app.clone());
    let (o1, o2) = (order.clone(), order.clone());
    let (notified, q1, q2, s1, s2) = tokio::join!(
        post_wechat(&first, &n),
        async move {
            pay_query::check_order(&a, &o1, Asker::Admin("admin"), Duration::from_secs(5)).await
        },
        async move {
            pay_query::check_order(&b, &o2, Asker::Admin("admin"), Duration::from_secs(5)).await
        },
        pay_query::sweep_once(&first.app),
        pay_query::sweep_once(&second.app),
    );
    assert_eq!(notified.status(), 200);
    for r in [q1, q2] {
        assert!(
            matches!(
                r.as_ref().unwrap(),
                Checked::Paid { .. } | Checked::Busy | Checked::NotSent
            ),
            "{r:?}"
        );
    }
    s1.unwrap();
    s2.unwrap();
    assert_eq!(
        order_state(&first.db, 1).await,
        ["paid", "wechat", "4200RACE"]
    );
    assert_alice_shop_renewed_once(&first.db).await;
}

/// Every query answer here is authentic-looking but wrong in one way; none may change the order.
#[tokio::test]
async fn forged_or_mismatched_alipay_answers_change_nothing() {
    let gw = FakeGateways::start().await;
    let app = app_with(&gw, &[]).await;
    send_to_alipay(&app, "CHTEST0001").await;
    let keys = fixture_keys();
    let paid = |extra: &[(&str, &str)]| {
        let mut node = sandbox::alipay::query_node(
            "CHTEST0001",
            Some(&sandbox::Trade {
                out_trade_no: "CHTEST0001".into(),
                total_cents: 6000,
                status: sandbox::TradeStatus::Paid,
                trade_no: "T-FORGED".into(),
            }),
        );
        for (k, v) in extra {
            node[*k] = (*v).into();
        }
        node
    };
    let signed = |node: &serde_json::Value| {
        sandbox::alipay::signed_answer(&keys, "alipay.trade.query", &node.to_string())
    };
    // Signed by someone else's key (the merchant's own, which any insider has).
    let mut impostor = keys.clone();
    impostor.platform_private = MERCHANT_PRIVATE.to_string();
    let forged_sig =
        sandbox::alipay::signed_answer(&impostor, "alipay.trade.query", &paid(&[]).to_string());
    // Signed over the node without `\/`, sent with it: the bytes differ from what was signed.
    let slashed = paid(&[("buyer_logon_id", "a/b@example.com")]);
    let plain_text = slashed.to_string();
    let escaped_text = plain_text.replace("a/b", "a\\/b");
    let resigned_elsewhere =
        sandbox::alipay::signed_answer(&keys, "alipay.trade.query", &plain_text)
            .replace(&plain_text, &escaped_text);
    let cases = [
        ("bad signature", forged_sig),
        (
            "no signature",
            format!("{{\"alipay_trade_query_response\":{}}}", paid(&[])),
        ),
        (
            "other app",
            signed(&paid(&[("auth_app_id", "2021000000000000")])),
        ),
        ("wrong amount", signed(&paid(&[("total_amount", "0.01")]))),
        (
            "other order",
            signed(&paid(&[("out_trade_no", "CHTEST0005")])),
        ),
        ("escaping changed after signing", resigned_elsewhere),
        ("not json", "<html>502</html>".into()),
    ];
    let order = load(&app, "CHTEST0001").await;
    for (what, body) in cases {
        gw.alipay
            .behaviour
            .set(Behaviour::Canned(200, vec![], body));
        let r = admin_check(&app, &order).await;
        assert!(matches!(r, Checked::Failed(_)), "{what}: {r:?}");
        assert_eq!(order_state(&app.db, 1).await[0], "pending", "{what}");
    }
    assert_eq!(renewals(&app.db, 11).await, 0);
    // The real thing, `\/` and all, exactly as signed: credited.
    gw.alipay.behaviour.set(Behaviour::Canned(
        200,
        vec![],
        sandbox::alipay::signed_answer(&keys, "alipay.trade.query", &escaped_text),
    ));
    let r = admin_check(&app, &order).await;
    assert_eq!(r, Checked::Paid { credited: true });
    assert_eq!(renewals(&app.db, 11).await, 1);
}

#[tokio::test]
async fn forged_or_mismatched_wechat_answers_change_nothing() {
    let gw = FakeGateways::start().await;
    let app = app_with(&gw, &[]).await;
    send_to_wechat(&app, "CHTEST0001").await;
    let keys = fixture_keys();
    let now = app.app.clock.epoch();
    let trade = sandbox::Trade {
        out_trade_no: "CHTEST0001".into(),
        total_cents: 6000,
        status: sandbox::TradeStatus::Paid,
        trade_no: "4200FORGED".into(),
    };
    let tx = |field: &str, value: serde_json::Value| {
        let mut tx = sandbox::wechat::query_transaction(&keys, &trade);
        if !field.is_empty() {
            tx[field] = value;
        }
        tx.to_string()
    };
    let signed = |body: String, ts: i64| {
        Behaviour::Canned(200, sandbox::wechat::answer_headers(&keys, &body, ts), body)
    };
    let mut impostor = keys.clone();
    impostor.platform_private = MERCHANT_PRIVATE.to_string();
    let body = tx("", serde_json::Value::Null);
    let mut other_serial = sandbox::wechat::answer_headers(&keys, &body, now);
    other_serial[3].1 = "PUB_KEY_ID_SOMEONE_ELSE".into();
    let cases = [
        (
            "bad signature",
            Behaviour::Canned(
                200,
                sandbox::wechat::answer_headers(&impostor, &body, now),
                body.clone(),
            ),
        ),
        ("unsigned", Behaviour::Canned(200, vec![], body.clone())),
        (
            "other serial",
            Behaviour::Canned(200, other_serial, body.clone()),
        ),
        ("stale", signed(body.clone(), now - 600)),
        ("other mchid", signed(tx("mchid", "1900000999".into()), now)),
        (
            "other appid",
            signed(tx("appid", "wx9999999999999999".into()), now),
        ),
        (
            "wrong amount",
            signed(
                tx("amount", serde_json::json!({"total": 1, "currency": "CNY"})),
                now,
            ),
        ),
        (
            "other order",
            signed(tx("out_trade_no", "CHTEST0005".into()), now),
        ),
        ("server error", Behaviour::Canned(500, vec![], "{}".into())),
    ];
    let order = load(&app, "CHTEST0001").await;
    for (what, behaviour) in cases {
        gw.wechat.behaviour.set(behaviour);
        let r = admin_check(&app, &order).await;
        assert!(matches!(r, Checked::Failed(_)), "{what}: {r:?}");
        assert_eq!(order_state(&app.db, 1).await[0], "pending", "{what}");
    }
    assert_eq!(renewals(&app.db, 11).await, 0);
    gw.wechat.behaviour.set(signed(body, now));
    let r = admin_check(&app, &order).await;
    assert_eq!(r, Checked::Paid { credited: true });
}

#[tokio::test]
async fn a_gateway_down_or_hanging_is_bounded_and_asked_again_later() {
    let gw = FakeGateways::start().await;
    let app = app_with(&gw, &[("CHATHUB_PAY_RETURN_QUERY_MS", "1000".into())]).await;
    send_to_alipay(&app, "CHTEST0001").await;
    gw.alipay.trades.pay("CHTEST0001", 6000, "T-LATE");
    gw.alipay.behaviour.set(Behaviour::Hang);
    // payReturn waits its bound, no more, and says pending.
    let started = std::time::Instant::now();
    let r = app
        .get("/addons/chathub/index/payReturn/order/CHTEST0001")
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(location(&r).ends_with("&pending=1"));
    // A sweep against the hanging gateway blocks no request meanwhile.
    app.db
        .run_sql("UPDATE fa_chathub_pay_query SET next_query_at = 0, claim_until = 0")
        .await;
    let sweep_started = app.app.clock.epoch();
    let sweeping = tokio::spawn({
        let app = app.app.clone();
        async move { pay_query::sweep_once(&app).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let r = app
        .get("/addons/chathub/index/payReturn/order/CHTEST0001")
        .await;
    assert!(location(&r).ends_with("&pending=1"));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(sweeping.await.unwrap().unwrap(), 1);
    assert_eq!(order_state(&app.db, 1).await[0], "pending");
    let schedule = row(
        &app.db,
        &format!(
            "SELECT queries, next_query_at > {sweep_started}, claim_owner IS NULL FROM fa_chathub_pay_query"
        ),
    )
    .await;
    assert_eq!(schedule, ["1", "1", "1"]);
    assert!(
        log_details(&app.db, "pay_query_alipay")
            .await
            .iter()
            .any(|d| d.starts_with("CHTEST0001 unreachable"))
    );
    // Down (nothing listening) fails at once; back up, the next due sweep credits it.
    gw.alipay.behaviour.set(Behaviour::Normal);
    let due = eventually(Duration::from_secs(15), || async {
        pay_query::sweep_once(&app.app).await.unwrap();
        order_state(&app.db, 1).await[0] == "paid"
    })
    .await;
    assert!(due);
    assert_eq!(renewals(&app.db, 11).await, 1);
}

#[tokio::test]
async fn a_gateway_that_is_down_costs_a_query_and_a_reschedule() {
    let gw = FakeGateways::start().await;
    let app = app_with(
        &gw,
        &[(
            "CHATHUB_ALIPAY_GATEWAY_URL",
            "http://127.0.0.1:9/gateway.do".into(),
        )],
    )
    .await;
    send_to_alipay(&app, "CHTEST0001").await;
    app.db
        .run_sql("UPDATE fa_chathub_pay_query SET next_query_at = 0")
        .await;
    assert_eq!(pay_query::sweep_once(&app.app).await.unwrap(), 1);
    assert_eq!(
        row(&app.db, "SELECT queries FROM fa_chathub_pay_query").await,
        ["1"]
    );
    // Not due again yet: the next pass leaves it alone.
    assert_eq!(pay_query::sweep_once(&app.app).await.unwrap(), 0);
    assert_eq!(order_state(&app.db, 1).await[0], "pending");
}

#[tokio::test]
async fn past_its_deadline_an_order_is_closed_at_the_gateway_then_here_and_a_late_payment_still_counts()
 {
    let gw = FakeGateways::start().await;
    let app = app_with(&gw, &[]).await;
    let cookie = alice_cookie(&app);
    // A renewal reuses its recent pending order only while it can still be paid.
    app.db
        .run_sql("UPDATE fa_chathub_order SET createtime = UNIX_TIMESTAMP() WHERE id = 1")
        .await;
    send_to_alipay(&app, "CHTEST0001").await;
    let page = app
        .get_with_cookie("/addons/chathub/index/renew?id=11", &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("CHTEST0001"));
    gw.alipay.trades.open("CHTEST0001", 6000);
    app.db
        .run_sql(
            "UPDATE fa_chathub_pay_query SET deadline = UNIX_TIMESTAMP() + 60, next_query_at = UNIX_TIMESTAMP() + 3600",
        )
        .await;
    let page = app
        .get_with_cookie("/addons/chathub/index/renew?id=11", &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("CHTEST0001"),
        "an order about to close was handed out"
    );
    // payAlipay will not send it with a minute left either.
    let r = app
        .get("/addons/chathub/index/payAlipay?order=CHTEST0001")
        .await;
    assert_eq!(r.text().await.unwrap(), "订单已关闭，请重新发起续费");

    app.db
        .run_sql(
            "UPDATE fa_chathub_pay_query SET deadline = UNIX_TIMESTAMP() - 1, next_query_at = 0",
        )
        .await;
    assert_eq!(pay_query::sweep_once(&app.app).await.unwrap(), 1);
    assert_eq!(
        gw.alipay.methods(),
        ["alipay.trade.query", "alipay.trade.close"]
    );
    assert_eq!(
        gw.alipay.trades.get("CHTEST0001").unwrap().status,
        sandbox::TradeStatus::Closed
    );
    assert_eq!(order_state(&app.db, 1).await[0], "failed");
    assert_eq!(
        log_details(&app.db, "pay_close_alipay").await,
        ["CHTEST0001 closed"]
    );
    assert_eq!(
        count(&app.db, "SELECT COUNT(*) FROM fa_chathub_pay_query").await,
        0
    );

    // The payment the providers document racing the close still lands: credited, and said so.
    let n = alipay_notification("CHTEST0001", "60.00", "TRADE_SUCCESS", ALIPAY_APP_ID);
    assert_eq!(post_alipay(&app, &n).await.text().await.unwrap(), "success");
    assert_eq!(order_state(&app.db, 1).await[0], "paid");
    assert_eq!(renewals(&app.db, 11).await, 1);
    let detail = row(
        &app.db,
        "SELECT detail FROM fa_chathub_log WHERE action = 'renew' AND tenant_id = 11",
    )
    .await;
    assert!(detail[0].contains("订单已关闭后到账"), "{detail:?}");
}

#[tokio::test]
async fn a_wechat_order_past_its_deadline_is_closed_there_and_takes_no_more_money() {
    let gw = FakeGateways::start().await;
    let app = app_with(&gw, &[]).await;
    send_to_wechat(&app, "CHTEST0001").await;
    app.db
        .run_sql(
            "UPDATE fa_chathub_pay_query SET deadline = UNIX_TIMESTAMP() - 1, next_query_at = 0",
        )
        .await;
    assert_eq!(pay_query::sweep_once(&app.app).await.unwrap(), 1);
    assert_eq!(order_state(&app.db, 1).await[0], "failed");
    assert_eq!(
        log_details(&app.db, "pay_close_wechat").await,
        ["CHTEST0001 closed"]
    );
    // The stand-in refuses payments on a closed trade, as the gateway does.
    assert!(gw.wechat.trades.pay("CHTEST0001", 6000, "4200X").is_none());
    // A renewal makes a new order instead of handing out the closed one.
    let cookie = alice_cookie(&app);
    let page = app
        .get_with_cookie("/addons/chathub/index/renew?id=11", &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("CHTEST0001"));
    assert_eq!(
        count(
            &app.db,
            "SELECT COUNT(*) FROM fa_chathub_order WHERE tenant_id = 11 AND status = 'pending'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn the_admins_query_credits_a_paid_order_once_and_says_what_it_found() {
    let gw = FakeGateways::start().await;
    let app = app_with(&gw, &[]).await;
    let admin = chathub::services::admin_auth::SignedInAdmin {
        id: chathub::db::admin::AdminId(1),
        username: "admin".into(),
    };
    let ask = |no: &'static str| {
        let (app, admin) = (app.app.clone(), admin.clone());
        async move {
            chathub::services::admin::query_pay(&app, &admin, no)
                .await
                .unwrap()
        }
    };
    assert_eq!(ask("NOPE").await.unwrap_err().0, "订单不存在");
    assert_eq!(ask("CHTEST0001").await.unwrap(), "订单尚未发往支付网关");
    send_to_alipay(&app, "CHTEST0001").await;
    assert_eq!(ask("CHTEST0001").await.unwrap(), "查询结果：尚未支付");
    gw.alipay.trades.pay("CHTEST0001", 6000, "T-ADMIN");
    assert_eq!(
        ask("CHTEST0001").await.unwrap(),
        "查询结果：已支付，已为租户续期"
    );
    assert_eq!(ask("CHTEST0001").await.unwrap(), "订单已支付");
    assert_eq!(renewals(&app.db, 11).await, 1);
    assert_eq!(
        row(
            &app.db,
            "SELECT operator, status FROM fa_chathub_log WHERE action = 'pay_query_alipay' ORDER BY id DESC LIMIT 1"
        )
        .await,
        ["admin", "success"]
    );
    // Visitors get FastAdmin's login answer, not the query.
    let r = app.get("/addons/chathub/index/queryPay").await;
    let body = r.text().await.unwrap();
    assert!(!body.contains("name=\"order\""), "{body}");
}

#[tokio::test]
async fn check_live_warns_when_payments_come_by_query_or_orders_outlive_their_deadline() {
    let app = gateway_app(&[]).await;
    let lines = |app: &TestApp| {
        let (config, clock) = (app.app.config.clone(), app.app.clock.clone());
        async move {
            chathub::live::live_report(&config, &clock, 24, None)
                .await
                .into_iter()
                .filter(|l| l.name == "payments by query" || l.name == "expired orders")
                .map(|l| format!("{}: {:?}", l.name, l.outcome))
                .collect::<Vec<_>>()
        }
    };
    let quiet = lines(&app).await;
    assert!(quiet.iter().all(|l| l.contains("Ok(")), "{quiet:?}");
    app.db
        .run_sql(
            "INSERT INTO fa_chathub_log (tenant_id, action, detail, status, operator, createtime) VALUES \
             (11, 'renew', 'x', 'success', 'payment', UNIX_TIMESTAMP()), \
             (11, 'renew', 'x', 'success', 'payment', UNIX_TIMESTAMP()), \
             (11, 'pay_query_alipay', 'CHTEST0001 credited', 'success', 'system', UNIX_TIMESTAMP()), \
             (11, 'pay_query_wechat', 'CHTEST0002 credited', 'success', 'system', UNIX_TIMESTAMP()); \
             INSERT INTO fa_chathub_pay_query (order_id, pay_method, deadline, createtime) \
             VALUES (1, 'alipay', UNIX_TIMESTAMP() - 3600, UNIX_TIMESTAMP() - 9000)",
        )
        .await;
    let loud = lines(&app).await;
    assert_eq!(loud.len(), 2, "{loud:?}");
    assert!(loud[0].contains("Warn(\"2 of 2 payment(s)"), "{loud:?}");
    assert!(
        loud[1].contains("Warn(\"1 order(s) still pending"),
        "{loud:?}"
    );
}

#[tokio::test]
async fn an_order_paid_as_we_close_it_is_credited_once_not_closed() {
    let gw = FakeGateways::start().await;
    let app = app_with(&gw, &[]).await;
    send_to_alipay(&app, "CHTEST0001").await;
    send_to_wechat(&app, "CHTEST0005").await;
    // Both buyers reached the cashier; each pays just as we close the order past its deadline.
    gw.alipay.trades.open("CHTEST0001", 6000);
    gw.alipay
        .refunds
        .buyer_pays_at_close("CHTEST0001", 6000, "2026120822001400000000000091");
    gw.wechat
        .refunds
        .buyer_pays_at_close("CHTEST0005", 6000, "4200000000202612080000000095");
    app.db
        .run_sql(
            "UPDATE fa_chathub_pay_query SET deadline = UNIX_TIMESTAMP() - 1, next_query_at = 0",
        )
        .await;
    assert_eq!(pay_query::sweep_once(&app.app).await.unwrap(), 2);
    // The queries said "not paid", the closes "already paid": nothing is closed here.
    assert_eq!(
        log_details(&app.db, "pay_close_alipay").await,
        ["CHTEST0001 already_paid"]
    );
    assert_eq!(
        log_details(&app.db, "pay_close_wechat").await,
        ["CHTEST0005 already_paid"]
    );
    assert_eq!(order_state(&app.db, 1).await[0], "pending");
    assert_eq!(order_state(&app.db, 5).await[0], "pending");
    assert_eq!(renewals(&app.db, 11).await, 0);
    // The next pass asks again and credits each once.
    app.db
        .run_sql("UPDATE fa_chathub_pay_query SET next_query_at = 0")
        .await;
    assert_eq!(pay_query::sweep_once(&app.app).await.unwrap(), 2);
    assert_eq!(
        order_state(&app.db, 1).await,
        ["paid", "alipay", "2026120822001400000000000091"]
    );
    assert_eq!(
        order_state(&app.db, 5).await,
        ["paid", "wechat", "4200000000202612080000000095"]
    );
    assert_alice_shop_renewed_once(&app.db).await;
    assert_eq!(renewals(&app.db, 21).await, 1);
    // Nothing is left to ask, and a late notification changes nothing.
    assert_eq!(
        count(&app.db, "SELECT COUNT(*) FROM fa_chathub_pay_query").await,
        0
    );
    assert_eq!(pay_query::sweep_once(&app.app).await.unwrap(), 0);
    let form = alipay_notification("CHTEST0001", "60.00", "TRADE_SUCCESS", ALIPAY_APP_ID);
    assert_eq!(
        post_alipay(&app, &form).await.text().await.unwrap(),
        "success"
    );
    assert_alice_shop_renewed_once(&app.db).await;
}
