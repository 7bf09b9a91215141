//! The repo's `nginx.conf` in a real nginx: the addon's URLs reach chathub, everything else
//! reaches PHP (a stand-in HTTP server here, for FastAdmin's php-fpm), the client's address and
//! scheme arrive, cookies and redirects pass untouched, and a dead chathub is nginx's 502.
//!
//! Needs Debian's `nginx` (scripts/test.sh installs it). Without it the tests say so and pass,
//! except under CI, where a missing nginx is a failure.

mod support;

mod nginx_support;

use std::net::SocketAddr;

use nginx_support::*;

#[tokio::test]
async fn addon_urls_reach_chathub_and_everything_else_reaches_php() {
    let Some(bin) = nginx_binary() else { return };
    let chathub = start_echo("chathub").await;
    let php = start_echo("php").await;
    let nginx = start_nginx(&bin, chathub, php).await;
    let c = client();
    let to_chathub = [
        "/addons/chathub/index/landing",
        "/addons/chathub/index/LANDING",
        "/ADDONS/ChatHub/Index/registerPage.html",
        "/addons/chathub/index/payReturn/order/CH2026.html",
        "/addons/chathub/index/register?plan=pro&x=%20y",
        "/addons/chathub",
        "/addons/chathub/",
        "/index.php/addons/chathub/index/landing",
        "/pGTnXkhdmy.php/addons/chathub/index/index",
        "/PGTNXKHDMY.PHP/addons/chathub/index/suspend",
    ];
    let to_php = [
        "/",
        "/index.php",
        "/index.php/index/user/login",
        "/pGTnXkhdmy.php/index/login",
        "/pGTnXkhdmy.php",
        "/addons/chathubx/index/index",
        "/addons/other/index/index",
        "/assets/addons/chathub/css/chathub.css",
        "/admin.php/addons/chathub/index/index",
        "/x/addons/chathub/index/landing",
    ];
    for (paths, tag) in [(&to_chathub[..], "chathub"), (&to_php[..], "php")] {
        for path in paths {
            let r = c.get(nginx.url(path)).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            let echo = echo_of(r).await;
            assert_eq!(echo["tag"], tag, "{path}");
            // The URI arrives exactly as sent: case, suffix, PATHINFO, query string.
            assert_eq!(echo["uri"], *path, "{path}");
        }
    }
    // POST bodies pass too.
    let r = c
        .post(nginx.url("/addons/chathub/index/register"))
        .form(&[("email", "a@example.com")])
        .send()
        .await
        .unwrap();
    let echo = echo_of(r).await;
    assert_eq!(
        (echo["tag"].as_str(), echo["method"].as_str()),
        (Some("chathub"), Some("POST"))
    );
}

#[tokio::test]
async fn client_address_scheme_host_and_cookies_arrive() {
    let Some(bin) = nginx_binary() else { return };
    let chathub = start_echo("chathub").await;
    let php = start_echo("php").await;
    let nginx = start_nginx(&bin, chathub, php).await;
    let c = client();
    let r = c
        .get(nginx.url("/addons/chathub/index/my"))
        .header("X-Forwarded-For", "6.6.6.6")
        .header("Cookie", "chathub_session=s1; PHPSESSID=p1")
        .send()
        .await
        .unwrap();
    let echo = echo_of(r).await;
    let h = &echo["headers"];
    // nginx appends the address it saw; chathub believes only the part after its trusted
    // proxies, so the forged 6.6.6.6 stays recognisable as client-supplied.
    assert_eq!(h["x-forwarded-for"], "6.6.6.6, 127.0.0.1");
    assert_eq!(h["x-real-ip"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["host"], format!("127.0.0.1:{}", nginx.port));
    assert_eq!(h["cookie"], "chathub_session=s1; PHPSESSID=p1");

    if let Some(tls_port) = nginx.tls_port {
        let r = c
            .get(format!(
                "https://127.0.0.1:{tls_port}/addons/chathub/index/my"
            ))
            .send()
            .await
            .unwrap();
        let echo = echo_of(r).await;
        assert_eq!(echo["headers"]["x-forwarded-proto"], "https");
        assert_eq!(echo["tag"], "chathub");
    } else {
        eprintln!("openssl missing: https scheme not exercised");
    }

    // A login's redirect and cookies come back untouched.
    let r = c
        .post(nginx.url("/addons/chathub/index/doLogin"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "/addons/chathub/index/my?flash=1");
    let cookies: Vec<_> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert_eq!(
        cookies,
        [
            "chathub_session=abc.def; Path=/; HttpOnly; SameSite=Lax",
            "PHPSESSID=php123; path=/"
        ]
    );
}

#[tokio::test]
async fn the_real_server_answers_through_nginx_as_it_does_directly() {
    let Some(bin) = nginx_binary() else { return };
    let app = support::spawn_app(&[
        ("CHATHUB_TRUSTED_PROXIES", "127.0.0.1"),
        ("CHATHUB_ADDON_SITE_NAME", "Acme客服"),
    ])
    .await;
    let php = start_echo("php").await;
    let nginx = start_nginx(&bin, app.addr, php).await;
    let c = client();
    for path in [
        "/addons/chathub/index/landing",
        "/addons/chathub/index/my",
        "/addons/chathub/index/nosuchaction",
        "/pGTnXkhdmy.php/addons/chathub/index/landing",
    ] {
        let direct = c.get(app.url(path)).send().await.unwrap();
        let proxied = c.get(nginx.url(path)).send().await.unwrap();
        assert_eq!(proxied.status(), direct.status(), "{path}");
        for h in ["location", "content-type"] {
            assert_eq!(
                proxied.headers().get(h),
                direct.headers().get(h),
                "{path} {h}"
            );
        }
        let (d, p) = (direct.text().await.unwrap(), proxied.text().await.unwrap());
        assert_eq!(p, d, "{path}");
    }
    let landing = c
        .get(nginx.url("/addons/chathub/index/landing"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(landing.contains("Acme客服"));
}

#[tokio::test]
async fn a_dead_chathub_is_a_502_and_php_keeps_working() {
    let Some(bin) = nginx_binary() else { return };
    let dead = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let php = start_echo("php").await;
    let nginx = start_nginx(&bin, dead, php).await;
    let c = client();
    let r = c
        .get(nginx.url("/addons/chathub/index/landing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let r = c
        .get(nginx.url("/index.php/index/user/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(echo_of(r).await["tag"], "php");
}
