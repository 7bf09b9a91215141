//! Cookies: the `Cookie` header split into pairs, the member session cookie (decrypted, then
//! its JSON read), FastAdmin's `keeplogin` and the `PHPSESSID` that names a session file.
#![no_main]

#[path = "common.rs"]
mod common;

use chathub::services::admin_auth::{KeepLogin, is_safe_session_id};
use chathub::services::sessions::{COOKIE_NAME, Sessions};
use cookie::{Cookie, CookieJar, Key};
use libfuzzer_sys::fuzz_target;
use sha2::Digest as _;

const SECRET: &str = "fuzz-session-secret-0123456789abcdef0123456789";
const NOW: i64 = 1_795_561_549;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let sessions = Sessions::new(SECRET);
    let header: Vec<u8> = if mode & 1 == 0 {
        // The header exactly as the client sent it.
        rest.to_vec()
    } else {
        // A cookie that authenticates, carrying fuzz bytes as its plaintext: reaches the
        // JSON reader behind the decryption. Same key derivation as `Sessions::new`.
        let Ok(plain) = std::str::from_utf8(rest) else {
            return;
        };
        let master = sha2::Sha512::digest(SECRET.as_bytes());
        let key = Key::from(&master[..]);
        let mut jar = CookieJar::new();
        jar.private_mut(&key)
            .add(Cookie::new(COOKIE_NAME, plain.to_string()));
        let sealed = jar.get(COOKIE_NAME).unwrap().encoded().to_string();
        format!("PHPSESSID=abc; {sealed}; keeplogin=1%7C86400%7C1795648047%7Cabc").into_bytes()
    };
    let Some(req) = common::request(
        "GET",
        "/addons/chathub/index/my",
        &[("cookie", &header)],
        b"",
    ) else {
        return;
    };
    if let Some(data) = sessions.read(&req, NOW) {
        assert!(NOW - data.seen <= chathub::services::sessions::IDLE_LIFETIME_SECS);
        let _ = data.csrf_matches("x");
    }
    if let Some(raw) = req.cookie("keeplogin")
        && let Some(kl) = KeepLogin::parse(&raw)
    {
        assert!(kl.id.0 > 0);
        let _ = kl.expected_key("token", "key");
    }
    if let Some(sid) = req.cookie("PHPSESSID")
        && is_safe_session_id(&sid)
    {
        assert!(!sid.contains('/') && !sid.contains('.'));
    }
    // The keeplogin parser on its own, with any text.
    let _ = KeepLogin::parse(&String::from_utf8_lossy(rest));
});
