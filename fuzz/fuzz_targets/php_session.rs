//! PHP session files written by FastAdmin (`name|<serialize()>` pairs) and PHP's
//! `serialize()` format itself.
#![no_main]

use chathub::services::admin_auth::session_admin;
use chathub::domain::php_serialize::{parse_session, unserialize};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = unserialize(data);
    if let Ok(vars) = parse_session(data) {
        for (_, v) in &vars {
            let _ = v
                .get("admin")
                .and_then(|a| a.get("id"))
                .and_then(|i| i.as_int());
            let _ = v.as_text();
        }
    }
    if let Some(admin) = session_admin(data) {
        assert!(admin.id.0 > 0);
    }
});
