//! The service: the HTTP API, sessions, rate limits, metrics, settings, the catalogue,
//! the grading executor, and the assembly of `serve` and `worker` over the queue
//! (crates/queue).

#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod catalog;
pub mod chain_metrics;
pub mod egress_metrics;
pub mod grading;
pub mod limits;
pub mod markdown;
pub mod metrics;
pub mod sessions;
pub mod settings;
pub mod toolchains;
pub mod warm_metrics;
