//! X.509 certificates as the gateways hand them out: WeChat Pay's platform certificates and
//! Alipay's public-key-certificate mode (app certificate, Alipay certificate chain, root
//! bundle). Parsing, the serial numbers each gateway names them by, and chain checks; pure.

use base64::Engine as _;
use x509_cert::der::{Decode as _, Encode as _};

use super::KeyError;

/// One parsed certificate, with what the gateways and `check` look at.
#[derive(Clone, Debug)]
pub struct Cert {
    pub der: Vec<u8>,
    /// Upper-case hex without leading zeros: what WeChat Pay's `serial_no` is.
    pub serial_hex: String,
    /// The serial in decimal: what Alipay's SN is computed from.
    pub serial_dec: String,
    /// The issuer / subject as PHP's `openssl_x509_parse` lists them, most significant
    /// attribute first (`C=CN`, `O=…`, …, `CN=…`).
    pub issuer: Vec<(String, String)>,
    pub subject: Vec<(String, String)>,
    pub not_before: i64,
    pub not_after: i64,
    /// `None` when the subject key is not RSA (the SM2 root in Alipay's bundle).
    pub public_key: Option<rsa::PublicKey>,
    /// The OID of the algorithm the issuer signed this certificate with.
    pub signature_oid: String,
    tbs: Vec<u8>,
    signature: Vec<u8>,
}

pub const SHA1_WITH_RSA: &str = "1.2.840.113549.1.1.5";
pub const SHA256_WITH_RSA: &str = "1.2.840.113549.1.1.11";
const SHA384_WITH_RSA: &str = "1.2.840.113549.1.1.12";
const SHA512_WITH_RSA: &str = "1.2.840.113549.1.1.13";

/// OpenSSL's short names for the attributes a gateway's DN uses (`openssl_x509_parse` keys).
fn short_name(oid: &str) -> String {
    match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.17" => "postalCode",
        "2.5.4.42" => "GN",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "0.9.2342.19200300.100.1.25" => "DC",
        other => other,
    }
    .to_string()
}

fn name_pairs(name: &x509_cert::name::Name) -> Vec<(String, String)> {
    name.iter()
        .map(|atv| {
            use x509_cert::der::asn1::{Ia5StringRef, PrintableStringRef, Utf8StringRef};
            let v = &atv.value;
            let text = Utf8StringRef::try_from(v)
                .map(|s| s.as_str().to_string())
                .or_else(|_| PrintableStringRef::try_from(v).map(|s| s.as_str().to_string()))
                .or_else(|_| Ia5StringRef::try_from(v).map(|s| s.as_str().to_string()))
                .unwrap_or_else(|_| String::from_utf8_lossy(v.value()).into_owned());
            (short_name(&atv.oid.to_string()), text)
        })
        .collect()
}

/// Big-endian unsigned bytes in decimal (serials are up to 20 bytes: no machine integer).
fn decimal(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = vec![0];
    for &b in bytes {
        let mut carry = b as u32;
        for d in digits.iter_mut() {
            let v = *d as u32 * 256 + carry;
            *d = (v % 10) as u8;
            carry = v / 10;
        }
        while carry > 0 {
            digits.push((carry % 10) as u8);
            carry /= 10;
        }
    }
    while digits.len() > 1 && digits.last() == Some(&0) {
        digits.pop();
    }
    digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
}

impl Cert {
    pub fn from_der(der: &[u8]) -> Result<Cert, KeyError> {
        use rsa::pkcs8::DecodePublicKey as _;
        let cert = x509_cert::Certificate::from_der(der).map_err(|_| KeyError::Format)?;
        let tbs = cert.tbs_certificate();
        let mut serial = tbs.serial_number().as_bytes();
        while serial.len() > 1 && serial[0] == 0 {
            serial = &serial[1..];
        }
        let spki = tbs
            .subject_public_key_info()
            .to_der()
            .map_err(|_| KeyError::Format)?;
        Ok(Cert {
            der: der.to_vec(),
            serial_hex: hex::encode_upper(serial),
            serial_dec: decimal(serial),
            issuer: name_pairs(tbs.issuer()),
            subject: name_pairs(tbs.subject()),
            not_before: tbs.validity().not_before.to_unix_duration().as_secs() as i64,
            not_after: tbs.validity().not_after.to_unix_duration().as_secs() as i64,
            public_key: rsa::PublicKey::from_public_key_der(&spki).ok(),
            signature_oid: cert.signature_algorithm().oid.to_string(),
            tbs: tbs.to_der().map_err(|_| KeyError::Format)?,
            signature: cert.signature().raw_bytes().to_vec(),
        })
    }

    /// The certificate as PEM.
    pub fn pem(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.der);
        let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
        out
    }

    /// Signed by RSA with SHA-1 or SHA-256: the certificates Alipay's root SN counts.
    pub fn rsa_signed(&self) -> bool {
        self.signature_oid == SHA1_WITH_RSA || self.signature_oid == SHA256_WITH_RSA
    }

    /// Whether `issuer`'s key made this certificate's signature. SHA-2 only: the links of
    /// the gateways' chains are SHA-256 (SHA-1 survives only on a self-signed root, whose own
    /// signature nobody checks).
    pub fn signed_by(&self, issuer: &Cert) -> bool {
        use rsa::signature::Verifier as _;
        let Some(key) = issuer.public_key.clone() else {
            return false;
        };
        if self.issuer != issuer.subject {
            return false;
        }
        let Ok(sig) = rsa::pkcs1v15::Signature::try_from(self.signature.as_slice()) else {
            return false;
        };
        match self.signature_oid.as_str() {
            SHA256_WITH_RSA => rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key)
                .verify(&self.tbs, &sig)
                .is_ok(),
            SHA384_WITH_RSA => rsa::pkcs1v15::VerifyingKey::<sha2::Sha384>::new(key)
                .verify(&self.tbs, &sig)
                .is_ok(),
            SHA512_WITH_RSA => rsa::pkcs1v15::VerifyingKey::<sha2::Sha512>::new(key)
                .verify(&self.tbs, &sig)
                .is_ok(),
            _ => false,
        }
    }

    pub fn valid_at(&self, now: i64) -> bool {
        self.not_before <= now && now <= self.not_after
    }

    /// Whole days until it expires (negative once expired).
    pub fn days_left(&self, now: i64) -> i64 {
        (self.not_after - now).div_euclid(86_400)
    }

    /// The subject's `CN`, for messages.
    pub fn common_name(&self) -> &str {
        self.subject
            .iter()
            .rev()
            .find(|(k, _)| k == "CN")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }
}

/// Every certificate of a PEM text (one file may hold a chain or a bundle), in order.
pub fn parse_pem_chain(text: &str) -> Result<Vec<Cert>, KeyError> {
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN CERTIFICATE") {
            body = Some(String::new());
        } else if line.starts_with("-----END CERTIFICATE") {
            let b64 = body.take().ok_or(KeyError::Format)?;
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map_err(|_| KeyError::Base64)?;
            out.push(Cert::from_der(&der)?);
        } else if let Some(b) = body.as_mut() {
            b.push_str(line);
        }
    }
    if out.is_empty() {
        return Err(if text.trim().is_empty() {
            KeyError::Empty
        } else {
            KeyError::Format
        });
    }
    Ok(out)
}

/// Alipay's SN of a certificate: MD5 of the issuer, attributes from the least significant
/// (`CN=…,OU=…,O=…,C=CN`) joined by `,`, followed by the serial in decimal. This follows the
/// official PHP SDK (alipay-sdk-php-all `AopCertClient::getCertSN`: `array2string(
/// array_reverse($ssl['issuer'])) . $ssl['serialNumber']`, values unescaped); the Java SDK's
/// RFC 2253 name gives the same text for the names Alipay's CAs use.
pub fn alipay_cert_sn(cert: &Cert) -> String {
    let issuer: Vec<String> = cert
        .issuer
        .iter()
        .rev()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    hex::encode(md5::compute(format!("{}{}", issuer.join(","), cert.serial_dec)).0)
}

/// Alipay's root SN: the SNs of the bundle's RSA-signed certificates (SHA-1 or SHA-256; the
/// SM2 root is left out) joined by `_`, in file order (`AopCertClient::getRootCertSN`).
pub fn alipay_root_cert_sn(roots: &[Cert]) -> String {
    roots
        .iter()
        .filter(|c| c.rsa_signed())
        .map(alipay_cert_sn)
        .collect::<Vec<_>>()
        .join("_")
}

/// Why a certificate chain is not trusted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChainError {
    #[error("no certificate")]
    Empty,
    #[error("certificate {0:?} is not valid now")]
    Expired(String),
    #[error("certificate {0:?} is not signed by a certificate of the chain or the root bundle")]
    Untrusted(String),
}

/// Check that `chain` (leaf first, or in any order: the leaf is the one nothing else in the
/// chain was issued by) leads, every signature verifying and every certificate valid at
/// `now`, to a certificate of `roots`. As the official PHP SDK's `isTrusted` checks a
/// downloaded Alipay certificate against `alipayRootCert.crt`.
pub fn verify_chain(chain: &[Cert], roots: &[Cert], now: i64) -> Result<(), ChainError> {
    let leaf = chain
        .iter()
        .find(|c| {
            !chain
                .iter()
                .any(|o| o.issuer == c.subject && o.der != c.der)
        })
        .or(chain.first())
        .ok_or(ChainError::Empty)?;
    let mut current = leaf;
    // A chain is a few certificates; the bound stops a cycle of cross-signed ones.
    for _ in 0..=chain.len() {
        if !current.valid_at(now) {
            return Err(ChainError::Expired(current.common_name().to_string()));
        }
        if let Some(root) = roots.iter().find(|r| current.signed_by(r)) {
            return if root.valid_at(now) {
                Ok(())
            } else {
                Err(ChainError::Expired(root.common_name().to_string()))
            };
        }
        match chain
            .iter()
            .find(|c| c.der != current.der && current.signed_by(c))
        {
            Some(next) => current = next,
            None => break,
        }
    }
    Err(ChainError::Untrusted(current.common_name().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_print_in_decimal_whatever_their_length() {
        assert_eq!(decimal(&[0]), "0");
        assert_eq!(decimal(&[1, 0]), "256");
        assert_eq!(decimal(&[0xff; 8]), u64::MAX.to_string());
        // 2^128 - 1
        assert_eq!(
            decimal(&[0xff; 16]),
            "340282366920938463463374607431768211455"
        );
    }

    #[test]
    fn the_sn_is_md5_of_the_reversed_issuer_and_the_decimal_serial() {
        let cert = parse_pem_chain(include_str!(
            "../../../tests/fixtures/keys/merchant_cert.pem"
        ))
        .unwrap()
        .remove(0);
        // Worked out by hand from `openssl x509 -issuer -serial -nameopt RFC2253`:
        // md5("O=ChatHub Test Merchant,CN=1900000001" + the serial in decimal).
        assert_eq!(
            cert.serial_dec,
            "464389378319535425530970086054627680253797054689"
        );
        assert_eq!(alipay_cert_sn(&cert), "fbd37a85aa1386b5e82e6fa73e743b98");
        assert_eq!(cert.serial_hex, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1");
    }
}
