//! Certificates as the gateways issue them, made on the spot: a root CA, CAs under it, and
//! certificates they sign (WeChat Pay platform certificates, Alipay's app and Alipay
//! certificates and its root bundle), each with the validity a test asks for.

use std::str::FromStr as _;
use std::time::{Duration, SystemTime};

use rsa::pkcs8::{EncodePrivateKey as _, LineEnding};
use x509_cert::builder::{Builder as _, CertificateBuilder, profile::BuilderProfile};
use x509_cert::der::EncodePem as _;
use x509_cert::name::Name;

/// A fresh RSA key. 1024 bits: the tests make several, and nothing here depends on the size.
pub fn new_key() -> rsa::PrivateKey {
    rsa::PrivateKey::new(&mut rsa::rand_core::UnwrapErr(getrandom::SysRng), 1024)
        .expect("RSA key generation")
}

pub fn private_pem(key: &rsa::PrivateKey) -> String {
    key.to_pkcs8_pem(LineEnding::LF)
        .expect("PEM encoding")
        .to_string()
}

/// A certificate's validity, relative to now.
#[derive(Clone, Copy, Debug)]
pub struct Validity {
    /// Seconds from now (negative: in the past).
    pub from: i64,
    pub until: i64,
}

impl Validity {
    /// Valid from a day ago for `days` days.
    pub fn days(days: i64) -> Validity {
        Validity {
            from: -86_400,
            until: days * 86_400,
        }
    }

    fn x509(self) -> x509_cert::time::Validity {
        let at = |secs: i64| {
            let now = SystemTime::now();
            let t = if secs >= 0 {
                now + Duration::from_secs(secs as u64)
            } else {
                now - Duration::from_secs(secs.unsigned_abs())
            };
            x509_cert::time::Time::try_from(t).expect("a representable time")
        };
        x509_cert::time::Validity::new(at(self.from), at(self.until))
    }
}

/// Issuer and subject as given, no extensions: all the gateways' checks look at.
struct Plain {
    issuer: Name,
    subject: Name,
}

impl BuilderProfile for Plain {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        _spk: x509_cert::spki::SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: x509_cert::spki::SubjectPublicKeyInfoRef<'_>,
        _tbs: &x509_cert::TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<x509_cert::ext::Extension>> {
        Ok(Vec::new())
    }
}

/// A certificate authority: its key, name and certificate.
#[derive(Clone)]
pub struct Ca {
    pub key: rsa::PrivateKey,
    pub name: String,
    pub pem: String,
}

/// A positive serial of `n` random bytes.
pub fn random_serial(n: usize) -> Vec<u8> {
    let mut serial: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
    serial[0] = (serial[0] & 0x7f) | 0x10;
    serial
}

/// A certificate for `subject_key` named `subject` (`CN=…,O=…,C=CN`: most significant last,
/// as RFC 4514 writes it), signed SHA256withRSA by `issuer_key` as `issuer`.
pub fn issue(
    subject_key: &rsa::PublicKey,
    subject: &str,
    issuer_key: &rsa::PrivateKey,
    issuer: &str,
    serial: &[u8],
    validity: Validity,
) -> String {
    let profile = Plain {
        issuer: Name::from_str(issuer).expect("issuer name"),
        subject: Name::from_str(subject).expect("subject name"),
    };
    let serial = x509_cert::serial_number::SerialNumber::new(serial).expect("serial");
    let spki = x509_cert::spki::SubjectPublicKeyInfoOwned::from_key(subject_key).expect("spki");
    let builder =
        CertificateBuilder::new(profile, serial, validity.x509(), spki).expect("certificate");
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(issuer_key.clone());
    builder
        .build::<_, rsa::pkcs1v15::Signature>(&signer)
        .expect("signing")
        .to_pem(LineEnding::LF)
        .expect("PEM")
}

impl Ca {
    /// A self-signed root.
    pub fn root(name: &str, validity: Validity) -> Ca {
        let key = new_key();
        let pem = issue(
            &key.to_public_key(),
            name,
            &key,
            name,
            &random_serial(8),
            validity,
        );
        Ca {
            key,
            name: name.to_string(),
            pem,
        }
    }

    /// A CA whose certificate this one signs.
    pub fn sub_ca(&self, name: &str, validity: Validity) -> Ca {
        let key = new_key();
        let pem = issue(
            &key.to_public_key(),
            name,
            &self.key,
            &self.name,
            &random_serial(8),
            validity,
        );
        Ca {
            key,
            name: name.to_string(),
            pem,
        }
    }

    /// A certificate for `key`, signed by this CA.
    pub fn sign(
        &self,
        key: &rsa::PublicKey,
        subject: &str,
        serial: &[u8],
        validity: Validity,
    ) -> String {
        issue(key, subject, &self.key, &self.name, serial, validity)
    }
}

/// WeChat Pay's `serial_no` of a certificate (upper-case hex).
pub fn serial_of(pem: &str) -> String {
    chathub::clients::pay::wechat::cert_serial(pem).expect("a certificate")
}
