//! The renewal page (original `renew`): the order just made (or reused), the tenant's plan,
//! and one button per enabled payment method.

use maud::{Markup, html};

use super::layout;

const STYLE: &str = r#"
*{box-sizing:border-box;margin:0;padding:0}
body{font-family:-apple-system,BlinkMacSystemFont,sans-serif;background:#0f172a;color:#e2e8f0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:20px}
.panel{width:100%;max-width:480px;background:#1e293b;border:1px solid #334155;border-radius:16px;padding:40px}
h1{font-size:24px;color:#fff;text-align:center;margin-bottom:8px}
.order{font-size:14px;color:#94a3b8;text-align:center;margin-bottom:28px}
.facts{background:#0f172a;border-radius:10px;padding:20px;margin-bottom:24px}
.fact{display:flex;justify-content:space-between;font-size:14px;padding:6px 0}
.fact .k{color:#94a3b8}.fact .v{color:#fff;font-weight:500}
.fact.total{border-top:1px solid #1e293b;margin-top:8px;padding-top:12px}
.fact.total .v{color:#10b981;font-size:18px}
.pay{display:block;text-align:center;text-decoration:none;color:#fff;font-weight:600;font-size:15px;padding:14px;border-radius:10px;margin:8px 0}
.pay.alipay{background:#1677ff}.pay.alipay:hover{background:#0958d9}
.pay.wechat{background:#07c160}.pay.wechat:hover{background:#06a050}
.notice{background:#7c2d12;color:#fed7aa;border-radius:8px;padding:12px;text-align:center;font-size:13px;margin:12px 0}
.back{display:block;text-align:center;margin-top:20px;font-size:13px;color:#94a3b8;text-decoration:none}
.back:hover{color:#fff}
"#;

pub struct RenewView<'a> {
    pub site_name: &'a str,
    /// `None` when no order could be made (the tenant has no price): only the notice shows.
    pub order_no: Option<&'a str>,
    pub tenant_name: &'a str,
    pub plan: &'a str,
    pub seats: i64,
    /// `Y-m-d`, or `-` when the tenant has no expiry.
    pub expire: &'a str,
    /// Whole yuan per month, as the original printed `(int)$config['price']`.
    pub price: i64,
    pub alipay_enabled: bool,
    pub wechat_enabled: bool,
}

/// The original's names for the three plans; anything else is shown as written.
pub fn plan_name(plan: &str) -> &str {
    match plan {
        "basic" => "基础版",
        "pro" => "专业版",
        "enterprise" => "企业版",
        other => other,
    }
}

fn pay_buttons(v: &RenewView<'_>) -> Markup {
    let order = v.order_no.filter(|_| v.alipay_enabled || v.wechat_enabled);
    html! {
        @if let Some(no) = order {
            @if v.alipay_enabled {
                a class="pay alipay" href={ "/addons/chathub/index/payAlipay?order=" (crate::domain::php::php_urlencode(no)) } {
                    "💰 支付宝支付 ¥" (v.price)
                }
            }
            @if v.wechat_enabled {
                a class="pay wechat" href={ "/addons/chathub/index/payWechat?order=" (crate::domain::php::php_urlencode(no)) } {
                    "💚 微信支付 ¥" (v.price)
                }
            }
        } @else {
            div class="notice" { "⚠️ 支付功能未开通，请联系客服手动续费" }
        }
    }
}

pub fn render(v: &RenewView<'_>) -> Markup {
    html! {
        (layout::member_page(html! { "续费 - " (v.site_name) }, STYLE, html! {
            div class="panel" {
                h1 { "续费订阅" }
                p class="order" { "订单号：" (v.order_no.unwrap_or("-")) }
                div class="facts" {
                    div class="fact" { span class="k" { "租户" } span class="v" { (v.tenant_name) } }
                    div class="fact" { span class="k" { "套餐" } span class="v" { (plan_name(v.plan)) } }
                    div class="fact" { span class="k" { "席位数" } span class="v" { (v.seats) } }
                    div class="fact" { span class="k" { "当前到期" } span class="v" { (v.expire) } }
                    div class="fact total" { span class="k" { "应付金额" } span class="v" { "¥" (v.price) " /月" } }
                }
                (pay_buttons(v))
                a class="back" href="/addons/chathub/index/my" { "← 返回会员中心" }
            }
        }))
    }
}
