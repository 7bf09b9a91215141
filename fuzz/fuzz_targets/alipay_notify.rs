//! Alipay's asynchronous notifications: the form body read into parameters, then checked
//! against the configured public key. Inputs whose first byte is 1 are signed with the
//! matching private key so the code behind a good signature is reached too (rarely: an RSA
//! signature costs as much as thousands of parses).
#![no_main]

#[path = "common.rs"]
mod common;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chathub::clients::pay::alipay::{NotifyError, sign_content, verify_notify};
use libfuzzer_sys::fuzz_target;

const PUBLIC: &str = include_str!("../keys/test_public.pem");
const PRIVATE: &str = include_str!("../keys/test_private.pem");

fn private_key() -> &'static rsa::PrivateKey {
    static KEY: OnceLock<rsa::PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| chathub::clients::pay::parse_private_key(PRIVATE).unwrap())
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let Some(req) = common::request(
        "POST",
        "/addons/chathub/index/payNotify/pay_method/alipay",
        &[(
            "content-type",
            b"application/x-www-form-urlencoded; charset=utf-8",
        )],
        body,
    ) else {
        return;
    };
    // What the handler does with a body that does not decode: no parameters.
    let mut params = req.post().map(|p| p.0).unwrap_or_default();
    if mode == 1 {
        // Sign what Alipay would sign: the last value of each name, minus sign/sign_type.
        let unique: BTreeMap<String, String> = params
            .iter()
            .filter(|(k, _)| k != "sign" && k != "sign_type")
            .cloned()
            .collect();
        let unique: Vec<(String, String)> = unique.into_iter().collect();
        let sig = chathub::clients::pay::rsa_sha256_sign(private_key(), sign_content(&unique).as_bytes());
        params.push(("sign".into(), sig));
        let n = verify_notify(&params, PUBLIC).expect("a correctly signed notification verifies");
        let _ = n.is_paid();
    } else {
        match verify_notify(&params, PUBLIC) {
            Ok(_) => panic!("an unsigned notification verified"),
            Err(NotifyError::MissingSign | NotifyError::BadSignature) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
});
