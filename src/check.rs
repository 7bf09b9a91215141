//! `chathub check`: one line per pre-flight check, so an operator sees every problem of a
//! site at once before switching nginx over.

use std::time::Duration;

use base64::Engine as _;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::{PrivateKey, PublicKey};
use secrecy::ExposeSecret as _;

use crate::config::Config;
use crate::db::{Db, schema};

/// How long one network check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Ok(String),
    Warn(String),
    Fail(String),
}

#[derive(Clone, Debug)]
pub struct CheckLine {
    pub name: &'static str,
    pub outcome: Outcome,
}

impl std::fmt::Display for CheckLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (tag, detail) = match &self.outcome {
            Outcome::Ok(d) => ("ok  ", d),
            Outcome::Warn(d) => ("WARN", d),
            Outcome::Fail(d) => ("FAIL", d),
        };
        write!(f, "{tag} {}: {detail}", self.name)
    }
}

/// Who asks: an operator (`chathub check`), or the service manager just before `serve`
/// (`--before-start`), where a provision server that is down must not keep the site down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    Asked,
    BeforeStart,
}

fn line(name: &'static str, outcome: Outcome) -> CheckLine {
    CheckLine { name, outcome }
}

/// Run every check against a valid config (config problems are reported before this).
pub async fn run_checks(config: &Config, when: When) -> Vec<CheckLine> {
    let mut out = vec![line("config", Outcome::Ok("valid".into()))];
    out.extend(database_checks(config).await);
    out.push(provision_check(config, when).await);
    out.extend(payment_checks(config));
    out.extend(payment_key_checks(config, chrono::Utc::now().timestamp()));
    out.extend(wechat_certificates_check(config).await);
    out.push(trusted_proxies_check(config));
    out.push(line(
        "php sessions",
        crate::check_sessions::php_sessions(config, [Outcome::Ok, Outcome::Warn, Outcome::Fail])
            .await,
    ));
    out.push(admin_recognition_check(config));
    out.push(public_base_url_check(config));
    out.push(match config.gateway_aes_key {
        Some(_) => line("gateway_aes_key", Outcome::Ok("set".into())),
        None => line(
            "gateway_aes_key",
            Outcome::Warn(
                "not set: channel credentials are stored as plain JSON in credentials_encrypted"
                    .into(),
            ),
        ),
    });
    out
}

/// Behind nginx (how every site runs us), an empty `trusted_proxies` makes every member
/// nginx's address: one attacker's failed sign-ins block everyone, and cookies never get
/// `Secure`. `check` cannot see the proxy, so it says so loudly; `check --live` reads the
/// running server's count of requests forwarded by an untrusted peer and fails on it.
fn trusted_proxies_check(config: &Config) -> CheckLine {
    if config.trusted_proxies.is_empty() {
        line(
            "trusted_proxies",
            Outcome::Warn(
                "not set: behind nginx every member is seen as nginx's address (one sign-in \
                 limit for all, no Secure cookies); set trusted_proxies to nginx's address \
                 (e.g. 127.0.0.1)"
                    .into(),
            ),
        )
    } else {
        line(
            "trusted_proxies",
            Outcome::Ok(format!(
                "{} address range(s) whose X-Forwarded-For is believed",
                config.trusted_proxies.len()
            )),
        )
    }
}

/// Without a way to recognise the FastAdmin admin, every admin page (the ChatHub tenant list
/// in the panel) answers "请登录后再操作" after the switch.
fn admin_recognition_check(config: &Config) -> CheckLine {
    const NAME: &str = "admin recognition";
    let keeplogin = config.fastadmin_token_key.is_some();
    match &config.php_session_dir {
        Some(dir) if !dir.is_dir() => line(
            NAME,
            Outcome::Fail(format!(
                "php_session_dir {} is not a directory we can read: no admin session is \
                 recognised (PHP's session.save_path, e.g. /var/lib/php/sessions)",
                dir.display()
            )),
        ),
        Some(dir) if std::fs::read_dir(dir).is_err() => line(
            NAME,
            Outcome::Fail(format!(
                "php_session_dir {} cannot be listed by this user: give it read access to \
                 PHP's session files",
                dir.display()
            )),
        ),
        Some(dir) => line(
            NAME,
            Outcome::Ok(format!(
                "PHP sessions in {}{}",
                dir.display(),
                if keeplogin { ", keeplogin cookie" } else { "" }
            )),
        ),
        None if keeplogin => line(
            NAME,
            Outcome::Warn(
                "only the keeplogin cookie: admins signed in without \"keep login\" are not \
                 recognised; set php_session_dir"
                    .into(),
            ),
        ),
        // A warning, not a failure: a site may serve members only for a while.
        None => line(
            NAME,
            Outcome::Warn(
                "not configured: every admin page will answer 请登录后再操作; set \
                 php_session_dir (CHATHUB_PHP_SESSION_DIR) and/or fastadmin_token_key"
                    .into(),
            ),
        ),
    }
}

/// `public_base_url` goes into Alipay's notify and return URLs: a loopback host there means
/// the gateway can never reach us and paid orders are never credited.
fn public_base_url_check(config: &Config) -> CheckLine {
    const NAME: &str = "public_base_url";
    let host = config
        .public_base_url
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(&config.public_base_url)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let bare = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified());
    let payments = config.addon.alipay_enabled || config.addon.wechat_enabled;
    if loopback {
        let outcome = if payments {
            Outcome::Fail
        } else {
            Outcome::Warn
        };
        line(
            NAME,
            outcome(format!(
                "{} is a loopback address: Alipay's notify_url would point there and no \
                 payment notification could reach the site; set the site's public https URL",
                config.public_base_url
            )),
        )
    } else {
        line(NAME, Outcome::Ok(config.public_base_url.clone()))
    }
}

async fn database_checks(config: &Config) -> Vec<CheckLine> {
    let skipped = |why: &str| {
        vec![
            line("schema", Outcome::Fail(format!("not checked: {why}"))),
            line(
                "fa_user.password",
                Outcome::Fail(format!("not checked: {why}")),
            ),
        ]
    };
    let db = match Db::new(config) {
        Ok(db) => db,
        Err(e) => {
            let mut v = vec![line("database", Outcome::Fail(e.to_string()))];
            v.extend(skipped("database unreachable"));
            return v;
        }
    };
    let mut conn = match tokio::time::timeout(CHECK_TIMEOUT, db.pool.get_conn()).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            let mut v = vec![line("database", Outcome::Fail(format!("unreachable: {e}")))];
            v.extend(skipped("database unreachable"));
            return v;
        }
        Err(_) => {
            let mut v = vec![line(
                "database",
                Outcome::Fail(format!("no answer within {}s", CHECK_TIMEOUT.as_secs())),
            )];
            v.extend(skipped("database unreachable"));
            return v;
        }
    };
    let version = match schema::server_version(&mut conn).await {
        Ok(v) => v,
        Err(e) => {
            let mut v = vec![line("database", Outcome::Fail(e.to_string()))];
            v.extend(skipped("database unusable"));
            return v;
        }
    };
    let mut out = vec![line(
        "database",
        Outcome::Ok(format!("reachable (server {version})")),
    )];
    let prefix = &config.table_prefix;
    match schema::inspect(&mut conn, prefix).await {
        Err(e) => {
            out.push(line("schema", Outcome::Fail(e.to_string())));
            out.push(line("fa_user.password", Outcome::Fail(e.to_string())));
        }
        Ok(live) => {
            let problems = schema::verify(&live, prefix);
            out.push(if problems.is_empty() {
                line(
                    "schema",
                    Outcome::Ok(
                        "every addon table, column and enum value matches install.sql".into(),
                    ),
                )
            } else {
                line(
                    "schema",
                    Outcome::Fail(format!("{} (run `chathub migrate`)", problems.join("; "))),
                )
            });
            out.push(user_password_check(&live, prefix));
            if let Some(l) = user_username_check(&live, prefix) {
                out.push(l);
            }
        }
    }
    drop(conn);
    let _ = db.pool.disconnect().await;
    out
}

fn user_password_check(live: &schema::LiveSchema, prefix: &str) -> CheckLine {
    let table = format!("{prefix}user");
    let Some(user) = live.tables.get(&table) else {
        return line(
            "fa_user.password",
            Outcome::Fail(format!("table {table} missing (not a FastAdmin database?)")),
        );
    };
    let Some(col) = user.column("password") else {
        return line(
            "fa_user.password",
            Outcome::Fail(format!("{table}.password missing")),
        );
    };
    match schema::varchar_width(&col.column_type) {
        Some(w) if w < schema::BCRYPT_HASH_LEN => line(
            "fa_user.password",
            Outcome::Fail(format!(
                "{table}.password is varchar({w}) (stock FastAdmin): bcrypt hashes ({} chars) do not fit, new members and password changes fail; run `chathub migrate`",
                schema::BCRYPT_HASH_LEN
            )),
        ),
        _ => line(
            "fa_user.password",
            Outcome::Ok(format!("{} holds bcrypt hashes", col.column_type)),
        ),
    }
}

/// A stock `username varchar(32)` only stops emails longer than 32 characters: a warning.
fn user_username_check(live: &schema::LiveSchema, prefix: &str) -> Option<CheckLine> {
    let table = format!("{prefix}user");
    let col = live.tables.get(&table)?.column("username")?;
    Some(match schema::varchar_width(&col.column_type) {
        Some(w) if w < schema::USER_USERNAME_WIDTH => line(
            "fa_user.username",
            Outcome::Warn(format!(
                "{table}.username is varchar({w}): emails longer than {w} characters cannot register; run `chathub migrate`"
            )),
        ),
        _ => line(
            "fa_user.username",
            Outcome::Ok(format!("{} holds long emails", col.column_type)),
        ),
    })
}

async fn provision_check(config: &Config, when: When) -> CheckLine {
    let down = |why: String| match when {
        When::Asked => Outcome::Fail(why),
        When::BeforeStart => Outcome::Warn(format!(
            "{why} (the service starts anyway: sign-ups wait for it, the worker retries)"
        )),
    };
    let addon = &config.addon;
    let url = format!(
        "{}/health",
        addon.provision_server_url.trim_end_matches('/')
    );
    let client = match reqwest::Client::builder().timeout(CHECK_TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => return line("provision", down(e.to_string())),
    };
    match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => line(
            "provision",
            Outcome::Ok(format!("{url} answers {}", r.status())),
        ),
        Ok(r) => line("provision", down(format!("{url} answers {}", r.status()))),
        Err(e) if e.is_timeout() => line(
            "provision",
            down(format!(
                "{url}: no answer within {}s",
                CHECK_TIMEOUT.as_secs()
            )),
        ),
        Err(e) if e.is_connect() => line("provision", down(format!("{url}: cannot connect"))),
        Err(e) => line("provision", down(format!("{url}: {e}"))),
    }
}

fn payment_checks(config: &Config) -> Vec<CheckLine> {
    let a = &config.addon;
    let mut out = Vec::new();
    if a.alipay_enabled {
        let mut problems = Vec::new();
        if a.alipay_app_id.trim().is_empty() {
            problems.push("alipay_app_id empty".to_string());
        }
        if let Err(e) = parse_rsa_private_key(a.alipay_merchant_private_key.expose_secret()) {
            problems.push(format!("alipay_merchant_private_key: {e}"));
        }
        if let Err(e) = parse_rsa_public_key(&a.alipay_public_key) {
            problems.push(format!("alipay_public_key: {e}"));
        }
        out.push(if problems.is_empty() {
            line("alipay", Outcome::Ok("keys parse".into()))
        } else {
            line("alipay", Outcome::Fail(problems.join("; ")))
        });
    } else {
        out.push(line("alipay", Outcome::Ok("disabled".into())));
    }
    if a.wechat_enabled {
        let mut problems = Vec::new();
        for (key, value) in [
            ("wechat_app_id", &a.wechat_app_id),
            ("wechat_mch_id", &a.wechat_mch_id),
        ] {
            if value.trim().is_empty() {
                problems.push(format!("{key} empty"));
            }
        }
        if a.wechat_api_v3_key.expose_secret().len() != 32 {
            problems.push("wechat_api_v3_key must be 32 characters".to_string());
        }
        for (key, path) in [
            ("wechat_cert_path", &a.wechat_cert_path),
            ("wechat_key_path", &a.wechat_key_path),
        ] {
            if path.trim().is_empty() {
                problems.push(format!("{key} empty"));
                continue;
            }
            match std::fs::read_to_string(path) {
                Err(e) => problems.push(format!("{key}: cannot read {path}: {e}")),
                Ok(text) if key == "wechat_key_path" => {
                    if let Err(e) = parse_rsa_private_key(&text) {
                        problems.push(format!("{key}: {path}: {e}"));
                    }
                }
                Ok(text) => {
                    if !text.contains("-----BEGIN CERTIFICATE-----") {
                        problems.push(format!("{key}: {path} is not a PEM certificate"));
                    }
                }
            }
        }
        out.push(if problems.is_empty() {
            line("wechat", Outcome::Ok("key and certificate readable".into()))
        } else {
            line("wechat", Outcome::Fail(problems.join("; ")))
        });
    } else {
        out.push(line("wechat", Outcome::Ok("disabled".into())));
    }
    out
}

/// A certificate this close to expiry gets a warning.
const CERT_WARN_DAYS: i64 = 30;

fn expiry(what: &str, cert: &crate::clients::pay::cert::Cert, now: i64) -> (String, u8) {
    let days = cert.days_left(now);
    if days < 0 {
        (format!("{what} expired {} days ago", -days), 2)
    } else if days < CERT_WARN_DAYS {
        (format!("{what} expires in {days} days: renew it"), 1)
    } else {
        (format!("{what} expires in {days} days"), 0)
    }
}

fn graded(name: &'static str, parts: Vec<(String, u8)>) -> CheckLine {
    let worst = parts.iter().map(|(_, g)| *g).max().unwrap_or(0);
    let text = parts
        .into_iter()
        .map(|(t, _)| t)
        .collect::<Vec<_>>()
        .join("; ");
    line(
        name,
        match worst {
            0 => Outcome::Ok(text),
            1 => Outcome::Warn(text),
            _ => Outcome::Fail(text),
        },
    )
}

/// Which key mode each gateway is in, whether its keys and certificates parse, whether the
/// Alipay chain verifies, and how long each certificate has left (README: payment keys).
pub fn payment_key_checks(config: &Config, now: i64) -> Vec<CheckLine> {
    use crate::clients::pay::cert;
    let a = &config.addon;
    let mut out = Vec::new();
    if a.alipay_enabled && a.alipay_cert_mode() {
        let read = |name: &str, path: &str| {
            std::fs::read_to_string(path)
                .map_err(|e| format!("{name}: cannot read {path}: {e}"))
                .and_then(|t| cert::parse_pem_chain(&t).map_err(|e| format!("{name}: {path}: {e}")))
        };
        let files = (
            read("alipay_app_cert_path", &a.alipay_app_cert_path),
            read("alipay_cert_path", &a.alipay_cert_path),
            read("alipay_root_cert_path", &a.alipay_root_cert_path),
        );
        out.push(match files {
            (Ok(app), Ok(ours), Ok(roots)) => {
                let mut parts = vec![(
                    format!(
                        "certificate mode: app_cert_sn {}, alipay_cert_sn {}, alipay_root_cert_sn {}",
                        cert::alipay_cert_sn(&app[0]),
                        cert::alipay_cert_sn(&ours[0]),
                        cert::alipay_root_cert_sn(&roots)
                    ),
                    0,
                )];
                parts.push(match cert::verify_chain(&ours, &roots, now) {
                    Ok(()) => ("the Alipay certificate chain verifies against the root".into(), 0),
                    Err(e) => (format!("the Alipay certificate chain does not verify: {e}"), 2),
                });
                if ours[0].public_key.is_none() {
                    parts.push(("alipay_cert_path: not an RSA certificate".into(), 2));
                }
                parts.push(expiry("the app certificate", &app[0], now));
                parts.push(expiry("the Alipay certificate", &ours[0], now));
                graded("alipay keys", parts)
            }
            (app, ours, roots) => line(
                "alipay keys",
                Outcome::Fail(
                    [app.err(), ours.err(), roots.err()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
            ),
        });
    } else if a.alipay_enabled {
        out.push(line(
            "alipay keys",
            Outcome::Ok("public-key mode (alipay_public_key)".into()),
        ));
    }
    if !a.wechat_enabled {
        return out;
    }
    let certificates = config.pay.wechat_platform_certificates;
    let mut parts = Vec::new();
    match config.wechat_platform_public_key.as_deref() {
        Some(text) => {
            let serial = config
                .pay
                .wechat_platform_serial
                .clone()
                .or_else(|| crate::clients::pay::wechat::cert_serial(text).ok());
            match (crate::clients::pay::parse_public_key(text), serial) {
                (Err(e), _) => parts.push((format!("wechat_platform_public_key: {e}"), 2)),
                (Ok(_), Some(serial)) => parts.push((
                    format!(
                        "{}: wechat_platform_public_key under {serial}",
                        if certificates {
                            "public key and certificates (switching)"
                        } else {
                            "public-key mode"
                        }
                    ),
                    0,
                )),
                (Ok(_), None) => parts.push((
                    "wechat_platform_public_key has no id, so it is tried for every                      Wechatpay-Serial: set wechat_platform_serial to its PUB_KEY_ID_… (商户平台                      → 账户中心 → API安全 → 微信支付公钥)"
                        .into(),
                    1,
                )),
            }
            if let Ok(mut chain) = cert::parse_pem_chain(text)
                && !chain.is_empty()
            {
                parts.push(expiry("the configured platform certificate", &chain.remove(0), now));
            }
        }
        None if certificates => parts.push((
            "certificate mode: platform certificates downloaded from /v3/certificates".into(),
            0,
        )),
        None => parts.push((
            "no platform key: every notification will be refused; set              wechat_platform_public_key and wechat_platform_serial, or              wechat_platform_certificates = 1"
                .into(),
            1,
        )),
    }
    out.push(graded("wechat keys", parts));
    out
}

/// Certificate mode: whether `GET /v3/certificates` answers with a list that decrypts and
/// verifies, and how long its newest certificate has left. Nothing is stored.
pub async fn wechat_certificates_check(config: &Config) -> Option<CheckLine> {
    use crate::clients::pay::wechat;
    const NAME: &str = "wechat certificates";
    let a = &config.addon;
    if !a.wechat_enabled || !config.pay.wechat_platform_certificates {
        return None;
    }
    let now = chrono::Utc::now().timestamp();
    let merchant = (|| {
        let key = parse_rsa_private_key(&std::fs::read_to_string(&a.wechat_key_path).ok()?).ok()?;
        let serial =
            wechat::cert_serial(&std::fs::read_to_string(&a.wechat_cert_path).ok()?).ok()?;
        Some((key, serial))
    })();
    let Some((key, serial)) = merchant else {
        return Some(line(
            NAME,
            Outcome::Fail("the merchant key or certificate does not load (see wechat)".into()),
        ));
    };
    let known = crate::services::pay_keys::configured_wechat_keys(config);
    let m = wechat::Merchant {
        api_base: &config.wechat_api_base,
        app_id: &a.wechat_app_id,
        mch_id: &a.wechat_mch_id,
        merchant_key: &key,
        serial_no: &serial,
        platform_keys: &known,
    };
    let http = reqwest::Client::new();
    let raw = match wechat::send_signed(
        &http,
        &m,
        reqwest::Method::GET,
        wechat::CERTIFICATES_PATH,
        "",
        now,
        CHECK_TIMEOUT,
    )
    .await
    {
        Ok(raw) => raw,
        Err(e) => {
            return Some(line(
                NAME,
                Outcome::Warn(format!(
                    "{}: not reachable from here ({e})",
                    config.wechat_api_base
                )),
            ));
        }
    };
    let v3 = a.wechat_api_v3_key.expose_secret();
    Some(match wechat::read_certificates(raw, v3, &known, now) {
        Ok(list) if list.is_empty() => line(
            NAME,
            Outcome::Fail("the list holds no valid certificate".into()),
        ),
        Ok(list) => {
            let newest = list.iter().map(|c| c.not_after).max().unwrap_or(now);
            let days = (newest - now).div_euclid(86_400);
            let serials = list
                .iter()
                .map(|c| c.serial.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let text = format!(
                "{} certificate(s) ({serials}); the newest expires in {days} days",
                list.len()
            );
            line(
                NAME,
                if days < CERT_WARN_DAYS {
                    Outcome::Warn(text)
                } else {
                    Outcome::Ok(text)
                },
            )
        }
        Err(e) => line(NAME, Outcome::Fail(e.to_string())),
    })
}

/// Body of a PEM block or bare base64 (what FastAdmin's settings form holds), as DER.
fn der_of(text: &str) -> Result<Vec<u8>, String> {
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    if body.is_empty() {
        return Err("empty".into());
    }
    base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map_err(|_| "not base64 / PEM".to_string())
}

/// An RSA private key given as PEM or bare base64, PKCS#1 or PKCS#8.
pub fn parse_rsa_private_key(text: &str) -> Result<PrivateKey, String> {
    let der = der_of(text)?;
    PrivateKey::from_pkcs8_der(&der)
        .or_else(|_| PrivateKey::from_pkcs1_der(&der))
        .map_err(|_| "not an RSA private key (PKCS#1 or PKCS#8)".to_string())
}

/// An RSA public key given as PEM or bare base64, SubjectPublicKeyInfo or PKCS#1.
pub fn parse_rsa_public_key(text: &str) -> Result<PublicKey, String> {
    let der = der_of(text)?;
    PublicKey::from_public_key_der(&der)
        .or_else(|_| PublicKey::from_pkcs1_der(&der))
        .map_err(|_| "not an RSA public key".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

    #[test]
    fn keys_parse_in_every_form_the_settings_form_accepts() {
        let key = PrivateKey::new(&mut getrandom::SysRng, 1024).unwrap();
        let pkcs8 = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        let pkcs1 = key.to_pkcs1_pem(LineEnding::LF).unwrap().to_string();
        let bare: String = pkcs1.lines().filter(|l| !l.starts_with("-----")).collect();
        for text in [&pkcs8, &pkcs1, &bare] {
            assert!(parse_rsa_private_key(text).is_ok(), "{text}");
        }
        let public = key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        assert!(parse_rsa_public_key(&public).is_ok());
        assert!(parse_rsa_private_key("").is_err());
        assert!(parse_rsa_private_key("not a key !!").is_err());
        assert!(parse_rsa_public_key(&bare).is_err());
    }
}
