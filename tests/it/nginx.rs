//! The repo's `nginx.conf` in a real nginx: the addon's URLs reach chathub, everything else
//! reaches PHP (a stand-in HTTP server here, for FastAdmin's php-fpm), the client's address and
//! scheme arrive, cookies and redirects pass untouched, and a dead chathub is nginx's 502.
//!
//! Needs Debian's `nginx` (scripts/test.sh installs it). Without it the tests say so and pass,
//! except under CI, where a missing nginx is a failure.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::support::nginx::*;
use crate::support::{ADMIN_ENTRY, free_port};

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
    for path in to_chathub {
        let r = c.get(nginx.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let echo = echo_of(r).await;
        assert_eq!(echo["tag"], "chathub", "{path}");
        // The URI arrives exactly as sent: case, suffix, PATHINFO, query string.
        assert_eq!(echo["uri"], *path, "{path}");
    }
    // Everything else is FastAdmin's: PHP gets it as its own try_files hands it over.
    let to_php = [
        ("/", "/index.php"),
        ("/index.php", "/index.php"),
        ("/index.php/index/user/login", "/index.php/index/user/login"),
        ("/pGTnXkhdmy.php/index/login", "/pGTnXkhdmy.php/index/login"),
        ("/pGTnXkhdmy.php", "/pGTnXkhdmy.php"),
        (
            "/addons/chathubx/index/index",
            "/index.php?s=/addons/chathubx/index/index&",
        ),
        (
            "/addons/other/index/index?a=1",
            "/index.php?s=/addons/other/index/index&a=1",
        ),
        (
            "/admin.php/addons/chathub/index/index",
            "/admin.php/addons/chathub/index/index",
        ),
        (
            "/x/addons/chathub/index/landing",
            "/index.php?s=/x/addons/chathub/index/landing&",
        ),
    ];
    for (path, at_php) in to_php {
        let r = c.get(nginx.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let echo = echo_of(r).await;
        assert_eq!(echo["tag"], "php", "{path}");
        assert_eq!(echo["uri"], at_php, "{path}");
    }
    // Static files stay nginx's own.
    let r = c.get(nginx.url(STATIC_ASSET)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), STATIC_BODY);
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
    let app = crate::support::spawn_app(&[
        ("CHATHUB_TRUSTED_PROXIES", "127.0.0.1"),
        ("CHATHUB_ADDON_SITE_NAME", "Acme客服"),
    ])
    .await;
    let php = start_echo("php").await;
    let nginx = start_nginx(&bin, app.addr, php).await;
    let c = client();
    for (path, direct_path) in [
        (
            "/addons/chathub/index/landing",
            "/addons/chathub/index/landing",
        ),
        ("/addons/chathub/index/my", "/addons/chathub/index/my"),
        (
            "/addons/chathub/index/nosuchaction",
            "/addons/chathub/index/nosuchaction",
        ),
        (
            "/pGTnXkhdmy.php/addons/chathub/index/landing",
            "/pGTnXkhdmy.php/addons/chathub/index/landing",
        ),
        // ThinkPHP's `?s=` form is the same page as the path form.
        (
            "/index.php?s=/addons/chathub/index/landing",
            "/addons/chathub/index/landing",
        ),
        (
            "/?s=addons/chathub/index/landing.html&from=ad",
            "/addons/chathub/index/landing?from=ad",
        ),
        ("/?s=/addons/chathub/index/my", "/addons/chathub/index/my"),
    ] {
        let direct = c.get(app.url(direct_path)).send().await.unwrap();
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

/// Every spelling under which ThinkPHP would run the addon: the path, `index.php/` and
/// admin-entry forms, and the `?s=` form on every kind of URL that ends in index.php.
fn addon_spellings() -> Vec<String> {
    let mut out: Vec<String> = [
        "/addons/chathub/index/payNotify/pay_method/wechat",
        "/ADDONS/ChatHub/Index/PayNotify/pay_method/wechat.HTML",
        "/addons/chathub.html",
        "/addons/chathub",
        "/addons/_chathub_/index/payNotify/pay_method/wechat",
        "/addons%7Cchathub%7Cindex%7CpayNotify",
        "/addons|chathub/index/payNotify",
        "/addons/%63hathub/index/payNotify",
        "//addons//chathub/index/landing",
        "/index.php/addons/chathub/index/payNotify/pay_method/wechat",
        "/index.php/addons/_chathub/index/payNotify",
        "/pGTnXkhdmy.php/addons/chathub/index/dashboard",
    ]
    .map(String::from)
    .into();
    let values = [
        "/addons/chathub/index/payNotify/pay_method/wechat",
        "addons/chathub/index/payNotify/pay_method/wechat",
        "//addons/chathub/index/landing.html",
        "/ADDONS/CHATHUB/INDEX/LANDING.HTML",
        "/addons/chathub",
        "addons/chathub.html",
        "%2Faddons%2Fchathub%2Findex%2FpayNotify",
        "/%61ddons/%43hathub/index/landing",
        "addons|chathub|index|payNotify",
        "addons%7Cchathub%7Cindex%7Clanding",
        "/addons/__chathub/_index/landing",
        "/addons/chathub_%2Eh%54ml",
        "/addons/chathub//payNotify",
    ];
    let entries = ["/index.php", "/", "/no/such/page", "/index.php/index/index"];
    for entry in entries {
        for v in values {
            for query in [
                format!("s={v}"),
                format!("x=1&s={v}&y=2"),
                format!("s=/index/index&s={v}"),
                format!("%73={v}"),
                format!("+s={v}"),
                format!("s%00junk={v}"),
            ] {
                out.push(format!("{entry}?{query}"));
            }
        }
    }
    out.push("/pGTnXkhdmy.php?s=/addons/chathub/index/dashboard".into());
    out
}

/// Requests whose route is FastAdmin's, including near misses of the addon's.
const NOT_ADDON: [&str; 14] = [
    "/",
    "/index.php",
    "/index.php/index/user/login",
    "/?s=/index/user/login",
    "/index.php?s=/addons/chathubx/index/index",
    "/?s=/addons/other/index/index",
    "/?s=x/addons/chathub/index/landing",
    "/?S=/addons/chathub/index/landing",
    "/?x=/addons/chathub/index/landing",
    "/?s%5B%5D=/addons/chathub/index/landing",
    "/index.php?s=/index/index&t=/addons/chathub/index/landing",
    "/addons/chathubx/index/index",
    "/pGTnXkhdmy.php/addon/config?name=chathub",
    "/pGTnXkhdmy.php/index/login?url=%2Faddons%2Fchathub%2Findex%2Findex",
];

#[tokio::test]
async fn no_spelling_of_an_addon_url_reaches_php() {
    let Some(bin) = nginx_binary() else { return };
    let chathub = start_echo("chathub").await;
    let (php, reached_php) = start_recording_echo("php").await;
    let nginx = start_nginx(&bin, chathub, php).await;
    let c = client();
    for target in addon_spellings() {
        for post in [false, true] {
            let url = nginx.url(&target);
            let r = if post {
                c.post(url).body("{}")
            } else {
                c.get(url)
            }
            .send()
            .await
            .unwrap();
            assert_eq!(
                r.headers().get("x-upstream").map(|v| v.to_str().unwrap()),
                Some("chathub"),
                "{target}"
            );
            // chathub gets the request exactly as sent, `s` and all.
            assert_eq!(echo_of(r).await["uri"], target.as_str(), "{target}");
        }
    }
    assert_eq!(*reached_php.lock().unwrap(), Vec::<String>::new());

    for target in NOT_ADDON {
        let r = c.get(nginx.url(target)).send().await.unwrap();
        assert_eq!(r.headers()["x-upstream"], "php", "{target}");
    }
    // What PHP received (after FastAdmin's try_files) is, by ThinkPHP's own rules, never the
    // addon's route.
    let received = reached_php.lock().unwrap().clone();
    assert_eq!(received.len(), NOT_ADDON.len());
    for line in received {
        let uri = line.split_once(' ').unwrap().1;
        let (path, query) = match uri.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (uri, None),
        };
        let entry = path.trim_start_matches('/').split('/').next().unwrap();
        if entry.eq_ignore_ascii_case(ADMIN_ENTRY) {
            // FastAdmin's admin entry never routes to an addon.
            continue;
        }
        assert_eq!(
            chathub::web::routing::resolve(path, query, ADMIN_ENTRY),
            chathub::web::routing::Route::NotFound,
            "{uri} reached PHP"
        );
    }
}

/// The shadow lines of README step 3.5, as a tester pastes them: from `mirror` to the closing
/// brace of the mirror's location, with the shadow's default address.
fn readme_shadow_snippet() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let lines: Vec<&str> = readme
        .lines()
        .skip_while(|l| l.trim() != "mirror /_chathub_shadow;")
        .collect();
    let end = lines
        .iter()
        .position(|l| l.trim() == "}")
        .expect("README: the shadow location ends with `}`");
    lines[..=end].join("\n")
}

/// README step 3.5 followed with a real nginx: the site keeps answering from PHP while every
/// request is mirrored to `compat shadow`, which compares the addon's reads of the two sites and
/// never replays a POST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_mirror_lines_feed_the_shadow_while_php_answers() {
    let Some(nginx) = nginx_binary() else { return };
    let snippet = readme_shadow_snippet();
    assert!(snippet.contains("127.0.0.1:7070"), "{snippet}");
    // The old site (PHP in production) and the new one differ by their site name.
    let (old, new, shadow) = crate::support::renamed_sites_and_a_shadow(false).await;
    let php = start_echo("php").await;
    let front = start_nginx_with(
        &nginx,
        old.addr,
        php,
        Front::Lines(snippet.replace("127.0.0.1:7070", &shadow.addr().to_string())),
    )
    .await;
    let http = client();

    // Members are still answered by PHP, whatever the shadow does.
    for path in [
        "/addons/chathub/index/landing",
        "/index.php?s=/addons/chathub/index/login",
    ] {
        let r = http.get(front.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(echo_of(r).await["tag"], "php", "{path}");
    }
    let r = http
        .post(front.url("/addons/chathub/index/register"))
        .form(&[
            ("plan", "pro"),
            ("company_name", "X"),
            ("email", "x@example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(echo_of(r).await["tag"], "php");

    let report = shadow.report.clone();
    let compared = |route: &str| report.route(route).map(|r| (r.compared, r.different));
    let deadline = Instant::now() + Duration::from_secs(10);
    while (compared("landing").is_none() || compared("login").is_none())
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(compared("landing"), Some((1, 1)), "{}", report.render());
    assert_eq!(compared("login"), Some((1, 1)), "{}", report.render());
    assert!(report.route("register").is_none(), "{}", report.render());
    let text = report.render();
    assert!(text.contains("ChatHub Pro"), "{text}");
    // The sign-up reached the shadow as a mirror copy and was not replayed to either site.
    while report
        .skipped_unsafe
        .load(std::sync::atomic::Ordering::Relaxed)
        == 0
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        report
            .skipped_unsafe
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    // One comparison per request: the PHP locations' internal redirect (try_files) does not
    // mirror it a second time.
    assert_eq!(compared("landing"), Some((1, 1)), "{}", report.render());
    for site in [&old, &new] {
        assert_eq!(
            crate::support::count(&site.db, "SELECT COUNT(*) FROM fa_user").await,
            0
        );
    }
}
