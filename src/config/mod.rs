//! Typed, validated configuration.
//!
//! Sources, lowest precedence first: built-in defaults, an existing FastAdmin install
//! (`--fastadmin-root`: `.env` `[database]` and `addons/chathub/config.php`), the TOML file
//! (`--config` / `CHATHUB_CONFIG`), then `CHATHUB_<KEY>` / `CHATHUB_ADDON_<KEY>` environment
//! variables. Every problem is collected and reported together before the port is bound.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

mod fastadmin;
mod toml_file;

use fastadmin::read_fastadmin_root;
pub use fastadmin::{parse_config_php, parse_ini_section};
use toml_file::read_toml;

/// Value of `provision_api_key` when nobody configured one: the key the original hard-codes.
pub const DEFAULT_PROVISION_API_KEY: &str = "chathub-default-key-change-me";

#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: SecretString,
    pub table_prefix: String,
    /// FastAdmin's renamed admin entry file, e.g. `pGTnXkhdmy.php`.
    pub admin_entry: String,
    /// Scheme + host used to build payment notify/return URLs, no trailing slash.
    pub public_base_url: String,
    pub session_secret: SecretString,
    /// 32-byte AES-256-GCM key shared with the Python gateway (`GATEWAY_AES_KEY`).
    pub gateway_aes_key: Option<SecretBytes>,
    pub trusted_proxies: Vec<IpNet>,
    /// Local offset used for every DATETIME we write or show (the original ran Asia/Shanghai).
    pub timezone: chrono::FixedOffset,
    /// Upper bound for the whole `register` request, provisioning included.
    pub register_timeout: Duration,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Directory holding PHP's session files (`session.save_path`), for FastAdmin admin sessions.
    pub php_session_dir: Option<PathBuf>,
    /// PHP sessions kept in Redis by ThinkPHP's `redis` session driver, instead of files.
    pub php_session_redis: Option<RedisSessions>,
    /// FastAdmin `token.key` (application/config.php), used by the keeplogin cookie.
    pub fastadmin_token_key: Option<SecretString>,
    /// Alipay gateway override (tests point this at a local fake).
    pub alipay_gateway_url: Option<String>,
    /// WeChat Pay API base, default `https://api.mch.weixin.qq.com`.
    pub wechat_api_base: String,
    /// PEM of the WeChat Pay platform public key used to verify notifications.
    pub wechat_platform_public_key: Option<String>,
    /// Emit JSON log lines instead of text.
    pub log_json: bool,
    /// Run the background worker that finishes tenants left in `provisioning` (default on;
    /// fixture replays turn it off so recorded database states stay still).
    pub provision_worker: bool,
    /// Bound on one `/provision` call for an existing tenant (the member's `reprovision` and
    /// the worker): the member waits on it behind nginx's 60 s.
    pub provision_call_timeout: Duration,
    /// Gateway orders and their queries (deadline, sweep, `payReturn`'s bound).
    pub pay: PaySettings,
    /// Most MySQL connections one instance opens.
    pub db_pool_max: usize,
    /// A member session ends this long after sign-in however active it is (the idle expiry
    /// ends it sooner).
    pub session_max_lifetime_secs: i64,
    /// Bound on getting a working MySQL connection (waiting for a free one, connecting,
    /// checking it answers); past it the request gets the 503 page.
    pub db_checkout_timeout: Duration,
    /// Bound on a request's own work, its database statements included (the driver has no
    /// statement timeout). Routes that call another server get that call's budget on top
    /// (`startup::request_bound`); the worker bounds each database step with it too.
    pub request_timeout: Duration,
    /// Sign-up attempts one client address may make per 10 minutes (0: no limit).
    pub register_attempts_per_address: u32,
    pub addon: AddonConfig,
    /// Where the addon config was read from, when it was (`--fastadmin-root`): watched for edits.
    pub addon_config_php: Option<PathBuf>,
    /// What this configuration was loaded from, so a reload runs the same loader on the same
    /// sources and environment (its precedence included).
    pub loaded_from: LoadedFrom,
}

/// How gateway orders expire and how we ask the gateways about them (README: payments).
#[derive(Clone, Debug)]
pub struct PaySettings {
    /// An order sent to a gateway may be paid for this long (`time_expire`); then it is
    /// closed at the gateway and locally.
    pub order_expire_secs: i64,
    /// The sweep's first query, this long after the order went to a gateway; later ones
    /// back off from it (5×, 15×, then 60× apart).
    pub query_first_secs: i64,
    /// Bound on `payReturn`'s query of a still-pending order (zero: no query).
    pub return_query: Duration,
    /// Whether this instance's worker sweeps pending gateway orders.
    pub sweep: bool,
    /// The serial (`Wechatpay-Serial`) of `wechat_platform_public_key` when it is a bare public
    /// key (`PUB_KEY_ID_…`); a certificate names its own.
    pub wechat_platform_serial: Option<String>,
    /// Certificate mode: download WeChat Pay's platform certificates (`GET /v3/certificates`),
    /// keep them in `chathub_pay_cert`, refresh them daily and on an unknown serial.
    pub wechat_platform_certificates: bool,
    /// Whether this instance's worker reconciles yesterday's bills each morning (off by
    /// default; `chathub reconcile --date` does it by hand).
    pub reconcile_daily: bool,
}

/// The sources and `CHATHUB_*` environment a [`Config`] was loaded from. Never printed: the
/// environment holds secrets.
#[derive(Clone, Default)]
pub struct LoadedFrom {
    sources: ConfigSources,
    env: BTreeMap<String, String>,
}

impl Config {
    /// The configuration as its sources say now (the addon's `config.php` edited in FastAdmin,
    /// say); every problem is reported, and the caller keeps what it has.
    pub fn reload(&self) -> Result<Config, ConfigErrors> {
        Config::load_with_env(&self.loaded_from.sources, &self.loaded_from.env)
    }
}

/// Exactly the original addon's `config.php` keys, plus `provision_api_key`
/// which the original reads but never declares.
#[derive(Clone, Debug)]
pub struct AddonConfig {
    pub provision_server_url: String,
    pub site_name: String,
    pub support_email: String,
    pub chatwoot_url: String,
    pub chatwoot_api_token: SecretString,
    pub alipay_enabled: bool,
    pub alipay_app_id: String,
    pub alipay_merchant_private_key: SecretString,
    pub alipay_public_key: String,
    pub alipay_sandbox: bool,
    /// The merchant's Alipay account (`2088…`): when set, a notification or query answer for
    /// another seller is refused.
    pub alipay_seller_id: String,
    /// Public-key-certificate mode: the three files Alipay's key tool and open platform give
    /// (`appCertPublicKey_<appid>.crt`, `alipayCertPublicKey_RSA2.crt`, `alipayRootCert.crt`).
    /// All empty: public-key mode (`alipay_public_key`).
    pub alipay_app_cert_path: String,
    pub alipay_cert_path: String,
    pub alipay_root_cert_path: String,
    pub wechat_enabled: bool,
    pub wechat_app_id: String,
    pub wechat_mch_id: String,
    pub wechat_api_v3_key: SecretString,
    pub wechat_cert_path: String,
    pub wechat_key_path: String,
    pub wechat_sandbox: bool,
    pub provision_api_key: SecretString,
    /// chathub's own (the original has no such keys): suspension on expiry, reminders,
    /// reactivation on payment. All off by default.
    pub expiry: ExpiryPolicy,
}

/// The subscription lifecycle's settings (README#subscription-lifecycle). With every key
/// empty, nothing differs from the original: no suspension, no notice, payments as before.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpiryPolicy {
    /// Days after `expire_at` at which the worker suspends an active tenant; `None`: never.
    pub suspend_after_days: Option<u32>,
    /// Days before `expire_at` from which `my` shows a reminder, largest first.
    pub remind_days: Vec<u32>,
    /// A paid renewal brings back a tenant the worker suspended for expiry.
    pub unsuspend_on_payment: bool,
}

impl ExpiryPolicy {
    /// Whether a payment must leave a suspended tenant suspended (the lifecycle, not the
    /// payment, decides when it comes back): on as soon as suspension or reactivation is.
    pub fn manages_suspension(&self) -> bool {
        self.suspend_after_days.is_some() || self.unsuspend_on_payment
    }

    /// The reminder window in days (0: no reminders).
    pub fn remind_window(&self) -> u32 {
        self.remind_days.iter().copied().max().unwrap_or(0)
    }

    /// Longest grace and reminder period accepted: a year.
    const MAX_DAYS: u32 = 366;

    fn from_map(s: &dyn Fn(&str) -> String, errors: &mut Vec<String>) -> ExpiryPolicy {
        let days = |raw: &str, key: &str, errors: &mut Vec<String>| -> Option<u32> {
            match raw.trim().parse::<u32>() {
                Ok(n) if n <= Self::MAX_DAYS => Some(n),
                _ => {
                    errors.push(format!(
                        "addon.{key}: expected a number of days from 0 to {}, got {raw:?}",
                        Self::MAX_DAYS
                    ));
                    None
                }
            }
        };
        let suspend_raw = s("expiry_suspend_after_days");
        let suspend_after_days = match suspend_raw.trim() {
            "" => None,
            raw => days(raw, "expiry_suspend_after_days", errors),
        };
        let mut remind_days: Vec<u32> = s("expiry_remind_days")
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .filter_map(|d| days(d, "expiry_remind_days", errors))
            .collect();
        remind_days.sort_unstable_by(|a, b| b.cmp(a));
        remind_days.dedup();
        let unsuspend_on_payment = match s("expiry_unsuspend_on_payment").trim() {
            "" => suspend_after_days.is_some(),
            v => parse_switch(v, "addon.expiry_unsuspend_on_payment", errors),
        };
        ExpiryPolicy {
            suspend_after_days,
            remind_days,
            unsuspend_on_payment,
        }
    }

    fn describe(&self) -> [(&'static str, String); 3] {
        let days = self
            .remind_days
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>();
        [
            (
                "expiry_suspend_after_days",
                self.suspend_after_days
                    .map_or("(off)".into(), |d| d.to_string()),
            ),
            (
                "expiry_remind_days",
                if days.is_empty() {
                    "(off)".into()
                } else {
                    days.join(",")
                },
            ),
            (
                "expiry_unsuspend_on_payment",
                (self.unsuspend_on_payment as u8).to_string(),
            ),
        ]
    }
}

pub const ADDON_KEYS: &[&str] = &[
    "provision_server_url",
    "site_name",
    "support_email",
    "chatwoot_url",
    "chatwoot_api_token",
    "alipay_enabled",
    "alipay_app_id",
    "alipay_merchant_private_key",
    "alipay_public_key",
    "alipay_sandbox",
    "alipay_seller_id",
    "alipay_app_cert_path",
    "alipay_cert_path",
    "alipay_root_cert_path",
    "wechat_enabled",
    "wechat_app_id",
    "wechat_mch_id",
    "wechat_api_v3_key",
    "wechat_cert_path",
    "wechat_key_path",
    "wechat_sandbox",
    "provision_api_key",
    "expiry_suspend_after_days",
    "expiry_remind_days",
    "expiry_unsuspend_on_payment",
];

const SECRET_ADDON_KEYS: &[&str] = &[
    "chatwoot_api_token",
    "alipay_merchant_private_key",
    "wechat_api_v3_key",
    "provision_api_key",
];

const SERVER_KEYS: &[&str] = &[
    "listen",
    "database_url",
    "table_prefix",
    "admin_entry",
    "public_base_url",
    "session_secret",
    "gateway_aes_key",
    "trusted_proxies",
    "timezone",
    "register_timeout_secs",
    "max_body_bytes",
    "php_session_dir",
    "php_session_redis_url",
    "php_session_redis_prefix",
    "php_session_redis_timeout_ms",
    "fastadmin_token_key",
    "alipay_gateway_url",
    "wechat_api_base",
    "wechat_platform_public_key",
    "log_json",
    "provision_worker",
    "provision_call_timeout_secs",
    "pay_order_expire_secs",
    "pay_query_first_secs",
    "pay_return_query_ms",
    "pay_sweep",
    "pay_reconcile_daily",
    "wechat_platform_serial",
    "wechat_platform_certificates",
    "db_pool_max",
    "session_max_lifetime_secs",
    "db_checkout_timeout_ms",
    "request_timeout_ms",
    "register_attempts_per_address",
];

impl AddonConfig {
    /// The original's `config.php` defaults.
    pub fn defaults() -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        for (k, v) in [
            ("provision_server_url", "http://CoPaw:5566"),
            ("site_name", "ChatHub"),
            ("support_email", ""),
            ("chatwoot_url", "https://chatwoot.275763.xyz"),
            ("chatwoot_api_token", ""),
            ("alipay_enabled", "0"),
            ("alipay_app_id", ""),
            ("alipay_merchant_private_key", ""),
            ("alipay_public_key", ""),
            ("alipay_sandbox", "1"),
            ("alipay_seller_id", ""),
            ("alipay_app_cert_path", ""),
            ("alipay_cert_path", ""),
            ("alipay_root_cert_path", ""),
            ("wechat_enabled", "0"),
            ("wechat_app_id", ""),
            ("wechat_mch_id", ""),
            ("wechat_api_v3_key", ""),
            ("wechat_cert_path", ""),
            ("wechat_key_path", ""),
            ("wechat_sandbox", "1"),
            ("provision_api_key", DEFAULT_PROVISION_API_KEY),
            ("expiry_suspend_after_days", ""),
            ("expiry_remind_days", ""),
            ("expiry_unsuspend_on_payment", ""),
        ] {
            m.insert(k.to_string(), v.to_string());
        }
        m
    }

    fn from_map(m: &BTreeMap<String, String>, errors: &mut Vec<String>) -> AddonConfig {
        let s = |k: &str| m.get(k).cloned().unwrap_or_default();
        let flag =
            |k: &str, errors: &mut Vec<String>| parse_switch(&s(k), &format!("addon.{k}"), errors);
        let provision_server_url = s("provision_server_url");
        if !(provision_server_url.starts_with("http://")
            || provision_server_url.starts_with("https://"))
        {
            errors.push(format!(
                "addon.provision_server_url: must be an http(s) URL, got {provision_server_url:?}"
            ));
        }
        let api_key = s("provision_api_key");
        let cert_paths = [
            "alipay_app_cert_path",
            "alipay_cert_path",
            "alipay_root_cert_path",
        ];
        let set = cert_paths
            .iter()
            .filter(|k| !s(k).trim().is_empty())
            .count();
        if set != 0 && set != cert_paths.len() {
            errors.push(
                "addon.alipay_app_cert_path, alipay_cert_path, alipay_root_cert_path: \
                 certificate mode needs all three files (or none, for public-key mode)"
                    .into(),
            );
        }
        AddonConfig {
            provision_server_url,
            site_name: s("site_name"),
            support_email: s("support_email"),
            chatwoot_url: s("chatwoot_url"),
            chatwoot_api_token: s("chatwoot_api_token").into(),
            alipay_enabled: flag("alipay_enabled", errors),
            alipay_app_id: s("alipay_app_id"),
            alipay_merchant_private_key: s("alipay_merchant_private_key").into(),
            alipay_public_key: s("alipay_public_key"),
            alipay_sandbox: flag("alipay_sandbox", errors),
            alipay_seller_id: s("alipay_seller_id").trim().to_string(),
            alipay_app_cert_path: s("alipay_app_cert_path").trim().to_string(),
            alipay_cert_path: s("alipay_cert_path").trim().to_string(),
            alipay_root_cert_path: s("alipay_root_cert_path").trim().to_string(),
            wechat_enabled: flag("wechat_enabled", errors),
            wechat_app_id: s("wechat_app_id"),
            wechat_mch_id: s("wechat_mch_id"),
            wechat_api_v3_key: s("wechat_api_v3_key").into(),
            wechat_cert_path: s("wechat_cert_path"),
            wechat_key_path: s("wechat_key_path"),
            wechat_sandbox: flag("wechat_sandbox", errors),
            provision_api_key: if api_key.is_empty() {
                DEFAULT_PROVISION_API_KEY.into()
            } else {
                api_key.into()
            },
            expiry: ExpiryPolicy::from_map(&s, errors),
        }
    }

    pub fn provision_api_key(&self) -> &str {
        self.provision_api_key.expose_secret()
    }

    /// Alipay in public-key-certificate mode (the three certificate files are set).
    pub fn alipay_cert_mode(&self) -> bool {
        !self.alipay_app_cert_path.is_empty()
    }
}

/// FastAdmin stores switches as "0"/"1"; accept the usual spellings of booleans too.
fn parse_switch(v: &str, key: &str, errors: &mut Vec<String>) -> bool {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => true,
        "0" | "false" | "off" | "no" | "" => false,
        other => {
            errors.push(format!("{key}: expected 0 or 1, got {other:?}"));
            false
        }
    }
}

/// Where ThinkPHP's `redis` session driver keeps sessions: the value of `<prefix><session id>`
/// (the driver's `session_name` setting is the prefix) is PHP's serialised session.
#[derive(Clone)]
pub struct RedisSessions {
    /// `redis://[:password@]host[:port][/db]`; the password makes it a secret.
    pub url: SecretString,
    pub key_prefix: String,
    /// Bound on connecting and reading one session; past it the visitor is not signed in.
    pub timeout: Duration,
}

/// Bytes that must not be printed.
#[derive(Clone)]
pub struct SecretBytes(Vec<u8>);
impl SecretBytes {
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}
impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// An address range in CIDR notation (a bare address is a /32 or /128).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn parse(s: &str) -> Option<IpNet> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(IpNet { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.prefix)
                };
                u32::from(n) & mask == u32::from(i) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.prefix)
                };
                u128::from(n) & mask == u128::from(i) & mask
            }
            _ => false,
        }
    }
}

/// Command-line inputs that influence configuration.
#[derive(Clone, Debug, Default)]
pub struct ConfigSources {
    pub config_file: Option<PathBuf>,
    pub fastadmin_root: Option<PathBuf>,
}

#[derive(Debug)]
pub struct ConfigErrors(pub Vec<String>);
impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration ({} problem(s)):", self.0.len())?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}
impl std::error::Error for ConfigErrors {}

impl Config {
    /// Load from the process environment and the given sources.
    pub fn load(sources: &ConfigSources) -> Result<Config, ConfigErrors> {
        let env: BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("CHATHUB_"))
            .collect();
        Self::load_with_env(sources, &env)
    }

    /// Load with an explicit environment (tests pass their own).
    pub fn load_with_env(
        sources: &ConfigSources,
        env: &BTreeMap<String, String>,
    ) -> Result<Config, ConfigErrors> {
        let mut errors = Vec::new();
        let mut server: BTreeMap<String, String> = BTreeMap::new();
        let mut addon = AddonConfig::defaults();
        let mut addon_config_php = None;

        // 1. An existing FastAdmin install, read in place.
        if let Some(root) = &sources.fastadmin_root {
            read_fastadmin_root(root, &mut server, &mut addon, &mut errors);
            let php = root.join("addons/chathub/config.php");
            if php.exists() {
                addon_config_php = Some(php);
            }
        }

        // 2. TOML file.
        let file = sources
            .config_file
            .clone()
            .or_else(|| env.get("CHATHUB_CONFIG").map(PathBuf::from));
        if let Some(path) = file {
            match std::fs::read_to_string(&path) {
                Ok(text) => read_toml(&text, &mut server, &mut addon, &mut errors),
                Err(e) => errors.push(format!("config: cannot read {}: {e}", path.display())),
            }
        }

        // 3. Environment.
        for (k, v) in env {
            let Some(rest) = k.strip_prefix("CHATHUB_") else {
                continue;
            };
            let lower = rest.to_ascii_lowercase();
            if let Some(ak) = lower.strip_prefix("addon_") {
                if ADDON_KEYS.contains(&ak) {
                    addon.insert(ak.to_string(), v.clone());
                } else {
                    errors.push(format!("{k}: unknown addon key {ak:?}"));
                }
            } else if SERVER_KEYS.contains(&lower.as_str()) {
                server.insert(lower, v.clone());
            }
        }

        let addon_cfg = AddonConfig::from_map(&addon, &mut errors);
        let cfg = build_server(&server, addon_cfg, addon_config_php, &mut errors);
        if errors.is_empty() {
            let mut cfg = cfg.expect("no errors means a config");
            cfg.loaded_from = LoadedFrom {
                sources: sources.clone(),
                env: env.clone(),
            };
            Ok(cfg)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// Table name with the configured prefix.
    pub fn table(&self, name: &str) -> String {
        format!("{}{}", self.table_prefix, name)
    }

    /// The effective configuration with secrets masked, one `key = value` per line.
    // Long on purpose: one line per key of `--print-config`, in README's table order.
    pub fn describe(&self) -> String {
        let mask = |present: bool| if present { "****** (set)" } else { "(empty)" };
        let mut out = String::new();
        let mut line = |k: &str, v: String| out.push_str(&format!("{k} = {v}\n"));
        line("listen", self.listen.to_string());
        line("database_url", mask_url(self.database_url.expose_secret()));
        line("table_prefix", self.table_prefix.clone());
        line("admin_entry", self.admin_entry.clone());
        line("public_base_url", self.public_base_url.clone());
        line(
            "session_secret",
            mask(!self.session_secret.expose_secret().is_empty()).into(),
        );
        line(
            "gateway_aes_key",
            mask(self.gateway_aes_key.is_some()).into(),
        );
        line(
            "trusted_proxies",
            format!(
                "{:?}",
                self.trusted_proxies
                    .iter()
                    .map(|n| format!("{}/{}", n.addr, n.prefix))
                    .collect::<Vec<_>>()
            ),
        );
        line("timezone", self.timezone.to_string());
        line(
            "register_timeout_secs",
            self.register_timeout.as_secs().to_string(),
        );
        line("max_body_bytes", self.max_body_bytes.to_string());
        line("php_session_dir", format!("{:?}", self.php_session_dir));
        let redis = self.php_session_redis.as_ref();
        line(
            "php_session_redis_url",
            redis.map_or("(empty)".into(), |r| mask_url(r.url.expose_secret())),
        );
        line(
            "php_session_redis_prefix",
            redis.map_or(String::new(), |r| r.key_prefix.clone()),
        );
        line(
            "php_session_redis_timeout_ms",
            redis
                .map_or(PHP_SESSION_REDIS_TIMEOUT_MS, |r| {
                    r.timeout.as_millis() as u64
                })
                .to_string(),
        );
        line(
            "fastadmin_token_key",
            mask(self.fastadmin_token_key.is_some()).into(),
        );
        line(
            "alipay_gateway_url",
            format!("{:?}", self.alipay_gateway_url),
        );
        line("wechat_api_base", self.wechat_api_base.clone());
        line(
            "wechat_platform_public_key",
            mask(self.wechat_platform_public_key.is_some()).into(),
        );
        line("provision_worker", self.provision_worker.to_string());
        line(
            "provision_call_timeout_secs",
            self.provision_call_timeout.as_secs().to_string(),
        );
        line(
            "pay_order_expire_secs",
            self.pay.order_expire_secs.to_string(),
        );
        line(
            "pay_query_first_secs",
            self.pay.query_first_secs.to_string(),
        );
        line(
            "pay_return_query_ms",
            self.pay.return_query.as_millis().to_string(),
        );
        line("pay_sweep", self.pay.sweep.to_string());
        line("pay_reconcile_daily", self.pay.reconcile_daily.to_string());
        line(
            "wechat_platform_serial",
            format!("{:?}", self.pay.wechat_platform_serial),
        );
        line(
            "wechat_platform_certificates",
            self.pay.wechat_platform_certificates.to_string(),
        );
        line("db_pool_max", self.db_pool_max.to_string());
        line(
            "session_max_lifetime_secs",
            self.session_max_lifetime_secs.to_string(),
        );
        line(
            "db_checkout_timeout_ms",
            self.db_checkout_timeout.as_millis().to_string(),
        );
        line(
            "request_timeout_ms",
            self.request_timeout.as_millis().to_string(),
        );
        line(
            "register_attempts_per_address",
            self.register_attempts_per_address.to_string(),
        );
        let a = &self.addon;
        let addon_pairs: Vec<(&str, String)> = vec![
            ("provision_server_url", a.provision_server_url.clone()),
            ("site_name", a.site_name.clone()),
            ("support_email", a.support_email.clone()),
            ("chatwoot_url", a.chatwoot_url.clone()),
            (
                "chatwoot_api_token",
                a.chatwoot_api_token.expose_secret().to_string(),
            ),
            ("alipay_enabled", (a.alipay_enabled as u8).to_string()),
            ("alipay_app_id", a.alipay_app_id.clone()),
            (
                "alipay_merchant_private_key",
                a.alipay_merchant_private_key.expose_secret().to_string(),
            ),
            (
                "alipay_public_key",
                if a.alipay_public_key.is_empty() {
                    "(empty)".into()
                } else {
                    "(set)".into()
                },
            ),
            ("alipay_sandbox", (a.alipay_sandbox as u8).to_string()),
            ("alipay_seller_id", a.alipay_seller_id.clone()),
            ("alipay_app_cert_path", a.alipay_app_cert_path.clone()),
            ("alipay_cert_path", a.alipay_cert_path.clone()),
            ("alipay_root_cert_path", a.alipay_root_cert_path.clone()),
            ("wechat_enabled", (a.wechat_enabled as u8).to_string()),
            ("wechat_app_id", a.wechat_app_id.clone()),
            ("wechat_mch_id", a.wechat_mch_id.clone()),
            (
                "wechat_api_v3_key",
                a.wechat_api_v3_key.expose_secret().to_string(),
            ),
            ("wechat_cert_path", a.wechat_cert_path.clone()),
            ("wechat_key_path", a.wechat_key_path.clone()),
            ("wechat_sandbox", (a.wechat_sandbox as u8).to_string()),
            (
                "provision_api_key",
                a.provision_api_key.expose_secret().to_string(),
            ),
        ];
        let addon_pairs = addon_pairs.into_iter().chain(a.expiry.describe());
        for (k, v) in addon_pairs {
            let shown = if SECRET_ADDON_KEYS.contains(&k) {
                mask(!v.is_empty()).to_string()
            } else {
                v
            };
            line(&format!("addon.{k}"), shown);
        }
        out
    }
}

fn mask_url(url: &str) -> String {
    // mysql://user:password@host/db -> mysql://user:******@host/db
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((cred, host)) = rest.rsplit_once('@')
    {
        let user = cred.split(':').next().unwrap_or("");
        return format!("{scheme}://{user}:******@{host}");
    }
    url.to_string()
}

// Long on purpose: one key after another in README's table order, each read, defaulted and
// checked in a few independent lines, every problem collected; split, they would only scatter.
fn build_server(
    m: &BTreeMap<String, String>,
    addon: AddonConfig,
    addon_config_php: Option<PathBuf>,
    errors: &mut Vec<String>,
) -> Option<Config> {
    let get = |k: &str| {
        m.get(k)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };

    let listen = get("listen").unwrap_or_else(|| "127.0.0.1:8080".into());
    let listen: SocketAddr = match listen.parse() {
        Ok(a) => a,
        Err(_) => {
            errors.push(format!("listen: not a socket address: {listen:?}"));
            "127.0.0.1:8080".parse().expect("literal address")
        }
    };

    let database_url = get("database_url").unwrap_or_default();
    if database_url.is_empty() {
        errors.push("database_url: required (mysql://user:pass@host:port/db)".into());
    } else if !database_url.starts_with("mysql://") {
        errors.push("database_url: must start with mysql://".into());
    }

    let table_prefix = m
        .get("table_prefix")
        .cloned()
        .unwrap_or_else(|| "fa_".into());
    if !table_prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        errors.push(format!(
            "table_prefix: only letters, digits and _ allowed, got {table_prefix:?}"
        ));
    }

    let admin_entry = get("admin_entry").unwrap_or_else(|| "admin.php".into());
    let admin_entry = admin_entry.trim_start_matches('/').to_string();
    if !admin_entry.ends_with(".php") || admin_entry.contains('/') {
        errors.push(format!(
            "admin_entry: expected a file name like pGTnXkhdmy.php, got {admin_entry:?}"
        ));
    }

    let public_base_url = get("public_base_url").unwrap_or_else(|| format!("http://{listen}"));
    if !(public_base_url.starts_with("http://") || public_base_url.starts_with("https://")) {
        errors.push(format!(
            "public_base_url: must be an http(s) URL, got {public_base_url:?}"
        ));
    }
    let public_base_url = public_base_url.trim_end_matches('/').to_string();

    let session_secret = get("session_secret").unwrap_or_default();
    if session_secret.len() < 32 {
        errors.push("session_secret: required, at least 32 characters".into());
    }

    let gateway_aes_key = match get("gateway_aes_key") {
        None => None,
        Some(b64) => match base64::engine::general_purpose::STANDARD.decode(b64.as_bytes()) {
            Ok(k) if k.len() == 32 => Some(SecretBytes(k)),
            Ok(k) => {
                errors.push(format!(
                    "gateway_aes_key: must decode to 32 bytes, got {}",
                    k.len()
                ));
                None
            }
            Err(_) => {
                errors.push("gateway_aes_key: not valid base64".into());
                None
            }
        },
    };

    let mut trusted_proxies = Vec::new();
    if let Some(list) = get("trusted_proxies") {
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match IpNet::parse(item) {
                Some(n) => trusted_proxies.push(n),
                None => errors.push(format!(
                    "trusted_proxies: not an address or CIDR range: {item:?}"
                )),
            }
        }
    }

    let timezone = match get("timezone") {
        None => chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset"),
        Some(tz) => match parse_offset(&tz) {
            Some(o) => o,
            None => {
                errors.push(format!(
                    "timezone: expected an offset like +08:00, got {tz:?}"
                ));
                chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset")
            }
        },
    };

    let register_timeout = parse_num(
        get("register_timeout_secs"),
        25,
        "register_timeout_secs",
        errors,
    );
    if !(1..=55).contains(&register_timeout) {
        errors.push("register_timeout_secs: must be between 1 and 55 (nginx waits 60 s)".into());
    }
    let max_body_bytes =
        parse_num(get("max_body_bytes"), 1024 * 1024, "max_body_bytes", errors) as usize;

    let log_json = match get("log_json") {
        None => false,
        Some(v) => parse_switch(&v, "log_json", errors),
    };

    let db_pool_max = parse_num(get("db_pool_max"), 32, "db_pool_max", errors) as usize;
    if !(2..=1000).contains(&db_pool_max) {
        errors.push("db_pool_max: must be between 2 and 1000".into());
    }
    let session_max_lifetime_secs = parse_num(
        get("session_max_lifetime_secs"),
        30 * 86_400,
        "session_max_lifetime_secs",
        errors,
    );
    if !(3_600..=366 * 86_400).contains(&session_max_lifetime_secs) {
        errors.push(
            "session_max_lifetime_secs: must be between 3600 (an hour) and 31622400 (a year)"
                .into(),
        );
    }
    let db_checkout_timeout_ms = parse_num(
        get("db_checkout_timeout_ms"),
        5000,
        "db_checkout_timeout_ms",
        errors,
    );
    if !(100..=60_000).contains(&db_checkout_timeout_ms) {
        errors.push("db_checkout_timeout_ms: must be between 100 and 60000".into());
    }
    // At least the checkout bound (a request's first wait), whole seconds being what
    // `innodb_lock_wait_timeout` takes: by default 10 s, or the checkout bound if larger.
    let request_timeout_ms = match get("request_timeout_ms") {
        None => db_checkout_timeout_ms.clamp(10_000, 60_000),
        v => {
            let ms = parse_num(v, 10_000, "request_timeout_ms", errors);
            if !(1_000..=60_000).contains(&ms) {
                errors.push("request_timeout_ms: must be between 1000 and 60000".into());
            } else if ms < db_checkout_timeout_ms {
                errors.push(format!(
                    "request_timeout_ms: must be at least db_checkout_timeout_ms ({db_checkout_timeout_ms})"
                ));
            }
            ms
        }
    };
    let register_attempts_per_address = parse_num(
        get("register_attempts_per_address"),
        20,
        "register_attempts_per_address",
        errors,
    );
    if register_attempts_per_address > 1_000_000 {
        errors.push("register_attempts_per_address: must be at most 1000000 (0: no limit)".into());
    }
    let provision_worker = match get("provision_worker") {
        None => true,
        Some(v) => parse_switch(&v, "provision_worker", errors),
    };

    let provision_call_timeout = parse_num(
        get("provision_call_timeout_secs"),
        20,
        "provision_call_timeout_secs",
        errors,
    );
    if !(1..=55).contains(&provision_call_timeout) {
        errors.push(
            "provision_call_timeout_secs: must be between 1 and 55 (nginx waits 60 s)".into(),
        );
    }

    let pay = pay_settings(&get, provision_worker, errors);

    let wechat_platform_public_key = match get("wechat_platform_public_key") {
        Some(v) if !v.contains("-----BEGIN") && Path::new(&v).exists() => {
            match std::fs::read_to_string(&v) {
                Ok(pem) => Some(pem),
                Err(e) => {
                    errors.push(format!("wechat_platform_public_key: cannot read {v}: {e}"));
                    None
                }
            }
        }
        other => other,
    };

    let php_session_dir = get("php_session_dir").map(PathBuf::from);
    let php_session_redis = php_session_redis(&get, php_session_dir.is_some(), errors);

    if !errors.is_empty() {
        return None;
    }
    Some(Config {
        listen,
        database_url: database_url.into(),
        table_prefix,
        admin_entry,
        public_base_url,
        session_secret: session_secret.into(),
        gateway_aes_key,
        trusted_proxies,
        timezone,
        register_timeout: Duration::from_secs(register_timeout),
        max_body_bytes,
        php_session_dir,
        php_session_redis,
        fastadmin_token_key: get("fastadmin_token_key").map(Into::into),
        alipay_gateway_url: get("alipay_gateway_url"),
        wechat_api_base: get("wechat_api_base")
            .unwrap_or_else(|| "https://api.mch.weixin.qq.com".into()),
        wechat_platform_public_key,
        log_json,
        provision_worker,
        provision_call_timeout: Duration::from_secs(provision_call_timeout),
        pay,
        db_pool_max,
        session_max_lifetime_secs: session_max_lifetime_secs as i64,
        db_checkout_timeout: Duration::from_millis(db_checkout_timeout_ms),
        request_timeout: Duration::from_millis(request_timeout_ms),
        register_attempts_per_address: register_attempts_per_address as u32,
        addon,
        addon_config_php,
        loaded_from: LoadedFrom::default(),
    })
}

/// Default bound on one read of a Redis-kept PHP session.
const PHP_SESSION_REDIS_TIMEOUT_MS: u64 = 500;

fn php_session_redis(
    get: &dyn Fn(&str) -> Option<String>,
    has_dir: bool,
    errors: &mut Vec<String>,
) -> Option<RedisSessions> {
    let timeout_ms = parse_num(
        get("php_session_redis_timeout_ms"),
        PHP_SESSION_REDIS_TIMEOUT_MS,
        "php_session_redis_timeout_ms",
        errors,
    );
    if !(50..=5_000).contains(&timeout_ms) {
        errors.push("php_session_redis_timeout_ms: must be between 50 and 5000".into());
    }
    let url = get("php_session_redis_url")?;
    if has_dir {
        // Each PHP site has one session handler; two stores would be a config mistake.
        errors.push(
            "php_session_redis_url: set either php_session_dir (files) or php_session_redis_url, not both"
                .into(),
        );
    }
    // The parser's message may quote the URL, password included: never repeat it.
    if !url.starts_with("redis://")
        || redis::IntoConnectionInfo::into_connection_info(url.as_str()).is_err()
    {
        errors.push("php_session_redis_url: expected redis://[:password@]host[:port][/db]".into());
    }
    Some(RedisSessions {
        url: url.into(),
        key_prefix: get("php_session_redis_prefix").unwrap_or_default(),
        timeout: Duration::from_millis(timeout_ms),
    })
}

fn pay_settings(
    get: &dyn Fn(&str) -> Option<String>,
    provision_worker: bool,
    errors: &mut Vec<String>,
) -> PaySettings {
    let order_expire_secs = parse_num(
        get("pay_order_expire_secs"),
        7200,
        "pay_order_expire_secs",
        errors,
    );
    // Alipay and WeChat Pay both take deadlines from a minute up to 15 days away; at least
    // 5 minutes leave a member time to pay.
    if !(300..=15 * 86_400).contains(&order_expire_secs) {
        errors.push("pay_order_expire_secs: must be between 300 and 1296000 (15 days)".into());
    }
    let query_first_secs = parse_num(
        get("pay_query_first_secs"),
        60,
        "pay_query_first_secs",
        errors,
    );
    if !(1..=3600).contains(&query_first_secs) {
        errors.push("pay_query_first_secs: must be between 1 and 3600".into());
    }
    let return_query_ms = parse_num(
        get("pay_return_query_ms"),
        3000,
        "pay_return_query_ms",
        errors,
    );
    // Inside `request_timeout_ms` with room for the page's own database work.
    if return_query_ms > 5_000 {
        errors.push("pay_return_query_ms: must be at most 5000 (0: no query)".into());
    }
    let sweep = match get("pay_sweep") {
        None => provision_worker,
        Some(v) => parse_switch(&v, "pay_sweep", errors),
    };
    PaySettings {
        order_expire_secs: order_expire_secs as i64,
        query_first_secs: query_first_secs as i64,
        return_query: Duration::from_millis(return_query_ms),
        sweep,
        wechat_platform_serial: get("wechat_platform_serial").filter(|s| !s.trim().is_empty()),
        wechat_platform_certificates: match get("wechat_platform_certificates") {
            None => false,
            Some(v) => parse_switch(&v, "wechat_platform_certificates", errors),
        },
        reconcile_daily: get("pay_reconcile_daily")
            .is_some_and(|v| parse_switch(&v, "pay_reconcile_daily", errors)),
    }
}

fn parse_num(v: Option<String>, default: u64, key: &str, errors: &mut Vec<String>) -> u64 {
    match v {
        None => default,
        Some(s) => s.parse().unwrap_or_else(|_| {
            errors.push(format!("{key}: not a number: {s:?}"));
            default
        }),
    }
}

fn parse_offset(s: &str) -> Option<chrono::FixedOffset> {
    if s.eq_ignore_ascii_case("Asia/Shanghai") || s.eq_ignore_ascii_case("PRC") {
        return chrono::FixedOffset::east_opt(8 * 3600);
    }
    if s.eq_ignore_ascii_case("UTC") {
        return chrono::FixedOffset::east_opt(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let secs = h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60;
    chrono::FixedOffset::east_opt(sign * secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef-secret";

    /// The configuration from the required keys plus `extra`.
    fn load(extra: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        let mut pairs = vec![
            ("CHATHUB_DATABASE_URL", "mysql://root@127.0.0.1/x"),
            ("CHATHUB_SESSION_SECRET", SECRET),
        ];
        pairs.extend_from_slice(extra);
        Config::load_with_env(&ConfigSources::default(), &env(&pairs))
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let e = Config::load_with_env(
            &ConfigSources::default(),
            &env(&[
                ("CHATHUB_LISTEN", "nope"),
                ("CHATHUB_GATEWAY_AES_KEY", "AAAA"),
                ("CHATHUB_ADDON_ALIPAY_ENABLED", "maybe"),
            ]),
        )
        .err()
        .expect("invalid");
        let all = e.to_string();
        for key in [
            "listen",
            "database_url",
            "session_secret",
            "gateway_aes_key",
            "addon.alipay_enabled",
        ] {
            assert!(all.contains(key), "{key} missing in {all}");
        }
    }

    #[test]
    fn the_request_bound_defaults_to_10_s_and_never_undercuts_the_checkout_bound() {
        let bound = |extra: &[(&str, &str)]| load(extra).unwrap().request_timeout;
        assert_eq!(bound(&[]), Duration::from_secs(10));
        assert_eq!(
            bound(&[("CHATHUB_DB_CHECKOUT_TIMEOUT_MS", "20000")]),
            Duration::from_secs(20)
        );
        assert_eq!(
            bound(&[
                ("CHATHUB_REQUEST_TIMEOUT_MS", "2500"),
                ("CHATHUB_DB_CHECKOUT_TIMEOUT_MS", "1000"),
            ]),
            Duration::from_millis(2500)
        );
        for (value, checkout) in [
            ("999", "100"),
            ("60001", "5000"),
            ("x", "5000"),
            ("4000", "5000"),
        ] {
            let e = load(&[
                ("CHATHUB_REQUEST_TIMEOUT_MS", value),
                ("CHATHUB_DB_CHECKOUT_TIMEOUT_MS", checkout),
            ])
            .err()
            .unwrap_or_else(|| panic!("{value} accepted"));
            assert!(e.to_string().contains("request_timeout_ms"), "{e}");
        }
    }

    #[test]
    fn env_overrides_toml_and_defaults_apply() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            format!(
                "database_url = \"mysql://root@127.0.0.1/x\"\nsession_secret = \"{SECRET}\"\n[addon]\nsite_name = \"FromToml\"\nalipay_enabled = true\n"
            ),
        )
        .unwrap();
        let cfg = Config::load_with_env(
            &ConfigSources {
                config_file: Some(p),
                fastadmin_root: None,
            },
            &env(&[("CHATHUB_ADDON_SITE_NAME", "FromEnv")]),
        )
        .unwrap();
        assert_eq!(cfg.addon.site_name, "FromEnv");
        assert!(cfg.addon.alipay_enabled);
        assert_eq!(cfg.table_prefix, "fa_");
        assert_eq!(cfg.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(cfg.addon.provision_api_key(), DEFAULT_PROVISION_API_KEY);
    }

    #[test]
    fn fastadmin_root_is_read_in_place_and_explicit_values_win() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env"),
            "[app]\ndebug = false\n[database]\nhostname = 10.0.0.5\ndatabase = fast\nusername = fa\npassword = p@ss\nhostport = 3307\nprefix = zz_\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("addons/chathub")).unwrap();
        std::fs::write(
            dir.path().join("addons/chathub/config.php"),
            "<?php\nreturn [\n  [\n    'name' => 'site_name',\n    'title' => '站点名称',\n    'content' => [],\n    'value' => 'Acme 客服',\n  ],\n  [\n    'name' => 'alipay_enabled',\n    'value' => '1',\n  ],\n  [\n    'name' => 'alipay_merchant_private_key',\n    'value' => \"-----BEGIN PRIVATE KEY-----\\nABC\\n-----END PRIVATE KEY-----\",\n  ],\n];\n",
        )
        .unwrap();
        let cfg = Config::load_with_env(
            &ConfigSources {
                config_file: None,
                fastadmin_root: Some(dir.path().to_path_buf()),
            },
            &env(&[
                ("CHATHUB_SESSION_SECRET", SECRET),
                ("CHATHUB_TABLE_PREFIX", "fa_"),
            ]),
        )
        .unwrap();
        assert_eq!(
            cfg.database_url.expose_secret(),
            "mysql://fa:p%40ss@10.0.0.5:3307/fast"
        );
        assert_eq!(
            cfg.table_prefix, "fa_",
            "explicit env wins over .env prefix"
        );
        assert_eq!(cfg.addon.site_name, "Acme 客服");
        assert!(cfg.addon.alipay_enabled);
        assert!(
            cfg.addon
                .alipay_merchant_private_key
                .expose_secret()
                .contains("\nABC\n")
        );
    }

    #[test]
    fn a_redis_session_store_is_read_from_application_config_php_and_env() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env"),
            "[database]\ndatabase = fast\nusername = fa\n[session]\nhost = 10.0.0.9\npassword = p@ss:w\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("application")).unwrap();
        std::fs::write(
            dir.path().join("application/config.php"),
            "<?php\nuse think\\Env;\nreturn [\n  'app_debug' => Env::get('app.debug', false),\n  'session' => [\n    'id' => '',\n    'prefix' => 'think',\n    'type' => 'redis', // 驱动方式\n    'host' => Env::get('session.host', '127.0.0.1'),\n    'port' => Env::get('session.port', 6380),\n    'password' => Env::get('session.password', ''),\n    'select' => 2,\n    'session_name' => 'fa_sess:',\n    'auto_start' => true,\n  ],\n  'token' => ['type' => 'Mysql', 'key' => 'i3d6o32wo8fvs1fvdpwens'],\n];\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("addons/chathub")).unwrap();
        std::fs::write(
            dir.path().join("addons/chathub/config.php"),
            "<?php return [];",
        )
        .unwrap();
        let sources = ConfigSources {
            config_file: None,
            fastadmin_root: Some(dir.path().to_path_buf()),
        };
        let cfg =
            Config::load_with_env(&sources, &env(&[("CHATHUB_SESSION_SECRET", SECRET)])).unwrap();
        let redis = cfg.php_session_redis.as_ref().expect("redis store");
        assert_eq!(
            redis.url.expose_secret(),
            "redis://:p%40ss%3Aw@10.0.0.9:6380/2"
        );
        assert_eq!(redis.key_prefix, "fa_sess:");
        assert_eq!(
            cfg.fastadmin_token_key.as_ref().unwrap().expose_secret(),
            "i3d6o32wo8fvs1fvdpwens"
        );
        let d = cfg.describe();
        assert!(
            !d.contains("p%40ss")
                && d.contains("php_session_redis_url = redis://:******@10.0.0.9:6380/2"),
            "{d}"
        );

        // Files and Redis at once is a mistake, said with the key.
        let e = Config::load_with_env(
            &sources,
            &env(&[
                ("CHATHUB_SESSION_SECRET", SECRET),
                ("CHATHUB_PHP_SESSION_DIR", "/var/lib/php/sessions"),
            ]),
        )
        .err()
        .expect("both stores refused");
        assert!(
            e.to_string().contains("php_session_redis_url: set either"),
            "{e}"
        );
        let e = Config::load_with_env(
            &ConfigSources::default(),
            &env(&[
                ("CHATHUB_DATABASE_URL", "mysql://root@127.0.0.1/x"),
                ("CHATHUB_SESSION_SECRET", SECRET),
                ("CHATHUB_PHP_SESSION_REDIS_URL", "http://:hunter2@host"),
            ]),
        )
        .err()
        .expect("not a redis URL");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn secrets_are_masked_in_the_description() {
        let cfg = Config::load_with_env(
            &ConfigSources::default(),
            &env(&[
                ("CHATHUB_DATABASE_URL", "mysql://root:hunter2@db/x"),
                ("CHATHUB_SESSION_SECRET", SECRET),
                ("CHATHUB_ADDON_WECHAT_API_V3_KEY", "v3-very-secret"),
            ]),
        )
        .unwrap();
        let d = cfg.describe();
        assert!(
            !d.contains("hunter2") && !d.contains(SECRET) && !d.contains("v3-very-secret"),
            "{d}"
        );
        assert!(d.contains("addon.site_name = ChatHub"));
    }

    #[test]
    fn trusted_proxy_ranges() {
        let n = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        assert!(
            IpNet::parse("127.0.0.1")
                .unwrap()
                .contains("::ffff:127.0.0.1".parse().unwrap())
        );
        assert!(IpNet::parse("10.0.0.0/40").is_none());
    }

    #[test]
    fn the_lifecycle_is_off_unless_set_and_its_days_are_checked() {
        let policy = |extra: &[(&str, &str)]| load(extra).unwrap().addon.expiry;
        assert_eq!(policy(&[]), ExpiryPolicy::default());
        assert!(!policy(&[]).manages_suspension());
        let on = policy(&[
            ("CHATHUB_ADDON_EXPIRY_SUSPEND_AFTER_DAYS", "3"),
            ("CHATHUB_ADDON_EXPIRY_REMIND_DAYS", "1, 7,3,7"),
        ]);
        assert_eq!(on.suspend_after_days, Some(3));
        assert_eq!(on.remind_days, [7, 3, 1]);
        assert!(on.unsuspend_on_payment, "follows suspension when unset");
        let kept = policy(&[
            ("CHATHUB_ADDON_EXPIRY_SUSPEND_AFTER_DAYS", "0"),
            ("CHATHUB_ADDON_EXPIRY_UNSUSPEND_ON_PAYMENT", "0"),
        ]);
        assert_eq!(kept.suspend_after_days, Some(0));
        assert!(!kept.unsuspend_on_payment);
        let e = load(&[
            ("CHATHUB_ADDON_EXPIRY_SUSPEND_AFTER_DAYS", "-1"),
            ("CHATHUB_ADDON_EXPIRY_REMIND_DAYS", "7,x"),
            ("CHATHUB_ADDON_EXPIRY_UNSUSPEND_ON_PAYMENT", "sometimes"),
        ])
        .err()
        .expect("invalid")
        .to_string();
        for key in [
            "addon.expiry_suspend_after_days",
            "addon.expiry_remind_days",
            "addon.expiry_unsuspend_on_payment",
        ] {
            assert!(e.contains(key), "{key} missing in {e}");
        }
        let printed = load(&[("CHATHUB_ADDON_EXPIRY_REMIND_DAYS", "3,7")])
            .unwrap()
            .describe();
        assert!(
            printed.contains("addon.expiry_suspend_after_days = (off)\n"),
            "{printed}"
        );
        assert!(
            printed.contains("addon.expiry_remind_days = 7,3\n"),
            "{printed}"
        );
        assert!(
            printed.contains("addon.expiry_unsuspend_on_payment = 0\n"),
            "{printed}"
        );
    }
}
