//! Database faults: a MySQL restart is survived without restarting our server (requests fail
//! cleanly while the database is down, and the pool reconnects by itself once it is back); a
//! frozen database (SIGSTOP: connections open, nothing answers) costs a request at most the
//! checkout bound, and an outage is logged once, not once per request.

use crate::support::log::CapturedLog;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chathub::clock::Clock;
use chathub::config::{Config, ConfigSources};
use chathub::startup::Application;
use chathub_tools::devstack::{PrivateMariaDb, prepare_database};

async fn get(client: &reqwest::Client, url: &str) -> (u16, String) {
    match client.get(url).send().await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(e) => panic!("our server must answer: {e}"),
    }
}

#[tokio::test]
async fn mysql_restart_is_survived_without_restarting_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let db = match PrivateMariaDb::start_on(dir.path(), None).await {
        Ok(db) => db,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped: no mariadbd here ({e})");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let port = db.port;
    let mut admin = mysql_async::Conn::from_url(format!("mysql://root@127.0.0.1:{port}").as_str())
        .await
        .unwrap();
    chathub_tools::demo::create_database(&mut admin, "chathub_restart")
        .await
        .unwrap();
    drop(admin);

    let mut env = BTreeMap::new();
    for (k, v) in [
        (
            "CHATHUB_DATABASE_URL",
            format!("mysql://root@127.0.0.1:{port}/chathub_restart"),
        ),
        ("CHATHUB_LISTEN", "127.0.0.1:0".into()),
        (
            "CHATHUB_SESSION_SECRET",
            "restart-test-secret-0123456789abcdef0123456789".into(),
        ),
        ("CHATHUB_PROVISION_WORKER", "0".into()),
    ] {
        env.insert(k.to_string(), v);
    }
    let config = Config::load_with_env(&ConfigSources::default(), &env).unwrap();
    let clock = Clock::system(config.timezone);
    prepare_database(&config, &clock).await.unwrap();
    let app = Application::build(config, clock).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run());

    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .post(format!("{base}/addons/chathub/index/doLogin"))
        .form(&[
            ("email", chathub_tools::demo::DEMO_MEMBER_EMAIL),
            ("password", chathub_tools::demo::DEMO_MEMBER_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/addons/chathub/index/my");
    let my = format!("{base}/addons/chathub/index/my");
    assert_eq!(get(&client, &my).await.0, 200);

    db.stop().await;
    assert_eq!(get(&client, &format!("{base}/readyz")).await.0, 503);
    let (status, body) = get(&client, &my).await;
    assert_eq!(status, 503, "a clear error page while the database is down");
    assert!(body.contains("服务暂时不可用"), "{body}");
    assert!(
        !body.contains("mysql") && !body.contains("127.0.0.1"),
        "no cause leaks: {body}"
    );

    let db = PrivateMariaDb::start_on(dir.path(), Some(port))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if get(&client, &format!("{base}/readyz")).await.0 == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the pool never reconnected");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, body) = get(&client, &my).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("会员中心"),
        "the member's session survived too"
    );
    db.stop().await;
}

/// A stand-in for a SIGSTOPped MariaDB in front of the real one: while paused it accepts
/// connections and keeps them open but forwards nothing either way, which is what a stopped
/// server looks like from the network (the kernel still completes TCP handshakes).
struct FreezableProxy {
    port: u16,
    frozen: tokio::sync::watch::Sender<bool>,
}

impl FreezableProxy {
    async fn start(upstream: String) -> FreezableProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (frozen, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let rx = rx.clone();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::join!(pump(cr, sw, rx.clone()), pump(sr, cw, rx));
                });
            }
        });
        FreezableProxy { port, frozen }
    }

    fn freeze(&self, on: bool) {
        self.frozen.send_replace(on);
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut frozen: tokio::sync::watch::Receiver<bool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        // Nothing is read while frozen: bytes wait in the socket as they would for a stopped
        // process.
        if frozen.wait_for(|f| !*f).await.is_err() {
            return;
        }
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            _ = frozen.wait_for(|f| *f) => continue,
        };
        // Data read just as the freeze began is held until it ends.
        if frozen.wait_for(|f| !*f).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

fn env_for(database_url: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("CHATHUB_DATABASE_URL".into(), database_url.to_string());
    env.insert("CHATHUB_LISTEN".into(), "127.0.0.1:0".into());
    env.insert(
        "CHATHUB_SESSION_SECRET".into(),
        crate::support::SESSION_SECRET.into(),
    );
    env.insert("CHATHUB_PROVISION_WORKER".into(), "0".into());
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    env
}

const BOB_SQL: &str = "INSERT INTO fa_user (id, group_id, username, nickname, password, salt, email, level, joinip, jointime, createtime, updatetime, status) VALUES \
(3, 1, 'bob@example.com', 'Bob Ltd', '1f96efdf3b7947ee9fa84aae7fda3cf5', 'legacy2', 'bob@example.com', 1, '127.0.0.1', 1779000000, 1779000000, 1779000000, 'normal')";

async fn timed_get(client: &reqwest::Client, url: &str, cookie: &str) -> (u16, String, Duration) {
    let started = Instant::now();
    let r = client
        .get(url)
        .header("Cookie", cookie)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("our server answers");
    let status = r.status().as_u16();
    let retry_after = r.headers().get("retry-after").is_some();
    let body = r.text().await.unwrap_or_default();
    assert!(status != 503 || retry_after, "a 503 says when to retry");
    (status, body, started.elapsed())
}

/// MariaDB frozen (a paused connection standing in for SIGSTOP): `my` gets the 503 page
/// within the checkout bound instead of waiting for the database, `/readyz` says not-ready
/// within a second, the outage is logged once however many requests fail, and its end is
/// logged when the database answers again.
#[tokio::test]
async fn a_frozen_database_costs_a_request_the_checkout_bound_and_is_logged_once() {
    let log = CapturedLog::default();
    let _guard = log.install();
    let db = crate::support::TestDb::with_schema().await;
    db.run_sql(BOB_SQL).await;
    let (server, name) = db.url.rsplit_once('/').unwrap();
    let upstream = server
        .rsplit_once('@')
        .map_or(server, |(_, h)| h)
        .to_string();
    let proxy = FreezableProxy::start(upstream).await;
    let url = format!("mysql://root@127.0.0.1:{}/{name}", proxy.port);
    let config = Config::load_with_env(
        &ConfigSources::default(),
        &env_for(&url, &[("CHATHUB_DB_CHECKOUT_TIMEOUT_MS", "1500")]),
    )
    .unwrap();
    let clock = Clock::system(config.timezone);
    let app = Application::build(config, clock).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let state = app.app();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let session = chathub::services::sessions::SessionData::signed_in(
        chathub::domain::ids::UserId(3),
        "bob@example.com",
        "Bob",
        "1f96efdf3b7947ee9fa84aae7fda3cf5",
        state.clock.epoch(),
    );
    let cookie = state.sessions.set_cookie(&session, false);
    let cookie = cookie
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let client = reqwest::Client::new();
    let my = format!("{base}/addons/chathub/index/my");
    let (status, body, _) = timed_get(&client, &my, &cookie).await;
    assert_eq!(status, 200, "{body}");

    proxy.freeze(true);
    assert_not_ready_at_once(&client, &base).await;
    let sign_ins = (0..20).map(|_| {
        client
            .post(format!("{base}/addons/chathub/index/doLogin"))
            .form(&[("email", "bob@example.com"), ("password", "wrong")])
            .timeout(Duration::from_secs(30))
            .send()
    });
    for r in futures_util::future::join_all(sign_ins).await {
        assert_eq!(r.unwrap().status(), 503);
    }
    let errors = log.lines("ERROR");
    assert_eq!(
        errors.len(),
        1,
        "one line for the outage, not one per request: {errors:#?} (all: {:#?})",
        log.lines("")
    );
    assert!(errors[0].contains("database unreachable"), "{errors:#?}");
    let requests = (0..5).map(|_| timed_get(&client, &my, &cookie));
    for (status, body, took) in futures_util::future::join_all(requests).await {
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("服务暂时不可用"), "{body}");
        assert!(!body.contains("127.0.0.1"), "no cause leaks: {body}");
        // The bound is 1.5 s; a frozen database used to hold the request as long as it
        // stayed frozen.
        assert!(took < Duration::from_secs(10), "{took:?}");
    }

    proxy.freeze(false);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _, _) = timed_get(&client, &my, &cookie).await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let warns = log.lines("WARN");
    assert!(
        warns.iter().any(|l| l.contains("database reachable again")),
        "{warns:#?}"
    );
    let _ = stop.send(());
}

/// A database endpoint that accepts connections and never answers (no handshake): requests
/// get the 503 page within the checkout bound and readiness answers within a second.
#[tokio::test]
async fn a_database_that_never_answers_gets_a_503_within_the_bound() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let config = Config::load_with_env(
        &ConfigSources::default(),
        &env_for(
            &format!("mysql://root@127.0.0.1:{port}/nothing"),
            &[("CHATHUB_DB_CHECKOUT_TIMEOUT_MS", "1000")],
        ),
    )
    .unwrap();
    let clock = Clock::system(config.timezone);
    let app = Application::build(config, clock).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    assert_not_ready_at_once(&client, &base).await;
    let started = Instant::now();
    let r = client
        .post(format!("{base}/addons/chathub/index/doLogin"))
        .form(&[("email", "bob@example.com"), ("password", "whatever")])
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("系统繁忙，请稍后重试"));
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    let _ = stop.send(());
}

/// `/readyz` says not-ready (503) well within two seconds, whatever the database does.
async fn assert_not_ready_at_once(client: &reqwest::Client, base: &str) {
    let started = Instant::now();
    let ready = client
        .get(format!("{base}/readyz"))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "readiness answered after {:?}",
        started.elapsed()
    );
}
