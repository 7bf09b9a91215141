//! Channel credentials (the original's `channelList` / `channelAuth`): which channels exist,
//! what each form asks for, and how the credentials are stored for the gateway.

use crate::clients::crypto::{GatewayKey, OVERHEAD};
use crate::db::{channel_account, tenant};
use crate::domain::channel::{AccountChannel, AccountSummary, Channel, Marketplace};
use crate::domain::ids::UserId;
use crate::domain::php::Params;
use crate::domain::tenant::TenantId;
use crate::error::AppError;
use crate::services::app::App;

/// What the member submitted for one channel. Never printed: `Debug` is redacted.
#[derive(Clone, PartialEq)]
pub enum Credentials {
    Amazon {
        access_token: String,
        partner_tag: String,
        marketplace: Marketplace,
    },
    AppKeys {
        app_id: String,
        app_secret: String,
        refresh_token: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Amazon { .. } => f.write_str("Credentials::Amazon([REDACTED])"),
            Credentials::AppKeys { .. } => f.write_str("Credentials::AppKeys([REDACTED])"),
        }
    }
}

/// Why a submitted form was not saved; the text is what the member is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialsError {
    AmazonFieldsRequired,
    AppFieldsRequired,
    /// The stored form would not fit `credentials_encrypted varbinary(2048)`.
    TooLong,
}

impl CredentialsError {
    pub fn message(self) -> &'static str {
        match self {
            CredentialsError::AmazonFieldsRequired => "Access Token 和 Partner Tag 必填",
            CredentialsError::AppFieldsRequired => "App ID 和 App Secret 必填",
            CredentialsError::TooLong => "凭证内容过长，请检查后重新填写",
        }
    }
}

/// Shown when a credentials form arrives without this session's token (forged, or the
/// page outlived the session).
pub const FORM_EXPIRED: &str = "页面已过期，请重新提交";

/// Messages `channelAuth?error=` may display. Only these: the query string is not ours, so
/// any other text is ignored rather than shown (no content injection).
pub const AUTH_NOTICES: [&str; 4] = [
    "Access Token 和 Partner Tag 必填",
    "App ID 和 App Secret 必填",
    "凭证内容过长，请检查后重新填写",
    FORM_EXPIRED,
];

/// Messages `channelList?error=` may display.
pub const LIST_NOTICES: [&str; 1] = [UNSUPPORTED_CHANNEL];

pub const UNSUPPORTED_CHANNEL: &str = "不支持的渠道";

/// The known notice equal to `error`, if any.
pub fn notice<'a>(known: &[&'a str], error: Option<&str>) -> Option<&'a str> {
    let error = error?;
    known.iter().copied().find(|m| *m == error)
}

/// PHP's `trim()`: only ASCII whitespace and NUL, unlike `str::trim`.
fn php_trim(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\n', '\r', '\0', '\x0B'])
}

/// Logged at start-up when no `gateway_aes_key` is configured.
pub const PLAINTEXT_WARNING: &str = "gateway_aes_key is not set: channel credentials are stored as plain JSON \
(set CHATHUB_GATEWAY_AES_KEY to the gateway's GATEWAY_AES_KEY to encrypt them)";

/// Size of `credentials_encrypted` (varbinary(2048)).
pub const STORED_MAX: usize = 2048;

impl Credentials {
    /// Read the channel's form (`input('post.…')` with the original's defaults and trimming).
    pub fn from_form(
        channel: AccountChannel,
        form: &Params,
    ) -> Result<Credentials, CredentialsError> {
        let field = |k: &str| php_trim(form.get(k).unwrap_or("")).to_string();
        match channel {
            AccountChannel::Amazon => {
                let access_token = field("access_token");
                let partner_tag = field("partner_tag");
                if access_token.is_empty() || partner_tag.is_empty() {
                    return Err(CredentialsError::AmazonFieldsRequired);
                }
                let marketplace =
                    Marketplace::parse_or_us(php_trim(form.get("marketplace").unwrap_or("us")));
                Ok(Credentials::Amazon {
                    access_token,
                    partner_tag,
                    marketplace,
                })
            }
            _ => {
                let app_id = field("app_id");
                let app_secret = field("app_secret");
                if app_id.is_empty() || app_secret.is_empty() {
                    return Err(CredentialsError::AppFieldsRequired);
                }
                Ok(Credentials::AppKeys {
                    app_id,
                    app_secret,
                    refresh_token: field("refresh_token"),
                })
            }
        }
    }

    /// The JSON the original stored: `json_encode($credArr, JSON_UNESCAPED_UNICODE)`, keys in
    /// its order, slashes escaped, non-ASCII kept.
    pub fn to_json(&self) -> String {
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: &str| {
            m.insert(k.to_string(), serde_json::Value::String(v.to_string()));
        };
        match self {
            Credentials::Amazon {
                access_token,
                partner_tag,
                marketplace,
            } => {
                put("access_token", access_token);
                put("partner_tag", partner_tag);
                put("marketplace", marketplace.as_str());
            }
            Credentials::AppKeys {
                app_id,
                app_secret,
                refresh_token,
            } => {
                put("app_id", app_id);
                put("app_secret", app_secret);
                put("refresh_token", refresh_token);
            }
        }
        // PHP escapes U+2028/U+2029 even with JSON_UNESCAPED_UNICODE.
        crate::domain::php::php_json_unescaped_unicode(&serde_json::Value::Object(m))
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029")
    }

    /// The bytes for `credentials_encrypted`: sealed for the gateway when a key is
    /// configured, else the original's plain JSON. Refused when they would not fit.
    pub fn to_stored(&self, key: Option<&GatewayKey>) -> Result<Vec<u8>, CredentialsError> {
        let json = self.to_json();
        let size = json.len() + if key.is_some() { OVERHEAD } else { 0 };
        if size > STORED_MAX {
            return Err(CredentialsError::TooLong);
        }
        Ok(match key {
            Some(k) => k.seal(json.as_bytes()),
            None => json.into_bytes(),
        })
    }
}

/// One row of the channel list as the member sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelState {
    pub channel: Channel,
    pub binding: Binding,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Binding {
    /// No account row: 未配置.
    Unconfigured,
    /// An account row; `active` is 已绑定, any other status 已停用.
    Bound {
        active: bool,
        /// `last_refresh_at`, or `-` when empty.
        refreshed: String,
    },
}

/// The six channels with their state. With several rows for one channel (the table has no
/// unique key), the oldest wins, as the original's loop over rows in `id DESC` order did.
pub fn overview(accounts: &[AccountSummary]) -> Vec<ChannelState> {
    Channel::ALL
        .into_iter()
        .map(|channel| {
            let row = accounts
                .iter()
                .filter(|a| a.channel == channel.as_str())
                .min_by_key(|a| a.id);
            let binding = match row {
                None => Binding::Unconfigured,
                Some(a) => Binding::Bound {
                    active: a.status.as_deref() == Some("active"),
                    refreshed: a
                        .last_refresh_at
                        .clone()
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "-".into()),
                },
            };
            ChannelState { channel, binding }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The member's channel pages

/// The member's newest tenant, the one the channel pages are about (the original's choice).
pub async fn member_tenant(app: &App, user_id: UserId) -> Result<Option<TenantId>, AppError> {
    let mut conn = app.db.conn().await?;
    Ok(tenant::newest_for_user(&mut conn, &app.db.t, user_id)
        .await?
        .map(|t| t.id))
}

/// The six channels of the member's newest tenant; `None` without a tenant.
pub async fn member_overview(
    app: &App,
    user_id: UserId,
) -> Result<Option<Vec<ChannelState>>, AppError> {
    let mut conn = app.db.conn().await?;
    let Some(tenant) = tenant::newest_for_user(&mut conn, &app.db.t, user_id).await? else {
        return Ok(None);
    };
    let accounts = channel_account::list_for_tenant(&mut conn, &app.db.t, tenant.id).await?;
    Ok(Some(overview(&accounts)))
}

/// What saving a submitted credentials form came to.
pub enum Saved {
    Saved,
    /// The form is incomplete or too long; the text is shown to the member.
    Refused(&'static str),
    /// The tenant was deleted meanwhile.
    TenantGone,
}

/// Seal the submitted credentials for the gateway and store them on the tenant.
pub async fn save_credentials(
    app: &App,
    tenant_id: TenantId,
    channel: AccountChannel,
    form: &Params,
) -> Result<Saved, AppError> {
    let key = app
        .config
        .gateway_aes_key
        .as_ref()
        .map(|k| GatewayKey::from_bytes(k.expose()).map_err(AppError::internal))
        .transpose()?;
    let stored = match Credentials::from_form(channel, form).and_then(|c| c.to_stored(key.as_ref()))
    {
        Ok(s) => s,
        Err(e) => return Ok(Saved::Refused(e.message())),
    };
    let mut conn = app.db.conn().await?;
    let saved = channel_account::save(
        &mut conn,
        &app.db.t,
        tenant_id,
        channel,
        &stored,
        app.clock.epoch(),
    )
    .await?;
    Ok(if saved.is_some() {
        Saved::Saved
    } else {
        Saved::TenantGone
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs)
    }

    #[test]
    fn channels_parse_strictly() {
        assert_eq!(
            Channel::parse("jd"),
            Some(Channel::Account(AccountChannel::Jd))
        );
        assert_eq!(Channel::parse("web_widget"), Some(Channel::WebWidget));
        assert_eq!(Channel::parse("JD"), None);
        assert_eq!(Channel::parse("bogus"), None);
    }

    #[test]
    fn amazon_form_trims_and_defaults_the_marketplace() {
        let c = Credentials::from_form(
            AccountChannel::Amazon,
            &form(&[
                ("access_token", " Atza|tok-abc "),
                ("partner_tag", "mytag-20"),
                ("marketplace", "jp"),
            ]),
        )
        .unwrap();
        assert_eq!(
            c.to_json(),
            r#"{"access_token":"Atza|tok-abc","partner_tag":"mytag-20","marketplace":"jp"}"#
        );
        let c = Credentials::from_form(
            AccountChannel::Amazon,
            &form(&[
                ("access_token", "t"),
                ("partner_tag", "p"),
                ("marketplace", "zz"),
            ]),
        )
        .unwrap();
        assert!(c.to_json().ends_with(r#""marketplace":"us"}"#));
        assert_eq!(
            Credentials::from_form(AccountChannel::Amazon, &form(&[("access_token", "t")])),
            Err(CredentialsError::AmazonFieldsRequired)
        );
    }

    #[test]
    fn app_form_requires_id_and_secret_and_keeps_unicode() {
        let c = Credentials::from_form(
            AccountChannel::Taobao,
            &form(&[("app_id", "淘宝应用"), ("app_secret", "s/e\"c<&>")]),
        )
        .unwrap();
        assert_eq!(
            c.to_json(),
            r#"{"app_id":"淘宝应用","app_secret":"s\/e\"c<&>","refresh_token":""}"#
        );
        assert_eq!(
            Credentials::from_form(
                AccountChannel::Jd,
                &form(&[("app_id", "x"), ("app_secret", " \t")])
            ),
            Err(CredentialsError::AppFieldsRequired)
        );
        // PHP's trim leaves non-ASCII spaces alone.
        assert!(
            Credentials::from_form(
                AccountChannel::Jd,
                &form(&[("app_id", "x"), ("app_secret", "\u{3000}")])
            )
            .is_ok()
        );
    }

    #[test]
    fn secrets_are_not_printed() {
        let c = Credentials::AppKeys {
            app_id: "id".into(),
            app_secret: "hunter2".into(),
            refresh_token: String::new(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn stored_form_respects_the_column_size() {
        let key = GatewayKey::from_bytes(&[3u8; 32]).unwrap();
        let make = |n: usize| Credentials::AppKeys {
            app_id: "a".into(),
            app_secret: "s".repeat(n),
            refresh_token: String::new(),
        };
        let fixed = make(0).to_json().len();
        let fits_sealed = make(STORED_MAX - OVERHEAD - fixed);
        assert_eq!(fits_sealed.to_stored(Some(&key)).unwrap().len(), STORED_MAX);
        assert_eq!(
            make(STORED_MAX - OVERHEAD - fixed + 1).to_stored(Some(&key)),
            Err(CredentialsError::TooLong)
        );
        assert_eq!(
            make(STORED_MAX - fixed).to_stored(None).unwrap().len(),
            STORED_MAX
        );
        assert_eq!(
            make(STORED_MAX - fixed + 1).to_stored(None),
            Err(CredentialsError::TooLong)
        );
    }

    #[test]
    fn overview_lists_six_channels_with_the_oldest_row_winning() {
        let rows = vec![
            AccountSummary {
                id: 5,
                channel: "jd".into(),
                status: Some("paused".into()),
                last_refresh_at: None,
            },
            AccountSummary {
                id: 2,
                channel: "jd".into(),
                status: Some("active".into()),
                last_refresh_at: Some(String::new()),
            },
            AccountSummary {
                id: 3,
                channel: "amazon".into(),
                status: None,
                last_refresh_at: Some("2026-06-01 08:00:00".into()),
            },
        ];
        let o = overview(&rows);
        assert_eq!(o.len(), 6);
        assert_eq!(o[0].binding, Binding::Unconfigured);
        assert_eq!(
            o[1].binding,
            Binding::Bound {
                active: false,
                refreshed: "2026-06-01 08:00:00".into()
            }
        );
        assert_eq!(
            o[2].binding,
            Binding::Bound {
                active: true,
                refreshed: "-".into()
            }
        );
    }

    #[test]
    fn only_known_notices_are_shown() {
        assert_eq!(
            notice(&AUTH_NOTICES, Some(FORM_EXPIRED)),
            Some(FORM_EXPIRED)
        );
        assert_eq!(
            notice(&AUTH_NOTICES, Some("请联系 evil.example 获取帮助")),
            None
        );
        assert_eq!(notice(&LIST_NOTICES, None), None);
    }
}
