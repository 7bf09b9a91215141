//! The PHP site's sessions: FastAdmin admins whose session ThinkPHP keeps in Redis, and the
//! switch that signs nobody out (members the PHP addon signed in keep their session; orders
//! it created are credited by our notifications). Against the machine's Redis
//! (`CHATHUB_TEST_REDIS_URL`, else 127.0.0.1:6379; `scripts/test.sh` starts a private one when
//! none answers), each test under its own key prefix.

use std::time::{Duration, Instant};

use crate::support::member::session_cookie;
use crate::support::pay::{alipay_notification, gateway_app_on, post_alipay, seeded_db};
use crate::support::{TestApp, location, rand_u64, row};

fn redis_url() -> String {
    std::env::var("CHATHUB_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into())
}

async fn redis_set(key: &str, value: &str) {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    // ThinkPHP's driver writes with SETEX (its `expire`).
    let _: () = redis::cmd("SETEX")
        .arg(key)
        .arg(300)
        .arg(value)
        .query_async(&mut c)
        .await
        .unwrap();
}

/// A key prefix no other test uses (ThinkPHP's `session_name`).
fn prefix() -> String {
    format!("chathub_test_{}:", rand_u64())
}

const SID: &str = "q1w2e3r4t5y6u7i8o9p0asdfgh";
const OTHER_SID: &str = "zxcvbnm1234567890lkjhgfdsa";
const ADMIN_TOKEN: &str = "8c3d6f3e-1b1a-4d4c-9e0e-6d1f0c2a9b7e";

/// The session ThinkPHP writes once the PHP addon's `doLogin` ran
/// (`session('chathub_user_id', …)` and friends, under the `think` prefix).
fn php_member_session(uid: &str) -> String {
    format!(
        "think|a:3:{{s:15:\"chathub_user_id\";{uid}s:18:\"chathub_user_email\";s:17:\"alice@example.com\";s:17:\"chathub_user_nick\";s:16:\"Alice Trading Co\";}}"
    )
}

/// FastAdmin's admin session (`Session::set('admin', …)`), as in `admin.rs`.
fn php_admin_session(token: &str) -> String {
    format!(
        "think|a:1:{{s:5:\"admin\";a:4:{{s:2:\"id\";i:1;s:8:\"username\";s:5:\"admin\";s:7:\"loginip\";s:9:\"127.0.0.1\";s:5:\"token\";s:{}:\"{token}\";}}}}",
        token.len()
    )
}

const ADMIN_ROW: &str = "INSERT INTO fa_admin (id, username, nickname, password, salt, loginip, token, status) VALUES \
 (1, 'admin', 'Admin', 'x', 'y', '127.0.0.1', '8c3d6f3e-1b1a-4d4c-9e0e-6d1f0c2a9b7e', 'normal'); \
 INSERT INTO fa_auth_group (id, pid, name, rules, status) VALUES (1, 0, 'Admin group', '*', 'normal'); \
 INSERT INTO fa_auth_group_access (uid, group_id) VALUES (1, 1);";

async fn redis_app(prefix: &str, extra: &[(&str, &str)]) -> TestApp {
    let url = redis_url();
    let mut env = vec![
        ("CHATHUB_PHP_SESSION_REDIS_URL", url.as_str()),
        ("CHATHUB_PHP_SESSION_REDIS_PREFIX", prefix),
    ];
    env.extend_from_slice(extra);
    TestApp::init()
        .with_members()
        .with_sql(ADMIN_ROW)
        .with_envs(&env)
        .spawn()
        .await
}

async fn get(app: &TestApp, path: &str, cookie: &str) -> reqwest::Response {
    app.get_with_cookie(path, cookie).await
}

/// `name=value` of the session cookie a response sets.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

const MY: &str = "/addons/chathub/index/my";
const LOGIN: &str = "/addons/chathub/index/login";

#[tokio::test]
async fn an_admin_whose_session_is_in_redis_opens_the_console() {
    let p = prefix();
    let app = redis_app(&p, &[]).await;
    redis_set(&format!("{p}{SID}"), &php_admin_session(ADMIN_TOKEN)).await;
    let r = get(
        &app,
        "/addons/chathub/index/index",
        &format!("PHPSESSID={SID}"),
    )
    .await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.contains("<title>租户列表</title>"), "{body}");

    // The same checks as for files: a token FastAdmin rotated since, or another key.
    redis_set(
        &format!("{p}{OTHER_SID}"),
        &php_admin_session("stale-token"),
    )
    .await;
    for sid in [OTHER_SID, "nosuchsession0000000000000"] {
        let r = get(
            &app,
            "/addons/chathub/index/index",
            &format!("PHPSESSID={sid}"),
        )
        .await;
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("请登录后再操作"), "{sid}");
    }
    // A session written under another prefix (another site's) is not ours.
    let r = get(
        &app,
        "/addons/chathub/index/index",
        &format!("PHPSESSID={p}{SID}"),
    )
    .await;
    assert!(r.text().await.unwrap().contains("请登录后再操作"));
}

/// A Redis that refuses connections, and one that accepts and never answers.
async fn dead_redis_urls() -> Vec<String> {
    let refused = chathub_tools::testing::free_port();
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    vec![
        format!("redis://127.0.0.1:{refused}/0"),
        format!("redis://127.0.0.1:{silent_port}/0"),
    ]
}

#[tokio::test]
async fn a_redis_that_is_down_signs_nobody_in_and_is_no_error() {
    for url in dead_redis_urls().await {
        let app = TestApp::init()
            .with_members()
            .with_sql(ADMIN_ROW)
            .with_envs(&[
                ("CHATHUB_PHP_SESSION_REDIS_URL", url.as_str()),
                ("CHATHUB_PHP_SESSION_REDIS_TIMEOUT_MS", "300"),
            ])
            .spawn()
            .await;
        let started = Instant::now();
        let r = get(
            &app,
            "/addons/chathub/index/index",
            &format!("PHPSESSID={SID}"),
        )
        .await;
        assert_eq!(r.status(), 200, "{url}");
        assert!(r.text().await.unwrap().contains("请登录后再操作"), "{url}");
        let r = get(&app, MY, &format!("PHPSESSID={SID}")).await;
        assert_eq!(r.status(), 302, "{url}");
        assert_eq!(location(&r), LOGIN);
        assert!(session_cookie(&r).is_none());
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{url}: {:?}",
            started.elapsed()
        );
    }
}

/// The member's first request after the switch: back to the same URL with our session, then
/// the page.
async fn first_request(app: &TestApp, path: &str, sid: &str) -> String {
    let r = get(app, path, &format!("PHPSESSID={sid}")).await;
    assert_eq!(r.status(), 302, "{path}");
    assert_eq!(location(&r), path);
    let set = session_cookie(&r).expect("our session is issued");
    assert!(set.contains("HttpOnly"), "{set}");
    format!("PHPSESSID={sid}; {}", pair(&set))
}

#[tokio::test]
async fn a_member_signed_in_on_the_php_addon_is_still_signed_in_after_the_switch() {
    let p = prefix();
    let app = redis_app(&p, &[]).await;
    redis_set(&format!("{p}{SID}"), &php_member_session("i:2;")).await;

    let cookies = first_request(&app, "/addons/chathub/index/my?order=CH1", SID).await;
    let r = get(&app, "/addons/chathub/index/my?order=CH1", &cookies).await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.contains("欢迎回来，Alice Trading Co"), "{body}");

    // Another device's PHP session (a string id, as PHP stores a row's value) too.
    redis_set(
        &format!("{p}{OTHER_SID}"),
        &php_member_session("s:1:\"2\";"),
    )
    .await;
    let other = first_request(&app, MY, OTHER_SID).await;
    assert_eq!(get(&app, MY, &other).await.status(), 200);

    // Carried over once: after a logout here, the PHP session (which still names the
    // member, and which we cannot end) signs nobody in again.
    let r = get(&app, "/addons/chathub/index/logout", &cookies).await;
    assert_eq!(r.status(), 302);
    let r = get(&app, MY, &format!("PHPSESSID={SID}")).await;
    assert_eq!(location(&r), LOGIN);
    assert!(session_cookie(&r).is_none());

    // Also when the member had signed in here with a password, never carried over.
    const THIRD: &str = "thirddevice00000000000000a";
    redis_set(&format!("{p}{THIRD}"), &php_member_session("i:2;")).await;
    let ours = crate::support::pay::member_cookie(
        &app,
        2,
        "alice@example.com",
        crate::support::member::ALICE_HASH,
    );
    let both = format!("PHPSESSID={THIRD}; {ours}");
    assert_eq!(get(&app, MY, &both).await.status(), 200);
    let r = get(&app, "/addons/chathub/index/logout", &both).await;
    assert_eq!(location(&r), "/addons/chathub/index/landing");
    let r = get(&app, MY, &format!("PHPSESSID={THIRD}")).await;
    assert_eq!(location(&r), LOGIN, "logout sticks");
}

#[tokio::test]
async fn php_sessions_without_an_active_member_sign_nobody_in() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::init()
        .with_members()
        .with_envs(&[("CHATHUB_PHP_SESSION_DIR", dir.path().to_str().unwrap())])
        .spawn()
        .await;
    app.db
        .run_sql("UPDATE fa_user SET status = 'hidden' WHERE id = 3")
        .await;
    let cases = [
        ("loggedoutonphp0000000000aa", php_member_session("N;")),
        ("lockedaccount0000000000aaa", php_member_session("i:3;")),
        ("unknownaccount000000000aaa", php_member_session("i:999;")),
        ("adminonly00000000000000aaa", php_admin_session(ADMIN_TOKEN)),
        (
            "garbage000000000000000000a",
            "chathub_user_id|i:2".to_string(),
        ),
    ];
    for (sid, content) in &cases {
        std::fs::write(dir.path().join(format!("sess_{sid}")), content).unwrap();
        let r = get(&app, MY, &format!("PHPSESSID={sid}")).await;
        assert_eq!(r.status(), 302, "{sid}");
        assert_eq!(location(&r), LOGIN, "{sid}");
        assert!(session_cookie(&r).is_none(), "{sid}");
    }

    // The same file carries Alice over: files and Redis are read alike.
    std::fs::write(
        dir.path().join(format!("sess_{SID}")),
        php_member_session("i:2;"),
    )
    .unwrap();
    let cookies = first_request(&app, MY, SID).await;
    assert_eq!(get(&app, MY, &cookies).await.status(), 200);
}

#[tokio::test]
async fn without_a_session_store_php_sessions_are_not_read() {
    let app = TestApp::init().with_members().spawn().await;
    let r = get(&app, MY, &format!("PHPSESSID={SID}")).await;
    assert_eq!(location(&r), LOGIN);
    assert!(session_cookie(&r).is_none());
}

#[tokio::test]
async fn an_order_the_php_addon_created_before_the_switch_is_credited() {
    let db = seeded_db().await;
    // What the original's `renew` inserted: 'CH' . date('YmdHis') . mt_rand(100, 999), the
    // plan's integer price, and nothing else.
    let order_no = "CH20260601101530482";
    db.run_sql(&format!(
        "INSERT INTO `fa_chathub_order` (`order_no`, `tenant_id`, `user_id`, `plan`, `amount`, `status`, `createtime`) \
         VALUES ('{order_no}', 11, 2, 'pro', 60, 'pending', 1780280130)"
    ))
    .await;
    let app = gateway_app_on(db, &[]).await;
    let before = row(
        &app.db,
        "SELECT expire_at FROM fa_chathub_tenant WHERE id = 11",
    )
    .await;
    let form = alipay_notification(
        order_no,
        "60.00",
        "TRADE_SUCCESS",
        crate::support::pay::ALIPAY_APP_ID,
    );
    let r = post_alipay(&app, &form).await;
    assert_eq!(r.text().await.unwrap(), "success");
    let order = row(
        &app.db,
        &format!("SELECT status, pay_method, pay_trade_no FROM fa_chathub_order WHERE order_no = '{order_no}'"),
    )
    .await;
    assert_eq!(order, ["paid", "alipay", &format!("T-{order_no}")]);
    let after = row(
        &app.db,
        "SELECT expire_at FROM fa_chathub_tenant WHERE id = 11",
    )
    .await;
    assert_ne!(after, before, "the tenant is extended");
    let r = app
        .get(&format!("/addons/chathub/index/payReturn?order={order_no}"))
        .await;
    assert!(
        location(&r).starts_with(&format!("{MY}?order={order_no}&")),
        "{}",
        location(&r)
    );
}
