//! Shared by the fuzz targets: a `Request` as the server builds one, from fuzz bytes.

#![allow(dead_code)]

use std::net::SocketAddr;

use bytes::Bytes;
use chathub::config::IpNet;
use chathub::web::http::Request;
use chathub::web::routing::{self, Route};

pub const ADMIN_ENTRY: &str = "pGTnXkhdmy.php";

/// A request the way `startup::handle` builds it: route from the path and `s=`, query parsed, the
/// trusted proxy deciding the client address. `None` when `http` refuses the URI or a header
/// (hyper would have refused it before us).
pub fn request(method: &str, uri: &str, headers: &[(&str, &[u8])], body: &[u8]) -> Option<Request> {
    let mut b = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        let v = http::HeaderValue::from_bytes(v).ok()?;
        b = b.header(*k, v);
    }
    let (parts, ()) = b.body(()).ok()?.into_parts();
    let route: Route = routing::resolve(parts.uri.path(), parts.uri.query(), ADMIN_ENTRY);
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let trusted = [IpNet::parse("127.0.0.1/32").unwrap()];
    Request::new(
        "fuzz".into(),
        parts,
        Bytes::copy_from_slice(body),
        peer,
        &trusted,
        route,
    )
    .ok()
}

/// Split fuzz input at the first `sep` byte (or keep it whole).
pub fn split(data: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == sep) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}
