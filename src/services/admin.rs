//! The FastAdmin admin console's domain: inputs parsed into types, the tenant list as the
//! original's model serialised it, and the tenant actions (add, delete, suspend, activate,
//! set expiry) with the original's messages.

use std::time::Duration;

use mysql_async::Row;
use secrecy::ExposeSecret as _;
use serde_json::Value;

use crate::clients::provision::CallError;
use crate::config::ExpiryPolicy;
use crate::db::log::{LogStatus, NewLog};
use crate::db::tenant;
use crate::db::tenant_admin::{self, Cell, LifecycleFilter, NewTenant, TenantFilter};
use crate::domain::log::LogRow;
use crate::domain::php::Params;
use crate::domain::php::php_intval;
use crate::domain::tenant::{TenantId, TenantStatus};
use crate::error::AppError;
use crate::services::admin_auth::SignedInAdmin;
use crate::services::app::App;
use crate::services::lifecycle;

/// ThinkPHP's `paginate()` default (`paginate.list_rows`).
pub const TENANTS_PER_PAGE: u64 = 15;
/// The original's `logs()` used `paginate(20)`.
pub const LOGS_PER_PAGE: u64 = 20;
/// The dashboard's "最近操作".
pub const DASHBOARD_LOGS: u64 = 10;
/// The original's curl timeout on `/suspend` and `/activate`.
pub const PROVISION_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound on ids in one delete.
pub const MAX_DELETE_IDS: usize = 1000;
/// Pages past this are empty anyway; bounding keeps OFFSET arithmetic small.
const MAX_PAGE: u64 = 1_000_000;

/// The message of an action that did not go through (`$this->error()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal(pub String);

impl Refusal {
    fn new(msg: impl Into<String>) -> Refusal {
        Refusal(msg.into())
    }
}

/// `page` as ThinkPHP's paginator reads it: `(int)`, at least 1.
pub fn parse_page(raw: Option<&str>) -> u64 {
    let n = raw.map(php_intval).unwrap_or(1);
    (n.max(1) as u64).min(MAX_PAGE)
}

/// The list's `filter` JSON. Anything that is not a JSON object, and any value that is not a
/// non-empty string (or a number), filters nothing — the original's `(array)json_decode()`
/// plus `!empty()`.
pub fn parse_filter(raw: Option<&str>) -> ListFilter {
    let Some(Value::Object(m)) = raw.and_then(|r| serde_json::from_str::<Value>(r).ok()) else {
        return ListFilter::default();
    };
    let text = |k: &str| -> Option<String> {
        match m.get(k)? {
            Value::String(s) if !s.is_empty() && s != "0" => Some(s.clone()),
            Value::Number(n) if n.as_f64() != Some(0.0) => Some(n.to_string()),
            _ => None,
        }
    };
    TenantFilter {
        status: text("status"),
        channel_type: text("channel_type"),
        search: text("search"),
        lifecycle: None,
    }
    .with_view(text("lifecycle").and_then(|v| LifecycleView::parse(&v)))
}

/// The list's filter: the original's keys, and chathub's `lifecycle` view, which applies only
/// while the lifecycle's settings are on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub tenants: TenantFilter,
    pub lifecycle: Option<LifecycleView>,
}

impl std::ops::Deref for ListFilter {
    type Target = TenantFilter;
    fn deref(&self) -> &TenantFilter {
        &self.tenants
    }
}

trait WithView {
    fn with_view(self, view: Option<LifecycleView>) -> ListFilter;
}

impl WithView for TenantFilter {
    fn with_view(self, lifecycle: Option<LifecycleView>) -> ListFilter {
        ListFilter {
            tenants: self,
            lifecycle,
        }
    }
}

/// `filter={"lifecycle": ...}`: the admin list's subscription-lifecycle views.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LifecycleView {
    /// Within the reminder window.
    Expiring,
    /// Past `expire_at`, still active (in grace).
    Expired,
    SuspendedForExpiry,
    PaidWhileSuspended,
}

impl LifecycleView {
    pub const ALL: [(LifecycleView, &'static str, &'static str); 4] = [
        (LifecycleView::Expiring, "expiring", "即将到期"),
        (LifecycleView::Expired, "expired", "已到期（宽限期）"),
        (
            LifecycleView::SuspendedForExpiry,
            "suspended_expiry",
            "到期暂停",
        ),
        (
            LifecycleView::PaidWhileSuspended,
            "paid_suspended",
            "暂停期间已续费",
        ),
    ];

    fn parse(raw: &str) -> Option<LifecycleView> {
        Self::ALL
            .iter()
            .find(|(_, k, _)| *k == raw)
            .map(|(v, _, _)| *v)
    }

    /// The view with its bounds, as of now.
    fn resolve(self, app: &App, policy: &ExpiryPolicy) -> LifecycleFilter {
        let now = app.clock.datetime();
        match self {
            LifecycleView::Expiring => {
                let window = i64::from(policy.remind_window().max(1)) * 86_400;
                let until = app
                    .clock
                    .format_epoch(app.clock.epoch() + window, "%Y-%m-%d %H:%M:%S");
                LifecycleFilter::Expiring { now, until }
            }
            LifecycleView::Expired => LifecycleFilter::Expired { now },
            LifecycleView::SuspendedForExpiry => LifecycleFilter::SuspendedForExpiry,
            LifecycleView::PaidWhileSuspended => LifecycleFilter::PaidWhileSuspended {
                include_expiry: !policy.unsuspend_on_payment,
            },
        }
    }
}

/// Columns the original's list JSON carried although no column of the admin page shows them:
/// credentials, left out (COMPAT.md#admin-list-secrets).
pub const LIST_HIDDEN_COLUMNS: [&str; 3] = ["agent_cw_password", "inbox_token", "api_credentials"];

/// One tenant as the original's `ChathubTenant` model serialised it for the list: every
/// column in schema order except [`LIST_HIDDEN_COLUMNS`], `config` through
/// `json_decode($v, true)`, then `status_text`, `channel_type_text`, `team_id_text`,
/// `email_text`, and `lifecycle_text` when the lifecycle gave the row one. Written straight
/// from the row: a `serde_json::Value` per row (owned keys, owned texts, an ordered map)
/// was most of the list's cost (bench/RESULTS.md).
struct ListRow<'a> {
    row: &'a Row,
    lifecycle_text: Option<&'static str>,
}

impl serde::Serialize for ListRow<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut m = s.serialize_map(None)?;
        let (mut status, mut channel_type, mut team, mut email) =
            (Cell::Null, Cell::Null, Cell::Null, Cell::Null);
        let mut has_config = false;
        for (name, cell) in tenant_admin::cells(self.row) {
            if LIST_HIDDEN_COLUMNS.contains(&&*name) {
                continue;
            }
            if name == "config" {
                has_config = true;
                m.serialize_entry("config", &PhpArrays(&list_config(&cell)))?;
                continue;
            }
            m.serialize_entry(&*name, &cell)?;
            match &*name {
                "status" => status = cell,
                "channel_type" => channel_type = cell,
                "team_id" => team = cell,
                "email" => email = cell,
                _ => {}
            }
        }
        if !has_config {
            m.serialize_entry("config", &Value::Array(Vec::new()))?;
        }
        let status_text = match &*status.to_text() {
            "pending" => "待开通",
            "active" => "正常",
            "suspended" => "已暂停",
            "disabled" => "已禁用",
            // The original has no label for `provisioning` (kept: golden README bug 14).
            _ => "",
        };
        let channel_type_text = match &*channel_type.to_text() {
            "web_widget" => "网页组件",
            "api" => "API接口",
            _ => "",
        };
        m.serialize_entry("status_text", status_text)?;
        m.serialize_entry("channel_type_text", channel_type_text)?;
        let team = team.to_text();
        if php_truthy(&team) {
            m.serialize_entry("team_id_text", &format_args!("#{team}"))?;
        } else {
            m.serialize_entry("team_id_text", "-")?;
        }
        m.serialize_entry("email_text", &mask_email(&email.to_text()))?;
        if let Some(label) = self.lifecycle_text {
            m.serialize_entry("lifecycle_text", label)?;
        }
        m.end()
    }
}

/// `config` as the model's `json_decode($v, true)` gave it (written through [`PhpArrays`]):
/// `[]` for an empty value, null for one that is not JSON.
fn list_config(cell: &Cell<'_>) -> Value {
    match cell {
        Cell::Text(s) if php_truthy(s) => serde_json::from_str::<Value>(s).unwrap_or(Value::Null),
        _ => Value::Array(Vec::new()),
    }
}

/// serde_json's compact output with `/` written `\/`, as PHP's `json_encode` without
/// `JSON_UNESCAPED_SLASHES` (ThinkPHP's `json()`), in the same pass.
struct PhpSlashes;

impl serde_json::ser::Formatter for PhpSlashes {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut rest = fragment;
        while let Some(at) = rest.find('/') {
            w.write_all(&rest.as_bytes()[..at])?;
            w.write_all(b"\\/")?;
            rest = &rest[at + 1..];
        }
        w.write_all(rest.as_bytes())
    }
}

/// PHP's truthiness of a string: "" and "0" are false.
fn php_truthy(s: &str) -> bool {
    !s.is_empty() && s != "0"
}

/// A decoded value written as `json_encode(json_decode($s, true))` gives it back: objects
/// whose keys are exactly 0..n-1 in order (including `{}`) become lists, as PHP arrays do.
/// Written as it goes, without building the converted value first.
struct PhpArrays<'a>(&'a Value);

impl serde::Serialize for PhpArrays<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(m) => {
                let sequential = m.keys().enumerate().all(|(i, k)| key_is_index(k, i));
                if sequential {
                    s.collect_seq(m.values().map(PhpArrays))
                } else {
                    s.collect_map(m.iter().map(|(k, v)| (k, PhpArrays(v))))
                }
            }
            Value::Array(a) => s.collect_seq(a.iter().map(PhpArrays)),
            other => other.serialize(s),
        }
    }
}

/// `key == i.to_string()`, without the string.
fn key_is_index(key: &str, i: usize) -> bool {
    let b = key.as_bytes();
    !b.is_empty()
        && (b.len() == 1 || b[0] != b'0')
        && b.iter().all(u8::is_ascii_digit)
        && key.parse::<usize>() == Ok(i)
}

#[cfg(test)]
/// The conversion [`PhpArrays`] writes, as a value (the tests' reference): objects whose keys are exactly
/// 0..n-1 in order (including `{}`) become lists, as PHP arrays do.
fn php_assoc_roundtrip(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let sequential = m.keys().enumerate().all(|(i, k)| *k == i.to_string());
            if sequential {
                Value::Array(m.into_iter().map(|(_, v)| php_assoc_roundtrip(v)).collect())
            } else {
                Value::Object(
                    m.into_iter()
                        .map(|(k, v)| (k, php_assoc_roundtrip(v)))
                        .collect(),
                )
            }
        }
        Value::Array(a) => Value::Array(a.into_iter().map(php_assoc_roundtrip).collect()),
        other => other,
    }
}

/// `bob@example.com` → `bo*@example.com` (the model's `getEmailTextAttr`: first two bytes of
/// the local part kept, one `*` per further byte).
pub fn mask_email(email: &str) -> String {
    if !php_truthy(email) {
        return "-".into();
    }
    let parts: Vec<&str> = email.split('@').collect();
    let [name, domain] = parts.as_slice() else {
        return email.to_string();
    };
    let mut keep = name.len().min(2);
    // PHP cuts bytes; we stop at a character boundary so the JSON stays valid UTF-8.
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    format!(
        "{}{}@{domain}",
        &name[..keep],
        "*".repeat(name.len().saturating_sub(2))
    )
}

/// The add form's `row[...]` as a tenant, checked before anything is written
/// (COMPAT.md#admin-add-validation).
pub fn parse_new_tenant(params: &Params) -> Result<NewTenant, Refusal> {
    let row = params.array("row");
    if row.is_empty() {
        return Err(Refusal::new("参数不能为空"));
    }
    let get = |k: &str| {
        row.iter()
            .rev()
            .find(|(rk, _)| rk == k)
            .map(|(_, v)| v.clone())
    };
    let bounded = |k: &str, max: usize, label: &str| -> Result<Option<String>, Refusal> {
        match get(k) {
            Some(v) if v.chars().count() > max => {
                Err(Refusal::new(format!("{label}不能超过 {max} 个字符")))
            }
            other => Ok(other),
        }
    };
    let channel_type = match get("channel_type") {
        None => None,
        Some(c) if CHANNEL_TYPES.contains(&c.as_str()) => Some(c),
        Some(_) => return Err(Refusal::new("通道类型无效")),
    };
    let status = match get("status") {
        None => None,
        Some(s) => Some(TenantStatus::parse(&s).ok_or_else(|| Refusal::new("状态无效"))?),
    };
    let max_agents = match get("max_agents") {
        None => None,
        Some(s) => Some(
            s.trim()
                .parse::<i32>()
                .map_err(|_| Refusal::new("客服席位必须是整数"))? as i64,
        ),
    };
    Ok(NewTenant {
        tenant_name: bounded("tenant_name", 100, "租户名称")?,
        domain: bounded("domain", 255, "域名")?,
        email: bounded("email", 255, "管理员邮箱")?,
        channel_type,
        max_agents,
        agent_name: bounded("agent_name", 100, "Agent 名称")?,
        status,
    })
}

/// Values of the `channel_type` enum column.
const CHANNEL_TYPES: [&str; 7] = [
    "web_widget",
    "api",
    "amazon",
    "jd",
    "taobao",
    "pdd",
    "tiktok",
];

/// PHP's `if (!$ids)`: missing, "" and "0" count as no ids.
fn present(raw: Option<String>) -> Option<String> {
    raw.filter(|v| php_truthy(v))
}

/// One tenant id from `ids` (the original's `Model::get($ids)`); text that names no tenant
/// id is simply not found.
fn single_id(raw: &str) -> Option<TenantId> {
    raw.trim().parse::<u32>().ok().map(TenantId)
}

/// Insert a checked row (`createtime`/`updatetime` now).
pub async fn add(app: &App, row: &NewTenant) -> Result<TenantId, AppError> {
    tenant_admin::insert(&app.db, row, app.clock.epoch()).await
}

/// `del`: a comma list of ids. Ok(n) is how many rows went.
pub async fn delete(app: &App, raw_ids: Option<String>) -> Result<Result<u64, Refusal>, AppError> {
    let Some(raw) = present(raw_ids) else {
        return Ok(Err(Refusal::new("参数不能为空")));
    };
    let mut ids: Vec<TenantId> = raw.split(',').filter_map(single_id).collect();
    ids.sort();
    ids.dedup();
    if ids.len() > MAX_DELETE_IDS {
        return Ok(Err(Refusal::new(format!(
            "一次最多删除 {MAX_DELETE_IDS} 条记录"
        ))));
    }
    let n = tenant_admin::delete(&app.db, &ids).await?;
    if n == 0 {
        return Ok(Err(Refusal::new("没有删除任何记录")));
    }
    Ok(Ok(n))
}

/// Which way a status change goes, with the original's texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    Suspend,
    Activate,
}

impl Switch {
    fn from(self) -> TenantStatus {
        match self {
            Switch::Suspend => TenantStatus::Active,
            Switch::Activate => TenantStatus::Suspended,
        }
    }
    fn to(self) -> TenantStatus {
        match self {
            Switch::Suspend => TenantStatus::Suspended,
            Switch::Activate => TenantStatus::Active,
        }
    }
    fn wrong_state(self) -> &'static str {
        match self {
            Switch::Suspend => "只能暂停已开通的租户",
            Switch::Activate => "只能恢复已暂停的租户",
        }
    }
    fn failed(self) -> &'static str {
        match self {
            Switch::Suspend => "暂停失败：",
            Switch::Activate => "恢复失败：",
        }
    }
    pub fn done(self) -> &'static str {
        match self {
            Switch::Suspend => "已暂停",
            Switch::Activate => "已恢复",
        }
    }
    fn log_action(self) -> &'static str {
        match self {
            Switch::Suspend => "suspend",
            Switch::Activate => "activate",
        }
    }
}

/// What the provision server's answer means for a suspend/activate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProvisionVerdict {
    Accepted,
    /// The message after "暂停失败：" / "恢复失败：".
    Rejected(String),
}

/// The original accepted any JSON object with a `success` key and otherwise showed the
/// `error` field or the raw body. We show the `error` text when there is one, and a generic
/// text instead of a raw body (COMPAT.md#suspend-error-body); `success: false` is a failure.
pub fn judge_provision_answer(status: u16, body: &str) -> ProvisionVerdict {
    let parsed = serde_json::from_str::<Value>(body).ok();
    let obj = parsed.as_ref().and_then(Value::as_object);
    if let Some(o) = obj
        && matches!(o.get("success"), Some(v) if !v.is_null() && *v != Value::Bool(false))
    {
        return ProvisionVerdict::Accepted;
    }
    match obj.and_then(|o| o.get("error")) {
        Some(Value::String(e)) if !e.is_empty() => ProvisionVerdict::Rejected(e.clone()),
        _ => ProvisionVerdict::Rejected(format!(
            "Provision 服务返回了无法识别的响应（HTTP {status}）"
        )),
    }
}

/// `suspend` / `activate`: ids only from the POST body (golden README bug 28).
pub async fn switch(
    app: &App,
    admin: &SignedInAdmin,
    which: Switch,
    raw_ids: Option<String>,
) -> Result<Result<(), Refusal>, AppError> {
    let Some(raw) = present(raw_ids) else {
        return Ok(Err(Refusal::new("参数不能为空")));
    };
    let tenant = match single_id(&raw) {
        Some(id) => {
            let mut conn = app.db.conn().await?;
            tenant::find(&mut conn, &app.db.t, id).await?
        }
        None => None,
    };
    let Some(tenant) = tenant else {
        return Ok(Err(Refusal::new("记录不存在")));
    };
    if tenant.status != which.from() {
        return Ok(Err(Refusal::new(which.wrong_state())));
    }
    let addon = app.addon();
    let key = addon.provision_api_key.expose_secret();
    let answer = match which {
        Switch::Suspend => {
            app.provision
                .suspend(
                    &addon.provision_server_url,
                    key,
                    tenant.inbox_id,
                    &tenant.tenant_name,
                    &tenant.domain,
                    PROVISION_TIMEOUT,
                )
                .await
        }
        // The original sent no API key here, so it always failed (COMPAT.md#activate-api-key).
        Switch::Activate => {
            app.provision
                .activate(
                    &addon.provision_server_url,
                    key,
                    tenant.inbox_id,
                    PROVISION_TIMEOUT,
                )
                .await
        }
    };
    let (status, body) = match answer {
        Ok(x) => x,
        Err(CallError::Transport(msg)) => {
            return Ok(Err(Refusal::new(format!(
                "{}无法连接 Provision 服务（{msg}）",
                which.failed()
            ))));
        }
        Err(CallError::Http { status, body }) => (status, body),
    };
    if let ProvisionVerdict::Rejected(msg) = judge_provision_answer(status, &body) {
        return Ok(Err(Refusal::new(format!("{}{msg}", which.failed()))));
    }
    let entry = NewLog {
        tenant_id: tenant.id.0,
        action: which.log_action(),
        detail: &body,
        status: LogStatus::Success,
        operator: &admin.username,
        createtime: app.clock.epoch(),
    };
    let changed =
        tenant_admin::transition_logged(&app.db, tenant.id, which.from(), which.to(), &entry)
            .await?;
    if !changed {
        // Another admin changed it while the provision server answered.
        return Ok(Err(Refusal::new(which.wrong_state())));
    }
    Ok(Ok(()))
}

/// A valid `expire_at`: the value as given (for the log) and as the DATETIME stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpireAt {
    pub given: String,
    pub stored: String,
}

/// `Y-m-d`, `Y-m-d H:i` or `Y-m-d H:i:s`, a real calendar date in DATETIME's range
/// (COMPAT.md#set-expire-validation).
pub fn parse_expire_at(raw: &str) -> Option<ExpireAt> {
    let s = raw.trim();
    let dt = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
        })
        .ok()?;
    use chrono::Datelike as _;
    if !(1000..=9999).contains(&dt.year()) {
        return None;
    }
    Some(ExpireAt {
        given: raw.to_string(),
        stored: dt.format("%Y-%m-%d %H:%M:%S").to_string(),
    })
}

/// setExpire's form, as posted by the original's dialog.
#[derive(serde::Deserialize)]
pub struct ExpireForm {
    ids: Option<String>,
    expire_at: Option<String>,
}

pub async fn set_expire(
    app: &App,
    admin: &SignedInAdmin,
    form: ExpireForm,
) -> Result<Result<(), Refusal>, AppError> {
    let Some(raw) = present(form.ids) else {
        return Ok(Err(Refusal::new("参数不能为空")));
    };
    let Some(raw_expire) = present(form.expire_at) else {
        return Ok(Err(Refusal::new("请输入到期时间")));
    };
    let exists = match single_id(&raw) {
        Some(id) => {
            let mut conn = app.db.conn().await?;
            tenant::find(&mut conn, &app.db.t, id).await?.map(|t| t.id)
        }
        None => None,
    };
    let Some(id) = exists else {
        return Ok(Err(Refusal::new("记录不存在")));
    };
    let Some(expire) = parse_expire_at(&raw_expire) else {
        return Ok(Err(Refusal::new(
            "到期时间格式错误，请按 2026-12-31 或 2026-12-31 08:00:00 的格式填写",
        )));
    };
    let detail = format!("设置到期: {}", expire.given);
    let entry = NewLog {
        tenant_id: id.0,
        action: "set_expire",
        detail: &detail,
        status: LogStatus::Success,
        operator: &admin.username,
        createtime: app.clock.epoch(),
    };
    if !tenant_admin::set_expire_logged(&app.db, id, &expire.stored, &entry).await? {
        return Ok(Err(Refusal::new("记录不存在")));
    }
    Ok(Ok(()))
}

/// The dashboard's numbers and recent log rows.
pub struct Dashboard {
    pub total: u64,
    pub active: u64,
    pub pending: u64,
    pub recent: Vec<LogRow>,
}

pub async fn dashboard(app: &App) -> Result<Dashboard, AppError> {
    let mut conn = app.db.conn().await?;
    let (total, active, pending) = tenant_admin::counts(&mut conn, &app.db.t).await?;
    let recent = tenant_admin::logs(&mut conn, &app.db.t, 1, DASHBOARD_LOGS).await?;
    Ok(Dashboard {
        total,
        active,
        pending,
        recent,
    })
}

/// A log row's `createtime` in the site's zone, `Y-m-d H:i` (with `seconds`, `:s`), as
/// `Clock::format_epoch` writes it. Written by hand: chrono's `format` parses the pattern
/// and prints the zone's name for every call, a fifth of the log page's instructions.
pub fn log_time(clock: &crate::clock::Clock, epoch: i64, seconds: bool) -> String {
    use chrono::{Datelike as _, TimeZone as _, Timelike as _};
    use std::fmt::Write as _;
    let fmt = if seconds {
        "%Y-%m-%d %H:%M:%S"
    } else {
        "%Y-%m-%d %H:%M"
    };
    let Some(t) = clock.tz().timestamp_opt(epoch, 0).single() else {
        return clock.format_epoch(epoch, fmt);
    };
    // chrono pads `%Y` to four digits in this range only (a sign outside it).
    if !(0..=9999).contains(&t.year()) {
        return clock.format_epoch(epoch, fmt);
    }
    let mut s = String::with_capacity(19);
    let _ = write!(s, "{:04}", t.year());
    let two = |s: &mut String, sep: char, n: u32| {
        s.push(sep);
        s.push(char::from(b'0' + (n / 10) as u8));
        s.push(char::from(b'0' + (n % 10) as u8));
    };
    two(&mut s, '-', t.month());
    two(&mut s, '-', t.day());
    two(&mut s, ' ', t.hour());
    two(&mut s, ':', t.minute());
    if seconds {
        two(&mut s, ':', t.second());
    }
    s
}

pub async fn logs(app: &App, page: u64) -> Result<Vec<LogRow>, AppError> {
    let mut conn = app.db.conn().await?;
    tenant_admin::logs(&mut conn, &app.db.t, page, LOGS_PER_PAGE).await
}

/// The list JSON: `{"total": N, "rows": [...]}` as bootstrap-table reads it, written as
/// ThinkPHP's `json()` did (slashes escaped, non-ASCII kept).
/// With the lifecycle on, the `lifecycle` view applies and each row gets `lifecycle_text`
/// (its badge, empty for none); off, the list is the original's.
pub async fn tenant_page(app: &App, filter: &ListFilter, page: u64) -> Result<String, AppError> {
    let policy = app.addon().expiry.clone();
    let on = lifecycle::is_on(&policy);
    let tenants = TenantFilter {
        lifecycle: filter
            .lifecycle
            .filter(|_| on)
            .map(|v| v.resolve(app, &policy)),
        ..filter.tenants.clone()
    };
    let mut conn = app.db.conn().await?;
    let (total, rows) =
        tenant_admin::page(&mut conn, &app.db.t, &tenants, page, TENANTS_PER_PAGE).await?;
    let mut labels: Vec<Option<&'static str>> = vec![None; rows.len()];
    if on {
        let listed: Vec<_> = rows
            .iter()
            .map(|r| tenant::Tenant::from_row(r).ok())
            .collect();
        let ids: Vec<_> = listed.iter().flatten().map(|t| t.id).collect();
        let markers = tenant::lifecycle::markers(&mut conn, &app.db.t, &ids).await?;
        for (label, t) in labels.iter_mut().zip(&listed) {
            let Some(t) = t else { continue };
            let standing = lifecycle::standing(
                &policy,
                &app.clock,
                t.status,
                t.expire_at.as_deref(),
                markers.get(&t.id),
            );
            *label = Some(standing.admin_label());
        }
    }
    #[derive(serde::Serialize)]
    struct List<'a> {
        total: u64,
        rows: Vec<ListRow<'a>>,
    }
    let list = List {
        total,
        rows: rows
            .iter()
            .zip(labels)
            .map(|(row, lifecycle_text)| ListRow {
                row,
                lifecycle_text,
            })
            .collect(),
    };
    let mut out = Vec::with_capacity(1024 + rows.len() * 1024);
    serde::Serialize::serialize(
        &list,
        &mut serde_json::Serializer::with_formatter(&mut out, PhpSlashes),
    )
    .map_err(|e| AppError::Internal(format!("list JSON: {e}")))?;
    // serde_json writes UTF-8 only.
    Ok(String::from_utf8(out).unwrap_or_default())
}

/// 查询支付状态: the order's gateways asked now, a paid answer credited (exactly once, as a
/// notification would), the outcome in words. The log rows name the admin.
pub async fn query_pay(
    app: &App,
    admin: &SignedInAdmin,
    raw_order_no: &str,
) -> Result<Result<&'static str, Refusal>, AppError> {
    use crate::domain::ids::{OrderNo, OrderStatus};
    use crate::services::pay_query::{ADMIN_CALL_TIMEOUT, Asker, Checked, check_order};
    let Some(order_no) = OrderNo::parse(raw_order_no.trim()) else {
        return Ok(Err(Refusal::new("订单不存在")));
    };
    let order = {
        let mut conn = app.db.conn().await?;
        crate::db::order::find_by_no(&mut conn, &app.db.t, &order_no).await?
    };
    let Some(order) = order else {
        return Ok(Err(Refusal::new("订单不存在")));
    };
    let asked = check_order(
        app,
        &order,
        Asker::Admin(&admin.username),
        ADMIN_CALL_TIMEOUT,
    );
    Ok(match asked.await? {
        Checked::Paid { credited: true } => Ok("查询结果：已支付，已为租户续期"),
        Checked::Paid { credited: false } => Ok("查询结果：已支付（此前已入账）"),
        Checked::NotPaid => Ok("查询结果：尚未支付"),
        Checked::Busy => Err(Refusal::new("该订单正在查询中，请稍后再试")),
        Checked::Failed(_) => Err(Refusal::new(
            "查询失败：支付网关没有给出可信的结果，详情见操作日志",
        )),
        Checked::NotSent => match order.status {
            OrderStatus::Paid => Ok("订单已支付"),
            OrderStatus::Failed | OrderStatus::Refunded => Ok("订单已关闭"),
            OrderStatus::Pending => Ok("订单尚未发往支付网关"),
        },
    })
}

/// The orders page (chathub's own, COMPAT.md#refunds).
pub const ORDERS_PER_PAGE: u64 = 20;

/// One order on the orders page: the order, its refunds, what is left to refund, and a
/// fresh request number for its refund form.
pub struct OrderLine {
    pub listed: crate::db::order::Listed,
    pub refunds: Vec<crate::db::refund::Refund>,
    pub refunded: crate::domain::money::Money,
    pub left: crate::domain::money::Money,
    pub request_no: String,
}

/// A page of orders with their refunds.
pub async fn orders(app: &App, page: u64) -> Result<(u64, Vec<OrderLine>), AppError> {
    use crate::domain::money::Money;
    let (total, listed) = {
        let mut conn = app.db.conn().await?;
        crate::db::order::page(&mut conn, &app.db.t, page, ORDERS_PER_PAGE).await?
    };
    let ids: Vec<_> = listed.iter().map(|l| l.order.id).collect();
    let refunds = crate::services::refund::for_orders(app, &ids).await?;
    let lines = listed
        .into_iter()
        .map(|l| {
            let mine: Vec<_> = refunds
                .iter()
                .filter(|r| r.order_id == l.order.id)
                .cloned()
                .collect();
            let sum = |f: &dyn Fn(&crate::db::refund::Refund) -> bool| {
                Money::from_cents(mine.iter().filter(|r| f(r)).map(|r| r.amount.cents()).sum())
            };
            let refunded = sum(&|r| r.status == crate::db::refund::RefundStatus::Success);
            let held = sum(&|r| r.status.holds_money());
            OrderLine {
                left: Money::from_cents((l.order.amount.cents() - held.cents()).max(0)),
                refunded,
                refunds: mine,
                listed: l,
                request_no: crate::services::refund::new_request_no(app),
            }
        })
        .collect();
    Ok((total, lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_times_are_what_format_epoch_writes() {
        use chrono::{FixedOffset, TimeZone as _};
        for offset in [8 * 3600, 0, -(5 * 3600 + 1800)] {
            let tz = FixedOffset::east_opt(offset).unwrap();
            let clock = crate::clock::Clock::fake(tz, chrono::Utc.timestamp_opt(0, 0).unwrap());
            for epoch in [
                0,
                1,
                -1,
                59,
                1779000000,
                1795561549,
                2147483647,
                4294967295,
                -62135596800,
                -62135596801,
                253402300799,
                253402300800,
                i64::MAX,
                i64::MIN,
            ] {
                assert_eq!(
                    log_time(&clock, epoch, false),
                    clock.format_epoch(epoch, "%Y-%m-%d %H:%M"),
                    "{epoch} at {offset}"
                );
                assert_eq!(
                    log_time(&clock, epoch, true),
                    clock.format_epoch(epoch, "%Y-%m-%d %H:%M:%S"),
                    "{epoch} at {offset}"
                );
            }
        }
    }

    #[test]
    fn emails_are_masked_like_the_model() {
        assert_eq!(mask_email("bob@example.com"), "bo*@example.com");
        assert_eq!(mask_email("alice@example.com"), "al***@example.com");
        assert_eq!(mask_email("a@x.y"), "a@x.y");
        assert_eq!(mask_email(""), "-");
        assert_eq!(mask_email("no-at-sign"), "no-at-sign");
        assert_eq!(mask_email("a@b@c"), "a@b@c");
        // Multi-byte local part: never a broken character.
        assert_eq!(mask_email("张三@x.cn"), "****@x.cn");
    }

    #[test]
    fn filters_take_non_empty_strings_only() {
        let f = parse_filter(Some(
            r#"{"status":"active","channel_type":"","search":"ali"}"#,
        ));
        assert_eq!(f.status.as_deref(), Some("active"));
        assert_eq!(f.channel_type, None);
        assert_eq!(f.search.as_deref(), Some("ali"));
        for raw in [
            None,
            Some(""),
            Some("{"),
            Some("5"),
            Some("\"x\""),
            Some("[1]"),
        ] {
            assert_eq!(parse_filter(raw), ListFilter::default(), "{raw:?}");
        }
        assert_eq!(
            parse_filter(Some(r#"{"status":["like","%"]}"#)).status,
            None
        );
        assert_eq!(parse_filter(Some(r#"{"status":"0"}"#)).status, None);
    }

    #[test]
    fn pages_are_php_ints_at_least_one() {
        assert_eq!(parse_page(None), 1);
        assert_eq!(parse_page(Some("2")), 2);
        assert_eq!(parse_page(Some("2abc")), 2);
        assert_eq!(parse_page(Some("-3")), 1);
        assert_eq!(parse_page(Some("abc")), 1);
        assert_eq!(parse_page(Some("99999999999999999999")), 1);
        assert_eq!(parse_page(Some("9999999999")), MAX_PAGE);
    }

    #[test]
    fn expiry_dates_are_checked() {
        let e = parse_expire_at("2026-12-31").unwrap();
        assert_eq!(e.stored, "2026-12-31 00:00:00");
        assert_eq!(e.given, "2026-12-31");
        assert_eq!(
            parse_expire_at("2027-01-31 08:00:00").unwrap().stored,
            "2027-01-31 08:00:00"
        );
        assert_eq!(
            parse_expire_at("2027-01-31 08:00").unwrap().stored,
            "2027-01-31 08:00:00"
        );
        for bad in [
            "not-a-date",
            "2026-02-30",
            "2026-13-01",
            "0999-01-01",
            "2026-12-31x",
            "",
        ] {
            assert!(parse_expire_at(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn provision_answers_are_judged_without_leaking_raw_bodies() {
        assert_eq!(
            judge_provision_answer(200, r#"{"success": true, "message": "Inbox 1 suspended"}"#),
            ProvisionVerdict::Accepted
        );
        assert_eq!(
            judge_provision_answer(
                500,
                r#"{"error": "Chatwoot API error: simulated internal failure"}"#
            ),
            ProvisionVerdict::Rejected("Chatwoot API error: simulated internal failure".into())
        );
        let ProvisionVerdict::Rejected(m) = judge_provision_answer(200, "<html><b>oops</b>") else {
            panic!()
        };
        assert!(!m.contains("<html>") && m.contains("HTTP 200"), "{m}");
        assert!(matches!(
            judge_provision_answer(200, r#"{"success": false}"#),
            ProvisionVerdict::Rejected(_)
        ));
    }

    #[test]
    fn add_rows_are_validated() {
        let p = |s: &str| parse_new_tenant(&Params::parse_urlencoded(s.as_bytes()).unwrap());
        assert_eq!(p("x=1").unwrap_err().0, "参数不能为空");
        assert_eq!(p("row[status]=bogus").unwrap_err().0, "状态无效");
        assert_eq!(p("row[channel_type]=fax").unwrap_err().0, "通道类型无效");
        assert_eq!(
            p("row[max_agents]=many").unwrap_err().0,
            "客服席位必须是整数"
        );
        let long = format!("row[tenant_name]={}", "x".repeat(101));
        assert!(p(&long).unwrap_err().0.contains("100"));
        let ok = p("row[tenant_name]=A&row[max_agents]=4&row[status]=active&row[agent_name]=&row[unknown]=z").unwrap();
        assert_eq!(ok.max_agents, Some(4));
        assert_eq!(ok.agent_name.as_deref(), Some(""));
        assert_eq!(ok.status, Some(TenantStatus::Active));
        assert_eq!(ok.channel_type, None);
    }

    #[test]
    fn php_arrays_write_what_the_converted_value_writes() {
        for raw in [
            r#"{}"#,
            r#"[]"#,
            r#"{"0":"a","1":{"0":1,"1":2.5},"2":[{"x":{}}]}"#,
            r#"{"1":"a","0":"b"}"#,
            r#"{"00":"a"}"#,
            r#"{"0":"a","01":"b"}"#,
            r#"{"+0":"a"}"#,
            r#"{"0":"a","2":"b"}"#,
            r#"{"plan":"pro","price":60,"notes":"a/b","list":{"0":null,"1":true}}"#,
            r#""{\"plan\":\"pro\"}""#,
            r#"12345678901234567890123"#,
            r#"-0.0"#,
        ] {
            let v: Value = serde_json::from_str(raw).unwrap();
            assert_eq!(
                serde_json::to_string(&PhpArrays(&v)).unwrap(),
                serde_json::to_string(&php_assoc_roundtrip(v.clone())).unwrap(),
                "{raw}"
            );
        }
    }

    #[test]
    fn slashes_are_escaped_as_php_writes_them() {
        let v = serde_json::json!({"a/b": ["</script>", "//", "x", "\\/\n"]});
        let mut out = Vec::new();
        serde::Serialize::serialize(
            &v,
            &mut serde_json::Serializer::with_formatter(&mut out, PhpSlashes),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            crate::domain::php::php_json_unescaped_unicode(&v)
        );
    }

    #[test]
    fn decoded_json_round_trips_like_php_arrays() {
        assert_eq!(
            php_assoc_roundtrip(serde_json::json!({})),
            serde_json::json!([])
        );
        assert_eq!(
            php_assoc_roundtrip(serde_json::json!({"0": "a", "1": "b"})),
            serde_json::json!(["a", "b"])
        );
        assert_eq!(
            php_assoc_roundtrip(serde_json::json!({"plan": "pro"})),
            serde_json::json!({"plan": "pro"})
        );
    }
}
