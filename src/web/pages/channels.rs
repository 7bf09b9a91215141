//! Member pages for channel credentials (original `channelList`, `channelAuth`) and the
//! reprovision confirmation. Texts, fields and links are the original's; markup is ours.

use maud::{Markup, html};

use crate::domain::channel::{AccountChannel, MARKETPLACES};
use crate::services::channels::{Binding, ChannelState};

const STYLE: &str = r#"
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",sans-serif;background:#f8fafc;margin:0;padding:24px;color:#1e293b}
.wrap{max-width:960px;margin:0 auto;background:#fff;border-radius:12px;padding:32px;box-shadow:0 2px 8px rgba(0,0,0,.05)}
h1{margin:0 0 16px;font-size:24px}
table{width:100%;border-collapse:collapse;margin-top:16px}
th,td{padding:12px;text-align:left;border-bottom:1px solid #e2e8f0}
th{background:#f1f5f9;font-weight:600;font-size:13px;color:#475569}
.badge{display:inline-block;padding:3px 10px;border-radius:12px;font-size:12px}
.badge-green{background:#d1fae5;color:#065f46}
.badge-gray{background:#e2e8f0;color:#475569}
.btn-sm{display:inline-block;padding:6px 14px;border-radius:6px;background:#e2e8f0;color:#1e293b;text-decoration:none;font-size:13px}
.btn-sm:hover{background:#cbd5e1}
.btn-primary{background:#3b82f6;color:#fff}
.btn-primary:hover{background:#2563eb}
button.btn-primary{border:0;border-radius:6px;padding:8px 18px;cursor:pointer}
.notice{background:#fef2f2;color:#991b1b;border:1px solid #fecaca;border-radius:8px;padding:10px 14px;margin:0 0 16px}
label input,label select{box-sizing:border-box;width:100%;padding:8px}
.hint{margin-top:24px;color:#64748b;font-size:13px}
"#;

fn layout(title: &str, body: Markup) -> Markup {
    super::layout::member_page(
        html! { (title) },
        STYLE,
        html! { div class="wrap" { (body) } },
    )
}

fn notice_box(notice: Option<&str>) -> Markup {
    html! {
        @if let Some(n) = notice { p class="notice" role="alert" { (n) } }
    }
}

/// `channelAuth?channel=<ch>`. The channel values are allow-listed; maud escapes them anyway.
fn auth_url(channel: &str) -> String {
    format!(
        "/addons/chathub/index/channelAuth?channel={}",
        crate::domain::php::php_urlencode(channel)
    )
}

pub fn channel_list_page(site_name: &str, states: &[ChannelState], notice: Option<&str>) -> Markup {
    layout(
        &format!("渠道管理 - {site_name}"),
        html! {
            h1 { "渠道管理" }
            (notice_box(notice))
            p { "管理您已开通的客服渠道凭证。Amazon / JD / Taobao / PDD 凭证在服务端加密存储，不在浏览器暴露。" }
            table {
                thead { tr { th { "渠道" } th { "状态" } th { "授权时间" } th { "操作" } } }
                tbody {
                    @for s in states {
                        @let name = s.channel.as_str();
                        tr {
                            td { (name) }
                            @match &s.binding {
                                Binding::Unconfigured => {
                                    td { span class="badge badge-gray" { "未配置" } }
                                    td { "-" }
                                    td { a class="btn-sm btn-primary" href=(auth_url(name)) { "去绑定" } }
                                }
                                Binding::Bound { active, refreshed } => {
                                    td {
                                        @if *active { span class="badge badge-green" { "已绑定" } }
                                        @else { span class="badge badge-gray" { "已停用" } }
                                    }
                                    td { (refreshed) }
                                    td { a class="btn-sm" href=(auth_url(name)) { "管理" } }
                                }
                            }
                        }
                    }
                }
            }
            p style="margin-top:24px" { a href="/addons/chathub/index/my" { "← 返回会员中心" } }
        },
    )
}

/// The credentials form. `csrf` goes into a hidden field; saved secrets are never echoed.
pub fn channel_auth_page(
    site_name: &str,
    channel: AccountChannel,
    csrf: &str,
    notice: Option<&str>,
) -> Markup {
    let name = channel.as_str();
    layout(
        &format!("绑定渠道 - {site_name}"),
        html! {
            h1 { "绑定 " (name) }
            (notice_box(notice))
            form method="post" action=(auth_url(name)) {
                input type="hidden" name="__token__" value=(csrf);
                @if channel == AccountChannel::Amazon {
                    p { label { "Access Token (LWA 登录后获取)" br; input name="access_token" required; } }
                    p { label { "Partner Tag (Associates 标签, 形如 mytag-20)" br; input name="partner_tag" required; } }
                    p { label { "Marketplace" br;
                        select name="marketplace" {
                            @for (code, label) in MARKETPLACES { option value=(code) { (label) } }
                        }
                    } }
                } @else {
                    p { label { "App ID" br; input name="app_id" required; } }
                    p { label { "App Secret" br; input name="app_secret" type="password" required autocomplete="new-password"; } }
                    p { label { "Refresh Token (可选)" br; input name="refresh_token"; } }
                }
                p { button type="submit" class="btn-primary" { "保存" } " " a href="/addons/chathub/index/channelList" { "取消" } }
            }
            p class="hint" {
                @if channel == AccountChannel::Amazon {
                    "Amazon PA-API 5 凭证：Access Token 是 LWA (Login with Amazon) 流程获得的 Bearer Token，Partner Tag 在 Amazon Associates 后台获取。Marketplace 决定商品数据所在站点。"
                } @else {
                    "凭证会加密保存在服务端数据库（chathub 表 fa_chathub_channel_account）。Worker 通过 GATEWAY_AES_KEY 解密后调用对应平台 API。"
                }
            }
        },
    )
}

/// `channelAuth?channel=web_widget`: the widget needs no credentials (COMPAT.md#web-widget-channel).
pub fn web_widget_page(site_name: &str) -> Markup {
    layout(
        &format!("绑定渠道 - {site_name}"),
        html! {
            h1 { "绑定 web_widget" }
            p { "网页插件（web_widget）无需绑定凭证：开通租户时已自动创建，嵌入代码请在会员中心点击「嵌入代码」查看并复制到您的网站。" }
            p style="margin-top:24px" {
                a class="btn-sm btn-primary" href="/addons/chathub/index/my" { "← 返回会员中心" }
                " "
                a href="/addons/chathub/index/channelList" { "返回渠道管理" }
            }
        },
    )
}

/// Answer to a reprovision request that is not a POST with this session's token (an old
/// link, another site's form): nothing happened; one click submits the member center's form
/// (COMPAT.md#reprovision-link-token).
pub fn reprovision_confirm_page(
    site_name: &str,
    tenant_name: &str,
    tenant_id: u32,
    csrf: &str,
) -> Markup {
    layout(
        &format!("重新开通 - {site_name}"),
        html! {
            h1 { "确认重新开通资源" }
            p class="notice" role="alert" { "该链接未通过安全校验，尚未执行任何操作。" }
            p { "租户：" strong { (tenant_name) } }
            form method="post" action="/addons/chathub/index/reprovision" {
                input type="hidden" name="ids" value=(tenant_id);
                input type="hidden" name="__token__" value=(csrf);
                p { button type="submit" class="btn-primary" { "确认重新开通" } " " a href="/addons/chathub/index/my" { "取消" } }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::channel::Channel;

    #[test]
    fn pages_escape_what_they_show() {
        let states = vec![ChannelState {
            channel: Channel::WebWidget,
            binding: Binding::Bound {
                active: false,
                refreshed: "<b>x</b>".into(),
            },
        }];
        let list = channel_list_page("<i>S</i>", &states, Some("不支持的渠道")).into_string();
        assert!(list.contains("<title>渠道管理 - &lt;i&gt;S&lt;/i&gt;</title>"));
        assert!(list.contains("&lt;b&gt;x&lt;/b&gt;"));
        assert!(list.contains("font-family:-apple-system,BlinkMacSystemFont,\"Segoe UI\""));
        let auth = channel_auth_page("S", AccountChannel::Jd, "tok\"en", None).into_string();
        assert!(auth.contains(r#"value="tok&quot;en""#));
        assert!(auth.contains(r#"action="/addons/chathub/index/channelAuth?channel=jd""#));
    }
}
