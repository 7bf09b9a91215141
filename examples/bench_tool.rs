//! Helpers for `bench/run.sh`: seed the dataset, capture the statements a page runs from
//! MariaDB's general log, replay them as the bare-SQL limit, EXPLAIN them, send a fixed number
//! of requests for the instruction counts, and play Alipay for `payNotify`.
//!
//!     bench_tool seed <mysql-url> [scale]
//!     bench_tool capture <mysql-url> <out-file> -- <command...>
//!     bench_tool replay <mysql-url> <file> <concurrency> <secs> [--verify-password]
//!                [--hash-password] [--unique MARK]... [--provision BASE-URL]
//!     bench_tool explain <mysql-url> <file> <label>
//!     bench_tool get <url> <n> [--body FILE] [Header: value]...
//!     bench_tool alipay-keys <dir>
//!     bench_tool alipay-notify <platform-private.pem> <app-id> <order-no> <amount>
//!     bench_tool stub <port>          (the stub provision server, until killed)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::{Conn, Value};

/// The perf member `bench/run.sh` signs in as, with three tenants.
const PERF_EMAIL: &str = "perf@example.com";
const PERF_PASSWORD: &str = "perf-pass-1";
/// The pending order `payNotify` is measured on (the perf member's third tenant).
const BENCH_ORDER: &str = "CHBENCH0001";
/// Rows per INSERT while seeding: one statement per row made the 10x dataset take minutes.
const SEED_BATCH: usize = 500;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_else(|| usage());
    match args.get(1).map(String::as_str) {
        Some("seed") => seed(&arg(2), args.get(3).map_or(1, |s| num(s))).await,
        Some("capture") => {
            let cmd = args.get(5..).filter(|c| !c.is_empty() && args[4] == "--");
            capture(&arg(2), &arg(3), cmd.unwrap_or_else(|| usage())).await
        }
        Some("replay") => replay(&arg(2), &arg(3), num(&arg(4)), num(&arg(5)), &args[6..]).await,
        Some("explain") => explain(&arg(2), &arg(3), &arg(4)).await,
        Some("get") => get(&arg(2), num(&arg(3)), &args[4..]).await,
        Some("alipay-keys") => alipay_keys(&arg(2)),
        Some("alipay-notify") => alipay_notify(&arg(2), &arg(3), &arg(4), &arg(5)),
        Some("stub") => stub(num(&arg(2)) as u16).await,
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: bench_tool seed URL [SCALE] | capture URL OUT -- CMD... | replay URL FILE C SECS [OPTS] | \
         explain URL FILE LABEL | get URL N [--body FILE] [HEADER]... | alipay-keys DIR | \
         alipay-notify KEY APP_ID ORDER AMOUNT | stub PORT"
    );
    std::process::exit(2);
}

fn num(s: &str) -> u64 {
    s.parse().unwrap_or_else(|_| usage())
}

fn die(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("bench_tool: {what}: {e}");
    std::process::exit(1);
}

// ------------------------------------------------------------------------------- seed

/// 1,000 users, 3,000 tenants in all statuses and 10,000 log rows, times `scale`.
async fn seed(url: &str, scale: u64) {
    let mut c = Conn::from_url(url)
        .await
        .unwrap_or_else(|e| die("connect", e));
    for q in [
        "DELETE FROM fa_user WHERE id > 1",
        "TRUNCATE fa_chathub_tenant",
        "TRUNCATE fa_chathub_log",
        "TRUNCATE fa_chathub_order",
    ] {
        c.query_drop(q).await.unwrap_or_else(|e| die(q, e));
    }
    let (users, tenants, logs) = (1000 * scale, 3000 * scale, 10_000 * scale);
    let now = 1_795_561_549i64;
    let hash = chathub::domain::password::hash(PERF_PASSWORD).expect("hash");
    let user_rows = (2..=users + 1).map(|id| user_row(id, &hash, now));
    insert_rows(
        &mut c,
        "fa_user (id, username, nickname, password, salt, email, status, jointime, createtime, updatetime)",
        "(?, ?, ?, ?, '', ?, 'normal', ?, ?, ?)",
        user_rows,
    )
    .await;
    insert_rows(
        &mut c,
        "fa_chathub_tenant (user_id, tenant_name, domain, email, max_agents, channel_type, status, config, embed_code, expire_at, createtime, updatetime)",
        "(?, ?, ?, ?, 2, 'web_widget', ?, ?, ?, '2026-12-25 12:00:00', ?, ?)",
        (0..tenants).map(|n| tenant_row(n, users, now)),
    )
    .await;
    let log_rows = (0..logs).map(|n| -> Vec<Value> {
        vec![
            (1 + n % tenants).into(),
            format!("seed row {n}").into(),
            (now - n as i64).into(),
        ]
    });
    insert_rows(
        &mut c,
        "fa_chathub_log (tenant_id, action, detail, status, operator, createtime)",
        "(?, 'register', ?, 'success', 'website', ?)",
        log_rows,
    )
    .await;
    c.query_drop(format!(
        "INSERT INTO fa_chathub_order (order_no, tenant_id, user_id, plan, amount, status, createtime) \
         VALUES ('{BENCH_ORDER}', 3, 2, 'pro', 60.00, 'pending', {now})"
    ))
    .await
    .unwrap_or_else(|e| die("order", e));
    println!(
        "seeded: {users} users, {tenants} tenants, {logs} log rows, order {BENCH_ORDER}; member {PERF_EMAIL} / {PERF_PASSWORD}"
    );
}

/// User 2 is the perf member; every user has the same bcrypt hash (hashing 10,000 would
/// take minutes and changes nothing the pages read).
fn user_row(id: u64, hash: &str, now: i64) -> Vec<Value> {
    let email = match id {
        2 => PERF_EMAIL.to_string(),
        _ => format!("user{id}@example.com"),
    };
    vec![
        id.into(),
        email.clone().into(),
        format!("User {id}").into(),
        hash.into(),
        email.into(),
        now.into(),
        now.into(),
        now.into(),
    ]
}

/// The perf member (id 2) owns the first three tenants; the rest spread over the others.
fn tenant_row(n: u64, users: u64, now: i64) -> Vec<Value> {
    let statuses = ["pending", "provisioning", "active", "suspended", "disabled"];
    let user = if n < 3 { 2 } else { 3 + (n % (users - 1)) };
    let status = statuses[(n % 5) as usize];
    let embed: Value = if status == "active" {
        "<script>/* widget */</script>".into()
    } else {
        Value::NULL
    };
    let config = r#"{"plan":"pro","price":60,"notes":"","registered_at":"2026-11-01 10:00:00","initial_password":null}"#;
    vec![
        user.into(),
        format!("Tenant {n}").into(),
        format!("tenant-{n}").into(),
        format!("user{user}@example.com").into(),
        status.into(),
        config.into(),
        embed,
        now.into(),
        now.into(),
    ]
}

async fn insert_rows(c: &mut Conn, into: &str, row: &str, rows: impl Iterator<Item = Vec<Value>>) {
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(SEED_BATCH).collect();
        let sql = format!(
            "INSERT INTO {into} VALUES {}",
            vec![row; chunk.len()].join(", ")
        );
        let params: Vec<Value> = chunk.into_iter().flatten().collect();
        c.exec_drop(sql, params)
            .await
            .unwrap_or_else(|e| die(into, e));
    }
}

// ---------------------------------------------------------------------------- capture

/// One statement as the server sent it: `Execute` (a prepared statement, with its parameters
/// as MariaDB wrote them into the log) or `Query` (the text protocol).
#[derive(serde::Serialize, serde::Deserialize)]
struct Captured {
    thread: u64,
    kind: String,
    sql: String,
}

/// Run `cmd` (one request) and keep what every other connection sent meanwhile to the
/// general log: pings, `Prepare`/`Close stmt`, resets and the connection's `SET NAMES` are
/// not part of a request's work once the pool is warm.
///
/// The general log must already be on (`log_output=TABLE`), and must have been on when the
/// server prepared its statements: MariaDB decides at PREPARE whether an `Execute` record
/// shows the parameters' values or only `?`.
async fn capture(url: &str, out: &str, cmd: &[String]) {
    let mut c = Conn::from_url(url)
        .await
        .unwrap_or_else(|e| die("connect", e));
    let on: Option<(u8, String)> = c
        .query_first("SELECT @@general_log, @@log_output")
        .await
        .unwrap_or_else(|e| die("general log", e));
    if !matches!(&on, Some((1, output)) if output.contains("TABLE")) {
        die("capture", "the general log is not on with log_output=TABLE");
    }
    c.query_drop("TRUNCATE TABLE mysql.general_log")
        .await
        .unwrap_or_else(|e| die("truncate general log", e));
    match std::process::Command::new(&cmd[0]).args(&cmd[1..]).status() {
        Ok(s) if s.success() => {}
        other => die("captured command", format!("{other:?}")),
    }
    let rows: Vec<(u64, String, Vec<u8>)> = c
        .query("SELECT thread_id, command_type, argument FROM mysql.general_log WHERE thread_id <> CONNECTION_ID()")
        .await
        .unwrap_or_else(|e| die("read general log", e));
    let (mut lines, mut raw) = (String::new(), String::new());
    let mut threads = std::collections::BTreeSet::new();
    for (thread, kind, arg) in rows {
        let sql = String::from_utf8_lossy(&arg).trim().to_string();
        raw += &format!("{thread}\t{kind}\t{sql}\n");
        if kind == "Connect" {
            eprintln!(
                "capture {out}: the request opened a connection (thread {thread}); its setup is not replayed"
            );
        }
        let setup = sql.to_ascii_uppercase().starts_with("SET NAMES");
        if !matches!(kind.as_str(), "Execute" | "Query") || setup {
            continue;
        }
        threads.insert(thread);
        lines += &serde_json::to_string(&Captured { thread, kind, sql }).unwrap();
        lines.push('\n');
    }
    std::fs::write(out, &lines).unwrap_or_else(|e| die(out, e));
    // Everything the log held, to see what was dropped.
    std::fs::write(format!("{out}.log"), raw).unwrap_or_else(|e| die(out, e));
    eprintln!(
        "capture {out}: {} statements on {} connection(s)",
        lines.lines().count(),
        threads.len()
    );
}

fn read_captured(file: &str) -> Vec<Captured> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| die(file, e));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| die(file, e)))
        .collect()
}

// ----------------------------------------------------------------------------- replay

#[derive(Default)]
struct ReplayOpts {
    verify_password: bool,
    hash_password: bool,
    unique: Vec<String>,
    insert_ids: Vec<u64>,
    provision: Option<String>,
}

fn replay_opts(args: &[String]) -> ReplayOpts {
    let mut o = ReplayOpts::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().unwrap_or_else(|| usage());
        match a.as_str() {
            "--verify-password" => o.verify_password = true,
            "--hash-password" => o.hash_password = true,
            "--unique" => o.unique.push(value()),
            "--insert-id" => o.insert_ids.push(num(&value())),
            "--provision" => o.provision = Some(value()),
            _ => usage(),
        }
    }
    o
}

/// A value bound to a templated statement each iteration.
enum Param {
    /// A string literal that held a `--unique` marker; the marker gets a fresh value.
    Text(String),
    /// The k-th `--insert-id`: the id the k-th `SELECT LAST_INSERT_ID()` gave this iteration.
    InsertId(usize),
}

/// A captured statement made reusable: string literals holding a `--unique` marker and the
/// numbers equal to a captured insert id become parameters, so the statement is prepared
/// once and every iteration binds its own values. A second sign-up with the same email
/// would be a cheap refusal, and every worker updating the captured tenant's row would
/// queue on its row lock: neither is the work the page does.
struct Template {
    prepared: bool,
    /// `SELECT LAST_INSERT_ID()`: its answer is the next insert id.
    insert_id: bool,
    sql: String,
    params: Vec<Param>,
}

fn template(s: &Captured, markers: &[String], ids: &[u64]) -> Template {
    let mut t = Template {
        prepared: s.kind == "Execute",
        insert_id: s.sql.eq_ignore_ascii_case("SELECT LAST_INSERT_ID()"),
        sql: String::new(),
        params: vec![],
    };
    if !t.prepared {
        t.sql = s.sql.clone();
        return t;
    }
    let mut rest = s.sql.as_str();
    while let Some(ch) = rest.chars().next() {
        let word_before = t
            .sql
            .ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        let len = if ch == '\'' {
            let (len, value) = sql_literal(rest);
            if markers.iter().any(|m| value.contains(m.as_str())) {
                t.sql
                    .truncate(t.sql.strip_suffix("_binary").unwrap_or(&t.sql).len());
                t.sql.push('?');
                t.params.push(Param::Text(value));
            } else {
                t.sql += &rest[..len];
            }
            len
        } else if ch.is_ascii_digit() && !word_before {
            let len = rest.bytes().take_while(u8::is_ascii_digit).count();
            let word_after = rest[len..]
                .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            match ids.iter().position(|id| id.to_string() == rest[..len]) {
                Some(k) if !word_after => {
                    t.sql.push('?');
                    t.params.push(Param::InsertId(k));
                }
                _ => t.sql += &rest[..len],
            }
            len
        } else {
            t.sql.push(ch);
            ch.len_utf8()
        };
        rest = &rest[len..];
    }
    t
}

/// The length and value of the quoted literal `lit` starts with, as MariaDB escapes them in
/// its log (backslash escapes and doubled quotes).
fn sql_literal(lit: &str) -> (usize, String) {
    let mut value = String::new();
    let mut chars = lit.char_indices().skip(1).peekable();
    while let Some((i, ch)) = chars.next() {
        match ch {
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('n') => value.push('\n'),
                Some('r') => value.push('\r'),
                Some('0') => value.push('\0'),
                Some('Z') => value.push('\x1a'),
                Some(c) => value.push(c),
                None => {}
            },
            '\'' if chars.peek().map(|(_, c)| *c) == Some('\'') => {
                chars.next();
                value.push('\'');
            }
            '\'' => return (i + 1, value),
            c => value.push(c),
        }
    }
    (lit.len(), value)
}

/// The captured statements of one page, in order, on one plain connection per worker, with
/// the page's password work and provision call when asked: requests per second.
async fn replay(url: &str, file: &str, concurrency: u64, secs: u64, args: &[String]) {
    let opts = Arc::new(replay_opts(args));
    let stmts: Arc<Vec<Template>> = Arc::new(
        read_captured(file)
            .iter()
            .map(|s| template(s, &opts.unique, &opts.insert_ids))
            .collect(),
    );
    let hash = Arc::new(chathub::domain::password::hash(PERF_PASSWORD).expect("hash"));
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 0xff_ffff;
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let mut c = Conn::from_url(url)
            .await
            .unwrap_or_else(|e| die("connect", e));
        let (stmts, opts, hash, done) = (stmts.clone(), opts.clone(), hash.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let prepared = prepare_all(&mut c, &stmts).await;
            let client = chathub::clients::provision::ProvisionClient::new();
            for n in 0.. {
                if Instant::now() >= deadline {
                    break;
                }
                let token = format!("u{run:x}w{w}n{n}");
                password_work(&opts, &hash).await;
                run_all(&mut c, &stmts, &prepared, &opts, &token).await;
                if let Some(base) = &opts.provision {
                    provision(&client, base, &token).await;
                }
                // As wrk: what is still in flight at the deadline does not count.
                if Instant::now() <= deadline {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap_or_else(|e| die("replay worker", e));
    }
    println!("{:.1}", done.load(Ordering::Relaxed) as f64 / secs as f64);
}

async fn prepare_all(c: &mut Conn, stmts: &[Template]) -> Vec<Option<mysql_async::Statement>> {
    let mut out = Vec::new();
    for s in stmts {
        out.push(match s.prepared {
            true => Some(c.prep(&s.sql).await.unwrap_or_else(|e| die(&s.sql, e))),
            false => None,
        });
    }
    out
}

/// One iteration: every statement in order, markers swapped for `token`, insert ids for the
/// ones this iteration's inserts got.
async fn run_all(
    c: &mut Conn,
    stmts: &[Template],
    prepared: &[Option<mysql_async::Statement>],
    opts: &ReplayOpts,
    token: &str,
) {
    let fresh = |v: &str| {
        opts.unique.iter().fold(v.to_string(), |acc, m| {
            acc.replace(m.as_str(), &padded(token, m.len()))
        })
    };
    let mut ids: Vec<u64> = Vec::new();
    let (mut i, mut retries, mut in_tx) = (0, 0, false);
    // Where the open transaction began, and how many insert ids were known then.
    let (mut tx_start, mut ids_at_tx) = (0, 0);
    while let (Some(s), Some(p)) = (stmts.get(i), prepared.get(i)) {
        let r = match (p, s.insert_id) {
            (_, true) => c
                .query_first::<u64, _>(&s.sql)
                .await
                .map(|id| ids.extend(id)),
            (Some(p), _) => {
                let params: Vec<Value> = s
                    .params
                    .iter()
                    .map(|v| match v {
                        Param::Text(v) => fresh(v).into(),
                        Param::InsertId(k) => {
                            ids.get(*k).copied().unwrap_or(opts.insert_ids[*k]).into()
                        }
                    })
                    .collect();
                c.exec_drop(p, params).await
            }
            (None, _) => c.query_drop(fresh(&s.sql)).await,
        };
        match r {
            Ok(()) => {}
            // Workers replaying the same sign-in touch the same throttle rows, as concurrent
            // requests do; InnoDB may pick one as a deadlock victim. The statement is
            // autocommitted, so running it again is what a retrying client does.
            Err(mysql_async::Error::Server(e)) if e.code == 1213 && retries < 10 && !in_tx => {
                retries += 1;
                continue;
            }
            // Inside a transaction InnoDB has rolled the whole transaction back: a retrying
            // client runs it again from its START TRANSACTION (register's two transactions at
            // c=64 meet this).
            Err(mysql_async::Error::Server(e)) if e.code == 1213 && retries < 10 => {
                retries += 1;
                (i, in_tx) = (tx_start, false);
                ids.truncate(ids_at_tx);
                continue;
            }
            Err(e) => die(&s.sql, e),
        }
        let head = s.sql.to_ascii_uppercase();
        if head.starts_with("START TRANSACTION") {
            (tx_start, ids_at_tx) = (i, ids.len());
        }
        in_tx = head.starts_with("START TRANSACTION") || in_tx && !head.starts_with("COMMIT");
        retries = 0;
        i += 1;
    }
}

/// The same length as the marker it replaces, so rows keep their size.
fn padded(token: &str, len: usize) -> String {
    format!("{token:0<len$}")
}

async fn password_work(opts: &ReplayOpts, hash: &Arc<String>) {
    if opts.verify_password {
        let hash = hash.clone();
        let ok = tokio::task::spawn_blocking(move || {
            chathub::domain::password::verify(PERF_PASSWORD, &hash, "")
        })
        .await;
        assert!(matches!(ok, Ok(true)), "bcrypt verify");
    }
    if opts.hash_password {
        let fresh: u64 = rand::random();
        let h = tokio::task::spawn_blocking(move || {
            chathub::domain::password::hash(&format!("{fresh:x}"))
        })
        .await;
        assert!(matches!(h, Ok(Ok(_))), "bcrypt hash");
    }
}

/// The sign-up's call to the provision server, with the server's own client: an HTTP round
/// trip every implementation of `register` has to make.
async fn provision(client: &chathub::clients::provision::ProvisionClient, base: &str, token: &str) {
    use chathub::clients::provision::{ProvisionPayload, ProvisionResult};
    let payload = ProvisionPayload {
        name: format!("Bench {token}"),
        domain: token.to_string(),
        email: format!("{token}@bench.example"),
        kind: "web_widget".into(),
        max_agents: 5,
    };
    let key = format!("reg-{token}");
    let api_key = chathub::config::DEFAULT_PROVISION_API_KEY;
    match client
        .provision(base, api_key, &key, &payload, Duration::from_secs(10))
        .await
    {
        ProvisionResult::Provisioned(_) => {}
        other => die("provision", format!("{other:?}")),
    }
}

// ---------------------------------------------------------------------------- explain

/// EXPLAIN every statement that reads a table, flagging full scans and large row estimates.
async fn explain(url: &str, file: &str, label: &str) {
    let mut c = Conn::from_url(url)
        .await
        .unwrap_or_else(|e| die("connect", e));
    for (i, s) in read_captured(file).iter().enumerate() {
        let head = s.sql.trim_start().to_ascii_uppercase();
        let reads = ["SELECT", "UPDATE", "DELETE"]
            .iter()
            .any(|k| head.starts_with(k));
        if !reads
            || head.contains("GET_LOCK")
            || head.contains("RELEASE_LOCK")
            || !head.contains(" FROM ") && !head.starts_with("UPDATE")
        {
            continue;
        }
        println!("explain {label} #{}: {}", i + 1, s.sql);
        let rows: Vec<mysql_async::Row> = c
            .query(format!("EXPLAIN {}", s.sql))
            .await
            .unwrap_or_else(|e| die(&s.sql, e));
        for r in rows {
            let col = |name: &str| {
                r.get_opt::<Option<String>, _>(name)
                    .and_then(Result::ok)
                    .flatten()
                    .unwrap_or_else(|| "NULL".into())
            };
            let n: u64 = col("rows").parse().unwrap_or(0);
            let scan = col("type") == "ALL" || n > 1000;
            println!(
                "  {} table={} type={} key={} rows={} extra={}",
                if scan { "SCAN" } else { "ok  " },
                col("table"),
                col("type"),
                col("key"),
                col("rows"),
                col("Extra")
            );
        }
    }
}

// -------------------------------------------------------------------------------- get

/// `n` requests one after the other on one kept-alive connection, for the instruction
/// counts: only the server is measured, so the client's cost does not matter.
async fn get(url: &str, n: u64, args: &[String]) {
    let client = reqwest::Client::new();
    let mut body = None;
    let mut headers = reqwest::header::HeaderMap::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--body" {
            let f = it.next().unwrap_or_else(|| usage());
            body = Some(std::fs::read(f).unwrap_or_else(|e| die(f, e)));
        } else if let Some((k, v)) = a.split_once(':') {
            let k = reqwest::header::HeaderName::from_bytes(k.trim().as_bytes())
                .unwrap_or_else(|e| die(k, e));
            headers.insert(k, v.trim().parse().unwrap_or_else(|e| die(v, e)));
        }
    }
    let mut first = None;
    for _ in 0..n {
        let req = match &body {
            Some(b) => client
                .post(url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(b.clone()),
            None => client.get(url),
        };
        let resp = req
            .headers(headers.clone())
            .send()
            .await
            .unwrap_or_else(|e| die(url, e));
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if status.is_server_error() {
            die(url, status);
        }
        first.get_or_insert_with(|| {
            format!("{status} {}", text.chars().take(60).collect::<String>())
        });
    }
    eprintln!(
        "get {url}: {n} requests, first answer: {}",
        first.unwrap_or_default()
    );
}

// ----------------------------------------------------------------------------- alipay

/// Throw-away keys: Alipay's platform pair (we sign notifications with its private half, the
/// server verifies with the public one) and a merchant key the server needs to start.
fn alipay_keys(dir: &str) {
    use rsa::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
    std::fs::create_dir_all(dir).unwrap_or_else(|e| die(dir, e));
    for name in ["platform", "merchant"] {
        let key =
            rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).unwrap_or_else(|e| die("rsa", e));
        let private = key
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap_or_else(|e| die("pem", e));
        let public = key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_else(|e| die("pem", e));
        std::fs::write(format!("{dir}/{name}_private.pem"), private.as_bytes())
            .unwrap_or_else(|e| die(dir, e));
        std::fs::write(format!("{dir}/{name}_public.pem"), public).unwrap_or_else(|e| die(dir, e));
    }
}

/// A `TRADE_SUCCESS` notification form for `order`, signed RSA2 with the crate's own signing
/// content rules, as Alipay sends it.
fn alipay_notify(key_file: &str, app_id: &str, order: &str, amount: &str) {
    let pem = std::fs::read_to_string(key_file).unwrap_or_else(|e| die(key_file, e));
    let key = chathub::clients::pay::parse_private_key(&pem).unwrap_or_else(|e| die(key_file, e));
    let mut params: Vec<(String, String)> = [
        ("app_id", app_id),
        ("charset", "utf-8"),
        ("notify_type", "trade_status_sync"),
        ("notify_id", "2026120100222100000000000001"),
        ("notify_time", "2026-12-01 10:00:05"),
        ("gmt_create", "2026-12-01 10:00:00"),
        ("gmt_payment", "2026-12-01 10:00:04"),
        ("out_trade_no", order),
        ("trade_no", "2026120122001400000000000001"),
        ("trade_status", "TRADE_SUCCESS"),
        ("total_amount", amount),
        ("receipt_amount", amount),
        ("buyer_id", "2088102177846880"),
        ("seller_id", "2088102177000000"),
        ("subject", "ChatHub renewal"),
        ("version", "1.0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let content = chathub::clients::pay::alipay::sign_content(&params);
    let sign = chathub::clients::pay::rsa_sha256_sign(&key, content.as_bytes());
    params.push(("sign_type".into(), "RSA2".into()));
    params.push(("sign".into(), sign));
    print!("{}", serde_urlencoded::to_string(&params).expect("form"));
}

// ------------------------------------------------------------------------------- stub

async fn stub(port: u16) {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let _stub = chathub_tools::provision_stub::ProvisionStub::start(
        addr,
        chathub::config::DEFAULT_PROVISION_API_KEY,
    )
    .await
    .expect("bind stub");
    println!("stub provision server on {addr}");
    std::future::pending::<()>().await;
}
