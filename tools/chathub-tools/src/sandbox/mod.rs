//! Stand-ins for the payment gateways, speaking their real wire formats: RSA2-signed Alipay
//! page-pay redirects and notifications, WeChat Pay v3 Native orders (signed
//! `Authorization`) and AES-GCM-encrypted, platform-signed notifications. `dev` serves them
//! to the browser (`crate::devfront`); the server's tests use the same code as their fakes.

pub mod alipay;
pub mod certs;
mod keys;
pub mod refunds;
pub mod trades;
pub mod wechat;

pub use keys::{ALIPAY_APP_ID, GatewayKeys, WECHAT_APP_ID, WECHAT_MCH_ID};
pub use trades::{Behaviour, Closing, Switch, Trade, TradeStatus, Trades};

/// A fake's answer under `switch`: `None` for the normal one, else the canned answer, or never
/// (a hang, until the caller gives up).
pub(crate) async fn misbehave(switch: &Switch) -> Option<crate::http_serve::Resp> {
    match switch.get() {
        Behaviour::Normal => None,
        Behaviour::Hang => {
            std::future::pending::<()>().await;
            None
        }
        Behaviour::Canned(status, headers, body) => {
            let mut r = crate::http_serve::reply(status, "application/json", body);
            for (k, v) in headers {
                if let (Ok(k), Ok(v)) = (
                    http::HeaderName::from_bytes(k.as_bytes()),
                    http::HeaderValue::from_str(&v),
                ) {
                    r.headers_mut().insert(k, v);
                }
            }
            Some(r)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chathub::clients::pay;
    use chathub::domain::money::Money;

    #[test]
    fn generated_keys_sign_what_the_server_verifies_and_refuse_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let keys = GatewayKeys::load_or_generate(dir.path()).unwrap();
        // Kept: the second load reads the same keys back.
        let again = GatewayKeys::load_or_generate(dir.path()).unwrap();
        assert_eq!(again.merchant_cert_serial, keys.merchant_cert_serial);
        assert_eq!(again.platform_public, keys.platform_public);

        let url = pay::alipay::page_pay_url(&pay::alipay::PagePay {
            gateway: "http://127.0.0.1:1/gateway.do",
            app_id: &keys.alipay_app_id,
            private_key: &keys.merchant_private,
            public_base_url: "http://127.0.0.1:2",
            order_no: "CH0001",
            amount: Money::from_cents(6000),
            timestamp: "2026-06-01 10:00:00",
            time_expire: Some("2026-06-01 12:00:00"),
            cert_sns: None,
        })
        .unwrap();
        let query = url.split_once('?').unwrap().1;
        let req = alipay::verify_page_pay(&keys, query).unwrap();
        assert_eq!(req.out_trade_no, "CH0001");
        assert_eq!(req.total_amount, "60.00");
        assert_eq!(
            req.return_url,
            "http://127.0.0.1:2/addons/chathub/index/payReturn/order/CH0001"
        );
        let tampered = query.replace("60.00", "0.01");
        assert!(alipay::verify_page_pay(&keys, &tampered).is_err());

        let form = alipay::notification(&keys, "CH0001", "60.00", "TRADE_SUCCESS", ALIPAY_APP_ID);
        let params: Vec<(String, String)> = serde_urlencoded::from_str(&form).unwrap();
        let v = pay::alipay::verify_notify(&params, &keys.platform_public).unwrap();
        assert!(v.is_paid());

        let n = wechat::notification(&keys, &wechat::transaction(&keys, "CH0001", 6000), 1);
        let tx = pay::wechat::decrypt_notification(n.body.as_bytes(), &keys.wechat_v3_key).unwrap();
        assert_eq!(tx.out_trade_no, "CH0001");
        let mut platform = pay::wechat::KeySet::default();
        platform.insert(
            wechat::PLATFORM_SERIAL,
            pay::parse_public_key(&keys.platform_public).unwrap(),
        );
        let headers = pay::wechat::NotifyHeaders {
            timestamp: Some(&n.timestamp),
            nonce: Some(&n.nonce),
            signature: Some(&n.signature),
            serial: Some(&n.serial),
        };
        pay::wechat::verify_notify_signature(&headers, n.body.as_bytes(), &platform, 1).unwrap();
    }
}
