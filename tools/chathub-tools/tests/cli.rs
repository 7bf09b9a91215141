//! The tools binary as its users run it: `cargo dev` (the newcomer's stack) and
//! `cargo compat diff` (the migration tester's gate).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use chathub_tools::testing::{copy_tree, edit_json, free_port, landing_text, signal};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The recordings of the original (the server's `fixtures/`).
fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn compat_diff(args: &[&std::ffi::OsStr]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chathub-tools"))
        .args(["compat", "diff"])
        .args(args)
        .output()
        .expect("run chathub-tools");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

#[test]
fn diff_of_identical_recordings_exits_zero_and_a_mutated_answer_exits_one_naming_route_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    copy_tree(&fixtures_dir(), &a);
    copy_tree(&fixtures_dir(), &b);

    let (code, out) = compat_diff(&[a.as_os_str(), b.as_os_str()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(" 0 DIFFERENT"), "{out}");

    edit_json(&b, "payments/015-payalipay-disabled.json", |v| {
        v["expect"]["text"] = json!("订单不存在")
    });
    edit_json(&b, "auth/004-dologin-unknown-email.json", |v| {
        v["expect"]["status"] = json!(200)
    });
    let (code, out) = compat_diff(&[a.as_os_str(), b.as_os_str()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("route payalipay:"), "{out}");
    assert!(
        out.contains("1 DIFFERENT: payments/015-payalipay-disabled.json"),
        "{out}"
    );
    assert!(
        out.contains("DIFFERENT body.text: old \"支付宝未启用\" new \"订单不存在\" in 1 exchange(s): payments/015-payalipay-disabled.json"),
        "{out}"
    );
    assert!(out.contains("route dologin:"), "{out}");
    assert!(
        out.contains("DIFFERENT status: old \"302\" new \"200\""),
        "{out}"
    );
    assert!(out.contains(" 2 DIFFERENT"), "{out}");
}

/// The whole newcomer path: `cargo dev` (`chathub-tools dev`) with no database configured starts a private
/// MariaDB, serves the site, stops cleanly on SIGTERM, and a second run reuses the data.
#[tokio::test]
async fn dev_stack_starts_serves_stops_and_keeps_its_data() {
    let has_mariadbd = ["/usr/sbin/mariadbd", "/usr/sbin/mysqld"]
        .iter()
        .any(|p| Path::new(p).exists());
    if !has_mariadbd {
        eprintln!("SKIPPED: mariadbd not installed (scripts/test.sh installs mariadb-server)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = |port: u16| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_chathub-tools"));
        cmd.arg("dev")
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CHATHUB_LISTEN", format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        cmd.spawn().unwrap()
    };
    for round in 0..2 {
        let port = free_port();
        let mut child = run(port);
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut banner = String::new();
        let collected = tokio::time::timeout(Duration::from_secs(120), async {
            while let Some(l) = lines.next_line().await.unwrap() {
                banner.push_str(&l);
                banner.push('\n');
                if l.contains("member login") {
                    break;
                }
            }
        })
        .await;
        assert!(collected.is_ok(), "no banner within 120 s:\n{banner}");
        assert!(banner.contains("cargo dev is running"), "{banner}");
        if round == 0 {
            assert!(
                dir.path().join("var/dev-mariadb/data/mysql").is_dir(),
                "the private MariaDB's data is under var/"
            );
            assert!(banner.contains("demo: 7 tenants"), "{banner}");
            assert!(
                banner.contains("admin (FastAdmin) login: admin / "),
                "{banner}"
            );
            assert!(banner.contains("widen fa_user"), "{banner}");
        } else {
            assert!(
                !banner.contains("demo: "),
                "the demo tenants are kept: {banner}"
            );
            assert!(banner.contains("existing account"), "{banner}");
        }
        assert!(landing_text(port).await.contains("AI 智能客服"));

        signal(&child, libc::SIGTERM);
        let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
            .await
            .expect("dev stack stops")
            .unwrap();
        assert!(status.success(), "{status}");
        let log = std::fs::read_to_string(dir.path().join("var/dev-mariadb/mysqld.log")).unwrap();
        assert_eq!(
            log.lines()
                .filter(|l| l.trim_end().ends_with("Shutdown complete"))
                .count(),
            round + 1,
            "mariadbd shut down cleanly:\n{log}"
        );
    }
    assert!(dir.path().join("var/session_secret").exists());
}
