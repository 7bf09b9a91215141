//! Signing in and out: the original's redirects and messages, every password scheme a
//! FastAdmin site holds, sessions that cannot be fixed, forged or kept after sign-out, and
//! throttling of guessing.

use crate::support::html::*;
use crate::support::member::*;
use crate::support::{TestApp, get_with_cookie, location};
use mysql_async::prelude::*;

const LOGIN_FILL_IN: &str = "/addons/chathub/index/login?error=%E8%AF%B7%E5%A1%AB%E5%86%99%E9%82%AE%E7%AE%B1%E5%92%8C%E5%AF%86%E7%A0%81";
const LOGIN_WRONG: &str = "/addons/chathub/index/login?error=%E9%82%AE%E7%AE%B1%E6%88%96%E5%AF%86%E7%A0%81%E9%94%99%E8%AF%AF";

#[tokio::test]
async fn login_page_shows_the_form_and_follows_site_name() {
    let app = spawn_seeded(&[("CHATHUB_ADDON_SITE_NAME", "Acme客服")]).await;
    let r = app.get("/addons/chathub/index/login").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(
        r.headers()["cache-control"],
        "no-store, no-cache, must-revalidate"
    );
    let body = r.text().await.unwrap();
    assert_eq!(
        select_all(&body, "title"),
        vec!["<title>登录 - Acme客服</title>"]
    );
    assert_eq!(
        page_text(&body),
        "登录 Acme客服 登录后查看您的 AI 客服订阅 邮箱 密码 登录 还没账号？立即注册 · 返回首页"
    );
    assert_eq!(
        attr_all(&body, "form", "action"),
        vec!["/addons/chathub/index/doLogin"]
    );
    assert_eq!(attr_all(&body, "form", "method"), vec!["POST"]);
    // The original's two fields, plus our hidden login-CSRF token (COMPAT.md#login-csrf).
    assert_eq!(
        attr_all(&body, "form input", "name"),
        vec!["__token__", "email", "password"]
    );
    assert_eq!(
        attr_all(&body, "a", "href"),
        vec![
            "/addons/chathub/index/registerpage",
            "/addons/chathub/index/landing"
        ]
    );
}

#[tokio::test]
async fn login_page_shows_the_error_escaped() {
    let app = spawn_seeded(&[]).await;
    let r = app
        .get("/addons/chathub/index/login?error=%E9%82%AE%E7%AE%B1%E6%88%96%E5%AF%86%E7%A0%81%E9%94%99%E8%AF%AF")
        .await;
    let body = r.text().await.unwrap();
    assert!(page_text(&body).contains("登录后查看您的 AI 客服订阅 邮箱或密码错误 邮箱"));

    let r = app
        .get("/addons/chathub/index/login?error=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E")
        .await;
    let body = r.text().await.unwrap();
    assert!(select_all(&body, "img").is_empty(), "{body}");
    assert!(page_text(&body).contains("<img src=x onerror=alert(1)>"));
}

#[tokio::test]
async fn missing_credentials_send_back_the_fill_in_message() {
    let app = spawn_seeded(&[]).await;
    for form in [
        vec![("email", ""), ("password", "")],
        vec![("email", "alice@example.com"), ("password", "")],
        vec![("email", "   "), ("password", "alice-pass-1")],
        vec![],
    ] {
        let r = app.post_form("/addons/chathub/index/doLogin", &form).await;
        assert_eq!(r.status(), 302, "{form:?}");
        assert_eq!(location(&r), LOGIN_FILL_IN, "{form:?}");
        assert_eq!(r.headers()["content-type"], "text/html; charset=UTF-8");
        assert!(session_cookie(&r).is_none());
    }
    // GET without a body, too.
    let r = app.get("/addons/chathub/index/doLogin").await;
    assert_eq!(location(&r), LOGIN_FILL_IN);
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_message() {
    let app = spawn_seeded(&[]).await;
    let r = login(&app, "nobody@example.com", "whatever").await;
    assert_eq!(
        (r.status().as_u16(), location(&r)),
        (302, LOGIN_WRONG.to_string())
    );
    let r = login(&app, "alice@example.com", "wrong-pass").await;
    assert_eq!(
        (r.status().as_u16(), location(&r)),
        (302, LOGIN_WRONG.to_string())
    );
    assert!(session_cookie(&r).is_none());
    // The failure is counted against the account (FastAdmin's loginfailure), nothing else
    // about the row changes.
    let row = user_row(&app.db, 2).await.unwrap();
    assert_eq!(row.get::<u32, _>("loginfailure"), Some(1));
    assert_eq!(row.get::<Option<i64>, _>("logintime"), Some(None));
    assert_eq!(row.get::<String, _>("password").unwrap(), ALICE_HASH);
    assert_eq!(
        row.get::<Option<i64>, _>("updatetime").unwrap(),
        Some(1779000000)
    );
    // A successful sign-in resets the count: the row reads as the original left it.
    login(&app, "alice@example.com", "alice-pass-1").await;
    let row = user_row(&app.db, 2).await.unwrap();
    assert_eq!(row.get::<u32, _>("loginfailure"), Some(0));
    assert_eq!(
        row.get::<Option<i64>, _>("updatetime").unwrap(),
        Some(1779000000)
    );
}

#[tokio::test]
async fn salted_md5_user_signs_in_with_the_originals_bookkeeping() {
    let app = spawn_seeded(&[]).await;
    let r = login(&app, "alice@example.com", "alice-pass-1").await;
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), MY);
    let cookie = session_cookie(&r).expect("session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/")
    );
    assert!(!cookie.contains("Secure"), "plain HTTP here");

    let now = app.app.clock.epoch();
    let row = user_row(&app.db, 2).await.unwrap();
    let logintime: i64 = row.get::<Option<i64>, _>("logintime").unwrap().unwrap();
    assert!((logintime - now).abs() <= 2);
    // First sign-in: prevtime = now, as the original (`logintime ?: time()`).
    assert_eq!(
        row.get::<Option<i64>, _>("prevtime").unwrap(),
        Some(logintime)
    );
    assert_eq!(row.get::<String, _>("loginip").unwrap(), "127.0.0.1");
    assert_eq!(row.get::<u32, _>("successions"), Some(2));
    assert_eq!(row.get::<u32, _>("loginfailure"), Some(0));
    assert_eq!(
        row.get::<Option<i64>, _>("updatetime").unwrap(),
        Some(1779000000)
    );

    // The member center opens with that session.
    let r = app.get(MY).await;
    assert_eq!(r.status(), 200);
    assert!(page_text(&r.text().await.unwrap()).contains("欢迎回来，Alice Trading Co"));

    // A later sign-in moves logintime to prevtime.
    {
        let mut c = app.db.conn().await;
        c.query_drop("UPDATE fa_user SET logintime = 1790000000 WHERE id = 2")
            .await
            .unwrap();
    }
    let r = login(&app, "alice@example.com", "alice-pass-1").await;
    assert_eq!(location(&r), MY);
    let row = user_row(&app.db, 2).await.unwrap();
    assert_eq!(
        row.get::<Option<i64>, _>("prevtime").unwrap(),
        Some(1790000000)
    );
    assert_eq!(row.get::<u32, _>("successions"), Some(3));
}

#[tokio::test]
async fn email_is_trimmed_and_json_and_ajax_bodies_sign_in_too() {
    let app = spawn_seeded(&[]).await;
    let r = login(&app, "  alice@example.com ", "alice-pass-1").await;
    assert_eq!(location(&r), MY);

    let c = TestApp::new_client();
    let r = c
        .post(app.url("/addons/chathub/index/doLogin"))
        .header("content-type", "application/json")
        .body(r#"{"email": "alice@example.com", "password": "alice-pass-1"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!((r.status().as_u16(), location(&r)), (302, MY.to_string()));
    assert!(session_cookie(&r).is_some());

    let r = c
        .post(app.url("/addons/chathub/index/doLogin"))
        .header("x-requested-with", "XMLHttpRequest")
        .form(&[("email", "alice@example.com"), ("password", "alice-pass-1")])
        .send()
        .await
        .unwrap();
    assert_eq!((r.status().as_u16(), location(&r)), (302, MY.to_string()));
}

#[tokio::test]
async fn every_hash_scheme_signs_in_with_its_own_password_only() {
    let app = spawn_seeded(&[]).await;
    seed_erin(&app.db).await;
    // bcrypt written by PHP's password_hash (widened-schema/015).
    let r = login(&app, "erin@example.com", "erin-pass-6").await;
    assert_eq!(location(&r), LOGIN_WRONG);
    let r = login(&app, "erin@example.com", "erin-pass-5").await;
    assert_eq!(location(&r), MY);
    // FastAdmin's own md5(md5(p).salt): its default user can now sign in
    // (COMPAT.md#password-schemes) — but not with a guess (auth/006).
    let r = login(&app, FA_ADMIN_EMAIL, "123456").await;
    assert_eq!(location(&r), LOGIN_WRONG);
    let r = login(&app, FA_ADMIN_EMAIL, FA_ADMIN_PASSWORD).await;
    assert_eq!(location(&r), MY);
    // The addon's md5(p) for salted rows (auth/008).
    let r = login(&app, "bob@example.com", "bob-pass-2").await;
    assert_eq!(location(&r), MY);
    // md5(p) is not accepted for a FastAdmin row: that would let a leaked md5 sign in.
    let r = login(&app, FA_ADMIN_EMAIL, "f92ad8ee3bcc28ea4487af25c228c6a5").await;
    assert_eq!(location(&r), LOGIN_WRONG);
}

#[tokio::test]
async fn inactive_users_are_refused_with_the_same_message() {
    let app = spawn_seeded(&[]).await;
    {
        let mut c = app.db.conn().await;
        c.query_drop("UPDATE fa_user SET status = 'hidden' WHERE id = 3")
            .await
            .unwrap();
    }
    let r = login(&app, "bob@example.com", "bob-pass-2").await;
    assert_eq!(location(&r), LOGIN_WRONG);
    assert!(session_cookie(&r).is_none());
    let row = user_row(&app.db, 3).await.unwrap();
    assert_eq!(row.get::<Option<i64>, _>("logintime"), Some(None));
}

#[tokio::test]
async fn sign_in_always_issues_a_fresh_session() {
    let app = spawn_seeded(&[]).await;
    let first = session_cookie(&login(&app, "alice@example.com", "alice-pass-1").await).unwrap();
    // Already signed in: login sends to my (auth/009).
    let r = app.get("/addons/chathub/index/login").await;
    assert_eq!((r.status().as_u16(), location(&r)), (302, MY.to_string()));
    // Signing in again as someone else replaces the session (auth/011-012).
    let second = session_cookie(&login(&app, "bob@example.com", "bob-pass-2").await).unwrap();
    assert_ne!(first, second);
    let body = app.get(MY).await.text().await.unwrap();
    assert!(page_text(&body).contains("欢迎回来，Bob Ltd"));
    assert!(!body.contains("Alice Shop"));
    // Same user again: still a new cookie and a new CSRF token.
    let third = session_cookie(&login(&app, "bob@example.com", "bob-pass-2").await).unwrap();
    assert_ne!(second, third);
}

#[tokio::test]
async fn logout_ends_our_session_only() {
    let app = spawn_seeded(&[]).await;
    // Without a session: just the redirect (public/017).
    let r = app.get("/addons/chathub/index/logout").await;
    assert_eq!(
        (r.status().as_u16(), location(&r)),
        (302, "/addons/chathub/index/landing".to_string())
    );
    assert!(r.headers().get("set-cookie").is_none());

    let ours = session_cookie(&login(&app, "alice@example.com", "alice-pass-1").await).unwrap();
    let ours = ours.split(';').next().unwrap();
    let browser = TestApp::new_client();
    let r = browser
        .get(app.url("/addons/chathub/index/logout"))
        .header(
            "cookie",
            format!("PHPSESSID=adminsession; {ours}; keeplogin=1"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/addons/chathub/index/landing");
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert!(cookies[0].starts_with("chathub_session=") && cookies[0].contains("Max-Age=0"));
    // The browser drops the cookie; the app's own client signs out the same way.
    let r = app.get("/addons/chathub/index/logout").await;
    assert!(session_cookie(&r).unwrap().contains("Max-Age=0"));
    let r = app.get(MY).await;
    assert_eq!(
        (r.status().as_u16(), location(&r)),
        (302, "/addons/chathub/index/login".to_string())
    );
}

#[tokio::test]
async fn email_is_trimmed_like_phps_trim_including_nul() {
    let app = spawn_seeded(&[]).await;
    let r = app
        .client
        .post(app.url("/addons/chathub/index/doLogin"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=%00%0Balice%40example.com%0D%0A&password=alice-pass-1")
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), MY);
}

#[tokio::test]
async fn forged_and_expired_cookies_count_as_signed_out() {
    let app = spawn_seeded(&[]).await;
    let cookie = session_cookie(&login(&app, "alice@example.com", "alice-pass-1").await).unwrap();
    let pair = cookie.split(';').next().unwrap().to_string();
    let (name, value) = pair.split_once('=').unwrap();
    let mut bytes = value.as_bytes().to_vec();
    let i = bytes.len() - 5;
    bytes[i] = if bytes[i] == b'x' { b'y' } else { b'x' };
    let forged = format!("{name}={}", String::from_utf8(bytes).unwrap());
    let plain = TestApp::new_client();
    for c in [
        forged.as_str(),
        "chathub_session=",
        "chathub_session=%FF%FE",
        "chathub_session=a%ZZ",
    ] {
        let r = plain
            .get(app.url(MY))
            .header("cookie", c)
            .send()
            .await
            .unwrap();
        assert_eq!(
            (r.status().as_u16(), location(&r)),
            (302, "/addons/chathub/index/login".to_string()),
            "{c}"
        );
    }
    // The genuine cookie works...
    let r = plain
        .get(app.url(MY))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // ...but not once it has been idle longer than PHP's 1440 s.
    let now = app.app.clock.epoch();
    let mut stale = chathub::services::sessions::SessionData::signed_in(
        chathub::domain::ids::UserId(2),
        "alice@example.com",
        "Alice",
        ALICE_HASH,
        now - 2000,
    );
    stale.seen = now - 1441;
    let v = app.app.sessions.set_cookie(&stale, false);
    let stale_pair = v.to_str().unwrap().split(';').next().unwrap().to_string();
    let r = plain
        .get(app.url(MY))
        .header("cookie", &stale_pair)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/addons/chathub/index/login");
    stale.seen = now - 1000;
    let v = app.app.sessions.set_cookie(&stale, false);
    let live_pair = v.to_str().unwrap().split(';').next().unwrap().to_string();
    let r = plain
        .get(app.url(MY))
        .header("cookie", &live_pair)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Idle for a while: the answer re-issues the cookie so activity keeps it alive.
    assert!(session_cookie(&r).is_some());
}

/// `(failures, next_at - updatetime)`: the count and the delay the last failure set.
async fn throttle_row(app: &TestApp, kind: &str, value: &str) -> Option<(i64, i64)> {
    let mut c = app.db.conn().await;
    c.exec_first(
        "SELECT failures, IF(next_at = 0, 0, next_at - updatetime) FROM fa_chathub_login_throttle WHERE id = ?",
        (chathub::services::member::throttle_key(kind, value),),
    )
    .await
    .unwrap()
}

/// A sign-in from `ip` (the app trusts 127.0.0.1 as its proxy).
async fn login_from(app: &TestApp, ip: &str, email: &str, password: &str) -> reqwest::Response {
    TestApp::new_client()
        .post(app.url("/addons/chathub/index/doLogin"))
        .header("x-forwarded-for", ip)
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap()
}

/// `n` sign-ins sent at once, the i-th from address, email and password `attempt(i)` (the
/// address in `X-Forwarded-For`, which the app trusts from 127.0.0.1); the answers in order.
async fn login_burst(
    app: &TestApp,
    n: usize,
    attempt: impl Fn(usize) -> (String, String, &'static str),
) -> Vec<reqwest::Response> {
    let mut burst = Vec::new();
    for i in 0..n {
        let (address, email, password) = attempt(i);
        let client = TestApp::new_client();
        let url = app.url("/addons/chathub/index/doLogin");
        burst.push(tokio::spawn(async move {
            client
                .post(url)
                .header("x-forwarded-for", address)
                .form(&[("email", email.as_str()), ("password", password)])
                .send()
                .await
                .unwrap()
        }));
    }
    let mut answers = Vec::new();
    for r in burst {
        answers.push(r.await.unwrap());
    }
    answers
}

/// Issue 15 #4: 81 concurrent wrong guesses at one account (from 81 addresses) get exactly
/// the account's free attempts; the right password right after is refused while the delay
/// runs, and works once it has passed. Nobody is locked out for a day.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_guesses_gets_only_the_accounts_free_attempts() {
    let app = spawn_seeded(&[("CHATHUB_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let burst = login_burst(&app, 81, |i| {
        (
            format!("203.0.113.{}", i + 1),
            "bob@example.com".to_string(),
            "guess",
        )
    })
    .await;
    for r in burst {
        assert_eq!(location(&r), LOGIN_WRONG);
        assert!(session_cookie(&r).is_none());
    }
    let free = chathub::services::member::LIMITS.account_free;
    let (failures, delay) = throttle_row(&app, "account", "bob@example.com")
        .await
        .unwrap();
    assert_eq!(failures, free, "only the free attempts were taken");
    assert_eq!(delay, 60, "the fifth failure starts a one-minute delay");
    // Only the guesses that were let through were checked against the password.
    let row = user_row(&app.db, 3).await.unwrap();
    assert_eq!(row.get::<u32, _>("loginfailure"), Some(free as u32));
    assert_eq!(
        row.get::<Option<i64>, _>("updatetime").unwrap(),
        Some(1779000000)
    );

    // The right password while the delay runs: refused like any guess, from any address.
    // (On a loaded machine the burst itself can outlast the minute: restart the delay at the
    // app's "now", the state the burst leaves behind on a quick one.)
    {
        let now = app.app.clock.epoch();
        let mut c = app.db.conn().await;
        c.exec_drop(
            "UPDATE fa_chathub_login_throttle SET updatetime = ?, next_at = ? + 60 WHERE failures = 5",
            (now, now),
        )
        .await
        .unwrap();
    }
    let r = login_from(&app, "198.51.100.1", "bob@example.com", "bob-pass-2").await;
    assert_eq!(location(&r), LOGIN_WRONG);
    assert!(session_cookie(&r).is_none());
    // Other accounts are unaffected.
    let r = login_from(&app, "198.51.100.1", "alice@example.com", "alice-pass-1").await;
    assert_eq!(location(&r), MY);

    // The delay over (one minute after the fifth failure), one more guess is let through and
    // the next delay is twice as long.
    {
        let mut c = app.db.conn().await;
        c.query_drop("UPDATE fa_chathub_login_throttle SET next_at = 0 WHERE failures = 5")
            .await
            .unwrap();
    }
    let r = login_from(&app, "198.51.100.2", "bob@example.com", "guess").await;
    assert_eq!(location(&r), LOGIN_WRONG);
    let (failures, delay) = throttle_row(&app, "account", "bob@example.com")
        .await
        .unwrap();
    assert_eq!((failures, delay), (free + 1, 120));
    let r = login_from(&app, "198.51.100.2", "bob@example.com", "bob-pass-2").await;
    assert_eq!(location(&r), LOGIN_WRONG, "still waiting");

    // After the delay the owner signs in, and the account starts afresh.
    {
        let mut c = app.db.conn().await;
        c.query_drop("UPDATE fa_chathub_login_throttle SET next_at = 0")
            .await
            .unwrap();
    }
    let r = login_from(&app, "198.51.100.3", "bob@example.com", "bob-pass-2").await;
    assert_eq!(location(&r), MY);
    assert_eq!(throttle_row(&app, "account", "bob@example.com").await, None);
    let row = user_row(&app.db, 3).await.unwrap();
    assert_eq!(row.get::<u32, _>("loginfailure"), Some(0));
}

/// Issue 15 #4: one address (an IPv6 client: its whole /64) gets 30 failures in 15 minutes,
/// however concurrent, spread over any number of accounts; the right password from there is
/// then refused too, while other addresses are unaffected. The count is in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_address_gets_thirty_failures_however_concurrent() {
    let app = spawn_seeded(&[("CHATHUB_TRUSTED_PROXIES", "127.0.0.1")]).await;
    // Every guess from another address of the same /64.
    let burst = login_burst(&app, 81, |i| {
        (
            format!("2001:db8:1:2::{:x}", i + 1),
            format!("nobody{i}@example.com"),
            "x",
        )
    })
    .await;
    for r in burst {
        assert_eq!(location(&r), LOGIN_WRONG);
    }
    let max = chathub::services::member::LIMITS.address_max;
    let (failures, _) = throttle_row(&app, "address", "2001:db8:1:2::/64")
        .await
        .unwrap();
    assert_eq!(failures, max);
    // Only the attempts let through were charged to their accounts.
    let mut c = app.db.conn().await;
    let charged: i64 = c
        .query_first("SELECT COUNT(*) FROM fa_chathub_login_throttle WHERE failures = 1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(charged, max);
    drop(c);

    let r = login_from(
        &app,
        "2001:db8:1:2:ffff::9",
        "alice@example.com",
        "alice-pass-1",
    )
    .await;
    assert_eq!(location(&r), LOGIN_WRONG);
    assert!(session_cookie(&r).is_none());
    let r = login_from(&app, "2001:db8:1:3::1", "alice@example.com", "alice-pass-1").await;
    assert_eq!(location(&r), MY);
    // A success gives its own attempt back: shared addresses (offices, NAT) are not worn
    // down by members who sign in.
    let (failures, _) = throttle_row(&app, "address", "2001:db8:1:3::/64")
        .await
        .unwrap();
    assert_eq!(failures, 0);
    // The window over, the address may try again.
    {
        let mut c = app.db.conn().await;
        c.query_drop("UPDATE fa_chathub_login_throttle SET window_start = window_start - 901")
            .await
            .unwrap();
    }
    let r = login_from(
        &app,
        "2001:db8:1:2:ffff::9",
        "alice@example.com",
        "alice-pass-1",
    )
    .await;
    assert_eq!(location(&r), MY);
}

#[tokio::test]
async fn hostile_sign_in_input_never_breaks_the_server() {
    let app = spawn_seeded(&[]).await;
    let long = "a".repeat(5000);
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        (
            "application/x-www-form-urlencoded",
            b"email=%FF%FE&password=%C3".to_vec(),
        ),
        (
            "application/x-www-form-urlencoded",
            b"email=\xff\xfe&password=x".to_vec(),
        ),
        ("application/json", b"[1,2,3]".to_vec()),
        (
            "application/json",
            b"{\"email\": {\"a\": 1}, \"password\": [1]}".to_vec(),
        ),
        ("application/json", b"{not json".to_vec()),
        ("application/json", b"\xff\xfe".to_vec()),
        ("multipart/form-data; boundary=x", b"--x--".to_vec()),
        (
            "application/x-www-form-urlencoded",
            format!("email={long}&password={long}").into_bytes(),
        ),
        (
            "application/x-www-form-urlencoded",
            b"email[]=a&password[]=b".to_vec(),
        ),
        (
            "application/x-www-form-urlencoded",
            b"email=%27+OR+1%3D1+--+&password=x".to_vec(),
        ),
    ];
    for (ct, body) in bodies {
        let r = app
            .client
            .post(app.url("/addons/chathub/index/doLogin"))
            .header("content-type", ct)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302, "{ct} {:?}", String::from_utf8_lossy(&body));
        assert!(
            [LOGIN_FILL_IN, LOGIN_WRONG].contains(&location(&r).as_str()),
            "{ct}: {}",
            location(&r)
        );
        assert!(session_cookie(&r).is_none());
    }
}

#[tokio::test]
async fn cookies_are_secure_behind_a_trusted_https_proxy() {
    let app = spawn_seeded(&[("CHATHUB_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let r = app
        .client
        .post(app.url("/addons/chathub/index/doLogin"))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-for", "198.51.100.7")
        .form(&[("email", "alice@example.com"), ("password", "alice-pass-1")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), MY);
    assert!(session_cookie(&r).unwrap().contains("Secure"));
    // The client address recorded is the one the proxy saw.
    let row = user_row(&app.db, 2).await.unwrap();
    assert_eq!(row.get::<String, _>("loginip").unwrap(), "198.51.100.7");
}

const LOGOUT: &str = "/addons/chathub/index/logout";
const LOGIN_STALE: &str = "/addons/chathub/index/login?error=%E9%A1%B5%E9%9D%A2%E5%B7%B2%E8%BF%87%E6%9C%9F%EF%BC%8C%E8%AF%B7%E5%88%B7%E6%96%B0%E5%90%8E%E9%87%8D%E8%AF%95";

/// `name=value` of the session a sign-in set.
fn pair_of(r: &reqwest::Response) -> String {
    session_cookie(r)
        .expect("session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// Issue 14 #2: a copy of the cookie taken before logout signs no one in afterwards (the
/// original's server-side session was gone too).
#[tokio::test]
async fn a_copied_cookie_is_worthless_after_logout() {
    let app = spawn_seeded(&[]).await;
    let copied = pair_of(&login(&app, "alice@example.com", "alice-pass-1").await);
    assert_eq!(get_with_cookie(&app.url(MY), &copied).await.status(), 200);
    let r = app.get(LOGOUT).await;
    assert_eq!(location(&r), "/addons/chathub/index/landing");
    let r = get_with_cookie(&app.url(MY), &copied).await;
    assert_eq!(
        (r.status().as_u16(), location(&r)),
        (302, LOGIN.to_string())
    );
    assert!(session_cookie(&r).unwrap().contains("Max-Age=0"));
    // Nor does it count as signed in on the login page or for renew.
    let r = get_with_cookie(&app.url(LOGIN), &copied).await;
    assert_eq!(r.status(), 200);
    let r = get_with_cookie(&app.url("/addons/chathub/index/renew?id=11"), &copied).await;
    assert_eq!(location(&r), LOGIN);
    // Signing in again gives a new, working session.
    let fresh = pair_of(&login(&app, "alice@example.com", "alice-pass-1").await);
    assert_eq!(get_with_cookie(&app.url(MY), &fresh).await.status(), 200);
}

/// Issue 14 #2: the logout holds across a restart and across instances sharing the database.
#[tokio::test]
async fn logout_holds_across_restarts_and_instances() {
    let db = crate::support::TestDb::with_schema().await;
    seed_users(&db).await;
    let a = ServerProcess::start(&db).await;
    let b = ServerProcess::start(&db).await;
    let client = TestApp::new_client();
    let r = client
        .post(a.url("/addons/chathub/index/doLogin"))
        .form(&[("email", "alice@example.com"), ("password", "alice-pass-1")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), MY);
    let copied = pair_of(&r);
    // Both instances know the session.
    assert_eq!(get_with_cookie(&a.url(MY), &copied).await.status(), 200);
    assert_eq!(get_with_cookie(&b.url(MY), &copied).await.status(), 200);
    // Logging out on B ends it on A too.
    let r = get_with_cookie(&b.url(LOGOUT), &copied).await;
    assert!(session_cookie(&r).unwrap().contains("Max-Age=0"));
    assert_eq!(location(&get_with_cookie(&a.url(MY), &copied).await), LOGIN);
    // And after A restarts.
    drop(a);
    let a = ServerProcess::start(&db).await;
    assert_eq!(location(&get_with_cookie(&a.url(MY), &copied).await), LOGIN);
    assert_eq!(location(&get_with_cookie(&b.url(MY), &copied).await), LOGIN);
}

/// Issue 14 #2: however active, a session ends `session_max_lifetime_secs` after sign-in.
#[tokio::test]
async fn a_session_ends_after_its_absolute_lifetime() {
    let app = spawn_seeded(&[("CHATHUB_SESSION_MAX_LIFETIME_SECS", "7200")]).await;
    let now = app.app.clock.epoch();
    let cookie = |iat: i64| {
        let mut s = chathub::services::sessions::SessionData::signed_in(
            chathub::domain::ids::UserId(2),
            "alice@example.com",
            "Alice",
            ALICE_HASH,
            iat,
        );
        s.seen = now; // in use a moment ago
        let v = app.app.sessions.set_cookie(&s, false);
        v.to_str().unwrap().split(';').next().unwrap().to_string()
    };
    assert_eq!(
        get_with_cookie(&app.url(MY), &cookie(now - 7000))
            .await
            .status(),
        200
    );
    let r = get_with_cookie(&app.url(MY), &cookie(now - 7201)).await;
    assert_eq!(location(&r), LOGIN);
    // The default is 30 days.
    assert_eq!(
        crate::support::test_config(&app.db, &[]).session_max_lifetime_secs,
        30 * 86_400
    );
}

/// Issue 15 #10: another site cannot sign a visitor into its own account (login CSRF), and
/// cannot sign a member out.
#[tokio::test]
async fn sign_in_and_logout_from_another_site_are_refused() {
    let app = spawn_seeded(&[]).await;
    let form = [("email", "alice@example.com"), ("password", "alice-pass-1")];
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
        ("referer", "https://evil.example/login.html"),
    ] {
        let r = TestApp::new_client()
            .post(app.url("/addons/chathub/index/doLogin"))
            .header(name, value)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(location(&r), LOGIN_STALE, "{name}: {value}");
        assert!(session_cookie(&r).is_none(), "{name}: {value}");
    }
    // Our own form: its pre-session token, sent by a browser that labels the request.
    let browser = TestApp::new_client();
    let page = browser.get(app.url(LOGIN)).send().await.unwrap();
    assert!(
        session_cookie(&page).is_some(),
        "the form comes with a pre-session"
    );
    let token = attr_all(
        &page.text().await.unwrap(),
        "input[name=__token__]",
        "value",
    )
    .pop()
    .unwrap();
    assert_eq!(token.len(), 32);
    let r = browser
        .post(app.url("/addons/chathub/index/doLogin"))
        .header("sec-fetch-site", "same-origin")
        .header("origin", format!("http://{}", app.addr))
        .form(&[("__token__", token.as_str()), form[0], form[1]])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), MY);
    // A wrong token from another site is no pass either.
    let r = TestApp::new_client()
        .post(app.url("/addons/chathub/index/doLogin"))
        .header("origin", "https://evil.example")
        .form(&[("__token__", token.as_str()), form[0], form[1]])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), LOGIN_STALE);

    // Logout by a link on another site: the member stays signed in.
    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
        ("referer", "https://evil.example/"),
    ] {
        let r = browser
            .get(app.url(LOGOUT))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(location(&r), MY, "{name}: {value}");
        assert!(session_cookie(&r).is_none(), "{name}: {value}");
        assert_eq!(browser.get(app.url(MY)).send().await.unwrap().status(), 200);
    }
    // From our own pages it works.
    let r = browser
        .get(app.url(LOGOUT))
        .header("sec-fetch-site", "same-origin")
        .header("referer", app.url(MY))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/addons/chathub/index/landing");
    assert_eq!(
        location(&browser.get(app.url(MY)).send().await.unwrap()),
        LOGIN
    );
}

/// Issue 15 #11: no sniffing, no framing by other sites, no full URLs in other sites'
/// `Referer`, on every kind of answer.
#[tokio::test]
async fn every_answer_carries_the_hardening_headers() {
    let app = spawn_seeded(&[]).await;
    let copied = pair_of(&login(&app, "alice@example.com", "alice-pass-1").await);
    for path in [
        "/addons/chathub/index/landing",
        LOGIN,
        MY,
        "/addons/chathub/index/doLogin",
        "/addons/chathub/index/index",
        "/addons/chathub/index/nosuchthing",
        "/no/such/path",
    ] {
        let r = get_with_cookie(&app.url(path), &copied).await;
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "SAMEORIGIN", "{path}");
        assert_eq!(
            h["content-security-policy"], "frame-ancestors 'self'",
            "{path}"
        );
        assert_eq!(h["referrer-policy"], "same-origin", "{path}");
    }
}
