//! Alipay's asynchronous notifications: the form body read into parameters, then checked
//! against the configured public key. Inputs whose first byte is 1 are signed with the
//! matching private key so the code behind a good signature is reached too. The target signs
//! without blinding ([`sign`]): the same signature bytes as `chathub::clients::pay::rsa_sha256_sign`
//! (PKCS#1 v1.5 is deterministic) at a fraction of its cost, since blinding (random factors on
//! the base, exponents and moduli, and a modular inverse) made signing most of this target's time.
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
    KEY.get_or_init(|| {
        let key = chathub::clients::pay::parse_private_key(PRIVATE).unwrap();
        // The unblinded signer below must agree with the server's (blinded) one.
        let probe = b"app_id=2021000000000000&out_trade_no=probe";
        assert_eq!(
            sign_with(&key, probe),
            chathub::clients::pay::rsa_sha256_sign(&key, probe),
            "the fuzz target's signer differs from chathub::clients::pay::rsa_sha256_sign"
        );
        key
    })
}

/// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 section 8.2.1), base64 as Alipay sends it, with
/// the raw private-key operation unblinded (CRT only). Not side-channel safe; a test key only.
fn sign(message: &[u8]) -> String {
    sign_with(private_key(), message)
}

fn sign_with(key: &rsa::PrivateKey, message: &[u8]) -> String {
    use base64::Engine as _;
    use rsa::traits::PublicKeyParts as _;
    use sha2::Digest as _;
    // DER of DigestInfo { sha256, NULL } up to the 32-byte digest.
    const SHA256_PREFIX: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    let k = key.size();
    let t = k - SHA256_PREFIX.len() - 32;
    // EM = 0x00 0x01 0xff.. 0x00 DigestInfo
    let mut em = vec![0xff; k];
    em[0] = 0;
    em[1] = 1;
    em[t - 1] = 0;
    em[t..t + SHA256_PREFIX.len()].copy_from_slice(&SHA256_PREFIX);
    em[t + SHA256_PREFIX.len()..].copy_from_slice(&sha2::Sha256::digest(message));
    let m = rsa::BoxedUint::from_be_slice(&em, key.n_bits_precision()).unwrap();
    let s = rsa::hazmat::rsa_decrypt(None::<&mut getrandom::SysRng>, key, &m).unwrap();
    let bytes = s.to_be_bytes();
    base64::engine::general_purpose::STANDARD.encode(&bytes[bytes.len() - k..])
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
        let sig = sign(sign_content(&unique).as_bytes());
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
