//! The public landing page (original `landing`). Every "ChatHub" follows `site_name`, as the
//! original's string replacement did.

use maud::{Markup, html};

use super::layout;

const STYLE: &str = r#"
*{box-sizing:border-box;margin:0;padding:0}
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Arial,sans-serif;background:#0b1220;color:#dbe4f0;line-height:1.65}
a{color:#8ea2ff;text-decoration:none}
.top{position:sticky;top:0;z-index:9;background:#0b1220;border-bottom:1px solid #1c2638}
.bar{max-width:1180px;margin:0 auto;padding:18px 24px;display:flex;align-items:center;justify-content:space-between}
.brand{display:flex;align-items:center;gap:10px;color:#fff;font-weight:700;font-size:21px}
.mark{display:flex;align-items:center;justify-content:center;width:34px;height:34px;border-radius:9px;background:linear-gradient(140deg,#5b5ef0,#9a5cf5)}
.menu{display:flex;align-items:center;gap:28px}.menu a{color:#c5d0e0;font-weight:500}
.btn{display:inline-block;padding:10px 22px;border-radius:9px;font-weight:600;font-size:14px;border:1px solid transparent;cursor:pointer}
.btn.primary{background:#5b5ef0;color:#fff}.btn.primary:hover{background:#4a4cd8}
.btn.ghost{border-color:#2d3a52;color:#dbe4f0}.btn.big{padding:15px 34px;font-size:16px}
.hero{max-width:1180px;margin:0 auto;padding:96px 24px 72px;text-align:center}
.hero h1{font-size:54px;line-height:1.15;color:#fff;margin-bottom:22px;font-weight:800}
.hero h1 span{background:linear-gradient(120deg,#8ea2ff,#c58bf7,#f47fb6);-webkit-background-clip:text;background-clip:text;color:transparent}
.hero p{max-width:720px;margin:0 auto 36px;font-size:19px;color:#97a6bd}
.cta{display:flex;gap:14px;justify-content:center;flex-wrap:wrap}
section.block{max-width:1180px;margin:0 auto;padding:72px 24px}
.heading{text-align:center;margin-bottom:52px}.heading h2{font-size:38px;color:#fff;margin-bottom:12px}.heading p{color:#97a6bd;font-size:17px}
.cards{display:grid;grid-template-columns:repeat(3,1fr);gap:22px}
.card{background:#141d2e;border:1px solid #263248;border-radius:15px;padding:30px}
.card .ico{font-size:26px;margin-bottom:16px}.card h3{color:#fff;font-size:19px;margin-bottom:10px}.card p{color:#97a6bd;font-size:15px}
.plans{display:grid;grid-template-columns:repeat(3,1fr);gap:22px}
.plan{background:#141d2e;border:1px solid #263248;border-radius:15px;padding:34px 30px}
.plan.hot{border-color:#5b5ef0}
.plan h3{color:#fff;font-size:21px}.plan .amount{font-size:40px;font-weight:800;color:#fff;margin:18px 0 6px}
.plan .amount small{font-size:15px;color:#97a6bd;font-weight:500}.plan .for{color:#97a6bd;font-size:14px;margin-bottom:20px}
.plan ul{list-style:none;margin-bottom:28px}.plan li{padding:7px 0;color:#c5d0e0;font-size:14px}.plan li:before{content:"✓ ";color:#19b884}
.plan .btn{display:block;text-align:center}
.banner{max-width:1180px;margin:72px auto;padding:56px 36px;border-radius:22px;text-align:center;background:linear-gradient(130deg,#5b5ef0,#8c5cf5)}
.banner h2{color:#fff;font-size:30px;margin-bottom:12px}.banner p{color:#e3e6ff;font-size:17px;margin-bottom:28px}
.banner .btn{background:#fff;color:#5b5ef0}
footer{border-top:1px solid #1c2638;padding:38px 24px;text-align:center;color:#67758c;font-size:14px}
footer a{color:#97a6bd;margin:0 10px}
@media(max-width:780px){.hero h1{font-size:34px}.cards,.plans{grid-template-columns:1fr}}
"#;

struct Feature {
    icon: &'static str,
    title: &'static str,
    text: &'static str,
}

const FEATURES: [Feature; 6] = [
    Feature {
        icon: "🏢",
        title: "多租户隔离",
        text: "每个租户独立 Chatwoot 团队、收件箱、Agent，数据完全隔离，互不干扰。",
    },
    Feature {
        icon: "🤖",
        title: "AI 智能应答",
        text: "接入 QwenPaw Agent 大模型，7×24 自动回复客户咨询，支持多轮对话和上下文理解。",
    },
    Feature {
        icon: "💬",
        title: "一键嵌入",
        text: "提供 JS 嵌入代码，复制粘贴即可集成到任何网站，5 分钟完成上线。",
    },
    Feature {
        icon: "📊",
        title: "实时监控",
        text: "会话量、响应时间、客户满意度等关键指标实时可见，运营决策有数。",
    },
    Feature {
        icon: "💳",
        title: "按席计费",
        text: "基础版¥50/月起，每加一个席位+¥10，灵活扩容，用多少付多少。",
    },
    Feature {
        icon: "🔒",
        title: "数据安全",
        text: "租户数据加密存储，HTTPS 全链路传输，符合企业级安全合规要求。",
    },
];

struct PlanCard {
    name: &'static str,
    price: &'static str,
    unit: &'static str,
    audience: &'static str,
    items: [&'static str; 5],
    href: &'static str,
    button: &'static str,
    featured: bool,
}

const PLANS: [PlanCard; 3] = [
    PlanCard {
        name: "基础版",
        price: "¥50",
        unit: "/月",
        audience: "适合个人或小团队",
        items: [
            "1 个管理员席位",
            "独立 Chatwoot 收件箱",
            "AI 自动应答",
            "1 个网站嵌入",
            "邮件技术支持",
        ],
        href: "/addons/chathub/index/registerpage?plan=basic",
        button: "选择基础版",
        featured: false,
    },
    PlanCard {
        name: "专业版",
        price: "¥60",
        unit: "/月",
        audience: "适合成长型团队",
        items: [
            "2 个管理员席位",
            "独立 Chatwoot 收件箱",
            "AI 自动应答",
            "3 个网站嵌入",
            "优先技术支持",
        ],
        href: "/addons/chathub/index/registerpage?plan=pro",
        button: "选择专业版",
        featured: true,
    },
    PlanCard {
        name: "企业版",
        price: "¥70",
        unit: "/月 起",
        audience: "适合中大型企业",
        items: [
            "自定义席位（+¥10/席/月）",
            "独立 Chatwoot 收件箱",
            "AI 自动应答",
            "不限网站嵌入",
            "7×24 专属客服",
        ],
        href: "/addons/chathub/index/registerpage?plan=enterprise",
        button: "选择企业版",
        featured: false,
    },
];

pub fn render(site_name: &str) -> Markup {
    let page: Markup = html! {
        (layout::member_page(html! { (site_name) " - AI 智能客服多租户平台" }, STYLE, html! {
            header class="top" {
                div class="bar" {
                    a href="/addons/chathub/index/landing" class="brand" { div class="mark" { "💬" } (site_name) }
                    nav class="menu" {
                        a href="#features" { "功能特性" }
                        a href="#pricing" { "套餐价格" }
                        a href="/addons/chathub/index/registerpage" class="btn primary" { "立即注册" }
                    }
                }
            }
            section class="hero" {
                h1 { "AI 智能客服" br; span { "多租户 SaaS 平台" } }
                p { "基于 Chatwoot + QwenPaw Agent，为企业打造一站式 AI 客服解决方案。" br; "多租户隔离、按席位计费、3 分钟开通。" }
                div class="cta" {
                    a href="/addons/chathub/index/registerpage" class="btn primary big" { "免费注册" }
                    a href="#pricing" class="btn ghost big" { "查看套餐" }
                }
            }
            section class="block" id="features" {
                div class="heading" { h2 { "核心功能" } p { "企业级 AI 客服所需的一切，开箱即用" } }
                div class="cards" {
                    @for f in &FEATURES {
                        div class="card" { div class="ico" { (f.icon) } h3 { (f.title) } p { (f.text) } }
                    }
                }
            }
            section class="block" id="pricing" {
                div class="heading" { h2 { "套餐价格" } p { "简单透明，按需选择，随时升级" } }
                div class="plans" {
                    @for p in &PLANS {
                        div class={ "plan" @if p.featured { " hot" } } {
                            h3 { (p.name) }
                            div class="amount" { (p.price) small { (p.unit) } }
                            p class="for" { (p.audience) }
                            ul { @for item in &p.items { li { (item) } } }
                            a href=(p.href) class={ "btn " @if p.featured { "primary" } @else { "ghost" } } { (p.button) }
                        }
                    }
                }
            }
            section class="banner" {
                h2 { "3 分钟开通，立即拥有 AI 客服" }
                p { "注册即送 30 天免费试用，无需信用卡" }
                a href="/addons/chathub/index/registerpage" class="btn big" { "免费注册" }
            }
            footer {
                div {
                    a href="/addons/chathub/index/landing" { "首页" } "·"
                    a href="/addons/chathub/index/registerpage" { "注册" } "·"
                    a href="/admin" { "管理后台" }
                }
                div style="margin-top:16px" { "© 2026 " (site_name) ". Powered by Chatwoot + QwenPaw" }
            }
        }))
    };
    page
}
