//! chathub: a drop-in replacement for the FastAdmin ChatHub addon.
//!
//! The parts and what each may import are in docs/ARCHITECTURE.md: entry (cli, startup,
//! check, live) → web → services → storage (db) and clients → domain, with config, clock,
//! error and metrics as the foundation every layer may use.

// Entry: the command line and the server's life.
pub mod check;
pub mod check_sessions;
pub mod cli;
pub mod live;
pub mod startup;

// Layers, top to bottom.
pub mod clients;
pub mod db;
pub mod domain;
pub mod services;
pub mod web;

// Foundation.
pub mod clock;
pub mod config;
pub mod error;
pub mod metrics;
