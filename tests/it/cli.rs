//! `chathub check` and config validation, run as the built binary the operator runs.

use crate::support::{TestDb, start_stub};
use chathub::config::DEFAULT_PROVISION_API_KEY;
use mysql_async::prelude::*;
use rsa::PrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Output {
    fn line(&self, name: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l[4..].trim_start().starts_with(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no line for {name} in\n{}", self.stdout))
    }
}

async fn chathub(args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = tokio::process::Command::new(crate::support::CHATHUB_BIN)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .await
        .expect("run chathub");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A database as a site has it after `chathub migrate`.
async fn migrated_db() -> TestDb {
    let db = TestDb::with_schema().await;
    let mut c = db.conn().await;
    chathub::db::schema::migrate(&mut c, "fa_", false)
        .await
        .unwrap();
    db
}

fn base_env<'a>(db: &'a TestDb, provision: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("CHATHUB_DATABASE_URL", db.url.as_str()),
        ("CHATHUB_SESSION_SECRET", crate::support::SESSION_SECRET),
        ("CHATHUB_ADDON_PROVISION_SERVER_URL", provision),
        ("CHATHUB_PUBLIC_BASE_URL", "https://shop.example.com"),
        // Any readable directory stands for PHP's session.save_path here.
        ("CHATHUB_PHP_SESSION_DIR", env!("CARGO_MANIFEST_DIR")),
    ]
}

/// Issue 20 #6: what breaks a real site after the switch is a FAIL before it.
#[tokio::test]
async fn check_fails_without_admin_recognition_or_with_a_loopback_public_url() {
    let db = migrated_db().await;
    let stub = start_stub(DEFAULT_PROVISION_API_KEY).await;
    let url = stub.url();
    let without = |drop: &[&str]| {
        base_env(&db, &url)
            .into_iter()
            .filter(|(k, _)| !drop.contains(k))
            .collect::<Vec<_>>()
    };
    let out = chathub(
        &["check"],
        &without(&["CHATHUB_PHP_SESSION_DIR", "CHATHUB_PUBLIC_BASE_URL"]),
    )
    .await;
    let admin = out.line("admin recognition");
    assert!(
        admin.starts_with("WARN") && admin.contains("请登录后再操作"),
        "{admin}"
    );
    // The default public_base_url is the listen address: loopback (payments off: a warning).
    let base = out.line("public_base_url");
    assert!(
        base.starts_with("WARN") && base.contains("loopback") && base.contains("notify_url"),
        "{base}"
    );
    let mut env = without(&["CHATHUB_PHP_SESSION_DIR", "CHATHUB_PUBLIC_BASE_URL"]);
    env.push(("CHATHUB_PHP_SESSION_DIR", "/nonexistent/php/sessions"));
    env.push(("CHATHUB_PUBLIC_BASE_URL", "http://localhost:8080"));
    env.push(("CHATHUB_ADDON_ALIPAY_ENABLED", "1"));
    let out = chathub(&["check"], &env).await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    let admin = out.line("admin recognition");
    assert!(
        admin.starts_with("FAIL") && admin.contains("/nonexistent/php/sessions"),
        "{admin}"
    );
    assert!(
        out.line("public_base_url").starts_with("FAIL"),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn a_ready_site_passes_every_check() {
    let db = migrated_db().await;
    let stub = start_stub(DEFAULT_PROVISION_API_KEY).await;
    let url = stub.url();
    let out = chathub(&["check"], &base_env(&db, &url)).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for name in [
        "config",
        "database",
        "schema",
        "fa_user.password",
        "fa_user.username",
        "provision",
        "alipay",
        "wechat",
    ] {
        assert!(out.line(name).starts_with("ok"), "{}", out.stdout);
    }
    assert!(out.line("alipay").ends_with("disabled"));
    // No AES key: a warning, not a failure.
    let aes = out.line("gateway_aes_key");
    assert!(
        aes.starts_with("WARN") && aes.contains("plain JSON"),
        "{aes}"
    );
    assert_eq!(stub.calls()[0].path, "/health");
    // Issue 15 #5: the default (no trusted proxy) is said loudly, since behind nginx it
    // makes every member nginx's address.
    let proxies = out.line("trusted_proxies");
    assert!(
        proxies.starts_with("WARN") && proxies.contains("nginx's address"),
        "{proxies}"
    );
    let mut env = base_env(&db, &url);
    env.push(("CHATHUB_TRUSTED_PROXIES", "127.0.0.1"));
    let out = chathub(&["check"], &env).await;
    assert!(
        out.line("trusted_proxies").starts_with("ok"),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn stock_fastadmin_schema_fails_on_the_narrow_password_column() {
    let db = TestDb::with_schema().await; // stock fa_user: password varchar(32)
    let stub = start_stub(DEFAULT_PROVISION_API_KEY).await;
    let url = stub.url();
    let out = chathub(&["check"], &base_env(&db, &url)).await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    let l = out.line("fa_user.password");
    assert!(l.starts_with("FAIL"), "{l}");
    assert!(
        l.contains("varchar(32)") && l.contains("chathub migrate"),
        "{l}"
    );
    assert!(out.line("schema").starts_with("ok"), "{}", out.stdout);
    let u = out.line("fa_user.username");
    assert!(u.starts_with("WARN") && u.contains("varchar(32)"), "{u}");
}

#[tokio::test]
async fn schema_differences_are_listed() {
    let db = migrated_db().await;
    let mut c = db.conn().await;
    c.query_drop("DROP TABLE fa_chathub_gateway_log")
        .await
        .unwrap();
    c.query_drop("ALTER TABLE fa_chathub_tenant DROP COLUMN max_agents, MODIFY `status` enum('pending','active','suspended','disabled') NOT NULL DEFAULT 'pending'")
        .await
        .unwrap();
    let stub = start_stub(DEFAULT_PROVISION_API_KEY).await;
    let url = stub.url();
    let out = chathub(&["check"], &base_env(&db, &url)).await;
    assert_eq!(out.code, 1);
    let l = out.line("schema");
    assert!(l.starts_with("FAIL"), "{l}");
    for part in [
        "table fa_chathub_gateway_log missing",
        "fa_chathub_tenant.max_agents missing",
        "fa_chathub_tenant.status enum differs (missing [\"provisioning\"]",
    ] {
        assert!(l.contains(part), "{part} not in {l}");
    }
}

#[tokio::test]
async fn unreachable_services_fail_with_the_reason() {
    let db = migrated_db().await;
    // Nothing listens on port 9 (discard) on a test machine.
    let out = chathub(
        &["check"],
        &[
            (
                "CHATHUB_DATABASE_URL",
                "mysql://root@127.0.0.1:9/chathub_none",
            ),
            ("CHATHUB_SESSION_SECRET", crate::support::SESSION_SECRET),
            ("CHATHUB_ADDON_PROVISION_SERVER_URL", "http://127.0.0.1:9"),
        ],
    )
    .await;
    assert_eq!(out.code, 1);
    assert!(out.line("database").starts_with("FAIL"), "{}", out.stdout);
    assert!(out.line("schema").contains("not checked"));
    let p = out.line("provision");
    assert!(
        p.starts_with("FAIL") && p.contains("http://127.0.0.1:9/health"),
        "{p}"
    );
    drop(db);
}

/// The unit's start gate: a silent provision server must not keep the site (sign-in,
/// payment notifications) down; everything else still fails the start.
#[tokio::test]
async fn before_start_a_silent_provision_server_only_warns() {
    let db = migrated_db().await;
    let env = base_env(&db, "http://127.0.0.1:9");
    let plain = chathub(&["check"], &env).await;
    assert_eq!(plain.code, 1, "{}", plain.stdout);
    assert!(
        plain.line("provision").starts_with("FAIL"),
        "{}",
        plain.stdout
    );
    let gate = chathub(&["check", "--before-start"], &env).await;
    assert_eq!(gate.code, 0, "{}\n{}", gate.stdout, gate.stderr);
    let p = gate.line("provision");
    assert!(
        p.starts_with("WARN") && p.contains("127.0.0.1:9/health"),
        "{p}"
    );
    // A database that is not there still fails the start.
    let mut no_db = env.clone();
    no_db.push((
        "CHATHUB_DATABASE_URL",
        "mysql://root@127.0.0.1:9/chathub_none",
    ));
    let gate = chathub(&["check", "--before-start"], &no_db).await;
    assert_eq!(gate.code, 1, "{}", gate.stdout);
    assert!(gate.line("database").starts_with("FAIL"), "{}", gate.stdout);
}

#[tokio::test]
async fn payment_keys_are_parsed_when_payments_are_enabled() {
    let db = migrated_db().await;
    let stub = start_stub(DEFAULT_PROVISION_API_KEY).await;
    let url = stub.url();
    let merchant = PrivateKey::new(&mut getrandom::SysRng, 1024).unwrap();
    let platform = PrivateKey::new(&mut getrandom::SysRng, 1024).unwrap();
    let pkcs1_pem = merchant.to_pkcs1_pem(LineEnding::LF).unwrap().to_string();
    let pkcs8_bare: String = merchant
        .to_pkcs8_pem(LineEnding::LF)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let public_pem = platform
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();

    for private in [pkcs1_pem.as_str(), pkcs8_bare.as_str()] {
        let mut env = base_env(&db, &url);
        env.extend([
            ("CHATHUB_ADDON_ALIPAY_ENABLED", "1"),
            ("CHATHUB_ADDON_ALIPAY_APP_ID", "9021000100000001"),
            ("CHATHUB_ADDON_ALIPAY_MERCHANT_PRIVATE_KEY", private),
            ("CHATHUB_ADDON_ALIPAY_PUBLIC_KEY", public_pem.as_str()),
        ]);
        let out = chathub(&["check"], &env).await;
        assert_eq!(out.code, 0, "{}", out.stdout);
        assert_eq!(out.line("alipay"), "ok   alipay: keys parse");
    }

    let mut env = base_env(&db, &url);
    env.extend([
        ("CHATHUB_ADDON_ALIPAY_ENABLED", "1"),
        ("CHATHUB_ADDON_ALIPAY_APP_ID", "9021000100000001"),
        (
            "CHATHUB_ADDON_ALIPAY_MERCHANT_PRIVATE_KEY",
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC-broken",
        ),
        ("CHATHUB_ADDON_ALIPAY_PUBLIC_KEY", ""),
        ("CHATHUB_ADDON_WECHAT_ENABLED", "1"),
        ("CHATHUB_ADDON_WECHAT_APP_ID", "wx0000000000000001"),
        ("CHATHUB_ADDON_WECHAT_MCH_ID", "1900000001"),
        (
            "CHATHUB_ADDON_WECHAT_API_V3_KEY",
            "0123456789abcdef0123456789abcdef",
        ),
        (
            "CHATHUB_ADDON_WECHAT_CERT_PATH",
            "/nonexistent/apiclient_cert.pem",
        ),
        (
            "CHATHUB_ADDON_WECHAT_KEY_PATH",
            "/nonexistent/apiclient_key.pem",
        ),
    ]);
    let out = chathub(&["check"], &env).await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    let a = out.line("alipay");
    assert!(a.starts_with("FAIL"), "{a}");
    assert!(a.contains("alipay_merchant_private_key") && a.contains("alipay_public_key: empty"));
    let w = out.line("wechat");
    assert!(
        w.contains("wechat_cert_path: cannot read") && w.contains("wechat_key_path: cannot read"),
        "{w}"
    );
    // Nothing secret is echoed.
    assert!(!out.stdout.contains("0123456789abcdef0123456789abcdef"));
}

#[tokio::test]
async fn print_config_masks_secrets() {
    let db = migrated_db().await;
    let stub = start_stub(DEFAULT_PROVISION_API_KEY).await;
    let url = stub.url();
    let with_password = db.url.replacen("mysql://root@", "mysql://root:hunter2@", 1);
    let mut env = base_env(&db, &url);
    env[0].1 = &with_password;
    env.push(("CHATHUB_ADDON_WECHAT_API_V3_KEY", "v3-key-very-secret"));
    env.push(("CHATHUB_ADDON_SITE_NAME", "Acme客服"));
    let out = chathub(&["check", "--print-config"], &env).await;
    assert!(
        out.stdout.contains("addon.site_name = Acme客服"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("database_url = mysql://root:******@"));
    for secret in [
        "hunter2",
        crate::support::SESSION_SECRET,
        "v3-key-very-secret",
    ] {
        assert!(!out.stdout.contains(secret), "{secret} leaked");
        assert!(!out.stderr.contains(secret), "{secret} leaked");
    }
}

#[tokio::test]
async fn invalid_config_lists_every_problem_with_its_key() {
    let env = [
        ("CHATHUB_LISTEN", "not-an-address"),
        ("CHATHUB_GATEWAY_AES_KEY", "AAAA"),
        ("CHATHUB_ADDON_ALIPAY_ENABLED", "maybe"),
        ("CHATHUB_ADDON_PROVISION_SERVER_URL", "ftp://x"),
    ];
    let out = chathub(&["check"], &env).await;
    assert_eq!(out.code, 1);
    for key in [
        "listen",
        "database_url",
        "session_secret",
        "gateway_aes_key",
        "addon.alipay_enabled",
        "addon.provision_server_url",
    ] {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with("FAIL config: ") && l.contains(key)),
            "{key} missing in\n{}",
            out.stdout
        );
    }
}

#[tokio::test]
async fn serve_refuses_an_invalid_config_before_binding() {
    // Hold the port: if serve got as far as binding, it would say "cannot listen".
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = held.local_addr().unwrap().to_string();
    let out = chathub(
        &["serve"],
        &[
            ("CHATHUB_LISTEN", listen.as_str()),
            ("CHATHUB_DATABASE_URL", "postgres://nope"),
            ("CHATHUB_SESSION_SECRET", "short"),
            ("CHATHUB_TIMEZONE", "Mars/Olympus"),
        ],
    )
    .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("invalid configuration"),
        "{}",
        out.stderr
    );
    for key in ["database_url", "session_secret", "timezone"] {
        assert!(out.stderr.contains(key), "{key} missing in {}", out.stderr);
    }
    assert!(!out.stderr.contains("cannot listen"), "{}", out.stderr);
    drop(held);
}

#[tokio::test]
async fn migrate_reports_an_unreachable_database() {
    let out = chathub(
        &["migrate", "--dry-run"],
        &[
            ("CHATHUB_DATABASE_URL", "mysql://root@127.0.0.1:9/none"),
            ("CHATHUB_SESSION_SECRET", crate::support::SESSION_SECRET),
        ],
    )
    .await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.starts_with("migrate: "), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

/// The README's configuration reference names every key the server knows.
#[tokio::test]
async fn readme_documents_every_config_key() {
    let out = chathub(
        &["check", "--print-config"],
        &[
            ("CHATHUB_DATABASE_URL", "mysql://root@127.0.0.1:9/none"),
            ("CHATHUB_SESSION_SECRET", crate::support::SESSION_SECRET),
        ],
    )
    .await;
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let keys: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_once(" = ").map(|(k, _)| k))
        .map(|k| k.strip_prefix("addon.").unwrap_or(k))
        .collect();
    assert!(keys.len() > 30, "{}", out.stdout);
    for key in keys {
        assert!(readme.contains(&format!("`{key}`")), "README lacks `{key}`");
    }
}
