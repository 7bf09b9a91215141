//! The member center (original `my`): greeting, four figures, the tenant table, the channel
//! card and the embed-code dialog.
//!
//! The original put each embed code into a single-quoted `onclick` string, which real
//! multi-line snippets break (bug 10). Here the code travels in a `data-embed` attribute
//! (escaped by maud) and one constant script opens the dialog: nothing a tenant row holds can
//! reach script text.

use maud::{Markup, PreEscaped, html};

use super::layout;

use crate::domain::tenant::TenantStatus;
use crate::services::lifecycle::Standing;
use crate::services::member::{Flash, Overview, TenantSummary};

/// The lifecycle's notices and badges, sent only with a notice to show, so a page without
/// one is byte for byte the original's.
const LIFECYCLE_STYLE: &str = ".notice{display:flex;justify-content:space-between;align-items:center;gap:16px;padding:14px 20px;border-radius:10px;margin-bottom:12px;border:1px solid #f59e0b;background:#3d2d0c;color:#fbbf24}\
.notice.stopped{border-color:#ef4444;background:#3f1717;color:#f58b8b}.notices{margin-bottom:18px}\
.badge.lc{margin-left:6px;background:#f59e0b22;color:#f59e0b}";

const STYLE: &str = r#"
*{box-sizing:border-box;margin:0;padding:0}
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,sans-serif;background:#0f172a;color:#e2e8f0;min-height:100vh}
header{background:#0f172a;border-bottom:1px solid #1e293b;padding:18px 0}
.bar{max-width:1200px;margin:0 auto;padding:0 24px;display:flex;justify-content:space-between;align-items:center}
.brand{display:flex;align-items:center;gap:10px;color:#fff;font-size:20px;font-weight:700}
.mark{width:32px;height:32px;border-radius:7px;display:flex;align-items:center;justify-content:center;font-size:16px;background:linear-gradient(135deg,#6366f1,#8b5cf6)}
.who{display:flex;align-items:center;gap:16px;font-size:14px}
.who .nick{color:#cbd5e1}
.who a{color:#94a3b8;font-size:13px;text-decoration:none}
.who a:hover{color:#fff}
main{display:block;max-width:1200px;margin:30px auto;padding:0 24px}
.hello{background:linear-gradient(135deg,#1e293b,#1e1b4b);border:1px solid #334155;border-radius:14px;padding:28px 32px;margin-bottom:24px}
.hello h1{color:#fff;font-size:22px;font-weight:600;margin-bottom:6px}
.hello p{color:#94a3b8;font-size:14px}
.flash{padding:14px 20px;border-radius:10px;margin-bottom:18px;border:1px solid}
.flash.paid{background:#0f3b31;border-color:#19b884;color:#4fd6a5}
.flash.prov{background:#13294d;border-color:#3b82f6;color:#6ea8fb}
.flash.wait{background:#3d2d0c;border-color:#f59e0b;color:#fbbf24}
.flash.err{background:#3f1717;border-color:#ef4444;color:#f58b8b}
.figures{display:grid;grid-template-columns:repeat(4,1fr);gap:14px;margin-bottom:24px}
.figure{background:#1e293b;border:1px solid #334155;border-radius:12px;padding:18px 20px}
.figure .n{color:#fff;font-size:28px;font-weight:700;line-height:1.2}
.figure .l{color:#94a3b8;font-size:12px;margin-top:4px}
.box{background:#1e293b;border:1px solid #334155;border-radius:14px;overflow:hidden}
.box+.box{margin-top:24px}
.box h2{color:#fff;font-size:16px;font-weight:600;padding:18px 24px;border-bottom:1px solid #334155}
.box .note{color:#64748b;font-size:13px;margin-bottom:12px}
table{width:100%;border-collapse:collapse}
th{background:#0f172a;color:#94a3b8;font-size:12px;font-weight:600;text-align:left;text-transform:uppercase;padding:12px 16px}
td{padding:14px 16px;border-bottom:1px solid #334155;color:#cbd5e1}
td.name{color:#fff;font-weight:500}
td .sub{color:#64748b;font-size:12px;font-weight:400}
td.ops,th.ops{text-align:right}
td.empty{text-align:center;padding:60px 20px;color:#64748b}
td.empty a{color:#818cf8}
.badge{padding:3px 10px;border-radius:12px;font-size:12px;font-weight:600}
.s-active{background:#10b98122;color:#10b981}.s-provisioning{background:#3b82f622;color:#3b82f6}
.s-pending{background:#f59e0b22;color:#f59e0b}.s-suspended{background:#ef444422;color:#ef4444}
.s-disabled{background:#6b728022;color:#6b7280}
.op{display:inline-block;border:0;border-radius:6px;padding:6px 14px;margin-right:4px;font-size:12px;color:#fff;text-decoration:none;cursor:pointer}
.op.reprov{background:#3b82f6}.op.embed{background:#6366f1}.op.renew{background:#f59e0b;margin-right:0}
.op-form{display:inline;margin:0}
.go{display:inline-block;padding:8px 18px;border-radius:6px;background:#3b82f6;color:#fff;text-decoration:none}
.dialog{display:none;position:fixed;inset:0;z-index:1000;background:rgba(0,0,0,.7);align-items:center;justify-content:center;padding:20px}
.dialog.open{display:flex}
.dialog .inner{background:#1e293b;border:1px solid #334155;border-radius:14px;padding:30px;width:100%;max-width:700px;max-height:80vh;overflow:auto}
.dialog h3{color:#fff;font-size:18px;margin-bottom:16px}
.dialog p{color:#94a3b8;font-size:13px;margin-bottom:12px}
.dialog pre{background:#0f172a;border:1px solid #334155;border-radius:8px;padding:16px;font-size:12px;color:#94a3b8;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
.dialog .x{float:right;background:none;border:0;color:#94a3b8;font-size:24px;cursor:pointer}
@media(max-width:768px){.figures{grid-template-columns:repeat(2,1fr)}th:nth-child(3),td:nth-child(3),th:nth-child(4),td:nth-child(4){display:none}}
"#;

/// One constant script: opens the embed dialog from `data-embed`, asks before following a
/// `data-confirm` link or submitting its form, closes the dialog. Reads values only from attributes.
const SCRIPT: &str = r#"(function(){
var dlg=document.getElementById('embedModal'),pre=document.getElementById('embedCode');
document.addEventListener('click',function(e){
var t=e.target;if(!(t instanceof Element))return;
var b=t.closest('[data-embed]');
if(b){var c=b.getAttribute('data-embed');if(!c||c==='暂未生成'){alert('嵌入代码暂未生成，请稍后查看');return;}pre.textContent=c;dlg.classList.add('open');return;}
var a=t.closest('[data-confirm]');
if(a){if(!confirm(a.getAttribute('data-confirm'))){e.preventDefault();}return;}
if(t===dlg||t.closest('[data-close]')){dlg.classList.remove('open');}
});
})();"#;

pub struct MyPage<'a> {
    pub site_name: &'a str,
    pub nick: &'a str,
    /// Sent by the "重新开通" form (`__token__`), which changes state.
    pub csrf: &'a str,
    pub flash: Option<&'a Flash>,
    pub overview: &'a Overview,
}

fn status_label(s: TenantStatus) -> &'static str {
    match s {
        TenantStatus::Active => "运行中",
        TenantStatus::Provisioning => "开通中",
        TenantStatus::Pending => "待开通",
        TenantStatus::Suspended => "已暂停",
        TenantStatus::Disabled => "已停用",
    }
}

fn flash(f: &Flash) -> Markup {
    html! {
        @match f {
            Flash::JustPaid => div class="flash paid" {
                "🎉 付款成功！您的 AI 客服已激活。如未显示嵌入代码，请点下方\"嵌入代码\"按钮获取。"
            },
            Flash::Provisioning { order } => div class="flash prov" {
                "⚡ 正在为您开通资源（订单 " (order) "），通常 30 秒内完成，请稍后刷新页面。如长时间未完成，可点\"重新开通\"按钮。"
            },
            Flash::Pending { order } => div class="flash wait" {
                "⏳ 付款确认中（订单 " (order) "），请稍候 30 秒后刷新页面。"
            },
            Flash::Error(msg) => div class="flash err" { "⚠️ " (msg) },
        }
    }
}

/// The member's notice for a tenant's standing, if any, and whether it offers renewal.
fn notice_text(t: &TenantSummary) -> Option<(String, bool)> {
    let name = &t.name;
    Some(match &t.standing {
        Standing::Current => return None,
        Standing::ExpiresSoon { days, on } => (
            format!("⏰ 「{name}」将于 {on} 到期（{days} 天内），请及时续费，以免服务中断。"),
            true,
        ),
        Standing::Expired {
            suspend_on: Some(at),
        } => (
            format!("⚠️ 「{name}」已到期，服务将于 {at} 暂停，请尽快续费。"),
            true,
        ),
        Standing::Expired { suspend_on: None } => {
            (format!("⚠️ 「{name}」已到期，请尽快续费。"), true)
        }
        Standing::SuspendedForExpiry { comes_back: true } => (
            format!("⛔ 「{name}」因到期未续费已暂停服务，续费后将自动恢复。"),
            true,
        ),
        Standing::SuspendedForExpiry { comes_back: false } => (
            format!("⛔ 「{name}」因到期未续费已暂停服务，续费后请联系客服恢复。"),
            true,
        ),
        Standing::PaidWhileSuspended => (
            format!("ℹ️ 「{name}」已续费，服务仍处于暂停状态，请联系客服恢复。"),
            false,
        ),
    })
}

fn notices(tenants: &[TenantSummary]) -> Markup {
    let shown: Vec<_> = tenants
        .iter()
        .filter_map(|t| notice_text(t).map(|n| (t, n)))
        .collect();
    html! {
        @if !shown.is_empty() {
            style { (PreEscaped(LIFECYCLE_STYLE)) }
            div class="notices" {
                @for (t, (text, renew)) in &shown {
                    @let stopped = matches!(t.standing, Standing::SuspendedForExpiry { .. } | Standing::PaidWhileSuspended);
                    div class=(if stopped { "notice stopped" } else { "notice" }) data-tenant=(t.id.0) {
                        span { (text) }
                        @if *renew {
                            a class="op renew" href={ "/addons/chathub/index/renew?id=" (t.id.0) } { "立即续费" }
                        }
                    }
                }
            }
        }
    }
}

fn tenant_row(t: &TenantSummary, csrf: &str) -> Markup {
    let id = t.id.0;
    html! {
        tr {
            td class="name" { (t.name) br; span class="sub" { (t.domain) } }
            td {
                span class={ "badge s-" (t.status.as_str()) } { (status_label(t.status)) }
                @if t.standing != Standing::Current {
                    span class="badge lc" { (t.standing.admin_label()) }
                }
            }
            td { (t.plan_label) br; span class="sub" { "¥" (t.price_label) "/月 · " (t.seats) "席" } }
            td { (t.expire_label) br; span class="sub" { "剩 " (t.days_left) " 天" } }
            td class="ops" {
                @if t.embed_code.is_none() {
                    // A form, not a link: the token stays out of URLs, logs and history
                    // (COMPAT.md#reprovision-link-token).
                    form class="op-form" method="post" action="/addons/chathub/index/reprovision" {
                        input type="hidden" name="ids" value=(id);
                        input type="hidden" name="__token__" value=(csrf);
                        button type="submit" class="op reprov" data-confirm="确认重新开通资源？" { "重新开通" }
                    }
                    " "
                }
                button class="op embed" data-embed=(t.embed_code.as_deref().unwrap_or("暂未生成")) { "嵌入代码" }
                @if t.renewable() {
                    " "
                    a class="op renew" href={ "/addons/chathub/index/renew?id=" (id) } { "续费" }
                }
            }
        }
    }
}

pub fn render(p: &MyPage<'_>) -> Markup {
    let totals = &p.overview.totals;
    let page: Markup = html! {
        (layout::member_page(html! { "会员中心 - " (p.site_name) }, STYLE, html! {
            header {
                div class="bar" {
                    a href="/addons/chathub/index/landing" class="brand" { div class="mark" { "💬" } (p.site_name) }
                    div class="who" {
                        span class="nick" { "👤 " (p.nick) }
                        a href="/addons/chathub/index/my" { "我的" }
                        " "
                        a href="/addons/chathub/index/changePassword" { "改密" }
                        " "
                        a href="/addons/chathub/index/logout" { "退出" }
                    }
                }
            }
            main {
                div class="hello" {
                    h1 { "欢迎回来，" (p.nick) }
                    p { "管理您的 AI 客服订阅、查看嵌入代码、续费套餐" }
                }
                @if let Some(f) = p.flash { (flash(f)) }
                (notices(&p.overview.tenants))
                div class="figures" {
                    div class="figure" { div class="n" { (totals.tenants) } div class="l" { "租户总数" } }
                    div class="figure" { div class="n" { (totals.active) } div class="l" { "运行中" } }
                    div class="figure" { div class="n" { (totals.seats) } div class="l" { "总席位数" } }
                    div class="figure" { div class="n" { "¥" (totals.monthly) } div class="l" { "月费合计" } }
                }
                div class="box" {
                    h2 { "我的租户" }
                    table {
                        thead {
                            tr { th { "租户" } th { "状态" } th { "套餐" } th { "到期" } th class="ops" { "操作" } }
                        }
                        tbody {
                            @for t in &p.overview.tenants { (tenant_row(t, p.csrf)) }
                            @if p.overview.tenants.is_empty() {
                                tr { td class="empty" colspan="5" {
                                    "还没有租户，" a href="/addons/chathub/index/registerpage" { "立即注册" }
                                } }
                            }
                        }
                    }
                }
                div class="box" {
                    h2 { "渠道管理" }
                    p class="note" { "为您的客服租户绑定 Amazon / JD / Taobao / PDD / TikTok 等外部平台凭证。绑定后，AI 会在收到含商品 ASIN/SKU 的消息时，自动调用平台 API 拉取实时信息（如价格、库存），让回答更准确。" }
                    a class="go" href="/addons/chathub/index/channelList" { "前往渠道管理 →" }
                }
            }
            div class="dialog" id="embedModal" {
                div class="inner" {
                    button class="x" data-close { "×" }
                    h3 { "嵌入代码" }
                    p { "复制以下代码到您的网站 </body> 之前：" }
                    pre id="embedCode" {}
                }
            }
            script { (PreEscaped(SCRIPT)) }
        }))
    };
    page
}
