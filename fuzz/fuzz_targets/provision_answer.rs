//! Answers of the provision server to `/provision` (any JSON object with an `inbox_id`).
#![no_main]

use chathub::domain::tenant::Provisioned;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(p) = Provisioned::from_body(text) {
        // Only a JSON object with an `inbox_id` key is an answer.
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert!(v.as_object().unwrap().contains_key("inbox_id"));
        let _ = p.embed_code;
    }
});
