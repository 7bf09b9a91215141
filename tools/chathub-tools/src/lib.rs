//! The tools around the chathub server, kept out of the server's crate and its dependency
//! tree: the migration toolkit (`compat record/diff/shadow/profile`), the `dev` stack (a
//! private MariaDB, demo data, the stub provision server, the site), and the provision stub
//! that tests and the benchmark use; headless Chromium (`chromium`) and the visual comparison
//! with the original's pictures (`visual`). They drive the server through its library.

pub mod chromium;
pub mod compat;
pub mod demo;
pub mod devstack;
pub mod provision_stub;
pub mod testing;
pub mod visual;
