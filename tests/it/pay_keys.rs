//! Merchant keys as the gateways issue them today (issue 23): WeChat Pay's public key and its
//! `PUB_KEY_ID_…`, platform certificates downloaded from `/v3/certificates` and rotating, the
//! switch between the two, and Alipay's public-key-certificate mode. Against the stand-ins,
//! with keys, certificates and chains made in each test.

use std::time::Duration;

use base64::Engine as _;
use chathub_tools::sandbox::certs::{self, Ca, Validity};
use chathub_tools::sandbox::{self, Behaviour, GatewayKeys};

use chathub::services::pay_query::{self, Asker, Checked};

use crate::support::pay::*;
use crate::support::{TestApp, TestDb, count, location, row};

async fn order_state(db: &TestDb, id: u32) -> Vec<String> {
    row(
        db,
        &format!(
            "SELECT status, COALESCE(pay_method, 'NULL'), COALESCE(pay_trade_no, 'NULL') FROM fa_chathub_order WHERE id = {id}"
        ),
    )
    .await
}

async fn stored_serials(db: &TestDb, gateway: &str) -> Vec<String> {
    let mut conn = db.conn().await;
    mysql_async::prelude::Queryable::query(
        &mut conn,
        format!(
            "SELECT serial_no FROM fa_chathub_pay_cert WHERE gateway = '{gateway}' AND serial_no <> '' ORDER BY serial_no"
        ),
    )
    .await
    .unwrap()
}

/// A minute passes for the download spacing (`pay_keys::DOWNLOAD_SPACING_SECS`).
async fn a_minute_later(db: &TestDb) {
    db.run_sql("UPDATE fa_chathub_pay_cert SET attempt_at = attempt_at - 61 WHERE serial_no = ''")
        .await;
}

/// A WeChat Pay platform certificate: its private key (PEM), certificate (PEM) and serial.
struct Platform {
    private: String,
    cert: String,
    serial: String,
}

fn platform_cert(ca: &Ca, validity: Validity) -> Platform {
    let key = certs::new_key();
    let cert = ca.sign(
        &key.to_public_key(),
        "CN=Tenpay.com sign,OU=Tenpay.com CA Center,O=Tenpay.com,C=CN",
        &certs::random_serial(20),
        validity,
    );
    Platform {
        private: certs::private_pem(&key),
        serial: certs::serial_of(&cert),
        cert,
    }
}

fn tenpay_ca() -> Ca {
    Ca::root(
        "CN=Tenpay.com Root CA,OU=Tenpay.com CA Center,O=Tenpay.com,C=CN",
        Validity::days(3650),
    )
}

/// A `TRANSACTION.SUCCESS` for the order, signed by `by` under its serial.
fn notification_by(by: &GatewayKeys, order_no: &str, cents: i64, now: i64) -> WechatNotification {
    sandbox::wechat::notification(by, &sandbox::wechat::transaction(by, order_no, cents), now)
}

fn signer(p: &Platform) -> GatewayKeys {
    fixture_keys().signed_by(&p.private, &p.serial)
}

/// Certificate mode only: no configured platform key.
fn certificate_mode() -> Vec<(&'static str, String)> {
    vec![
        ("CHATHUB_WECHAT_PLATFORM_CERTIFICATES", "1".into()),
        ("CHATHUB_WECHAT_PLATFORM_PUBLIC_KEY", String::new()),
        ("CHATHUB_WECHAT_PLATFORM_SERIAL", String::new()),
    ]
}

async fn app_with(gw: &FakeGateways, extra: &[(&'static str, String)]) -> TestApp {
    gateway_app(&gw.env(extra)).await
}

fn downloads(gw: &FakeGateways) -> usize {
    gw.wechat.requests.lock().unwrap().len()
}

async fn metrics(app: &TestApp) -> String {
    app.get("/metrics").await.text().await.unwrap()
}

#[tokio::test]
async fn certificate_mode_follows_a_rotation_through_the_overlap() {
    let ca = tenpay_ca();
    // The old certificate has 4 days left; WeChat Pay issued the new one and both sign.
    let old = platform_cert(
        &ca,
        Validity {
            from: -360 * 86_400,
            until: 4 * 86_400,
        },
    );
    let new = platform_cert(&ca, Validity::days(1825));
    let gw = FakeGateways::start().await;
    gw.wechat.platform.lock().unwrap().signer = Some((old.private.clone(), old.serial.clone()));
    gw.wechat.platform.lock().unwrap().certificates = Some(vec![old.cert.clone()]);
    let app = app_with(&gw, &certificate_mode()).await;
    let now = app.app.clock.epoch();

    // The first notification brings the list down; it verifies under the old certificate.
    let r = post_wechat(
        &app,
        &notification_by(&signer(&old), "CHTEST0001", 6000, now),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(order_state(&app.db, 1).await[0], "paid");
    assert_eq!(downloads(&gw), 1);
    assert_eq!(
        stored_serials(&app.db, "wechat").await,
        [old.serial.as_str()]
    );

    // The new certificate appears in the list; a notification signed by it is the first this
    // site sees of it: the list is fetched again and the payment credited.
    gw.wechat.platform.lock().unwrap().certificates =
        Some(vec![old.cert.clone(), new.cert.clone()]);
    a_minute_later(&app.db).await;
    let r = post_wechat(
        &app,
        &notification_by(&signer(&new), "CHTEST0005", 6000, now),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(
        order_state(&app.db, 5).await,
        ["paid", "wechat", "4200CHTEST0005"]
    );
    assert_eq!(downloads(&gw), 2);
    let mut both = vec![old.serial.clone(), new.serial.clone()];
    both.sort();
    assert_eq!(stored_serials(&app.db, "wechat").await, both);

    // During the overlap the old one still signs, and is still taken without a download.
    let r = post_wechat(
        &app,
        &notification_by(&signer(&old), "CHTEST0002", 5000, now),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(order_state(&app.db, 2).await[0], "paid");
    assert_eq!(downloads(&gw), 2);
    assert!(
        metrics(&app)
            .await
            .contains("chathub_pay_cert_downloads_total{gateway=\"wechat\",outcome=\"ok\"} 2")
    );
}

#[tokio::test]
async fn an_unknown_serial_is_refused_until_a_refresh_brings_it() {
    let ca = tenpay_ca();
    let listed = platform_cert(&ca, Validity::days(1825));
    let unlisted = platform_cert(&ca, Validity::days(1825));
    let gw = FakeGateways::start().await;
    gw.wechat.platform.lock().unwrap().signer =
        Some((listed.private.clone(), listed.serial.clone()));
    gw.wechat.platform.lock().unwrap().certificates = Some(vec![listed.cert.clone()]);
    let app = app_with(&gw, &certificate_mode()).await;
    let now = app.app.clock.epoch();
    let n = notification_by(&signer(&unlisted), "CHTEST0001", 6000, now);

    // Refreshed, still unknown: refused (WeChat Pay retries), logged as not authentic.
    let r = post_wechat(&app, &n).await;
    assert_eq!(r.status(), 401);
    assert_eq!(order_state(&app.db, 1).await, ["pending", "NULL", "NULL"]);
    assert_eq!(downloads(&gw), 1);
    // Again at once: refused without asking WeChat Pay again (a made-up serial costs one
    // download a minute at most).
    assert_eq!(post_wechat(&app, &n).await.status(), 401);
    assert_eq!(downloads(&gw), 1);
    assert_eq!(
        count(
            &app.db,
            "SELECT COUNT(*) FROM fa_chathub_log WHERE action = 'pay_notify_wechat' AND status = 'failed'"
        )
        .await,
        2
    );
    assert!(
        metrics(&app)
            .await
            .contains("chathub_webhook_refused_total{method=\"wechat\",reason=\"unknown_key\"} 2")
    );

    // WeChat Pay lists it now; the retry a while later is credited.
    gw.wechat.platform.lock().unwrap().certificates =
        Some(vec![listed.cert.clone(), unlisted.cert.clone()]);
    a_minute_later(&app.db).await;
    assert_eq!(post_wechat(&app, &n).await.status(), 200);
    assert_eq!(order_state(&app.db, 1).await[0], "paid");
    assert_eq!(downloads(&gw), 2);
}

#[tokio::test]
async fn public_key_mode_verifies_by_the_key_id_and_downloads_nothing() {
    // FakeGateways' site: the WeChat Pay public key with its PUB_KEY_ID_… configured.
    let gw = FakeGateways::start().await;
    let app = app_with(&gw, &[]).await;
    let now = app.app.clock.epoch();
    let keys = fixture_keys();
    assert_eq!(keys.platform_serial, sandbox::wechat::PLATFORM_SERIAL);
    // Signed with the right key, but under an id that is not this merchant's: refused.
    let elsewhere = keys.signed_by(
        &keys.platform_private,
        "PUB_KEY_ID_0000000000000000000000000099",
    );
    let r = post_wechat(&app, &notification_by(&elsewhere, "CHTEST0001", 6000, now)).await;
    assert_eq!(r.status(), 401);
    assert_eq!(order_state(&app.db, 1).await[0], "pending");
    let r = post_wechat(&app, &notification_by(&keys, "CHTEST0001", 6000, now)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(order_state(&app.db, 1).await[0], "paid");
    // A public-key merchant has no certificates to fetch, and none is asked for.
    assert_eq!(downloads(&gw), 0);
    assert_eq!(
        count(&app.db, "SELECT COUNT(*) FROM fa_chathub_pay_cert").await,
        0
    );
}

#[tokio::test]
async fn a_key_configured_without_its_id_still_verifies_every_serial() {
    // A site set up before serials were read: the key alone (check asks for the id).
    let gw = FakeGateways::start().await;
    let app = app_with(&gw, &[("CHATHUB_WECHAT_PLATFORM_SERIAL", String::new())]).await;
    let now = app.app.clock.epoch();
    let keys = fixture_keys().signed_by(&fixture_keys().platform_private, "SOME-SERIAL");
    let r = post_wechat(&app, &notification_by(&keys, "CHTEST0001", 6000, now)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(order_state(&app.db, 1).await[0], "paid");
}

#[tokio::test]
async fn switching_from_certificates_to_the_public_key_takes_both() {
    let ca = tenpay_ca();
    let cert = platform_cert(&ca, Validity::days(1825));
    let gw = FakeGateways::start().await;
    gw.wechat.platform.lock().unwrap().signer = Some((cert.private.clone(), cert.serial.clone()));
    gw.wechat.platform.lock().unwrap().certificates = Some(vec![cert.cert.clone()]);
    // The public key and its id (FakeGateways' env) plus the certificates.
    let app = app_with(&gw, &[("CHATHUB_WECHAT_PLATFORM_CERTIFICATES", "1".into())]).await;
    let now = app.app.clock.epoch();
    let r = post_wechat(
        &app,
        &notification_by(&fixture_keys(), "CHTEST0001", 6000, now),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = post_wechat(
        &app,
        &notification_by(&signer(&cert), "CHTEST0005", 6000, now),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(order_state(&app.db, 1).await[0], "paid");
    assert_eq!(order_state(&app.db, 5).await[0], "paid");

    // API answers too are verified by their serial: the query answer comes signed by the
    // certificate, and credits the order.
    let r = app
        .get("/addons/chathub/index/payWechat?order=CHTEST0002")
        .await;
    assert_eq!(r.status(), 200);
    gw.wechat.trades.pay("CHTEST0002", 5000, "4200SWITCH");
    assert_eq!(
        admin_check(&app, "CHTEST0002").await,
        Checked::Paid { credited: true }
    );
    assert_eq!(
        order_state(&app.db, 2).await,
        ["paid", "wechat", "4200SWITCH"]
    );
}

async fn load(app: &TestApp, no: &str) -> chathub::db::order::Order {
    let mut conn = app.app.db.conn().await.unwrap();
    chathub::db::order::find_by_no(
        &mut conn,
        &app.app.db.t,
        &chathub::domain::ids::OrderNo::parse(no).unwrap(),
    )
    .await
    .unwrap()
    .unwrap()
}

#[tokio::test]
async fn a_forged_certificate_list_changes_nothing() {
    let ca = tenpay_ca();
    let cert = platform_cert(&ca, Validity::days(1825));
    let impostor = platform_cert(&ca, Validity::days(1825));
    let gw = FakeGateways::start().await;
    let app = app_with(&gw, &certificate_mode()).await;
    let now = app.app.clock.epoch();
    let list = sandbox::wechat::certificate_list(WECHAT_V3_KEY, std::slice::from_ref(&cert.cert));
    // The same list with one certificate's GCM tag broken.
    let mut json: serde_json::Value = serde_json::from_str(&list).unwrap();
    let ct = json["data"][0]["encrypt_certificate"]["ciphertext"]
        .as_str()
        .unwrap()
        .to_string();
    let mut raw = base64::engine::general_purpose::STANDARD
        .decode(ct)
        .unwrap();
    *raw.last_mut().unwrap() ^= 1;
    json["data"][0]["encrypt_certificate"]["ciphertext"] =
        base64::engine::general_purpose::STANDARD.encode(raw).into();
    let bad_tag = json.to_string();
    let cases = [
        // Signed under the listed serial, by another key.
        (
            "bad signature",
            sandbox::wechat::answer_headers(
                &fixture_keys().signed_by(&impostor.private, &cert.serial),
                &list,
                now,
            ),
            list.clone(),
        ),
        // Signed by the listed certificate itself, but it does not decrypt.
        (
            "bad gcm tag",
            sandbox::wechat::answer_headers(&signer(&cert), &bad_tag, now),
            bad_tag.clone(),
        ),
        // Signed by a certificate the list does not hold.
        (
            "signer not listed",
            sandbox::wechat::answer_headers(&signer(&impostor), &list, now),
            list.clone(),
        ),
    ];
    for (i, (case, headers, body)) in cases.into_iter().enumerate() {
        gw.wechat
            .behaviour
            .set(Behaviour::Canned(200, headers, body));
        a_minute_later(&app.db).await;
        let r = post_wechat(
            &app,
            &notification_by(&signer(&cert), "CHTEST0001", 6000, now),
        )
        .await;
        assert_eq!(r.status(), 401, "{case}");
        assert_eq!(downloads(&gw), i + 1, "{case}");
        assert_eq!(order_state(&app.db, 1).await[0], "pending", "{case}");
        assert!(stored_serials(&app.db, "wechat").await.is_empty(), "{case}");
    }
    assert!(metrics(&app).await.contains(
        "chathub_pay_cert_downloads_total{gateway=\"wechat\",outcome=\"unauthentic\"} 3"
    ));
    // The genuine list, once WeChat Pay sends it, is taken.
    gw.wechat.behaviour.set(Behaviour::Normal);
    gw.wechat.platform.lock().unwrap().signer = Some((cert.private.clone(), cert.serial.clone()));
    gw.wechat.platform.lock().unwrap().certificates = Some(vec![cert.cert.clone()]);
    a_minute_later(&app.db).await;
    let r = post_wechat(
        &app,
        &notification_by(&signer(&cert), "CHTEST0001", 6000, now),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(order_state(&app.db, 1).await[0], "paid");
}

/// Alipay's certificates as a merchant downloads them: the root bundle (two RSA roots, the
/// second one signing), the Alipay certificate chain under it, and the app certificate.
struct AlipayPki {
    root_other: Ca,
    root: Ca,
    class2: Ca,
    alipay_key: String,
    alipay_chain: String,
    _dir: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
    app_serial: Vec<u8>,
}

const CLASS2: &str = "CN=Ant Financial Certification Authority Class 2 R1,OU=Certification Authority,O=Ant Financial,C=CN";

fn alipay_pki() -> AlipayPki {
    let root_other = Ca::root(
        "CN=Ant Financial Certification Authority E1,OU=Certification Authority,O=Ant Financial,C=CN",
        Validity::days(3650),
    );
    let root = Ca::root(
        "CN=Ant Financial Certification Authority R1,OU=Certification Authority,O=Ant Financial,C=CN",
        Validity::days(3650),
    );
    let class2 = root.sub_ca(CLASS2, Validity::days(3650));
    let (alipay_key, alipay_chain) = alipay_cert(&class2, Validity::days(1000));
    let app_serial = certs::random_serial(16);
    let merchant = chathub::clients::pay::parse_private_key(MERCHANT_PRIVATE).unwrap();
    let app_cert = class2.sign(
        &merchant.to_public_key(),
        "CN=9021000100000001,OU=Alipay,O=ChatHub Test,C=CN",
        &app_serial,
        Validity::days(1000),
    );
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let env = vec![
        ("CHATHUB_ADDON_ALIPAY_PUBLIC_KEY", String::new()),
        (
            "CHATHUB_ADDON_ALIPAY_APP_CERT_PATH",
            write("appCertPublicKey_9021000100000001.crt", &app_cert),
        ),
        (
            "CHATHUB_ADDON_ALIPAY_CERT_PATH",
            write("alipayCertPublicKey_RSA2.crt", &alipay_chain),
        ),
        (
            "CHATHUB_ADDON_ALIPAY_ROOT_CERT_PATH",
            write(
                "alipayRootCert.crt",
                &format!("{}{}", root_other.pem, root.pem),
            ),
        ),
    ];
    AlipayPki {
        root_other,
        root,
        class2,
        alipay_key,
        alipay_chain,
        _dir: dir,
        env,
        app_serial,
    }
}

/// An Alipay certificate signed by `ca`: its key (PEM) and its chain file (leaf, then CA).
fn alipay_cert(ca: &Ca, validity: Validity) -> (String, String) {
    let key = certs::new_key();
    let leaf = ca.sign(
        &key.to_public_key(),
        "CN=支付宝(中国)网络技术有限公司,OU=Alipay,O=Ant Financial,C=CN",
        &certs::random_serial(16),
        validity,
    );
    (certs::private_pem(&key), format!("{leaf}{}", ca.pem))
}

fn sn_of_chain(chain: &str) -> String {
    let cert = chathub::clients::pay::cert::parse_pem_chain(chain)
        .unwrap()
        .remove(0);
    chathub::clients::pay::cert::alipay_cert_sn(&cert)
}

/// md5 of the issuer as the PHP SDK writes it (least significant attribute first) and the
/// decimal serial, worked out here from the names the test chose.
fn expected_sn(issuer_rfc4514: &str, serial: &[u8]) -> String {
    let decimal = u128::from_be_bytes(serial.try_into().unwrap()).to_string();
    hex::encode(md5::compute(format!("{issuer_rfc4514}{decimal}")).0)
}

#[tokio::test]
async fn alipay_certificate_mode_end_to_end_with_a_certificate_change() {
    let pki = alipay_pki();
    let gw = FakeGateways::start().await;
    let app_sn = expected_sn(CLASS2, &pki.app_serial);
    let root_sn = [&pki.root_other, &pki.root]
        .iter()
        .map(|r| sn_of_chain(&r.pem))
        .collect::<Vec<_>>()
        .join("_");
    let sn1 = sn_of_chain(&pki.alipay_chain);
    *gw.alipay.cert_side.lock().unwrap() = Some(sandbox::alipay::CertSide {
        app_cert_sn: app_sn.clone(),
        root_cert_sn: root_sn.clone(),
        chains: [(sn1.clone(), pki.alipay_chain.clone())]
            .into_iter()
            .collect(),
        signer_private: pki.alipay_key.clone(),
        signer_sn: sn1.clone(),
    });
    let app = app_with(&gw, &pki.env).await;

    // The redirect carries both SNs, under the signature.
    let r = app
        .get("/addons/chathub/index/payAlipay?order=CHTEST0001")
        .await;
    assert_eq!(r.status(), 302);
    let query = location(&r).split_once('?').unwrap().1.to_string();
    let params: Vec<(String, String)> = serde_urlencoded::from_str(&query).unwrap();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert_eq!(get("app_cert_sn"), app_sn);
    assert_eq!(get("alipay_root_cert_sn"), root_sn);
    assert!(root_sn.contains('_'));
    sandbox::alipay::verify_page_pay(&fixture_keys(), &query).unwrap();

    // The notification, signed by the Alipay certificate, is credited.
    let mut by_alipay = fixture_keys().signed_by(&pki.alipay_key, "");
    by_alipay.alipay_cert_sn = Some(sn1.clone());
    let n = sandbox::alipay::notification(
        &by_alipay,
        "CHTEST0001",
        "60.00",
        "TRADE_SUCCESS",
        ALIPAY_APP_ID,
    );
    assert_eq!(post_alipay(&app, &n).await.text().await.unwrap(), "success");
    assert_eq!(order_state(&app.db, 1).await[0], "paid");

    // A query answer, signed by it too, credits another order.
    app.get("/addons/chathub/index/payAlipay?order=CHTEST0005")
        .await;
    gw.alipay.trades.pay("CHTEST0005", 6000, "T-5");
    assert_eq!(
        admin_check(&app, "CHTEST0005").await,
        Checked::Paid { credited: true }
    );
    assert!(stored_serials(&app.db, "alipay").await.is_empty());

    // A "new Alipay certificate" that does not chain to the root: the notification naming it
    // is refused, the certificate asked for but not kept.
    let rogue = Ca::root(CLASS2, Validity::days(3650));
    let (key3, chain3) = alipay_cert(&rogue, Validity::days(1000));
    let sn3 = sn_of_chain(&chain3);
    gw.alipay
        .cert_side
        .lock()
        .unwrap()
        .as_mut()
        .unwrap()
        .chains
        .insert(sn3.clone(), chain3);
    let mut by_rogue = fixture_keys().signed_by(&key3, "");
    by_rogue.alipay_cert_sn = Some(sn3);
    let n = sandbox::alipay::notification(
        &by_rogue,
        "CHTEST0002",
        "50.00",
        "TRADE_SUCCESS",
        ALIPAY_APP_ID,
    );
    assert_eq!(post_alipay(&app, &n).await.text().await.unwrap(), "fail");
    assert!(
        gw.alipay
            .methods()
            .contains(&"alipay.open.app.alipaycert.download".to_string())
    );
    assert_eq!(order_state(&app.db, 2).await, ["pending", "NULL", "NULL"]);
    assert!(stored_serials(&app.db, "alipay").await.is_empty());

    // Alipay really changes its certificate: answers name the new one, which is downloaded,
    // checked against the root, kept, and used.
    let (key2, chain2) = alipay_cert(&pki.class2, Validity::days(1000));
    let sn2 = sn_of_chain(&chain2);
    {
        let mut side = gw.alipay.cert_side.lock().unwrap();
        let side = side.as_mut().unwrap();
        side.chains.insert(sn2.clone(), chain2);
        side.signer_private = key2;
        side.signer_sn = sn2.clone();
    }
    a_minute_later(&app.db).await;
    app.get("/addons/chathub/index/payAlipay?order=CHTEST0002")
        .await;
    gw.alipay.trades.pay("CHTEST0002", 5000, "T-2");
    assert_eq!(
        admin_check(&app, "CHTEST0002").await,
        Checked::Paid { credited: true }
    );
    assert_eq!(order_state(&app.db, 2).await, ["paid", "alipay", "T-2"]);
    assert_eq!(stored_serials(&app.db, "alipay").await, [sn2]);
}

async fn admin_check(app: &TestApp, no: &str) -> Checked {
    let order = load(app, no).await;
    pay_query::check_order(
        &app.app,
        &order,
        Asker::Admin("admin"),
        Duration::from_secs(3),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_notification_or_answer_for_another_seller_changes_nothing() {
    let gw = FakeGateways::start().await;
    // The stand-in's notifications name seller 2088102177000000.
    let app = app_with(
        &gw,
        &[("CHATHUB_ADDON_ALIPAY_SELLER_ID", "2088000000000009".into())],
    )
    .await;
    let n = alipay_notification("CHTEST0001", "60.00", "TRADE_SUCCESS", ALIPAY_APP_ID);
    assert_eq!(post_alipay(&app, &n).await.text().await.unwrap(), "fail");
    assert_eq!(order_state(&app.db, 1).await, ["pending", "NULL", "NULL"]);
    // A query answer naming another seller: not credited either.
    app.get("/addons/chathub/index/payAlipay?order=CHTEST0001")
        .await;
    let trade = sandbox::Trade {
        out_trade_no: "CHTEST0001".into(),
        total_cents: 6000,
        status: sandbox::TradeStatus::Paid,
        trade_no: "T-SELLER".into(),
    };
    let mut node = sandbox::alipay::query_node("CHTEST0001", Some(&trade));
    node["seller_id"] = "2088102177000000".into();
    gw.alipay.behaviour.set(Behaviour::Canned(
        200,
        vec![],
        sandbox::alipay::signed_answer(&fixture_keys(), "alipay.trade.query", &node.to_string()),
    ));
    let checked = admin_check(&app, "CHTEST0001").await;
    assert!(matches!(checked, Checked::Failed(_)), "{checked:?}");
    assert_eq!(order_state(&app.db, 1).await, ["pending", "NULL", "NULL"]);

    // The merchant's own seller id: both are taken.
    let app = app_with(
        &gw,
        &[("CHATHUB_ADDON_ALIPAY_SELLER_ID", "2088102177000000".into())],
    )
    .await;
    assert_eq!(post_alipay(&app, &n).await.text().await.unwrap(), "success");
    assert_eq!(order_state(&app.db, 1).await[0], "paid");
}

#[tokio::test]
async fn check_names_each_gateways_mode_and_warns_before_a_certificate_expires() {
    let pki = alipay_pki();
    let gw = FakeGateways::start().await;
    let mut env = gw.env(&pki.env);
    env.push(("CHATHUB_WECHAT_PLATFORM_SERIAL", String::new()));
    let app = gateway_app(&env).await;
    let now = app.app.clock.epoch();
    let lines = chathub::check::payment_key_checks(&app.app.config, now);
    let text: Vec<String> = lines.iter().map(ToString::to_string).collect();
    let alipay = text.iter().find(|l| l.contains("alipay keys")).unwrap();
    assert!(alipay.starts_with("ok"), "{alipay}");
    assert!(alipay.contains("certificate mode"), "{alipay}");
    assert!(alipay.contains("chain verifies"), "{alipay}");
    let wechat = text.iter().find(|l| l.contains("wechat keys")).unwrap();
    assert!(wechat.starts_with("WARN"), "{wechat}");
    assert!(wechat.contains("PUB_KEY_ID"), "{wechat}");

    // An Alipay certificate with 10 days left, not under the configured root: both said.
    let (_, short) = alipay_cert(&Ca::root(CLASS2, Validity::days(3650)), Validity::days(10));
    std::fs::write(&pki.env[2].1, short).unwrap();
    let now = app.app.clock.epoch();
    let text: Vec<String> = chathub::check::payment_key_checks(&app.app.config, now)
        .iter()
        .map(ToString::to_string)
        .collect();
    let alipay = text.iter().find(|l| l.contains("alipay keys")).unwrap();
    assert!(alipay.starts_with("FAIL"), "{alipay}");
    assert!(alipay.contains("does not verify"), "{alipay}");
    assert!(
        alipay.contains("the Alipay certificate expires in 9 days: renew it")
            || alipay.contains("the Alipay certificate expires in 10 days: renew it"),
        "{alipay}"
    );
    // Well away from 30 days: no warning of its own.
    assert!(
        alipay.contains("the app certificate expires in 999 days;")
            || alipay.contains("the app certificate expires in 1000 days;"),
        "{alipay}"
    );
}

#[tokio::test]
async fn check_asks_v3_certificates_in_certificate_mode() {
    let cert = platform_cert(&tenpay_ca(), Validity::days(20));
    let gw = FakeGateways::start().await;
    let app = app_with(&gw, &certificate_mode()).await;
    // A merchant of the public-key kind has no certificates: WeChat Pay says 404.
    let line = chathub::check::wechat_certificates_check(&app.app.config)
        .await
        .unwrap()
        .to_string();
    assert!(line.starts_with("FAIL wechat certificates"), "{line}");
    assert!(line.contains("404"), "{line}");
    // Listed and signed by itself, 20 days left: a warning naming it. Nothing is stored.
    gw.wechat.platform.lock().unwrap().signer = Some((cert.private.clone(), cert.serial.clone()));
    gw.wechat.platform.lock().unwrap().certificates = Some(vec![cert.cert.clone()]);
    let line = chathub::check::wechat_certificates_check(&app.app.config)
        .await
        .unwrap()
        .to_string();
    assert!(line.starts_with("WARN wechat certificates"), "{line}");
    assert!(line.contains(&cert.serial), "{line}");
    assert!(stored_serials(&app.db, "wechat").await.is_empty());
    // Public-key mode: nothing to ask.
    let app = app_with(&gw, &[]).await;
    assert!(
        chathub::check::wechat_certificates_check(&app.app.config)
            .await
            .is_none()
    );
}

#[tokio::test]
async fn the_sweep_downloads_the_certificates_without_waiting_for_a_notification() {
    let cert = platform_cert(&tenpay_ca(), Validity::days(1825));
    let gw = FakeGateways::start().await;
    gw.wechat.platform.lock().unwrap().signer = Some((cert.private.clone(), cert.serial.clone()));
    gw.wechat.platform.lock().unwrap().certificates = Some(vec![cert.cert.clone()]);
    let mut env = certificate_mode();
    env.push(("CHATHUB_PAY_SWEEP", "1".into()));
    let app = app_with(&gw, &env).await;
    let stored = crate::support::eventually(Duration::from_secs(20), || async {
        stored_serials(&app.db, "wechat").await == [cert.serial.as_str()]
    })
    .await;
    assert!(stored);
    assert_eq!(downloads(&gw), 1);
}

#[tokio::test]
async fn a_query_answer_signed_by_a_new_certificate_gets_it_downloaded() {
    let ca = tenpay_ca();
    let (old, new) = (
        platform_cert(&ca, Validity::days(8)),
        platform_cert(&ca, Validity::days(1825)),
    );
    let gw = FakeGateways::start().await;
    gw.wechat.platform.lock().unwrap().signer = Some((old.private.clone(), old.serial.clone()));
    gw.wechat.platform.lock().unwrap().certificates = Some(vec![old.cert.clone()]);
    let app = app_with(&gw, &certificate_mode()).await;
    // An expired certificate left from long ago: dropped at the next download.
    app.db
        .run_sql(
            "INSERT INTO fa_chathub_pay_cert (gateway, serial_no, cert_pem, not_after, fetched_at) \
             VALUES ('wechat', '0EXPIRED', 'x', 1700000000, 1600000000)",
        )
        .await;
    for no in ["CHTEST0001", "CHTEST0005"] {
        let r = app
            .get(&format!("/addons/chathub/index/payWechat?order={no}"))
            .await;
        assert_eq!(r.status(), 200);
        gw.wechat.trades.pay(no, 6000, &format!("4200{no}"));
    }
    assert_eq!(
        admin_check(&app, "CHTEST0001").await,
        Checked::Paid { credited: true }
    );
    assert_eq!(
        stored_serials(&app.db, "wechat").await,
        [old.serial.as_str()]
    );
    // Rotated: answers now come signed by the new certificate.
    {
        let mut p = gw.wechat.platform.lock().unwrap();
        p.signer = Some((new.private.clone(), new.serial.clone()));
        p.certificates = Some(vec![old.cert.clone(), new.cert.clone()]);
    }
    a_minute_later(&app.db).await;
    assert_eq!(
        admin_check(&app, "CHTEST0005").await,
        Checked::Paid { credited: true }
    );
    assert_eq!(
        order_state(&app.db, 5).await,
        ["paid", "wechat", "4200CHTEST0005"]
    );
    let mut both = vec![old.serial.clone(), new.serial.clone()];
    both.sort();
    assert_eq!(stored_serials(&app.db, "wechat").await, both);
}
