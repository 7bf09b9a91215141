//! The keys the payment gateways are verified with, as merchants hold them today
//! (README: payment keys):
//!
//! - WeChat Pay: the WeChat Pay public key and its `PUB_KEY_ID_…` (public-key mode), platform
//!   certificates downloaded from `GET /v3/certificates` (certificate mode, kept in
//!   `chathub_pay_cert` for every instance, refreshed daily and when a notification or answer
//!   names a serial we do not have), or both while a merchant switches. The key a site was
//!   configured with before serials were read answers for any serial.
//! - Alipay: `alipay_public_key` (public-key mode), or the three certificate files
//!   (certificate mode): requests carry the SNs, and an answer naming another Alipay
//!   certificate (`alipay_cert_sn`) gets it downloaded and checked against the root bundle.
//!
//! Downloads are spaced out through the database (`db::pay_cert::claim_download`), so a
//! burst of forged notifications with made-up serials, or several instances meeting a new
//! one, costs one download a minute. Each is counted in `/metrics`
//! (`chathub_pay_cert_downloads_total`); a failed one is logged (at most once a minute, by
//! that spacing). Nothing a gateway sends is kept unless it verifies.

use std::time::Duration;

use secrecy::ExposeSecret as _;

use crate::clients::pay::{self, QueryError, alipay, cert, wechat};
use crate::db::pay_cert::{self, StoredCert};
use crate::error::AppError;
use crate::services::app::App;

/// `chathub_pay_cert.gateway` values.
pub const WECHAT: &str = "wechat";
pub const ALIPAY: &str = "alipay";
/// At most one download per gateway this often, across all instances.
pub const DOWNLOAD_SPACING_SECS: i64 = 60;
/// WeChat Pay issues a new platform certificate 10 days before the old one expires: a daily
/// look sees it long before it signs alone.
pub const REFRESH_EVERY_SECS: i64 = 86_400;
/// Bound on one download; a notification waits on it.
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(5);

/// The Alipay gateway this site talks to.
pub(crate) fn alipay_gateway(app: &App, cfg: &crate::config::AddonConfig) -> String {
    match &app.config.alipay_gateway_url {
        Some(url) => url.clone(),
        None if cfg.alipay_sandbox => alipay::SANDBOX_GATEWAY.into(),
        None => alipay::PRODUCTION_GATEWAY.into(),
    }
}

/// The merchant key (`wechat_key_path`) and its certificate's serial (`wechat_cert_path`).
pub(crate) async fn wechat_merchant(app: &App) -> Result<(rsa::PrivateKey, String), String> {
    let cfg = app.addon();
    let key_pem = tokio::fs::read_to_string(&cfg.wechat_key_path)
        .await
        .map_err(|e| format!("wechat_key_path: {e}"))?;
    let cert_pem = tokio::fs::read_to_string(&cfg.wechat_cert_path)
        .await
        .map_err(|e| format!("wechat_cert_path: {e}"))?;
    tokio::task::spawn_blocking(move || {
        let key = pay::parse_private_key(&key_pem).map_err(|e| format!("wechat_key_path: {e}"))?;
        let serial =
            wechat::cert_serial(&cert_pem).map_err(|e| format!("wechat_cert_path: {e}"))?;
        Ok::<_, String>((key, serial))
    })
    .await
    .map_err(|e| format!("key parsing task: {e}"))?
}

/// The configured WeChat Pay key: under its `wechat_platform_serial` (public-key mode), under
/// its own serial when it is a certificate, or for any serial (a site set up before serials
/// were read; `check` asks for the id). Empty when none is configured or it does not parse.
pub fn configured_wechat_keys(config: &crate::config::Config) -> wechat::KeySet {
    let mut keys = wechat::KeySet::default();
    let Some(text) = config.wechat_platform_public_key.as_deref() else {
        return keys;
    };
    let Ok(key) = pay::parse_public_key(text) else {
        return keys;
    };
    match config
        .pay
        .wechat_platform_serial
        .clone()
        .or_else(|| wechat::cert_serial(text).ok())
    {
        Some(serial) => keys.insert(&serial, key),
        None => keys.set_any_serial(key),
    }
    keys
}

fn add_stored(keys: &mut wechat::KeySet, stored: &[StoredCert]) {
    for c in stored {
        if let Some(key) = cert::parse_pem_chain(&c.cert_pem)
            .ok()
            .and_then(|mut chain| chain.remove(0).public_key)
        {
            keys.insert(&c.serial_no, key);
        }
    }
}

/// The platform keys to verify with. In certificate mode: the stored certificates, refreshed
/// first when the last download is a day old, or when `serial` (what a notification or answer
/// says it is signed with) is one no key names.
pub async fn wechat_keys(app: &App, serial: Option<&str>) -> Result<wechat::KeySet, AppError> {
    let mut keys = configured_wechat_keys(&app.config);
    if !app.config.pay.wechat_platform_certificates {
        return Ok(keys);
    }
    let now = app.clock.epoch();
    let (stored, last) = {
        let mut conn = app.db.conn().await?;
        (
            pay_cert::valid(&mut conn, &app.db.t, WECHAT, now).await?,
            pay_cert::last_refresh(&mut conn, &app.db.t, WECHAT).await?,
        )
    };
    add_stored(&mut keys, &stored);
    let unknown = serial.is_some_and(|s| !keys.names(s));
    if (unknown || now - last >= REFRESH_EVERY_SECS || now < last)
        && refresh_wechat(app, &keys).await?
    {
        let mut conn = app.db.conn().await?;
        add_stored(
            &mut keys,
            &pay_cert::valid(&mut conn, &app.db.t, WECHAT, now).await?,
        );
    }
    Ok(keys)
}

/// The sweep's look at WeChat Pay's platform certificates (certificate mode): downloaded again
/// once the last download is a day old, so a rotation is seen before the first notification
/// signed by the new certificate, and expired ones are dropped, even on a quiet site.
pub async fn refresh_due(app: &App) -> Result<(), AppError> {
    if app.addon().wechat_enabled && app.config.pay.wechat_platform_certificates {
        wechat_keys(app, None).await?;
    }
    Ok(())
}

/// Why a download brought nothing.
#[derive(Debug, thiserror::Error)]
enum DownloadError {
    #[error("merchant credentials: {0}")]
    Setup(String),
    #[error(transparent)]
    Call(QueryError),
    #[error(transparent)]
    List(wechat::CertListError),
}

impl DownloadError {
    fn label(&self) -> &'static str {
        match self {
            DownloadError::Setup(_) => "unconfigured",
            DownloadError::Call(e) => e.label(),
            DownloadError::List(wechat::CertListError::Rejected(..)) => "rejected",
            DownloadError::List(_) => "unauthentic",
        }
    }
}

/// Download the certificate list if no instance did in the last [`DOWNLOAD_SPACING_SECS`];
/// `true` when it was downloaded and stored.
async fn refresh_wechat(app: &App, known: &wechat::KeySet) -> Result<bool, AppError> {
    let t = &app.db.t;
    let now = app.clock.epoch();
    {
        let mut conn = app.db.conn().await?;
        if !pay_cert::claim_download(&mut conn, t, WECHAT, now, DOWNLOAD_SPACING_SECS).await? {
            return Ok(false);
        }
    }
    match download_wechat(app, known, now).await {
        Ok(certs) => {
            let mut conn = app.db.conn().await?;
            for c in &certs {
                pay_cert::store(
                    &mut conn,
                    t,
                    WECHAT,
                    &StoredCert {
                        serial_no: c.serial.clone(),
                        cert_pem: c.pem.clone(),
                        not_after: c.not_after,
                        fetched_at: now,
                    },
                )
                .await?;
            }
            pay_cert::drop_expired(&mut conn, t, WECHAT, now).await?;
            pay_cert::note_refreshed(&mut conn, t, WECHAT, now).await?;
            app.metrics.record_cert_download(WECHAT, "ok");
            tracing::info!(
                serials = ?certs.iter().map(|c| c.serial.as_str()).collect::<Vec<_>>(),
                "WeChat Pay platform certificates downloaded"
            );
            Ok(true)
        }
        Err(e) => {
            app.metrics.record_cert_download(WECHAT, e.label());
            tracing::warn!(error = %e, "WeChat Pay platform certificate download failed; nothing changed");
            Ok(false)
        }
    }
}

async fn download_wechat(
    app: &App,
    known: &wechat::KeySet,
    now: i64,
) -> Result<Vec<wechat::PlatformCert>, DownloadError> {
    let (key, serial) = wechat_merchant(app).await.map_err(DownloadError::Setup)?;
    let cfg = app.addon();
    let merchant = wechat::Merchant {
        api_base: &app.config.wechat_api_base,
        app_id: &cfg.wechat_app_id,
        mch_id: &cfg.wechat_mch_id,
        merchant_key: &key,
        serial_no: &serial,
        platform_keys: known,
    };
    let raw = wechat::send_signed(
        &app.http,
        &merchant,
        reqwest::Method::GET,
        wechat::CERTIFICATES_PATH,
        "",
        now,
        DOWNLOAD_TIMEOUT,
    )
    .await
    .map_err(DownloadError::Call)?;
    let v3 = cfg.wechat_api_v3_key.expose_secret().to_string();
    let known = known.clone();
    tokio::task::spawn_blocking(move || wechat::read_certificates(raw, &v3, &known, now))
        .await
        .map_err(|e| DownloadError::Setup(format!("verification task: {e}")))?
        .map_err(DownloadError::List)
}

/// A signed WeChat Pay API call whose answer is verified with the key its `Wechatpay-Serial`
/// names, the certificates refreshed first when it names one we do not have.
pub async fn wechat_call(
    app: &App,
    merchant_key: &rsa::PrivateKey,
    serial_no: &str,
    method: reqwest::Method,
    path: &str,
    body: &str,
    timeout: Duration,
) -> Result<wechat::Answer, QueryError> {
    let keys_error = |e: AppError| QueryError::Transport(format!("platform keys: {e}"));
    let mut keys = wechat_keys(app, None).await.map_err(keys_error)?;
    if keys.is_empty() {
        return Err(QueryError::Rejected(
            "no WeChat Pay platform key: set wechat_platform_public_key (and \
             wechat_platform_serial) or wechat_platform_certificates"
                .into(),
        ));
    }
    let cfg = app.addon();
    let now = app.clock.epoch();
    let raw = wechat::send_signed(
        &app.http,
        &wechat::Merchant {
            api_base: &app.config.wechat_api_base,
            app_id: &cfg.wechat_app_id,
            mch_id: &cfg.wechat_mch_id,
            merchant_key,
            serial_no,
            platform_keys: &keys,
        },
        method,
        path,
        body,
        now,
        timeout,
    )
    .await?;
    if let Some(serial) = raw.serial()
        && !keys.names(serial)
    {
        keys = wechat_keys(app, Some(serial)).await.map_err(keys_error)?;
    }
    tokio::task::spawn_blocking(move || raw.verify(&keys, now))
        .await
        .map_err(|e| QueryError::Transport(format!("verification task: {e}")))?
}

/// What Alipay answers are verified with, and the SNs requests carry in certificate mode.
#[derive(Clone)]
pub struct AlipayKeys {
    /// `None` in public-key mode.
    pub sns: Option<alipay::CertSns>,
    key: rsa::PublicKey,
    /// The SN of the configured Alipay certificate (certificate mode).
    sn: Option<String>,
    roots: Vec<cert::Cert>,
}

/// The configured Alipay keys: `alipay_public_key`, or the three certificate files.
pub async fn alipay_keys(app: &App) -> Result<AlipayKeys, alipay::NotifyError> {
    let cfg = app.addon();
    if !cfg.alipay_cert_mode() {
        let text = cfg.alipay_public_key.clone();
        if text.trim().is_empty() {
            return Err(alipay::NotifyError::NoPublicKey);
        }
        let key = pay::parse_public_key(&text).map_err(alipay::NotifyError::BadPublicKey)?;
        return Ok(AlipayKeys {
            sns: None,
            key,
            sn: None,
            roots: Vec::new(),
        });
    }
    let mut texts = Vec::new();
    for (name, path) in [
        ("alipay_app_cert_path", &cfg.alipay_app_cert_path),
        ("alipay_cert_path", &cfg.alipay_cert_path),
        ("alipay_root_cert_path", &cfg.alipay_root_cert_path),
    ] {
        texts.push(
            tokio::fs::read_to_string(path)
                .await
                .map_err(|e| alipay::NotifyError::BadCertificate(format!("{name}: {e}")))?,
        );
    }
    tokio::task::spawn_blocking(move || alipay_keys_from(&texts[0], &texts[1], &texts[2]))
        .await
        .map_err(|e| alipay::NotifyError::BadCertificate(format!("parsing task: {e}")))?
}

/// The keys of certificate mode from the three files' texts.
pub fn alipay_keys_from(
    app_cert: &str,
    alipay_cert: &str,
    root_cert: &str,
) -> Result<AlipayKeys, alipay::NotifyError> {
    let bad =
        |name: &str, e: pay::KeyError| alipay::NotifyError::BadCertificate(format!("{name}: {e}"));
    let app = cert::parse_pem_chain(app_cert).map_err(|e| bad("alipay_app_cert_path", e))?;
    let ours = cert::parse_pem_chain(alipay_cert).map_err(|e| bad("alipay_cert_path", e))?;
    let roots = cert::parse_pem_chain(root_cert).map_err(|e| bad("alipay_root_cert_path", e))?;
    let key = ours[0].public_key.clone().ok_or_else(|| {
        alipay::NotifyError::BadCertificate("alipay_cert_path: not an RSA certificate".into())
    })?;
    Ok(AlipayKeys {
        sns: Some(alipay::CertSns {
            app_cert_sn: cert::alipay_cert_sn(&app[0]),
            root_cert_sn: cert::alipay_root_cert_sn(&roots),
        }),
        key,
        sn: Some(cert::alipay_cert_sn(&ours[0])),
        roots,
    })
}

/// The key of the Alipay certificate `sn` names (an answer's or notification's
/// `alipay_cert_sn`): the configured one, one downloaded before, or one downloaded now and
/// trusted only if it chains to the root bundle and really has that SN.
pub async fn alipay_key(
    app: &App,
    keys: &AlipayKeys,
    sn: Option<&str>,
) -> Result<rsa::PublicKey, QueryError> {
    let (Some(sn), Some(ours)) = (sn, keys.sn.as_deref()) else {
        return Ok(keys.key.clone());
    };
    if sn == ours {
        return Ok(keys.key.clone());
    }
    let t = &app.db.t;
    let now = app.clock.epoch();
    let db_error = |e: AppError| QueryError::Transport(format!("certificate store: {e}"));
    let mut conn = app.db.conn().await.map_err(db_error)?;
    let stored = pay_cert::valid(&mut conn, t, ALIPAY, now)
        .await
        .map_err(db_error)?;
    if let Some(key) = stored
        .iter()
        .find(|c| c.serial_no == sn)
        .and_then(|c| cert::parse_pem_chain(&c.cert_pem).ok())
        .and_then(|mut chain| chain.remove(0).public_key)
    {
        return Ok(key);
    }
    if !pay_cert::claim_download(&mut conn, t, ALIPAY, now, DOWNLOAD_SPACING_SECS)
        .await
        .map_err(db_error)?
    {
        return Err(QueryError::Unauthentic(
            "signed by an Alipay certificate we do not have (a download was tried a moment ago)",
        ));
    }
    drop(conn);
    match download_alipay(app, keys, sn, now).await {
        Ok((chain, pem)) => {
            let mut conn = app.db.conn().await.map_err(db_error)?;
            pay_cert::store(
                &mut conn,
                t,
                ALIPAY,
                &StoredCert {
                    serial_no: sn.to_string(),
                    cert_pem: pem,
                    not_after: chain[0].not_after,
                    fetched_at: now,
                },
            )
            .await
            .map_err(db_error)?;
            pay_cert::drop_expired(&mut conn, t, ALIPAY, now)
                .await
                .map_err(db_error)?;
            pay_cert::note_refreshed(&mut conn, t, ALIPAY, now)
                .await
                .map_err(db_error)?;
            app.metrics.record_cert_download(ALIPAY, "ok");
            tracing::info!(alipay_cert_sn = sn, "new Alipay certificate downloaded");
            chain[0]
                .public_key
                .clone()
                .ok_or(QueryError::Unauthentic("downloaded certificate is not RSA"))
        }
        Err(e) => {
            app.metrics.record_cert_download(ALIPAY, e.label());
            tracing::warn!(alipay_cert_sn = sn, error = %e, "Alipay certificate download failed; nothing changed");
            Err(e)
        }
    }
}

/// `alipay.open.app.alipaycert.download` of `sn`, the chain checked against the root bundle.
async fn download_alipay(
    app: &App,
    keys: &AlipayKeys,
    sn: &str,
    now: i64,
) -> Result<(Vec<cert::Cert>, String), QueryError> {
    let cfg = app.addon();
    let private = cfg.alipay_merchant_private_key.expose_secret().to_string();
    let (app_id, ts, sns) = (
        cfg.alipay_app_id.clone(),
        app.clock.datetime(),
        keys.sns.clone(),
    );
    let biz = serde_json::json!({ "alipay_cert_sn": sn });
    let form = tokio::task::spawn_blocking(move || {
        let key = pay::parse_private_key(&private)
            .map_err(|e| QueryError::Rejected(format!("alipay_merchant_private_key: {e}")))?;
        Ok::<_, QueryError>(alipay::api_form(
            &app_id,
            &key,
            alipay::CERT_DOWNLOAD_METHOD,
            &biz,
            &ts,
            sns.as_ref(),
        ))
    })
    .await
    .map_err(|e| QueryError::Transport(format!("signing task: {e}")))??;
    let body = alipay::call(
        &app.http,
        &alipay_gateway(app, &cfg),
        &form,
        DOWNLOAD_TIMEOUT,
    )
    .await?;
    let node = alipay::response_node_unverified(&body, alipay::CERT_DOWNLOAD_METHOD)?;
    let pem = alipay::read_cert_download(&node)?;
    let (roots, sn) = (keys.roots.clone(), sn.to_string());
    tokio::task::spawn_blocking(move || {
        let chain = cert::parse_pem_chain(&pem)
            .map_err(|_| QueryError::Unauthentic("downloaded certificate does not parse"))?;
        cert::verify_chain(&chain, &roots, now).map_err(|_| {
            QueryError::Unauthentic("downloaded certificate is not trusted by the root")
        })?;
        if cert::alipay_cert_sn(&chain[0]) != sn {
            return Err(QueryError::Unauthentic(
                "downloaded certificate is not the one asked for",
            ));
        }
        Ok((chain, pem))
    })
    .await
    .map_err(|e| QueryError::Transport(format!("verification task: {e}")))?
}
