//! The public landing page (original `landing`). Every "ChatHub" follows `site_name`, as the
//! original's string replacement did.

use maud::{Markup, html};

use super::layout;

const STYLE: &str = r#"
*{box-sizing:border-box;margin:0;padding:0}
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;background:#0f172a;color:#e2e8f0;line-height:1.6}
a{color:#818cf8;text-decoration:none}
.top{position:sticky;top:0;z-index:100;background:#0f172a;border-bottom:1px solid #1e293b;padding:20px 0}
.bar{max-width:1200px;margin:0 auto;padding:0 24px;display:flex;align-items:center;justify-content:space-between}
.brand{display:flex;align-items:center;gap:10px;color:#fff;font-weight:700;font-size:22px}
.mark{display:flex;align-items:center;justify-content:center;width:36px;height:36px;border-radius:8px;font-size:18px;background:linear-gradient(135deg,#6366f1,#8b5cf6)}
.menu{display:flex;align-items:center;gap:32px}.menu a{color:#cbd5e1;font-size:15px;font-weight:500}
.btn{display:inline-block;padding:10px 24px;border-radius:8px;font-weight:600;font-size:14px;border:0;cursor:pointer}
.btn.primary{background:#6366f1;color:#fff}.btn.primary:hover{background:#4f46e5}.menu a.btn{color:#cbd5e1}
.btn.ghost{border:1px solid #334155;color:#e2e8f0;background:none}.btn.big{padding:16px 36px;font-size:16px;border-radius:10px}
.hero{max-width:1200px;margin:0 auto;padding:100px 24px 80px;text-align:center}
.hero h1{font-size:56px;line-height:1.15;color:#fff;margin-bottom:24px;font-weight:800;letter-spacing:-1px}
.hero h1 span{background:linear-gradient(135deg,#818cf8,#c084fc,#f472b6);-webkit-background-clip:text;background-clip:text;-webkit-text-fill-color:transparent}
.hero p{max-width:720px;margin:0 auto 40px;font-size:20px;line-height:1.7;color:#94a3b8}
.cta{display:flex;gap:16px;justify-content:center;flex-wrap:wrap}
section.block{max-width:1200px;margin:0 auto;padding:80px 24px}
.heading{text-align:center;margin-bottom:60px}.heading h2{font-size:40px;font-weight:700;color:#fff;margin-bottom:16px}.heading p{color:#94a3b8;font-size:18px}
.cards{display:grid;grid-template-columns:repeat(3,1fr);gap:24px}
.card{background:#1e293b;border:1px solid #334155;border-radius:16px;padding:32px}
.card .ico{display:flex;align-items:center;justify-content:center;width:52px;height:52px;border-radius:12px;background:linear-gradient(135deg,#6366f1,#8b5cf6);font-size:24px;margin-bottom:20px}
.card h3{color:#fff;font-size:20px;font-weight:600;margin-bottom:12px}.card p{color:#94a3b8;font-size:15px;line-height:1.7}
.plans{display:grid;grid-template-columns:repeat(3,1fr);gap:24px;margin-top:50px}
.plan{position:relative;background:#1e293b;border:1px solid #334155;border-radius:16px;padding:36px 32px}
.plan.hot{border-color:#6366f1;background:linear-gradient(180deg,#1e293b,#1e1b4b);transform:scale(1.05)}
.plan.hot::before{content:"\63a8\8350";position:absolute;top:-12px;left:50%;transform:translateX(-50%);padding:4px 16px;border-radius:20px;background:#6366f1;color:#fff;font-size:12px;font-weight:600}
.plan h3{color:#fff;font-size:22px;font-weight:600;margin-bottom:8px}.plan .amount{font-size:42px;font-weight:800;color:#fff;margin:20px 0 8px}
.plan .amount small{font-size:16px;color:#94a3b8;font-weight:500}.plan .for{color:#94a3b8;font-size:14px;margin-bottom:24px}
.plan ul{list-style:none;margin-bottom:32px}.plan li{display:flex;align-items:center;gap:10px;padding:8px 0;color:#cbd5e1;font-size:14px}.plan li::before{content:"\2713";color:#10b981;font-weight:700}
.plan .btn{display:block;width:100%;text-align:center;padding:14px;font-size:15px}
.banner{max-width:1200px;margin:80px auto;padding:60px 40px;border-radius:24px;text-align:center;background:linear-gradient(135deg,#6366f1,#8b5cf6)}
.banner h2{color:#fff;font-size:32px;font-weight:700;margin-bottom:16px}.banner p{color:#e0e7ff;font-size:18px;margin-bottom:32px}
.banner .btn{background:#fff;color:#6366f1}
footer{border-top:1px solid #1e293b;padding:40px 24px;text-align:center;color:#64748b;font-size:14px}
footer a{color:#94a3b8;margin:0 12px}
@media(max-width:768px){.hero h1{font-size:36px}.hero p{font-size:16px}.cards,.plans{grid-template-columns:1fr}.plan.hot{transform:none}.heading h2{font-size:28px}}
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
                    a href="/addons/chathub/index/landing" { "首页" } "· "
                    a href="/addons/chathub/index/registerpage" { "注册" } "· "
                    a href="/admin" { "管理后台" }
                }
                div style="margin-top:16px" { "© 2026 " (site_name) ". Powered by Chatwoot + QwenPaw" }
            }
        }))
    };
    page
}
