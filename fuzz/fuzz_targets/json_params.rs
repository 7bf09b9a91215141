//! JSON bodies (`Content-Type: application/json`), flattened into parameters the way PHP
//! reads a decoded array: scalars as strings, one level of objects as `key[inner]`.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(req) = common::request(
        "POST",
        "/addons/chathub/index/doLogin",
        &[
            ("content-type", b"application/json; charset=utf-8"),
            ("x-requested-with", b"XMLHttpRequest"),
        ],
        data,
    ) else {
        return;
    };
    let Ok(params) = req.post() else {
        assert!(
            std::str::from_utf8(data).is_err(),
            "valid UTF-8 JSON body refused"
        );
        return;
    };
    if req.json_body().is_none() {
        assert!(
            params.is_empty(),
            "parameters from a body that is not a JSON object"
        );
    }
    for name in ["row", "email", "password", "keeplogin"] {
        let _ = params.array(name);
        let _ = params.get_trimmed(name);
        let _ = req.param(name);
    }
});
