//! URL routing: the request path (PATHINFO pairs, `.html` suffix, admin entry) and the query
//! string, as hyper hands them over; plus nginx's `index.php?s=<path>&<args>` form, whose `s`
//! names the path.
#![no_main]

#[path = "common.rs"]
mod common;

use chathub::web::routing::{Route, resolve};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The resolver on its own, with any text as the path and as the query (hyper has
    // already checked the bytes; ThinkPHP's `s=` makes the query name the route too).
    let (path, query) = text.split_once('?').unwrap_or((&text, ""));
    let route = resolve(path, Some(query), common::ADMIN_ENTRY);
    if let Route::Action {
        action,
        via_admin_entry: true,
        ..
    } = &route
    {
        assert!(
            action.is_admin(),
            "member action served under the admin entry"
        );
    }
    // The whole request line target through `http`'s URI parser, then the query parameters
    // and the nginx `s=` rewrite.
    let uri = if text.starts_with('/') {
        text.to_string()
    } else {
        format!("/{text}")
    };
    if let Some(req) = common::request("GET", &uri, &[], b"") {
        assert_eq!(
            req.route,
            resolve(&req.path, req.path_and_query().split_once('?').map(|(_, q)| q), common::ADMIN_ENTRY)
        );
        for key in ["order", "id", "plan", "pay_method", "s"] {
            let _ = req.param(key);
        }
        let _ = req.path_and_query();
    }
});
