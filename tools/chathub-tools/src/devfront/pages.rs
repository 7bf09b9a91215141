//! The front's own pages: one layout, escaped by maud.

use maud::{Markup, html};

use crate::http_serve::{Resp, reply};

/// A speech bubble in the site's blue.
pub const FAVICON_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="#3c8dbc"/><path d="M16 18h32a6 6 0 0 1 6 6v16a6 6 0 0 1-6 6H30l-10 8v-8h-4a6 6 0 0 1-6-6V24a6 6 0 0 1 6-6z" fill="#fff"/></svg>"##;

const STYLE: &str = "body{margin:0;font-family:-apple-system,'Helvetica Neue','PingFang SC','Microsoft YaHei',sans-serif;background:#f1f4f6;color:#333}\
.box{max-width:420px;margin:60px auto;background:#fff;border-radius:6px;box-shadow:0 1px 8px rgba(0,0,0,.12);padding:28px 32px}\
h1{font-size:20px;margin:0 0 18px;text-align:center}.sub{color:#888;font-size:13px;text-align:center;margin:-10px 0 18px}\
label{display:block;font-size:13px;color:#666;margin:12px 0 4px}input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:9px 10px;border:1px solid #d2d6de;border-radius:3px;font-size:14px}\
.btn{display:inline-block;width:100%;box-sizing:border-box;margin-top:18px;padding:10px;border:0;border-radius:3px;font-size:15px;color:#fff;background:#3c8dbc;cursor:pointer;text-align:center;text-decoration:none}\
.btn.grey{background:#aaa}.btn.alipay{background:#1677ff}.btn.wechat{background:#07c160}\
.err{background:#f2dede;color:#a94442;padding:8px 10px;border-radius:3px;font-size:13px}\
.amount{font-size:32px;text-align:center;margin:10px 0}.row{display:flex;justify-content:space-between;font-size:13px;color:#666;padding:4px 0}\
.note{font-size:12px;color:#999;margin-top:16px;text-align:center}";

/// The server's page frame (browsers ask `/favicon.ico` by themselves).
pub fn layout(title: &str, body: Markup) -> Markup {
    chathub::web::pages::layout::member_page(
        html! { (title) },
        STYLE,
        html! { div class="box" { (body) } },
    )
}

pub fn html_page(status: u16, page: Markup) -> Resp {
    reply(status, "text/html; charset=utf-8", page.into_string())
}

/// A page that only says what went wrong.
pub fn error_page(status: u16, title: &str, message: &str) -> Resp {
    html_page(
        status,
        layout(title, html! { h1 { (title) } p class="err" { (message) } }),
    )
}
