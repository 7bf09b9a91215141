//! The member's change-password page (original `changePassword`).

use maud::{Markup, html};

use super::layout;

const STYLE: &str = r#"
*{box-sizing:border-box;margin:0;padding:0}
body{font-family:-apple-system,BlinkMacSystemFont,sans-serif;background:#0f172a;color:#e2e8f0;min-height:100vh}
header{background:#0f172a;border-bottom:1px solid #1e293b;padding:18px 0}
.bar{max-width:1200px;margin:0 auto;padding:0 24px;display:flex;justify-content:space-between;align-items:center}
.brand{color:#fff;font-size:20px;font-weight:700}
.links a{color:#94a3b8;font-size:13px;text-decoration:none;margin-left:16px}
.links a:hover{color:#fff}
.wrap{max-width:480px;margin:40px auto;padding:0 24px}
.panel{background:#1e293b;border:1px solid #334155;border-radius:14px;padding:36px}
h1{color:#fff;font-size:22px;margin-bottom:24px}
"#;

/// The line above the form after a POST.
pub enum Notice<'a> {
    Error(&'a str),
    Success(&'a str),
}

/// `csrf` goes into a hidden `csrf_token` field; the original's three fields are unchanged.
pub fn render(site_name: &str, csrf: &str, notice: Option<Notice<'_>>) -> Markup {
    let page: Markup = html! {
        (layout::member_page_styled(html! { "修改密码 - " (site_name) }, &[layout::FORM_STYLE, STYLE], html! {
            header {
                div class="bar" {
                    a href="/addons/chathub/index/landing" class="brand" { "💬 " (site_name) }
                    div class="links" {
                        a href="/addons/chathub/index/my" { "我的" }
                        " "
                        a href="/addons/chathub/index/logout" { "退出" }
                    }
                }
            }
            div class="wrap" {
                div class="panel" {
                    h1 { "修改密码" }
                    @match notice {
                        Some(Notice::Error(msg)) => div class="alert bad" { (msg) },
                        Some(Notice::Success(msg)) => div class="alert good" { (msg) },
                        None => {},
                    }
                    form method="POST" {
                        input type="hidden" name="csrf_token" value=(csrf);
                        (layout::field("原密码", html! { input type="password" name="old_password" required; }))
                        (layout::field("新密码（至少 6 位）", html! { input type="password" name="new_password" required minlength="6"; }))
                        (layout::field("确认新密码", html! { input type="password" name="confirm_password" required minlength="6"; }))
                        button type="submit" { "提交" }
                    }
                }
            }
        }))
    };
    page
}
