//! AES-256-GCM sealing of channel credentials, in the format the gateway reads.
//!
//! The gateway (`gateway/crypto.py`) stores `nonce (12 bytes) || ciphertext || tag (16 bytes)`
//! as raw bytes in the VARBINARY column `credentials_encrypted`, with no associated data, and
//! the key `GATEWAY_AES_KEY` is base64 of 32 bytes (our `gateway_aes_key`).

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};

pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
/// Bytes sealing adds to a plaintext.
pub const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("key must be 32 bytes")]
    BadKey,
    #[error("blob shorter than nonce and tag")]
    TooShort,
    /// Wrong key, or the blob was altered.
    #[error("authentication failed")]
    Unauthentic,
}

/// The gateway's AES-256 key. Never printed.
#[derive(Clone)]
pub struct GatewayKey(Aes256Gcm);

impl std::fmt::Debug for GatewayKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GatewayKey([REDACTED])")
    }
}

impl GatewayKey {
    pub fn from_bytes(key: &[u8]) -> Result<GatewayKey, CryptoError> {
        Aes256Gcm::new_from_slice(key)
            .map(GatewayKey)
            .map_err(|_| CryptoError::BadKey)
    }

    /// Seal `plaintext` under a fresh random nonce.
    ///
    /// The gateway's reader first tries to decode the column as UTF-8 and, when that works,
    /// treats it as plain JSON (the original's unencrypted rows). A sealed blob that happened
    /// to be valid UTF-8 would therefore be unreadable there; such a blob (vanishingly rare
    /// for 28+ random bytes) is re-sealed under a new nonce.
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        loop {
            let mut nonce = [0u8; NONCE_LEN];
            rand::fill(&mut nonce);
            let blob = self.seal_with_nonce(&nonce, plaintext);
            if std::str::from_utf8(&blob).is_err() {
                return blob;
            }
        }
    }

    /// Seal with a given nonce. Only for test vectors: a nonce must never repeat under a key.
    pub fn seal_with_nonce(&self, nonce: &[u8; NONCE_LEN], plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
        out.extend_from_slice(nonce);
        // Encryption with AES-GCM only fails for plaintexts beyond 64 GiB; ours are bounded
        // by the request body limit.
        let sealed = self
            .0
            .encrypt(Nonce::from_slice(nonce), plaintext)
            .unwrap_or_default();
        out.extend_from_slice(&sealed);
        out
    }

    /// Open a `nonce || ciphertext || tag` blob.
    pub fn open(&self, blob: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if blob.len() < OVERHEAD {
            return Err(CryptoError::TooShort);
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        self.0
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| CryptoError::Unauthentic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_blobs_open_and_tampering_is_detected() {
        let key = GatewayKey::from_bytes(&[7u8; 32]).unwrap();
        let blob = key.seal(b"{\"app_id\":\"x\"}");
        assert_eq!(blob.len(), 14 + OVERHEAD);
        assert!(std::str::from_utf8(&blob).is_err());
        assert_eq!(key.open(&blob).unwrap(), b"{\"app_id\":\"x\"}");
        let mut bad = blob.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(key.open(&bad), Err(CryptoError::Unauthentic));
        let other = GatewayKey::from_bytes(&[8u8; 32]).unwrap();
        assert_eq!(other.open(&blob), Err(CryptoError::Unauthentic));
        assert_eq!(key.open(&blob[..20]), Err(CryptoError::TooShort));
        assert_eq!(
            GatewayKey::from_bytes(&[0u8; 16]).unwrap_err(),
            CryptoError::BadKey
        );
    }

    #[test]
    fn two_seals_of_the_same_text_differ() {
        let key = GatewayKey::from_bytes(&[1u8; 32]).unwrap();
        assert_ne!(key.seal(b"same"), key.seal(b"same"));
    }
}
