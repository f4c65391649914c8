//! The service: HTTP API, store (SQLite + PostgreSQL), queue, workers, metrics, configuration.

pub mod api;
pub mod app;
pub mod catalog;
pub mod chain_metrics;
pub mod config;
pub mod grading;
pub mod limits;
pub mod metrics;
pub mod sessions;
pub mod settings;
pub mod store;
pub mod toolchains;
pub mod worker;
