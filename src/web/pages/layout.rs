//! The frame of the member-facing pages (landing, sign-up, sign-in, member center, renew,
//! WeChat Pay): the original's `<head>`, written once.

use maud::{DOCTYPE, Markup, PreEscaped, html};

/// `title` and `body` are escaped markup like any other; `style` is one of our own
/// stylesheet constants (never user data), inlined as the original did.
pub fn member_page(title: Markup, style: &'static str, body: Markup) -> Markup {
    member_page_styled(title, &[style], body)
}

/// `member_page` with several of our stylesheet constants, inlined in order.
pub fn member_page_styled(title: Markup, styles: &[&'static str], body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { @for style in styles { (PreEscaped(style)) } }
            }
            body { (body) }
        }
    }
}

/// The sign-in and change-password forms' fields, buttons and notices (one look for both).
pub const FORM_STYLE: &str = r#"
.field{margin-bottom:18px}
.field label{display:block;color:#cbd5e1;font-size:13px;margin-bottom:6px}
.field input{width:100%;padding:12px 16px;background:#0f172a;border:1px solid #334155;border-radius:8px;color:#fff;font-size:15px}
.field input:focus{outline:none;border-color:#6366f1}
button{width:100%;margin-top:8px;padding:13px;border:0;border-radius:8px;background:#6366f1;color:#fff;font-size:15px;font-weight:600;cursor:pointer}
button:hover{background:#4f46e5}
.alert{padding:10px 14px;border-radius:8px;font-size:13px;text-align:center;margin-bottom:16px}
.alert.bad{background:#7f1d1d;color:#fecaca}
.alert.good{background:#064e3b;color:#a7f3d0}
"#;

/// One labelled field of those forms.
pub fn field(label: &str, input: Markup) -> Markup {
    html! { div class="field" { label { (label) } (input) } }
}
