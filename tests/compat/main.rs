//! Golden compatibility suite: replays every fixture in `fixtures/` against the real `chathub`
//! binary and compares what users and integrations see (see fixtures/README.md).
//!
//! Per group: a fresh database with the stock FastAdmin schema + the addon's tables + the group's
//! seed, one provision stub. Per exchange: the binary is started with the exchange's config and
//! `CHATHUB_FAKE_NOW` = its recording time, the request is replayed with the client's cookie jar,
//! the binary is stopped (so every session must survive a restart), and status, headers, page
//! facts / JSON / text, rows and provision calls are compared.
//!
//! `COMPAT_ONLY=<group>[/<NNN>]` runs a subset; `COMPAT_VERBOSE=1` also prints why pending
//! fixtures fail.

// The integration tests' harness (tests/it/support); this binary uses a part of it.
#[allow(dead_code)]
#[path = "../it/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chathub_tools::compat::catalogue::{exchange_files, group_dirs};
use chathub_tools::compat::compare::{self, Actual, CompareOptions};
use chathub_tools::compat::dbstate::{dump_db, restore, seed_group, snapshot};
use chathub_tools::compat::exchange::{Jar, Jars, clock_epoch, http_client, stub_call_json};
use chathub_tools::compat::php_session;
use chathub_tools::provision_stub::{ProvisionStub, StubMode};
use mysql_async::prelude::*;
use serde_json::Value;
use support::{ADMIN_ENTRY, fixtures_dir, free_port};

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let code = rt.block_on(run());
    std::process::exit(code);
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    pending: usize,
    deviations: usize,
    unexpected: Vec<String>,
    external: usize,
}

enum Kind {
    Pass,
    Pending,
    Deviation,
    External,
}

fn kind_of(status: &Value) -> Kind {
    match status {
        Value::String(s) if s == "pass" => Kind::Pass,
        Value::Object(m) if m.contains_key("external") => Kind::External,
        Value::Object(m) if m.contains_key("pending") => Kind::Pending,
        Value::Object(m) if m.contains_key("deviation") => Kind::Deviation,
        _ => Kind::Pass,
    }
}

fn read_json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

async fn run() -> i32 {
    let started = Instant::now();
    let only = std::env::var("COMPAT_ONLY").ok();
    let verbose = std::env::var("COMPAT_VERBOSE").is_ok_and(|v| v != "0");
    let dir = fixtures_dir();
    let mut tally = Tally::default();

    // Every deviation a fixture claims must be written down in COMPAT.md.
    let compat_md =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("COMPAT.md"))
            .unwrap_or_default();
    let anchors: Vec<String> = compat_md
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|s| s.trim().to_string())
        .collect();

    let groups = group_dirs(&dir).expect("fixtures dir");
    for gdir in groups {
        let gname = gdir.file_name().unwrap().to_string_lossy().to_string();
        if let Some(o) = &only
            && o.split('/').next() != Some(gname.as_str())
        {
            continue;
        }
        let files = exchange_files(&gdir).expect("group dir");
        for f in &files {
            let fx = read_json(f);
            if let Some(dev) = fx["status"].get("deviation").and_then(Value::as_str) {
                for a in dev.split(',') {
                    if !anchors.iter().any(|x| x == a) {
                        let rel = format!("{gname}/{}", f.file_name().unwrap().to_string_lossy());
                        if matches!(kind_of(&fx["status"]), Kind::Deviation) {
                            println!(
                                "{rel}: status: deviation anchor {a:?} missing from COMPAT.md"
                            );
                            tally.failed += 1;
                        } else if verbose {
                            println!(
                                "{rel}: note: pending fixture names anchor {a:?}, not yet in COMPAT.md"
                            );
                        }
                    }
                }
            }
        }
        run_group(&gdir, &gname, &files, only.as_deref(), verbose, &mut tally).await;
    }
    println!(
        "compat: {} external exchanges not replayed (served by FastAdmin); {:.0}s",
        tally.external,
        started.elapsed().as_secs_f64()
    );
    for u in &tally.unexpected {
        println!("unexpected pass: {u} (flip its status to pass)");
    }
    let mut line = format!(
        "compat: {} passed, {} failed, {} pending, {} deviations",
        tally.passed, tally.failed, tally.pending, tally.deviations
    );
    if !tally.unexpected.is_empty() {
        line.push_str(&format!(", {} unexpected passes", tally.unexpected.len()));
    }
    println!("{line}");
    if tally.failed > 0 { 1 } else { 0 }
}

struct GroupEnv {
    db: support::TestDb,
    stub: ProvisionStub,
    php_sessions: tempfile::TempDir,
    log_path: PathBuf,
    group: Value,
}

async fn setup_group(gdir: &Path) -> GroupEnv {
    let group = read_json(&gdir.join("_group.json"));
    let db = support::TestDb::with_schema().await;
    seed_group(&mut db.conn().await, &group)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The recordings' provision server listened on 127.0.0.1:5566 and its port shows up in
    // curl's messages; use it when free so those messages replay exactly. Only groups whose
    // expectations quote that port take it: a fixed port is shared by every run on the
    // machine, and a stub on it also receives the calls of another run's servers.
    let key = chathub::config::DEFAULT_PROVISION_API_KEY;
    let quotes_port = exchange_files(gdir)
        .unwrap_or_default()
        .iter()
        .any(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains("port 5566")));
    let recorded = if quotes_port {
        ProvisionStub::start("127.0.0.1:5566".parse().expect("addr"), key)
            .await
            .ok()
    } else {
        None
    };
    let stub = match recorded {
        Some(s) => s,
        None => ProvisionStub::start("127.0.0.1:0".parse().expect("addr"), key)
            .await
            .expect("provision stub"),
    };
    let php_sessions = tempfile::tempdir().expect("tmp dir");
    let log_path = php_sessions.path().join("chathub.log");
    GroupEnv {
        db,
        stub,
        php_sessions,
        log_path,
        group,
    }
}

async fn run_group(
    gdir: &Path,
    gname: &str,
    files: &[PathBuf],
    only: Option<&str>,
    verbose: bool,
    tally: &mut Tally,
) {
    let env = setup_group(gdir).await;
    let mut jars = Jars::new();
    let mut passwords = Passwords::default();
    for f in files {
        let fx = read_json(f);
        let rel = format!(
            "fixtures/{gname}/{}",
            f.file_name().unwrap().to_string_lossy()
        );
        let kind = kind_of(&fx["status"]);
        if let Kind::External = kind {
            tally.external += 1;
            for action in fx["actions"].as_array().into_iter().flatten() {
                run_admin_action(&env, &mut jars, action);
            }
            continue;
        }
        let selected = match only {
            Some(o) if o.contains('/') => {
                let n = o.split('/').nth(1).unwrap_or("");
                f.file_name().unwrap().to_string_lossy().starts_with(n)
            }
            _ => true,
        };
        let result = replay(&env, &mut jars, &mut passwords, &fx).await;
        if !selected {
            continue;
        }
        let diffs = match result {
            Ok(d) => d,
            Err(e) => vec![compare::Difference {
                path: "replay".into(),
                expected: "a response".into(),
                actual: e,
            }],
        };
        match (kind, diffs.is_empty()) {
            (Kind::Pass, true) => tally.passed += 1,
            (Kind::Deviation, true) => tally.deviations += 1,
            (Kind::Pass | Kind::Deviation, false) => {
                tally.failed += 1;
                println!("{}", compare::render(&rel, &diffs));
            }
            (Kind::Pending, true) => tally.unexpected.push(rel),
            (Kind::Pending, false) => {
                tally.pending += 1;
                if verbose {
                    println!(
                        "(pending) {}",
                        compare::render(&rel, &diffs[..diffs.len().min(5)])
                    );
                }
            }
            (Kind::External, _) => {}
        }
    }
    if verbose && let Ok(log) = std::fs::read_to_string(&env.log_path) {
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        for l in tail.iter().rev() {
            println!("  [{gname} server log] {l}");
        }
    }
}

/// FastAdmin signs the admin in (admin/014): write the PHP session it would have written.
fn run_admin_action(env: &GroupEnv, jars: &mut Jars, action: &Value) {
    if let Some(a) = action.get("admin_login") {
        let client = a["client"].as_str().unwrap_or("admin").to_string();
        let admin = &env.group["admin"];
        let id = php_session::php_session_id();
        let body = php_session::php_admin_session(
            admin["id"].as_u64().unwrap_or(1),
            admin["username"].as_str().unwrap_or("admin"),
            admin["nickname"].as_str().unwrap_or("Admin"),
            admin["token"].as_str().unwrap_or(""),
        );
        std::fs::write(env.php_sessions.path().join(format!("sess_{id}")), body)
            .expect("write PHP session");
        jars.entry(client)
            .or_default()
            .insert("PHPSESSID".into(), id);
    }
}

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn resolve_addon_value(v: &str, stub_url: &str) -> String {
    let keys = fixtures_dir();
    if v == "@stub" {
        stub_url.to_string()
    } else if let Some(p) = v.strip_prefix("@file:") {
        std::fs::read_to_string(keys.join(p)).unwrap_or_default()
    } else if let Some(p) = v.strip_prefix("@path:") {
        keys.join(p).display().to_string()
    } else {
        v.to_string()
    }
}

async fn start_server(env: &GroupEnv, fx: &Value) -> Result<Server, String> {
    let port = free_port();
    let mut cmd = Command::new(support::CHATHUB_BIN);
    cmd.arg("serve");
    for (k, _) in std::env::vars() {
        if k.starts_with("CHATHUB_") {
            cmd.env_remove(k);
        }
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&env.log_path)
        .map_err(|e| e.to_string())?;
    cmd.env("CHATHUB_DATABASE_URL", &env.db.url)
        .env("CHATHUB_LISTEN", format!("127.0.0.1:{port}"))
        .env("CHATHUB_SESSION_SECRET", support::SESSION_SECRET)
        .env("CHATHUB_ADMIN_ENTRY", ADMIN_ENTRY)
        .env("CHATHUB_PHP_SESSION_DIR", env.php_sessions.path())
        .env(
            "CHATHUB_PUBLIC_BASE_URL",
            env.group["public_base_url"]
                .as_str()
                .unwrap_or("http://127.0.0.1:8088"),
        )
        .env("CHATHUB_FAKE_NOW", fx["clock"].as_str().unwrap_or_default())
        .env("CHATHUB_LOG", "warn")
        // Recorded database states stay still: no background provisioning between exchanges
        // (COMPAT.md#payment-provisioning-worker).
        .env("CHATHUB_PROVISION_WORKER", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    for (k, v) in fx["setup"]["addon"].as_object().into_iter().flatten() {
        let v = resolve_addon_value(v.as_str().unwrap_or_default(), &env.stub.url());
        cmd.env(format!("CHATHUB_ADDON_{}", k.to_ascii_uppercase()), v);
    }
    for (k, v) in fx["setup"]["env"].as_object().into_iter().flatten() {
        cmd.env(k, v.as_str().unwrap_or_default());
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start chathub: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(Server { child, port });
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(&env.log_path).unwrap_or_default();
            let tail: String = log.lines().rev().take(8).collect::<Vec<_>>().join(" | ");
            return Err(format!(
                "chathub exited ({status}) before listening: {tail}"
            ));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err("chathub did not listen within 15 s".into());
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
}

/// One request to the server on `port` (see `chathub_tools::compat::exchange::send`).
async fn send(
    port: u16,
    jar: &mut Jar,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Option<&str>,
) -> Result<chathub_tools::compat::exchange::Sent, String> {
    chathub_tools::compat::exchange::send(
        &http_client(),
        &format!("http://127.0.0.1:{port}"),
        jar,
        method,
        path,
        headers,
        body,
    )
    .await
}

/// Initial passwords a sign-up showed: the recorded one and ours, in the order shown.
///
/// Ours is random (COMPAT.md#initial-password-random), so a later recorded request that
/// types the recorded password (a sign-in, a password change) is sent with the one our
/// server showed for the same sign-up, as the member would copy it from the page.
#[derive(Default)]
struct Passwords(Vec<(String, String)>);

impl Passwords {
    fn apply(&self, s: &str) -> String {
        self.0.iter().fold(s.to_string(), |acc, (recorded, ours)| {
            acc.replace(recorded, ours)
        })
    }

    fn learn(&mut self, expect: &Value, body: &str) {
        let recorded = expect["json"]["initial_password"]
            .as_str()
            .map(str::to_string)
            .or_else(|| shown_password(expect["html"].as_str().unwrap_or_default()));
        let ours = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v["initial_password"].as_str().map(str::to_string))
            .or_else(|| shown_password(body));
        if let (Some(r), Some(o)) = (recorded, ours)
            && !r.is_empty()
            && !self.0.iter().any(|(x, _)| *x == r)
        {
            self.0.push((r, o));
        }
    }
}

/// The password on a sign-up result page: the element right after the 您的登录密码 hint.
fn shown_password(html: &str) -> Option<String> {
    static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"您的登录密码[^<]*</p>\s*<div[^>]*>\s*([0-9a-f]{10})\s*</div>")
            .expect("regex")
    });
    RE.captures(html).map(|c| c[1].to_string())
}

async fn replay(
    env: &GroupEnv,
    jars: &mut Jars,
    passwords: &mut Passwords,
    fx: &Value,
) -> Result<Vec<compare::Difference>, String> {
    let setup = &fx["setup"];
    let mut conn = env.db.conn().await;
    for sql in setup["before_sql"].as_array().into_iter().flatten() {
        conn.query_drop(sql.as_str().unwrap_or_default())
            .await
            .map_err(|e| format!("before_sql: {e}"))?;
    }
    let mode = StubMode::parse(setup["provision_mode"].as_str().unwrap_or("ok"))
        .ok_or("unknown provision mode")?;
    env.stub.set_mode(mode).await;
    env.stub.set_hang_for(Duration::from_secs(
        setup["stub_hang_for_secs"].as_u64().unwrap_or(6),
    ));
    let snap = if fx["restore_db_after"].as_bool() == Some(true) {
        Some(snapshot(&mut conn).await.map_err(|e| e.to_string())?)
    } else {
        None
    };
    let server = start_server(env, fx).await?;
    let client = fx["client"].as_str().unwrap_or("anon").to_string();

    // State a withheld recording left behind (e.g. a member signed in).
    for action in setup["actions_before"].as_array().into_iter().flatten() {
        if let Some(l) = action.get("login") {
            let jar = jars
                .entry(l["client"].as_str().unwrap_or(&client).to_string())
                .or_default();
            let password = passwords.apply(l["password"].as_str().unwrap_or_default());
            let signed_in = chathub_tools::compat::exchange::member_login(
                &http_client(),
                &format!("http://127.0.0.1:{}", server.port),
                jar,
                l["email"].as_str().unwrap_or_default(),
                &password,
            )
            .await;
            if !signed_in {
                server.stop();
                return Err("actions_before: member sign-in did not answer 302".into());
            }
        }
    }
    let _ = env.stub.take_calls();

    let req = &fx["request"];
    let headers: Vec<(String, String)> = req["headers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| Some((h[0].as_str()?.to_string(), h[1].as_str()?.to_string())))
        .collect();
    let method = req["method"].as_str().unwrap_or("GET");
    let jar = jars.entry(client).or_default();
    let mut path = req["path"].as_str().unwrap_or("/").to_string();
    let mut body = req["body"].as_str().map(|b| passwords.apply(b));
    if let Some(bt) = setup.get("browser_token")
        && let Err(e) = add_browser_token(server.port, jar, bt, &mut path, &mut body).await
    {
        server.stop();
        return Err(e);
    }
    let sent = send(server.port, jar, method, &path, &headers, body.as_deref()).await;
    server.stop();
    let sent = sent?;
    passwords.learn(&fx["expect"], &sent.body);
    let calls: Vec<Value> = env.stub.take_calls().iter().map(stub_call_json).collect();
    let db_after = dump_db(&mut conn).await.map_err(|e| e.to_string())?;
    if let Some(s) = &snap {
        restore(&mut conn, s).await.map_err(|e| e.to_string())?;
    }
    let actual = Actual {
        status: sent.status,
        headers: sent.headers,
        body: sent.body,
        db_after,
        provision_calls: calls,
    };
    let expected = compare::expected_doc(&fx["expect"]);
    let actual = compare::actual_doc(&actual, method.eq_ignore_ascii_case("HEAD"));
    let options = CompareOptions {
        masks: fx["masks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m.as_str().map(str::to_string))
            .collect(),
        expected_clock: fx["clock_epoch"].as_f64().unwrap_or(0.0).floor() as i64,
        actual_clock: clock_epoch(fx["clock"].as_str().unwrap_or_default()),
        tolerance_s: fx["tolerance_s"].as_f64().unwrap_or(3.0).ceil() as i64,
        provision_calls_at_most: fx["provision_calls_at_most"].as_bool() == Some(true),
    };
    Ok(compare::compare(&expected, &actual, &options))
}

/// `setup.browser_token = {"page": <path>, "field": <name>}`: the recorded request was made by a
/// member acting on one of our pages (submitting its form, following its link), which under a
/// COMPAT.md anti-CSRF deviation carries the session's token the original's pages did not have.
/// Like the browser, open that page with the client's cookies (a GET that changes nothing),
/// take the token it hands out (`normalize::page_token`) and send it as `field`: in the
/// form body of a request with a body, else in the query string. The fixture's status names the
/// deviation; without this setting the recorded request is replayed as is (and refused).
async fn add_browser_token(
    port: u16,
    jar: &mut Jar,
    spec: &Value,
    path: &mut String,
    body: &mut Option<String>,
) -> Result<(), String> {
    let page = spec["page"].as_str().ok_or("browser_token.page missing")?;
    let field = spec["field"]
        .as_str()
        .ok_or("browser_token.field missing")?;
    let sent = send(port, jar, "GET", page, &[], None)
        .await
        .map_err(|e| format!("browser_token: {e}"))?;
    let token = chathub_tools::compat::normalize::page_token(&sent.body)
        .ok_or_else(|| format!("browser_token: no token on {page} (status {})", sent.status))?;
    let pair = serde_urlencoded::to_string([(field, token.as_str())]).unwrap_or_default();
    match body {
        Some(b) => {
            if !b.is_empty() {
                b.push('&');
            }
            b.push_str(&pair);
        }
        None => {
            path.push(if path.contains('?') { '&' } else { '?' });
            path.push_str(&pair);
        }
    }
    Ok(())
}
