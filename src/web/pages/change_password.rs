//! The member's change-password page (original `changePassword`).

use maud::{Markup, html};

use super::layout;

const STYLE: &str = r#"
*{box-sizing:border-box;margin:0;padding:0}
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Arial,sans-serif;background:#0b1220;color:#dbe4f0;min-height:100vh}
header{border-bottom:1px solid #1b2536;padding:18px 0}
.bar{max-width:1180px;margin:0 auto;padding:0 24px;display:flex;justify-content:space-between;align-items:center}
.brand{color:#fff;font-size:20px;font-weight:700;text-decoration:none}
.links a{color:#93a1b8;font-size:13px;text-decoration:none;margin-left:16px}
.links a:hover{color:#fff}
.wrap{max-width:480px;margin:40px auto;padding:0 24px}
.panel{background:#172033;border:1px solid #2b3850;border-radius:14px;padding:34px}
h1{color:#fff;font-size:22px;margin-bottom:22px}
.field{margin-bottom:17px}
.field label{display:block;color:#c3cede;font-size:13px;margin-bottom:6px}
.field input{width:100%;padding:12px 15px;border-radius:8px;border:1px solid #2b3850;background:#0b1220;color:#fff;font-size:15px}
.field input:focus{outline:none;border-color:#6768ef}
button{width:100%;margin-top:6px;padding:13px;border:0;border-radius:8px;background:#6768ef;color:#fff;font-size:15px;font-weight:600;cursor:pointer}
.alert{padding:10px 14px;border-radius:8px;font-size:13px;text-align:center;margin-bottom:16px}
.alert.bad{background:#6f1d1d;color:#fdd}
.alert.good{background:#0b4a39;color:#b4f3d8}
"#;

/// The line above the form after a POST.
pub enum Notice<'a> {
    Error(&'a str),
    Success(&'a str),
}

/// `csrf` goes into a hidden `csrf_token` field; the original's three fields are unchanged.
pub fn render(site_name: &str, csrf: &str, notice: Option<Notice<'_>>) -> Markup {
    let page: Markup = html! {
        (layout::member_page(html! { "修改密码 - " (site_name) }, STYLE, html! {
            header {
                div class="bar" {
                    a href="/addons/chathub/index/landing" class="brand" { "💬 " (site_name) }
                    div class="links" {
                        a href="/addons/chathub/index/my" { "我的" }
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
                        div class="field" {
                            label { "原密码" }
                            input type="password" name="old_password" required;
                        }
                        div class="field" {
                            label { "新密码（至少 6 位）" }
                            input type="password" name="new_password" required minlength="6";
                        }
                        div class="field" {
                            label { "确认新密码" }
                            input type="password" name="confirm_password" required minlength="6";
                        }
                        button type="submit" { "提交" }
                    }
                }
            }
        }))
    };
    page
}
