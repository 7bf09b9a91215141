//! The subscription lifecycle on the faked clock: reminders, grace, suspension on expiry
//! through `/suspend`, reactivation on payment through `/activate`, an admin's suspension left
//! alone, two instances calling once, and nothing at all with the settings off.

use std::time::Duration;

use chathub_tools::provision_stub::{ProvisionStub, StubCall, StubMode};

use crate::support::member::recorded_clock;
use crate::support::pay::*;
use crate::support::{TestApp, TestDb, count, row, start_stub, tenant_status};

/// Now, on the faked clock (`recorded_clock`), site time.
const NOW: &str = "2026-11-25 07:06:38";

const ON: [(&str, &str); 2] = [
    ("CHATHUB_ADDON_EXPIRY_SUSPEND_AFTER_DAYS", "3"),
    ("CHATHUB_ADDON_EXPIRY_REMIND_DAYS", "7,3,1"),
];

/// The recorded site with inboxes for bob's (21) and alice's (11) tenants, and these expiries.
async fn site(expire_21: &str, expire_11: &str) -> TestDb {
    let db = seeded_db().await;
    db.run_sql(&format!(
        "UPDATE fa_chathub_tenant SET inbox_id = 121, expire_at = '{expire_21}' WHERE id = 21;\n\
         UPDATE fa_chathub_tenant SET inbox_id = 111, expire_at = '{expire_11}' WHERE id = 11"
    ))
    .await;
    db
}

async fn app_with(db: TestDb, stub: &ProvisionStub, settings: &[(&str, &str)]) -> TestApp {
    let mut env: Vec<(&str, String)> = vec![
        ("CHATHUB_ADDON_PROVISION_SERVER_URL", stub.url()),
        ("CHATHUB_PROVISION_WORKER", "1".into()),
    ];
    env.extend(settings.iter().map(|(k, v)| (*k, v.to_string())));
    TestApp::init()
        .on(db)
        .with_envs(&gateway_env(&env))
        .with_clock(recorded_clock())
        .spawn()
        .await
}

/// Another server on the same database.
async fn second_instance(
    first: &TestApp,
    stub: &ProvisionStub,
    settings: &[(&str, &str)],
) -> TestApp {
    let db = TestDb {
        name: format!("{}_unused", first.db.name),
        url: first.db.url.clone(),
        pool: mysql_async::Pool::new(first.db.url.as_str()),
    };
    app_with(db, stub, settings).await
}

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

/// The stub's calls to `path` for `inbox`.
fn calls_for(stub: &ProvisionStub, path: &str, inbox: i64) -> Vec<StubCall> {
    stub.calls()
        .into_iter()
        .filter(|c| c.path == path)
        .filter(|c| {
            serde_json::from_str::<serde_json::Value>(&c.body)
                .ok()
                .and_then(|v| v["inbox_id"].as_i64())
                == Some(inbox)
        })
        .collect()
}

async fn logs(db: &TestDb, tenant: u32) -> Vec<String> {
    let mut c = db.conn().await;
    use mysql_async::prelude::Queryable as _;
    let rows: Vec<(String, String, String)> = c
        .exec(
            "SELECT action, status, operator FROM fa_chathub_log WHERE tenant_id = ? ORDER BY id",
            (tenant,),
        )
        .await
        .unwrap();
    rows.into_iter()
        .map(|(a, s, o)| format!("{a} {s} {o}"))
        .collect()
}

fn date(days_from_now: f64) -> String {
    let now = chrono::NaiveDateTime::parse_from_str(NOW, "%Y-%m-%d %H:%M:%S").unwrap();
    let at = now + chrono::Duration::seconds((days_from_now * 86_400.0) as i64);
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

#[tokio::test]
async fn overdue_tenant_is_suspended_after_grace_and_not_before_even_across_an_outage() {
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    stub.set_mode(StubMode::Down).await;
    // Bob's ran out four days ago (past the three days' grace), alice's two days ago.
    let app = app_with(site(&date(-4.0), &date(-2.0)).await, &stub, &ON).await;

    let failed = eventually(Duration::from_secs(15), || async {
        logs(&app.db, 21).await == ["suspend failed expiry"]
    })
    .await;
    assert!(failed, "{:?}", logs(&app.db, 21).await);
    // The server was down: nothing changed but the schedule.
    assert_eq!(tenant_status(&app.db, 21).await, "active");
    assert_eq!(
        row(
            &app.db,
            "SELECT suspended_for IS NULL, failures FROM fa_chathub_lifecycle WHERE tenant_id = 21"
        )
        .await,
        ["1", "1"]
    );

    stub.set_mode(StubMode::Ok).await;
    // The back-off (a minute) is over once the clock says so.
    app.db
        .run_sql("UPDATE fa_chathub_lifecycle SET next_attempt_at = 0 WHERE tenant_id = 21")
        .await;
    let suspended = eventually(Duration::from_secs(15), || async {
        tenant_status(&app.db, 21).await == "suspended"
    })
    .await;
    assert!(suspended);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let calls = calls_for(&stub, "/suspend", 121);
    let answered: Vec<_> = calls.iter().filter(|c| c.mode == StubMode::Ok).collect();
    assert_eq!(answered.len(), 1, "{calls:?}");
    assert_eq!(
        answered[0].header("x-api-key"),
        Some(chathub::config::DEFAULT_PROVISION_API_KEY)
    );
    let body: serde_json::Value = serde_json::from_str(&answered[0].body).unwrap();
    assert_eq!(body["domain"], "bob-store");
    assert_eq!(
        logs(&app.db, 21).await,
        ["suspend failed expiry", "suspend success expiry"]
    );
    assert_eq!(
        row(&app.db, "SELECT suspended_for, failures, lease_owner IS NULL FROM fa_chathub_lifecycle WHERE tenant_id = 21").await,
        ["expiry", "0", "1"]
    );
    // Alice's is in grace: left running, no call made.
    assert_eq!(tenant_status(&app.db, 11).await, "active");
    assert!(calls_for(&stub, "/suspend", 111).is_empty());
}

#[tokio::test]
async fn two_instances_suspend_each_overdue_tenant_once() {
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    let db = site(&date(-5.0), &date(-6.0)).await;
    let first = app_with(db, &stub, &ON).await;
    let second = second_instance(&first, &stub, &ON).await;
    let both = eventually(Duration::from_secs(15), || async {
        tenant_status(&first.db, 21).await == "suspended"
            && tenant_status(&first.db, 11).await == "suspended"
    })
    .await;
    assert!(both);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(calls_for(&stub, "/suspend", 121).len(), 1);
    assert_eq!(calls_for(&stub, "/suspend", 111).len(), 1);
    assert_eq!(
        count(
            &first.db,
            "SELECT COUNT(*) FROM fa_chathub_log WHERE action = 'suspend'"
        )
        .await,
        2
    );
    drop(second);
}

#[tokio::test]
async fn with_the_settings_off_an_overdue_tenant_keeps_running() {
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    let app = app_with(site(&date(-40.0), &date(-2.0)).await, &stub, &[]).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(tenant_status(&app.db, 21).await, "active");
    assert!(
        stub.calls().iter().all(|c| c.path != "/suspend"),
        "{:?}",
        stub.calls()
    );
    assert_eq!(
        count(&app.db, "SELECT COUNT(*) FROM fa_chathub_lifecycle").await,
        0
    );
    assert_eq!(
        count(&app.db, "SELECT COUNT(*) FROM fa_chathub_log").await,
        0
    );
}
