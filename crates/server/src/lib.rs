//! The service: HTTP API, store (SQLite + PostgreSQL), queue, workers, metrics, configuration.

pub mod config;
pub mod store;
pub mod worker;
