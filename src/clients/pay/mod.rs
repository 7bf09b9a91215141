//! Payment gateways (Alipay page pay, WeChat Pay v3 Native).
//!
//! Everything here is pure: signing, verifying, decrypting and URL building. Talking to the
//! database lives in `services::payments` and `db::order`, HTTP handling in `web::handlers::pay`.

pub mod alipay;
pub mod alipay_refund;
pub mod bill;
pub mod cert;
pub mod refund;
pub mod wechat;
pub mod wechat_refund;

use crate::domain::money::PayMethod;

/// URLs the gateways call back, built from `public_base_url` (the original hard-coded one
/// domain: COMPAT.md#payment-urls-from-config).
pub fn notify_url(public_base_url: &str, method: PayMethod) -> String {
    format!(
        "{public_base_url}/addons/chathub/index/payNotify/pay_method/{}",
        method.as_str()
    )
}

pub fn return_url(public_base_url: &str, order_no: &str) -> String {
    format!("{public_base_url}/addons/chathub/index/payReturn/order/{order_no}")
}

/// Strip PEM armour (any label) and whitespace, leaving the base64 body. Keys pasted into
/// FastAdmin's settings arrive as PEM, as bare base64 on one line, or with stray spaces.
pub(crate) fn pem_body(text: &str) -> (Option<String>, String) {
    let mut label = None;
    let mut body = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("-----BEGIN ") {
            label = Some(rest.trim_end_matches('-').trim().to_string());
            continue;
        }
        if line.starts_with("-----END ") {
            continue;
        }
        body.extend(line.chars().filter(|c| !c.is_whitespace()));
    }
    (label, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RNG that counts the bytes taken from it.
    struct Counting<R>(R, usize);
    impl<R: rsa::rand_core::TryRng> rsa::rand_core::TryRng for Counting<R> {
        type Error = R::Error;
        fn try_next_u32(&mut self) -> Result<u32, R::Error> {
            self.1 += 4;
            self.0.try_next_u32()
        }
        fn try_next_u64(&mut self) -> Result<u64, R::Error> {
            self.1 += 8;
            self.0.try_next_u64()
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), R::Error> {
            self.1 += dest.len();
            self.0.try_fill_bytes(dest)
        }
    }
    impl<R: rsa::rand_core::TryCryptoRng> rsa::rand_core::TryCryptoRng for Counting<R> {}

    #[test]
    fn signing_is_blinded_and_still_byte_identical() {
        use base64::Engine as _;
        let key = parse_private_key(include_str!(
            "../../../tests/fixtures/keys/merchant_private.pem"
        ))
        .unwrap();
        let msg = b"app_id=9021000100000001&method=alipay.trade.page.pay";
        let mut rng = Counting(rsa::rand_core::UnwrapErr(getrandom::SysRng), 0);
        let blinded = rsa_sha256_sign_with_rng(&mut rng, &key, msg);
        assert!(
            rng.1 > 0,
            "no randomness drawn: the signature was not blinded"
        );
        // The reference: the same key's PKCS#1 v1.5 SHA-256 signature by the plain routine.
        let plain = key.pkcs1v15_sign::<sha2::Sha256>(msg).unwrap();
        assert_eq!(
            blinded,
            base64::engine::general_purpose::STANDARD.encode(plain)
        );
        assert_eq!(rsa_sha256_sign(&key, msg), blinded);
    }
}

/// Why a configured key could not be used. The key itself never appears in the message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("key is empty")]
    Empty,
    #[error("key is not valid base64")]
    Base64,
    #[error("key is not an RSA key in PKCS#1, PKCS#8 or X.509 form")]
    Format,
}

/// An RSA private key as Alipay and WeChat Pay hand them out: PEM (`RSA PRIVATE KEY` =
/// PKCS#1, `PRIVATE KEY` = PKCS#8) or the bare base64 of either DER form.
pub fn parse_private_key(text: &str) -> Result<rsa::PrivateKey, KeyError> {
    use base64::Engine as _;
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    use rsa::pkcs8::DecodePrivateKey as _;
    let (_, body) = pem_body(text);
    if body.is_empty() {
        return Err(KeyError::Empty);
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map_err(|_| KeyError::Base64)?;
    rsa::PrivateKey::from_pkcs8_der(&der)
        .or_else(|_| rsa::PrivateKey::from_pkcs1_der(&der))
        .map_err(|_| KeyError::Format)
}

/// An RSA public key: PEM `PUBLIC KEY` (SPKI), `RSA PUBLIC KEY` (PKCS#1), a `CERTIFICATE`
/// (its subject key), or the bare base64 of SPKI or PKCS#1 DER.
pub fn parse_public_key(text: &str) -> Result<rsa::PublicKey, KeyError> {
    use base64::Engine as _;
    use rsa::pkcs1::DecodeRsaPublicKey as _;
    use rsa::pkcs8::DecodePublicKey as _;
    let (label, body) = pem_body(text);
    if body.is_empty() {
        return Err(KeyError::Empty);
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map_err(|_| KeyError::Base64)?;
    if label.as_deref() == Some("CERTIFICATE") {
        use x509_cert::der::{Decode as _, Encode as _};
        let cert = x509_cert::Certificate::from_der(&der).map_err(|_| KeyError::Format)?;
        let spki = cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|_| KeyError::Format)?;
        return rsa::PublicKey::from_public_key_der(&spki).map_err(|_| KeyError::Format);
    }
    rsa::PublicKey::from_public_key_der(&der)
        .or_else(|_| rsa::PublicKey::from_pkcs1_der(&der))
        .map_err(|_| KeyError::Format)
}

/// base64(RSA-SHA256 PKCS#1 v1.5 signature): what both gateways call RSA2 / SHA256-RSA.
///
/// Anyone who knows a pending order number can make us sign, so the private-key operation
/// must not leak the key through timing (RUSTSEC-2023-0071). `rsa` 0.10 does the arithmetic
/// in constant time, and every signature also gets a fresh random blinding factor from the OS.
/// PKCS#1 v1.5 is deterministic, so the bytes are the same as without blinding.
pub fn rsa_sha256_sign(key: &rsa::PrivateKey, message: &[u8]) -> String {
    rsa_sha256_sign_with_rng(
        &mut rsa::rand_core::UnwrapErr(getrandom::SysRng),
        key,
        message,
    )
}

/// [`rsa_sha256_sign`] with the blinding randomness drawn from `rng`.
pub fn rsa_sha256_sign_with_rng(
    rng: &mut (impl rsa::rand_core::CryptoRng + ?Sized),
    key: &rsa::PrivateKey,
    message: &[u8],
) -> String {
    use base64::Engine as _;
    use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};
    let signing = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone());
    base64::engine::general_purpose::STANDARD.encode(signing.sign_with_rng(rng, message).to_bytes())
}

/// Check a base64 RSA-SHA256 signature. Bad base64 or a wrong length is simply "no".
pub fn rsa_sha256_verify(key: &rsa::PublicKey, message: &[u8], signature_b64: &str) -> bool {
    use base64::Engine as _;
    use rsa::signature::Verifier as _;
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(signature_b64.trim()) else {
        return false;
    };
    let Ok(sig) = rsa::pkcs1v15::Signature::try_from(raw.as_slice()) else {
        return false;
    };
    rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key.clone())
        .verify(message, &sig)
        .is_ok()
}

/// What a gateway's verified answer says about one order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TradeState {
    /// Money received; the gateway's transaction number.
    Paid { trade_no: String },
    /// No payment yet (never started, waiting for the buyer, or failed and retryable).
    NotPaid,
    /// The gateway closed the order: nobody can pay it any more.
    Closed,
}

/// What closing an order at the gateway came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseOutcome {
    /// Closed now, or it never existed there (nobody opened the cashier): it cannot be paid.
    Closed,
    /// The gateway refuses because the order is already paid: query it and credit it.
    AlreadyPaid,
}

/// Why a query or close told us nothing we may act on. None of these changes an order.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    /// Down, hanging past the bound, or answering something that is not its protocol.
    #[error("gateway unreachable: {0}")]
    Transport(String),
    /// The answer's signature is missing or wrong, or its timestamp is stale.
    #[error("answer not authentic: {0}")]
    Unauthentic(&'static str),
    /// Authentic, but about another app, merchant, order or amount.
    #[error("answer does not match the order: {0}")]
    Mismatch(&'static str),
    /// Authentic refusal (bad credentials, a parameter error): the code it gave.
    #[error("gateway refused: {0}")]
    Rejected(String),
}

impl QueryError {
    /// The outcome label of the log row and the metrics.
    pub fn label(&self) -> &'static str {
        match self {
            QueryError::Transport(_) => "unreachable",
            QueryError::Unauthentic(_) => "unauthentic",
            QueryError::Mismatch(_) => "mismatch",
            QueryError::Rejected(_) => "rejected",
        }
    }
}

/// Gateway answers larger than this are not read whole (a real one is a few hundred bytes).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The body of a gateway answer, read within `MAX_ANSWER_BYTES`.
pub(crate) async fn read_answer(resp: reqwest::Response) -> Result<String, QueryError> {
    let mut resp = resp;
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| QueryError::Transport(e.without_url().to_string()))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(QueryError::Transport("answer too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| QueryError::Transport("answer is not UTF-8".into()))
}
