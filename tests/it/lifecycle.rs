//! The subscription lifecycle on the faked clock: reminders, grace, suspension on expiry
//! through `/suspend`, reactivation on payment through `/activate`, an admin's suspension left
//! alone, two instances calling once, and nothing at all with the settings off.

use std::time::Duration;

use chathub_tools::provision_stub::{ProvisionStub, StubCall, StubMode};

use chathub_tools::compat::php_session::{php_admin_session, php_session_id};

use crate::support::member::recorded_clock;
use crate::support::pay::*;
use crate::support::{TestApp, TestDb, count, eventually, row, start_stub, tenant_status};

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
    let owned: Vec<(&str, String)> = settings.iter().map(|(k, v)| (*k, v.to_string())).collect();
    app_with_owned(db, stub, &owned).await
}

async fn app_with_owned(db: TestDb, stub: &ProvisionStub, settings: &[(&str, String)]) -> TestApp {
    let mut env: Vec<(&str, String)> = vec![
        ("CHATHUB_ADDON_PROVISION_SERVER_URL", stub.url()),
        ("CHATHUB_PROVISION_WORKER", "1".into()),
    ];
    env.extend(settings.iter().cloned());
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

/// Two servers on `db` both at work: each of bob's and alice's tenants ends `status` after one
/// call to `path`, logged once.
async fn two_instances_call_once(db: TestDb, path: &str, status: &str, action: &str) {
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    let first = app_with(db, &stub, &ON).await;
    let second = second_instance(&first, &stub, &ON).await;
    let both = eventually(Duration::from_secs(15), || async {
        tenant_status(&first.db, 21).await == status && tenant_status(&first.db, 11).await == status
    })
    .await;
    assert!(both);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(calls_for(&stub, path, 121).len(), 1);
    assert_eq!(calls_for(&stub, path, 111).len(), 1);
    let logged = format!("SELECT COUNT(*) FROM fa_chathub_log WHERE action = '{action}'");
    assert_eq!(count(&first.db, &logged).await, 2);
    drop(second);
}

#[tokio::test]
async fn two_instances_suspend_each_overdue_tenant_once() {
    let db = site(&date(-5.0), &date(-6.0)).await;
    two_instances_call_once(db, "/suspend", "suspended", "suspend").await;
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

const ADMIN_TOKEN: &str = "0b6c7e38-5d1f-4c1e-9f0a-lifecycle";

/// FastAdmin's admin 1 (all rules), signed in through a PHP session file.
struct Admin {
    dir: tempfile::TempDir,
    sid: String,
}

impl Admin {
    async fn seed(db: &TestDb) -> Admin {
        db.run_sql(&format!(
            "INSERT INTO fa_admin (id, username, nickname, password, salt, loginip, token, status) VALUES \
             (1, 'admin', 'Admin', 'x', 'y', '127.0.0.1', '{ADMIN_TOKEN}', 'normal');\n\
             INSERT INTO fa_auth_group (id, pid, name, rules, status) VALUES (1, 0, 'Admin group', '*', 'normal');\n\
             INSERT INTO fa_auth_group_access (uid, group_id) VALUES (1, 1)"
        ))
        .await;
        let dir = tempfile::tempdir().unwrap();
        let sid = php_session_id();
        std::fs::write(
            dir.path().join(format!("sess_{sid}")),
            php_admin_session(1, "admin", "Admin", ADMIN_TOKEN),
        )
        .unwrap();
        Admin { dir, sid }
    }

    fn env(&self) -> (&'static str, String) {
        (
            "CHATHUB_PHP_SESSION_DIR",
            self.dir.path().to_str().unwrap().to_string(),
        )
    }

    fn request(
        &self,
        app: &TestApp,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        app.client
            .request(method, app.url(path))
            .header("Cookie", format!("PHPSESSID={}", self.sid))
    }

    /// A request as the list page's script sends it.
    async fn ajax(&self, app: &TestApp, method: reqwest::Method, path: &str, form: &str) -> String {
        let r = self
            .request(app, method, path)
            .header("X-Requested-With", "XMLHttpRequest")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form.to_string());
        r.send().await.unwrap().text().await.unwrap()
    }

    /// The list page itself (not its JSON).
    async fn page(&self, app: &TestApp) -> String {
        let r = self.request(app, reqwest::Method::GET, "/addons/chathub/index/index");
        r.send().await.unwrap().text().await.unwrap()
    }

    /// The list's rows for `{"lifecycle": view}` as (id, lifecycle_text).
    async fn list(&self, app: &TestApp, view: &str) -> Vec<(i64, String)> {
        let filter = serde_json::json!({ "lifecycle": view }).to_string();
        let path = format!(
            "/addons/chathub/index/index?filter={}",
            chathub::domain::php::php_urlencode(&filter)
        );
        let body = self.ajax(app, reqwest::Method::GET, &path, "").await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{body}"));
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let id = r["id"]
                    .as_i64()
                    .unwrap_or_else(|| r["id"].as_str().unwrap().parse().unwrap());
                let text = r["lifecycle_text"].as_str().unwrap_or("(none)").to_string();
                (id, text)
            })
            .collect()
    }
}

async fn my_page(app: &TestApp) -> String {
    app.get_with_cookie("/addons/chathub/index/my", &alice_cookie(app))
        .await
        .text()
        .await
        .unwrap()
}

async fn pay(app: &TestApp, order_no: &str, amount: &str) {
    let form = alipay_notification(order_no, amount, "TRADE_SUCCESS", ALIPAY_APP_ID);
    assert_eq!(
        post_alipay(app, &form).await.text().await.unwrap(),
        "success"
    );
}

async fn set_expiry(db: &TestDb, id: u32, at: &str) {
    db.run_sql(&format!(
        "UPDATE fa_chathub_tenant SET expire_at = '{at}' WHERE id = {id}"
    ))
    .await;
}

#[tokio::test]
async fn a_tenant_walks_from_reminder_through_grace_and_suspension_back_to_active_on_payment() {
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    let app = app_with(site(&date(100.0), &date(2.5)).await, &stub, &ON).await;
    let renew = r#"<a class="op renew" href="/addons/chathub/index/renew?id=11">立即续费</a>"#;

    // Active, inside the reminder window.
    let page = my_page(&app).await;
    let reminder = format!("「Alice Shop」将于 {} 到期（3 天内）", &date(2.5)[..10]);
    assert!(page.contains(&reminder), "{page}");
    assert!(page.contains(renew));
    assert!(page.contains(r#"<span class="badge lc">即将到期</span>"#));

    // Expired yesterday: in grace, still running, told when it stops.
    set_expiry(&app.db, 11, &date(-1.0)).await;
    let page = my_page(&app).await;
    let grace = format!("「Alice Shop」已到期，服务将于 {} 暂停", &date(2.0)[..16]);
    assert!(page.contains(&grace), "{page}");
    assert!(page.contains(renew));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(tenant_status(&app.db, 11).await, "active");
    assert!(calls_for(&stub, "/suspend", 111).is_empty());

    // Past the grace period: suspended through /suspend, once.
    set_expiry(&app.db, 11, &date(-3.5)).await;
    let suspended = eventually(Duration::from_secs(15), || async {
        tenant_status(&app.db, 11).await == "suspended"
    })
    .await;
    assert!(suspended);
    assert_eq!(calls_for(&stub, "/suspend", 111).len(), 1);
    assert!(calls_for(&stub, "/activate", 111).is_empty());
    let page = my_page(&app).await;
    assert!(
        page.contains("「Alice Shop」因到期未续费已暂停服务，续费后将自动恢复。"),
        "{page}"
    );
    assert!(page.contains(renew));

    // Paid: back within a worker interval or two, through /activate, once.
    pay(&app, "CHTEST0001", "60.00").await;
    let active = eventually(Duration::from_secs(15), || async {
        tenant_status(&app.db, 11).await == "active"
    })
    .await;
    assert!(active);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let activations = calls_for(&stub, "/activate", 111);
    assert_eq!(activations.len(), 1, "{activations:?}");
    assert_eq!(
        activations[0].header("x-api-key"),
        Some(chathub::config::DEFAULT_PROVISION_API_KEY)
    );
    assert_eq!(calls_for(&stub, "/suspend", 111).len(), 1);
    assert_eq!(
        logs(&app.db, 11).await,
        [
            "suspend success expiry",
            "renew success payment",
            "activate success payment"
        ]
    );
    let expiry = row(
        &app.db,
        "SELECT CAST(expire_at AS CHAR) FROM fa_chathub_tenant WHERE id = 11",
    )
    .await;
    assert!(expiry[0].starts_with(&date(30.0)[..10]), "{expiry:?}");
    assert_eq!(
        row(
            &app.db,
            "SELECT suspended_for IS NULL, paid_at FROM fa_chathub_lifecycle WHERE tenant_id = 11"
        )
        .await,
        ["1", "0"]
    );
    let page = my_page(&app).await;
    assert!(!page.contains("「Alice Shop」"), "{page}");
}

#[tokio::test]
async fn an_admins_suspension_is_not_undone_by_payment_and_shows_as_paid_while_suspended() {
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    let db = site(&date(100.0), &date(20.0)).await;
    let admin = Admin::seed(&db).await;
    let mut settings: Vec<(&str, String)> = ON.iter().map(|(k, v)| (*k, v.to_string())).collect();
    settings.push(admin.env());
    let app = app_with_owned(db, &stub, &settings).await;

    let answer = admin
        .ajax(
            &app,
            reqwest::Method::POST,
            "/addons/chathub/index/suspend",
            "ids=11",
        )
        .await;
    assert!(answer.contains("已暂停"), "{answer}");
    assert_eq!(tenant_status(&app.db, 11).await, "suspended");

    pay(&app, "CHTEST0001", "60.00").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(tenant_status(&app.db, 11).await, "suspended");
    assert!(calls_for(&stub, "/activate", 111).is_empty());
    let expiry = row(
        &app.db,
        "SELECT CAST(expire_at AS CHAR) FROM fa_chathub_tenant WHERE id = 11",
    )
    .await;
    assert!(expiry[0].starts_with(&date(50.0)[..10]), "{expiry:?}");
    assert_eq!(
        admin.list(&app, "paid_suspended").await,
        [(11, "暂停期间已续费".to_string())]
    );
    assert!(admin.list(&app, "suspended_expiry").await.is_empty());
    assert!(
        my_page(&app)
            .await
            .contains("「Alice Shop」已续费，服务仍处于暂停状态，请联系客服恢复。")
    );

    // The admin resumes it by hand: the payment note goes with the suspension.
    let answer = admin
        .ajax(
            &app,
            reqwest::Method::POST,
            "/addons/chathub/index/activate",
            "ids=11",
        )
        .await;
    assert!(answer.contains("已恢复"), "{answer}");
    let cleared = eventually(Duration::from_secs(10), || async {
        count(
            &app.db,
            "SELECT COUNT(*) FROM fa_chathub_lifecycle WHERE tenant_id = 11 AND paid_at = 0",
        )
        .await
            == 1
    })
    .await;
    assert!(cleared);
    assert!(admin.list(&app, "paid_suspended").await.is_empty());
    assert_eq!(
        calls_for(&stub, "/activate", 111).len(),
        1,
        "the admin's own call only"
    );
}

#[tokio::test]
async fn the_admin_list_filters_expiring_and_expired_tenants_only_while_on() {
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    // Bob's expired yesterday (in grace), alice's shop expires in two days.
    let db = site(&date(-1.0), &date(2.0)).await;
    let admin = Admin::seed(&db).await;
    let mut settings: Vec<(&str, String)> = ON.iter().map(|(k, v)| (*k, v.to_string())).collect();
    settings.push(admin.env());
    let app = app_with_owned(db, &stub, &settings).await;
    assert_eq!(
        admin.list(&app, "expiring").await,
        [(11, "即将到期".to_string())]
    );
    assert_eq!(
        admin.list(&app, "expired").await,
        [(21, "宽限期".to_string())]
    );
    let page = admin.page(&app).await;
    assert!(
        page.contains(r#"<option value="suspended_expiry">到期暂停</option>"#),
        "{page}"
    );
    drop(app);

    let db = site(&date(-1.0), &date(2.0)).await;
    let admin = Admin::seed(&db).await;
    let app = app_with_owned(db, &stub, &[admin.env()]).await;
    let all = admin.list(&app, "expiring").await;
    assert_eq!(all.len(), 6, "the key filters nothing: {all:?}");
    assert!(all.iter().all(|(_, text)| text == "(none)"), "{all:?}");
    let page = admin.page(&app).await;
    assert!(!page.contains("lc-filter"));
    assert!(page.contains("&filter=%7B%7D"));
}

#[tokio::test]
async fn two_instances_bring_a_paid_tenant_back_once() {
    let db = site(&date(25.0), &date(28.0)).await;
    // Both suspended by the worker for expiry, then renewed.
    db.run_sql(
        "UPDATE fa_chathub_tenant SET status = 'suspended' WHERE id IN (11, 21);\n\
         INSERT INTO fa_chathub_lifecycle (tenant_id, suspended_for, suspended_at, paid_at) VALUES \
         (11, 'expiry', 1790000000, 1790000100), (21, 'expiry', 1790000000, 1790000100)",
    )
    .await;
    two_instances_call_once(db, "/activate", "active", "activate").await;
}

#[tokio::test]
async fn with_the_settings_off_a_payment_activates_a_suspended_tenant_as_the_original_did() {
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    let db = site(&date(100.0), &date(-10.0)).await;
    db.run_sql("UPDATE fa_chathub_tenant SET status = 'suspended' WHERE id = 11")
        .await;
    let app = app_with(db, &stub, &[]).await;
    pay(&app, "CHTEST0001", "60.00").await;
    assert_eq!(tenant_status(&app.db, 11).await, "active");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(stub.calls().is_empty(), "{:?}", stub.calls());
    assert_eq!(logs(&app.db, 11).await, ["renew success payment"]);
    assert_eq!(
        count(&app.db, "SELECT COUNT(*) FROM fa_chathub_lifecycle").await,
        0
    );
    assert!(!my_page(&app).await.contains("notice"));
}
