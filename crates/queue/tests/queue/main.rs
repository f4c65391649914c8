//! The queue's test suite, written once and run on both back ends (SQLite and
//! PostgreSQL): the store's transitions, the worker engine on top of it, and a worker
//! process killed mid-run.

mod crash_suite;
mod engine_suite;
mod fixture;
mod sqlite_suite;
mod store_suite;
