//! The README's cut-over and roll-back, followed once for real: a FastAdmin site whose nginx
//! sends everything to PHP; the backup with README's `mysqldump` options; `migrate --dry-run`,
//! `migrate`, `check`, `serve`; the include flipped on (smoke list answered by chathub); the
//! watch (`check --live`); flipped off again (PHP answers, nothing lost); the dump restores.
//! The shadow step behind a real nginx `mirror` is `nginx::the_readmes_mirror_lines_…`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::nginx::*;
use crate::support::{ADMIN_ENTRY, CHATHUB_BIN, SESSION_SECRET, TestDb, column_type, free_port};
use chathub_tools::provision_stub::ProvisionStub;
use mysql_async::prelude::*;

/// `chathub` with the site's config and no other environment (add the subcommand).
fn serve_command(db: &TestDb, stub: &ProvisionStub, listen: &str) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(CHATHUB_BIN);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CHATHUB_DATABASE_URL", &db.url)
        .env("CHATHUB_SESSION_SECRET", SESSION_SECRET)
        .env("CHATHUB_ADMIN_ENTRY", ADMIN_ENTRY)
        .env("CHATHUB_LISTEN", listen)
        .env("CHATHUB_TRUSTED_PROXIES", "127.0.0.1")
        .env("CHATHUB_ADDON_PROVISION_SERVER_URL", stub.url())
        // README step 1: the public address goes into payment notify URLs, and admins are
        // recognised through PHP's session files.
        .env("CHATHUB_PUBLIC_BASE_URL", "https://shop.example.com")
        .env("CHATHUB_PHP_SESSION_DIR", std::env::temp_dir())
        .stdin(Stdio::null());
    c
}

/// ThinkPHP's `?s=` spellings of the addon's URLs (README step 5 checks them).
const S_FORMS: [&str; 4] = [
    "/index.php?s=/addons/chathub/index/landing",
    "/?s=/addons/chathub/index/landing",
    "/index.php?s=addons/chathub/index/payNotify/pay_method/wechat",
    "/no/such/page?s=/ADDONS/ChatHub/Index/landing.html&from=mail",
];

#[tokio::test]
async fn cutover_and_rollback_as_the_readme_says() {
    let Some(nginx) = nginx_binary() else { return };
    // A stock FastAdmin site with the PHP addon installed and in use.
    let db = TestDb::with_schema().await;
    db.run_sql(
        "INSERT INTO fa_user (id, username, nickname, password, salt, email, status, jointime, createtime, updatetime) \
         VALUES (2, 'alice@example.com', 'Alice Trading Co', '8a2552332d39695709a007fbcef16e49', 'legacy1', \
         'alice@example.com', 'normal', 1779000000, 1779000000, 1779000000);\n\
         INSERT INTO fa_chathub_tenant (id, user_id, tenant_name, domain, email, max_agents, status, config, expire_at, createtime, updatetime) \
         VALUES (11, 2, 'Alice Shop', 'alice-shop', 'alice@example.com', 2, 'active', \
         '\"{\\\\\"plan\\\\\":\\\\\"pro\\\\\",\\\\\"price\\\\\":60}\"', '2030-01-01 12:00:00', 1779000000, 1779000000);\n",
    )
    .await;
    let stub = crate::support::start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    let php = start_echo("php").await;
    let http = client();

    // Before: nginx sends the addon's URLs to PHP.
    let listen = format!("127.0.0.1:{}", free_port());
    let ours: std::net::SocketAddr = listen.parse().unwrap();
    let before = start_nginx_with(&nginx, ours, php, Front::PhpOnly).await;
    let r = http
        .get(before.url("/addons/chathub/index/landing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-upstream"], "php");
    for target in S_FORMS {
        let r = http.get(before.url(target)).send().await.unwrap();
        assert_eq!(r.headers()["x-upstream"], "php", "{target}");
    }
    drop(before);

    // README step 1: the backup command, as written there, against the site's database.
    let backup_dir = tempfile::tempdir().unwrap();
    let backup = backup_dir.path().join("site-before-chathub.sql");
    let dumped = readme_backup(&db, &backup).await;

    // 1. migrate --dry-run prints the SQL and changes nothing.
    assert_eq!(
        column_type(&db, "fa_user", "password")
            .await
            .unwrap_or_default(),
        "varchar(32)"
    );
    let out = serve_command(&db, &stub, &listen)
        .args(["migrate", "--dry-run"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(plan.contains("ALTER TABLE `fa_user`"), "{plan}");
    assert_eq!(
        column_type(&db, "fa_user", "password")
            .await
            .unwrap_or_default(),
        "varchar(32)",
        "dry run wrote nothing"
    );
    // 2. migrate, then again: nothing left to do.
    let out = serve_command(&db, &stub, &listen)
        .arg("migrate")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        column_type(&db, "fa_user", "password")
            .await
            .unwrap_or_default(),
        "varchar(255)"
    );
    let out = serve_command(&db, &stub, &listen)
        .args(["migrate", "--dry-run"])
        .output()
        .await
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("ALTER TABLE"),
        "second run is a no-op"
    );
    // 3. check: every line ok (warnings allowed), exit 0.
    let out = serve_command(&db, &stub, &listen)
        .arg("check")
        .output()
        .await
        .unwrap();
    let report =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    assert!(!report.contains("FAIL"), "{report}");
    // 4. serve.
    let mut server = serve_command(&db, &stub, &listen)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let started = Instant::now();
    while http
        .get(format!("http://{listen}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "chathub did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // 5. Flip the include on: the smoke list is answered by chathub, FastAdmin still by PHP.
    let after = start_nginx_with(&nginx, ours, php, Front::Chathub).await;
    let r = http
        .get(after.url("/addons/chathub/index/landing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers().contains_key("x-request-id"),
        "answered by chathub"
    );
    let r = http
        .get(after.url("/addons/chathub/index/my"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/addons/chathub/index/login");
    let r = http
        .get(after.url("/addons/chathub/index/channelCallback"))
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().starts_with("未启用 OAuth 回调"));
    // ThinkPHP's `?s=` spellings of the addon's URLs are chathub's too, and answer as the
    // path form does; `?s=` elsewhere stays FastAdmin's.
    for target in S_FORMS {
        let r = http.get(after.url(target)).send().await.unwrap();
        assert!(r.headers().contains_key("x-request-id"), "{target}");
        assert!(!r.headers().contains_key("x-upstream"), "{target}");
    }
    let r = http
        .get(after.url("/index.php?s=/addons/chathub/index/my"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/addons/chathub/index/login");
    let r = http
        .get(after.url("/?s=addons/chathub/index/channelCallback.html"))
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().starts_with("未启用 OAuth 回调"));
    let r = http
        .get(after.url("/?s=/index/user/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-upstream"], "php");
    let r = http.get(after.url("/index.php")).send().await.unwrap();
    assert_eq!(r.headers()["x-upstream"], "php");
    // A member of the PHP era signs in with her old password and sees her tenant.
    let member = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = member
        .post(after.url("/addons/chathub/index/doLogin"))
        .form(&[("email", "alice@example.com"), ("password", "alice-pass-1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/addons/chathub/index/my");
    let page = member
        .get(after.url("/addons/chathub/index/my"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Alice Shop") && page.contains("专业版"),
        "old double-encoded config reads: {page}"
    );
    // README step 6: the watch finds nothing wrong.
    let out = serve_command(&db, &stub, &listen)
        .args([
            "check",
            "--live",
            "--metrics-url",
            &format!("http://{listen}/metrics"),
        ])
        .output()
        .await
        .unwrap();
    let watch =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{watch}");
    assert!(!watch.contains("FAIL"), "{watch}");
    drop(after);

    // 6. Roll back: the include removed, PHP answers again and every row is still there.
    let _ = server.start_kill();
    let _ = server.wait().await;
    let rolled_back = start_nginx_with(&nginx, ours, php, Front::PhpOnly).await;
    let r = http
        .get(rolled_back.url("/addons/chathub/index/my"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-upstream"], "php");
    for target in S_FORMS {
        let r = http.get(rolled_back.url(target)).send().await.unwrap();
        assert_eq!(r.headers()["x-upstream"], "php", "{target}");
    }
    let mut conn = db.conn().await;
    let tenants: Vec<(u32, String)> = conn
        .query("SELECT id, tenant_name FROM fa_chathub_tenant")
        .await
        .unwrap();
    assert_eq!(tenants, vec![(11, "Alice Shop".to_string())]);
    let (password, logins): (String, u32) = conn
        .query_first("SELECT password, successions FROM fa_user WHERE id = 2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        password, "8a2552332d39695709a007fbcef16e49",
        "the PHP addon's own rule still signs her in"
    );
    assert_eq!(
        logins, 2,
        "chathub's sign-in bookkeeping is in the shared row"
    );
    // "Only if something was lost": step 1's dump restores the site as it was before the switch.
    if dumped {
        let restored = TestDb::empty().await;
        let status = std::process::Command::new("mysql")
            .args(client_args(&restored))
            .stdin(std::fs::File::open(&backup).unwrap())
            .status()
            .unwrap();
        assert!(status.success(), "restore");
        assert_eq!(
            crate::support::row(
                &restored,
                "SELECT tenant_name FROM fa_chathub_tenant WHERE id = 11"
            )
            .await,
            vec!["Alice Shop".to_string()]
        );
        assert_eq!(
            column_type(&restored, "fa_user", "password")
                .await
                .unwrap_or_default(),
            "varchar(32)",
            "the dump predates the migration"
        );
    }
}

/// `-h -P -u` and the database name of a test database, for MariaDB's command-line clients.
fn client_args(db: &TestDb) -> Vec<String> {
    let url = reqwest::Url::parse(&db.url).unwrap();
    vec![
        format!("-h{}", url.host_str().unwrap_or("127.0.0.1")),
        format!("-P{}", url.port().unwrap_or(3306)),
        format!("-u{}", url.username()),
        db.name.clone(),
    ]
}

/// README step 1's `mysqldump` line with its own options, into `file`; false when the
/// machine has no mysqldump (the restore is then not exercised).
async fn readme_backup(db: &TestDb, file: &std::path::Path) -> bool {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let line = readme
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("mysqldump "))
        .expect("README: the backup command");
    let options: Vec<&str> = line
        .split_whitespace()
        .filter(|w| w.starts_with("--"))
        .collect();
    assert!(options.contains(&"--single-transaction"), "{line}");
    let Ok(out) = std::process::Command::new("mysqldump")
        .args(&options)
        .args(client_args(db))
        .output()
    else {
        return false;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.trim_end()
            .lines()
            .last()
            .unwrap_or("")
            .starts_with("-- Dump completed"),
        "README: the file ends with `-- Dump completed`"
    );
    std::fs::write(file, &out.stdout).unwrap();
    true
}
