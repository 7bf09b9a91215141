//! `chathub check --live`: after the switch, what the tables and a running server say.

use crate::support::{SESSION_SECRET, spawn_app};

#[tokio::test]
async fn live_check_reports_webhooks_backlog_stuck_tenants_and_error_rates() {
    let app = spawn_app(&[]).await;
    app.db
        .run_sql(
            "INSERT INTO fa_chathub_log (tenant_id, action, detail, status, operator, createtime) VALUES \
             (0, 'pay_notify_alipay', 'a', 'success', 'system', UNIX_TIMESTAMP()), \
             (0, 'pay_notify_alipay', 'b', 'failed', 'system', UNIX_TIMESTAMP()), \
             (0, 'pay_notify_wechat', 'c', 'success', 'system', UNIX_TIMESTAMP() - 200000), \
             (7, 'reprovision', 'x', 'failed', 'system', UNIX_TIMESTAMP() - 7200), \
             (9, 'register', 'signed up', 'failed', 'website', UNIX_TIMESTAMP() - 7200), \
             (9, 'reprovision', 'retry', 'failed', 'system', UNIX_TIMESTAMP() - 60), \
             (8, 'reprovision', 'asked again', 'failed', 'Alice', UNIX_TIMESTAMP() - 60);\n\
             INSERT INTO fa_chathub_tenant (id, tenant_name, domain, email, status, config, updatetime) VALUES \
             (7, 'Stuck', 'stuck', 's@example.com', 'provisioning', '{}', UNIX_TIMESTAMP() - 7200), \
             (8, 'Fresh', 'fresh', 'f@example.com', 'provisioning', '{}', UNIX_TIMESTAMP()), \
             (9, 'Retried', 'retried', 'r@example.com', 'provisioning', '{}', UNIX_TIMESTAMP() - 60);\n",
        )
        .await;
    app.get("/addons/chathub/index/landing").await;
    let out = tokio::process::Command::new(crate::support::CHATHUB_BIN)
        .env_clear()
        .env("CHATHUB_DATABASE_URL", &app.db.url)
        .env("CHATHUB_SESSION_SECRET", SESSION_SECRET)
        .args([
            "check",
            "--live",
            "--hours",
            "24",
            "--metrics-url",
            &app.url("/metrics"),
        ])
        .output()
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a stuck tenant is a failure: {report}"
    );
    assert!(
        report.contains("WARN webhooks: alipay: 1 verified, 1 refused"),
        "{report}"
    );
    assert!(
        !report.contains("wechat"),
        "older than the window: {report}"
    );
    assert!(
        report.contains("WARN provisioning backlog: 3 tenant(s) wait for the worker"),
        "{report}"
    );
    assert!(
        // Tenant 9 signed up two hours ago; the worker's retry a minute ago does not make it fresh.
        report.contains("FAIL stuck tenants: in provisioning for over an hour: tenant ids [7, 9]"),
        "{report}"
    );
    assert!(
        report.contains(
            "WARN provisioning failures: register: 1 failed; reprovision: 1 failed; worker retries: 2 failed"
        ),
        "{report}"
    );
    assert!(
        report.contains("ok   error rates: no server errors"),
        "{report}"
    );
    assert!(
        report.contains("ok   trusted_proxies: no request forwarded by an untrusted proxy"),
        "{report}"
    );
}

/// Issue 15 #5: behind an nginx that `trusted_proxies` does not name, every member is the
/// proxy's address. The running server counts such requests and `check --live` fails on them.
#[tokio::test]
async fn live_check_fails_when_a_proxy_forwards_requests_it_does_not_trust() {
    let app = spawn_app(&[]).await;
    for _ in 0..3 {
        let r = crate::support::TestApp::new_client()
            .get(app.url("/addons/chathub/index/landing"))
            .header("X-Forwarded-For", "198.51.100.7")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("chathub_untrusted_forwarded_total 3"),
        "{metrics}"
    );
    let out = tokio::process::Command::new(crate::support::CHATHUB_BIN)
        .env_clear()
        .env("CHATHUB_DATABASE_URL", &app.db.url)
        .env("CHATHUB_SESSION_SECRET", SESSION_SECRET)
        .args(["check", "--live", "--metrics-url", &app.url("/metrics")])
        .output()
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains("FAIL trusted_proxies: 3 request(s) carried X-Forwarded-For"),
        "{report}"
    );
}

#[tokio::test]
async fn live_check_prints_stored_control_characters_escaped() {
    let app = spawn_app(&[]).await;
    // Anyone can make a `payNotify` path (and so a logged method) hold an escape sequence.
    let r = app
        .client
        .post(app.url("/addons/chathub/index/payNotify/pay_method/x%1B%5B2J%1B%5D0%3Bpwned%07%0D"))
        .body("a=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "fail");
    app.db
        .run_sql(
            "INSERT INTO fa_chathub_log (tenant_id, action, detail, status, operator, createtime) VALUES \
             (0, CONCAT('pay_notify_', CHAR(27), '[31mred'), 'b', 'failed', 'system', UNIX_TIMESTAMP());\n",
        )
        .await;
    let out = tokio::process::Command::new(crate::support::CHATHUB_BIN)
        .env_clear()
        .env("CHATHUB_DATABASE_URL", &app.db.url)
        .env("CHATHUB_SESSION_SECRET", SESSION_SECRET)
        .args(["check", "--live", "--hours", "24"])
        .output()
        .await
        .unwrap();
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(
        !report.chars().any(|c| c.is_control() && c != '\n'),
        "raw control characters reached the terminal: {report:?}"
    );
    assert!(
        report.contains("x\\u{1b}[2J\\u{1b}]0;pwned\\u{7}\\u{d}: 0 verified, 1 refused"),
        "{report}"
    );
    assert!(
        report.contains("\\u{1b}[31mred: 0 verified, 1 refused"),
        "{report}"
    );
}
