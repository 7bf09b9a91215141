//! The provisioning worker: a paid tenant always ends provisioned, across provision-server
//! outages and server restarts.

mod pay_support;
mod support;

use std::time::Duration;

use chathub::provision_stub::{ProvisionStub, StubMode};
use pay_support::*;
use support::{TestApp, TestDb, spawn_app_on};

async fn start_stub() -> ProvisionStub {
    ProvisionStub::start(
        "127.0.0.1:0".parse().unwrap(),
        chathub::config::DEFAULT_PROVISION_API_KEY,
    )
    .await
    .unwrap()
}

async fn app_on(db: TestDb, stub: &ProvisionStub, worker: bool) -> TestApp {
    let env = gateway_env(&[
        ("CHATHUB_ADDON_PROVISION_SERVER_URL", stub.url()),
        (
            "CHATHUB_PROVISION_WORKER",
            if worker { "1" } else { "0" }.into(),
        ),
    ]);
    spawn_app_on(db, &env_refs(&env), None).await
}

async fn tenant_status(db: &TestDb, id: u32) -> String {
    row(
        db,
        &format!("SELECT status FROM fa_chathub_tenant WHERE id = {id}"),
    )
    .await[0]
        .clone()
}

/// Poll until `check` holds or `limit` passes.
async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

#[tokio::test]
async fn paid_tenant_is_provisioned_after_the_provision_server_comes_back() {
    let stub = start_stub().await;
    stub.set_mode(StubMode::Down).await;
    let app = app_on(seeded_db().await, &stub, true).await;
    let form = alipay_notification("CHTEST0002", "50.00", "TRADE_SUCCESS", ALIPAY_APP_ID);
    let started = std::time::Instant::now();
    assert_eq!(
        post_alipay(&app, &form).await.text().await.unwrap(),
        "success"
    );
    // The webhook does not wait for the provision server.
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(tenant_status(&app.db, 13).await, "provisioning");

    let failed = eventually(Duration::from_secs(15), || async {
        count(&app.db, "SELECT COUNT(*) FROM fa_chathub_log WHERE tenant_id = 13 AND action = 'reprovision' AND status = 'failed'").await >= 1
    })
    .await;
    assert!(failed, "the worker tried while the server was down");
    assert_eq!(tenant_status(&app.db, 13).await, "provisioning");

    stub.set_mode(StubMode::Ok).await;
    let active = eventually(Duration::from_secs(30), || async {
        tenant_status(&app.db, 13).await == "active"
    })
    .await;
    assert!(active, "tenant provisioned once the server is back");
    let t = row(
        &app.db,
        "SELECT embed_code IS NOT NULL, inbox_id IS NOT NULL FROM fa_chathub_tenant WHERE id = 13",
    )
    .await;
    assert_eq!(t, ["1", "1"]);
    assert_eq!(
        row(&app.db, "SELECT status, detail FROM fa_chathub_log WHERE tenant_id = 13 AND action = 'reprovision' ORDER BY id DESC LIMIT 1").await[0],
        "success"
    );
    // Retries were spaced out, not hammered.
    let failures = count(&app.db, "SELECT COUNT(*) FROM fa_chathub_log WHERE tenant_id = 13 AND action = 'reprovision' AND status = 'failed'").await;
    assert!(failures <= 6, "{failures} attempts");
    assert_eq!(
        count(
            &app.db,
            "SELECT COUNT(*) FROM fa_chathub_log WHERE action = 'renew'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn tenant_left_provisioning_by_a_crash_is_finished_after_restart() {
    let stub = start_stub().await;
    let db = seeded_db().await;
    // State a server killed right after committing the payment leaves behind.
    db.run_sql(
        "UPDATE fa_chathub_order SET status = 'paid', pay_method = 'alipay', pay_trade_no = 'T2', paid_at = '2026-06-01 10:00:00' WHERE id = 2;\n\
         UPDATE fa_chathub_tenant SET status = 'provisioning', expire_at = '2031-01-01 12:00:00' WHERE id = 13",
    )
    .await;
    let app = app_on(db, &stub, true).await;
    let active = eventually(Duration::from_secs(15), || async {
        tenant_status(&app.db, 13).await == "active"
    })
    .await;
    assert!(active);
    // Exactly one provision call for it, with the original's idempotency key.
    let calls = stub.calls();
    let provisions: Vec<_> = calls.iter().filter(|c| c.path == "/provision").collect();
    assert_eq!(provisions.len(), 1, "{calls:?}");
    assert!(
        provisions[0]
            .header("idempotency-key")
            .unwrap()
            .starts_with("reprov-13-")
    );
    assert_eq!(
        row(
            &app.db,
            "SELECT expire_at FROM fa_chathub_tenant WHERE id = 13"
        )
        .await,
        ["2031-01-01 12:00:00"]
    );
}

#[tokio::test]
async fn two_instances_provision_a_tenant_once() {
    let stub = start_stub().await;
    let db = seeded_db().await;
    db.run_sql("UPDATE fa_chathub_tenant SET status = 'provisioning' WHERE id = 13")
        .await;
    let first = app_on(db, &stub, true).await;
    // A second server on the same database.
    let db2 = TestDb {
        name: format!("{}_unused", first.db.name),
        url: first.db.url.clone(),
        pool: mysql_async::Pool::new(first.db.url.as_str()),
    };
    let second = app_on(db2, &stub, true).await;
    let active = eventually(Duration::from_secs(15), || async {
        tenant_status(&first.db, 13).await == "active"
    })
    .await;
    assert!(active);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        count(
            &first.db,
            "SELECT COUNT(*) FROM fa_chathub_log WHERE tenant_id = 13 AND action = 'reprovision'"
        )
        .await,
        1
    );
    drop(second);
}

#[tokio::test]
async fn worker_can_be_turned_off() {
    let stub = start_stub().await;
    let db = seeded_db().await;
    db.run_sql("UPDATE fa_chathub_tenant SET status = 'provisioning' WHERE id = 13")
        .await;
    let app = app_on(db, &stub, false).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(tenant_status(&app.db, 13).await, "provisioning");
    assert!(stub.calls().is_empty());
}
