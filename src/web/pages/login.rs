//! The member sign-in page (original `login`). Every "ChatHub" follows `site_name`.

use maud::{Markup, html};

use super::layout;

/// Dark card on a dark page, as the original's member pages look.
const STYLE: &str = r#"
*{box-sizing:border-box;margin:0;padding:0}
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,sans-serif;background:#0f172a;color:#e2e8f0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:20px}
.wrap{width:100%;max-width:420px}
.panel{background:#1e293b;border:1px solid #334155;border-radius:16px;padding:40px;box-shadow:0 20px 60px rgba(0,0,0,.3)}
h1{color:#fff;font-size:26px;font-weight:700;text-align:center;margin-bottom:8px}
.lead{color:#94a3b8;font-size:14px;text-align:center;margin-bottom:32px}
.field label{font-weight:500}
.more{margin-top:20px;text-align:center;color:#94a3b8;font-size:13px}
.more a{color:#818cf8;text-decoration:none;margin:0 8px}
"#;

/// `token`: the pre-session's CSRF token, sent back as `__token__` so `doLogin` knows the
/// form is ours (login CSRF; the original's `email`/`password` fields are unchanged).
pub fn render(site_name: &str, error: Option<&str>, token: &str) -> Markup {
    let page: Markup = html! {
        (layout::member_page_styled(html! { "登录 - " (site_name) }, &[layout::FORM_STYLE, STYLE], html! {
            div class="wrap" {
                div class="panel" {
                    h1 { "登录 " (site_name) }
                    p class="lead" { "登录后查看您的 AI 客服订阅" }
                    @if let Some(msg) = error {
                        div class="alert bad" { (msg) }
                    }
                    form method="POST" action="/addons/chathub/index/doLogin" {
                        input type="hidden" name="__token__" value=(token);
                        (layout::field("邮箱", html! { input type="email" name="email" required placeholder="注册时使用的邮箱"; }))
                        (layout::field("密码", html! { input type="password" name="password" required placeholder="请输入密码"; }))
                        button type="submit" { "登录" }
                    }
                    div class="more" {
                        a href="/addons/chathub/index/registerpage" { "还没账号？立即注册" }
                        "· "
                        a href="/addons/chathub/index/landing" { "返回首页" }
                    }
                }
            }
        }))
    };
    page
}
