//! The tools around the chathub server, kept out of the server's crate and its dependency
//! tree: the migration toolkit (`compat record/diff/shadow/profile`), the `dev` stack (a
//! private MariaDB, demo data, the stub provision server, the site), and the provision stub
//! that tests and the benchmark use; headless Chromium (`chromium`) and the visual comparison
//! with the original's pictures (`visual`). They drive the server through its library.

pub mod chromium;
pub mod compat;
pub mod demo;
pub mod devfront;
pub mod devstack;
mod http_serve;
pub mod mariadb;
pub mod provision_stub;
pub mod sandbox;
pub mod testing;
pub mod visual;

/// Write a file only its owner may read (keys, secrets).
pub(crate) fn write_private(path: &std::path::Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(())
}
