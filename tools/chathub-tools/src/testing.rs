//! Helpers the server's tests (`tests/it`) and the tools' own tests share. Test code only:
//! they panic on any failure.

use std::path::Path;

use serde_json::Value;

/// A port nothing listens on right now (bound once and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Send `sig` to a child process of the test.
#[cfg(unix)]
pub fn signal(child: &tokio::process::Child, sig: i32) {
    let pid = child.id().expect("running") as i32;
    // SAFETY: kill(2) on a child of this test that has not been reaped.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig})");
}

/// The landing page of a server on a loopback port.
pub async fn landing_text(port: u16) -> String {
    reqwest::get(format!(
        "http://127.0.0.1:{port}/addons/chathub/index/landing"
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap()
}

/// A copy of the directory `from` at `to` (fixtures, recordings).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// Change the JSON file `root/rel` in place (a recorded exchange, say).
pub fn edit_json(root: &Path, rel: &str, f: impl Fn(&mut Value)) {
    let p = root.join(rel);
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}
