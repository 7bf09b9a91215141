//! The member sign-in page (original `login`). Every "ChatHub" follows `site_name`.

use maud::{Markup, html};

use super::layout;

/// Dark card on a dark page, as the original's member pages look.
const STYLE: &str = r#"
*{box-sizing:border-box;margin:0;padding:0}
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Arial,sans-serif;background:#0b1220;color:#dbe4f0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:24px}
.wrap{width:100%;max-width:420px}
.panel{background:#172033;border:1px solid #2b3850;border-radius:15px;padding:38px 36px;box-shadow:0 18px 50px rgba(0,0,0,.35)}
h1{color:#fff;font-size:25px;text-align:center;margin-bottom:6px}
.lead{color:#93a1b8;font-size:14px;text-align:center;margin-bottom:30px}
.field{margin-bottom:17px}
.field label{display:block;color:#c3cede;font-size:13px;margin-bottom:6px}
.field input{width:100%;padding:12px 15px;border-radius:8px;border:1px solid #2b3850;background:#0b1220;color:#fff;font-size:15px}
.field input:focus{outline:none;border-color:#6768ef}
button{width:100%;margin-top:6px;padding:13px;border:0;border-radius:8px;background:#6768ef;color:#fff;font-size:15px;font-weight:600;cursor:pointer}
button:hover{background:#5253d8}
.alert{background:#6f1d1d;color:#fdd;padding:10px 14px;border-radius:8px;font-size:13px;text-align:center;margin-bottom:16px}
.more{margin-top:20px;text-align:center;color:#93a1b8;font-size:13px}
.more a{color:#8c93f7;text-decoration:none;margin:0 8px}
"#;

/// `token`: the pre-session's CSRF token, sent back as `__token__` so `doLogin` knows the
/// form is ours (login CSRF; the original's `email`/`password` fields are unchanged).
pub fn render(site_name: &str, error: Option<&str>, token: &str) -> Markup {
    let page: Markup = html! {
        (layout::member_page(html! { "登录 - " (site_name) }, STYLE, html! {
            div class="wrap" {
                div class="panel" {
                    h1 { "登录 " (site_name) }
                    p class="lead" { "登录后查看您的 AI 客服订阅" }
                    @if let Some(msg) = error {
                        div class="alert" { (msg) }
                    }
                    form method="POST" action="/addons/chathub/index/doLogin" {
                        input type="hidden" name="__token__" value=(token);
                        div class="field" {
                            label { "邮箱" }
                            input type="email" name="email" required placeholder="注册时使用的邮箱";
                        }
                        div class="field" {
                            label { "密码" }
                            input type="password" name="password" required placeholder="请输入密码";
                        }
                        button type="submit" { "登录" }
                    }
                    div class="more" {
                        a href="/addons/chathub/index/registerpage" { "还没账号？立即注册" }
                        "·"
                        a href="/addons/chathub/index/landing" { "返回首页" }
                    }
                }
            }
        }))
    };
    page
}
