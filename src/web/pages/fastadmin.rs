//! Pages that FastAdmin itself renders around the addon: its jump page ("温馨提示"), its
//! 404 page and its generic error page. Users of a FastAdmin site know these.

use maud::{DOCTYPE, Markup, html};

const BASE_STYLE: &str = "body{margin:0;padding:60px 24px;background:#f4f6f8;color:#333;font:16px/1.6 -apple-system,'Microsoft YaHei',sans-serif}\
.box{max-width:560px;margin:0 auto;background:#fff;border-radius:4px;box-shadow:0 0 30px rgba(99,99,99,.06);padding:48px 32px;text-align:center}\
h1{font-weight:400;font-size:28px;margin:0 0 16px;color:#444}p{color:#888;margin:8px 0}\
a.btn{display:inline-block;margin:16px 6px 0;padding:4px 24px;border:1px solid #44a0e8;border-radius:30px;color:#44a0e8;text-decoration:none}\
.error a.btn{border-color:#ff8992;color:#ff8992}.success a.btn{border-color:#69bf4e;color:#69bf4e}.grey{border-color:#bbb!important;color:#bbb!important}";

/// FastAdmin's `dispatch_jump` page: a message, a countdown and a link onward.
pub fn jump_page(success: bool, msg: &str, url: &str, wait: u32) -> Markup {
    let viewport = html! { meta name="viewport" content="width=device-width, initial-scale=1.0"; };
    frame(
        "温馨提示",
        viewport,
        html! {
            div class={ "box " (if success { "success" } else { "error" }) } {
                h1 { (msg) }
                p class="jump" { "页面将在 " span id="wait" data-url=(url) { (wait) } " 秒后自动跳转" }
                p {
                    a href="/" class="btn grey" { "返回首页" }
                    a href=(url) class="btn" { "立即跳转" }
                }
            }
            script { (maud::PreEscaped(JUMP_SCRIPT)) }
        },
    )
}

/// FastAdmin's page frame: the same `<head>` on the jump page and every error page, but for
/// its title and the one `meta` that differs between them.
fn frame(title: &str, meta: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html {
            head {
                meta charset="utf-8";
                title { (title) }
                (meta)
                style { (BASE_STYLE) }
            }
            body { (body) }
        }
    }
}

/// Counts down and follows the link; reads the target from a data attribute so no value
/// is ever spliced into script text.
const JUMP_SCRIPT: &str = "(function(){var w=document.getElementById('wait');var u=w.getAttribute('data-url');\
var t=setInterval(function(){var n=parseInt(w.textContent,10)-1;w.textContent=n;if(n<=0){clearInterval(t);location.href=u;}},1000);})();";

/// FastAdmin's error frame (`think_exception` style).
fn error_frame(body: Markup) -> Markup {
    frame(
        "发生错误",
        html! { meta name="robots" content="noindex,nofollow"; },
        body,
    )
}

/// FastAdmin's 404 page.
pub fn not_found_page() -> Markup {
    error_frame(html! {
        div class="box" {
            h1 { "你所浏览的页面暂时无法访问" }
            p { "你可以返回上一页重试" }
            p {
                a href="/" class="btn" { "返回主页" }
                a href="javascript:history.go(-1)" class="btn grey" { "返回上一页" }
            }
        }
    })
}

/// FastAdmin's generic error page (`app_debug = false`): no detail leaks.
pub fn server_error_page() -> Markup {
    error_page("发生错误", "服务器开小差了，请稍后再试")
}

/// A clear error page in FastAdmin's style for problems the original never handled.
pub fn error_page(title: &str, msg: &str) -> Markup {
    error_frame(html! {
        div class="box error" {
            h1 { (title) }
            p { (msg) }
            p { a href="/" class="btn" { "返回主页" } }
        }
    })
}
