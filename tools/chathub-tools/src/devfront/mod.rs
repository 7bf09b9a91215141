//! The dev front: what nginx and FastAdmin are to the server on a real site, for `cargo dev`
//! only. It forwards the addon's URLs to the server (with `X-Forwarded-For`, as nginx does)
//! and itself serves what only exists around the server: `/` and `/admin`, a favicon,
//! FastAdmin's admin sign-in (`login`), and the payment gateways' pages (`pay`). `chathub
//! serve` has none of these routes.

mod login;
mod pages;
mod pay;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::http_serve::{self, Req, Resp, redirect, reply};
use crate::sandbox::GatewayKeys;
use crate::sandbox::wechat::NativeOrder;
use chathub::clock::Clock;
use chathub::db::Tables;

/// Where the Alipay stand-in's gateway lives on the front (the server's
/// `alipay_gateway_url`).
pub const ALIPAY_GATEWAY_PATH: &str = "/dev/alipay/gateway.do";
/// The WeChat "scan and pay" pages; a Native order's `code_url` points below it.
pub const WECHAT_SCAN_PATH: &str = "/dev/wechat";
/// Where the server's "请登录后再操作" page sends a visitor (FastAdmin's login).
pub const LOGIN_PATH: &str = "/index/login";
const LANDING: &str = "/addons/chathub/index/landing";
const ADMIN_CONSOLE: &str = "/addons/chathub/index/index";

/// What the front needs to know of the site.
pub struct Setup {
    pub server: SocketAddr,
    pub database_url: String,
    pub tables: Tables,
    pub admin_entry: String,
    /// FastAdmin's `token.key`, the server's `fastadmin_token_key`.
    pub token_key: String,
    pub keys: GatewayKeys,
    pub clock: Clock,
}

struct Front {
    setup: Setup,
    /// The front's own address, for the `code_url`s it hands out.
    base: String,
    db: mysql_async::Pool,
    http: reqwest::Client,
    /// WeChat Native orders placed and not paid yet, by order number.
    wechat_orders: Mutex<BTreeMap<String, NativeOrder>>,
    /// What each stand-in gateway knows of its trades, for the server's queries and closes.
    alipay_trades: crate::sandbox::Trades,
    wechat_trades: crate::sandbox::Trades,
}

/// The running front; stops when dropped.
pub struct DevFront {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl DevFront {
    pub fn start(listener: TcpListener, setup: Setup) -> std::io::Result<DevFront> {
        let addr = listener.local_addr()?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(std::io::Error::other)?;
        let db = mysql_async::Pool::from_url(setup.database_url.as_str())
            .map_err(std::io::Error::other)?;
        let front = Arc::new(Front {
            setup,
            base: format!("http://{addr}"),
            db,
            http,
            wechat_orders: Mutex::default(),
            alipay_trades: Default::default(),
            wechat_trades: Default::default(),
        });
        let task = http_serve::spawn(listener, move |req| {
            let front = front.clone();
            async move { front.route(req).await }
        });
        Ok(DevFront { addr, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for DevFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Front {
    async fn route(&self, req: Req) -> Resp {
        let path = req.path.clone();
        let entry_login = format!("/{}{LOGIN_PATH}", self.setup.admin_entry);
        match path.as_str() {
            "/" => redirect(LANDING),
            "/admin" | "/admin/" => match req.cookie("keeplogin") {
                Some(_) => redirect(ADMIN_CONSOLE),
                None => redirect(&format!("{LOGIN_PATH}?url={ADMIN_CONSOLE}")),
            },
            "/favicon.ico" => reply(200, "image/svg+xml", pages::FAVICON_SVG),
            ALIPAY_GATEWAY_PATH => pay::alipay(self, &req).await,
            chathub::clients::pay::wechat::NATIVE_PATH => pay::wechat_api(self, &req),
            p if p.starts_with("/v3/pay/transactions/out-trade-no/") => pay::wechat_api(self, &req),
            p if p == WECHAT_SCAN_PATH || p.starts_with(&format!("{WECHAT_SCAN_PATH}/")) => {
                pay::wechat_scan(self, &req).await
            }
            p if p == LOGIN_PATH
                || p.starts_with(&format!("{LOGIN_PATH}/"))
                || p.starts_with(&entry_login) =>
            {
                login::page(self, &req).await
            }
            _ => self.forward(req).await,
        }
    }

    /// Hand the request to the server as nginx would: same method, path, headers and body,
    /// the client's address in `X-Forwarded-For`; the answer passed back untouched.
    async fn forward(&self, req: Req) -> Resp {
        let url = format!("http://{}{}", self.setup.server, req.path_and_query());
        let mut out = self.http.request(req.method.clone(), url);
        for (name, value) in &req.headers {
            if !matches!(
                name.as_str(),
                "host" | "connection" | "content-length" | "x-forwarded-for"
            ) {
                out = out.header(name, value);
            }
        }
        out = out
            .header("x-forwarded-for", req.peer.ip().to_string())
            .header("x-forwarded-proto", "http")
            .body(req.body.clone());
        match out.send().await {
            Ok(answer) => {
                let status = answer.status();
                let headers = answer.headers().clone();
                let body = answer.bytes().await.unwrap_or_default();
                let mut resp = http::Response::new(http_body_util::Full::new(body));
                *resp.status_mut() = status;
                for (name, value) in &headers {
                    if !matches!(
                        name.as_str(),
                        "connection" | "transfer-encoding" | "content-length"
                    ) {
                        resp.headers_mut().append(name, value.clone());
                    }
                }
                resp
            }
            Err(e) => reply(
                502,
                "text/plain; charset=utf-8",
                format!("502 Bad Gateway: the chathub server did not answer ({e})"),
            ),
        }
    }
}
