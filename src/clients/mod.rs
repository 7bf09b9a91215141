//! Clients: the wire formats of the outside world. The provision server over HTTP/JSON,
//! Alipay and WeChat Pay signing, verifying and decrypting (pure: no database), and the
//! gateway's AES-GCM credential format.

pub mod crypto;
pub mod pay;
pub mod provision;
