//! The frame of the member-facing pages (landing, sign-up, sign-in, member center, renew,
//! WeChat Pay): the original's `<head>`, written once.

use maud::{DOCTYPE, Markup, PreEscaped, html};

/// `title` and `body` are escaped markup like any other; `style` is one of our own
/// stylesheet constants (never user data), inlined as the original did.
pub fn member_page(title: Markup, style: &'static str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(style)) }
            }
            body { (body) }
        }
    }
}
