//! Helpers for `bench/run.sh`: seed the dataset, and measure the limits our server is
//! compared against (the bare SQL of `my`, the bare password check of `doLogin`).
//!
//!     bench_tool seed <mysql-url>
//!     bench_tool sql <mysql-url> <concurrency> <seconds>
//!     bench_tool hash <concurrency> <seconds>
//!     bench_tool stub <port>          (the stub provision server, until killed)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mysql_async::prelude::*;

/// The perf member `bench/run.sh` signs in as, with three tenants.
const PERF_EMAIL: &str = "perf@example.com";
const PERF_PASSWORD: &str = "perf-pass-1";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("seed") => seed(&args[2]).await,
        Some("sql") => bare_sql(&args[2], args[3].parse().unwrap(), args[4].parse().unwrap()).await,
        Some("hash") => bare_hash(args[2].parse().unwrap(), args[3].parse().unwrap()).await,
        Some("stub") => stub(args[2].parse().unwrap()).await,
        _ => {
            eprintln!("usage: bench_tool seed URL | sql URL C SECS | hash C SECS");
            std::process::exit(2);
        }
    }
}

async fn seed(url: &str) {
    let pool = mysql_async::Pool::new(url);
    let mut c = pool.get_conn().await.expect("connect");
    let now = 1_795_561_549i64;
    let hash = chathub::domain::password::hash(PERF_PASSWORD).expect("hash");
    c.query_drop("DELETE FROM fa_user WHERE id > 1")
        .await
        .unwrap();
    c.query_drop("TRUNCATE fa_chathub_tenant").await.unwrap();
    c.query_drop("TRUNCATE fa_chathub_log").await.unwrap();
    let mut tx = c.start_transaction(Default::default()).await.unwrap();
    for id in 2..=1001u32 {
        let (email, pw) = if id == 2 {
            (PERF_EMAIL.to_string(), hash.clone())
        } else {
            (format!("user{id}@example.com"), hash.clone())
        };
        tx.exec_drop(
            "INSERT INTO fa_user (id, username, nickname, password, salt, email, status, jointime, createtime, updatetime) \
             VALUES (?, ?, ?, ?, '', ?, 'normal', ?, ?, ?)",
            (id, &email, format!("User {id}"), &pw, &email, now, now, now),
        )
        .await
        .unwrap();
    }
    let statuses = ["pending", "provisioning", "active", "suspended", "disabled"];
    for n in 0..3000u32 {
        // The perf member owns the first three tenants; the rest spread over the others.
        let user = if n < 3 { 2 } else { 3 + (n % 999) };
        let status = statuses[(n % 5) as usize];
        let embed = if status == "active" {
            Some("<script>/* widget */</script>")
        } else {
            None
        };
        tx.exec_drop(
            "INSERT INTO fa_chathub_tenant (user_id, tenant_name, domain, email, max_agents, channel_type, status, config, \
             embed_code, expire_at, createtime, updatetime) VALUES (?, ?, ?, ?, 2, 'web_widget', ?, ?, ?, \
             '2026-12-25 12:00:00', ?, ?)",
            (
                user,
                format!("Tenant {n}"),
                format!("tenant-{n}"),
                format!("user{user}@example.com"),
                status,
                r#"{"plan":"pro","price":60,"notes":"","registered_at":"2026-11-01 10:00:00","initial_password":null}"#,
                embed,
                now,
                now,
            ),
        )
        .await
        .unwrap();
    }
    for n in 0..10_000u32 {
        tx.exec_drop(
            "INSERT INTO fa_chathub_log (tenant_id, action, detail, status, operator, createtime) VALUES (?, 'register', ?, 'success', 'website', ?)",
            (1 + n % 3000, format!("seed row {n}"), now - i64::from(n)),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    println!(
        "seeded: 1000 users, 3000 tenants, 10000 log rows; member {PERF_EMAIL} / {PERF_PASSWORD}"
    );
}

/// The two queries `my` runs (the member row, then the member's tenants), back to back, at
/// the given concurrency: the ceiling for `my` on this database.
async fn bare_sql(url: &str, concurrency: usize, secs: u64) {
    let pool = mysql_async::Pool::new(url);
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let pool = pool.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = pool.get_conn().await.expect("connect");
            while Instant::now() < deadline {
                let _: Option<mysql_async::Row> = c
                    .exec_first("SELECT id, username, nickname, password, salt, email, status, logintime, successions, loginfailure FROM fa_user WHERE id = ?", (2u32,))
                    .await
                    .unwrap();
                let _: Vec<mysql_async::Row> = c
                    .exec("SELECT * FROM fa_chathub_tenant WHERE user_id = ? ORDER BY id DESC", (2u32,))
                    .await
                    .unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    println!("{:.1}", done.load(Ordering::Relaxed) as f64 / secs as f64);
}

/// Password checks per second on all cores: the ceiling for `doLogin`.
async fn bare_hash(concurrency: usize, secs: u64) {
    let hash = chathub::domain::password::hash(PERF_PASSWORD).expect("hash");
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let hash = hash.clone();
        let done = done.clone();
        tasks.push(tokio::task::spawn_blocking(move || {
            while Instant::now() < deadline {
                assert!(chathub::domain::password::verify(PERF_PASSWORD, &hash, ""));
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    println!("{:.1}", done.load(Ordering::Relaxed) as f64 / secs as f64);
}

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
