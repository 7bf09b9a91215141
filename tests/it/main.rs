//! The integration tests, one module per area, linked into one test binary (one link of the
//! crate instead of one per file). `support` is the shared harness. The fixture replay
//! (`tests/compat`) is a separate `harness = false` binary.
//!
//! Run one area with `cargo test --test it <area>::`, e.g. `scripts/test.sh --test it migrate::`.

mod support;

mod admin;
mod architecture;
mod auth;
mod browser;
mod channels;
mod cli;
mod compat_selftest;
mod cutover;
mod db_bounds;
mod dev;
mod foundation;
mod lifecycle;
mod live;
mod member;
mod migrate;
mod migrate_lock;
mod mysql_restart;
mod nginx;
mod ops;
mod package;
mod parsers_linear;
mod pay_keys;
mod payments;
mod payments_query;
mod php_session;
mod provision_client;
mod provision_stub;
mod reconcile;
mod refunds;
mod register;
mod toolkit;
mod visual;
mod worker;
