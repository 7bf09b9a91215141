//! The repo's `nginx.conf` in a real nginx: the addon's URLs reach chathub, everything else
//! reaches PHP (a stand-in HTTP server here, for FastAdmin's php-fpm), the client's address and
//! scheme arrive, cookies and redirects pass untouched, and a dead chathub is nginx's 502.
//!
//! Needs Debian's `nginx` (scripts/test.sh installs it). Without it the tests say so and pass,
//! except under CI, where a missing nginx is a failure.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

const ADMIN_ENTRY: &str = "pGTnXkhdmy.php";

fn nginx_binary() -> Option<PathBuf> {
    let found = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "nginx missing under CI: scripts/test.sh installs it"
        );
        eprintln!("SKIPPED: nginx not installed (scripts/test.sh installs it)");
    }
    found
}

/// An upstream that answers every request with what it received, as JSON, tagged with its
/// role. `/…/doLogin` answers a redirect with two cookies, like a login does.
async fn start_echo(tag: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = service_fn(
                move |req: hyper::Request<hyper::body::Incoming>| async move {
                    let headers: serde_json::Map<String, serde_json::Value> = req
                        .headers()
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.as_str().to_string(),
                                serde_json::Value::from(
                                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                                ),
                            )
                        })
                        .collect();
                    let body = serde_json::json!({
                        "tag": tag,
                        "method": req.method().as_str(),
                        "uri": req.uri().to_string(),
                        "headers": headers,
                    })
                    .to_string();
                    let mut resp = hyper::Response::builder()
                        .header("content-type", "application/json")
                        .header("x-upstream", tag);
                    if req.uri().path().ends_with("/doLogin") {
                        resp = resp
                            .status(302)
                            .header("location", "/addons/chathub/index/my?flash=1")
                            .header(
                                "set-cookie",
                                "chathub_session=abc.def; Path=/; HttpOnly; SameSite=Lax",
                            )
                            .header("set-cookie", "PHPSESSID=php123; path=/");
                    }
                    Ok::<_, Infallible>(resp.body(Full::new(Bytes::from(body))).unwrap())
                },
            );
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

struct Nginx {
    port: u16,
    tls_port: Option<u16>,
    _dir: tempfile::TempDir,
    _child: tokio::process::Child,
}

impl Nginx {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A self-signed certificate for 127.0.0.1, when openssl is there.
fn self_signed(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some((cert, key))
}

/// nginx with the repo's `nginx.conf` included in a FastAdmin-like server block: PHP
/// locations after it, as the file's instructions say.
async fn start_nginx(binary: &Path, chathub: SocketAddr, php: SocketAddr) -> Nginx {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for sub in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        std::fs::create_dir_all(d.join("temp").join(sub)).unwrap();
    }
    let include = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/nginx.conf"))
        .unwrap()
        .replace(
            "admin\\.php/",
            &format!("{}/", ADMIN_ENTRY.replace('.', "\\.")),
        );
    std::fs::write(d.join("chathub.conf"), include).unwrap();
    let port = free_port();
    let tls = self_signed(d).map(|(cert, key)| {
        let p = free_port();
        (
            p,
            format!(
                "listen 127.0.0.1:{p} ssl;\n        ssl_certificate {};\n        ssl_certificate_key {};",
                cert.display(),
                key.display()
            ),
        )
    });
    let t = |s: &str| d.join("temp").join(s).display().to_string();
    let conf = format!(
        r#"
daemon off;
master_process off;
pid {pid};
error_log {err} warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {body};
    proxy_temp_path {proxy};
    fastcgi_temp_path {fastcgi};
    uwsgi_temp_path {uwsgi};
    scgi_temp_path {scgi};
    upstream chathub_backend {{
        server {chathub};
        keepalive 8;
    }}
    upstream php_fpm_standin {{
        server {php};
    }}
    server {{
        listen 127.0.0.1:{port};
        {tls}
        server_name _;
        include {include};
        # FastAdmin's PHP locations (php-fpm in production; an HTTP stand-in here).
        location ~ \.php(/|$) {{ proxy_pass http://php_fpm_standin; }}
        location / {{ proxy_pass http://php_fpm_standin; }}
    }}
}}
"#,
        pid = d.join("nginx.pid").display(),
        err = d.join("error.log").display(),
        body = t("body"),
        proxy = t("proxy"),
        fastcgi = t("fastcgi"),
        uwsgi = t("uwsgi"),
        scgi = t("scgi"),
        tls = tls.as_ref().map(|(_, s)| s.as_str()).unwrap_or(""),
        include = d.join("chathub.conf").display(),
    );
    std::fs::write(d.join("nginx.conf"), conf).unwrap();
    let mut child = tokio::process::Command::new(binary)
        .arg("-p")
        .arg(d)
        .arg("-c")
        .arg(d.join("nginx.conf"))
        .arg("-e")
        .arg(d.join("error.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(d.join("error.log")).unwrap_or_default();
            panic!("nginx exited ({status}):\n{log}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "nginx did not listen"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Nginx {
        port,
        tls_port: tls.map(|(p, _)| p),
        _dir: dir,
        _child: child,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
}

async fn echo_of(resp: reqwest::Response) -> serde_json::Value {
    serde_json::from_str(&resp.text().await.unwrap()).unwrap()
}

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
