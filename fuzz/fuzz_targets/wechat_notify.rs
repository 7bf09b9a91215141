//! WeChat Pay notifications: the `Wechatpay-*` headers and the body checked against the
//! platform key, the JSON envelope, and the decrypted `resource` (fuzzed as plaintext that is
//! sealed with the APIv3 key, so the transaction reader behind the decryption is reached).
#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::OnceLock;

use chathub::clients::pay::wechat::{
    NotifyHeaders, decrypt_notification, encrypt_resource, verify_notify_signature,
};
use libfuzzer_sys::fuzz_target;

const PUBLIC: &str = include_str!("../keys/test_public.pem");
const API_V3_KEY: &str = "0123456789abcdef0123456789abcdef";
const NOW: i64 = 1_795_561_549;

fn platform_key() -> &'static chathub::clients::pay::wechat::KeySet {
    static KEY: OnceLock<chathub::clients::pay::wechat::KeySet> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut keys = chathub::clients::pay::wechat::KeySet::default();
        keys.set_any_serial(chathub::clients::pay::parse_public_key(PUBLIC).unwrap());
        keys
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            // `timestamp \n nonce \n signature \n body`, as headers and body.
            let mut parts = rest.splitn(4, |b| *b == b'\n');
            let ts = parts.next().and_then(|p| std::str::from_utf8(p).ok());
            let nonce = parts.next().and_then(|p| std::str::from_utf8(p).ok());
            let sig = parts.next().and_then(|p| std::str::from_utf8(p).ok());
            let body = parts.next().unwrap_or_default();
            let headers = NotifyHeaders {
                timestamp: ts,
                nonce,
                signature: sig,
                serial: None,
            };
            assert!(verify_notify_signature(&headers, body, platform_key(), NOW).is_err());
            let _ = decrypt_notification(body, API_V3_KEY);
        }
        1 => {
            // The envelope as sent.
            let _ = decrypt_notification(rest, API_V3_KEY);
        }
        _ => {
            // A sealed resource whose plaintext is the fuzz input.
            let Ok(plain) = std::str::from_utf8(rest) else {
                return;
            };
            let ct = encrypt_resource(plain, API_V3_KEY, "nonce0123456", "transaction").unwrap();
            let envelope = serde_json::json!({
                "id": "n1",
                "event_type": "TRANSACTION.SUCCESS",
                "resource": {
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": ct,
                    "associated_data": "transaction",
                    "nonce": "nonce0123456",
                },
            });
            let body = serde_json::to_vec(&envelope).unwrap();
            if let Ok(tx) = decrypt_notification(&body, API_V3_KEY) {
                let _ = tx.total();
            }
        }
    }
});
