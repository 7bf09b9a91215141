//! A MySQL restart is survived without restarting our server: requests fail cleanly while the
//! database is down, and the pool reconnects by itself once it is back.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chathub::clock::Clock;
use chathub::config::{Config, ConfigSources};
use chathub::devstack::{PrivateMariaDb, prepare_database};
use chathub::startup::Application;

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
    chathub::db::demo::create_database(&mut admin, "chathub_restart")
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
            ("email", chathub::db::demo::DEMO_MEMBER_EMAIL),
            ("password", chathub::db::demo::DEMO_MEMBER_PASSWORD),
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
    assert_eq!(status, 500, "a clear error page while the database is down");
    assert!(body.contains("服务器开小差了"), "{body}");
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
