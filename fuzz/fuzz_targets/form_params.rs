//! Query strings and `application/x-www-form-urlencoded` bodies, read the way handlers read
//! them: last value wins, PHP form arrays (`row[name]=…`), trimmed values.
#![no_main]

#[path = "common.rs"]
mod common;

use chathub::domain::php::{MAX_INPUT_VARS, Params};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(params) = Params::parse_urlencoded(data) else {
        // Refused only for invalid UTF-8 after decoding.
        return;
    };
    // PHP's rules for a form body (`http::MAX_INPUT_VARS`): every `&`-separated piece counts
    // except an empty last one, the first MAX_INPUT_VARS + 1 are read, and a piece without a
    // name (empty, or `=x`) makes no parameter. Each other piece read is one parameter.
    let mut pieces: Vec<&[u8]> = data.split(|b| *b == b'&').collect();
    if pieces.last().is_some_and(|p| p.is_empty()) {
        pieces.pop();
    }
    let named = pieces
        .iter()
        .take(MAX_INPUT_VARS + 1)
        .filter(|p| !p.is_empty() && p[0] != b'=')
        .count();
    assert_eq!(params.0.len(), named);
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
