//! Daily reconciliation (COMPAT.md#reconciliation): each gateway's trade bill, generated in
//! its own layout (Alipay: a zip of GBK CSVs behind a short-lived URL; WeChat Pay: a CSV whose
//! SHA-1 is in the signed `tradebill` answer), compared with the orders.

use chathub::services::reconcile::{self, Outcome};
use chathub_tools::sandbox::refunds::{BillLine, alipay_bill_zip, wechat_bill_csv};

use crate::refunds::Console;
use crate::support::pay::*;
use crate::support::{CHATHUB_BIN, SESSION_SECRET, TestApp, count, row};

const DAY: &str = "2026-06-01";

fn day() -> chrono::NaiveDate {
    reconcile::parse_date(DAY).unwrap()
}

async fn renewals(app: &TestApp, tenant: u32) -> i64 {
    count(
        &app.db,
        &format!(
            "SELECT COUNT(*) FROM fa_chathub_log WHERE tenant_id = {tenant} AND action = 'renew'"
        ),
    )
    .await
}

fn kinds(outcome: &Outcome) -> Vec<(String, String)> {
    match outcome {
        Outcome::Done { findings, .. } => findings
            .iter()
            .map(|f| (f.kind.clone(), f.order_no.clone()))
            .collect(),
        other => panic!("{other:?}"),
    }
}

fn matched(outcome: &Outcome) -> u32 {
    match outcome {
        Outcome::Done { matched, .. } => *matched,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn payments_the_notifications_missed_are_credited_once_from_either_bill() {
    let c = Console::start(&[]).await;
    // Both buyers paid; neither notification nor query reached us.
    c.gw.alipay
        .trades
        .pay("CHTEST0001", 6000, "2026060122001400000000000001");
    c.gw.wechat
        .trades
        .pay("CHTEST0005", 6000, "4200000000202606010000000005");
    c.gw.alipay.refunds.set_bill(
        DAY,
        alipay_bill_zip(
            &[
                BillLine::payment("CHTEST0003", "2026060122001400000000000003", 5000),
                BillLine::payment("CHTEST0001", "2026060122001400000000000001", 6000),
            ],
            DAY,
        ),
    );
    c.gw.wechat.refunds.set_bill(
        DAY,
        wechat_bill_csv(
            &fixture_keys(),
            &[
                BillLine::payment("CHTEST0004", "4200000000202606010000000004", 6000),
                BillLine::payment("CHTEST0005", "4200000000202606010000000005", 6000),
            ],
            DAY,
        ),
    );
    let reports = reconcile::run(&c.app.app, day()).await.unwrap();
    assert_eq!(reports.len(), 2);
    let (alipay, wechat) = (&reports[0].outcome, &reports[1].outcome);
    assert_eq!(matched(alipay), 1);
    assert_eq!(
        kinds(alipay),
        [("credited".to_string(), "CHTEST0001".to_string())]
    );
    assert_eq!(matched(wechat), 1);
    assert_eq!(
        kinds(wechat),
        [("credited".to_string(), "CHTEST0005".to_string())]
    );
    assert_eq!(
        row(
            &c.app.db,
            "SELECT status, pay_method, pay_trade_no FROM fa_chathub_order WHERE id = 1"
        )
        .await,
        ["paid", "alipay", "2026060122001400000000000001"]
    );
    assert_eq!(
        row(
            &c.app.db,
            "SELECT status, pay_method FROM fa_chathub_order WHERE id = 5"
        )
        .await,
        ["paid", "wechat"]
    );
    assert_eq!(renewals(&c.app, 11).await, 1);
    assert_eq!(renewals(&c.app, 21).await, 1);
    let page = c.page("/addons/chathub/index/reconcile").await;
    assert!(
        page.contains("漏掉的支付，已补记入账：CHTEST0001"),
        "{page}"
    );
    assert!(
        page.contains("漏掉的支付，已补记入账：CHTEST0005"),
        "{page}"
    );
    // Again, from the command line: everything matches now, and nothing is credited twice.
    let mut cmd = tokio::process::Command::new(CHATHUB_BIN);
    cmd.env_clear()
        .env("CHATHUB_DATABASE_URL", &c.app.db.url)
        .env("CHATHUB_SESSION_SECRET", SESSION_SECRET)
        .args(["reconcile", "--date", DAY]);
    for (k, v) in gateway_env(&c.gw.env(&[])) {
        cmd.env(k, v);
    }
    let out = cmd.output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("alipay 2026-06-01: 2 matched, 0 difference(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("wechat 2026-06-01: 2 matched, 0 difference(s)"),
        "{stdout}"
    );
    assert_eq!(renewals(&c.app, 11).await, 1);
    assert_eq!(renewals(&c.app, 21).await, 1);
    assert_eq!(
        row(
            &c.app.db,
            "SELECT expire_at FROM fa_chathub_tenant WHERE id = 11"
        )
        .await,
        ["2030-02-09 12:00:00"]
    );
}

#[tokio::test]
async fn amount_mismatches_and_missing_rows_are_flagged_and_shown_not_credited() {
    let c = Console::start(&[]).await;
    c.gw.alipay
        .trades
        .pay("CHTEST0001", 6000, "2026060122001400000000000001");
    // ¥6.00 in the bill for the ¥60 order 1; order 3 (paid here that day) is missing; a refund
    // we never made.
    c.gw.alipay.refunds.set_bill(
        DAY,
        alipay_bill_zip(
            &[
                BillLine::payment("CHTEST0001", "2026060122001400000000000001", 600),
                BillLine::refund(
                    "CHTEST0004",
                    "2026060122001400000000000004",
                    1000,
                    "RFELSEWHERE01",
                ),
            ],
            DAY,
        ),
    );
    // WeChat Pay has no bill for the day yet.
    let reports = reconcile::run(&c.app.app, day()).await.unwrap();
    assert_eq!(matched(&reports[0].outcome), 0);
    assert_eq!(
        kinds(&reports[0].outcome),
        [
            ("amount_mismatch".to_string(), "CHTEST0001".to_string()),
            (
                "refund_unknown".to_string(),
                "CHTEST0004 RFELSEWHERE01".to_string()
            ),
            ("not_in_bill".to_string(), "CHTEST0003".to_string()),
        ]
    );
    assert!(
        matches!(&reports[1].outcome, Outcome::Failed(why) if why.contains("NO_STATEMENT_EXIST")),
        "{:?}",
        reports[1]
    );
    // Flagged, not credited.
    assert_eq!(
        row(
            &c.app.db,
            "SELECT status FROM fa_chathub_order WHERE id = 1"
        )
        .await,
        ["pending"]
    );
    assert_eq!(renewals(&c.app, 11).await, 0);
    let page = c.page("/addons/chathub/index/reconcile").await;
    let doc = scraper::Html::parse_document(&page);
    let findings: Vec<String> = doc
        .select(&scraper::Selector::parse(".finding").unwrap())
        .map(|e| e.text().collect())
        .collect();
    assert!(
        findings.contains(
            &"金额不一致（未入账）：CHTEST0001 本站 ¥60.00 pending 账单 ¥6.00".to_string()
        ),
        "{findings:?}"
    );
    assert!(
        findings
            .iter()
            .any(|f| f.starts_with("本站已支付、账单中没有：CHTEST0003")),
        "{findings:?}"
    );
    assert!(page.contains("失败"), "{page}");
    // The operation log and `check --live` say so too.
    assert_eq!(
        row(
            &c.app.db,
            "SELECT status FROM fa_chathub_log WHERE action = 'reconcile_alipay'"
        )
        .await,
        ["failed"]
    );
    let lines = chathub::live::live_report(&c.app.app.config, &c.app.app.clock, 24, None).await;
    let line = lines.iter().find(|l| l.name == "reconciliation").unwrap();
    let shown = format!("{:?}", line.outcome);
    assert!(
        shown.contains("Warn(")
            && shown.contains("2026-06-01 alipay: 3 difference(s)")
            && shown.contains("wechat: failed"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_bill_that_cannot_be_read_changes_nothing_and_the_other_gateway_still_counts() {
    let c = Console::start(&[]).await;
    c.gw.wechat
        .trades
        .pay("CHTEST0005", 6000, "4200000000202606010000000005");
    let good = wechat_bill_csv(
        &fixture_keys(),
        &[BillLine::payment(
            "CHTEST0005",
            "4200000000202606010000000005",
            6000,
        )],
        DAY,
    );
    c.gw.wechat.refunds.set_bill(DAY, good);
    // Alipay's bill is not a zip at all.
    c.gw.alipay
        .refunds
        .set_bill(DAY, b"<html>busy</html>".to_vec());
    let reports = reconcile::run(&c.app.app, day()).await.unwrap();
    assert!(
        matches!(&reports[0].outcome, Outcome::Failed(_)),
        "{:?}",
        reports[0]
    );
    assert_eq!(matched(&reports[1].outcome), 0);
    assert_eq!(kinds(&reports[1].outcome)[0].0, "credited");
    assert_eq!(renewals(&c.app, 21).await, 1);
}

#[tokio::test]
async fn the_daily_job_reconciles_yesterday_once_after_half_past_ten() {
    use chathub::clock::Clock;
    let gw = FakeGateways::start().await;
    gw.alipay
        .trades
        .pay("CHTEST0001", 6000, "2026060122001400000000000001");
    gw.alipay.refunds.set_bill(
        DAY,
        alipay_bill_zip(
            &[
                BillLine::payment("CHTEST0003", "2026060122001400000000000003", 5000),
                BillLine::payment("CHTEST0001", "2026060122001400000000000001", 6000),
            ],
            DAY,
        ),
    );
    let env = gw.env(&[("CHATHUB_PAY_RECONCILE_DAILY", "1".into())]);
    let db = seeded_db().await;
    let at = |utc: &str| {
        Clock::fake(
            chrono::FixedOffset::east_opt(8 * 3600).unwrap(),
            chrono::DateTime::parse_from_rfc3339(utc).unwrap().to_utc(),
        )
    };
    // 09:00 on 2 June, site time: too early for yesterday's bills.
    let app = TestApp::init()
        .on(db)
        .with_envs(&gateway_env(&env))
        .with_clock(at("2026-06-02T01:00:00Z"))
        .spawn()
        .await;
    assert!(app.app.config.pay.reconcile_daily);
    reconcile::daily(&app.app).await.unwrap();
    assert_eq!(
        count(&app.db, "SELECT COUNT(*) FROM fa_chathub_reconcile").await,
        0
    );
    // 11:30: 1 June at each gateway, once.
    let later = chathub::services::app::App::new(
        app.app.config.clone(),
        chathub::db::Db::new(&app.app.config).unwrap(),
        at("2026-06-02T03:30:00Z"),
    );
    reconcile::daily(&later).await.unwrap();
    reconcile::daily(&later).await.unwrap();
    assert_eq!(
        row(
            &app.db,
            "SELECT status, matched FROM fa_chathub_reconcile WHERE pay_method = 'alipay'"
        )
        .await,
        ["done", "1"]
    );
    // WeChat Pay has no bill for the day (and its answers' timestamps are stale for this
    // clock): that run failed, and is tried again an hour later, not on every pass.
    assert_eq!(
        row(
            &app.db,
            "SELECT bill_date, status FROM fa_chathub_reconcile WHERE pay_method = 'wechat'"
        )
        .await,
        ["2026-06-01", "failed"]
    );
    assert_eq!(
        count(
            &app.db,
            "SELECT COUNT(*) FROM fa_chathub_log WHERE action = 'reconcile_wechat'"
        )
        .await,
        1
    );
    assert_eq!(
        row(&app.db, "SELECT status FROM fa_chathub_order WHERE id = 1").await,
        ["paid"]
    );
    assert_eq!(renewals(&app, 11).await, 1);
}
