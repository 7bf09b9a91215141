//! Operating the server: the dev stack's pieces, config hot reload, graceful shutdown, the
//! fake-clock announcement. Most tests run the built binary as an operator would.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{TestDb, free_port};
use chathub::db::{Tables, schema};
use chathub_tools::demo;
use chathub_tools::testing::{landing_text, signal};
use mysql_async::prelude::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

async fn wait_for_port(port: u16, child: &mut tokio::process::Child) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("server exited early: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "server never listened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn serve_cmd(db: &TestDb, port: u16) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(crate::support::CHATHUB_BIN);
    cmd.arg("serve")
        .env_clear()
        .env("CHATHUB_DATABASE_URL", &db.url)
        .env("CHATHUB_SESSION_SECRET", crate::support::SESSION_SECRET)
        .env("CHATHUB_LISTEN", format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

// ---------------------------------------------------------------------------------------------
// Dev stack pieces

#[tokio::test]
async fn demo_admin_is_a_fastadmin_super_admin_and_seeding_twice_changes_nothing() {
    let db = TestDb::with_schema().await;
    let t = Tables::new("fa_");
    let mut c = db.conn().await;
    let admin = demo::seed_admin(&mut c, &t, 1_779_000_000).await.unwrap();
    assert!(admin.created);
    let (username, password, salt, status, createtime): (String, String, String, String, i64) = c
        .exec_first(
            "SELECT username, password, salt, status, createtime FROM fa_admin WHERE id = ?",
            (admin.id,),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(username, "admin");
    assert_eq!(status, "normal");
    assert_eq!(createtime, 1_779_000_000);
    assert_eq!(salt.len(), 6);
    // FastAdmin's check: md5(md5(password) . salt).
    let inner = format!("{:x}", md5::compute(admin.password.as_bytes()));
    assert_eq!(
        password,
        format!("{:x}", md5::compute(format!("{inner}{salt}").as_bytes()))
    );
    assert!(chathub::domain::password::verify(
        &admin.password,
        &password,
        &salt
    ));
    let rules: String = c
        .query_first("SELECT rules FROM fa_auth_group WHERE id = 1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rules, "*");
    let access: Vec<(u64, u64)> = c
        .query("SELECT uid, group_id FROM fa_auth_group_access")
        .await
        .unwrap();
    assert_eq!(access, [(admin.id, 1)]);

    let again = demo::seed_admin(&mut c, &t, 1_779_000_100).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.id, admin.id);
    let counts: (i64, i64, i64, String) = c
        .query_first(
            "SELECT (SELECT COUNT(*) FROM fa_admin), (SELECT COUNT(*) FROM fa_auth_group), \
             (SELECT COUNT(*) FROM fa_auth_group_access), (SELECT password FROM fa_admin LIMIT 1)",
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((counts.0, counts.1, counts.2), (1, 1, 1));
    assert_eq!(counts.3, password, "an existing admin is left as it is");
}

#[tokio::test]
async fn demo_member_gets_a_php_style_bcrypt_password_once() {
    let db = TestDb::with_schema().await;
    let mut c = db.conn().await;
    schema::migrate(&mut c, "fa_", false).await.unwrap(); // bcrypt needs the wide column
    let t = Tables::new("fa_");
    let member = demo::seed_member(&mut c, &t, 1_779_000_000).await.unwrap();
    assert!(member.created);
    let (username, email, password, salt, status): (String, String, String, String, String) = c
        .exec_first(
            "SELECT username, email, password, salt, status FROM fa_user WHERE id = ?",
            (member.id,),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(username, "demo@example.com");
    assert_eq!(email, "demo@example.com");
    assert_eq!(salt, "", "empty salt: the addon's password_verify path");
    assert_eq!(status, "normal");
    assert!(password.starts_with("$2y$10$"), "{password}");
    assert!(bcrypt::verify(&member.password, &password).unwrap());
    assert!(chathub::domain::password::verify(
        &member.password,
        &password,
        &salt
    ));
    assert!(!chathub::domain::password::verify(
        "wrong", &password, &salt
    ));
    let again = demo::seed_member(&mut c, &t, 1).await.unwrap();
    assert!(!again.created);
    let n: i64 = c
        .query_first("SELECT COUNT(*) FROM fa_user")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 1);
}

// ---------------------------------------------------------------------------------------------
// Hot reload, shutdown, fake clock

fn config_php(site_name: &str, alipay_enabled: &str) -> String {
    format!(
        "<?php\n\nreturn [\n    [\n        'name' => 'site_name',\n        'title' => '站点名称',\n        'type' => 'string',\n        'content' => [],\n        'value' => '{site_name}',\n    ],\n    [\n        'name' => 'alipay_enabled',\n        'value' => '{alipay_enabled}',\n    ],\n];\n"
    )
}

/// A FastAdmin install on `db` whose addon `config.php` names the site `site_name`.
fn fastadmin_root(db: &TestDb, site_name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(
        root.path().join(".env"),
        format!(
            "[database]\nhostname = 127.0.0.1\ndatabase = {}\nusername = root\nprefix = fa_\n",
            db.name
        ),
    )
    .unwrap();
    let php = root.path().join("addons/chathub/config.php");
    std::fs::create_dir_all(php.parent().unwrap()).unwrap();
    std::fs::write(&php, config_php(site_name, "0")).unwrap();
    (root, php)
}

/// SIGTERM the server and return what it logged.
async fn stop_for_log(child: tokio::process::Child) -> String {
    signal(&child, libc::SIGTERM);
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn edited_addon_config_takes_effect_and_an_invalid_edit_keeps_the_old_one() {
    let db = TestDb::with_schema().await;
    let (root, php) = fastadmin_root(&db, "Before客服");

    let port = free_port();
    let mut cmd = serve_cmd(&db, port);
    cmd.arg("--fastadmin-root").arg(root.path());
    let mut child = cmd.spawn().unwrap();
    wait_for_port(port, &mut child).await;
    assert!(landing_text(port).await.contains("Before客服"));

    std::fs::write(&php, config_php("After客服", "0")).unwrap();
    let start = Instant::now();
    loop {
        if landing_text(port).await.contains("After客服") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "edit not picked up within 8 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // An invalid value: the server keeps serving the last good config.
    std::fs::write(&php, config_php("Broken客服", "maybe")).unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await; // more than two watcher rounds
    let text = landing_text(port).await;
    assert!(text.contains("After客服") && !text.contains("Broken客服"));

    let log = stop_for_log(child).await;
    assert!(log.contains("addon config reloaded"), "{log}");
    assert!(
        log.contains("addon config invalid; keeping the current one"),
        "{log}"
    );
}

/// A reload runs the start-up loader again: the TOML file's `[addon]` keys keep winning over
/// `config.php` after an edit of it (the watcher used to rebuild the addon settings from
/// `config.php` and the environment only).
#[tokio::test]
async fn a_reload_keeps_the_precedence_of_every_source() {
    let db = TestDb::with_schema().await;
    let (root, php) = fastadmin_root(&db, "FromPhp客服");
    let toml = root.path().join("chathub.toml");
    std::fs::write(&toml, "[addon]\nsite_name = \"FromToml客服\"\n").unwrap();

    let port = free_port();
    let mut cmd = serve_cmd(&db, port);
    cmd.arg("--fastadmin-root")
        .arg(root.path())
        .arg("--config")
        .arg(&toml);
    let mut child = cmd.spawn().unwrap();
    wait_for_port(port, &mut child).await;
    assert!(landing_text(port).await.contains("FromToml客服"));

    std::fs::write(&php, config_php("EditedPhp客服", "0")).unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await; // more than two watcher rounds
    let text = landing_text(port).await;
    assert!(
        text.contains("FromToml客服") && !text.contains("EditedPhp客服"),
        "the TOML file's site_name lost to config.php after the reload"
    );

    let log = stop_for_log(child).await;
    assert!(log.contains("addon config reloaded"), "{log}");
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish() {
    let db = TestDb::with_schema().await;
    let port = free_port();
    let mut child = serve_cmd(&db, port).spawn().unwrap();
    wait_for_port(port, &mut child).await;

    // A POST whose body arrives slowly: half before SIGTERM, half after.
    let body = "a=1&b=2&c=3&d=4";
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /addons/chathub/index/landing HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                body.len(),
                &body[..5]
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(&child, libc::SIGTERM);
    tokio::time::sleep(Duration::from_millis(700)).await;
    // New connections are refused once shutdown began...
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    // ...but the request in flight completes.
    stream.write_all(&body.as_bytes()[5..]).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .expect("response")
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("AI 智能客服"));
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn a_fake_clock_is_announced_at_start() {
    let db = TestDb::with_schema().await;
    let port = free_port();
    let mut cmd = serve_cmd(&db, port);
    cmd.env("CHATHUB_FAKE_NOW", "2026-05-17T10:00:00+08:00");
    let mut child = cmd.spawn().unwrap();
    wait_for_port(port, &mut child).await;
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().await.unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let line = log
        .lines()
        .find(|l| l.contains("CHATHUB_FAKE_NOW"))
        .unwrap_or_else(|| panic!("no announcement in\n{log}"));
    assert!(
        line.contains("WARN") && line.contains("2026-05-17"),
        "{line}"
    );

    // Without it, no announcement.
    let port = free_port();
    let mut child = serve_cmd(&db, port).spawn().unwrap();
    wait_for_port(port, &mut child).await;
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().await.unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("CHATHUB_FAKE_NOW"));
}

/// scripts/test.sh's fallback, for real: with no usable MariaDB on the configured port it
/// starts a private one, exports its URL, and stops it cleanly.
#[tokio::test]
async fn test_script_falls_back_to_a_private_mariadb_and_stops_it() {
    if !Path::new("/usr/sbin/mariadbd").exists() && !Path::new("/usr/sbin/mysqld").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "mariadbd missing under CI"
        );
        eprintln!("SKIPPED: mariadbd not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
        set -euo pipefail
        source scripts/lib/mariadb.sh
        ensure_test_mariadb
        echo "URL=$CHATHUB_TEST_MYSQL_URL"
        port=${CHATHUB_TEST_MYSQL_URL##*:}
        mariadb --no-defaults --protocol=tcp -uroot -h127.0.0.1 -P"$port" -N -e 'SELECT 40+2'
        stop_private_mariadb
        if mariadb_pid_alive=$(pgrep -f "datadir=$CHATHUB_TEST_MARIADB_DIR/data" || true); [ -n "$mariadb_pid_alive" ]; then
          echo STILL-RUNNING
        fi
    "#;
    let out = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("CHATHUB_TEST_MYSQL_URL")
        .env("CHATHUB_TEST_MYSQL_PORT", "1") // nothing answers there
        .env("CHATHUB_TEST_MARIADB_DIR", dir.path())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let url = stdout
        .lines()
        .find_map(|l| l.strip_prefix("URL="))
        .unwrap_or_else(|| panic!("{stdout}\n{stderr}"));
    assert!(url.starts_with("mysql://root@127.0.0.1:"), "{url}");
    assert!(!url.ends_with(":1") && !url.ends_with(":3306"), "{url}");
    assert!(stdout.lines().any(|l| l.trim() == "42"), "{stdout}");
    assert!(!stdout.contains("STILL-RUNNING"), "{stdout}");
    assert!(stderr.contains("starting private mariadbd"), "{stderr}");
    let log = std::fs::read_to_string(dir.path().join("mysqld.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.trim_end().ends_with("Shutdown complete")),
        "{log}"
    );
}

/// Requests written on idle keep-alive connections just before shutdown are all answered
/// (hyper's own graceful shutdown closed such connections without reading them,
/// hyperium/hyper#3792), and the server then finishes.
#[tokio::test]
async fn shutdown_answers_requests_already_sent_on_keep_alive_connections() {
    // One thread: the server reads nothing between the writes and the shutdown, the worst
    // case of the race (all 50 were dropped before).
    keep_alive_requests_survive_shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_keep_alive_requests_while_the_server_runs_alongside() {
    keep_alive_requests_survive_shutdown().await;
}

async fn keep_alive_requests_survive_shutdown() {
    const CONNECTIONS: usize = 50;
    const REQUEST: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut env = std::collections::BTreeMap::new();
    for (k, v) in [
        ("CHATHUB_DATABASE_URL", "mysql://root@127.0.0.1:9/unused"),
        ("CHATHUB_LISTEN", "127.0.0.1:0"),
        ("CHATHUB_SESSION_SECRET", crate::support::SESSION_SECRET),
        ("CHATHUB_PROVISION_WORKER", "0"),
    ] {
        env.insert(k.to_string(), v.to_string());
    }
    let config =
        chathub::config::Config::load_with_env(&chathub::config::ConfigSources::default(), &env)
            .unwrap();
    let clock = chathub::clock::Clock::system(config.timezone);
    let app = chathub::startup::Application::build(config, clock)
        .await
        .unwrap();
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));

    // Keep-alive connections, each idle after one answered request.
    let mut conns = Vec::new();
    for _ in 0..CONNECTIONS {
        let mut s = BufReader::new(TcpStream::connect(addr).await.unwrap());
        s.get_mut().write_all(REQUEST).await.unwrap();
        read_response(&mut s).await.expect("first answer");
        conns.push(s);
    }
    // A second request on every connection, then shutdown at once.
    for s in &mut conns {
        s.get_mut().write_all(REQUEST).await.unwrap();
    }
    stop.send(()).unwrap();

    let mut unanswered = 0;
    for mut s in conns {
        match tokio::time::timeout(Duration::from_secs(20), read_response(&mut s)).await {
            Ok(Some(head)) => {
                assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                // ...and the connection then ends (`Connection: close` when the request was
                // read after shutdown began, a clean close of the idle connection otherwise).
                let mut rest = Vec::new();
                let n = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut rest))
                    .await
                    .expect("closed after the answer")
                    .unwrap_or(0);
                assert_eq!(n, 0);
            }
            Ok(None) => unanswered += 1,
            Err(_) => panic!("a connection was neither answered nor closed"),
        }
    }
    assert_eq!(unanswered, 0, "requests already sent were dropped");
    tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .expect("the server finishes once drained")
        .unwrap();
}

/// One HTTP/1.1 response's head (and its body, read by `Content-Length`); `None` when the
/// connection ends before any of it.
async fn read_response(s: &mut BufReader<TcpStream>) -> Option<String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        match s.read_line(&mut line).await {
            Ok(0) | Err(_) => {
                return if head.is_empty() {
                    None
                } else {
                    panic!("cut: {head}")
                };
            }
            Ok(_) => {}
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let len = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0; len];
    s.read_exact(&mut body).await.expect("whole body");
    Some(head)
}
