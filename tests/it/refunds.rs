//! Refunds from the admin console (COMPAT.md#refunds): the orders page's 退款 form against both
//! gateways' stand-ins, which keep their own memory of refunds, sign their answers and send
//! WeChat Pay's `REFUND.*` notifications with the resource encrypted.

use chathub_tools::sandbox;

use crate::support::pay::*;
use crate::support::{TestApp, count, row};

pub(crate) const TOKEN_KEY: &str = "i3d6o32wo8fvs1fvdpwens";
const ADMIN_TOKEN: &str = "8c3d6f3e-1b1a-4d4c-9e0e-6d1f0c2a9b7e";

/// A super admin (group rules `*`) that signs in with FastAdmin's `keeplogin` cookie.
pub(crate) const ADMIN_SQL: &str = "INSERT INTO fa_admin (id, username, nickname, password, salt, loginip, token, status) VALUES \
 (1, 'admin', 'Admin', 'x', 'y', '127.0.0.1', '8c3d6f3e-1b1a-4d4c-9e0e-6d1f0c2a9b7e', 'normal'); \
 INSERT INTO fa_auth_group (id, pid, name, rules, status) VALUES (1, 0, 'Admin group', '*', 'normal'); \
 INSERT INTO fa_auth_group_access (uid, group_id) VALUES (1, 1)";

fn md5(s: &str) -> String {
    format!("{:x}", md5::compute(s.as_bytes()))
}

/// The console as the signed-in admin sees it.
pub(crate) struct Console {
    pub gw: FakeGateways,
    pub app: TestApp,
    http: reqwest::Client,
    cookie: String,
}

impl Console {
    /// Both gateways' stand-ins; the recorded site's paid orders 3 (Alipay, ¥50, Alice Shop)
    /// and 4 (WeChat Pay, ¥60, Alice Pending) are paid trades there too.
    pub async fn start(extra: &[(&'static str, String)]) -> Console {
        let gw = FakeGateways::start().await;
        let mut env = vec![("CHATHUB_FASTADMIN_TOKEN_KEY", TOKEN_KEY.to_string())];
        env.extend_from_slice(extra);
        let db = seeded_db().await;
        db.run_sql(ADMIN_SQL).await;
        let app = gateway_app_on(db, &gw.env(&env)).await;
        gw.alipay
            .trades
            .pay("CHTEST0003", 5000, "2026060122001400000000000003");
        gw.wechat
            .trades
            .pay("CHTEST0004", 6000, "4200000000202606010000000004");
        let now = app.app.clock.epoch();
        let (id, keeptime, expiretime) = (1, 86400, now + 86400);
        let k = md5(&format!(
            "{}{}{}{ADMIN_TOKEN}{TOKEN_KEY}",
            md5(&id.to_string()),
            md5(&keeptime.to_string()),
            md5(&expiretime.to_string())
        ));
        Console {
            gw,
            app,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: format!("keeplogin={id}%7C{keeptime}%7C{expiretime}%7C{k}"),
        }
    }

    pub async fn page(&self, path: &str) -> String {
        let r = self
            .http
            .get(self.app.url(path))
            .header("Cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    }

    /// The orders page's refund form for `order_no`: its request number (fresh each time the
    /// page is shown) and the amount it offers (what is left).
    pub async fn refund_form(&self, order_no: &str) -> (String, String) {
        let html = self.page("/addons/chathub/index/orders").await;
        let doc = scraper::Html::parse_document(&html);
        let form = doc
            .select(&scraper::Selector::parse("form.refund-form").unwrap())
            .find(|f| {
                f.select(&scraper::Selector::parse("input[name=order]").unwrap())
                    .any(|i| i.value().attr("value") == Some(order_no))
            })
            .unwrap_or_else(|| panic!("no refund form for {order_no}"));
        let value = |name: &str| {
            form.select(&scraper::Selector::parse(&format!("input[name={name}]")).unwrap())
                .next()
                .and_then(|i| i.value().attr("value"))
                .unwrap()
                .to_string()
        };
        (value("request_no"), value("amount"))
    }

    /// Post the refund form as the page's submit does (AJAX, so the answer is FastAdmin's
    /// `{code, msg}`).
    pub async fn refund(
        &self,
        order_no: &str,
        amount: &str,
        days: &str,
        request_no: &str,
    ) -> (i64, String) {
        let body = serde_urlencoded::to_string([
            ("order", order_no),
            ("amount", amount),
            ("reason", "客户申请退款"),
            ("days", days),
            ("request_no", request_no),
        ])
        .unwrap();
        let r = self
            .http
            .post(self.app.url("/addons/chathub/index/refund"))
            .header("Cookie", &self.cookie)
            .header("X-Requested-With", "XMLHttpRequest")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let j: serde_json::Value = r.json().await.unwrap();
        (
            j["code"].as_i64().unwrap(),
            j["msg"].as_str().unwrap().to_string(),
        )
    }
}

/// One column of the row `id` of an addon table (`fa_chathub_<table>`).
async fn column(app: &TestApp, table: &str, column: &str, id: u32) -> String {
    row(
        &app.db,
        &format!("SELECT {column} FROM fa_chathub_{table} WHERE id = {id}"),
    )
    .await[0]
        .clone()
}

async fn expiry(app: &TestApp, tenant: u32) -> String {
    column(app, "tenant", "expire_at", tenant).await
}

async fn order_status(app: &TestApp, id: u32) -> String {
    column(app, "order", "status", id).await
}

async fn refund_rows(app: &TestApp) -> i64 {
    count(
        &app.db,
        "SELECT COUNT(*) FROM fa_chathub_log WHERE action = 'refund'",
    )
    .await
}

/// The `out_request_no`s of the `alipay.trade.refund` calls the stand-in received.
fn alipay_refund_calls(gw: &FakeGateways) -> Vec<String> {
    gw.alipay
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|f| {
            f.iter()
                .any(|(k, v)| k == "method" && v == "alipay.trade.refund")
        })
        .map(|f| {
            let biz = &f.iter().find(|(k, _)| k == "biz_content").unwrap().1;
            let biz: serde_json::Value = serde_json::from_str(biz).unwrap();
            biz["out_request_no"].as_str().unwrap().to_string()
        })
        .collect()
}

#[tokio::test]
async fn a_double_clicked_full_refund_calls_the_gateway_once_and_takes_the_renewals_days_back() {
    let c = Console::start(&[]).await;
    assert_eq!(expiry(&c.app, 11).await, "2030-01-10 12:00:00");
    let (no, amount) = c.refund_form("CHTEST0003").await;
    assert_eq!(amount, "50.00");
    // Two clicks on the same form, at once.
    let (a, b) = tokio::join!(
        c.refund("CHTEST0003", &amount, "", &no),
        c.refund("CHTEST0003", &amount, "", &no)
    );
    assert!(a.1 == "退款成功" || b.1 == "退款成功", "{a:?} {b:?}");
    for (code, msg) in [&a, &b] {
        assert!(
            *msg == "退款成功" || msg.contains("正在处理"),
            "{code} {msg}"
        );
    }
    assert_eq!(alipay_refund_calls(&c.gw), [no.as_str()]);
    assert_eq!(c.gw.alipay.refunds.moved(), [no.as_str()]);
    // A full refund: the order is refunded, its 30 days are gone, one log row says so.
    assert_eq!(order_status(&c.app, 3).await, "refunded");
    assert_eq!(expiry(&c.app, 11).await, "2029-12-11 12:00:00");
    assert_eq!(refund_rows(&c.app).await, 1);
    let detail = row(
        &c.app.db,
        "SELECT detail, operator FROM fa_chathub_log WHERE action = 'refund'",
    )
    .await;
    assert!(
        detail[0].contains("CHTEST0003") && detail[0].contains("收回 30 天"),
        "{detail:?}"
    );
    assert_eq!(detail[1], "admin");
    // The same form once more changes nothing and calls nobody.
    assert_eq!(c.refund("CHTEST0003", &amount, "", &no).await.1, "退款成功");
    assert_eq!(alipay_refund_calls(&c.gw).len(), 1);
    assert_eq!(expiry(&c.app, 11).await, "2029-12-11 12:00:00");
    // The orders page shows it, and offers no more refund for the order.
    let page = c.page("/addons/chathub/index/orders").await;
    let doc = scraper::Html::parse_document(&page);
    let line = doc
        .select(&scraper::Selector::parse("small.refund").unwrap())
        .map(|e| e.text().collect::<String>())
        .find(|t| t.contains(&no))
        .unwrap();
    assert!(
        line.contains("¥50.00 已退款") && line.contains("收回 30 天"),
        "{line}"
    );
    let refund_forms: Vec<String> = doc
        .select(&scraper::Selector::parse("form.refund-form input[name=order]").unwrap())
        .filter_map(|i| i.value().attr("value").map(str::to_string))
        .collect();
    assert!(
        !refund_forms.contains(&"CHTEST0003".to_string()),
        "{refund_forms:?}"
    );
    assert!(
        refund_forms.contains(&"CHTEST0004".to_string()),
        "{refund_forms:?}"
    );
}

#[tokio::test]
async fn a_retry_after_a_timeout_sends_the_same_request_number_and_refunds_once() {
    let c = Console::start(&[]).await;
    let (no, amount) = c.refund_form("CHTEST0003").await;
    // The gateway refunds, then its answer never comes.
    c.gw.alipay
        .refunds
        .hang_after_refund
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let (code, msg) = c.refund("CHTEST0003", &amount, "", &no).await;
    assert_eq!(code, 1, "{msg}");
    assert!(msg.contains("结果未确定"), "{msg}");
    assert_eq!(
        row(
            &c.app.db,
            "SELECT status, out_request_no FROM fa_chathub_refund"
        )
        .await,
        ["pending", no.as_str()]
    );
    assert_eq!(order_status(&c.app, 3).await, "paid");
    assert_eq!(expiry(&c.app, 11).await, "2030-01-10 12:00:00");
    // While it has no result the page offers no refund of the order (nothing is known to be
    // left), and another request number is refused.
    let page = c.page("/addons/chathub/index/orders").await;
    assert!(page.contains("结果未确定（自动重试）"), "{page}");
    let other = format!("{no}B");
    let (code, msg) = c.refund("CHTEST0003", "1", "", &other).await;
    assert_eq!(code, 0);
    assert!(msg.contains("尚未有结果"), "{msg}");
    // The admin submits the first form again: the same number goes out, Alipay answers
    // `fund_change = N` (nothing moved this time) and its refund query confirms the refund.
    let (code, msg) = c.refund("CHTEST0003", &amount, "", &no).await;
    assert_eq!((code, msg.as_str()), (1, "退款成功"));
    assert_eq!(alipay_refund_calls(&c.gw), [no.clone(), no.clone()]);
    assert_eq!(c.gw.alipay.refunds.moved(), [no.as_str()]);
    assert_eq!(order_status(&c.app, 3).await, "refunded");
    assert_eq!(expiry(&c.app, 11).await, "2029-12-11 12:00:00");
    assert_eq!(refund_rows(&c.app).await, 1);
}

#[tokio::test]
async fn a_pending_refund_is_sent_again_by_the_sweep_with_its_number() {
    let c = Console::start(&[]).await;
    let (no, _) = c.refund_form("CHTEST0003").await;
    c.gw.alipay.behaviour.set(sandbox::Behaviour::Canned(
        502,
        vec![],
        "bad gateway".into(),
    ));
    let (_, msg) = c.refund("CHTEST0003", "20", "", &no).await;
    assert!(msg.contains("结果未确定"), "{msg}");
    c.gw.alipay.behaviour.set(sandbox::Behaviour::Normal);
    c.app
        .db
        .run_sql("UPDATE fa_chathub_refund SET next_check_at = 0")
        .await;
    assert_eq!(
        chathub::services::refund::sweep_once(&c.app.app)
            .await
            .unwrap(),
        1
    );
    assert_eq!(c.gw.alipay.refunds.moved(), [no.as_str()]);
    assert_eq!(
        row(&c.app.db, "SELECT status, amount FROM fa_chathub_refund").await,
        ["success", "20.00"]
    );
    // Partial, no days asked for: the order stays paid and the dates stay.
    assert_eq!(order_status(&c.app, 3).await, "paid");
    assert_eq!(expiry(&c.app, 11).await, "2030-01-10 12:00:00");
    // Nothing is left open for the sweep.
    assert_eq!(
        chathub::services::refund::sweep_once(&c.app.app)
            .await
            .unwrap(),
        0
    );
}

async fn post_refund_notice(c: &Console, n: &WechatNotification) -> reqwest::Response {
    let url = c
        .app
        .url("/addons/chathub/index/refundNotify/pay_method/wechat");
    sandbox::wechat::send(&c.app.client, &url, n).await.unwrap()
}

#[tokio::test]
async fn partial_then_full_at_wechat_pay_never_exceeds_what_is_left_and_notices_apply_once() {
    let c = Console::start(&[]).await;
    let keys = fixture_keys();
    let now = c.app.app.clock.epoch();
    assert_eq!(expiry(&c.app, 13).await, "2020-01-01 12:00:00");
    // Partial: ¥20 of ¥60, no days. WeChat Pay only accepts; the notification settles it.
    let (first, offered) = c.refund_form("CHTEST0004").await;
    assert_eq!(offered, "60.00");
    let (code, msg) = c.refund("CHTEST0004", "20", "", &first).await;
    assert_eq!((code, msg.as_str()), (1, "退款已受理，结果将自动更新"));
    let sent: serde_json::Value = serde_json::from_str(
        &c.gw
            .wechat
            .requests
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(_, b)| b.contains("out_refund_no"))
            .unwrap()
            .1,
    )
    .unwrap();
    assert_eq!(sent["out_refund_no"], first.as_str());
    assert_eq!(sent["amount"]["refund"], 2000);
    assert_eq!(sent["amount"]["total"], 6000);
    assert!(
        sent["notify_url"]
            .as_str()
            .unwrap()
            .ends_with("/addons/chathub/index/refundNotify/pay_method/wechat")
    );
    // A forged notice (someone else's signature) is refused and changes nothing.
    let rec = c.gw.wechat.refunds.complete(&first, "SUCCESS").unwrap();
    let mut forged = sandbox::refunds::refund_notification(&keys, &rec, "SUCCESS", now);
    forged.signature = forged.signature.chars().rev().collect();
    assert_eq!(post_refund_notice(&c, &forged).await.status(), 401);
    assert_eq!(
        row(&c.app.db, "SELECT status FROM fa_chathub_refund").await,
        ["processing"]
    );
    let notice = sandbox::refunds::refund_notification(&keys, &rec, "SUCCESS", now);
    for _ in 0..2 {
        // The second is WeChat Pay's retry: acknowledged, applied once.
        let r = post_refund_notice(&c, &notice).await;
        assert_eq!(r.status(), 200);
        let answer: serde_json::Value = r.json().await.unwrap();
        assert_eq!(answer["code"], "SUCCESS");
    }
    assert_eq!(refund_rows(&c.app).await, 1);
    assert_eq!(order_status(&c.app, 4).await, "paid");
    assert_eq!(expiry(&c.app, 13).await, "2020-01-01 12:00:00");
    // More than the ¥40 left is refused before anything is sent.
    let (second, offered) = c.refund_form("CHTEST0004").await;
    assert_eq!(offered, "40.00");
    let calls = c.gw.wechat.refunds.moved().len();
    let (code, msg) = c.refund("CHTEST0004", "40.01", "", &second).await;
    assert_eq!((code, msg.as_str()), (0, "退款金额超过可退金额 ¥40.00"));
    assert_eq!(c.gw.wechat.refunds.moved().len(), calls);
    // The rest: accepted; no notification this time, the worker's query finds it done.
    let (code, _) = c.refund("CHTEST0004", "40", "", &second).await;
    assert_eq!(code, 1);
    c.app
        .db
        .run_sql("UPDATE fa_chathub_refund SET next_check_at = 0")
        .await;
    chathub::services::refund::sweep_once(&c.app.app)
        .await
        .unwrap();
    assert_eq!(
        refund_rows(&c.app).await,
        1,
        "still processing at the gateway"
    );
    c.gw.wechat.refunds.complete(&second, "SUCCESS");
    c.app
        .db
        .run_sql("UPDATE fa_chathub_refund SET next_check_at = 0")
        .await;
    chathub::services::refund::sweep_once(&c.app.app)
        .await
        .unwrap();
    assert_eq!(refund_rows(&c.app).await, 2);
    // Nothing is left: the order is refunded and the renewal's 30 days are taken back.
    assert_eq!(order_status(&c.app, 4).await, "refunded");
    assert_eq!(expiry(&c.app, 13).await, "2019-12-02 12:00:00");
    assert_eq!(c.gw.wechat.refunds.moved(), [first, second.clone()]);
    // A late notice for the second refund finds it applied.
    let rec = c.gw.wechat.refunds.get(&second).unwrap();
    let late = sandbox::refunds::refund_notification(&keys, &rec, "SUCCESS", now);
    assert_eq!(post_refund_notice(&c, &late).await.status(), 200);
    assert_eq!(refund_rows(&c.app).await, 2);
    assert_eq!(expiry(&c.app, 13).await, "2019-12-02 12:00:00");
}

#[tokio::test]
async fn a_closed_refund_frees_its_amount_and_changes_no_dates() {
    let c = Console::start(&[]).await;
    let (no, _) = c.refund_form("CHTEST0004").await;
    assert_eq!(c.refund("CHTEST0004", "60", "", &no).await.0, 1);
    let rec = c.gw.wechat.refunds.complete(&no, "CLOSED").unwrap();
    let n = sandbox::refunds::refund_notification(
        &fixture_keys(),
        &rec,
        "CLOSED",
        c.app.app.clock.epoch(),
    );
    assert_eq!(post_refund_notice(&c, &n).await.status(), 200);
    assert_eq!(
        row(&c.app.db, "SELECT status, note FROM fa_chathub_refund").await,
        ["failed", "CLOSED"]
    );
    assert_eq!(order_status(&c.app, 4).await, "paid");
    assert_eq!(expiry(&c.app, 13).await, "2020-01-01 12:00:00");
    assert_eq!(refund_rows(&c.app).await, 0);
    // The whole amount may be refunded again.
    assert_eq!(c.refund_form("CHTEST0004").await.1, "60.00");
}

#[tokio::test]
async fn refunds_need_a_paid_order_a_valid_form_and_an_admin() {
    let c = Console::start(&[]).await;
    let (no, _) = c.refund_form("CHTEST0003").await;
    for (order, amount, days, request_no, says) in [
        ("CHTEST0001", "60", "", no.as_str(), "只能退款已支付的订单"),
        ("NOPE", "60", "", no.as_str(), "订单不存在"),
        ("CHTEST0003", "abc", "", no.as_str(), "退款金额格式错误"),
        ("CHTEST0003", "-5", "", no.as_str(), "退款金额格式错误"),
        ("CHTEST0003", "10", "x", no.as_str(), "收回天数必须是整数"),
        ("CHTEST0003", "10", "", "../../etc", "退款请求号无效"),
    ] {
        let (code, msg) = c.refund(order, amount, days, request_no).await;
        assert_eq!(code, 0, "{order} {amount}");
        assert!(msg.contains(says), "{msg}");
    }
    assert!(alipay_refund_calls(&c.gw).is_empty());
    assert_eq!(
        count(&c.app.db, "SELECT COUNT(*) FROM fa_chathub_refund").await,
        0
    );
    // Visitors get FastAdmin's login answer.
    let r = c
        .app
        .client
        .post(c.app.url("/addons/chathub/index/refund"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("order=CHTEST0003&amount=50&request_no={no}"))
        .send()
        .await
        .unwrap();
    assert!(!r.text().await.unwrap().contains("退款成功"));
    assert!(alipay_refund_calls(&c.gw).is_empty());
    let page = c
        .app
        .get("/addons/chathub/index/orders")
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("CHTEST0003"));
}

#[tokio::test]
async fn two_admins_refunding_one_order_at_once_refund_it_once() {
    let c = Console::start(&[]).await;
    let (first, amount) = c.refund_form("CHTEST0003").await;
    let (second, _) = c.refund_form("CHTEST0003").await;
    assert_ne!(first, second);
    let (a, b) = tokio::join!(
        c.refund("CHTEST0003", &amount, "", &first),
        c.refund("CHTEST0003", &amount, "", &second)
    );
    let mut answers = [a.1.clone(), b.1.clone()];
    answers.sort();
    assert_eq!(
        answers.iter().filter(|m| *m == "退款成功").count(),
        1,
        "{answers:?}"
    );
    assert!(
        answers
            .iter()
            .any(|m| m.contains("超过可退金额") || m.contains("尚未有结果")),
        "{answers:?}"
    );
    assert_eq!(c.gw.alipay.refunds.moved().len(), 1);
    assert_eq!(alipay_refund_calls(&c.gw).len(), 1);
    assert_eq!(refund_rows(&c.app).await, 1);
    assert_eq!(expiry(&c.app, 11).await, "2029-12-11 12:00:00");
}
