//! The addon's admin pages: tenant list shell, add form, dashboard, operation log. Same
//! titles, texts, links and form fields as the original; our own styles, no CDN, and every
//! stored value escaped (the original printed log `status` raw and built list rows with
//! innerHTML).

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::domain::log::LogRow;
use crate::services::admin::LifecycleView;

const STYLE: &str = "body{background:#f0f2f5;font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,sans-serif;margin:0;padding:20px}\
.container{max-width:1200px;margin:0 auto}\
.card{background:#fff;border-radius:12px;box-shadow:0 2px 8px rgba(0,0,0,.06);margin-bottom:20px;overflow:hidden}\
.card-header{padding:16px 24px;border-bottom:1px solid #f0f0f0;display:flex;justify-content:space-between;align-items:center}\
.card-header h2{margin:0;font-size:18px;font-weight:600;color:#1a1a1a}.card-body{padding:24px}\
.btn{display:inline-flex;align-items:center;gap:6px;padding:8px 16px;border-radius:8px;font-size:14px;border:none;cursor:pointer;text-decoration:none}\
.btn-primary{background:#4f46e5;color:#fff}.btn-secondary{background:#fff;color:#374151;border:1px solid #d1d5db}\
.btn-danger{background:#ef4444;color:#fff}.btn-sm{padding:4px 10px;font-size:12px}\
.form-group{margin-bottom:16px}.form-group label{display:block;font-size:14px;font-weight:500;color:#374151;margin-bottom:6px}\
.form-control{width:100%;padding:8px 12px;border:1px solid #d1d5db;border-radius:6px;font-size:14px;box-sizing:border-box}\
.form-row{display:grid;grid-template-columns:1fr 1fr;gap:16px}\
table{width:100%;border-collapse:collapse}th,td{padding:12px 16px;text-align:left;border-bottom:1px solid #f0f0f0;font-size:14px}\
th{background:#fafafa;font-weight:600;color:#6b7280;font-size:12px}\
.badge{display:inline-block;padding:2px 8px;border-radius:4px;font-size:12px}\
.badge-success{background:#d1fae5;color:#065f46}.badge-warning{background:#fef3c7;color:#92400e}.badge-danger{background:#fee2e2;color:#991b1b}\
.actions{display:flex;gap:8px}.nav{display:flex;gap:8px;margin-bottom:20px}\
.nav a{padding:8px 16px;border-radius:8px;text-decoration:none;font-size:14px;color:#374151;background:#fff;border:1px solid #d1d5db}\
.nav a.active{background:#4f46e5;color:#fff;border-color:#4f46e5}\
.stats{display:grid;grid-template-columns:repeat(4,1fr);gap:16px;margin-bottom:24px}\
.stat-card{background:#fff;border-radius:12px;padding:20px;box-shadow:0 2px 8px rgba(0,0,0,.06)}\
.stat-card .number{font-size:32px;font-weight:700;color:#1a1a1a}.stat-card .label{font-size:14px;color:#6b7280;margin-top:4px}\
.empty{text-align:center;color:#9ca3af;padding:40px}";

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html {
            head {
                meta charset="utf-8";
                title { (title) }
                meta name="viewport" content="width=device-width, initial-scale=1";
                style { (PreEscaped(STYLE)) }
            }
            body { div class="container" { (body) } }
        }
    }
}

/// Links the original printed point into the admin entry (`/<entry>/addons/chathub/index/…`).
fn admin_link(entry: &str, action: &str) -> String {
    format!("/{entry}/addons/chathub/index/{action}")
}

/// The tenant list: a shell whose script loads the JSON from `api_base` (the path this page
/// was served under) and builds rows with DOM text nodes only.
/// The tenant list. `lifecycle`: the subscription lifecycle is on, so the list gets its filter
/// and badges; off, the page is the original's byte for byte.
pub fn index_page(entry: &str, api_base: &str, lifecycle: bool) -> Markup {
    let script = if lifecycle {
        lifecycle_script()
    } else {
        INDEX_SCRIPT.to_string()
    };
    let body = html! {
        div class="card" {
            div class="card-header" {
                h2 { "租户管理" }
                div {
                    @if lifecycle {
                        select id="lc-filter" class="btn btn-secondary" style="margin-right:8px" {
                            option value="" { "全部租户" }
                            @for (_, key, label) in LifecycleView::ALL {
                                option value=(key) { (label) }
                            }
                        }
                    }
                    a href=(admin_link(entry, "dashboard")) class="btn btn-secondary" { "控制面板" }
                }
            }
            div class="card-body" id="tenants" data-base=(api_base) {
                table {
                    thead { tr {
                        th { "租户" } th { "域名" } th { "邮箱" } th { "通道" }
                        th { "席位" } th { "状态" } th { "到期时间" } th { "操作" }
                    } }
                    tbody id="list" {}
                }
                div id="empty" class="empty" style="display:none" { p { "暂无租户" } }
                div id="pager" style="display:flex;justify-content:space-between;align-items:center;padding-top:16px;margin-top:16px" {
                    span id="page-info" {} div id="pagination" {}
                }
            }
        }
        script { (PreEscaped(script)) }
    };
    layout("租户列表", body)
}

/// [`INDEX_SCRIPT`] with the lifecycle's filter (sent as `{"lifecycle": ...}`) and its badge
/// after the status. Built from the original's script so that one stays as it was.
fn lifecycle_script() -> String {
    const EDITS: [(&str, &str); 3] = [
        (
            "'&filter=%7B%7D'",
            "'&filter='+encodeURIComponent(JSON.stringify(lcFilter()))",
        ),
        (
            "c6.appendChild(el('span','badge '+sc,t.status_text));",
            "c6.appendChild(el('span','badge '+sc,t.status_text));if(t.lifecycle_text){c6.appendChild(document.createTextNode(' '));c6.appendChild(el('span','badge badge-warning',t.lifecycle_text));}",
        ),
        (
            "load(1);})();",
            "function lcFilter(){var v=document.getElementById('lc-filter').value;return v?{lifecycle:v}:{};}\
document.getElementById('lc-filter').addEventListener('change',function(){load(1);});load(1);})();",
        ),
    ];
    EDITS
        .iter()
        .fold(INDEX_SCRIPT.to_string(), |s, (from, to)| {
            s.replacen(from, to, 1)
        })
}

/// Vanilla script for the list. Values from the server only ever reach the page through
/// `textContent`; ids are numbers from the JSON, sent back as form fields.
const INDEX_SCRIPT: &str = r#"(function(){
var root=document.getElementById('tenants');var base=root.getAttribute('data-base');
var list=document.getElementById('list'),empty=document.getElementById('empty'),table=root.querySelector('table'),
pager=document.getElementById('pager'),info=document.getElementById('page-info'),nav=document.getElementById('pagination');
var current=1,per=15;
function el(tag,cls,text){var e=document.createElement(tag);if(cls)e.className=cls;if(text!==undefined&&text!==null)e.textContent=String(text);return e;}
function post(action,data,done){var body=Object.keys(data).map(function(k){return encodeURIComponent(k)+'='+encodeURIComponent(data[k]);}).join('&');
var x=new XMLHttpRequest();x.open('POST',base+'/'+action);x.setRequestHeader('Content-Type','application/x-www-form-urlencoded');
x.setRequestHeader('X-Requested-With','XMLHttpRequest');x.onload=function(){var r={};try{r=JSON.parse(x.responseText);}catch(e){r={msg:'请求失败（HTTP '+x.status+'）'};}alert(r.msg);load(current);};
x.onerror=function(){alert('网络错误');};x.send(body);}
function button(label,cls,onclick){var b=el('button','btn btn-sm '+cls,label);b.type='button';b.addEventListener('click',onclick);return b;}
function row(t){var tr=document.createElement('tr');
var c1=el('td');c1.appendChild(el('strong',null,t.tenant_name));if(t.agent_name){c1.appendChild(document.createElement('br'));c1.appendChild(el('small',null,t.agent_name));}tr.appendChild(c1);
tr.appendChild(el('td',null,t.domain));tr.appendChild(el('td',null,t.email||'-'));
tr.appendChild(el('td',null,t.channel_type==='web_widget'?'网页组件':'API'));tr.appendChild(el('td',null,t.max_agents));
var sc='badge-'+(t.status==='active'?'success':t.status==='pending'?'warning':'danger');var c6=el('td');c6.appendChild(el('span','badge '+sc,t.status_text));tr.appendChild(c6);
tr.appendChild(el('td',null,t.expire_at||'未设置'));
var acts=el('div','actions');var id=Number(t.id);
if(t.status==='active'){acts.appendChild(button('暂停','btn-secondary',function(){if(confirm('暂停该租户？'))post('suspend',{ids:id});}));}
else if(t.status==='suspended'){acts.appendChild(button('恢复','btn-primary',function(){if(confirm('恢复该租户？'))post('activate',{ids:id});}));}
acts.appendChild(button('到期','btn-secondary',function(){var d=prompt('设置到期时间 (格式: 2026-12-31)');if(d)post('setExpire',{ids:id,expire_at:d});}));
acts.appendChild(button('删除','btn-danger',function(){if(confirm('确定删除？'))post('del',{ids:id});}));
var c8=el('td');c8.appendChild(acts);tr.appendChild(c8);return tr;}
function load(p){current=p||1;var x=new XMLHttpRequest();x.open('GET',base+'/index?page='+current+'&filter=%7B%7D');
x.setRequestHeader('X-Requested-With','XMLHttpRequest');x.onload=function(){var r;try{r=JSON.parse(x.responseText);}catch(e){return;}
while(list.firstChild)list.removeChild(list.firstChild);while(nav.firstChild)nav.removeChild(nav.firstChild);
if(r.rows&&r.rows.length>0){r.rows.forEach(function(t){list.appendChild(row(t));});empty.style.display='none';table.style.display='';pager.style.display='flex';
var pages=Math.max(1,Math.ceil(r.total/per));info.textContent=pages>1?('第 '+current+' / '+pages+' 页，共 '+r.total+' 条'):'';
if(current>1)nav.appendChild(button('上一页','btn-secondary',function(){load(current-1);}));
if(current<pages)nav.appendChild(button('下一页','btn-secondary',function(){load(current+1);}));}
else{empty.style.display='';table.style.display='none';pager.style.display='none';}};x.send();}
load(1);})();"#;

/// The 保存 button's icon where the original put a FontAwesome one from a CDN: our own
/// drawing, inline, in the text colour.
const SAVE_ICON: &str = r#"<svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true" fill="currentColor"><path d="M1 1h9.5L13 3.5V13H1zM3 2.5v3h6v-3zM4 8v3.5h6V8z"/></svg>"#;

/// The add form, fields as the original's.
pub fn add_page(entry: &str) -> Markup {
    let body = html! {
        div class="nav" { a href=(admin_link(entry, "index")) { "← 返回列表" } }
        div class="card" {
            div class="card-header" { h2 { "添加租户" } }
            div class="card-body" {
                form method="post" {
                    div class="form-row" {
                        div class="form-group" { label { "租户名称 *" } input name="row[tenant_name]" class="form-control" required; }
                        div class="form-group" { label { "域名 *" } input name="row[domain]" class="form-control" required; }
                    }
                    div class="form-group" { label { "管理员邮箱 *" } input name="row[email]" type="email" class="form-control" required; }
                    div class="form-row" {
                        div class="form-group" {
                            label { "通道类型" }
                            select name="row[channel_type]" class="form-control" {
                                option value="web_widget" { "网页组件" }
                                option value="api" { "API" }
                            }
                        }
                        div class="form-group" { label { "客服席位" } input name="row[max_agents]" type="number" class="form-control" value="3"; }
                    }
                    div class="form-group" { label { "Agent 名称" } input name="row[agent_name]" class="form-control" placeholder="留空自动生成"; }
                    div class="form-group" {
                        label { "状态" }
                        select name="row[status]" class="form-control" {
                            option value="pending" { "待开通" }
                            option value="active" { "正常" }
                        }
                    }
                    button type="submit" class="btn btn-primary" { (PreEscaped(SAVE_ICON)) "保存" }
                }
            }
        }
    };
    layout("添加租户", body)
}

fn badge(status: &str) -> &'static str {
    if status == "success" {
        "badge badge-success"
    } else {
        "badge badge-danger"
    }
}

/// Counts and the ten newest log rows (time as `Y-m-d H:i`).
pub fn dashboard_page(
    entry: &str,
    counts: (u64, u64, u64),
    recent: &[LogRow],
    format_time: impl Fn(i64) -> String,
) -> Markup {
    let (total, active, pending) = counts;
    let body = html! {
        div class="nav" {
            a href=(admin_link(entry, "index")) class="active" { "租户列表" }
            a href=(admin_link(entry, "add")) { "添加租户" }
        }
        div class="stats" {
            div class="stat-card" { div class="number" { (total) } div class="label" { "总租户" } }
            div class="stat-card" { div class="number" { (active) } div class="label" { "已开通" } }
            div class="stat-card" { div class="number" { (pending) } div class="label" { "待开通" } }
            div class="stat-card" { div class="number" { "24/7" } div class="label" { "AI 在线" } }
        }
        div class="card" {
            div class="card-header" { h2 { "最近操作" } }
            div class="card-body" {
                @if recent.is_empty() {
                    p class="empty" { "暂无操作记录" }
                } @else {
                    table {
                        thead { tr { th { "操作" } th { "状态" } th { "时间" } } }
                        tbody {
                            @for log in recent {
                                tr {
                                    td { (log.action) }
                                    td { span class=(badge(&log.status)) { (log.status) } }
                                    td { (format_time(log.createtime)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout("控制面板", body)
}

/// One page of the operation log (time as `Y-m-d H:i:s`).
pub fn logs_page(entry: &str, rows: &[LogRow], format_time: impl Fn(i64) -> String) -> Markup {
    let body = html! {
        div class="nav" { a href=(admin_link(entry, "dashboard")) { "← 控制面板" } }
        div class="card" {
            div class="card-header" { h2 { "操作日志" } }
            div class="card-body" {
                @if rows.is_empty() {
                    p class="empty" { "暂无记录" }
                } @else {
                    table {
                        thead { tr { th { "租户ID" } th { "操作" } th { "状态" } th { "操作人" } th { "时间" } } }
                        tbody {
                            @for log in rows {
                                tr {
                                    td { (log.tenant_id) }
                                    td { (log.action) }
                                    td { span class=(badge(&log.status)) { (log.status) } }
                                    td { (log.operator) }
                                    td { (format_time(log.createtime)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout("操作日志", body)
}

/// 查询支付状态 (chathub's own, COMPAT.md#payment-query-and-expiry): one order number, posted
/// back to `queryPay`. Its own page, so the original's pages stay as they were.
pub fn query_pay_page(entry: &str) -> Markup {
    let body = html! {
        div class="nav" {
            a href=(admin_link(entry, "logs")) { "← 操作日志" }
            a href=(admin_link(entry, "orders")) { "订单" }
        }
        div class="card" {
            div class="card-header" { h2 { "查询支付状态" } }
            div class="card-body" {
                p { "向支付宝 / 微信支付查询订单；已支付的订单立即入账（只入账一次），结果记入操作日志。" }
                form method="post" action=(admin_link(entry, "queryPay")) {
                    input type="text" name="order" placeholder="订单号" required maxlength="50";
                    " "
                    button type="submit" class="btn" { "查询支付状态" }
                }
            }
        }
    };
    layout("查询支付状态", body)
}

fn order_state(status: crate::domain::ids::OrderStatus) -> (&'static str, &'static str) {
    use crate::domain::ids::OrderStatus;
    match status {
        OrderStatus::Pending => ("待支付", "badge badge-warning"),
        OrderStatus::Paid => ("已支付", "badge badge-success"),
        OrderStatus::Failed => ("已关闭", "badge badge-danger"),
        OrderStatus::Refunded => ("已退款", "badge badge-danger"),
    }
}

fn refund_state(status: crate::services::refund::RefundStatus) -> &'static str {
    use crate::services::refund::RefundStatus;
    match status {
        RefundStatus::Pending => "结果未确定（自动重试）",
        RefundStatus::Processing => "处理中",
        RefundStatus::Success => "已退款",
        RefundStatus::Failed => "失败",
    }
}

/// The orders list (chathub's own, COMPAT.md#refunds): every order with its state and
/// refunds; 查询支付状态 on pending and paid ones, 退款 (amount, reason, days for a partial
/// refund) on paid ones. Each refund form carries its own request number, so a double click
/// or a resubmission names the same refund.
pub fn orders_page(
    entry: &str,
    page: u64,
    total: u64,
    lines: &[crate::services::admin::OrderLine],
) -> Markup {
    use crate::domain::ids::OrderStatus;
    let pages = total
        .div_ceil(crate::services::admin::ORDERS_PER_PAGE)
        .max(1);
    let body = html! {
        div class="nav" {
            a href=(admin_link(entry, "dashboard")) { "← 控制面板" }
            a href=(admin_link(entry, "reconcile")) { "对账" }
            a href=(admin_link(entry, "queryPay")) { "查询支付状态" }
        }
        div class="card" {
            div class="card-header" { h2 { "订单" } span { "共 " (total) " 条" } }
            div class="card-body" {
                @if lines.is_empty() {
                    p class="empty" { "暂无订单" }
                } @else {
                    table {
                        thead { tr {
                            th { "订单号" } th { "租户" } th { "金额" } th { "支付方式" } th { "状态" }
                            th { "支付时间" } th { "已退款" } th { "操作" }
                        } }
                        tbody {
                            @for l in lines {
                                @let o = &l.listed.order;
                                @let (label, class) = order_state(o.status);
                                tr {
                                    td { (o.order_no.as_str()) }
                                    td { (l.listed.tenant_name.as_deref().unwrap_or("-")) " (" (o.tenant_id.0) ")" }
                                    td { "¥" (o.amount.decimal()) }
                                    td { (o.pay_method.as_deref().unwrap_or("-")) }
                                    td { span class=(class) { (label) } }
                                    td { (l.listed.paid_at.as_deref().unwrap_or("-")) }
                                    td {
                                        "¥" (l.refunded.decimal())
                                        @for r in &l.refunds {
                                            br;
                                            small class="refund" data-request-no=(r.request_no) {
                                                (r.request_no) " ¥" (r.amount.decimal()) " " (refund_state(r.status))
                                                @if r.take_days > 0 { " 收回 " (r.take_days) " 天" }
                                                @if !r.note.is_empty() && r.status != crate::services::refund::RefundStatus::Success { "：" (r.note) }
                                            }
                                        }
                                    }
                                    td {
                                        @if matches!(o.status, OrderStatus::Pending | OrderStatus::Paid) {
                                            form method="post" action=(admin_link(entry, "queryPay")) style="display:inline" {
                                                input type="hidden" name="order" value=(o.order_no.as_str());
                                                button type="submit" class="btn btn-sm btn-secondary" { "查询支付状态" }
                                            }
                                        }
                                        @if o.status == OrderStatus::Paid && l.left.cents() > 0 {
                                            form method="post" action=(admin_link(entry, "refund")) class="refund-form" style="margin-top:6px" {
                                                input type="hidden" name="order" value=(o.order_no.as_str());
                                                input type="hidden" name="request_no" value=(l.request_no);
                                                input type="text" name="amount" value=(l.left.decimal()) size="7" title="退款金额（元），不超过可退金额";
                                                " "
                                                input type="text" name="reason" placeholder="退款原因" maxlength="80" size="10";
                                                " "
                                                input type="text" name="days" placeholder="部分退款收回天数" size="6" title="全额退款自动收回 30 天；部分退款默认不改日期";
                                                " "
                                                button type="submit" class="btn btn-sm btn-danger" { "退款" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    @if pages > 1 {
                        div style="padding-top:16px" {
                            "第 " (page) " / " (pages) " 页 "
                            @if page > 1 { a class="btn btn-sm btn-secondary" href={ (admin_link(entry, "orders")) "?page=" (page - 1) } { "上一页" } }
                            " "
                            @if page < pages { a class="btn btn-sm btn-secondary" href={ (admin_link(entry, "orders")) "?page=" (page + 1) } { "下一页" } }
                        }
                    }
                }
            }
        }
    };
    layout("订单", body)
}

/// The reconciliation reports (chathub's own, COMPAT.md#reconciliation), newest bill first,
/// each difference on its own row.
pub fn reconcile_page(
    entry: &str,
    reports: &[crate::services::reconcile::Shown],
    format_time: impl Fn(i64) -> String,
) -> Markup {
    let body = html! {
        div class="nav" { a href=(admin_link(entry, "orders")) { "← 订单" } }
        div class="card" {
            div class="card-header" { h2 { "对账" } }
            div class="card-body" {
                p { "每日账单与订单的核对结果。手动运行：chathub reconcile --date YYYY-MM-DD；每日自动运行：pay_reconcile_daily = 1。" }
                @if reports.is_empty() {
                    p class="empty" { "暂无对账记录" }
                } @else {
                    table {
                        thead { tr { th { "账单日期" } th { "支付方式" } th { "结果" } th { "一致" } th { "差异" } th { "时间" } } }
                        tbody {
                            @for r in reports {
                                tr class="reconcile" {
                                    td { (r.bill_date) }
                                    td { (r.method) }
                                    td {
                                        span class=(if r.status == "done" && r.findings.is_empty() { "badge badge-success" } else { "badge badge-danger" }) {
                                            (match r.status.as_str() { "done" => "完成", "running" => "进行中", _ => "失败" })
                                        }
                                    }
                                    td { (r.matched) }
                                    td {
                                        @for f in &r.findings {
                                            div class="finding" data-kind=(f.kind) {
                                                (f.label()) "：" (f.order_no)
                                                @if !f.ours.is_empty() { " 本站 " (f.ours) }
                                                @if !f.theirs.is_empty() { " 账单 " (f.theirs) }
                                            }
                                        }
                                    }
                                    td { (format_time(r.updatetime)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout("对账", body)
}

#[cfg(test)]
mod lifecycle_tests {
    use super::*;

    #[test]
    fn the_lifecycle_script_changes_the_request_the_badge_and_the_start() {
        let s = lifecycle_script();
        assert!(!s.contains("%7B%7D"));
        assert_eq!(s.matches("lifecycle_text").count(), 2);
        assert!(s.contains("addEventListener('change'"));
        assert!(s.ends_with("load(1);})();"));
    }
}
