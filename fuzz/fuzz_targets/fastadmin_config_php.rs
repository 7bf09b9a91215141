//! The addon's `config.php` (a PHP array of arrays of literals), read without running PHP.
#![no_main]

use chathub::config::parse_config_php;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let pairs = parse_config_php(text);
    // Every pair comes from a `'value' =>` literal: never more pairs than arrows.
    assert!(pairs.len() <= text.matches("=>").count());
});
