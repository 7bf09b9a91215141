//! The one test harness: a fresh MariaDB database per test (`db`), the real server on port 0
//! with a builder for its setup (`app`), page text and markup (`html`), and the fixtures and
//! fakes of the member area (`member`), payments (`pay`) and the nginx front (`nginx`).
//!
//! `tests/compat` (the fixture replay, its own binary) includes this module too.

mod app;
mod db;
pub mod html;
pub mod log;
pub mod member;
pub mod nginx;
pub mod pay;

pub use app::*;
pub use chathub_tools::testing::free_port;
pub use db::*;

use std::path::PathBuf;

use chathub_tools::provision_stub::ProvisionStub;

pub const SESSION_SECRET: &str = "test-session-secret-0123456789abcdef-0123456789";

/// The admin entry script of the recorded site (FastAdmin renames `admin.php` at install).
pub const ADMIN_ENTRY: &str = "pGTnXkhdmy.php";

/// The provision API key of a site that never changed it (the addon's default).
pub const PROVISION_KEY: &str = "chathub-default-key-change-me";

/// The `chathub` binary built with these tests.
pub const CHATHUB_BIN: &str = env!("CARGO_BIN_EXE_chathub");

/// Server URL of the MariaDB used by tests: `CHATHUB_TEST_MYSQL_URL`, else the local
/// MariaDB on 127.0.0.1:3306 (root, no password). `scripts/test.sh` starts a private one
/// and exports the variable when neither is there.
pub fn mysql_server_url() -> String {
    std::env::var("CHATHUB_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// The repository's `fixtures/` (the recordings of the original).
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The provision stub on a free port, expecting `key`.
pub async fn start_stub(key: &str) -> ProvisionStub {
    ProvisionStub::start("127.0.0.1:0".parse().unwrap(), key)
        .await
        .unwrap()
}

pub fn rand_u64() -> u64 {
    rand::random()
}

/// Poll until `check` holds or `limit` passes (the worker's effects come in their own time).
pub async fn eventually<F, Fut>(limit: std::time::Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    false
}
