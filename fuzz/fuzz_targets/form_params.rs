//! Query strings and `application/x-www-form-urlencoded` bodies, read the way handlers read
//! them: last value wins, PHP form arrays (`row[name]=…`), trimmed values.
#![no_main]

#[path = "common.rs"]
mod common;

use chathub::domain::php::Params;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(params) = Params::parse_urlencoded(data) else {
        // Refused only for invalid UTF-8 after decoding.
        return;
    };
    // Every `&`-separated non-empty part is one parameter.
    let parts = data.split(|b| *b == b'&').filter(|p| !p.is_empty()).count();
    assert_eq!(params.0.len(), parts);
    for (k, v) in &params.0 {
        if params.get(k).is_none() {
            panic!("{k:?} parsed but not found");
        }
        let _ = v;
    }
    for name in ["row", "ids", "plan", "email", "password"] {
        let arr = params.array(name);
        let mut keys: Vec<&str> = arr.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        let before = keys.len();
        keys.dedup();
        assert_eq!(before, keys.len(), "array {name} repeats a key");
        let _ = params.get_trimmed(name);
    }
    // The same bytes as a POST body through `Request::post`.
    if let Some(req) = common::request(
        "POST",
        "/addons/chathub/index/doLogin",
        &[("content-type", b"application/x-www-form-urlencoded")],
        data,
    ) {
        assert_eq!(req.post().ok(), Some(params));
    }
});
