//! The durable job queue: the store (SQLite embedded, PostgreSQL shared) where each
//! submission is a job with a lease and a fencing token, and the worker engine that claims
//! jobs, runs them through a [`worker::JobExecutor`] and writes each result once.
//! Knows nothing of HTTP or of grading; see docs/queue.md.

#![forbid(unsafe_code)]

pub mod control;
mod kill_switch;
pub mod store;
pub mod worker;

pub use control::WorkerControl;
pub use kill_switch::{KillSwitch, KillSwitchError};
