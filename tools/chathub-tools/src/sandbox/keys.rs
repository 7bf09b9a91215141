//! The keys of one sandbox: the merchant's (signs requests, with the certificate whose serial
//! WeChat Pay's `Authorization` names), the gateways' (signs notifications) and the WeChat
//! Pay APIv3 key (encrypts them). Generated for `dev`, read from files for the tests.

use std::path::{Path, PathBuf};

use rsa::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};

use chathub::clients::pay;

/// Identifiers a merchant gets with its keys; the stand-ins accept only these.
pub const ALIPAY_APP_ID: &str = "9021000100000001";
pub const WECHAT_APP_ID: &str = "wx0000000000000001";
pub const WECHAT_MCH_ID: &str = "1900000001";

/// Everything both sides of a sandbox payment need, as PEM text.
#[derive(Clone)]
pub struct GatewayKeys {
    pub merchant_private: String,
    pub merchant_public: String,
    pub merchant_cert: String,
    pub merchant_cert_serial: String,
    /// One gateway key pair stands for Alipay's and WeChat Pay's platform keys.
    pub platform_private: String,
    pub platform_public: String,
    /// The `Wechatpay-Serial` the platform key signs under.
    pub platform_serial: String,
    /// Alipay certificate mode: the `alipay_cert_sn` answers name (`None`: public-key mode).
    pub alipay_cert_sn: Option<String>,
    pub alipay_app_id: String,
    pub wechat_app_id: String,
    pub wechat_mch_id: String,
    pub wechat_v3_key: String,
}

/// Private keys are secrets even in a sandbox: never printed.
impl std::fmt::Debug for GatewayKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayKeys")
            .field("merchant_cert_serial", &self.merchant_cert_serial)
            .finish_non_exhaustive()
    }
}

const FILES: [&str; 4] = [
    "merchant_private.pem",
    "merchant_cert.pem",
    "platform_private.pem",
    "wechat_api_v3_key",
];

fn os_rng() -> rsa::rand_core::UnwrapErr<getrandom::SysRng> {
    rsa::rand_core::UnwrapErr(getrandom::SysRng)
}

fn new_private_key() -> Result<rsa::PrivateKey, String> {
    rsa::PrivateKey::new(&mut os_rng(), 2048).map_err(|e| format!("RSA key generation: {e}"))
}

fn private_pem(key: &rsa::PrivateKey) -> Result<String, String> {
    key.to_pkcs8_pem(LineEnding::LF)
        .map(|p| p.to_string())
        .map_err(|e| format!("PEM encoding: {e}"))
}

fn public_pem(key: &rsa::PrivateKey) -> Result<String, String> {
    key.to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| format!("PEM encoding: {e}"))
}

/// A self-signed certificate for `key`, as WeChat Pay's merchant certificate stands to it:
/// only its serial number travels (in `Authorization`), the key signs.
fn self_signed_cert(key: &rsa::PrivateKey) -> Result<String, String> {
    use std::str::FromStr as _;
    use x509_cert::builder::{Builder as _, CertificateBuilder, profile};
    use x509_cert::der::EncodePem as _;
    let err = |e: &dyn std::fmt::Display| format!("certificate: {e}");
    let serial: [u8; 16] = rand::random();
    // A positive DER integer: the top bit clear.
    let mut serial = serial;
    serial[0] = (serial[0] & 0x7f) | 0x10;
    let serial = x509_cert::serial_number::SerialNumber::new(&serial).map_err(|e| err(&e))?;
    let subject = x509_cert::name::Name::from_str("CN=1900000001,O=ChatHub dev sandbox,C=CN")
        .map_err(|e| err(&e))?;
    let validity = x509_cert::time::Validity::<x509_cert::certificate::Rfc5280>::from_now(
        std::time::Duration::from_secs(10 * 365 * 86400),
    )
    .map_err(|e| err(&e))?;
    let spki = x509_cert::spki::SubjectPublicKeyInfoOwned::from_key(&key.to_public_key())
        .map_err(|e| err(&e))?;
    let profile = profile::cabf::Root::new(false, subject).map_err(|e| err(&e))?;
    let builder = CertificateBuilder::new(profile, serial, validity, spki).map_err(|e| err(&e))?;
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone());
    let cert = builder
        .build::<_, rsa::pkcs1v15::Signature>(&signer)
        .map_err(|e| err(&e))?;
    cert.to_pem(LineEnding::LF).map_err(|e| err(&e))
}

impl GatewayKeys {
    /// Fresh keys: two RSA-2048 pairs, a certificate, a 32-character APIv3 key.
    pub fn generate() -> Result<GatewayKeys, String> {
        let merchant = new_private_key()?;
        let platform = new_private_key()?;
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let v3: String = (0..32)
            .map(|_| ALPHABET[rand::random::<usize>() % ALPHABET.len()] as char)
            .collect();
        GatewayKeys::from_parts(
            &private_pem(&merchant)?,
            &self_signed_cert(&merchant)?,
            &private_pem(&platform)?,
            &v3,
        )
    }

    /// The same keys with another platform key (and serial) signing: a rotated certificate,
    /// a WeChat Pay public key, a new Alipay certificate, or an impostor.
    pub fn signed_by(&self, platform_private: &str, serial: &str) -> GatewayKeys {
        let mut keys = self.clone();
        keys.platform_private = platform_private.to_string();
        if let Ok(key) = pay::parse_private_key(platform_private)
            && let Ok(public) = public_pem(&key)
        {
            keys.platform_public = public;
        }
        keys.platform_serial = serial.to_string();
        keys
    }

    /// The keys from their PEM texts; the public halves and the serial are derived.
    pub fn from_parts(
        merchant_private: &str,
        merchant_cert: &str,
        platform_private: &str,
        wechat_v3_key: &str,
    ) -> Result<GatewayKeys, String> {
        let merchant = pay::parse_private_key(merchant_private).map_err(|e| e.to_string())?;
        let platform = pay::parse_private_key(platform_private).map_err(|e| e.to_string())?;
        Ok(GatewayKeys {
            merchant_private: merchant_private.to_string(),
            merchant_public: public_pem(&merchant)?,
            merchant_cert: merchant_cert.to_string(),
            merchant_cert_serial: pay::wechat::cert_serial(merchant_cert)
                .map_err(|e| e.to_string())?,
            platform_private: platform_private.to_string(),
            platform_public: public_pem(&platform)?,
            platform_serial: super::wechat::PLATFORM_SERIAL.into(),
            alipay_cert_sn: None,
            alipay_app_id: ALIPAY_APP_ID.into(),
            wechat_app_id: WECHAT_APP_ID.into(),
            wechat_mch_id: WECHAT_MCH_ID.into(),
            wechat_v3_key: wechat_v3_key.trim().to_string(),
        })
    }

    /// The keys kept in `dir`, generated (and written, owner-only) when it has none.
    pub fn load_or_generate(dir: &Path) -> Result<GatewayKeys, String> {
        let read = |name: &str| std::fs::read_to_string(dir.join(name));
        if let [Ok(mp), Ok(mc), Ok(pp), Ok(v3)] = FILES.map(read)
            && let Ok(keys) = GatewayKeys::from_parts(&mp, &mc, &pp, &v3)
        {
            return Ok(keys);
        }
        let keys = GatewayKeys::generate()?;
        keys.write(dir)?;
        Ok(keys)
    }

    fn write(&self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let texts = [
            &self.merchant_private,
            &self.merchant_cert,
            &self.platform_private,
            &self.wechat_v3_key,
        ];
        for (name, text) in FILES.iter().zip(texts) {
            crate::write_private(&dir.join(name), text)?;
        }
        Ok(())
    }

    /// Where [`GatewayKeys::load_or_generate`] keeps the merchant key and certificate, the
    /// files the server's `wechat_key_path` and `wechat_cert_path` name.
    pub fn merchant_files(dir: &Path) -> (PathBuf, PathBuf) {
        (dir.join(FILES[0]), dir.join(FILES[1]))
    }

    /// The server's configuration for both gateways with these keys, as `CHATHUB_*` pairs.
    /// `dir` holds the key files ([`GatewayKeys::load_or_generate`]); `alipay_gateway` and
    /// `wechat_api_base` are the stand-ins' addresses.
    pub fn server_env(
        &self,
        dir: &Path,
        alipay_gateway: &str,
        wechat_api_base: &str,
    ) -> Vec<(String, String)> {
        let (key_path, cert_path) = GatewayKeys::merchant_files(dir);
        [
            ("CHATHUB_ADDON_ALIPAY_ENABLED", "1".to_string()),
            ("CHATHUB_ADDON_ALIPAY_APP_ID", self.alipay_app_id.clone()),
            (
                "CHATHUB_ADDON_ALIPAY_MERCHANT_PRIVATE_KEY",
                self.merchant_private.clone(),
            ),
            (
                "CHATHUB_ADDON_ALIPAY_PUBLIC_KEY",
                self.platform_public.clone(),
            ),
            ("CHATHUB_ADDON_ALIPAY_SANDBOX", "1".into()),
            ("CHATHUB_ALIPAY_GATEWAY_URL", alipay_gateway.to_string()),
            ("CHATHUB_ADDON_WECHAT_ENABLED", "1".into()),
            ("CHATHUB_ADDON_WECHAT_APP_ID", self.wechat_app_id.clone()),
            ("CHATHUB_ADDON_WECHAT_MCH_ID", self.wechat_mch_id.clone()),
            (
                "CHATHUB_ADDON_WECHAT_API_V3_KEY",
                self.wechat_v3_key.clone(),
            ),
            (
                "CHATHUB_ADDON_WECHAT_KEY_PATH",
                key_path.display().to_string(),
            ),
            (
                "CHATHUB_ADDON_WECHAT_CERT_PATH",
                cert_path.display().to_string(),
            ),
            (
                "CHATHUB_WECHAT_PLATFORM_PUBLIC_KEY",
                self.platform_public.clone(),
            ),
            // Public-key mode, as WeChat Pay sets up merchants today (README: payment keys).
            (
                "CHATHUB_WECHAT_PLATFORM_SERIAL",
                self.platform_serial.clone(),
            ),
            ("CHATHUB_WECHAT_API_BASE", wechat_api_base.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}
