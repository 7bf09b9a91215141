//! The Debian package and the container image (README "Install on Debian/Ubuntu", "Run in a
//! panel's container"), built from the binary these tests run, installed and started the way
//! an operator does: the package into a fresh Debian made by debootstrap (its maintainer
//! scripts run there, in a chroot), the image with podman on a base made from the same root.
//!
//! The package is built from this test run's (debug) binary under the custom profile
//! `pkgtest` (`cargo deb --no-build`), so CI does not pay for a release build; the documented
//! command (`scripts/package.sh`, `cargo deb`) builds release with the same metadata.
//! Tools (`scripts/package.sh --tools`, which `.ci/run` calls): cargo-deb, debootstrap,
//! podman, runc, and root for the chroot. Without them the tests are skipped, except under CI.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chathub_tools::testing::{free_port, signal};
use mysql_async::prelude::*;
use tokio::sync::OnceCell;

use crate::support::{
    CHATHUB_BIN, SESSION_SECRET, TestDb, column_type, count, mysql_server_url, start_stub,
};

const INSTALL_SQL: &str = include_str!("../../install.sql");
const FASTADMIN_BASE: &str = include_str!("../../sql/fastadmin_base.sql");
const VERSION: &str = env!("CARGO_PKG_VERSION");

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn ok(self, what: &str) -> Out {
        assert_eq!(self.code, 0, "{what}\n{}\n{}", self.stdout, self.stderr);
        self
    }
}

async fn run(cmd: &mut tokio::process::Command) -> Out {
    let out = cmd
        .output()
        .await
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn cmd(program: &str, args: &[&str]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(program);
    c.args(args);
    c
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The cargo target directory these tests were built in (CARGO_TARGET_DIR respected).
fn target_dir() -> PathBuf {
    Path::new(CHATHUB_BIN)
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

fn work_dir() -> PathBuf {
    let d = target_dir().join("pkgtest");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `present`, or else the reason the test is skipped: a failure under CI, which has the tools.
fn available(present: bool, missing: &str) -> bool {
    if !present {
        assert!(std::env::var_os("CI").is_none(), "under CI: {missing}");
        eprintln!("SKIPPED: {missing}");
    }
    present
}

/// Whether `program` can be run (`scripts/package.sh --tools` installs them).
async fn have(program: &str, probe: &[&str]) -> bool {
    let found = tokio::process::Command::new(program)
        .args(probe)
        .output()
        .await
        .is_ok_and(|o| o.status.success());
    available(
        found,
        &format!("{program} missing (scripts/package.sh --tools installs it)"),
    )
}

/// The scratch Debian is entered with chroot.
async fn is_root() -> bool {
    let root = run(&mut cmd("id", &["-u"])).await.stdout.trim() == "0";
    available(root, "not root (the scratch Debian is entered with chroot)")
}

// ---------------------------------------------------------------------------------------------
// The package and the scratch Debian

static DEB: OnceCell<PathBuf> = OnceCell::const_new();
static BASE_TAR: OnceCell<PathBuf> = OnceCell::const_new();

/// The .deb of this test run's binary (stripped, as `cargo deb` strips release binaries).
async fn deb() -> &'static Path {
    DEB.get_or_init(|| async {
        // Where cargo-deb looks for the binary of profile `pkgtest` (with --no-build).
        let bin = work_dir().join("chathub");
        std::fs::copy(CHATHUB_BIN, &bin).unwrap();
        run(cmd("strip", &["--strip-debug"]).arg(&bin))
            .await
            .ok("strip");
        let out = work_dir().join("deb");
        let _ = std::fs::remove_dir_all(&out);
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        run(cmd(
            &cargo,
            &["deb", "--no-build", "--profile", "pkgtest", "--fast", "-o"],
        )
        .arg(&out)
        .current_dir(repo()))
        .await
        .ok("cargo deb");
        std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "deb"))
            .expect("cargo deb wrote a .deb")
    })
    .await
}

/// This host's Debian/Ubuntu release (the test binary's glibc must run in the scratch root).
fn os_release(key: &str) -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_default()
        .trim_matches('"')
        .to_string()
}

/// A minimal Debian of this host's release with systemd (for `systemd-analyze`), made once by
/// debootstrap and kept as a tarball in the target directory.
async fn base_tar() -> &'static Path {
    BASE_TAR
        .get_or_init(|| async {
            let codename = os_release("VERSION_CODENAME");
            let tar = work_dir().join(format!("{codename}-minbase-systemd.tar"));
            if tar.exists() {
                return tar;
            }
            let mirror = std::env::var("CHATHUB_TEST_DEBIAN_MIRROR").unwrap_or_else(|_| {
                if os_release("ID") == "ubuntu" {
                    "http://archive.ubuntu.com/ubuntu".into()
                } else {
                    "http://deb.debian.org/debian".into()
                }
            });
            let dir = work_dir().join("debootstrap");
            let _ = std::fs::remove_dir_all(&dir);
            run(cmd(
                "debootstrap",
                &["--variant=minbase", "--include=systemd", &codename],
            )
            .arg(&dir)
            .arg(&mirror))
            .await
            .ok("debootstrap");
            let partial = tar.with_extension("partial");
            run(cmd("tar", &["-C"])
                .arg(&dir)
                .args(["-cf"])
                .arg(&partial)
                .arg("."))
            .await
            .ok("tar");
            std::fs::rename(&partial, &tar).unwrap();
            let _ = std::fs::remove_dir_all(&dir);
            tar
        })
        .await
}

async fn can_install_into_a_scratch_debian() -> bool {
    is_root().await
        && have("cargo", &["deb", "--version"]).await
        && have("debootstrap", &["--version"]).await
}

/// A fresh copy of the scratch Debian, removed with the value.
async fn fresh_root() -> tempfile::TempDir {
    let root = tempfile::tempdir_in(work_dir()).unwrap();
    run(cmd("tar", &["-C"])
        .arg(root.path())
        .arg("-xf")
        .arg(base_tar().await))
    .await
    .ok("untar");
    root
}

/// A command run inside `root` (chroot), with a clean environment.
fn chroot(root: &Path, user: Option<&str>, argv: &[&str]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new("chroot");
    if let Some(u) = user {
        c.arg(format!("--userspec={u}:{u}"));
    }
    c.arg(root).args(argv).env_clear();
    c.env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    c
}

async fn install_deb(root: &Path) -> Out {
    std::fs::copy(deb().await, root.join("tmp/chathub.deb")).unwrap();
    run(chroot(root, None, &["dpkg", "-i", "/tmp/chathub.deb"])
        .env("DEBIAN_FRONTEND", "noninteractive"))
    .await
    .ok("dpkg -i")
}

// ---------------------------------------------------------------------------------------------
// A site: its database at the previous release's schema, its FastAdmin files

/// user, password, host, port of the test MariaDB.
fn mysql_parts() -> (String, String, String, String) {
    let url = mysql_server_url();
    let rest = url.trim_start_matches("mysql://").trim_end_matches('/');
    let (cred, host) = rest.rsplit_once('@').unwrap_or(("root", rest));
    let (user, pass) = cred.split_once(':').unwrap_or((cred, ""));
    let (host, port) = host.split_once(':').unwrap_or((host, "3306"));
    (user.into(), pass.into(), host.into(), port.into())
}

/// The previous release's addon schema: install.sql before the provision leases (db30ca7),
/// the payment query schedule's table and the tables after it (the subscription lifecycle's,
/// refunds, reconciliation).
fn previous_release_sql() -> String {
    let new_tables = INSTALL_SQL
        .find("-- chathub's own (the PHP addon never reads it): each order sent to a payment")
        .expect("the payment query table comes before the lifecycle table, both last");
    assert!(INSTALL_SQL[new_tables..].contains("`__PREFIX__chathub_lifecycle`"));
    let before = &INSTALL_SQL[..new_tables];
    let is_lease = |l: &str| l.contains("`lease_owner`") || l.contains("`lease_until`");
    assert_eq!(before.lines().filter(|l| is_lease(l)).count(), 2);
    before
        .lines()
        .filter(|l| !is_lease(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A database as the previous release left it, with a tenant and its provision schedule.
async fn previous_release_db() -> TestDb {
    let db = TestDb::empty().await;
    db.run_sql(FASTADMIN_BASE).await;
    db.run_sql(&previous_release_sql()).await;
    let mut c = db.conn().await;
    c.query_drop(
        "INSERT INTO fa_chathub_tenant (id, tenant_name, domain, email, status, createtime) \
         VALUES (7, 'Kept客服', 'kept.example.com', 'kept@example.com', 'provisioning', 1700000000)",
    )
    .await
    .unwrap();
    c.query_drop(
        "INSERT INTO fa_chathub_provision_state (tenant_id, failures, next_attempt_at) VALUES (7, 2, 1700000100)",
    )
    .await
    .unwrap();
    db
}

/// `.env` and `addons/chathub/config.php` of a FastAdmin site on `db` at `dir`.
fn write_site(dir: &Path, db: &TestDb, provision_url: &str) {
    let (user, pass, host, port) = mysql_parts();
    std::fs::create_dir_all(dir.join("addons/chathub")).unwrap();
    std::fs::write(
        dir.join(".env"),
        format!(
            "[app]\ndebug = false\n\n[database]\nhostname = {host}\nhostport = {port}\ndatabase = {}\nusername = {user}\npassword = {pass}\nprefix = fa_\n",
            db.name
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("addons/chathub/config.php"),
        format!(
            "<?php\n\nreturn [\n    [\n        'name' => 'provision_server_url',\n        'value' => '{provision_url}',\n    ],\n    [\n        'name' => 'site_name',\n        'value' => '打包测试',\n    ],\n];\n"
        ),
    )
    .unwrap();
}

/// What the previous release's rows look like after an upgrade: all there, the new columns added.
async fn assert_upgraded_keeping_rows(db: &TestDb) {
    assert!(
        column_type(db, "fa_chathub_provision_state", "lease_owner")
            .await
            .is_some()
    );
    assert!(
        column_type(db, "fa_chathub_provision_state", "lease_until")
            .await
            .is_some()
    );
    assert_eq!(
        count(db, "SELECT COUNT(*) FROM fa_chathub_tenant WHERE id = 7 AND tenant_name = 'Kept客服' AND status = 'provisioning'").await,
        1
    );
    assert!(
        column_type(db, "fa_chathub_lifecycle", "suspended_for")
            .await
            .is_some()
    );
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM fa_chathub_provision_state WHERE tenant_id = 7 AND failures = 2"
        )
        .await,
        1
    );
}

// ---------------------------------------------------------------------------------------------
// The unit as systemd would run it

/// What the installed unit says about starting the service.
struct Unit {
    user: String,
    environment: Vec<(String, String)>,
    environment_file: String,
    exec_start_pre: String,
    exec_start: String,
}

fn read_unit(text: &str) -> Unit {
    let mut keys: BTreeMap<&str, &str> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        if let Some((k, v)) = line.split_once('=') {
            keys.insert(k, v);
        }
    }
    let environment = keys["Environment"]
        .split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    Unit {
        user: keys["User"].into(),
        environment,
        environment_file: keys["EnvironmentFile"].trim_start_matches('-').into(),
        exec_start_pre: keys["ExecStartPre"].into(),
        exec_start: keys["ExecStart"].into(),
    }
}

/// KEY=value lines of an EnvironmentFile, surrounding quotes stripped, as systemd reads them.
fn environment_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// An Exec line's words, `$VAR` replaced by the variable's words (none when unset or empty).
fn exec_words(line: &str, env: &BTreeMap<String, String>) -> Vec<String> {
    line.split_whitespace()
        .flat_map(|w| match w.strip_prefix('$') {
            Some(var) => env
                .get(var)
                .map(|v| v.split_whitespace().map(String::from).collect())
                .unwrap_or_default(),
            None => vec![w.to_string()],
        })
        .collect()
}

/// The installed unit's start, run in `root` as its user with its environment.
struct Started {
    unit: Unit,
    env: BTreeMap<String, String>,
}

impl Started {
    fn read(root: &Path) -> Started {
        let unit = read_unit(
            &std::fs::read_to_string(root.join("usr/lib/systemd/system/chathub.service")).unwrap(),
        );
        let mut env: BTreeMap<String, String> = unit.environment.iter().cloned().collect();
        let file = root.join(unit.environment_file.trim_start_matches('/'));
        env.extend(environment_file(&std::fs::read_to_string(file).unwrap()));
        Started { unit, env }
    }

    fn command(&self, root: &Path, line: &str) -> tokio::process::Command {
        let words = exec_words(line, &self.env);
        let argv: Vec<&str> = words.iter().map(String::as_str).collect();
        let mut c = chroot(root, Some(&self.unit.user), &argv);
        c.envs(&self.env);
        c
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn the_package_holds_the_binary_the_hardened_unit_the_example_config_and_the_nginx_include() {
    if !have("cargo", &["deb", "--version"]).await {
        return;
    }
    let deb = deb().await;
    let info = run(cmd("dpkg-deb", &["-I"]).arg(deb))
        .await
        .ok("dpkg-deb -I")
        .stdout;
    assert!(info.contains("Package: chathub"), "{info}");
    assert!(info.contains(&format!("Version: {VERSION}-1")), "{info}");
    let depends = info
        .lines()
        .find(|l| l.trim_start().starts_with("Depends:"))
        .unwrap();
    for dep in ["libc6", "adduser"] {
        assert!(depends.contains(dep), "{depends}");
    }
    for script in ["postinst", "prerm", "postrm"] {
        assert!(info.contains(script), "{script} missing:\n{info}");
    }
    let files = run(cmd("dpkg-deb", &["-c"]).arg(deb))
        .await
        .ok("dpkg-deb -c")
        .stdout;
    for (mode, path) in [
        ("-rwxr-xr-x", "./usr/bin/chathub"),
        ("-rw-r--r--", "./usr/lib/systemd/system/chathub.service"),
        ("-rw-r-----", "./etc/chathub/chathub.toml"),
        ("-rw-r--r--", "./etc/nginx/snippets/chathub.conf"),
        ("-rw-r--r--", "./usr/share/chathub/env.example"),
        ("-rw-r--r--", "./usr/share/doc/chathub/README.md"),
    ] {
        assert!(
            files
                .lines()
                .any(|l| l.starts_with(mode) && l.ends_with(path)),
            "{mode} {path} not in\n{files}"
        );
    }
    // Secrets never ship in the package: the environment file is made by postinst, 0640.
    assert!(!files.contains("./etc/chathub/env"), "{files}");

    let dir = tempfile::tempdir().unwrap();
    run(cmd("dpkg-deb", &["-e"])
        .arg(deb)
        .arg(dir.path().join("DEBIAN")))
    .await
    .ok("-e");
    let conffiles = std::fs::read_to_string(dir.path().join("DEBIAN/conffiles")).unwrap();
    assert_eq!(
        conffiles.lines().collect::<Vec<_>>().len(),
        2,
        "{conffiles}"
    );
    for c in [
        "/etc/chathub/chathub.toml",
        "/etc/nginx/snippets/chathub.conf",
    ] {
        assert!(conffiles.lines().any(|l| l == c), "{conffiles}");
    }
    let unit = read_unit(&std::fs::read_to_string(repo().join("deploy/chathub.service")).unwrap());
    assert_eq!(unit.user, "chathub");
    assert!(
        unit.exec_start_pre.starts_with("/usr/bin/chathub ")
            && unit.exec_start_pre.ends_with(" check --before-start")
    );
    assert!(unit.exec_start.ends_with(" serve"));
}

/// From a fresh Debian: install (unconfigured: nothing fails), configure the site, start the
/// unit's own commands (check passes, /readyz answers), upgrade from the previous release's
/// schema (postinst migrates), purge.
#[tokio::test]
async fn a_fresh_debian_installs_the_package_upgrades_the_schema_and_starts_a_service_that_passes_check()
 {
    if !can_install_into_a_scratch_debian().await {
        return;
    }
    let root = fresh_root().await;
    let root = root.path();

    let first = install_deb(root).await;
    assert!(
        first.stdout.contains("systemctl enable --now chathub"),
        "{}",
        first.stdout
    );
    let passwd = run(&mut chroot(root, None, &["getent", "passwd", "chathub"]))
        .await
        .ok("user")
        .stdout;
    assert!(
        passwd
            .trim_end()
            .ends_with(":/nonexistent:/usr/sbin/nologin"),
        "{passwd}"
    );
    let modes = run(&mut chroot(
        root,
        None,
        &[
            "stat",
            "-c",
            "%a %U:%G %n",
            "/etc/chathub/env",
            "/etc/chathub/chathub.toml",
        ],
    ))
    .await
    .ok("stat")
    .stdout;
    assert_eq!(
        modes,
        "640 root:chathub /etc/chathub/env\n640 root:chathub /etc/chathub/chathub.toml\n"
    );
    let version = run(&mut chroot(
        root,
        Some("chathub"),
        &["/usr/bin/chathub", "--version"],
    ))
    .await
    .ok("--version");
    assert_eq!(version.stdout.trim(), format!("chathub {VERSION}"));

    // Not configured yet: the unit's check refuses, naming what is missing.
    let unconfigured = run(&mut Started::read(root)
        .command(root, "/usr/bin/chathub $CHATHUB_OPTS check --print-config"))
    .await;
    assert_eq!(unconfigured.code, 1, "{}", unconfigured.stdout);
    assert!(
        unconfigured
            .stdout
            .contains("FAIL config: session_secret: required"),
        "{}",
        unconfigured.stdout
    );

    let db = previous_release_db().await;
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    write_site(&root.join("srv/site"), &db, &stub.url());
    let port = free_port();
    let mut env = std::fs::read_to_string(root.join("etc/chathub/env")).unwrap();
    env.push_str(&format!(
        "CHATHUB_OPTS=\"--fastadmin-root /srv/site\"\nCHATHUB_SESSION_SECRET={SESSION_SECRET}\nCHATHUB_LISTEN=127.0.0.1:{port}\nCHATHUB_TRUSTED_PROXIES=127.0.0.1\n"
    ));
    std::fs::write(root.join("etc/chathub/env"), env).unwrap();

    // The upgrade (same version again: postinst runs with the old version, as on an upgrade).
    let upgrade = install_deb(root).await;
    assert!(
        upgrade.stdout.contains("applied: "),
        "{}\n{}",
        upgrade.stdout,
        upgrade.stderr
    );
    assert_upgraded_keeping_rows(&db).await;
    let again = install_deb(root).await;
    assert!(
        again.stdout.contains("schema is current: nothing to do"),
        "{}",
        again.stdout
    );

    start_like_systemd(root, port).await;

    run(&mut chroot(root, None, &["dpkg", "--purge", "chathub"]))
        .await
        .ok("purge");
    assert!(!root.join("etc/chathub").exists());
    assert!(!root.join("usr/bin/chathub").exists());
}

/// ExecStartPre (check passes, the configuration as the site gives it), then ExecStart until
/// /readyz answers, then SIGTERM: a clean stop.
async fn start_like_systemd(root: &Path, port: u16) {
    let started = Started::read(root);
    let check = run(&mut started.command(
        root,
        &format!("{} --print-config", started.unit.exec_start_pre),
    ))
    .await;
    assert_eq!(check.code, 0, "{}\n{}", check.stdout, check.stderr);
    assert!(
        check.stdout.contains("addon.site_name = 打包测试"),
        "{}",
        check.stdout
    );
    for line in check.stdout.lines().filter(|l| !l.contains(" = ")) {
        assert!(
            line.starts_with("ok") || line.starts_with("WARN"),
            "{}",
            check.stdout
        );
    }
    let mut serve = started.command(root, &started.unit.exec_start);
    let child = serve
        .kill_on_drop(true)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/readyz");
    let mut ready = None;
    for _ in 0..100 {
        if let Ok(r) = reqwest::get(&url).await {
            ready = Some(r.status().as_u16());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ready, Some(200));
    signal(&child, libc::SIGTERM);
    let out = tokio::time::timeout(Duration::from_secs(40), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn systemd_accepts_the_installed_unit_and_rates_its_sandbox_ok() {
    if !can_install_into_a_scratch_debian().await {
        return;
    }
    let root = fresh_root().await;
    let root = root.path();
    install_deb(root).await;
    let unit = "/usr/lib/systemd/system/chathub.service";
    let verify = run(&mut chroot(
        root,
        None,
        &["systemd-analyze", "verify", unit],
    ))
    .await;
    assert_eq!(verify.code, 0, "{}\n{}", verify.stdout, verify.stderr);
    assert_eq!(verify.stderr.trim(), "", "warnings: {}", verify.stderr);
    let security = run(&mut chroot(
        root,
        None,
        &["systemd-analyze", "security", "--offline=true", unit],
    ))
    .await;
    let level = security
        .stdout
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for chathub.service: ")
                .nth(1)
        })
        .unwrap_or_else(|| panic!("{}\n{}", security.stdout, security.stderr));
    let score: f64 = level.split_whitespace().next().unwrap().parse().unwrap();
    // systemd's scale: up to 2 is "OK", 10 is an unprotected service.
    assert!(score <= 2.0, "exposure {level}\n{}", security.stdout);
}

// ---------------------------------------------------------------------------------------------
// The example configuration

/// `key = value` lines of `chathub check --print-config` (addon keys as `addon.<key>`).
async fn printed_config(
    config_file: Option<&Path>,
    db: &TestDb,
    provision: &str,
) -> BTreeMap<String, String> {
    let mut c = cmd(CHATHUB_BIN, &["check", "--print-config"]);
    if let Some(f) = config_file {
        c.arg("--config").arg(f);
    }
    c.env_clear()
        .env("CHATHUB_DATABASE_URL", &db.url)
        .env("CHATHUB_SESSION_SECRET", SESSION_SECRET)
        .env("CHATHUB_ADDON_PROVISION_SERVER_URL", provision);
    let out = run(&mut c).await;
    assert!(!out.stdout.contains("FAIL config"), "{}", out.stdout);
    out.stdout
        .lines()
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Keys whose example value is an illustration, not the default (there is none, or it is
/// derived from another key).
const ILLUSTRATED: &[&str] = &[
    "database_url",
    "public_base_url",
    "trusted_proxies",
    "php_session_dir",
    "alipay_gateway_url",
];

#[tokio::test]
async fn the_example_config_lists_every_key_with_its_default_and_parses_uncommented() {
    let example = std::fs::read_to_string(repo().join("deploy/chathub.toml")).unwrap();
    // Uncomment `# key = value` and `# [addon]`, nothing else (comments stay comments).
    let setting = regex::Regex::new(r"^# (\[addon\]|[a-z_0-9]+ = .*)$").unwrap();
    let uncommented: String = example
        .lines()
        .map(|l| {
            setting
                .captures(l)
                .map_or(l.to_string(), |c| c[1].to_string())
        })
        .collect::<Vec<_>>()
        .join("\n");
    let listed: Vec<String> = uncommented
        .lines()
        .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.to_string()))
        .collect();

    let db = TestDb::with_schema().await;
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    let defaults = printed_config(None, &db, &stub.url()).await;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &uncommented).unwrap();
    let from_example = printed_config(Some(file.path()), &db, &stub.url()).await;

    let mut in_addon = false;
    let mut qualified = Vec::new();
    for l in uncommented.lines() {
        in_addon |= l == "[addon]";
        if let Some((k, _)) = l.split_once(" = ") {
            qualified.push(if in_addon {
                format!("addon.{k}")
            } else {
                k.to_string()
            });
        }
    }
    for key in defaults.keys() {
        assert!(
            qualified.contains(key),
            "deploy/chathub.toml does not list {key}"
        );
    }
    assert_eq!(listed.len(), qualified.len());
    for (key, value) in &from_example {
        if !ILLUSTRATED.contains(&key.as_str()) {
            assert_eq!(
                Some(value),
                defaults.get(key),
                "{key}: the example's value is not the default"
            );
        }
    }
    assert_ne!(from_example["trusted_proxies"], defaults["trusted_proxies"]);
}

// ---------------------------------------------------------------------------------------------
// The container image

/// Every `CHATHUB_*` name `text` sets, as `NAME` (compose `NAME:`, Dockerfile `ENV NAME=`).
fn env_names(text: &str) -> Vec<String> {
    let re = regex::Regex::new(r"(?m)^[#\s]*(?:ENV\s+|-\s+)?(CHATHUB_[A-Z0-9_]+)\s*[:=]").unwrap();
    let mut names: Vec<String> = re.captures_iter(text).map(|c| c[1].to_string()).collect();
    names.sort();
    names.dedup();
    names
}

/// Names the image's own scripts read rather than chathub.
const IMAGE_VARIABLES: &[&str] = &["CHATHUB_MIGRATE_ON_START"];

#[tokio::test]
async fn the_dockerfile_and_compose_example_name_only_what_the_binary_and_the_image_know() {
    let dir = repo().join("deploy/container");
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    let compose = std::fs::read_to_string(dir.join("compose.yaml")).unwrap();
    let healthcheck = std::fs::read_to_string(dir.join("healthcheck.sh")).unwrap();
    let entrypoint = std::fs::read_to_string(dir.join("entrypoint.sh")).unwrap();
    let script = std::fs::read_to_string(repo().join("scripts/container.sh")).unwrap();

    // Every COPY source is a file scripts/container.sh puts in the build context.
    for line in dockerfile.lines().filter(|l| l.starts_with("COPY")) {
        let src = line.split_whitespace().rev().nth(1).unwrap();
        assert!(
            script.contains(&format!("deploy/container/{src}")) || src == "chathub",
            "{line}"
        );
        assert!(src == "chathub" || dir.join(src).is_file(), "{line}");
    }
    assert!(
        dockerfile.contains("HEALTHCHECK")
            && dockerfile.contains("/usr/local/bin/chathub-healthcheck")
    );
    assert!(healthcheck.contains("GET /readyz ") && healthcheck.contains("CHATHUB_LISTEN"));
    let user = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .unwrap();
    assert!(
        !user.starts_with('0') && !user.starts_with("root"),
        "USER {user}"
    );
    assert!(entrypoint.contains("CHATHUB_MIGRATE_ON_START") && entrypoint.contains(" migrate"));

    // compose: the .env and config.php land where --fastadmin-root looks, read-only.
    assert!(compose.contains(r#"command: ["--fastadmin-root", "/fastadmin"]"#));
    for mount in [
        ":/fastadmin/.env:ro",
        ":/fastadmin/addons/chathub/config.php:ro",
    ] {
        assert!(compose.contains(mount), "{mount}");
    }

    // Each variable is one the binary reads: setting it to junk makes `check` name it.
    let db = TestDb::with_schema().await;
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    let known = printed_config(None, &db, &stub.url()).await;
    let mut names = env_names(&dockerfile);
    names.extend(env_names(&compose));
    assert!(names.len() > 5, "{names:?}");
    for name in names
        .iter()
        .filter(|n| !IMAGE_VARIABLES.contains(&n.as_str()))
    {
        let key = name.trim_start_matches("CHATHUB_").to_ascii_lowercase();
        let key = key
            .strip_prefix("addon_")
            .map_or(key.clone(), |k| format!("addon.{k}"));
        assert!(known.contains_key(&key), "{name}: not a chathub setting");
    }
}

/// This VM's kernel (cgroup v1 hybrid, no CAP_SYS_RESOURCE) needs runc, cgroupfs and
/// ulimits no higher than its own; nothing here changes what the image holds.
fn podman(config: &Path, args: &[&str]) -> tokio::process::Command {
    let mut c = cmd("podman", args);
    c.env("CONTAINERS_CONF", config);
    c
}

#[tokio::test]
async fn the_container_image_migrates_at_start_reports_healthy_and_runs_unprivileged() {
    if !(is_root().await
        && have("podman", &["--version"]).await
        && have("runc", &["--version"]).await
        && have("debootstrap", &["--version"]).await)
    {
        return;
    }
    let work = tempfile::tempdir_in(work_dir()).unwrap();
    let conf = work.path().join("containers.conf");
    std::fs::write(
        &conf,
        "[containers]\ndefault_ulimits = [\"nofile=16384:16384\", \"nproc=4096:4096\"]\n[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\n",
    )
    .unwrap();
    let id = format!("{:012x}", crate::support::rand_u64() >> 16);
    let base = format!("localhost/chathub-test-base:{id}");
    let tag = format!("localhost/chathub-test:{id}");
    let name = format!("chathub-test-{id}");
    run(podman(&conf, &["import"]).arg(base_tar().await).arg(&base))
        .await
        .ok("import");
    let bin = work.path().join("chathub");
    std::fs::copy(CHATHUB_BIN, &bin).unwrap();
    run(cmd("strip", &["--strip-debug"]).arg(&bin))
        .await
        .ok("strip");
    run(cmd("bash", &["scripts/container.sh"])
        .current_dir(repo())
        .env("CONTAINERS_CONF", &conf)
        .env("ENGINE", "podman")
        .env("BASE_IMAGE", &base)
        .env("CHATHUB_BIN", &bin)
        .env("TAG", &tag))
    .await
    .ok("scripts/container.sh");

    let db = previous_release_db().await;
    let stub = start_stub(chathub::config::DEFAULT_PROVISION_API_KEY).await;
    let site = work.path().join("site");
    write_site(&site, &db, &stub.url());
    let port = free_port();
    let result = run_container(&conf, &name, &tag, &site, port).await;
    let _ = run(&mut podman(&conf, &["rm", "-f", &name])).await;
    let _ = run(&mut podman(&conf, &["rmi", "-f", &tag, &base])).await;
    let (uid, exit_code) = result;
    assert_eq!(uid, "10001");
    assert_eq!(exit_code, "0", "a SIGTERM stop is a clean exit");
    assert_upgraded_keeping_rows(&db).await;
}

/// Run the image as compose.yaml does (site files read-only under /fastadmin), wait for the
/// health check, stop it: (the uid inside, the exit code).
async fn run_container(
    conf: &Path,
    name: &str,
    tag: &str,
    site: &Path,
    port: u16,
) -> (String, String) {
    let env_mount = format!("{}:/fastadmin/.env:ro", site.join(".env").display());
    let php_mount = format!(
        "{}:/fastadmin/addons/chathub/config.php:ro",
        site.join("addons/chathub/config.php").display()
    );
    let listen = format!("CHATHUB_LISTEN=127.0.0.1:{port}");
    let secret = format!("CHATHUB_SESSION_SECRET={SESSION_SECRET}");
    // The worker would provision the previous release's waiting tenant before the rows are
    // compared.
    let no_worker = "CHATHUB_PROVISION_WORKER=0";
    run(&mut podman(
        conf,
        &[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "host",
            "-v",
            &env_mount,
            "-v",
            &php_mount,
            "-e",
            &listen,
            "-e",
            &secret,
            "-e",
            no_worker,
            tag,
            "--fastadmin-root",
            "/fastadmin",
        ],
    ))
    .await
    .ok("podman run");
    let mut healthy = false;
    for _ in 0..60 {
        if run(&mut podman(conf, &["healthcheck", "run", name]))
            .await
            .code
            == 0
        {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let logs = run(&mut podman(conf, &["logs", name])).await;
    assert!(healthy, "never healthy:\n{}\n{}", logs.stdout, logs.stderr);
    assert!(
        logs.stdout.contains("applied: "),
        "no migration at start:\n{}",
        logs.stdout
    );
    let uid = run(&mut podman(conf, &["exec", name, "id", "-u"]))
        .await
        .ok("exec")
        .stdout;
    run(&mut podman(conf, &["stop", "-t", "30", name]))
        .await
        .ok("stop");
    let code = run(&mut podman(
        conf,
        &["inspect", name, "--format", "{{.State.ExitCode}}"],
    ))
    .await
    .stdout;
    (uid.trim().to_string(), code.trim().to_string())
}
