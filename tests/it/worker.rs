//! The provisioning worker: a paid tenant always ends provisioned, across provision-server
//! outages and server restarts.

use std::time::Duration;

use crate::support::pay::*;
use crate::support::{
    TestApp, TestDb, count, env_refs, eventually, row, start_stub, tenant_status,
};
use chathub_tools::provision_stub::{ProvisionStub, StubMode};

async fn app_on(db: TestDb, stub: &ProvisionStub, worker: bool) -> TestApp {
    worker_app(db, stub, worker, &[]).await
}

async fn worker_app(
    db: TestDb,
    stub: &ProvisionStub,
    worker: bool,
    extra: &[(&str, String)],
) -> TestApp {
    let mut pairs = vec![
        ("CHATHUB_ADDON_PROVISION_SERVER_URL", stub.url()),
        (
            "CHATHUB_PROVISION_WORKER",
            if worker { "1" } else { "0" }.into(),
        ),
    ];
    pairs.extend(extra.iter().cloned());
    gateway_app_on(db, &pairs).await
}

#[tokio::test]
async fn paid_tenant_is_provisioned_after_the_provision_server_comes_back() {
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
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
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
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
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    let db = seeded_db().await;
    db.run_sql(
        "UPDATE fa_chathub_tenant SET status = 'provisioning', expire_at = '2031-01-01 12:00:00' WHERE id = 13",
    )
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
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    let db = seeded_db().await;
    db.run_sql(
        "UPDATE fa_chathub_tenant SET status = 'provisioning', expire_at = '2031-01-01 12:00:00' WHERE id = 13",
    )
    .await;
    let app = app_on(db, &stub, false).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(tenant_status(&app.db, 13).await, "provisioning");
    assert!(stub.calls().is_empty());
}

/// Paid tenants waiting for their resources: `(id, domain)`, each `provisioning`, paid up.
async fn waiting_tenants(db: &TestDb, tenants: &[(u32, String)]) {
    let values: Vec<String> = tenants
        .iter()
        .map(|(id, domain)| {
            format!(
                "({id}, 2, 'Shop {id}', '{domain}', 'shop{id}@example.com', 1, 'web_widget', 'provisioning', '{{\"plan\":\"basic\",\"price\":50}}', '2031-01-01 12:00:00', 1779000000)"
            )
        })
        .collect();
    db.run_sql(&format!(
        "INSERT INTO fa_chathub_tenant (id, user_id, tenant_name, domain, email, max_agents, channel_type, status, config, expire_at, createtime) VALUES {}",
        values.join(",\n")
    ))
    .await;
}

/// A tenant deep in back-off after a long outage: eight failed attempts just now, both as
/// the log shows them and in the schedule.
async fn in_long_backoff(db: &TestDb, id: u32) {
    let now = chrono::Utc::now().timestamp();
    let mut sql = String::new();
    for _ in 0..8 {
        sql.push_str(&format!(
            "INSERT INTO fa_chathub_log (tenant_id, action, detail, status, operator, createtime) VALUES ({id}, 'reprovision', '重试 provision 失败: HTTP 500', 'failed', 'system', {now});\n"
        ));
    }
    sql.push_str(&format!(
        "INSERT INTO fa_chathub_provision_state (tenant_id, failures, next_attempt_at, idempotency_key, updatetime) VALUES ({id}, 8, {}, NULL, {now})",
        now + 256
    ));
    db.run_sql(&sql).await;
}

fn provision_keys(stub: &ProvisionStub, domain: &str) -> Vec<String> {
    stub.calls()
        .iter()
        .filter(|c| {
            c.path == "/provision"
                && c.json()
                    .and_then(|j| j["domain"].as_str().map(str::to_string))
                    == Some(domain.to_string())
        })
        .map(|c| c.header("idempotency-key").unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn tenants_that_keep_failing_do_not_starve_the_ones_behind_them() {
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    let failing: Vec<(u32, String)> = (101..=122).map(|i| (i, format!("fail-{i}"))).collect();
    let good: Vec<(u32, String)> = (201..=205).map(|i| (i, format!("good-{i}"))).collect();
    let names: Vec<&str> = failing.iter().map(|(_, d)| d.as_str()).collect();
    stub.set_failing_domains(&names);
    let db = seeded_db().await;
    waiting_tenants(&db, &failing).await;
    waiting_tenants(&db, &good).await;
    let app = app_on(db, &stub, true).await;
    let all_good = eventually(Duration::from_secs(30), || async {
        count(
            &app.db,
            "SELECT COUNT(*) FROM fa_chathub_tenant WHERE id BETWEEN 201 AND 205 AND status = 'active'",
        )
        .await
            == 5
    })
    .await;
    assert!(
        all_good,
        "paid tenants behind 22 failing ones were not provisioned"
    );
    // The failing ones are still being tried, with back-off, and stay waiting.
    assert_eq!(
        count(
            &app.db,
            "SELECT COUNT(*) FROM fa_chathub_tenant WHERE id BETWEEN 101 AND 122 AND status = 'provisioning'",
        )
        .await,
        22
    );
    assert!(
        count(
            &app.db,
            "SELECT COUNT(DISTINCT tenant_id) FROM fa_chathub_log WHERE action = 'reprovision' AND status = 'failed'",
        )
        .await
            == 22
    );
}

#[tokio::test]
async fn a_success_makes_tenants_in_back_off_due_again() {
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    let db = seeded_db().await;
    waiting_tenants(&db, &[(301, "waited-long".into())]).await;
    in_long_backoff(&db, 301).await;
    let app = app_on(db, &stub, true).await;
    // Not yet: its back-off has minutes to run.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(tenant_status(&app.db, 301).await, "provisioning");
    assert!(stub.calls().is_empty());
    // A newly paid tenant is provisioned: the server works again, so the waiting one is
    // tried within a worker interval or two, not after its back-off.
    waiting_tenants(&app.db, &[(302, "just-paid".into())]).await;
    let both = eventually(Duration::from_secs(15), || async {
        tenant_status(&app.db, 301).await == "active"
            && tenant_status(&app.db, 302).await == "active"
    })
    .await;
    assert!(both, "the waiting tenant sat out its back-off");
}

#[tokio::test]
async fn health_answering_again_makes_tenants_in_back_off_due_again() {
    // The outage: calls go unanswered.
    recovers_within_an_interval_or_two_after(StubMode::Down, false).await;
}

/// Issue 16 #2, an outage the provision server answers (a 500 per call while its Chatwoot is
/// down, `/health` failing too): when `/health` answers again, the tenants in back-off are
/// tried within a worker interval or two, not after their back-off.
#[tokio::test]
async fn health_recovering_after_answered_failures_makes_tenants_in_back_off_due_again() {
    recovers_within_an_interval_or_two_after(StubMode::Http500, true).await;
}

/// An outage (`mode`, with `/health` failing too when `health_down`) during which a tenant
/// fails twice and another waits out a long back-off; then both back-offs are minutes long,
/// the server recovers, and both tenants must be active within 15 s.
async fn recovers_within_an_interval_or_two_after(mode: StubMode, health_down: bool) {
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    stub.set_mode(mode).await;
    stub.set_health_down(health_down);
    let db = seeded_db().await;
    waiting_tenants(&db, &[(301, "waited-long".into())]).await;
    in_long_backoff(&db, 301).await;
    waiting_tenants(&db, &[(302, "during-outage".into())]).await;
    let app = app_on(db, &stub, true).await;
    let tried = eventually(Duration::from_secs(15), || async {
        count(
            &app.db,
            "SELECT COUNT(*) FROM fa_chathub_log WHERE tenant_id = 302 AND status = 'failed'",
        )
        .await
            >= 2
    })
    .await;
    assert!(tried);
    // A long outage: the second tenant's back-off too has grown to minutes by now.
    app.db
        .run_sql(&format!(
            "UPDATE fa_chathub_provision_state SET next_attempt_at = {} WHERE tenant_id = 302",
            chrono::Utc::now().timestamp() + 256
        ))
        .await;
    stub.set_mode(StubMode::Ok).await;
    stub.set_health_down(false);
    let back = std::time::Instant::now();
    let active = eventually(Duration::from_secs(15), || async {
        tenant_status(&app.db, 301).await == "active"
            && tenant_status(&app.db, 302).await == "active"
    })
    .await;
    assert!(
        active,
        "recovery did not follow the outage (waited {:?})",
        back.elapsed()
    );
}

#[tokio::test]
async fn an_answered_failure_is_retried_with_a_new_key_so_the_servers_cache_does_not_replay_it() {
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    stub.cache_like_upstream(true);
    stub.set_mode(StubMode::Http500).await;
    let db = seeded_db().await;
    waiting_tenants(&db, &[(401, "chatwoot-outage".into())]).await;
    let app = app_on(db, &stub, true).await;
    let failed_twice = eventually(Duration::from_secs(20), || async {
        provision_keys(&stub, "chatwoot-outage").len() >= 3
    })
    .await;
    assert!(failed_twice);
    stub.set_mode(StubMode::Ok).await;
    let active = eventually(Duration::from_secs(30), || async {
        tenant_status(&app.db, 401).await == "active"
    })
    .await;
    let keys = provision_keys(&stub, "chatwoot-outage");
    assert!(active, "the cached failure was replayed: keys {keys:?}");
    // The first attempt sends the original's key; each answered failure moves to a new one.
    assert_eq!(
        keys[0],
        chathub::services::provisioning::reprovision_key(
            chathub::domain::tenant::TenantId(401),
            "chatwoot-outage",
            "web_widget"
        )
    );
    let distinct: std::collections::BTreeSet<_> = keys.iter().collect();
    assert_eq!(distinct.len(), keys.len(), "{keys:?}");
    // No replayed failure was ever answered.
    assert!(
        stub.calls()
            .iter()
            .all(|c| c.response_status != Some(200) || !c.response_body.contains("\"error\"")),
        "{:?}",
        stub.calls()
    );
}

#[tokio::test]
async fn an_unanswered_call_is_retried_with_the_same_key_within_the_configured_bound() {
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    stub.set_hang_for(Duration::from_secs(60));
    stub.set_mode(StubMode::Hang).await;
    let db = seeded_db().await;
    waiting_tenants(&db, &[(501, "slow-server".into())]).await;
    let app = worker_app(
        db,
        &stub,
        true,
        &[("CHATHUB_PROVISION_CALL_TIMEOUT_SECS", "2".into())],
    )
    .await;
    let started = std::time::Instant::now();
    // One setting bounds the worker's call too (it used to wait 30 s).
    let timed_out = eventually(Duration::from_secs(12), || async {
        count(
            &app.db,
            "SELECT COUNT(*) FROM fa_chathub_log WHERE tenant_id = 501 AND status = 'failed' AND detail LIKE '%Operation timed out after%'",
        )
        .await
            >= 1
    })
    .await;
    assert!(
        timed_out,
        "no timed-out attempt after {:?}",
        started.elapsed()
    );
    stub.set_mode(StubMode::Ok).await;
    let active = eventually(Duration::from_secs(20), || async {
        tenant_status(&app.db, 501).await == "active"
    })
    .await;
    assert!(active);
    // The server may have done the work of the unanswered call: the retry asks with the
    // same key, so it returns that work instead of creating a second inbox.
    let keys = provision_keys(&stub, "slow-server");
    assert!(keys.len() >= 2, "{keys:?}");
    assert!(keys.iter().all(|k| k == &keys[0]), "{keys:?}");
}

#[tokio::test]
async fn suspended_disabled_and_expired_tenants_are_never_provisioned() {
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    let db = seeded_db().await;
    db.run_sql(
        "INSERT INTO fa_chathub_tenant (id, user_id, tenant_name, domain, email, max_agents, channel_type, status, config, expire_at, createtime) VALUES
         (601, 2, 'Expired', 'expired', 'a@example.com', 1, 'web_widget', 'provisioning', '{}', '2020-01-01 12:00:00', 1779000000),
         (602, 2, 'Suspended', 'suspended', 'a@example.com', 1, 'web_widget', 'suspended', '{\"provision_retry\":3}', '2031-01-01 12:00:00', 1779000000),
         (603, 2, 'Disabled', 'disabled', 'a@example.com', 1, 'web_widget', 'disabled', '{\"provision_retry\":3}', '2031-01-01 12:00:00', 1779000000),
         (604, 2, 'Expired retry', 'expired-retry', 'a@example.com', 1, 'web_widget', 'pending', '{\"provision_retry\":3}', '2020-01-01 12:00:00', 1779000000)",
    )
    .await;
    waiting_tenants(&db, &[(605, "paid-up".into())]).await;
    let app = app_on(db, &stub, true).await;
    assert!(
        eventually(Duration::from_secs(15), || async {
            tenant_status(&app.db, 605).await == "active"
        })
        .await
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let domains: Vec<String> = stub
        .calls()
        .iter()
        .filter_map(|c| c.json()?["domain"].as_str().map(str::to_string))
        .collect();
    assert_eq!(domains, ["paid-up"]);
    for (id, status) in [
        (601, "provisioning"),
        (602, "suspended"),
        (603, "disabled"),
        (604, "pending"),
    ] {
        assert_eq!(tenant_status(&app.db, id).await, status);
    }
    assert_eq!(
        count(
            &app.db,
            "SELECT COUNT(*) FROM fa_chathub_log WHERE tenant_id BETWEEN 601 AND 604"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn shutdown_abandons_a_hanging_call_and_the_tenant_is_finished_after_restart() {
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    stub.set_hang_for(Duration::from_secs(120));
    stub.set_mode(StubMode::Hang).await;
    let db = seeded_db().await;
    waiting_tenants(&db, &[(701, "never-answers".into())]).await;
    let env = gateway_env(&[
        ("CHATHUB_ADDON_PROVISION_SERVER_URL", stub.url()),
        ("CHATHUB_PROVISION_WORKER", "1".into()),
        // The longest bound there is: shutdown must not wait for it.
        ("CHATHUB_PROVISION_CALL_TIMEOUT_SECS", "55".into()),
    ]);
    let config = crate::support::test_config(&db, &env_refs(&env));
    let clock = chathub::clock::Clock::system(config.timezone);
    let application = chathub::startup::Application::build(config, clock)
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until(async move {
        let _ = rx.await;
    }));
    let calling = eventually(Duration::from_secs(15), || async {
        !provision_keys(&stub, "never-answers").is_empty()
    })
    .await;
    assert!(calling);
    let started = std::time::Instant::now();
    tx.send(()).unwrap();
    // At once: within the 5 s the server gives a stuck worker before aborting it.
    let stopped = tokio::time::timeout(Duration::from_secs(4), server).await;
    assert!(
        stopped.is_ok(),
        "shutdown still waiting on the provision server after {:?}",
        started.elapsed()
    );
    // Nothing half-written: the tenant waits as before, no failure was invented.
    assert_eq!(tenant_status(&db, 701).await, "provisioning");
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM fa_chathub_log WHERE tenant_id = 701"
        )
        .await,
        0
    );

    // After the restart the tenant is finished, asking with the same key (the abandoned
    // call may have done the work).
    stub.set_mode(StubMode::Ok).await;
    let app = app_on(db, &stub, true).await;
    assert!(
        eventually(Duration::from_secs(15), || async {
            tenant_status(&app.db, 701).await == "active"
        })
        .await
    );
    let keys = provision_keys(&stub, "never-answers");
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(keys[0], keys[1]);
}

/// Issue 15 #3: provision calls hold no database connection. With a pool of two, the worker's
/// four attempts and a member's `reprovision`, all hanging on the provision server, leave the
/// pool to everyone else (each used to hold a pooled connection, and its named lock, for the
/// whole call).
#[tokio::test]
async fn hanging_provision_calls_leave_the_pool_to_members() {
    let stub = start_stub(crate::support::PROVISION_KEY).await;
    stub.set_hang_for(Duration::from_secs(60));
    stub.set_mode(StubMode::Hang).await;
    let db = seeded_db().await;
    let waiting: Vec<(u32, String)> = (40..46).map(|id| (id, format!("hang{id}"))).collect();
    waiting_tenants(&db, &waiting).await;
    db.run_sql(
        "UPDATE fa_chathub_tenant SET status = 'pending', embed_code = NULL, expire_at = '2031-01-01 12:00:00' WHERE id = 13",
    )
    .await;
    let app = worker_app(
        db,
        &stub,
        true,
        &[
            ("CHATHUB_DB_POOL_MAX", "2".into()),
            ("CHATHUB_PROVISION_CALL_TIMEOUT_SECS", "50".into()),
        ],
    )
    .await;
    let cookie = alice_cookie(&app);
    // The member's reprovision of tenant 13 waits on the provision server too.
    let confirm = app
        .client
        .get(app.url("/addons/chathub/index/reprovision?ids=13"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = confirm
        .split("name=\"__token__\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no token in the confirmation form: {confirm}"))
        .to_string();
    let (client, url, member) = (
        app.client.clone(),
        app.url("/addons/chathub/index/reprovision?ids=13"),
        cookie.clone(),
    );
    let reprovision = tokio::spawn(async move {
        client
            .post(url)
            .header("Cookie", member)
            .form(&[("__token__", token)])
            .send()
            .await
            .map(|r| r.status())
    });
    let reached = eventually(Duration::from_secs(20), || async {
        stub.calls().len() >= 5
    })
    .await;
    assert!(
        reached,
        "the worker's 4 attempts and the member's did not all reach the provision server: {} calls",
        stub.calls().len()
    );
    for page in [
        "/addons/chathub/index/my",
        "/addons/chathub/index/changePassword",
    ] {
        let started = std::time::Instant::now();
        let resp = app
            .client
            .get(app.url(page))
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap();
        let took = started.elapsed();
        assert_eq!(resp.status(), 200, "{page}");
        assert!(took < Duration::from_secs(5), "{page} waited {took:?}");
    }
    assert!(
        !reprovision.is_finished(),
        "the member's reprovision is still waiting"
    );
    reprovision.abort();
}
