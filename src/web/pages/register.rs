//! The sign-up form (original `registerPage`) and the sign-up result page (original
//! `_registerResultPage`).

use maud::{Markup, PreEscaped, html};

use super::layout;

use crate::domain::plan::Plan;

const FORM_STYLE: &str = r#"
*{box-sizing:border-box;margin:0;padding:0}
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,sans-serif;background:#0f172a;color:#e2e8f0;min-height:100vh}
.top{background:#0f172a;border-bottom:1px solid #1e293b;padding:20px 0}
.bar{max-width:1200px;margin:0 auto;padding:0 24px;display:flex;align-items:center;justify-content:space-between}
.brand{display:flex;align-items:center;gap:10px;color:#fff;font-weight:700;font-size:22px}
.mark{display:flex;align-items:center;justify-content:center;width:36px;height:36px;border-radius:8px;font-size:18px;background:linear-gradient(135deg,#6366f1,#8b5cf6)}
.menu a{color:#cbd5e1;margin-left:24px;font-size:14px}
.container{max-width:560px;margin:40px auto;padding:0 24px}
.card{background:#1e293b;border:1px solid #334155;border-radius:16px;padding:40px;box-shadow:0 20px 60px rgba(0,0,0,.3)}
h1{color:#fff;font-size:28px;font-weight:700;margin-bottom:8px}
.subtitle{color:#94a3b8;font-size:15px;margin-bottom:32px}
.form-group{margin-bottom:20px}
.form-group label{display:block;color:#cbd5e1;font-size:14px;font-weight:500;margin-bottom:8px}
.req{color:#f87171}
.form-control{width:100%;padding:12px 16px;background:#0f172a;border:1px solid #334155;border-radius:8px;color:#fff;font-size:15px}
.form-control:focus{outline:none;border-color:#6366f1}
.form-control::placeholder{color:#64748b}
.plan-selector{display:grid;grid-template-columns:repeat(3,1fr);gap:12px;margin-bottom:20px}
.plan-option{background:#0f172a;border:2px solid #334155;border-radius:10px;padding:16px 12px;text-align:center;cursor:pointer}
.plan-option:hover{border-color:#475569}
.plan-option.selected{border-color:#6366f1;background:rgba(99,102,241,.1)}
.plan-option input{position:absolute;opacity:0;pointer-events:none}
.plan-option .name{color:#fff;font-weight:600;font-size:15px;margin-bottom:4px}
.plan-option .price{color:#94a3b8;font-size:13px}
.seats-row{display:none;margin-top:12px}.seats-row.show{display:block}
.seats-row label{color:#94a3b8;font-size:13px}
.btn-primary{width:100%;padding:14px;background:#6366f1;color:#fff;border:none;border-radius:8px;font-size:16px;font-weight:600;cursor:pointer;margin-top:8px}
.btn-primary:hover{background:#4f46e5}
.btn-primary:disabled{opacity:.6;cursor:not-allowed}
.btn-secondary{display:block;width:100%;padding:14px;margin-top:12px;text-align:center;text-decoration:none;color:#94a3b8;border:1px solid #334155;border-radius:8px;font-size:15px}
.btn-secondary:hover{border-color:#475569;color:#cbd5e1}
.result-card{text-align:center;padding:60px 40px}
.result-card .icon{width:80px;height:80px;border-radius:50%;margin:0 auto 24px;display:flex;align-items:center;justify-content:center;font-size:42px;font-weight:700;color:#fff}
.result-card.success .icon{background:#10b981}.result-card.error .icon{background:#ef4444}
.result-card h2{color:#fff;font-size:26px;margin-bottom:12px}
.result-card p{color:#94a3b8;font-size:15px;margin-bottom:24px;line-height:1.7}
.result-details{background:#0f172a;border-radius:10px;padding:20px;margin:24px 0;text-align:left}
.result-details .row{display:flex;justify-content:space-between;padding:8px 0;border-bottom:1px solid #1e293b;font-size:14px}
.result-details .row:last-child{border:none}
.label{color:#94a3b8}.value{color:#fff;font-weight:500}
.embed-code{background:#0f172a;border:1px solid #334155;border-radius:8px;padding:16px;font-family:monospace;font-size:12px;color:#94a3b8;white-space:pre-wrap;word-break:break-all;max-height:200px;overflow-y:auto;margin:12px 0;text-align:left}
.password-box{background:#7c2d12;border:1px solid #ea580c;border-radius:10px;padding:16px;margin:20px 0}
.password-box p{color:#fed7aa;font-size:13px;margin:0 0 6px}
.password-box .password{font-family:monospace;font-size:20px;color:#fff;font-weight:700;letter-spacing:2px;padding:8px;background:#0f172a;border-radius:6px}
@media(max-width:600px){.plan-selector{grid-template-columns:1fr}}
"#;

/// Plan choice, seats toggle and the AJAX submit. Vanilla JS (no CDN): it posts the form
/// with `X-Requested-With` and builds the result card from the top-level JSON fields the
/// endpoint returns, with DOM text nodes only (COMPAT.md#register-ajax-result-card).
const FORM_SCRIPT: &str = r#"(function(){
var form=document.getElementById('chathub-register');
if(!form||!window.XMLHttpRequest)return;
var seatsRow=document.getElementById('seats-row');
var options=form.querySelectorAll('.plan-option');
function choose(opt){
for(var i=0;i<options.length;i++)options[i].classList.remove('selected');
opt.classList.add('selected');
var input=opt.querySelector('input');if(input)input.checked=true;
if(opt.getAttribute('data-plan')==='enterprise')seatsRow.classList.add('show');else seatsRow.classList.remove('show');
}
for(var i=0;i<options.length;i++){
options[i].addEventListener('click',function(){choose(this);});
if(options[i].classList.contains('selected'))choose(options[i]);
}
function el(tag,cls,text){var e=document.createElement(tag);if(cls)e.className=cls;if(text!==undefined&&text!==null)e.textContent=String(text);return e;}
function row(label,value){var r=el('div','row');r.appendChild(el('span','label',label));r.appendChild(el('span','value',value));return r;}
function link(href,text,extra){var a=el('a','btn-secondary',text);a.href=href;if(extra)a.style.marginTop='8px';return a;}
function showResult(ok,msg,data,email){
var card=document.getElementById('form-card');
var box=el('div','result-card '+(ok?'success':'error'));
box.appendChild(el('div','icon',ok?'\u2713':'\u2717'));
box.appendChild(el('h2','',ok?'注册成功':'注册失败'));
box.appendChild(el('p','',msg));
if(ok&&data){
if(data.embed_code){box.appendChild(el('div','embed-code',data.embed_code));}
var d=el('div','result-details');
if(data.company_name)d.appendChild(row('公司名称',data.company_name));
if(data.plan)d.appendChild(row('套餐',data.plan));
if(data.seats)d.appendChild(row('席位',data.seats));
if(data.expire_at)d.appendChild(row('到期时间',data.expire_at));
box.appendChild(d);
if(data.initial_password){
var pw=el('div','password-box');
pw.appendChild(el('p','','\u26a0\ufe0f 您的登录密码（请保存，登录后可修改）：'));
pw.appendChild(el('div','password',data.initial_password));
pw.appendChild(el('p','','登录邮箱：'+email));
box.appendChild(pw);
}
}
box.appendChild(link('/addons/chathub/index/registerpage','继续注册'));
box.appendChild(link('/addons/chathub/index/landing','返回首页',true));
card.textContent='';
card.appendChild(box);
}
form.addEventListener('submit',function(e){
e.preventDefault();
var btn=document.getElementById('submit-btn');
btn.disabled=true;btn.textContent='开通中...';
var email=form.elements['email'].value.trim();
var body=new URLSearchParams(new FormData(form)).toString();
var xhr=new XMLHttpRequest();
xhr.open('POST',form.getAttribute('action'));
xhr.setRequestHeader('Content-Type','application/x-www-form-urlencoded; charset=UTF-8');
xhr.setRequestHeader('X-Requested-With','XMLHttpRequest');
xhr.onload=function(){
var r=null;try{r=JSON.parse(xhr.responseText);}catch(err){r=null;}
if(xhr.status>=200&&xhr.status<300&&r&&typeof r==='object'){showResult(r.code===1,r.msg||(r.code===1?'注册成功':'注册失败'),r,email);}
else{showResult(false,'网络错误：'+(xhr.statusText||xhr.status));}
};
xhr.onerror=function(){showResult(false,'网络错误：'+xhr.statusText);};
xhr.send(body);
});
})();"#;

struct PlanOption {
    plan: Plan,
    price: &'static str,
}

fn plan_options() -> [PlanOption; 3] {
    [
        PlanOption {
            plan: Plan::Basic,
            price: "¥50/月",
        },
        PlanOption {
            plan: Plan::Pro,
            price: "¥60/月",
        },
        PlanOption {
            plan: Plan::Enterprise,
            price: "¥70+/月",
        },
    ]
}

/// The sign-up form with `selected` preselected (marked `selected`; the script checks its
/// radio, so the served form, like the original's, has none checked). Every "ChatHub" of the original follows
/// `site_name` (title, logo, heading), as its string replacement did.
pub fn form_page(site_name: &str, selected: &Plan) -> Markup {
    let page: Markup = html! {
        (layout::member_page(html! { "注册 " (site_name) " - AI 智能客服" }, FORM_STYLE, html! {
            header class="top" {
                div class="bar" {
                    a href="/addons/chathub/index/landing" class="brand" { div class="mark" { "💬" } (site_name) }
                    nav class="menu" {
                        a href="/addons/chathub/index/landing" { "首页" }
                        " "
                        a href="/addons/chathub/index/registerpage" { "注册" }
                    }
                }
            }
            div class="container" {
                div class="card" id="form-card" {
                    h1 { "注册 " (site_name) " 账号" }
                    p class="subtitle" { "注册后即可选择套餐，开通 AI 智能客服" }
                    form id="chathub-register" method="POST" action="/addons/chathub/index/register" {
                        div class="form-group" {
                            label { "选择套餐 " span class="req" { "*" } }
                            div class="plan-selector" {
                                @for o in plan_options() {
                                    @let on = &o.plan == selected;
                                    label class={ "plan-option" @if on { " selected" } } data-plan=(o.plan.as_str()) {
                                        // Checked by the script from the `selected` class, as the
                                        // original's script did from `?plan=`.
                                        input type="radio" name="plan" value=(o.plan.as_str());
                                        div class="name" { (o.plan.display_name()) }
                                        div class="price" { (o.price) }
                                    }
                                }
                            }
                        }
                        div class={ "form-group seats-row" @if *selected == Plan::Enterprise { " show" } } id="seats-row" {
                            label { "额外席位（管理员之外） " span class="req" { "*" } }
                            input type="number" name="seats" id="seats-input" class="form-control" min="1" max="100" value="3" placeholder="每多一个席位 +¥10/月";
                        }
                        div class="form-group" {
                            label { "公司名称 " span class="req" { "*" } }
                            input type="text" name="company_name" class="form-control" required placeholder="请输入公司名称";
                        }
                        div class="form-group" {
                            label { "联系邮箱 " span class="req" { "*" } }
                            input type="email" name="email" class="form-control" required placeholder="将作为登录账号";
                        }
                        div class="form-group" {
                            label { "子域名 " span class="req" { "*" } }
                            input type="text" name="domain" class="form-control" required placeholder="例如 mycompany" pattern="[a-z0-9-]+" title="只能小写字母、数字、横线";
                        }
                        div class="form-group" {
                            label { "备注" }
                            textarea name="notes" class="form-control" rows="3" placeholder="选填，如特殊需求、接入网站URL等" {}
                        }
                        button type="submit" class="btn-primary" id="submit-btn" { "注册并开通" }
                        a href="/addons/chathub/index/landing" class="btn-secondary" { "返回首页" }
                    }
                }
            }
            script { (PreEscaped(FORM_SCRIPT)) }
        }))
    };
    page
}

const RESULT_STYLE: &str = r#"
*{box-sizing:border-box;margin:0;padding:0}
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,sans-serif;background:#0f172a;color:#fff;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:20px}
.card{background:#1e293b;border-radius:16px;padding:48px 40px;max-width:600px;width:100%;box-shadow:0 20px 60px rgba(0,0,0,.5)}
.icon{width:80px;height:80px;border-radius:50%;color:#fff;font-size:48px;display:flex;align-items:center;justify-content:center;margin:0 auto 24px}
.icon.ok{background:#10b981}.icon.fail{background:#ef4444}
h1{text-align:center;font-size:24px;margin-bottom:12px}
.msg{text-align:center;color:#94a3b8;font-size:16px;margin-bottom:32px;line-height:1.6}
.details{background:#0f172a;border-radius:12px;padding:24px;margin-bottom:24px}
.row{display:flex;justify-content:space-between;padding:8px 0;border-bottom:1px solid #1e293b}
.row:last-child{border:none}
.label{color:#94a3b8;font-size:14px}.value{color:#fff;font-weight:500}
.embed-title{color:#94a3b8;font-size:14px;margin-bottom:8px}
.embed{background:#0f172a;border:1px solid #334155;border-radius:8px;padding:16px;margin:16px 0;font-family:monospace;font-size:12px;color:#94a3b8;word-break:break-all;max-height:200px;overflow-y:auto}
.password-box{background:#6b2a12;border:1px solid #e8702a;border-radius:10px;padding:16px;margin:20px 0}
.password-box .hint{color:#fdd3a8;font-size:13px;margin-bottom:6px}
.password-box .password{font-family:monospace;font-size:20px;color:#fff;font-weight:700;letter-spacing:2px;text-align:center;padding:8px;background:#0f172a;border-radius:6px}
.password-box .login{color:#fcb57a;font-size:12px;margin-top:8px;text-align:center}
.btn{display:block;width:100%;padding:14px;border-radius:8px;font-size:16px;font-weight:600;text-align:center;text-decoration:none;margin-top:12px;color:#fff}
.btn-primary{background:#6366f1}.btn-primary:hover{background:#4f46e5}.btn-secondary{background:#334155}
"#;

/// What a successful sign-up shows.
pub struct ResultDetails<'a> {
    pub company_name: &'a str,
    pub plan: &'a Plan,
    pub price: i64,
    pub seats: i64,
    /// `Y-m-d`.
    pub expire_date: &'a str,
    pub embed_code: &'a str,
    pub initial_password: Option<&'a str>,
    /// Shown under the password: the login email (the original printed the company name
    /// there, COMPAT.md#register-result-email).
    pub login_email: &'a str,
}

/// The page a browser gets from `register`. The original printed its own title with a
/// literal "ChatHub" here (no `site_name` replacement), so do we.
pub fn result_page(success: bool, msg: &str, details: Option<&ResultDetails<'_>>) -> Markup {
    let page: Markup = html! {
        (layout::member_page(html! { "注册结果 - ChatHub" }, RESULT_STYLE, html! {
            div class="card" {
                div class={ "icon " @if success { "ok" } @else { "fail" } } { @if success { "✓" } @else { "✗" } }
                h1 { @if success { "注册成功" } @else { "注册失败" } }
                p class="msg" { (msg) }
                @if let Some(d) = details.filter(|_| success) {
                    div class="details" {
                        div class="row" { span class="label" { "公司名称" } span class="value" { (d.company_name) } }
                        div class="row" { span class="label" { "套餐" } span class="value" { (d.plan.display_name()) "（¥" (d.price) "/月）" } }
                        div class="row" { span class="label" { "席位" } span class="value" { (d.seats) } }
                        div class="row" { span class="label" { "到期时间" } span class="value" { (d.expire_date) } }
                    }
                    @if !d.embed_code.is_empty() {
                        p class="embed-title" { "嵌入代码（复制到您的网站）：" }
                        div class="embed" { (d.embed_code) }
                    }
                    @if let Some(pw) = d.initial_password.filter(|p| !p.is_empty()) {
                        div class="password-box" {
                            p class="hint" { "⚠️ 您的登录密码（请保存，登录后可修改）：" }
                            div class="password" { (pw) }
                            p class="login" { "登录邮箱：" (d.login_email) }
                        }
                    }
                }
                a href="/addons/chathub/index/login" class="btn btn-primary" { "立即登录" }
                a href="/addons/chathub/index/landing" class="btn btn-secondary" { "返回首页" }
            }
        }))
    };
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_preselects_the_plan_and_shows_seats_for_enterprise() {
        let basic = form_page("ChatHub", &Plan::Basic).into_string();
        assert!(basic.contains(r#"<label class="plan-option selected" data-plan="basic">"#));
        assert!(!basic.contains(r#"value="basic" checked"#));
        assert!(basic.contains(r#"class="form-group seats-row" id="seats-row""#));
        let ent = form_page("Acme客服", &Plan::Enterprise).into_string();
        assert!(ent.contains(r#"<label class="plan-option selected" data-plan="enterprise">"#));
        assert!(ent.contains(r#"class="form-group seats-row show""#));
        assert!(ent.contains("<title>注册 Acme客服 - AI 智能客服</title>"));
        assert!(!ent.contains("ChatHub"));
        assert!(!ent.contains("cdn."), "no external CDN");
    }

    #[test]
    fn site_name_is_escaped() {
        let p = form_page("<b>X</b>", &Plan::Basic).into_string();
        assert!(p.contains("&lt;b&gt;X&lt;/b&gt;"));
        assert!(!p.contains("<b>X</b>"));
    }

    #[test]
    fn result_page_escapes_values_and_labels_the_email() {
        let plan = Plan::Other("<i>gold</i>".into());
        let d = ResultDetails {
            company_name: "<img src=x onerror=alert(1)>",
            plan: &plan,
            price: 50,
            seats: 1,
            expire_date: "2026-12-25",
            embed_code: "<script>x</script>",
            initial_password: Some("0123456789"),
            login_email: "new@example.com",
        };
        let p = result_page(true, "注册成功！", Some(&d)).into_string();
        assert!(!p.contains("<img src=x"));
        assert!(!p.contains("<script>x"));
        assert!(!p.contains("<i>gold"));
        assert!(p.contains("登录邮箱：new@example.com"));
        let failed = result_page(
            false,
            "请填写必填字段（公司名称、邮箱、网站域名）",
            Some(&d),
        )
        .into_string();
        assert!(!failed.contains("公司名称</span>"));
    }
}
