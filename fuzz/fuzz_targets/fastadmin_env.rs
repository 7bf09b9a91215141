//! FastAdmin's `.env` (an INI file; `[database]` or flat `DATABASE_*` keys), read in place by
//! `--fastadmin-root`.
#![no_main]

use chathub::config::parse_ini_section;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for section in ["database", "app"] {
        for (k, _) in parse_ini_section(text, section) {
            assert_eq!(k, k.to_ascii_lowercase());
        }
    }
});
