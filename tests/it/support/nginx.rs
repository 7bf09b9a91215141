//! A real nginx with the repo's `nginx.conf` in front of chathub and a PHP stand-in, shared by
//! the nginx and cut-over tests.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use super::{ADMIN_ENTRY, free_port};

/// A file in the stand-in site's public/ directory, served by nginx itself.
pub const STATIC_ASSET: &str = "/assets/addons/chathub/css/chathub.css";
pub const STATIC_BODY: &str = ".chathub { color: #333 }\n";

pub fn nginx_binary() -> Option<PathBuf> {
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

/// Every request an upstream received, as `METHOD uri`, in arrival order.
pub type Received = Arc<Mutex<Vec<String>>>;

/// An upstream that answers every request with what it received, as JSON, tagged with its
/// role. `/…/doLogin` answers a redirect with two cookies, like a login does.
pub async fn start_echo(tag: &'static str) -> SocketAddr {
    start_recording_echo(tag).await.0
}

/// As [`start_echo`], also recording every request it receives (the PHP stand-in: a test can
/// then say exactly what reached PHP).
pub async fn start_recording_echo(tag: &'static str) -> (SocketAddr, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received: Received = Arc::default();
    let log = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                log.lock()
                    .unwrap()
                    .push(format!("{} {}", req.method(), req.uri()));
                async move {
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
                }
            });
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, received)
}

pub struct Nginx {
    pub port: u16,
    pub tls_port: Option<u16>,
    _dir: tempfile::TempDir,
    _child: tokio::process::Child,
}

impl Nginx {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// A self-signed certificate for 127.0.0.1, when openssl is there.
pub fn self_signed(dir: &Path) -> Option<(PathBuf, PathBuf)> {
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
pub async fn start_nginx(binary: &Path, chathub: SocketAddr, php: SocketAddr) -> Nginx {
    start_nginx_with(binary, chathub, php, Front::Chathub).await
}

/// What the site's `server` block holds besides FastAdmin's own PHP locations.
pub enum Front {
    /// The repo's `nginx.conf` included: the switched site.
    Chathub,
    /// Nothing of ours: the site before the switch (or after a rollback), everything to PHP.
    PhpOnly,
    /// These lines pasted into the block as they stand (the README's shadow snippet).
    Lines(String),
}

/// As [`start_nginx`], with the server block's extra lines chosen by `front`.
pub async fn start_nginx_with(
    binary: &Path,
    chathub: SocketAddr,
    php: SocketAddr,
    front: Front,
) -> Nginx {
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
    // FastAdmin's public/ directory: the two entry scripts and a static asset.
    let root = d.join("public");
    std::fs::create_dir_all(root.join("assets/addons/chathub/css")).unwrap();
    std::fs::write(root.join("index.php"), "<?php // front entry\n").unwrap();
    std::fs::write(root.join(ADMIN_ENTRY), "<?php // admin entry\n").unwrap();
    std::fs::write(root.join(STATIC_ASSET.trim_start_matches('/')), STATIC_BODY).unwrap();
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
        root {root};
        index index.php index.html;
        {include}
        # FastAdmin's documented locations (php-fpm in production; an HTTP stand-in here, which
        # receives the URI after try_files, as PHP would see it).
        location ~ \.php(/|$) {{ proxy_pass http://php_fpm_standin; }}
        location / {{ try_files $uri $uri/ /index.php?s=$uri&$args; }}
    }}
}}
"#,
        pid = d.join("nginx.pid").display(),
        root = root.display(),
        err = d.join("error.log").display(),
        body = t("body"),
        proxy = t("proxy"),
        fastcgi = t("fastcgi"),
        uwsgi = t("uwsgi"),
        scgi = t("scgi"),
        tls = tls.as_ref().map(|(_, s)| s.as_str()).unwrap_or(""),
        include = match front {
            Front::Chathub => format!("include {};", d.join("chathub.conf").display()),
            Front::PhpOnly => "# chathub include removed".to_string(),
            Front::Lines(lines) => lines,
        },
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

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
}

pub async fn echo_of(resp: reqwest::Response) -> serde_json::Value {
    serde_json::from_str(&resp.text().await.unwrap()).unwrap()
}
